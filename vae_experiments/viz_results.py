"""Figure 3: test ELBO against epoch, mean +- one standard deviation over repetitions, on MNIST.

What it reproduces
    One panel per temperature set: every model at its cross-validated temperature (IGR-I 1.0, IGR-Planar 0.85,
    IGR-SB 0.15, GS 1.0) and at its "20" temperature, the one that puts 75% of posterior samples within 0.2 of a
    vertex (IGR-I 0.1, IGR-Planar 0.3, IGR-SB 0.02, GS 0.25).  The cases live in
    `vae_experiments/discrete_grid.py` (CV_TEMPS, TEMPS_20).

Input
    Run folders written by `python3 vae_experiments/discrete_grid.py --preset figures` (or any runs with these
    hyper values).  Runs are chosen by the hyper values in their `config.json` (experiment 'vae', dataset,
    model_type, temp, ELBO objective, not smoke runs) and their curves read from `metrics.csv`, through
    `Utils.results.results_io`; nothing has to be moved by hand.  Cases without runs are skipped with a warning.

Output
    `Results/figure3_elbo_<dataset>.png` and the plotted numbers `Results/figure3_elbo_<dataset>.csv`.

Usage
    python3 vae_experiments/viz_results.py                         # both panels, MNIST
    python3 vae_experiments/viz_results.py --panels 20 --metric TeELBOD
    python3 vae_experiments/viz_results.py --case GS_Dis=0.5 --case IGR_I_Dis=0.5 --log-dir /scratch/Log

Expected run time: a few seconds (reads CSV files).
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()  # first: no CUDA-probe error line on machines without a GPU

import argparse  # noqa: E402

import pandas as pd  # noqa: E402

from Utils import viz_vae  # noqa: E402
from vae_experiments.discrete_grid import FIGURE_PANELS  # noqa: E402

DEFAULT_PANELS = ('cv', '20')
GRID_HINT = 'Run `python3 vae_experiments/discrete_grid.py --preset figures` first.'


def panel_curves(runs, cases, metric):
    """dict label -> mean curve (DataFrame epoch, mean, std, ...) of `metric` for each case with runs."""
    from Utils.results.results_io import load_metrics
    curves = {}
    for label, rows in viz_vae.runs_by_case(runs, cases).items():
        frames = [f for f in (load_metrics(d) for d in rows['run_dir']) if metric in f.columns and len(f)]
        if frames:
            curves[label] = viz_vae.mean_curve(frames, metric)
    return curves


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    viz_vae.add_selection_args(parser, FIGURE_PANELS, DEFAULT_PANELS)
    parser.add_argument('--metric', default='TeELBO', help='metrics.csv column to plot (default TeELBO)')
    args = parser.parse_args(argv)

    runs = viz_vae.load_vae_runs(args.log_dir, args.dataset, args.include_smoke, args.finished_only)
    panels = viz_vae.chosen_panels(args, FIGURE_PANELS)
    curves = {name: panel_curves(runs, cases, args.metric) for name, (_, cases) in panels.items()}
    if not any(curves.values()):
        raise SystemExit(viz_vae.no_runs_message(args, 'VAE', GRID_HINT))

    fig, axes = viz_vae.panel_grid(len(panels))
    for ax, (name, (title, _)) in zip(axes, panels.items()):
        viz_vae.plot_mean_curves(ax, curves[name], ylabel=f'test {args.metric} (nats)',
                                 title=f'{args.dataset}: {title}')
    out = viz_vae.default_output(args, f'figure3_elbo_{args.dataset}.png')
    viz_vae.save_figure(fig, out)
    table = pd.concat([c.assign(panel=name, case=label) for name, panel in curves.items()
                       for label, c in panel.items()], ignore_index=True)
    table.to_csv(out.with_suffix('.csv'), index=False)
    print(f'Figure 3 ({args.metric}, {sum(len(c) for c in curves.values())} curves) -> {out}')
    return out


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
