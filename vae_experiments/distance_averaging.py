"""Figure 5's averaging over the variables as a setup candidate: the vertex distance with and without it, per run.

What it measures
    Figure 5 (the original's `posterior_samples.py`, and `Utils/posterior_sampling_funcs.py` here) averages each
    posterior sample's distance to its vertex over the 30 discrete variables, then takes the median over the S = 100
    samples of an image. Averaging mixes near-vertex variables with far ones, so two models whose variables are
    spread differently can swap places. This script computes, for each given run and checkpoint epoch, both per-image
    medians from the same draws:

        averaged  median_s [ mean_v d(psi_sv) ]      (Figure 5's measure; equals the run's `vertex_distance.json`)
        pooled    median over (s, v) of d(psi_sv)    (every variable's sample counted on its own)

    and writes one row per run: the median over test images of each, and the share of images whose median is at most
    0.2. The report (`vae_experiments/replication_report.py`) compares IGR with GS under both.

Input
    Run folders with checkpoints (a finished 10-epoch run, or a long run's kept `keep_epochs` checkpoints).

Output
    `--out` (default `Results/distance_averaging_mnist_runs.csv`): run_name, model_type, temp, seed, softmax_delta,
    epoch, averaged, pooled, averaged_within_0.2, pooled_within_0.2, images. Rows of other runs already in the file are
    kept; a run's row is replaced when it is computed again.

Usage
    python3 vae_experiments/distance_averaging.py --run /scratch/igr_paper/vae_mnist_GS_Dis_t1_s0_k...:10 \
        --run /scratch/igr_ablation/vae_mnist_IGR_I_Dis_t1_s0_k...

Expected run time: about 1 minute per run on one core (10,000 test images x 100 samples).
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from Utils import paths  # noqa: E402
from Utils.results.per_run_csv import add_run_arguments, merge_rows  # noqa: E402

SAMPLES_N = 100
RADIUS = 0.2
RUNS_FILE = 'distance_averaging_mnist_runs.csv'
COLUMNS = ('run_name', 'model_type', 'temp', 'seed', 'softmax_delta', 'epoch', 'averaged', 'pooled',
           f'averaged_within_{RADIUS:g}', f'pooled_within_{RADIUS:g}', 'images')
ORDER = ('model_type', 'temp', 'softmax_delta', 'seed', 'epoch', 'run_name')


def run_row(run_dir, epoch, test_images=None, samples_n=SAMPLES_N):
    """The two medians of one run at one checkpoint (the latest when epoch is None)."""
    from Models import train_vae as tv
    from Utils.load_data import load_dataset
    from Utils.posterior_sampling_funcs import averaged_and_pooled_medians
    from Utils.runs import checkpointing
    model, h = tv.load_trained_vae(run_dir, epoch)
    x = load_dataset(h['dataset_name'], h['architecture'], h['run_with_sample']).x_test
    if test_images:
        x = x[:test_images]
    averaged, pooled = averaged_and_pooled_medians(lambda xb, s, sd: model.sample_posterior_psi(xb, s, seed=sd), x,
                                                   samples_n=samples_n)
    if epoch is None:
        epoch = checkpointing.checkpoint_epochs(run_dir)[-1]
    return {'run_name': pathlib.Path(run_dir).name, 'model_type': h['model_type'], 'temp': float(h['temp']),
            'seed': int(h['seed']), 'softmax_delta': float(h.get('softmax_delta', 1.0)), 'epoch': epoch,
            'averaged': float(np.median(averaged)), 'pooled': float(np.median(pooled)),
            f'averaged_within_{RADIUS:g}': float(np.mean(averaged <= RADIUS)),
            f'pooled_within_{RADIUS:g}': float(np.mean(pooled <= RADIUS)), 'images': int(len(averaged))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_run_arguments(parser, RUNS_FILE)
    parser.add_argument('--samples', type=int, default=SAMPLES_N, help='posterior samples per image')
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out) if args.out else paths.results_dir() / RUNS_FILE
    rows = []
    for run_dir, epoch in args.run:
        row = run_row(run_dir, epoch, args.test_images, args.samples)
        print(f'{row["run_name"]} epoch {row["epoch"]}: averaged {row["averaged"]:.4f}, pooled {row["pooled"]:.4f}',
              flush=True)
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    merge_rows(out, rows, COLUMNS, ORDER).to_csv(out, index=False)
    print(f'-> {out}')
    return rows


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
