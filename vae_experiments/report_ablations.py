"""The report's setup ablations: runs with one setting of the original's changed, against the runs they vary.

- `prior_ablation.{md,csv}`, `delta_ablation.{md,csv}` (evidence budget, `ABLATIONS`): IGR-I and IGR-Planar with
  the learned uniform prior against the shipped evidence, and with softmax++'s delta 0.1 against delta 1.
- `delta_ablation.{md,csv}` (paper budget): delta 0.1 against delta 1 at the paper's budget, seed 0 of IGR-I and
  IGR-Planar at the cross-validated temperatures, at each milestone epoch (`Results/runs_ablation_delta_paper/`
  against the paper-budget runs).
- `sop_sigma_ablation.{md,csv}` (paper budget): Table 3's seed 0 with the IGR units' scale learned (the paper-budget
  runs) and fixed at 1 (the later original's units; `Results/runs_ablation_sop_sigma/`), with how discrete the
  trained units are (`structure_output_prediction/unit_values.py`'s record).
- `offset_reading.{md,csv}` (paper budget): the reconstruction along the segment from each relaxed sample's vertex
  to the sample, per MNIST cell and epoch (`vae_experiments/offset_reading.py`'s per-run csv).
- `distance_averaging.{md,csv}`: IGR against GS under Figure 5's vertex distance averaged over the variables and
  under the pooled one (`vae_experiments/distance_averaging.py`'s per-run csv).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from Utils.results.results_io import select_runs
from Utils.runs.runstore import read_json_or_none
from vae_experiments.report_records import FIGURE5_RUNS, FIGURE_PANELS, finished_runs, per_cell_table, read_csv


ABLATION_METRICS = ('TeELBO', 'TeELBOD', 'TeLL', 'TeLLD', 'median', 'within_0.2')
ABLATION_NAMES = {'median': 'vertex distance (median)', 'within_0.2': 'images within 0.2',
                  'images_within_0.2': 'images within 0.2', 'vanished_pct': 'vanished gradients (%)'}
VERTEX_NOTE = ("Vertex distance: Figure 5's per-image median distance to the nearest vertex, its median over the "
               'test images; images within 0.2: the share of test images whose median is at most 0.2.')


@dataclass(frozen=True)
class Ablation:
    """A setup ablation at the evidence budget, IGR-I and IGR-Planar on MNIST at both temperatures: the runs of
    `folder` (under Results/, with its Figure 5 csv) selected by `ablated_filter`, against either the shipped evidence
    runs of the same cells (`base_filter` None) or the runs of `folder` that `base_filter` selects (made beside them,
    on the same machine)."""
    name: str       # its tables, tables/<name>.{md,csv}
    folder: str     # its run records under Results/
    column: str     # the column naming the setting
    ablated: str    # the setting of the ablation's runs
    base: str       # the setting of the runs it is compared with
    title: str
    note: str
    ablated_filter: tuple = ()   # (hyper key, value) pairs of the ablation's runs in `folder`
    base_filter: tuple = None    # the same for the base runs in `folder`; None: the shipped evidence
    metrics: tuple = ABLATION_METRICS


ABLATIONS = (
    Ablation('prior_ablation', 'runs_ablation_learned_prior', 'prior', 'learned (sigma0 0.62)', 'original (sigma0 1.72)',
             "Prior ablation: the learned uniform prior against the original's, MNIST, 10 epochs",
             'Mean ± sample std over seeds 0-2.'),
    Ablation('delta_ablation', 'runs_ablation_delta', 'softmax++ delta', '0.1 (ICML-era original)', '1',
             "softmax++ delta ablation: the ICML-era original's delta 0.1 against 1, MNIST, 10 epochs",
             'Seed 0 of each cell, both deltas trained on the same machine with one intra-op thread; vanished '
             'gradients: the mean over the 10 epochs of Figure 4\'s percentage (the "20" temperatures).',
             (('softmax_delta', 0.1),), (('softmax_delta', 1.0),), ABLATION_METRICS + ('vanished_pct',)),
)
"""The setup ablations of the 10-epoch evidence (`discrete_grid.py --preset` with the setting changed)."""


def ablation_table(runs, vertex, results_dir, ablation):
    """IGR-I and IGR-Planar on MNIST, the ablation's runs against their base (Figure 5 rows beside each): mean ± std
    over seeds; empty when the ablation's records are not shipped."""
    ablation_dir = results_dir / ablation.folder
    if not ablation_dir.is_dir():
        return pd.DataFrame()
    own = (finished_runs(ablation_dir), read_csv(ablation_dir / FIGURE5_RUNS))
    sources = {ablation.ablated: own + (dict(ablation.ablated_filter),),
               ablation.base: (runs, vertex, {}) if ablation.base_filter is None else
               own + (dict(ablation.base_filter),)}
    rows = []
    for model in ('IGR_I_Dis', 'IGR_Planar_Dis'):
        for panel, temps in FIGURE_PANELS.items():
            for setting, (frame, distances, filters) in sources.items():
                chosen = select_runs(frame, experiment='vae', dataset_name='mnist', model_type=model,
                                     temp=float(temps[model]), **filters)
                if not len(chosen):
                    continue
                by_run = distances.set_index('run_name') if distances is not None else pd.DataFrame()
                row = {'model': model, 'temp': temps[model], ablation.column: setting, 'runs': len(chosen)}
                for metric in ablation.metrics:
                    if metric == 'vanished_pct':
                        values = pd.Series([_mean_vanished(d) for d in chosen['run_dir']], dtype=float)
                    elif metric in chosen:
                        values = chosen[metric].astype(float)
                    else:
                        values = pd.Series([by_run[metric].get(n, np.nan) if metric in by_run else np.nan
                                            for n in chosen['run_name']], dtype=float)
                    row[f'{metric}_mean'], row[f'{metric}_std'] = values.mean(), values.std(ddof=1)
                rows.append(row)
    return pd.DataFrame(rows)


def _mean_vanished(run_dir):
    """Mean over the epochs of a run's percentage of vanished gradients (`gradients.csv`; NaN without a monitor)."""
    path = Path(run_dir) / 'gradients.csv'
    return float(pd.read_csv(path)['vanished_pct'].mean()) if path.is_file() else np.nan


def _cell(mean, std, digits, runs):
    if np.isnan(mean):
        return '-'
    return f'{mean:.{digits}f}' if runs == 1 else f'{mean:.{digits}f} ± {std:.{digits}f}'


def write_ablation(runs, out_dir, tables_dir, results_root, ablation):
    table = ablation_table(runs, read_csv(out_dir / FIGURE5_RUNS), results_root, ablation)
    if not len(table):
        return table
    table.to_csv(tables_dir / f'{ablation.name}.csv', index=False)
    lines = [f'# {ablation.title}\n\n{ablation.note} {VERTEX_NOTE}\n\n| model | temp | {ablation.column} | '
             + ' | '.join(ABLATION_NAMES.get(m, m) for m in ablation.metrics)
             + ' | runs |\n|---|---|---|' + '---|' * (len(ablation.metrics) + 1) + '\n']
    for row in table.to_dict('records'):
        cells = [_cell(row[f'{m}_mean'], row[f'{m}_std'], 3 if m in ('median', 'within_0.2') else 2, row['runs'])
                 for m in ablation.metrics]
        lines.append(f'| {row["model"]} | {row["temp"]:g} | {row[ablation.column]} | ' + ' | '.join(cells)
                     + f' | {row["runs"]} |\n')
    (tables_dir / f'{ablation.name}.md').write_text(''.join(lines))
    return table


def write_ablations(runs, out_dir, tables_dir, results_root):
    """Every ablation of ABLATIONS whose records are shipped."""
    for ablation in ABLATIONS:
        write_ablation(runs, out_dir, tables_dir, results_root, ablation)


SOP_SIGMA_FOLDER = 'runs_ablation_sop_sigma'
"""Records of the SOP runs with the IGR units' sigma fixed at 1, under Results/."""
SOP_MODELS = ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB')
SOP_METRICS = ('TeNLL', 'TeNLLD', 'TeNLLMS')


def sop_sigma_ablation(runs, results_root, seed=0):
    """Seed `seed` of each SOP model: the paper-budget run (`runs`; the IGR units' scale learned) and, for the IGR
    models, the run of `SOP_SIGMA_FOLDER` (scale fixed at 1): last-epoch NLLs, and per stochastic layer the share of
    undecided units and the median sigma of `unit_values.json`. Empty when the ablation's records are not shipped."""
    folder = Path(results_root) / SOP_SIGMA_FOLDER
    if not folder.is_dir():
        return pd.DataFrame()
    sources = (('learned', runs), ('fixed at 1', finished_runs(folder)))
    rows = []
    for model in SOP_MODELS:
        for setting, frame in sources:
            chosen = select_runs(frame, experiment='sop', model_type=model, seed=seed)
            if len(chosen) != 1:
                continue
            run = chosen.iloc[0]
            row = {'model': model, 'unit_sigma': setting if model != 'GS' else 'none (logistic noise)',
                   'epochs': int(run['epochs_done']), **{m: float(run[m]) for m in SOP_METRICS}}
            record = read_json_or_none(Path(run['run_dir']) / 'unit_values.json') or {'layers': []}
            for i, layer in enumerate(record['layers'], 1):
                row[f'undecided_{i}'] = layer['undecided']
                row[f'median_sigma_{i}'] = layer.get('median_sigma', np.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def write_sop_sigma_ablation(runs, tables_dir, results_root):
    table = sop_sigma_ablation(runs, results_root)
    if not len(table):
        return table
    table.to_csv(tables_dir / 'sop_sigma_ablation.csv', index=False)
    number = lambda row, key, spec: '-' if pd.isna(row.get(key, np.nan)) else f'{row[key]:{spec}}'  # noqa: E731
    lines = ["# SOP unit-scale ablation: the IGR units' sigma learned against fixed at 1, seed 0\n\n"
             'Last-epoch test NLLs (nats per image); undecided units: the share of relaxed unit values in (0.1, 0.9) '
             'over the 10,000 test images and one noise draw, per stochastic layer; median sigma: of the units\' '
             'Gaussian dims, per layer (`structure_output_prediction/unit_values.py`).\n\n'
             '| model | unit sigma | epochs | TeNLL | TeNLLD | TeNLLMS | TeNLLD - TeNLL | undecided units (layer 1 / 2) '
             '| median sigma (layer 1 / 2) |\n|---|---|---|---|---|---|---|---|---|\n']
    for row in table.to_dict('records'):
        lines.append(f'| {row["model"]} | {row["unit_sigma"]} | {row["epochs"]} | '
                     + ' | '.join(f'{row[m]:.2f}' for m in SOP_METRICS) + f' | {row["TeNLLD"] - row["TeNLL"]:+.2f} | '
                     + f'{number(row, "undecided_1", ".3f")} / {number(row, "undecided_2", ".3f")} | '
                     + f'{number(row, "median_sigma_1", ".2g")} / {number(row, "median_sigma_2", ".2g")} |\n')
    (tables_dir / 'sop_sigma_ablation.md').write_text(''.join(lines))
    return table


DISTANCE_RUNS = 'distance_averaging_mnist_runs.csv'
"""Per-run csv of `vae_experiments/distance_averaging.py` under Results/ (computed from weights: an input here)."""


def distance_averaging(rows):
    """IGR against GS under Figure 5's averaged vertex distance and the pooled one, per epoch, panel and IGR model
    (delta 1 only; mean over the seeds both cases have). `rows`: the per-run csv."""
    rows = rows[np.isclose(rows['softmax_delta'].astype(float), 1.0)]
    out = []
    for epoch in sorted(set(rows['epoch'])):
        at = rows[rows['epoch'] == epoch]
        for panel, temps in FIGURE_PANELS.items():
            gs = at[(at['model_type'] == 'GS_Dis') & np.isclose(at['temp'], temps['GS_Dis'])].set_index('seed')
            for model in ('IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis'):
                igr = at[(at['model_type'] == model) & np.isclose(at['temp'], temps[model])].set_index('seed')
                seeds = sorted(set(igr.index) & set(gs.index))
                if not seeds:
                    continue
                row = {'epoch': int(epoch), 'panel': panel, 'model': model, 'temp': temps[model],
                       'gs_temp': temps['GS_Dis'], 'seeds': ' '.join(str(s) for s in seeds)}
                for measure in ('averaged', 'pooled'):
                    row[f'{measure}_igr'] = igr.loc[seeds, measure].mean()
                    row[f'{measure}_gs'] = gs.loc[seeds, measure].mean()
                    row[f'{measure}_gs_minus_igr'] = row[f'{measure}_gs'] - row[f'{measure}_igr']
                row['same_sign'] = bool(np.sign(row['averaged_gs_minus_igr']) == np.sign(row['pooled_gs_minus_igr']))
                out.append(row)
    return pd.DataFrame(out)


def write_distance_averaging(tables_dir, results_root):
    path = results_root / DISTANCE_RUNS
    if not path.is_file():
        return pd.DataFrame()
    table = distance_averaging(read_csv(path))
    table.to_csv(tables_dir / 'distance_averaging.csv', index=False)
    lines = ['# Figure 5 with and without the averaging over the variables\n\n'
             'Median over the test images of each image\'s median vertex distance: averaged, Figure 5\'s measure (the '
             'distance averaged over the 30 variables, then the median over the 100 samples); pooled, the median over '
             'every (sample, variable) pair. GS - IGR > 0: IGR closer to the vertices. One row per epoch, panel and '
             'IGR model, mean over the seeds listed (runs made on one machine with one intra-op thread; '
             '`vae_experiments/distance_averaging.py`).\n\n'
             '| epoch | panel | IGR model (tau) | GS tau | seeds | averaged: IGR | GS | GS - IGR | pooled: IGR | GS | '
             'GS - IGR | same sign |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n']
    for row in table.to_dict('records'):
        lines.append(f'| {row["epoch"]} | {row["panel"]} | {row["model"]} ({row["temp"]:g}) | {row["gs_temp"]:g} | '
                     f'{row["seeds"]} | {row["averaged_igr"]:.3f} | {row["averaged_gs"]:.3f} | '
                     f'{row["averaged_gs_minus_igr"]:+.3f} | {row["pooled_igr"]:.3f} | {row["pooled_gs"]:.3f} | '
                     f'{row["pooled_gs_minus_igr"]:+.3f} | {"yes" if row["same_sign"] else "no"} |\n')
    (tables_dir / 'distance_averaging.md').write_text(''.join(lines))
    return table


PAPER_DELTA_FOLDER = 'runs_ablation_delta_paper'
"""Records of softmax++'s delta 0.1 at the paper's budget (`campaign.py delta`), under Results/."""
PAPER_DELTA_METRICS = ('TeELBO', 'TeELBOD', 'TeLL', 'TeLLD', 'median', 'images_within_0.2')
SHARES = ('median', 'images_within_0.2')
"""Metrics shown with three decimals (distances and shares)."""


def _at_epoch(run_dir, epoch):
    """PAPER_DELTA_METRICS of a run at `epoch`: the test ELBOs of metrics.csv, the log-likelihoods and the vertex
    distances of its milestone records (NaN where not recorded)."""
    from Utils.results.results_io import load_metrics, load_vertex_distances, log_likelihood_at
    metrics = load_metrics(run_dir)
    row = metrics[metrics['epoch'] == epoch]
    values = {k: float(row[k].iloc[0]) if len(row) else np.nan for k in ('TeELBO', 'TeELBOD')}
    values.update(log_likelihood_at(run_dir, epoch))
    values.update(load_vertex_distances(run_dir).get(epoch, {}))
    return {k: float(values.get(k, np.nan)) for k in PAPER_DELTA_METRICS}


def paper_delta_ablation(runs, results_root, epochs, seed=0):
    """Per cross-validated IGR-I / IGR-Planar cell and epoch of `epochs`: seed `seed` with delta 0.1
    (PAPER_DELTA_FOLDER) and with delta 1 (`runs`, the paper-budget runs). Empty when the ablation is not shipped."""
    folder = Path(results_root) / PAPER_DELTA_FOLDER
    if not folder.is_dir():
        return pd.DataFrame()
    sources = (('0.1 (ICML-era original)', finished_runs(folder), 0.1), ('1', runs, 1.0))
    rows = []
    for model in ('IGR_I_Dis', 'IGR_Planar_Dis'):
        temp = FIGURE_PANELS['cv'][model]
        chosen = {}
        for setting, frame, delta in sources:
            found = select_runs(frame, experiment='vae', dataset_name='mnist', model_type=model, temp=float(temp),
                                seed=seed)
            found = found[np.isclose(found['softmax_delta'].astype(float), delta)]
            if len(found) == 1:
                chosen[setting] = found.iloc[0]['run_dir']
        if len(chosen) < 2:  # a side not shipped yet: nothing to compare
            continue
        for epoch in epochs:
            for setting, run_dir in chosen.items():
                rows.append({'model': model, 'temp': temp, 'epoch': int(epoch), 'softmax_delta': setting,
                             **_at_epoch(run_dir, int(epoch))})
    return pd.DataFrame(rows)


def write_paper_delta_ablation(runs, tables_dir, results_root, epochs):
    table = paper_delta_ablation(runs, results_root, epochs)
    if not len(table):
        return table
    table.to_csv(tables_dir / 'delta_ablation.csv', index=False)
    lines = ["# softmax++ delta ablation at the paper's budget: delta 0.1 against 1, MNIST, seed 0\n\n"
             "IGR-I and IGR-Planar at the cross-validated temperatures, 100 epochs, the two deltas' runs made on the "
             'same machine type with one intra-op thread, compared at each milestone epoch: the test ELBOs of that '
             'epoch, TeLL / TeLLD at S = 100 and ' + VERTEX_NOTE[0].lower() + VERTEX_NOTE[1:] + '\n\n'
             '| model | temp | epoch | softmax++ delta | '
             + ' | '.join(ABLATION_NAMES.get(m, m) for m in PAPER_DELTA_METRICS)
             + ' |\n|---|---|---|---|' + '---|' * len(PAPER_DELTA_METRICS) + '\n']
    for row in table.to_dict('records'):
        cells = ['-' if np.isnan(row[m]) else f'{row[m]:.{3 if m in SHARES else 2}f}' for m in PAPER_DELTA_METRICS]
        lines.append(f'| {row["model"]} | {row["temp"]:g} | {row["epoch"]} | {row["softmax_delta"]} | '
                     + ' | '.join(cells) + ' |\n')
    (tables_dir / 'delta_ablation.md').write_text(''.join(lines))
    return table


OFFSET_RUNS = 'offset_reading_mnist_runs.csv'
"""Per-run csv of `vae_experiments/offset_reading.py` under Results/ (computed from weights: an input here)."""


def offset_reading_table(rows):
    """Per MNIST cell and epoch: the mean over its seeds of log p(x | e + a (psi - e)) at each a of the per-run csv
    (`rows`), a from 1 (the relaxed sample) down to 0 (its one-hot argmax)."""
    fractions = sorted((c for c in rows.columns if c.startswith('log_px_a')), key=lambda c: -float(c[len('log_px_a'):]))
    return per_cell_table(rows, {c: (c, 'mean') for c in fractions}, model='model_type'), fractions


def write_offset_reading(tables_dir, results_root):
    path = Path(results_root) / OFFSET_RUNS
    if not path.is_file():
        return pd.DataFrame()
    table, fractions = offset_reading_table(read_csv(path))
    table.to_csv(tables_dir / 'offset_reading.csv', index=False)
    names = [f'a = {c[len("log_px_a"):]}' for c in fractions]
    lines = ['# What the decoder reads beyond the vertex: MNIST, paper-budget runs\n\n'
             'Mean over the seeds listed of log p(x | e + a (psi - e)) over the 10,000 test images, psi the relaxed '
             'sample and e its one-hot argmax, with the evaluation\'s noise: a = 1 is the reconstruction term of '
             'TeELBO, a = 0 that of TeELBOD (`vae_experiments/offset_reading.py`).\n\n'
             '| model | temp | epoch | seeds | ' + ' | '.join(names) + ' |\n|---|---|---|---|'
             + '---|' * len(names) + '\n']
    for row in table.to_dict('records'):
        lines.append(f'| {row["model_type"]} | {row["temp"]:g} | {row["epoch"]} | {row["seeds"]} | '
                     + ' | '.join(f'{row[c]:.2f}' for c in fractions) + ' |\n')
    (tables_dir / 'offset_reading.md').write_text(''.join(lines))
    return table
