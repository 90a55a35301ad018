"""Results/REPLICATION.md's numbers: the tables, the figure data and the claims, regenerated from Results/runs.

What it does
    From the shipped run records (`Results/runs`, no weights needed) it writes Tables 1-3 and the log-likelihood
    table (`Results/tables/`), the data and pictures of Figures 3 and 4, and `Results/tables/claims.{md,csv}`: each
    claim of the paper as comparisons paired by seed (`Utils/replication.py` states the test and the verdict
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
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from Utils import paths, replication  # noqa: E402
from Utils.viz_vae import case_label, model_label  # noqa: E402
from Utils.replication import Case, Comparison  # noqa: E402
from Utils.results_io import select_runs  # noqa: E402
from vae_experiments.discrete_grid import CV_TEMPS, TEMPS_20  # noqa: E402

REPORT = 'REPLICATION.md'
FIGURE5_RUNS = 'figure5_posterior_vertex_distance_mnist_runs.csv'
GRADIENT_VARIANCE = 'gradient_variance_mnist_evidence.csv'
TABLES = ('table1', 'table2', 'table3', 'log_likelihood', 'claims', 'budget')
FIGURE_DATA = ('figure3_elbo_mnist.csv', 'figure3_elbo_fmnist.csv', 'figure4_vanished_gradients_mnist.csv')
"""Files --check compares (under Results/tables and Results/); pictures are redrawn but not compared."""

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


def comparisons():
    """Every comparison of the report, claim by claim."""
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
    for epoch in (1, 10):
        cases = {m: Case(low[m].label, {'model_type': m, 'temp': float(TEMPS_20[m]), 'epoch': epoch,
                                        'target': 'encoder'}) for m in discrete}
        out += _versus_gs('variance', f'mnist, "20" temperatures, weights after epoch {epoch}', 'variance',
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


def load_records(runs_dir, results_dir):
    from Utils.results_io import collect_runs
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        runs = collect_runs(runs_dir, finished_only=True)
    read = lambda name: pd.read_csv(results_dir / name) if (results_dir / name).is_file() else None
    return replication.Records(runs, vertex=read(FIGURE5_RUNS), gradient_variance=read(GRADIENT_VARIANCE))


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


def budget(runs):
    """Per part of the campaign: runs, seeds, epochs and the time the runs logged.

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
        rows.append({'part': part, 'runs': len(chosen), 'models': chosen['model_type'].nunique(),
                     'seeds': ' '.join(str(int(s)) for s in sorted(set(chosen['seed']))),
                     'epochs': '-'.join(str(e) for e in (epochs[:1] + epochs[-1:] if len(epochs) > 1 else epochs)),
                     'train_minutes': round(train / 60., 1), 'log_likelihood_minutes': round(ll / 60., 1)})
    return pd.DataFrame(rows)


def write_budget(runs, tables_dir):
    table = budget(runs)
    table.to_csv(tables_dir / 'budget.csv', index=False)
    header = '| ' + ' | '.join(table.columns) + ' |\n|' + '---|' * len(table.columns) + '\n'
    body = ''.join('| ' + ' | '.join(str(v) for v in row) + ' |\n' for row in table.itertuples(index=False))
    (tables_dir / 'budget.md').write_text('# Budget of the shipped runs\n\n' + header + body)
    return table


def write_claims(runs_dir, results_dir, tables_dir):
    records = load_records(runs_dir, results_dir)
    write_budget(records.runs, tables_dir)
    table = replication.evaluate(comparisons(), records)
    table.to_csv(tables_dir / 'claims.csv', index=False)
    md = (f'# The paper\'s claims against the shipped runs\n\nVerdict rule: {replication.VERDICT_RULE}.  \n'
          f'Values are mean ± sample std over seeds; "IGR - GS" is the mean ± std of the per-seed differences, '
          f'signed so that a positive value favours IGR; wins counts the seeds where IGR is better.\n\n'
          + replication.claims_markdown(table, CLAIMS))
    (tables_dir / 'claims.md').write_text(md)
    return table


def write_all(runs_dir, results_dir):
    """Every table, figure and claim from the run records in `runs_dir`, into `results_dir` (its tables/ too)."""
    from vae_experiments import log_likelihood, make_tables, viz_grad_results, viz_results
    from structure_output_prediction import make_tables as sop_tables
    tables_dir = results_dir / 'tables'
    tables_dir.mkdir(parents=True, exist_ok=True)
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
    return write_claims(runs_dir, results_dir, tables_dir)


def _figure(script, *args, log_dir, out):
    """Draw one figure from the finished runs; a figure whose runs are not shipped yet is left out."""
    try:
        script.main(['--log-dir', log_dir, '--finished-only', *args, '--out', str(out)])
    except SystemExit as missing:  # the scripts exit with a message when no run matches
        print(f'{out.name}: not drawn ({missing})', file=sys.stderr)


BLOCK = re.compile(r'(<!-- generated:(?P<name>[\w.]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)', re.S)


def fill_report(text, tables_dir):
    """REPLICATION.md text with every generated block replaced by its table (headings demoted under the report's)."""
    def body(match):
        md = (tables_dir / f'{match["name"]}.md').read_text()
        md = re.sub(r'^# .*\n\n?', '', md, count=1)  # the block sits under the report's own heading
        md = re.sub(r'^(#+) ', lambda h: '#' + h[1] + ' ', md, flags=re.M)
        return f'{match[1]}{md.rstrip()}\n{match[4]}'
    return BLOCK.sub(body, text)


def check(runs_dir, results_dir):
    """Differences between the shipped files and a regeneration from `runs_dir`: a list of messages."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        for name in (FIGURE5_RUNS, GRADIENT_VARIANCE):  # inputs computed from weights
            if (results_dir / name).is_file():
                (fresh / name).write_bytes((results_dir / name).read_bytes())
        write_all(runs_dir, fresh)
        pairs = [(f'tables/{t}.{ext}', fresh / 'tables' / f'{t}.{ext}') for t in TABLES for ext in ('md', 'csv')]
        pairs += [(name, fresh / name) for name in FIGURE_DATA]
        for name, new in pairs:
            old = results_dir / name
            if not old.is_file() and not new.is_file():
                continue  # neither shipped nor produced: the runs behind it are not there yet
            if not old.is_file():
                problems.append(f'{name}: not shipped')
            elif not new.is_file():
                problems.append(f'{name}: shipped, but the records do not produce it')
            elif old.read_bytes() != new.read_bytes():
                problems.append(f'{name}: differs from its regeneration from {runs_dir}')
        report = results_dir / REPORT
        if report.is_file() and fill_report(report.read_text(), fresh / 'tables') != report.read_text():
            problems.append(f'{REPORT}: a generated block differs from its table')
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', default=None, help='run records (default Results/runs)')
    parser.add_argument('--check', action='store_true', help='compare only; exit 1 on a difference')
    args = parser.parse_args(argv)
    results_dir = paths.results_dir()
    runs_dir = Path(args.runs) if args.runs else results_dir / 'runs'
    if not runs_dir.is_dir():
        raise SystemExit(f'no run records in {runs_dir}; ship runs with `python3 -m Utils.ship_runs` first')
    if args.check:
        problems = check(runs_dir, results_dir)
        print('\n'.join(problems) if problems else f'replicate-check: every table and figure csv regenerates '
                                                    f'exactly from {runs_dir}')
        return 1 if problems else 0
    table = write_all(runs_dir, results_dir)
    report = results_dir / REPORT
    if report.is_file():
        report.write_text(fill_report(report.read_text(), results_dir / 'tables'))
    counts = table['verdict'].value_counts().to_dict()
    print(f'{len(table)} comparisons ({counts}) -> {results_dir / "tables" / "claims.md"}; {report} blocks filled')
    return 0


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(run_main(main))
