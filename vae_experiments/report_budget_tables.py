"""The report's tables about a budget's runs themselves, beside the claims.

- `budget.{md,csv}`: per part of the campaign, the runs shipped, their seeds and epochs and the time they logged.
- `progress.{md,csv}` (paper budget): per part of the campaign (`vae_experiments/campaign.py`'s plan), whether it
  is complete and which cells are still to run.
- `epoch10_agreement.{md,csv}` (paper budget): each run's epoch 10 against the shipped 10-epoch record of the same
  cell and seed.
- `elbo_parts.{md,csv}` (paper budget): TeELBO and TeELBOD of the MNIST and Fashion-MNIST cells taken apart into
  reconstruction and KL at each milestone epoch (the runs' `elbo_parts.json`, `Models/elbo_parts.py`).
- `trajectories.{md,csv}` (paper budget): how each MNIST cell moves with training: Figure 5's vertex distance,
  the share of samples within 0.2 of a vertex, TeELBO and TeELBOD at each milestone epoch, mean and range over seeds.

The setup ablations, which compare runs of a changed setting with these, are in `report_ablations.py`.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from Utils.results.results_io import select_runs
from Utils.runs.folders import read_json
from Utils.runs.runstore import read_json_or_none
from vae_experiments.report_records import per_cell_table, seed_ranges
from vae_experiments.discrete_grid import CV_TEMPS, TEMPS_20

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
                     'to_run': '; '.join(f'{case_label(*case)}: seed{"s" * (len(seeds) > 1)} {seed_ranges(seeds)}'
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


ELBO_PART_COLUMNS = ('TeELBO', 'log_px', 'kl_relaxed', 'TeELBOD', 'log_px_one_hot', 'kl_categorical')


def elbo_parts_table(runs):
    """Per dataset, cell (discrete VAEs) and milestone epoch: the mean over seeds of each part in ELBO_PART_COLUMNS,
    from the runs' `elbo_parts.json` (runs without one are left out); MNIST first."""
    from Utils.results.results_io import ELBO_PARTS_FILE
    tables = []
    for dataset in ('mnist', 'fmnist'):
        rows = []
        for run in select_runs(runs, experiment='vae', dataset_name=dataset, run_jv=False).itertuples(index=False):
            record = read_json_or_none(Path(run.run_dir) / ELBO_PARTS_FILE)
            for epoch, parts in (record or {'epochs': {}})['epochs'].items():
                rows.append({'model': run.model_type, 'temp': float(run.temp), 'epoch': int(epoch),
                             'seed': int(run.seed), **{k: parts[k] for k in ELBO_PART_COLUMNS}})
        table = per_cell_table(rows, {k: (k, 'mean') for k in ELBO_PART_COLUMNS})
        if len(table):
            tables.append(table.assign(dataset=dataset)[['dataset', *table.columns]])
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def write_elbo_parts(runs, tables_dir):
    table = elbo_parts_table(runs)
    if not len(table):
        return table
    table.to_csv(tables_dir / 'elbo_parts.csv', index=False)
    lines = ['# The test ELBOs taken apart: MNIST and Fashion-MNIST, at the milestone epochs\n\n'
             'Means over the seeds listed of each part over the 10,000 test images, with the evaluation\'s noise '
             '(`Models/elbo_parts.py`): TeELBO = log p(x | relaxed) - relaxed KL; TeELBOD = log p(x | one-hot) - '
             'categorical KL, the one-hot code being the argmax of the same relaxed sample.\n\n'
             '| data | model | temp | epoch | seeds | TeELBO | log p(x \\| relaxed) | relaxed KL | TeELBOD | '
             'log p(x \\| one-hot) | categorical KL |\n|---|---|---|---|---|---|---|---|---|---|---|\n']
    for row in table.to_dict('records'):
        lines.append(f'| {row["dataset"]} | {row["model"]} | {row["temp"]:g} | {row["epoch"]} | {row["seeds"]} | '
                     + ' | '.join(f'{row[k]:.2f}' for k in ELBO_PART_COLUMNS) + ' |\n')
    (tables_dir / 'elbo_parts.md').write_text(''.join(lines))
    return table


TRAJECTORY_COLUMNS = (('median', 'vertex distance', 3), ('samples_within_0.2', 'samples within 0.2', 3),
                      ('TeELBO', 'TeELBO', 1), ('TeELBOD', 'TeELBOD', 1))
"""(column, heading, decimals) of the trajectory table: Figure 5's median distance (median over the test images of
the per-image median) and share of samples within 0.2 of a vertex (`vertex_distance.json`), the test ELBOs at the
same epoch (`metrics.csv`)."""


def trajectory_table(runs):
    """Per MNIST cell (discrete VAEs) and milestone epoch: mean, min and max over seeds of TRAJECTORY_COLUMNS, for
    the runs whose `vertex_distance.json` holds that epoch."""
    from Utils.results.results_io import load_metrics, load_vertex_distances
    rows = []
    for run in select_runs(runs, experiment='vae', dataset_name='mnist', run_jv=False).itertuples(index=False):
        metrics = load_metrics(run.run_dir).set_index('epoch')
        for epoch, summary in load_vertex_distances(run.run_dir).items():
            if epoch in metrics.index:
                rows.append({'model': run.model_type, 'temp': float(run.temp), 'epoch': epoch, 'seed': int(run.seed),
                             'median': summary['median'], 'samples_within_0.2': summary['samples_within_0.2'],
                             'TeELBO': metrics.at[epoch, 'TeELBO'], 'TeELBOD': metrics.at[epoch, 'TeELBOD']})
    columns = [c for c, _, _ in TRAJECTORY_COLUMNS]
    return per_cell_table(rows, {f'{c}_{f}': (c, f) for c in columns for f in ('mean', 'min', 'max')})


def write_trajectories(runs, tables_dir):
    table = trajectory_table(runs)
    if not len(table):
        return table
    table.to_csv(tables_dir / 'trajectories.csv', index=False)
    heads = ' | '.join(h for _, h, _ in TRAJECTORY_COLUMNS)
    lines = ['# How the MNIST cells move with training\n\n'
             'At each milestone epoch: the mean over the seeds listed, and in brackets their lowest and highest value, '
             'of Figure 5\'s vertex distance (the median over the 10,000 test images of each image\'s median '
             'distance to the nearest vertex), the share of all posterior samples within 0.2 of a vertex (the '
             'paper\'s definition of the "20" temperatures), and the test ELBOs.\n\n'
             f'| model | temp | epoch | seeds | {heads} |\n|---|---|---|---|' + '---|' * len(TRAJECTORY_COLUMNS) + '\n']
    for row in table.to_dict('records'):
        cells = [f'{row[c + "_mean"]:.{d}f} [{row[c + "_min"]:.{d}f}, {row[c + "_max"]:.{d}f}]'
                 for c, _, d in TRAJECTORY_COLUMNS]
        lines.append(f'| {row["model"]} | {row["temp"]:g} | {row["epoch"]} | {row["seeds"]} | '
                     + ' | '.join(cells) + ' |\n')
    (tables_dir / 'trajectories.md').write_text(''.join(lines))
    return table
