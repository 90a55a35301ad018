"""Evaluations of a long VAE run at its kept checkpoints (`keep_epochs`), written into the run folder as records.

At each milestone epoch of a run (the checkpoints under `checkpoints/milestones/`):
    - TeLL / TeLLD at S = 100 (`Models/log_likelihood.py`) -> `log_likelihood.json`, at epochs >= 10;
    - Figure 5's measure: per test image the median over 100 posterior samples of the vertex distance averaged over
      the variables; its median, quartiles, share of images within 0.2, a histogram (bins of 0.005 on [0, 1.5],
      the non-empty ones as {bin index: images}, so figures pool seeds from the records), and the share of posterior samples (and of single variables'
      samples) within 0.2 of a vertex, the paper's own definition of the "20" temperatures -> `vertex_distance.json`;
    - the gradient variance and signal-to-noise over 100 noise draws on the first 64 test images
      (`Models/gradient_variance.py`) -> `gradient_variance.csv`;
    - the parts of TeELBO and TeELBOD (log p(x | relaxed sample), log p(x | one-hot), the relaxed and the categorical
      KL; `Models/elbo_parts.py`) with the evaluation's noise -> `elbo_parts.json`.
What is recorded already is not computed again, so the script can be re-run after an interruption. The run's lock
(`Utils/runs/runstore.RunLock`) is held while evaluating, so two drivers never evaluate one run at once (the second exits
with code 4, as a grid cell locked by another process does).

    python3 vae_experiments/milestones.py --run-dir /scratch/igr_paper/vae_mnist_GS_Dis_t1_s0_k...
    python3 vae_experiments/milestones.py --run-dir ... --epochs 10 100
    python3 vae_experiments/milestones.py --run-dir /scratch/igr_paper/vae_fmnist_... --evaluations elbo_parts

Measured on one pinned core (MNIST, 10,000 test images): see Results/REPLICATION.md, "Part 2: the paper's budget";
the campaign that runs this script: docs/experiments.md, "The shipped runs".
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()

import argparse  # noqa: E402
import csv  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from Utils.runs import checkpointing, folders  # noqa: E402
from Utils.results.results_io import ELBO_PARTS_FILE, GRADIENT_COLUMNS, GRADIENT_FILE, VERTEX_FILE  # noqa: E402
from vae_experiments.milestone_records import (EVALUATIONS, LL_SAMPLES, RADIUS, VERTEX_SAMPLES,  # noqa: E402
                                               check_evaluations, missing, read_epoch_record, read_vertex_record)

HISTOGRAM_EDGES = np.linspace(0., 1.5, 301)
GRADIENT_DRAWS, GRADIENT_BATCH = 100, 64


def vertex_summary(medians, samples_near, variables_near):
    q25, q50, q75 = np.percentile(medians, [25, 50, 75])
    counts, _ = np.histogram(np.clip(medians, HISTOGRAM_EDGES[0], HISTOGRAM_EDGES[-1]), HISTOGRAM_EDGES)
    return {'median': float(q50), 'p25': float(q25), 'p75': float(q75),
            f'images_within_{RADIUS:g}': float(np.mean(medians <= RADIUS)),
            f'samples_within_{RADIUS:g}': float(samples_near), f'variables_within_{RADIUS:g}': float(variables_near),
            'images': int(len(medians)), 'histogram': {str(i): int(c) for i, c in enumerate(counts) if c}}


def append_gradient_rows(run_dir, rows):
    path = pathlib.Path(run_dir) / GRADIENT_FILE
    old = []
    if path.is_file():
        with open(path, newline='') as handle:
            old = list(csv.DictReader(handle))
    folders.write_csv(path, sorted(old + rows, key=lambda r: (int(r['epoch']), r['target'])),
                      fieldnames=GRADIENT_COLUMNS)


def evaluate_epoch(run_dir, epoch, say, evaluations=EVALUATIONS):
    """Every missing evaluation of `evaluations` at one milestone epoch."""
    from Models import log_likelihood as ll
    from Models import train_vae as tv
    from Models.gradient_variance import vae_gradient_statistics
    from Utils.load_data import load_dataset
    from Utils.posterior_sampling_funcs import vertex_distance_profile
    lacking = missing(run_dir, epoch, evaluations)
    if not lacking:
        return
    need_ll, need_vertex, need_gradient, need_parts = (name in lacking for name in ('log_likelihood', 'vertex',
                                                                                    'gradient', 'elbo_parts'))
    record = read_vertex_record(run_dir)
    model, h = tv.load_trained_vae(run_dir, epoch)
    spec = load_dataset(h['dataset_name'], h['architecture'], h['run_with_sample'])
    x_test = spec.x_test
    batches = tv._test_batches(x_test) if need_parts or need_ll else None
    if need_vertex:
        tic = time.perf_counter()
        profile = vertex_distance_profile(lambda xb, s, sd: model.sample_posterior_psi(xb, s, seed=sd), x_test,
                                          samples_n=VERTEX_SAMPLES, radius=RADIUS)
        record['epochs'][str(epoch)] = vertex_summary(*profile)
        folders.write_json(pathlib.Path(run_dir) / VERTEX_FILE, record)
        say(f'epoch {epoch}: vertex distance median {record["epochs"][str(epoch)]["median"]:.4f}, samples within '
            f'{RADIUS:g} {profile[1]:.4f} ({time.perf_counter() - tic:.0f} s)')
    if need_gradient:
        tic = time.perf_counter()
        stats = vae_gradient_statistics(model, spec.x_test[:GRADIENT_BATCH], GRADIENT_DRAWS, seed=0, chunk=10)
        rows = [{'model': folders.model_label(h), 'temp': h['temp'], 'epoch': epoch, 'target': target, **values,
                 'batch': GRADIENT_BATCH, 'run': pathlib.Path(run_dir).name} for target, values in stats.items()]
        append_gradient_rows(run_dir, rows)
        say(f'epoch {epoch}: gradient variance ({time.perf_counter() - tic:.0f} s)')
    if need_parts:
        from Models.elbo_parts import elbo_parts
        tic = time.perf_counter()
        parts = read_epoch_record(run_dir, ELBO_PARTS_FILE)
        parts['epochs'][str(epoch)] = elbo_parts(model, batches)
        folders.write_json(pathlib.Path(run_dir) / ELBO_PARTS_FILE, parts)
        values = parts['epochs'][str(epoch)]
        say(f'epoch {epoch}: log p(x | relaxed) {values["log_px"]:.2f}, log p(x | one-hot) '
            f'{values["log_px_one_hot"]:.2f} ({time.perf_counter() - tic:.0f} s)')
    if need_ll:
        rows = {int(r['epoch']): r for r in folders.read_metrics(run_dir)}
        categories = int(rows[epoch]['N']) if epoch in rows and 'N' in rows[epoch] else None
        result = ll.LogLikelihood(model, LL_SAMPLES, categories=categories)(batches)
        ll.record_result(run_dir, epoch, result)
        say(f'epoch {epoch}: {ll.describe(result)[2:]}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run-dir', required=True, help='a VAE run folder with milestone checkpoints')
    parser.add_argument('--epochs', type=int, nargs='+', default=None,
                        help='kept checkpoints to evaluate (default: every milestone, `keep_epochs`)')
    parser.add_argument('--evaluations', nargs='+', default=list(EVALUATIONS), metavar='NAME',
                        help=f'what to compute (default: all of {", ".join(EVALUATIONS)})')
    args = parser.parse_args(argv)
    try:
        evaluations = check_evaluations(args.evaluations)
    except ValueError as error:
        raise SystemExit(f'milestones: {error}')
    run_dir = pathlib.Path(args.run_dir)
    if not (run_dir / 'config.json').is_file():
        raise SystemExit(f'milestones: no run folder {run_dir} (no config.json there)')
    kept = checkpointing.checkpoint_epochs(run_dir) if args.epochs else checkpointing.milestone_epochs(run_dir)
    epochs = args.epochs or kept
    missing = sorted(set(epochs) - set(kept))
    if missing:
        raise SystemExit(f'milestones: {run_dir.name} has no checkpoint of epoch(s) {missing}; kept: {kept}')
    from Utils.runs.runstore import RunLock
    say = lambda text: print(f'{run_dir.name} {text}', flush=True)  # noqa: E731
    with RunLock(run_dir, say=say):
        for epoch in epochs:
            evaluate_epoch(run_dir, epoch, say, evaluations)
    return 0


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(run_main(main))
