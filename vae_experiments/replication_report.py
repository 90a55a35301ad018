"""Results/REPLICATION.md's numbers: the tables, the figure data and the claims, regenerated from Results/runs.

What it does
    From the shipped run records (`Results/runs`, no weights needed) it writes Tables 1-3 and the log-likelihood
    table (`Results/tables/`), the data and pictures of Figures 3 and 4, and `Results/tables/claims.{md,csv}`: each
    claim of the paper as comparisons paired by seed (`Utils/results/replication.py` states the test and the verdict
    rule). Figure 5 and the trained-weights gradient variance need weights, so their per-run csv files are inputs
    here (`vae_experiments/posterior_samples.py`, `vae_experiments/gradient_variance.py --run-dir`). Every table is
    then pasted into REPLICATION.md between its `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers;
    the text around them is written by hand.

    --check regenerates everything into a temporary folder and fails (exit 1) when a shipped table, figure csv,
    or generated block of REPLICATION.md differs from what the records give (`make replicate-check`).

Usage
    python3 vae_experiments/replication_report.py              # write tables, figure data, claims, report blocks
    python3 vae_experiments/replication_report.py --check      # compare only

Expected run time: about 20 s (reads csv and json files, draws two figures).
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from Utils import paths  # noqa: E402
from Utils.results import replication  # noqa: E402
from Utils.viz_vae import case_label, model_label  # noqa: E402
from Utils.results.replication import Case, Comparison  # noqa: E402
from Utils.results.results_io import GRADIENT_COLUMNS, select_runs  # noqa: E402
from vae_experiments.discrete_grid import CV_TEMPS, TEMPS_20  # noqa: E402

REPORT = 'REPLICATION.md'
FIGURE5_RUNS = 'figure5_posterior_vertex_distance_mnist_runs.csv'
TABLES = ('table1', 'table2', 'table3', 'log_likelihood', 'claims', 'budget')
FIGURE_DATA = ('figure3_elbo_mnist.csv', 'figure3_elbo_fmnist.csv', 'figure4_vanished_gradients_mnist.csv')
"""Files --check compares (under Results/tables and Results/); pictures are redrawn but not compared."""

@dataclass(frozen=True)
class Budget:
    """A budget of the report: where its records are, where its tables go and how claims are decided."""
    name: str
    runs: str                 # run records under Results/
    out: str                  # its tables/ and figure data under Results/ ('' = Results/ itself)
    blocks: str               # prefix of its generated blocks in REPLICATION.md
    rule: str                 # 'paired' or 'welch' (Utils/results/replication.py)
    gradient_file: str        # its gradient-variance csv
    merge_shipped: bool       # Figure 5 / gradient csv rows computed from weights are shipped inputs too
    variance_epochs: tuple    # checkpoints of the gradient-variance comparisons
    training_epochs: tuple    # epochs of the verdict-by-training table (none: no table)
    expected_runs: dict = None  # part -> the runs it needs (the budget table says how many are shipped)


BUDGETS = {
    'evidence': Budget('evidence', 'runs', '', '', 'paired', 'gradient_variance_mnist_evidence.csv', True, (1, 10),
                       ()),
    'paper': Budget('paper', 'runs_paper', 'paper', 'paper.', 'welch', 'gradient_variance_mnist.csv', False,
                    (1, 100), (10, 25, 50, 100),
                    {'Table 1, MNIST, cross-validated temperatures': 20,
                     'Table 1 / Figures 3-5, MNIST, "20" temperatures (gradient monitor on)': 20,
                     'Table 1, FMNIST, cross-validated temperatures': 20, 'Table 2, JointVAE, MNIST': 12,
                     'Table 3, SOP, binarized MNIST': 20}),
}
"""The 10-epoch, 3-seed evidence and the paper's budget (100 epochs and 5 seeds; 50 epochs for Tables 2 and 3)."""

IGR_DISCRETE = ('IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis')
JV_TEMP = 0.67
SOP_TEMP = 0.5

CLAIMS = {
    'elbo': 'IGR variants reach a better test ELBO than GS',
    'temperature': 'GS needs higher temperatures to train well (lowering the temperature costs GS more ELBO)',
    'vertices': 'IGR posterior samples lie closer to the simplex vertices (Figure 5)',
    'vanished': 'GS has more vanished gradients at low temperature (Figure 4)',
    'variance': 'IGR gradients have lower variance (trained encoders, gradient w.r.t. every encoder weight)',
    'sop': 'IGR does better in structured output prediction (Table 3)',
    'discrete': 'IGR does better as a discrete model: TeELBOD and TeLLD (one-hot decoding)',
    'jointvae': 'IGR does better in the JointVAE (Table 2)',
}


def _vae(model, temp, dataset='mnist', **extra):
    return Case(case_label(model, temp),
                {'experiment': 'vae', 'dataset_name': dataset, 'model_type': model, 'temp': float(temp), **extra})


def _versus_gs(claim, context, source, metric, cases, higher_is_better=True):
    """One comparison per IGR case against the GS case (`cases`: model -> Case, 'GS_Dis' or 'GS' among them)."""
    gs_key = 'GS_Dis' if 'GS_Dis' in cases else 'GS'
    return [Comparison(claim, context, source, metric, case, cases[gs_key], higher_is_better)
            for model, case in cases.items() if model != gs_key]


def comparisons(variance_epochs=(1, 10)):
    """Every comparison of the report, claim by claim (`variance_epochs`: checkpoints of the gradient-variance
    comparisons; None: the epoch the records are read at)."""
    out = []
    discrete = ('GS_Dis',) + IGR_DISCRETE
    cv = lambda dataset: {m: _vae(m, CV_TEMPS[m], dataset) for m in discrete}
    low = {m: _vae(m, TEMPS_20[m]) for m in discrete}
    for dataset in ('mnist', 'fmnist'):
        out += _versus_gs('elbo', f'{dataset}, cross-validated temperatures', 'final', 'TeELBO', cv(dataset))
    out += _versus_gs('elbo', 'mnist, "20" temperatures', 'final', 'TeELBO', low)
    drops = {m: Case(f'{model_label(m)} (tau {CV_TEMPS[m]:g} -> {TEMPS_20[m]:g})',
                     {**cv('mnist')[m].where, 'low_temp': float(TEMPS_20[m])}) for m in discrete}
    out += _versus_gs('temperature', 'mnist, ELBO lost from the cross-validated to the "20" temperature', 'drop',
                      'TeELBO', drops, higher_is_better=False)
    for panel, temps in (('cv', CV_TEMPS), ('20', TEMPS_20)):
        cases = {m: Case(case_label(m, temps[m]), {'case': case_label(m, temps[m]), 'panel': panel})
                 for m in discrete}
        name = 'cross-validated' if panel == 'cv' else '"20"'
        out += _versus_gs('vertices', f'mnist, {name} temperatures, trained encoders, median over test images of '
                                      f'the per-image median distance', 'vertex', 'median', cases,
                          higher_is_better=False)
    out += _versus_gs('vanished', 'mnist, "20" temperatures, mean over the training epochs', 'vanished',
                      'vanished_pct', low, higher_is_better=False)
    for epoch in variance_epochs or (None,):
        cases = {m: Case(low[m].label, {'model_type': m, 'temp': float(TEMPS_20[m]), 'epoch': epoch,
                                        'target': 'encoder'}) for m in discrete}
        when = f'after epoch {epoch}' if epoch else 'at that epoch'
        out += _versus_gs('variance', f'mnist, "20" temperatures, weights {when}', 'variance',
                          'mean_variance', cases, higher_is_better=False)
    sop = {m: Case(case_label(m, SOP_TEMP), {'experiment': 'sop', 'model_type': m, 'temp': SOP_TEMP})
           for m in ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB')}
    for metric in ('TeNLL', 'TeNLLD', 'TeNLLMS'):
        out += _versus_gs('sop', 'binarized MNIST, lower half from the upper half', 'final', metric, sop,
                          higher_is_better=False)
    for dataset in ('mnist', 'fmnist'):
        for metric in ('TeELBOD', 'TeLLD'):
            out += _versus_gs('discrete', f'{dataset}, cross-validated temperatures', 'final', metric, cv(dataset))
    for metric in ('TeELBOD', 'TeLLD'):
        out += _versus_gs('discrete', 'mnist, "20" temperatures', 'final', metric, low)
    jv = {m: _vae(m, JV_TEMP) for m in ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite')}
    out += _versus_gs('jointvae', f'mnist, JointVAE temperature {JV_TEMP:g}', 'final', 'TeELBO', jv)
    return out


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


def finished_runs(runs_dir):
    from Utils.results.results_io import collect_runs
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return collect_runs(runs_dir, finished_only=True)


def _read_csv(path):
    return pd.read_csv(path, float_precision='round_trip') if path.is_file() else None


FIGURE5_PNG = 'figure5_posterior_vertex_distance_mnist.png'


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
            ax.errorbar(x + offsets, part['median'], yerr=[part['median'] - part['p25'], part['p75'] - part['median']],
                        fmt='o', capsize=3)
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
        vertex, gradient = merged_weight_records(runs, _read_csv(out_dir / FIGURE5_RUNS),
                                                 _read_csv(out_dir / budget.gradient_file))
    else:
        vertex, gradient = vertex_rows(runs), gradient_rows(runs)
    if len(vertex):
        vertex.to_csv(out_dir / FIGURE5_RUNS, index=False)
        draw_figure5(vertex, out_dir / FIGURE5_PNG)
    if len(gradient):
        gradient.to_csv(out_dir / budget.gradient_file, index=False)


def load_records(runs, out_dir, budget):
    return replication.Records(runs, vertex=_read_csv(out_dir / FIGURE5_RUNS),
                               gradient_variance=_read_csv(out_dir / budget.gradient_file))


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
                ll += sum(e['seconds'] for e in json.loads(ll_path.read_text())['entries'])
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


CLAIMS_NOTE = {
    'paired': (f'Verdict rule: {replication.VERDICT_RULE}.  \nValues are mean ± sample std over seeds; "IGR - GS" is '
               f'the mean ± std of the per-seed differences, signed so that a positive value favours IGR; wins counts '
               f'the seeds where IGR is better.'),
    'welch': (f'Verdict rule: {replication.WELCH_RULE}.  \nValues are mean ± sample std over seeds at each run\'s '
              f'last epoch; "IGR - GS" is the difference of the means, signed so that a positive value favours IGR, '
              f'with its 95% Welch confidence interval.'),
}


def write_claims(runs, out_dir, tables_dir, budget):
    write_budget(runs, tables_dir, budget.expected_runs)
    table = replication.evaluate(comparisons(budget.variance_epochs), load_records(runs, out_dir, budget),
                                 budget.rule)
    table.to_csv(tables_dir / 'claims.csv', index=False)
    md = (f'# The paper\'s claims against the shipped runs\n\n{CLAIMS_NOTE[budget.rule]}\n\n'
          + replication.claims_markdown(table, CLAIMS))
    (tables_dir / 'claims.md').write_text(md)
    if budget.training_epochs:
        write_verdict_by_training(runs, tables_dir, budget)
    return table


def verdict_by_training(runs, budget):
    """Every comparison evaluated at each epoch of `budget.training_epochs` (the records read at that epoch)."""
    frames = []
    for epoch in budget.training_epochs:
        records = replication.Records(runs, vertex=vertex_rows(runs, epoch),
                                      gradient_variance=gradient_rows(runs, (epoch,)), epoch=epoch)
        table = replication.evaluate(comparisons(None), records, budget.rule)
        frames.append(table.assign(epoch=epoch))
    return pd.concat(frames, ignore_index=True)


def _cell(row):
    if not row['n']:
        return '-'
    digits = 2 if abs(row['diff_mean']) >= 1 else 4
    interval = (f' [{row["ci_low"]:.{digits}f}, {row["ci_high"]:.{digits}f}]'
                if np.isfinite(row['ci_low']) else '')
    return f'{row["diff_mean"]:.{digits}f}{interval} {VERDICT_MARK[row["verdict"]]}'


VERDICT_MARK = {replication.SUPPORTED: '**S**', replication.NOT_SUPPORTED: '**N**', replication.UNDECIDED: 'u'}


def write_verdict_by_training(runs, tables_dir, budget):
    """`verdict_by_training.{csv,md}`: per claim its verdict at each epoch, then each comparison's effect (IGR - GS,
    signed so that > 0 favours IGR) with its 95% confidence interval and verdict (S, N, u)."""
    table = verdict_by_training(runs, budget)
    table.to_csv(tables_dir / 'verdict_by_training.csv', index=False)
    epochs = list(budget.training_epochs)
    head = '| | ' + ' | '.join(f'epoch {e}' for e in epochs) + ' |\n|---|' + '---|' * len(epochs) + '\n'
    lines = ['# Verdicts as training grows\n\nEach cell: IGR - GS (> 0 favours IGR) [95% CI] and the verdict at '
             'that epoch of the runs (**S** supported, **N** not supported, u not decidable; '
             f'{replication.WELCH_RULE}); "-": no run reached that epoch (Tables 2 and 3 run 50 epochs).\n']
    for claim_id, text in CLAIMS.items():
        rows = table[table['claim'] == claim_id]
        verdicts = [replication.claim_verdict(rows[(rows['epoch'] == e) & (rows['n'] > 0)]['verdict'])
                    for e in epochs]
        lines.append(f'\n### {text}\n\n' + head + '| **claim** | ' + ' | '.join(verdicts) + ' |\n')
        for (context, metric, case), group in rows.groupby(['context', 'metric', 'a'], sort=False):
            by_epoch = {int(r['epoch']): _cell(r) for _, r in group.iterrows()}
            lines.append(f'| {case}, {metric}, {context} | ' + ' | '.join(by_epoch.get(e, '-') for e in epochs)
                         + ' |\n')
    (tables_dir / 'verdict_by_training.md').write_text(''.join(lines))
    return table


ABLATION_RUNS = 'runs_ablation_learned_prior'
ABLATION_METRICS = ('TeELBO', 'TeELBOD', 'TeLL', 'TeLLD', 'median', 'within_0.2')


def prior_ablation(runs, vertex, results_dir):
    """IGR-I and IGR-Planar on MNIST with the learned uniform prior (`Results/runs_ablation_learned_prior`, its Figure 5
    rows beside it) against the original's prior (the shipped evidence): mean ± std over seeds."""
    ablation_dir = results_dir / ABLATION_RUNS
    if not ablation_dir.is_dir():
        return pd.DataFrame()
    sources = {'learned (sigma0 0.62)': (finished_runs(ablation_dir), _read_csv(ablation_dir / FIGURE5_RUNS)),
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
    table = prior_ablation(runs, _read_csv(out_dir / FIGURE5_RUNS), results_root)
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


def write_all(runs_dir, out_dir, budget):
    """Every table, figure and claim of a budget from the run records in `runs_dir`, into `out_dir` (and tables/)."""
    from vae_experiments import log_likelihood, make_tables, viz_grad_results, viz_results
    from structure_output_prediction import make_tables as sop_tables
    tables_dir = out_dir / 'tables'
    tables_dir.mkdir(parents=True, exist_ok=True)
    runs = finished_runs(runs_dir)
    write_weight_records(runs, out_dir, budget)
    results_dir = out_dir
    log = str(runs_dir)
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        make_tables.main(['--log-dir', log, '--out-dir', str(tables_dir)])
        sop_tables.main(['--log-dir', log, '--out-dir', str(tables_dir)])
        log_likelihood.main(['--table-only', '--log-dir', log, '--out-dir', str(tables_dir)])
        for dataset in ('mnist', 'fmnist'):
            panels = ['cv', '20'] if dataset == 'mnist' else ['cv']
            _figure(viz_results, '--dataset', dataset, '--panels', *panels, log_dir=log,
                    out=results_dir / f'figure3_elbo_{dataset}.png')
        _figure(viz_grad_results, log_dir=log, out=results_dir / 'figure4_vanished_gradients_mnist.png')
    if budget.training_epochs:
        write_agreement(runs, tables_dir, Path(runs_dir).parent / BUDGETS['evidence'].runs)
    if budget.merge_shipped:
        write_prior_ablation(runs, out_dir, tables_dir, Path(runs_dir).parent)
    return write_claims(runs, out_dir, tables_dir, budget)


def _figure(script, *args, log_dir, out):
    """Draw one figure from the finished runs; a figure whose runs are not shipped yet is left out."""
    try:
        script.main(['--log-dir', log_dir, '--finished-only', *args, '--out', str(out)])
    except SystemExit as missing:  # the scripts exit with a message when no run matches
        print(f'{out.name}: not drawn ({missing})', file=sys.stderr)


BLOCK = re.compile(r'(<!-- generated:(?P<name>[\w.]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)', re.S)


def fill_report(text, tables_dir, budget):
    """REPLICATION.md text with every generated block of `budget` (named `<budget.blocks>NAME`) replaced by its table
    NAME from `tables_dir` (headings demoted under the report's); the other budget's blocks are left alone."""
    def body(match):
        name = match['name']
        prefix = name[:name.index('.') + 1] if '.' in name else ''
        if prefix != budget.blocks:
            return match[0]
        md = (tables_dir / f'{name[len(budget.blocks):]}.md').read_text()
        md = re.sub(r'^# .*\n\n?', '', md, count=1)  # the block sits under the report's own heading
        md = re.sub(r'^(#+) ', lambda h: '#' + h[1] + ' ', md, flags=re.M)
        return f'{match[1]}{md.rstrip()}\n{match[4]}'
    return BLOCK.sub(body, text)


def check(budget, results_dir):
    """Differences between a budget's shipped files and their regeneration from its records: a list of messages."""
    problems = []
    runs_dir, out_dir = results_dir / budget.runs, results_dir / budget.out
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        if budget.merge_shipped:  # inputs computed from weights
            for name in (FIGURE5_RUNS, budget.gradient_file):
                if (out_dir / name).is_file():
                    (fresh / name).write_bytes((out_dir / name).read_bytes())
        write_all(runs_dir, fresh, budget)
        tables = TABLES + (('verdict_by_training', 'epoch10_agreement') if budget.training_epochs else
                           ('prior_ablation',))
        pairs = [(f'tables/{t}.{ext}', fresh / 'tables' / f'{t}.{ext}') for t in tables for ext in ('md', 'csv')]
        pairs += [(name, fresh / name) for name in FIGURE_DATA + (FIGURE5_RUNS, budget.gradient_file)]
        for name, new in pairs:
            old = out_dir / name
            shown = f'{budget.out}/{name}' if budget.out else name
            if not old.is_file() and not new.is_file():
                continue  # neither shipped nor produced: the runs behind it are not there yet
            if not old.is_file():
                problems.append(f'{shown}: not shipped')
            elif not new.is_file():
                problems.append(f'{shown}: shipped, but the records do not produce it')
            elif old.read_bytes() != new.read_bytes():
                problems.append(f'{shown}: differs from its regeneration from {runs_dir}')
        report = results_dir / REPORT
        if report.is_file() and fill_report(report.read_text(), fresh / 'tables', budget) != report.read_text():
            problems.append(f'{REPORT}: a generated block of the {budget.name} budget differs from its table')
    return problems


def shipped_budgets(results_dir, names=None):
    """The budgets whose run records are shipped (all of BUDGETS, or `names`)."""
    chosen = [BUDGETS[name] for name in (names or BUDGETS)]
    return [b for b in chosen if (results_dir / b.runs).is_dir() and any((results_dir / b.runs).iterdir())]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--budget', action='append', choices=list(BUDGETS),
                        help='evidence (Results/runs) or paper (Results/runs_paper); default every shipped one')
    parser.add_argument('--check', action='store_true', help='compare only; exit 1 on a difference')
    args = parser.parse_args(argv)
    results_dir = paths.results_dir()
    budgets = shipped_budgets(results_dir, args.budget)
    if not budgets:
        raise SystemExit(f'no run records in {results_dir}/runs*; ship runs with `python3 -m Utils.ship_runs` first')
    if args.check:
        problems = [p for budget in budgets for p in check(budget, results_dir)]
        print('\n'.join(problems) if problems else f'replicate-check: every table and figure csv of the '
                                                    f'{", ".join(b.name for b in budgets)} budget(s) regenerates '
                                                    f'exactly from its records')
        return 1 if problems else 0
    for budget in budgets:
        out_dir = results_dir / budget.out
        table = write_all(results_dir / budget.runs, out_dir, budget)
        report = results_dir / REPORT
        if report.is_file():
            report.write_text(fill_report(report.read_text(), out_dir / 'tables', budget))
        counts = table['verdict'].value_counts().to_dict() if len(table) else {}
        print(f'{budget.name}: {len(table)} comparisons ({counts}) -> {out_dir / "tables" / "claims.md"}; '
              f'{REPORT} blocks filled')
    return 0


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(run_main(main))
