"""The report's tables about a budget's runs themselves, beside the claims.

- `budget.{md,csv}`: per part of the campaign, the runs shipped, their seeds and epochs and the time they logged.
- `epoch10_agreement.{md,csv}` (paper budget): each run's epoch 10 against the shipped 10-epoch record of the same
  cell and seed.
- `prior_ablation.{md,csv}` (evidence budget): IGR-I and IGR-Planar with the learned uniform prior against the
  original's.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from Utils.results.results_io import select_runs
from Utils.runs.folders import read_json
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


def budget(runs, expected=None):
    """Per part of the campaign: runs (of the `expected` number per part), seeds, epochs and the time they logged.

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
                     'train_minutes': round(train / 60., 1), 'log_likelihood_minutes': round(ll / 60., 1)})
    return pd.DataFrame(rows)


def write_budget(runs, tables_dir, expected=None):
    table = budget(runs, expected)
    table.to_csv(tables_dir / 'budget.csv', index=False)
    header = '| ' + ' | '.join(table.columns) + ' |\n|' + '---|' * len(table.columns) + '\n'
    body = ''.join('| ' + ' | '.join(str(v) for v in row) + ' |\n' for row in table.itertuples(index=False))
    (tables_dir / 'budget.md').write_text('# Budget of the shipped runs\n\n' + header + body)
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


ABLATION_RUNS = 'runs_ablation_learned_prior'
ABLATION_METRICS = ('TeELBO', 'TeELBOD', 'TeLL', 'TeLLD', 'median', 'within_0.2')


def prior_ablation(runs, vertex, results_dir):
    """IGR-I and IGR-Planar on MNIST with the learned uniform prior (`Results/runs_ablation_learned_prior`, its Figure 5
    rows beside it) against the original's prior (the shipped evidence): mean ± std over seeds."""
    ablation_dir = results_dir / ABLATION_RUNS
    if not ablation_dir.is_dir():
        return pd.DataFrame()
    sources = {'learned (sigma0 0.62)': (finished_runs(ablation_dir), read_csv(ablation_dir / FIGURE5_RUNS)),
               'original (sigma0 1.72)': (runs, vertex)}
    rows = []
    for model in ('IGR_I_Dis', 'IGR_Planar_Dis'):
        for panel, temps in FIGURE_PANELS.items():
            for prior, (frame, distances) in sources.items():
                chosen = select_runs(frame, experiment='vae', dataset_name='mnist', model_type=model,
                                     temp=float(temps[model]))
                if not len(chosen):
                    continue
                by_run = distances.set_index('run_name') if distances is not None else pd.DataFrame()
                row = {'model': model, 'temp': temps[model], 'prior': prior, 'runs': len(chosen)}
                for metric in ABLATION_METRICS:
                    if metric in chosen:
                        values = chosen[metric].astype(float)
                    else:
                        values = pd.Series([by_run[metric].get(n, np.nan) if metric in by_run else np.nan
                                            for n in chosen['run_name']], dtype=float)
                    row[f'{metric}_mean'], row[f'{metric}_std'] = values.mean(), values.std(ddof=1)
                rows.append(row)
    return pd.DataFrame(rows)


def write_prior_ablation(runs, out_dir, tables_dir, results_root):
    table = prior_ablation(runs, read_csv(out_dir / FIGURE5_RUNS), results_root)
    if not len(table):
        return table
    table.to_csv(tables_dir / 'prior_ablation.csv', index=False)
    names = {'median': 'vertex distance (median)', 'within_0.2': 'images within 0.2'}
    lines = ['# Prior ablation: the learned uniform prior against the original\'s, MNIST, 10 epochs\n\n'
             'Mean ± sample std over seeds 0-2. Vertex distance: Figure 5\'s per-image median distance to the nearest '
             'vertex, its median over the test images; images within 0.2: the share of test images whose median is '
             'at most 0.2.\n\n| model | temp | prior | ' + ' | '.join(names.get(m, m) for m in ABLATION_METRICS)
             + ' | runs |\n|---|---|---|' + '---|' * (len(ABLATION_METRICS) + 1) + '\n']
    for row in table.to_dict('records'):
        cells = []
        for metric in ABLATION_METRICS:
            digits = 3 if metric in names else 2
            mean, std = row[f'{metric}_mean'], row[f'{metric}_std']
            cells.append('-' if np.isnan(mean) else f'{mean:.{digits}f} ± {std:.{digits}f}')
        lines.append(f'| {row["model"]} | {row["temp"]:g} | {row["prior"]} | ' + ' | '.join(cells)
                     + f' | {row["runs"]} |\n')
    (tables_dir / 'prior_ablation.md').write_text(''.join(lines))
    return table
