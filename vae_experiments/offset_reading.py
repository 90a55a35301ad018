"""What the decoder reads of a relaxed sample beyond its vertex: the reconstruction along the segment from the one-hot
argmax to the relaxed sample, per run.

What it measures
    TeELBO decodes the relaxed sample psi, TeELBOD its one-hot argmax e. This script decodes the points in between,
    e + a (psi - e) for a in 0, 0.25, 0.5, 0.75 and 1, with the evaluation's noise (`Models/elbo_parts.py`:
    `offset_reading`), and writes the mean over the 10,000 test images of log p(x | .) at each. A decoder that reads
    only which vertex a sample is near gains little from a = 0 to 1; one that reads the offset from the vertex loses
    most of its reconstruction well before a = 0. The report (`vae_experiments/replication_report.py`) tabulates it
    per cell and epoch.

Input
    Run folders with checkpoints (a paper-budget run's kept `keep_epochs` checkpoints).

Output
    `--out` (default `Results/offset_reading_mnist_runs.csv`): run_name, model_type, temp, seed, epoch, then
    log_px_a<a> for each a, and images. Rows of other runs already in the file are kept; a run's row at an epoch is
    replaced when it is computed again.

Usage
    python3 vae_experiments/offset_reading.py --run /scratch/igr_paper/vae_mnist_GS_Dis_t1_s0_k...:100 \
        --run /scratch/igr_paper/vae_mnist_IGR_Planar_Dis_t0.85_s0_k...:10

Expected run time: about 20 s per run and epoch on one core.
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()

import argparse  # noqa: E402


from Utils import paths  # noqa: E402
from Utils.results.per_run_csv import add_run_arguments, merge_rows  # noqa: E402

RUNS_FILE = 'offset_reading_mnist_runs.csv'
ORDER = ('model_type', 'temp', 'seed', 'epoch', 'run_name')


def fraction_column(a):
    return f'log_px_a{a:g}'


def columns():
    from Models.elbo_parts import OFFSET_FRACTIONS
    return ('run_name', 'model_type', 'temp', 'seed', 'epoch') + tuple(map(fraction_column, OFFSET_FRACTIONS)) \
        + ('images',)


def run_row(run_dir, epoch, test_images=None):
    """The reconstruction along the segment of one run at one checkpoint (the latest when epoch is None)."""
    from Models import train_vae as tv
    from Models.elbo_parts import offset_reading
    from Utils.load_data import load_dataset
    from Utils.runs import checkpointing
    model, h = tv.load_trained_vae(run_dir, epoch)
    x = load_dataset(h['dataset_name'], h['architecture'], h['run_with_sample']).x_test
    x = x[:test_images] if test_images else x
    reading = offset_reading(model, tv._test_batches(x))
    if epoch is None:
        epoch = checkpointing.checkpoint_epochs(run_dir)[-1]
    return {'run_name': pathlib.Path(run_dir).name, 'model_type': h['model_type'], 'temp': float(h['temp']),
            'seed': int(h['seed']), 'epoch': int(epoch), **{fraction_column(a): v for a, v in reading.items()},
            'images': int(len(x))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_run_arguments(parser, RUNS_FILE)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out) if args.out else paths.results_dir() / RUNS_FILE
    rows = []
    for run_dir, epoch in args.run:
        row = run_row(run_dir, epoch, args.test_images)
        print(f'{row["run_name"]} epoch {row["epoch"]}: ' + ', '.join(
            f'{c[len("log_px_"):]} {row[c]:.2f}' for c in columns() if c.startswith('log_px_')), flush=True)
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    merge_rows(out, rows, columns(), ORDER).to_csv(out, index=False)
    print(f'-> {out}')
    return rows


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
