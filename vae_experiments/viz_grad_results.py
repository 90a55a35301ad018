"""Figure 4: percentage of vanished gradients per training epoch, mean +- one standard deviation over repetitions.

What it reproduces
    For every training step the entries of d psi / d theta (psi the relaxed sample, theta the encoder's discrete
    parameters: log_pi for GS, mu and xi for IGR) with |.| <= 1e-10 are counted; `gradients.csv` of a run holds
    their percentage per epoch.  The figure compares the models at their "20" temperatures (IGR-I 0.1,
    IGR-Planar 0.3, IGR-SB 0.02, GS 0.25) on MNIST; GS is expected to lose many more gradients.

Input
    Runs trained with the hyper flag `monitor_gradients=True`, e.g.
    `python3 vae_experiments/discrete_grid.py --preset figures` (or `--preset figures_20`).  Runs are chosen by the
    hyper values in `config.json` through `Utils.results.results_io`; runs without `gradients.csv` are ignored.

Output
    `Results/figure4_vanished_gradients_<dataset>.png` and the plotted numbers in the matching `.csv`.

Usage
    python3 vae_experiments/viz_grad_results.py                    # "20" temperatures, MNIST
    python3 vae_experiments/viz_grad_results.py --panels cv 20

Expected run time: a few seconds (reads CSV files).
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()  # first: no CUDA-probe error line on machines without a GPU

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from Utils import viz_vae  # noqa: E402
from vae_experiments.discrete_grid import FIGURE_PANELS  # noqa: E402

GRADIENTS_FILE = 'gradients.csv'
DEFAULT_PANELS = ('20',)
GRID_HINT = ('Train with the vanished-gradient monitor: `python3 vae_experiments/discrete_grid.py --preset figures` '
             '(hyper monitor_gradients=True).')


def load_gradients(run_dir):
    """`gradients.csv` of a run (columns epoch, vanished_pct) or None when the run did not monitor gradients."""
    path = Path(run_dir) / GRADIENTS_FILE
    if not path.is_file() or path.stat().st_size == 0:
        return None
    frame = pd.read_csv(path)
    return frame if len(frame) and 'vanished_pct' in frame.columns else None


def panel_curves(runs, cases):
    curves = {}
    monitored = runs[runs['monitor_gradients'].fillna(False).astype(bool)] if 'monitor_gradients' in runs else runs
    for label, rows in viz_vae.runs_by_case(monitored, cases).items():
        frames = [f for f in (load_gradients(d) for d in rows['run_dir']) if f is not None]
        if frames:
            curves[label] = viz_vae.mean_curve(frames, 'vanished_pct')
    return curves


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    viz_vae.add_selection_args(parser, FIGURE_PANELS, DEFAULT_PANELS)
    args = parser.parse_args(argv)

    runs = viz_vae.load_vae_runs(args.log_dir, args.dataset, args.include_smoke, args.finished_only)
    panels = viz_vae.chosen_panels(args, FIGURE_PANELS)
    curves = {name: panel_curves(runs, cases) for name, (_, cases) in panels.items()} if len(runs) else {}
    if not any(curves.values()):
        raise SystemExit(viz_vae.no_runs_message(args, 'gradient-monitored VAE', GRID_HINT))

    fig, axes = viz_vae.panel_grid(len(panels))
    for ax, (name, (title, _)) in zip(axes, panels.items()):
        viz_vae.plot_mean_curves(ax, curves.get(name, {}), ylabel='vanished gradients (%)',
                                 title=f'{args.dataset}: {title}')
    out = viz_vae.default_output(args, f'figure4_vanished_gradients_{args.dataset}.png')
    viz_vae.save_figure(fig, out)
    table = pd.concat([c.assign(panel=name, case=label) for name, panel in curves.items()
                       for label, c in panel.items()], ignore_index=True)
    table.to_csv(out.with_suffix('.csv'), index=False)
    print(f'Figure 4 ({sum(len(c) for c in curves.values())} curves) -> {out}')
    return out


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
