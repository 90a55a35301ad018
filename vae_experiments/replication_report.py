"""Results/REPLICATION.md's numbers: the tables, the figure data and the claims, regenerated from Results/runs.

What it does
    From the shipped run records (`Results/runs`, no weights needed) it writes Tables 1-3 and the log-likelihood
    table (`Results/tables/`), the data and pictures of Figures 3 and 4, and `Results/tables/claims.{md,csv}`: each
    claim of the paper as comparisons paired by seed (`Utils/results/replication.py` states the test and the verdict
    rule). Figure 5 and the trained-weights gradient variance need weights, so their per-run csv files are inputs
    here (`vae_experiments/posterior_samples.py`, `vae_experiments/gradient_variance.py --run-dir`). Every table is
    then pasted into REPLICATION.md between its `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers;
    the text around them is written by hand.

    The parts: `report_records.py` (finished runs, Figure 5's and the gradient variance's per-run csv),
    `report_claims.py` (the claims as comparisons: claims and verdict-by-training tables),
    `report_budget_tables.py` (the budget table, the campaign's progress, the epoch-10 agreement, the ELBO parts,
    the MNIST cells' trajectories)
    and `report_ablations.py` (the setup ablations).

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
import re  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from Utils import paths  # noqa: E402
from vae_experiments.report_ablations import (ABLATIONS, write_ablations, write_distance_averaging,  # noqa: E402
                                              write_offset_reading, write_paper_delta_ablation,
                                              write_sop_sigma_ablation)
from vae_experiments.report_budget_tables import (write_agreement, write_budget, write_elbo_parts,  # noqa: E402
                                                  write_progress, write_trajectories)
from vae_experiments.report_claims import write_claims  # noqa: E402
from vae_experiments.report_records import FIGURE5_RUNS, finished_runs, write_weight_records  # noqa: E402

REPORT = 'REPLICATION.md'
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
    expected_runs: dict = None  # part (report_budget_tables.PARTS) -> the runs it needs (the budget table says how
                                # many are shipped)


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
        write_progress(runs_dir, tables_dir, budget.name)
        write_sop_sigma_ablation(runs, tables_dir, Path(runs_dir).parent)
        write_paper_delta_ablation(runs, tables_dir, Path(runs_dir).parent, budget.training_epochs)
        write_offset_reading(tables_dir, Path(runs_dir).parent)
        write_elbo_parts(runs, tables_dir)
        write_trajectories(runs, tables_dir)
    if budget.merge_shipped:
        write_ablations(runs, out_dir, tables_dir, Path(runs_dir).parent)
        write_distance_averaging(tables_dir, Path(runs_dir).parent)
    write_budget(runs, tables_dir, budget.expected_runs, machines=bool(budget.training_epochs))
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
        own = (('verdict_by_training', 'decided', 'epoch10_agreement', 'progress', 'sop_sigma_ablation', 'elbo_parts',
                'delta_ablation', 'offset_reading', 'trajectories')
               if budget.training_epochs else tuple(a.name for a in ABLATIONS) + ('distance_averaging',))
        tables = TABLES + own
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
