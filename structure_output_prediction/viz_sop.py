"""Structured output prediction: predicted lower halves next to the truth (companion figure of Table 3).

For each selected SOP run (default: the latest finished run of each model in `Log/`), restore its last checkpoint
and draw, for the first N test digits, three rows: the true image, the upper half with the lower half predicted from
one relaxed sample of the units, and the same from one discretized sample (pixel probabilities sigmoid(logits);
a red line marks the border of the halves). Output: Results/sop_reconstructions.png.
Run time: seconds.   Usage:
    python3 structure_output_prediction/viz_sop.py                       # latest finished run per model
    python3 structure_output_prediction/viz_sop.py --run-dir Log/sop_mnist_IGR_I_t0.5_s0_...  [--run-dir ...]
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()  # first: no CUDA-probe error line on machines without a GPU

import argparse

import numpy as np
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt

from Models.SOPOptimizer import load_sop_data, load_trained_sop
from Utils.results import results_io
from Utils.paths import results_dir

SETTINGS = {'digits': 10, 'seed': 0, 'models': ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB'),
            'file_name': 'sop_reconstructions.png'}


def latest_runs(models, log_dir=None, include_smoke=False):
    """Run folder of the latest finished SOP run of each model present in the log folder (dict model -> path)."""
    runs = results_io.collect_runs(log_dir, experiment='sop', finished_only=True, include_smoke=include_smoke)
    chosen = {}
    for model in models:
        rows = runs[runs['model_type'] == model] if len(runs) else runs
        if len(rows):
            chosen[model] = rows.sort_values('created')['run_dir'].iloc[-1]
    return chosen


def prediction_rows(run_dir, x_upper, x_lower, seed=0):
    """Images (3, N, 28, 28): truth, relaxed-sample prediction, discretized-sample prediction."""
    model, hyper = load_trained_sop(run_dir)
    up = x_upper.reshape(-1, 14, 28)
    rows = [x_lower, model.predict_lower(x_upper, seed=seed).numpy(),
            model.predict_lower(x_upper, hard=True, seed=seed).numpy()]
    return np.stack([np.concatenate([up, r.reshape(-1, 14, 28)], axis=1) for r in rows]), hyper


def plot_predictions(panels, path):
    """panels: list of (label, images (3, N, 28, 28)) -> one figure with 3 rows per run."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(1.0 * panels[0][1].shape[1] + 1.5, 3.3 * len(panels)),
                             squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], panels):
        mosaic = np.concatenate([np.concatenate(list(row), axis=1) for row in images], axis=0)
        ax.imshow(mosaic, cmap='gray', vmin=0., vmax=1., interpolation='nearest')
        for r in range(3):
            ax.axhline(28 * r + 13.5, color='tab:red', lw=0.6)
        ax.set_yticks([14, 42, 70], ['truth', 'relaxed', 'discretized'], fontsize=8)
        ax.set_xticks([])
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run-dir', action='append', default=None, help='SOP run folder (repeatable)')
    parser.add_argument('--log-dir', default=None, help='where to look for runs (default Log/ or $IGR_LOG_DIR)')
    parser.add_argument('--digits', type=int, default=SETTINGS['digits'])
    parser.add_argument('--include-smoke', action='store_true', help='also consider smoke runs')
    args = parser.parse_args(argv)
    run_dirs = args.run_dir or list(latest_runs(SETTINGS['models'], args.log_dir, args.include_smoke).values())
    if not run_dirs:
        raise FileNotFoundError('no finished SOP run found; train one with `python3 structure_output_prediction/sop.py`'
                                ' or pass --run-dir')
    panels, data_cache = [], {}
    for run_dir in run_dirs:
        smoke = results_io.load_config(run_dir)['hyper'].get('run_with_sample', False)
        if smoke not in data_cache:
            data_cache[smoke] = load_sop_data(smoke)
        data = data_cache[smoke]
        n = min(args.digits, len(data['x_test_upper']))
        images, hyper = prediction_rows(run_dir, data['x_test_upper'][:n], data['x_test_lower'][:n], SETTINGS['seed'])
        final = results_io.final_metrics(run_dir)
        label = (f"{hyper['model_type']} (tau {hyper['temp']:g}, seed {hyper['seed']}, {int(final.get('epoch', 0))} epochs): "
                 f"TeNLL {final.get('TeNLL', float('nan')):.2f}, TeNLLD {final.get('TeNLLD', float('nan')):.2f}, "
                 f"TeNLLMS {final.get('TeNLLMS', float('nan')):.2f}")
        panels.append((label, images))
    path = results_dir() / SETTINGS['file_name']
    plot_predictions(panels, path)
    print(f'wrote {path}')
    return path


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
