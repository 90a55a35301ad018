"""Plotting helpers shared by the VAE figure scripts (Figures 3, 4 and 5).

Runs are chosen from the table of run folders (`Utils.results.results_io.collect_runs`: one row per `Log/<run>/`, with the
hyper values as columns) by their hyper values, never by folder names.  Curves of several repetitions are
summarised per epoch as mean and standard deviation.

Figures are `matplotlib.figure.Figure` objects written to files (`panel_grid`, `save_figure`): importing this module
neither imports `matplotlib.pyplot` nor chooses a backend, and drawing needs no display.
"""
import argparse
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from Utils.relaxed.families import FAMILIES
from Utils.results.results_io import select_runs  # noqa: F401  (the figure scripts' run filter)

MODEL_LABELS = {model_type: family.label for name, family in FAMILIES.items()
                for model_type in (name, f'{name}_Dis')}
"""model_type -> display name: the family's label, for the discrete-only (`_Dis`) and the JointVAE model types."""
MODEL_COLORS = {'GS': '#1f77b4', 'IGR-I': '#d62728', 'IGR-Planar': '#2ca02c', 'IGR-SB': '#9467bd',
                'IGR-SB-Finite': '#8c564b'}


def model_label(model_type):
    """Short display name of a `model_type` string ('IGR_I_Dis' -> 'IGR-I')."""
    return MODEL_LABELS.get(model_type, model_type)


def case_label(model_type, temp):
    """Legend text of one (model, temperature) case, e.g. 'IGR-I (tau=0.1)'."""
    return f'{model_label(model_type)} (tau={temp:g})'


def mean_curve(frames, metric, x='epoch'):
    """Mean and spread of a metric over runs, per value of `x`.

    Args:
        frames: list of DataFrames, each with columns `x` and `metric` (one per run).
        metric: column to summarise, e.g. 'TeELBO'.
        x: the column that aligns the runs (epochs).
    Returns:
        DataFrame with columns x, mean, std, min, max, n (std is 0 for a single run).
    """
    stacked = pd.concat([f[[x, metric]].dropna() for f in frames], ignore_index=True)
    grouped = stacked.groupby(x)[metric]
    out = pd.DataFrame({'mean': grouped.mean(), 'std': grouped.std(ddof=0), 'min': grouped.min(),
                        'max': grouped.max(), 'n': grouped.count()}).reset_index()
    return out


def plot_mean_curves(ax, curves, ylabel, x='epoch', title=None):
    """Draw mean lines with a +-1 std band.

    Args:
        ax: matplotlib axes.
        curves: dict label -> DataFrame from `mean_curve`.
        ylabel: y axis text.
    """
    if not curves:
        _mark_empty(ax, title)
        return
    for label, curve in curves.items():
        color = MODEL_COLORS.get(label.split(' ')[0])
        runs = int(curve['n'].max())
        ax.plot(curve[x], curve['mean'], label=f"{label} [{runs} run{'s' if runs != 1 else ''}]", color=color)
        ax.fill_between(curve[x], curve['mean'] - curve['std'], curve['mean'] + curve['std'], alpha=0.25,
                        color=color, linewidth=0)
    ax.set_xlabel(x.capitalize())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize='medium')
    ax.legend(fontsize='small')
    ax.grid(alpha=0.3)


def plot_boxplots(ax, samples, ylabel, title=None):
    """Boxplot per label (Figure 5 style).

    Args:
        ax: matplotlib axes.
        samples: dict label -> 1-D array.
    """
    labels = list(samples)
    if not labels:
        _mark_empty(ax, title)
        return
    box = ax.boxplot([np.asarray(samples[k]) for k in labels], showfliers=False, patch_artist=True)
    ax.set_xticks(range(1, len(labels) + 1))
    ax.set_xticklabels(labels, rotation=15)
    for patch, label in zip(box['boxes'], labels):
        patch.set_facecolor(MODEL_COLORS.get(label.split(' ')[0], '#cccccc'))
        patch.set_alpha(0.6)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize='medium')
    ax.grid(alpha=0.3, axis='y')


def _mark_empty(ax, title=None):
    """An empty panel that says so."""
    ax.text(0.5, 0.5, 'no runs found', ha='center', va='center', transform=ax.transAxes, color='grey')
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize='medium')


def panel_grid(n_panels, width=6.0, height=4.5):
    """A figure with `n_panels` axes side by side (at most 2 per row). Returns (fig, flat list of axes)."""
    cols = min(2, max(1, n_panels))
    rows = math.ceil(max(1, n_panels) / cols)
    fig = Figure(figsize=(width * cols, height * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:max(1, n_panels)]


def save_figure(fig, path):
    """Write the figure (format from the suffix; its folder is created), return the path."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Choosing runs for a figure
# ---------------------------------------------------------------------------------------------------------------------
def add_selection_args(parser, panels, default_panels, default_dataset='mnist'):
    """Command-line options shared by the VAE figure scripts (which runs to read, where to write).

    Args:
        parser: argparse parser.
        panels: dict name -> (title, {model_type: temp}).
        default_panels: names drawn when neither --panels nor --case is given.
    """
    parser.add_argument('--log-dir', default=None, help='folder of run folders (default Log/ or $IGR_LOG_DIR)')
    parser.add_argument('--dataset', default=default_dataset, help=f'dataset_name of the runs (default {default_dataset})')
    parser.add_argument('--panels', nargs='+', choices=list(panels), default=list(default_panels),
                        help='which temperature sets to draw, one panel each (default: %(default)s)')
    parser.add_argument('--case', action='append', default=[], metavar='MODEL=TEMP',
                        help='draw these (model_type, temp) cases instead of the panels (repeatable), '
                             'e.g. --case GS_Dis=0.5 --case IGR_I_Dis=0.5')
    parser.add_argument('--include-smoke', action='store_true',
                        help='also use smoke runs (run_with_sample=True); they are skipped by default')
    parser.add_argument('--finished-only', action='store_true', help='skip runs that have not finished')
    parser.add_argument('--out', default=None, help='output file (default under Results/)')
    return parser


def parse_cases(items):
    """['GS_Dis=0.5', ...] -> {'GS_Dis': 0.5, ...}."""
    cases = {}
    for item in items:
        model, sep, temp = item.partition('=')
        if not sep:
            raise argparse.ArgumentTypeError(f'--case expects MODEL=TEMP, got {item!r}')
        cases[model.strip()] = float(temp)
    return cases


def chosen_panels(args, panels):
    """Ordered dict panel name -> (title, {model_type: temp}) from the parsed options."""
    if args.case:
        return {'selected': ('selected cases', parse_cases(args.case))}
    return {name: panels[name] for name in args.panels}


def load_vae_runs(log_dir=None, dataset_name=None, include_smoke=False, finished_only=False, run_jv=False):
    """Run table (one row per run folder) of VAE runs on a dataset, read through `Utils.results.results_io`.

    Smoke runs (run_with_sample=True) are left out unless `include_smoke`; `run_jv` selects ELBO (False) or
    JointVAE (True) runs, None keeps both.
    """
    from Utils.results.results_io import collect_runs
    runs = collect_runs(log_dir, experiment='vae', finished_only=finished_only, include_smoke=include_smoke)
    if not len(runs):
        return runs
    runs = select_runs(runs, dataset_name=dataset_name)
    if run_jv is not None and 'run_jv' in runs.columns:
        runs = runs[runs['run_jv'].fillna(False).astype(bool) == bool(run_jv)]
    return runs


def runs_by_case(runs, cases):
    """For each (model_type, temp) of `cases` the matching rows; cases without runs are warned about and left out.

    Returns dict label -> DataFrame (rows sorted by seed).
    """
    found = {}
    for model_type, temp in cases.items():
        rows = select_runs(runs, model_type=model_type, temp=float(temp)) if len(runs) else runs
        if not len(rows):
            warnings.warn(f'no runs for {model_type} at temp {temp:g}')
            continue
        found[case_label(model_type, float(temp))] = rows.sort_values(
            [c for c in ('seed', 'run_name') if c in rows.columns])
    return found


def default_output(args, name):
    """`--out` or `Results/<name>`."""
    from Utils import paths
    return Path(args.out) if args.out else paths.results_dir() / name


def no_runs_message(args, what, grid_hint):
    source = args.log_dir or 'Log/ ($IGR_LOG_DIR)'
    smoke = '' if args.include_smoke else ' (smoke runs are skipped; --include-smoke uses them)'
    return f'no {what} runs on {args.dataset} found in {source} for the requested cases{smoke}. {grid_hint}'
