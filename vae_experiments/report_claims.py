"""The paper's claims as comparisons of each IGR case against GS, and their tables.

`comparisons` lists every comparison claim by claim; `Utils/results/replication.py` evaluates them on a budget's
records by the budget's rule (paired by seed, or Welch) and states the rules. Written here: `claims.{md,csv}` and,
for a budget with `training_epochs`, `verdict_by_training.{md,csv}` (the same comparisons on the records read at each
of those epochs) and `decided.{md,csv}` (the comparisons its shipped runs decide so far).
"""
import numpy as np
import pandas as pd

from Utils.results import replication
from Utils.results.replication import Case, Comparison
from Utils.viz_vae import case_label, model_label
from vae_experiments.discrete_grid import CV_TEMPS, TEMPS_20
from vae_experiments.report_records import gradient_rows, load_records, vertex_rows

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


CLAIMS_NOTE = {
    'paired': (f'Verdict rule: {replication.VERDICT_RULE}.  \nValues are mean ± sample std over seeds; "IGR - GS" is '
               f'the mean ± std of the per-seed differences, signed so that a positive value favours IGR; wins counts '
               f'the seeds where IGR is better.'),
    'welch': (f'Verdict rule: {replication.WELCH_RULE}.  \nValues are mean ± sample std over seeds at each run\'s '
              f'last epoch; "IGR - GS" is the difference of the means, signed so that a positive value favours IGR, '
              f'with its 95% Welch confidence interval.'),
}


def write_claims(runs, out_dir, tables_dir, budget):
    """`claims.{csv,md}` from the records in `out_dir` (and `verdict_by_training` when the budget has one)."""
    table = replication.evaluate(comparisons(budget.variance_epochs), load_records(runs, out_dir, budget),
                                 budget.rule)
    table.to_csv(tables_dir / 'claims.csv', index=False)
    md = (f'# The paper\'s claims against the shipped runs\n\n{CLAIMS_NOTE[budget.rule]}\n\n'
          + replication.claims_markdown(table, CLAIMS))
    (tables_dir / 'claims.md').write_text(md)
    if budget.training_epochs:
        write_verdict_by_training(runs, tables_dir, budget)
        write_decided(table, tables_dir)
    return table


def write_decided(table, tables_dir):
    """`decided.{md,csv}`: the comparisons of `table` (the claims at the runs' last epoch) that are decided, claim by
    claim, so that a budget still filling in says in one place what its runs establish and what is still open."""
    decided = table[table['verdict'] != replication.UNDECIDED]
    decided.to_csv(tables_dir / 'decided.csv', index=False)
    lines = ['# Comparisons decided so far\n\n'
             f'{len(decided)} of {len(table)} comparisons are decided at the runs\' last epoch '
             f'({sum(decided["verdict"] == replication.SUPPORTED)} supported, '
             f'{sum(decided["verdict"] == replication.NOT_SUPPORTED)} not supported); every other one is not '
             f'decidable with the runs shipped. IGR - GS is signed so that > 0 favours IGR.\n']
    if len(decided):
        lines.append('\n| claim | comparison | IGR - GS [95% CI] | seeds IGR / GS | verdict |\n'
                     '|---|---|---|---|---|\n')
    for _, r in decided.iterrows():
        lines.append(f'| {CLAIMS[r["claim"]]} | {r["a"]} against {r["b"]}, {r["metric"]}, {r["context"]} | '
                     f'{_effect(r, "+")} | {r["n_a"]} / {r["n_b"]} | {r["verdict"]} |\n')
    (tables_dir / 'decided.md').write_text(''.join(lines))


def verdict_by_training(runs, budget):
    """Every comparison evaluated at each epoch of `budget.training_epochs` (the records read at that epoch)."""
    frames = []
    for epoch in budget.training_epochs:
        records = replication.Records(runs, vertex=vertex_rows(runs, epoch),
                                      gradient_variance=gradient_rows(runs, (epoch,)), epoch=epoch)
        table = replication.evaluate(comparisons(None), records, budget.rule)
        frames.append(table.assign(epoch=epoch))
    return pd.concat(frames, ignore_index=True)


def _effect(row, sign=''):
    """IGR - GS of a comparison row with its 95% interval when it has one ('+' in `sign` shows the sign always)."""
    digits = 2 if abs(row['diff_mean']) >= 1 else 4
    interval = (f' [{row["ci_low"]:{sign}.{digits}f}, {row["ci_high"]:{sign}.{digits}f}]'
                if np.isfinite(row['ci_low']) else '')
    return f'{row["diff_mean"]:{sign}.{digits}f}{interval}'


def _cell(row):
    return f'{_effect(row)} {VERDICT_MARK[row["verdict"]]}' if row['n'] else '-'


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
             f'{replication.WELCH_RULE}); "-": no run reached that epoch (Tables 2 and 3 run 50 epochs); for a '
             'claim: none of its comparisons has runs there.\n']
    for claim_id, text in CLAIMS.items():
        rows = table[table['claim'] == claim_id]
        reached = [rows[(rows['epoch'] == e) & (rows['n'] > 0)] for e in epochs]
        verdicts = [replication.claim_verdict(r['verdict']) if len(r) else '-' for r in reached]
        lines.append(f'\n### {text}\n\n' + head + '| **claim** | ' + ' | '.join(verdicts) + ' |\n')
        for (context, metric, case), group in rows.groupby(['context', 'metric', 'a'], sort=False):
            by_epoch = {int(r['epoch']): _cell(r) for _, r in group.iterrows()}
            lines.append(f'| {case}, {metric}, {context} | ' + ' | '.join(by_epoch.get(e, '-') for e in epochs)
                         + ' |\n')
    (tables_dir / 'verdict_by_training.md').write_text(''.join(lines))
    return table
