"""The report's tables about a budget's runs themselves, beside the claims.

- `budget.{md,csv}`: per part of the campaign, the runs shipped, their seeds and epochs and the time they logged.
- `progress.{md,csv}` (paper budget): per part of the campaign (`vae_experiments/campaign.py`'s plan), whether it
  is complete and which cells are still to run.
- `epoch10_agreement.{md,csv}` (paper budget): each run's epoch 10 against the shipped 10-epoch record of the same
  cell and seed.
- `prior_ablation.{md,csv}`, `delta_ablation.{md,csv}` (evidence budget, `ABLATIONS`): IGR-I and IGR-Planar with
  the learned uniform prior against the shipped evidence, and with softmax++'s delta 0.1 against delta 1.
- `sop_sigma_ablation.{md,csv}` (paper budget): Table 3's seed 0 with the IGR units' scale learned (the paper-budget
  runs) and fixed at 1 (the later original's units; `Results/runs_ablation_sop_sigma/`), with how discrete the
  trained units are (`structure_output_prediction/unit_values.py`'s record).
- `elbo_parts.{md,csv}` (paper budget): TeELBO and TeELBOD of the MNIST cells taken apart into reconstruction and
  KL at each milestone epoch (the runs' `elbo_parts.json`, `Models/elbo_parts.py`).
- `distance_averaging.{md,csv}`: IGR against GS under Figure 5's vertex distance averaged over the variables and
  under the pooled one (`vae_experiments/distance_averaging.py`'s per-run csv).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from Utils.results.results_io import select_runs
from Utils.runs.folders import read_json
from Utils.runs.runstore import read_json_or_none
from vae_experiments.discrete_grid import CV_TEMPS, TEMPS_20
from vae_experiments.report_records import FIGURE5_RUNS, FIGURE_PANELS, finished_runs, read_csv

PARTS = {
    'Table 1, MNIST, cross-validated temperatures': dict(experiment='vae', dataset_name='mnist', panel=CV_TEMPS),
    'Table 1 / Figures 3-5, MNIST, "20" temperatures (gradient monitor on)': dict(experiment='vae',
                                                                                  dataset_name='mnist',
                                                                                  panel=TEMPS_20),
    'Table 1, FMNIST, cross-validated temperatures': dict(experiment='vae', dataset_name='fmnist', panel=CV_TEMPS),
    'Table 2, JointVAE, MNIST': dict(experiment='vae', dataset_name='mnist', run_jv=True),
    'Table 3, SOP, binarized MNIST': dict(experiment='sop'),
}
"""The parts of the evidence campaign, for the budget table."""


def _part_runs(runs, experiment, dataset_name=None, panel=None, run_jv=False):
    if experiment != 'vae':
        return select_runs(runs, experiment=experiment)
    rows = select_runs(runs, experiment=experiment, dataset_name=dataset_name, run_jv=run_jv)
    if panel is not None:
        rows = rows[np.array([t == panel.get(m) for m, t in zip(rows['model_type'], rows['temp'])], bool)]
    return rows


def _machines(run_dirs):
    """The CPU models that trained `run_dirs`, with how many runs each (a run's machine.json); a run made, or begun,
    before runs recorded their machine counts as not recorded (as well)."""
    from Utils.runs.machine import run_machines
    counts = {}
    for run_dir in run_dirs:
        for cpu in run_machines(run_dir):
            cpu = cpu or 'not recorded'
            counts[cpu] = counts.get(cpu, 0) + 1
    return '; '.join(f'{cpu} ({n})' for cpu, n in sorted(counts.items()))


def budget(runs, expected=None, machines=False):
    """Per part of the campaign: runs (of the `expected` number per part), seeds, epochs and the time they logged,
    and with `machines` the CPUs that trained them.

    `metrics.csv`'s `seconds` is the training time of an epoch (the SOP logs it at its evaluated epochs only), so the
    training time is estimated as mean logged epoch seconds x epochs; the log-likelihood estimates' own seconds are
    in `log_likelihood.json`.
    """
    rows = []
    for part, where in PARTS.items():
        chosen = _part_runs(runs, **where)
        train = ll = 0.
        for run_dir, epochs in zip(chosen['run_dir'], chosen['epochs_done']):
            seconds = pd.read_csv(Path(run_dir) / 'metrics.csv')['seconds']
            train += float(seconds.mean()) * int(epochs)
            ll_path = Path(run_dir) / 'log_likelihood.json'
            if ll_path.is_file():
                ll += sum(e['seconds'] for e in read_json(ll_path)['entries'])
        epochs = sorted(set(int(e) for e in chosen['epochs_done']))
        done = f'{len(chosen)} of {expected[part]}' if expected else len(chosen)
        rows.append({'part': part, 'runs': done, 'models': chosen['model_type'].nunique(),
                     'seeds': ' '.join(str(int(s)) for s in sorted(set(chosen['seed']))),
                     'epochs': '-'.join(str(e) for e in (epochs[:1] + epochs[-1:] if len(epochs) > 1 else epochs)),
                     'train_minutes': round(train / 60., 1), 'log_likelihood_minutes': round(ll / 60., 1),
                     **({'machine': _machines(chosen['run_dir'])} if machines else {})})
    return pd.DataFrame(rows)


def write_budget(runs, tables_dir, expected=None, machines=False):
    table = budget(runs, expected, machines)
    table.to_csv(tables_dir / 'budget.csv', index=False)
    header = '| ' + ' | '.join(table.columns) + ' |\n|' + '---|' * len(table.columns) + '\n'
    body = ''.join('| ' + ' | '.join(str(v) for v in row) + ' |\n' for row in table.itertuples(index=False))
    (tables_dir / 'budget.md').write_text('# Budget of the shipped runs\n\n' + header + body)
    return table


PART_TITLES = {'mnist': 'Table 1 (MNIST) and Figures 3-5', 'sop': 'Table 3 (SOP)',
               'fmnist': 'Table 1 (Fashion-MNIST)', 'jv': 'Table 2 (JointVAE)'}
"""The campaign's parts as the report names them."""


def _seed_ranges(seeds):
    """'0-2 4' for [0, 1, 2, 4]."""
    seeds, spans = sorted(seeds), []
    for seed in seeds:
        if spans and seed == spans[-1][1] + 1:
            spans[-1][1] = seed
        else:
            spans.append([seed, seed])
    return ' '.join(f'{a}' if a == b else f'{a}-{b}' for a, b in spans)


def progress(runs_dir, budget='paper'):
    """Per part of the campaign (`campaign.PARTS`, its plan under `budget`): the cells whose records in `runs_dir`
    are finished, of all, and the cells still to run as 'model (tau=t): seeds'."""
    from Utils.viz_vae import case_label
    from vae_experiments import campaign
    rows = []
    for part in campaign.PARTS:
        tasks = campaign.plan((part,), budget=budget)
        missing = {}
        for task in tasks:
            if campaign.state_of(task, runs_dir)[0] != 'finished':
                case = (task.cell['model_type'], float(task.cell['temp']))
                missing.setdefault(case, []).append(int(task.cell['seed']))
        done = len(tasks) - sum(len(s) for s in missing.values())
        rows.append({'part': PART_TITLES[part], 'finished': done, 'cells': len(tasks),
                     'complete': done == len(tasks),
                     'to_run': '; '.join(f'{case_label(*case)}: seed{"s" * (len(seeds) > 1)} {_seed_ranges(seeds)}'
                                         for case, seeds in missing.items())})
    return pd.DataFrame(rows)


def write_progress(runs_dir, tables_dir, budget='paper'):
    table = progress(runs_dir, budget)
    table.to_csv(tables_dir / 'progress.csv', index=False)
    complete = [row.part for row in table.itertuples() if row.complete]
    lines = ['# Progress of the campaign\n\n',
             f'Complete: {", ".join(complete) if complete else "no part yet"}. '
             f'{int(table["finished"].sum())} of {int(table["cells"].sum())} runs are finished and shipped.\n\n',
             '| part | runs finished | still to run |\n|---|---|---|\n']
    lines += [f'| {row.part} | {row.finished} of {row.cells} | {row.to_run or "none: complete"} |\n'
              for row in table.itertuples()]
    (tables_dir / 'progress.md').write_text(''.join(lines))
    return table


AGREEMENT_METRICS = ('TeELBO', 'TeELBOD', 'TrL')


def epoch_agreement(runs, evidence_dir, epoch=10):
    """Each paper-budget run against the shipped 10-epoch record of the same cell and seed (the same folder name, as
    run keys leave epochs out): its metrics at `epoch` and the differences."""
    from Utils.results.results_io import load_metrics
    rows = []
    for run in runs.itertuples(index=False):
        twin = Path(evidence_dir) / run.run_name
        if run.experiment != 'vae' or not (twin / 'metrics.csv').is_file():
            continue
        mine, theirs = load_metrics(run.run_dir), load_metrics(twin)
        mine, theirs = mine[mine['epoch'] == epoch], theirs[theirs['epoch'] == epoch]
        if not len(mine) or not len(theirs):
            continue
        row = {'run_name': run.run_name, 'epoch': epoch}
        for metric in AGREEMENT_METRICS:
            a, b = float(mine[metric].iloc[0]), float(theirs[metric].iloc[0])
            row.update({f'{metric}_paper': a, f'{metric}_evidence': b, f'{metric}_diff': a - b})
        rows.append(row)
    return pd.DataFrame(rows)


def write_agreement(runs, tables_dir, evidence_dir):
    table = epoch_agreement(runs, evidence_dir)
    table.to_csv(tables_dir / 'epoch10_agreement.csv', index=False)
    lines = ['# Epoch 10 of the paper-budget runs against the shipped 10-epoch records\n\nThe same cell and seed '
             '(the same run key); both made by this code, on different machines or thread settings, so they agree '
             'up to float rounding amplified by training.\n\n| run | ' + ' | '.join(
                 f'{m} paper | {m} 10-epoch | diff' for m in AGREEMENT_METRICS) + ' |\n|---|'
             + '---|' * (3 * len(AGREEMENT_METRICS)) + '\n']
    for row in table.to_dict('records'):
        lines.append(f'| {row["run_name"]} | ' + ' | '.join(
            f'{row[m + "_paper"]:.2f} | {row[m + "_evidence"]:.2f} | {row[m + "_diff"]:+.2f}'
            for m in AGREEMENT_METRICS) + ' |\n')
    (tables_dir / 'epoch10_agreement.md').write_text(''.join(lines))


ABLATION_METRICS = ('TeELBO', 'TeELBOD', 'TeLL', 'TeLLD', 'median', 'within_0.2')
ABLATION_NAMES = {'median': 'vertex distance (median)', 'within_0.2': 'images within 0.2',
                  'vanished_pct': 'vanished gradients (%)'}
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


ELBO_PART_COLUMNS = ('TeELBO', 'log_px', 'kl_relaxed', 'TeELBOD', 'log_px_one_hot', 'kl_categorical')


def elbo_parts_table(runs):
    """Per MNIST cell (discrete VAEs) and milestone epoch: the mean over seeds of each part in ELBO_PART_COLUMNS, from
    the runs' `elbo_parts.json` (runs without one are left out)."""
    from Utils.results.results_io import ELBO_PARTS_FILE
    rows = []
    chosen = select_runs(runs, experiment='vae', dataset_name='mnist', run_jv=False)
    for run in chosen.itertuples(index=False):
        record = read_json_or_none(Path(run.run_dir) / ELBO_PARTS_FILE)
        for epoch, parts in (record or {'epochs': {}})['epochs'].items():
            rows.append({'model': run.model_type, 'temp': float(run.temp), 'epoch': int(epoch), 'seed': int(run.seed),
                         **{k: parts[k] for k in ELBO_PART_COLUMNS}})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(('GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis'))}
    table = frame.groupby(['model', 'temp', 'epoch'], sort=False).agg(
        seeds=('seed', lambda s: ' '.join(str(v) for v in sorted(s))), **{k: (k, 'mean') for k in ELBO_PART_COLUMNS})
    table = table.reset_index()
    table['rank'] = table['model'].map(order)
    return table.sort_values(['rank', 'temp', 'epoch'], ascending=[True, False, True]).drop(columns='rank')


def write_elbo_parts(runs, tables_dir):
    table = elbo_parts_table(runs)
    if not len(table):
        return table
    table.to_csv(tables_dir / 'elbo_parts.csv', index=False)
    lines = ['# The test ELBOs taken apart: MNIST, at the milestone epochs\n\n'
             'Means over the seeds listed of each part over the 10,000 test images, with the evaluation\'s noise '
             '(`Models/elbo_parts.py`): TeELBO = log p(x | relaxed) - relaxed KL; TeELBOD = log p(x | one-hot) - '
             'categorical KL, the one-hot code being the argmax of the same relaxed sample.\n\n'
             '| model | temp | epoch | seeds | TeELBO | log p(x \\| relaxed) | relaxed KL | TeELBOD | '
             'log p(x \\| one-hot) | categorical KL |\n|---|---|---|---|---|---|---|---|---|---|\n']
    for row in table.to_dict('records'):
        lines.append(f'| {row["model"]} | {row["temp"]:g} | {row["epoch"]} | {row["seeds"]} | '
                     + ' | '.join(f'{row[k]:.2f}' for k in ELBO_PART_COLUMNS) + ' |\n')
    (tables_dir / 'elbo_parts.md').write_text(''.join(lines))
    return table


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
