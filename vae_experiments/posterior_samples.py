"""Figure 5: how close posterior samples sit to the vertices of the simplex, per model (boxplots).

What it reproduces
    For every test image, S = 100 samples psi are drawn from the trained encoder's relaxed posterior; for each of
    the 30 discrete variables the Euclidean distance of psi to the one-hot vertex at its argmax is taken, averaged
    over the variables, and the median over the S samples is the image's value.  One box per model, one panel per
    temperature set (the "20" temperatures, IGR-I 0.1, IGR-Planar 0.3, IGR-SB 0.02, GS 0.25, should put about 75%
    of the samples within 0.2 of a vertex; the cross-validated ones IGR-I 1.0, IGR-Planar 0.85, IGR-SB 0.15,
    GS 1.0).  Values of all selected runs (seeds) of a case are pooled.

Input
    Trained runs (weights in `checkpoints/` + `config.json`) of `python3 vae_experiments/discrete_grid.py
    --preset figures`, chosen by their hyper values through `Utils.results.results_io`; each model is rebuilt from its
    own config with `Models.train_vae.load_trained_vae`.

Output
    `Results/figure5_posterior_vertex_distance_<dataset>.png` and a summary per case (median, quartiles,
    share of images within 0.2, images, runs) in the matching `.csv`, also printed; the same summary per run
    (with its name and seed, for comparisons paired by seed) in `..._runs.csv`.

Usage
    python3 vae_experiments/posterior_samples.py                       # both panels, MNIST, all runs
    python3 vae_experiments/posterior_samples.py --panels 20 --runs-per-case 1 --test-images 2000

Expected run time (measured on this machine, 2 shared CPU cores): ~15 s per trained run at full size (10,000
    test images x 100 samples, IGR-I) plus ~10 s to start; the 40 runs of the `figures` preset take ~10-20 min
    (`--runs-per-case 1` or `--test-images 2000` make it a minute or two).
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()  # first: no CUDA-probe error line on machines without a GPU

import argparse  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from Utils import viz_vae  # noqa: E402
from vae_experiments.discrete_grid import FIGURE_PANELS  # noqa: E402

DEFAULT_PANELS = ('cv', '20')
SAMPLES_N = 100
RADIUS = 0.2
GRID_HINT = 'Run `python3 vae_experiments/discrete_grid.py --preset figures` first.'


def runs_csv_path(figure_path):
    """The per-run summary beside the figure: `<figure stem>_runs.csv` (one row per trained run)."""
    figure_path = pathlib.Path(figure_path)
    return figure_path.with_name(f'{figure_path.stem}_runs.csv')


def _has_checkpoint(run_dir):
    return (pathlib.Path(run_dir) / 'checkpoints' / 'checkpoint').is_file()


class TestImages:
    """Test images per (dataset, architecture, smoke) loaded once and shared by the runs."""

    def __init__(self, limit=None):
        self.limit, self._cache = limit, {}

    def __call__(self, hyper):
        from Utils.load_data import load_dataset
        key = (hyper['dataset_name'], hyper['architecture'], bool(hyper.get('run_with_sample', False)))
        if key not in self._cache:
            x = load_dataset(*key).x_test
            self._cache[key] = x[:self.limit] if self.limit else x
        return self._cache[key]


def run_distances(run_dir, test_images, samples_n, seed=0):
    """Per-image median vertex distances (N,) of one trained run."""
    from Models.train_vae import load_trained_vae
    from Utils.posterior_sampling_funcs import posterior_vertex_distances  # imports TensorFlow
    model, hyper = load_trained_vae(run_dir)
    x = test_images(hyper)
    return posterior_vertex_distances(lambda xb, s, sd: model.sample_posterior_psi(xb, s, seed=sd), x,
                                      samples_n=samples_n, seed=seed)


def case_distances(rows, test_images, samples_n, runs_per_case):
    """Distances of the (up to runs_per_case) runs of one case that have weights: {run_name: (seed, values)}."""
    rows = rows[[_has_checkpoint(d) for d in rows['run_dir']]]
    if runs_per_case:
        rows = rows.head(runs_per_case)
    return {name: (seed, run_distances(d, test_images, samples_n))
            for name, seed, d in zip(rows['run_name'], rows['seed'], rows['run_dir'])}


def summary_row(panel, label, values, **extra):
    from Utils.posterior_sampling_funcs import fraction_within
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return {'panel': panel, 'case': label, **extra, 'median': q50, 'p25': q25, 'p75': q75,
            f'within_{RADIUS:g}': fraction_within(values, RADIUS), 'images': len(values)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    viz_vae.add_selection_args(parser, FIGURE_PANELS, DEFAULT_PANELS)
    parser.add_argument('--samples', type=int, default=SAMPLES_N, help='posterior samples per image (default 100)')
    parser.add_argument('--test-images', type=int, default=None, help='use only the first N test images')
    parser.add_argument('--runs-per-case', type=int, default=0, help='runs (seeds) used per case; 0 = all')
    args = parser.parse_args(argv)

    runs = viz_vae.load_vae_runs(args.log_dir, args.dataset, args.include_smoke, args.finished_only)
    panels = viz_vae.chosen_panels(args, FIGURE_PANELS)
    test_images = TestImages(args.test_images)
    data, rows_out, per_run = {}, [], []
    for name, (_, cases) in panels.items():
        data[name] = {}
        for label, rows in (viz_vae.runs_by_case(runs, cases).items() if len(runs) else []):
            by_run = case_distances(rows, test_images, args.samples, args.runs_per_case)
            if by_run:
                data[name][label] = np.concatenate([values for _, values in by_run.values()])
                rows_out.append({**summary_row(name, label, data[name][label]), 'runs': len(by_run)})
                per_run += [summary_row(name, label, values, run_name=run, seed=seed)
                            for run, (seed, values) in by_run.items()]
    if not rows_out:
        raise SystemExit(viz_vae.no_runs_message(args, 'trained VAE', GRID_HINT))

    fig, axes = viz_vae.panel_grid(len(panels))
    for ax, (name, (title, _)) in zip(axes, panels.items()):
        viz_vae.plot_boxplots(ax, data[name], ylabel='median distance to nearest vertex',
                              title=f'{args.dataset}: {title}')
        ax.axhline(RADIUS, color='grey', linestyle=':', linewidth=1)
    out = viz_vae.default_output(args, f'figure5_posterior_vertex_distance_{args.dataset}.png')
    viz_vae.save_figure(fig, out)
    summary = pd.DataFrame(rows_out)
    summary.to_csv(out.with_suffix('.csv'), index=False)
    pd.DataFrame(per_run).to_csv(runs_csv_path(out), index=False)
    print(summary.to_string(index=False, float_format=lambda v: f'{v:.4f}'))
    print(f'Figure 5 -> {out}')
    return out


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
