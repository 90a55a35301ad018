"""The per-run records the replication report reads, and Figure 5's picture.

Finished runs are collected from a budget's run folder. Figure 5's per-run csv (posterior vertex distances) and the
gradient-variance csv come from the runs' own records (`vae_experiments/milestones.py`); for the evidence budget they
are merged with the shipped rows computed from weights before the weights were dropped. `load_records` hands both
csv files to `Utils/results/replication.py`, which decides the claims.
"""
import warnings

import numpy as np
import pandas as pd

from Utils.results import replication
from Utils.results.results_io import GRADIENT_COLUMNS
from Utils.viz_vae import case_label
from vae_experiments.discrete_grid import CV_TEMPS, TEMPS_20

FIGURE5_RUNS = 'figure5_posterior_vertex_distance_mnist_runs.csv'
FIGURE5_PNG = 'figure5_posterior_vertex_distance_mnist.png'

FIGURE_PANELS = {'cv': CV_TEMPS, '20': TEMPS_20}
MODEL_RANK = {m: i for i, m in enumerate(('IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis', 'GS_Dis'))}


def _panel_of(model, temp):
    return next((name for name, temps in FIGURE_PANELS.items()
                 if model in temps and np.isclose(temps[model], temp)), None)


VERTEX_COLUMNS = ('panel', 'case', 'run_name', 'seed', 'median', 'p25', 'p75', 'within_0.2', 'images',
                  'samples_within_0.2')


def vertex_rows(runs, epoch=None):
    """Figure 5's per-run rows from the runs' `vertex_distance.json` at `epoch` (None: the run's last epoch)."""
    from Utils.results.results_io import load_vertex_distances
    rows = []
    for run in runs.itertuples(index=False):
        panel = _panel_of(run.model_type, run.temp) if run.experiment == 'vae' else None
        at = int(run.epochs_done) if epoch is None else int(epoch)
        record = load_vertex_distances(run.run_dir).get(at) if panel else None
        if record:
            rows.append({'panel': panel, 'case': case_label(run.model_type, run.temp), 'run_name': run.run_name,
                         'seed': int(run.seed), 'median': record['median'], 'p25': record['p25'],
                         'p75': record['p75'], 'within_0.2': record['images_within_0.2'],
                         'images': record['images'], 'samples_within_0.2': record['samples_within_0.2']})
    return pd.DataFrame(rows, columns=VERTEX_COLUMNS)


def gradient_rows(runs, epochs=None):
    """The gradient-variance rows of the runs' own `gradient_variance.csv` (at `epochs`; None: all)."""
    from Utils.results.results_io import load_gradient_variance
    frames = [load_gradient_variance(d) for d in runs['run_dir']]
    frames = [f[f['epoch'].isin(epochs)] if epochs is not None else f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=GRADIENT_COLUMNS)


def merged_weight_records(runs, shipped_vertex, shipped_gradient):
    """Figure 5's per-run csv and the gradient-variance csv of the evidence budget: the rows a run's own records give
    (`vae_experiments/milestones.py`), and the shipped rows (computed from weights before they were dropped) of the
    shipped runs that have no such records; rows of runs no longer shipped are dropped."""
    names = set(runs['run_name'])
    own_vertex = vertex_rows(runs)
    own_gradient = gradient_rows(runs, epochs=(1, 10))
    keep = lambda frame, column, own: frame[frame[column].isin(names - set(own.get(column, [])))] \
        if frame is not None else pd.DataFrame()
    vertex = pd.concat([keep(shipped_vertex, 'run_name', own_vertex), own_vertex], ignore_index=True)
    if len(vertex):
        order = [(list(FIGURE_PANELS).index(p), MODEL_RANK.get(r, 9), s) for p, r, s in
                 zip(vertex['panel'], [runs.set_index('run_name').loc[n, 'model_type'] for n in vertex['run_name']],
                     vertex['seed'])]
        vertex = vertex.iloc[sorted(range(len(vertex)), key=order.__getitem__)].reset_index(drop=True)
    gradient = pd.concat([keep(shipped_gradient, 'run', own_gradient), own_gradient], ignore_index=True)
    if len(gradient):
        gradient = gradient.sort_values(['run', 'epoch', 'target'], kind='stable').reset_index(drop=True)
    return vertex, gradient


def seed_ranges(seeds):
    """'0-2 4' for [0, 1, 2, 4]."""
    spans = []
    for seed in sorted(int(s) for s in seeds):
        if spans and seed == spans[-1][1] + 1:
            spans[-1][1] = seed
        else:
            spans.append([seed, seed])
    return ' '.join(f'{a}' if a == b else f'{a}-{b}' for a, b in spans)


def per_cell_table(rows, aggregations, model='model'):
    """Rows of one run and epoch each (`model`, temp, epoch, seed, values; dicts or a DataFrame) -> one row per cell
    and epoch: the seeds behind it (`seed_ranges`) and `aggregations` (pandas named aggregations), models in
    MODEL_ORDER, temperatures high to low, epochs ascending."""
    from Utils.results.results_io import MODEL_ORDER
    if not len(rows):
        return pd.DataFrame()
    table = pd.DataFrame(rows).groupby([model, 'temp', 'epoch'], sort=False).agg(
        seeds=('seed', seed_ranges), **aggregations).reset_index()
    table['rank'] = table[model].map({m: i for i, m in enumerate(MODEL_ORDER)})
    table = table.sort_values(['rank', 'temp', 'epoch'], ascending=[True, False, True], ignore_index=True)
    return table.drop(columns='rank')


def finished_runs(runs_dir):
    from Utils.results.results_io import collect_runs
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return collect_runs(runs_dir, finished_only=True)


def read_csv(path):
    """A shipped csv, or None when there is none; round-trip parsing, so that the floats written back out are the
    shipped text again."""
    return pd.read_csv(path, float_precision='round_trip') if path.is_file() else None


def draw_figure5(vertex, path):
    """Figure 5 from its per-run csv: per case, each run's median distance (its test images' median) with the
    quartiles of its images, one point per seed; the dotted line is the 0.2 of the "20" temperatures."""
    from Utils import viz_vae
    fig, axes = viz_vae.panel_grid(len(FIGURE_PANELS))
    for ax, (panel, temps) in zip(axes, FIGURE_PANELS.items()):
        rows = vertex[vertex['panel'].astype(str) == panel]
        cases = list(dict.fromkeys(rows['case']))
        for x, case in enumerate(cases):
            part = rows[rows['case'] == case].sort_values('seed')
            offsets = np.linspace(-0.15, 0.15, len(part)) if len(part) > 1 else np.zeros(1)
            median, p25, p75 = (part[k].to_numpy(float) for k in ('median', 'p25', 'p75'))
            ax.errorbar(x + offsets, median, yerr=np.stack([median - p25, p75 - median]), fmt='o', capsize=3)
        ax.set_xticks(range(len(cases)), cases, rotation=20, fontsize=8)
        ax.axhline(0.2, color='grey', linestyle=':', linewidth=1)
        title = 'cross-validated temperatures' if panel == 'cv' else '"20" temperatures'
        ax.set(ylabel='distance to the nearest vertex (median over test images)', title=f'mnist: {title}', ylim=(0, None))
    viz_vae.save_figure(fig, path)


def write_weight_records(runs, out_dir, budget):
    """Figure 5's per-run csv and the gradient-variance csv of a budget: for the evidence, the shipped rows merged
    with the runs' own records (`merged_weight_records`); for the paper budget, the records alone (each run's last
    epoch for Figure 5, every kept checkpoint for the gradient variance)."""
    if budget.merge_shipped:
        vertex, gradient = merged_weight_records(runs, read_csv(out_dir / FIGURE5_RUNS),
                                                 read_csv(out_dir / budget.gradient_file))
    else:
        vertex, gradient = vertex_rows(runs), gradient_rows(runs)
    if len(vertex):
        vertex.to_csv(out_dir / FIGURE5_RUNS, index=False)
        draw_figure5(vertex, out_dir / FIGURE5_PNG)
    if len(gradient):
        gradient.to_csv(out_dir / budget.gradient_file, index=False)


def load_records(runs, out_dir, budget):
    return replication.Records(runs, vertex=read_csv(out_dir / FIGURE5_RUNS),
                               gradient_variance=read_csv(out_dir / budget.gradient_file))
