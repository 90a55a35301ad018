"""The nonparametric experiment's table, verdicts and figures, from the shipped DLGMM records (`Results/runs_dlgmm/`).

Writes into `Results/dlgmm/` (or `--out-dir`):
    tables/dlgmm_summary.md|csv   per stick variant, mean ± std over seeds of the final epoch's TeELBO, TeLL (S as
                                  recorded), the gain of TeLL from S = 100 to S = 1000 on the first 1,000 test
                                  images (`log_likelihood_subset.json`), the truncation level N, Kused (components in use per image), the
                                  components whose mean weight over the test set exceeds 1%, NMI and ACC
    tables/dlgmm_claims.md|csv    IGR's Gaussian sticks against the Kumaraswamy sticks, paired over seeds (the
                                  evidence's rule, `Utils/results/replication.py`), with the 95% confidence interval of the
                                  mean difference
    dlgmm_weights.png             per variant: the mean weight of each component (seeds as dots) and the number of
                                  components in use per image
    dlgmm_components.png          per variant (first seed): decoded draws z ~ N(m_k, I) of the components in use
and fills the `dlgmm.*` blocks of Results/REPLICATION.md. `--check` regenerates the tables into a temporary folder
and compares them (and the blocks) with the shipped ones, byte for byte: part of `make replicate-check`.

    python3 vae_experiments/dlgmm_report.py     # after shipping: python3 -m Utils.ship_runs --to Results/runs_dlgmm
    python3 vae_experiments/dlgmm_report.py --check
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from Utils import paths  # noqa: E402
from Utils.results import significance  # noqa: E402
from Utils.results import replication  # noqa: E402
from Utils.runs.folders import read_json  # noqa: E402
from Utils.results.results_io import collect_runs, format_mean_std, markdown_table, summarize_runs  # noqa: E402

RUNS = 'runs_dlgmm'
OUT = 'dlgmm'
BLOCKS = 'dlgmm.'
TABLES = ('dlgmm_summary', 'dlgmm_claims')
VARIANTS = ('DLGMM_Kumaraswamy', 'DLGMM_Kumaraswamy_SB', 'DLGMM_IGR', 'DLGMM_IGR_SB')
LABELS = {'DLGMM_Kumaraswamy': 'Kumaraswamy, 20', 'DLGMM_Kumaraswamy_SB': 'Kumaraswamy, truncated',
          'DLGMM_IGR': 'IGR (logit-normal), 20', 'DLGMM_IGR_SB': 'IGR-SB (logit-normal), truncated'}
METRICS = ('TeELBO', 'TeLL', 'TeLL_1000_gain', 'N', 'Kused', 'weights_over_1pct', 'NMI', 'ACC')
PAIRS = (('DLGMM_IGR_SB', 'DLGMM_Kumaraswamy_SB'), ('DLGMM_IGR', 'DLGMM_Kumaraswamy'))
"""IGR variant against its Kumaraswamy counterpart (same truncation)."""
CLAIM_METRICS = ('TeLL', 'TeELBO')
WEIGHTS_FILE, SAMPLES_FILE, SUBSET_FILE = 'mixture_weights.json', 'component_samples.npz', 'log_likelihood_subset.json'
SHOWN_WEIGHT = 0.01


def mixture_runs(runs_dir, include_smoke=False):
    """One row per finished DLGMM run in `runs_dir`, with its mixture record's `weights_over_1pct`."""
    runs = collect_runs(runs_dir, experiment='vae', finished_only=True, include_smoke=include_smoke,
                        model_type=list(VARIANTS))
    if not len(runs):
        return runs
    runs = runs.copy()
    runs['weights'] = [_weights_record(row.run_dir) for row in runs.itertuples()]
    runs['weights_over_1pct'] = [math.nan if r is None else float(sum(w > SHOWN_WEIGHT for w in r['mean_weight']))
                                 for r in runs['weights']]
    runs['TeLL_1000_gain'] = [_subset_gain(row.run_dir) for row in runs.itertuples()]
    return runs


def _subset_gain(run_dir):
    """TeLL at S = 1000 minus TeLL at S = 100 on the same test images (`log_likelihood_subset.json`)."""
    path = pathlib.Path(run_dir) / SUBSET_FILE
    if not path.is_file():
        return math.nan
    record = read_json(path)
    return record['1000']['TeLL'] - record['100']['TeLL']


def _weights_record(run_dir):
    """The run's `mixture_weights.json` (`vae_experiments/dlgmm_records.py`), or None."""
    path = pathlib.Path(run_dir) / WEIGHTS_FILE
    return read_json(path) if path.is_file() else None


def summary(runs):
    frame = summarize_runs(runs, METRICS, group_keys=('model_type',))
    frame['model_type'] = pd.Categorical(frame['model_type'], VARIANTS, ordered=True)
    return frame.sort_values('model_type').reset_index(drop=True)


def _per_seed(runs, model, metric):
    part = runs[runs['model_type'] == model]
    return pd.Series(pd.to_numeric(part[metric], errors='coerce').values, index=part['seed'].values)


def claims(runs):
    """One row per (IGR variant, Kumaraswamy variant, metric): the paired comparison over seeds and its CI."""
    rows = []
    for igr, kumaraswamy in PAIRS:
        for metric in CLAIM_METRICS:
            row = replication.paired_comparison(_per_seed(runs, igr, metric), _per_seed(runs, kumaraswamy, metric))
            n = row['n']
            half = (significance.t_quantile(0.975, n - 1) * row['diff_std'] / math.sqrt(n)) if n > 1 else math.nan
            rows.append({'IGR': igr, 'baseline': kumaraswamy, 'metric': metric, **row,
                         'ci_low': row['diff_mean'] - half, 'ci_high': row['diff_mean'] + half})
    return pd.DataFrame(rows)


def summary_markdown(frame):
    labelled = frame.assign(model_type=[LABELS[m] for m in frame['model_type']])
    table = markdown_table(labelled, METRICS, key_labels={'model_type': 'sticks, components'})
    return (table.replace('weights_over_1pct', 'weights > 1%')
            .replace('TeLL_1000_gain', 'TeLL S=1000 - S=100 (1,000 images)'))


def claims_markdown(frame):
    lines = ['| IGR | baseline | metric | IGR | baseline | IGR - baseline [95% CI] | seeds IGR better | p | verdict |',
             '|---|---|---|---|---|---|---|---|---|']
    for row in frame.itertuples():
        lines.append(f'| {LABELS[row.IGR]} | {LABELS[row.baseline]} | {row.metric} | '
                     f'{format_mean_std(row.a_mean, row.a_std)} | {format_mean_std(row.b_mean, row.b_std)} | '
                     f'{row.diff_mean:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}] | {row.wins} of {row.n} | '
                     f'{row.p:.3g} | {row.verdict} |')
    return '\n'.join(lines) + f'\n\nRule: {replication.VERDICT_RULE}.\n'


def write_tables(runs, tables_dir):
    tables_dir.mkdir(parents=True, exist_ok=True)
    frame, compared = summary(runs), claims(runs)
    frame.to_csv(tables_dir / 'dlgmm_summary.csv', index=False, float_format='%.6g')
    compared.to_csv(tables_dir / 'dlgmm_claims.csv', index=False, float_format='%.6g')
    epochs = sorted({int(e) for e in runs['epochs_done']})
    (tables_dir / 'dlgmm_summary.md').write_text(
        f'# Deep latent Gaussian mixtures on MNIST: {"/".join(map(str, epochs))} epochs\n\n' + summary_markdown(frame))
    (tables_dir / 'dlgmm_claims.md').write_text(
        '# IGR sticks against Kumaraswamy sticks\n\n' + claims_markdown(compared))


def draw_weights(runs, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(VARIANTS), figsize=(4 * len(VARIANTS), 6), squeeze=False)
    for col, model in enumerate(VARIANTS):
        records = [r for r in runs[runs['model_type'] == model]['weights'] if r]
        top, bottom = axes[0, col], axes[1, col]
        top.set_title(LABELS[model], fontsize=10)
        for record in records:
            weights = np.asarray(record['mean_weight'])
            top.plot(np.arange(1, len(weights) + 1), weights, 'o', alpha=0.6, ms=4)
            used = {int(k): v for k, v in record['components_in_use'].items()}
            ks = np.arange(0, len(weights) + 1)
            bottom.plot(ks, [used.get(k, 0) / record['images'] for k in ks], '-o', alpha=0.6, ms=3)
        top.axhline(SHOWN_WEIGHT, color='grey', lw=0.8, ls='--')
        top.set_yscale('log')
        top.set_xlabel('component k')
        bottom.set_xlabel(f'components with E[pi_k | x] > {SHOWN_WEIGHT:g}')
        if col == 0:
            top.set_ylabel('mean over test images of E[pi_k | x]')
            bottom.set_ylabel('share of test images')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_components(runs, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = []
    for model in VARIANTS:
        part = runs[runs['model_type'] == model].sort_values('seed')
        for row in part.itertuples():
            record, samples = row.weights, pathlib.Path(row.run_dir) / SAMPLES_FILE
            if record and samples.is_file():
                shown = [k for k, w in enumerate(record['mean_weight']) if w > SHOWN_WEIGHT]
                panels.append((model, row.seed, shown, np.load(samples)['samples']))
                break
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 6), squeeze=False)
    for ax, (model, seed, shown, samples) in zip(axes[0], panels):
        rows = [np.concatenate(list(samples[k]), axis=1) for k in shown]
        ax.imshow(np.concatenate(rows, axis=0), cmap='gray', vmin=0, vmax=255)
        ax.set_yticks([(i + 0.5) * samples.shape[2] for i in range(len(shown))])
        ax.set_yticklabels([f'k={k + 1}' for k in shown], fontsize=7)
        ax.set_xticks([])
        ax.set_title(f'{LABELS[model]}\nseed {seed}', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_all(runs_dir, out_dir, figures=True, include_smoke=False):
    """Tables (and figures) of the finished DLGMM runs in `runs_dir` into `out_dir`; returns the runs."""
    runs = mixture_runs(runs_dir, include_smoke)
    if not len(runs):
        return runs
    write_tables(runs, out_dir / 'tables')
    if figures:
        draw_weights(runs, out_dir / 'dlgmm_weights.png')
        draw_components(runs, out_dir / 'dlgmm_components.png')
    return runs


def fill_report(text, tables_dir):
    from vae_experiments.replication_report import fill_report as fill
    return fill(text, tables_dir, SimpleNamespace(blocks=BLOCKS))


def check(results_dir, include_smoke=False):
    """Differences between the shipped tables (and report blocks) and their regeneration: a list of messages."""
    problems = []
    out_dir = results_dir / OUT
    if not (results_dir / RUNS).is_dir():
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pathlib.Path(tmp)
        write_all(results_dir / RUNS, fresh, figures=False, include_smoke=include_smoke)
        for name in (f'{t}.{ext}' for t in TABLES for ext in ('md', 'csv')):
            old, new = out_dir / 'tables' / name, fresh / 'tables' / name
            if old.is_file() != new.is_file():
                problems.append(f'{OUT}/tables/{name}: ' + ('not shipped' if new.is_file() else
                                                            'shipped, but the records do not produce it'))
            elif old.is_file() and old.read_bytes() != new.read_bytes():
                problems.append(f'{OUT}/tables/{name}: differs from its regeneration from {results_dir / RUNS}')
        report = results_dir / 'REPLICATION.md'
        if (fresh / 'tables').is_dir() and report.is_file() and \
                fill_report(report.read_text(), fresh / 'tables') != report.read_text():
            problems.append('REPLICATION.md: a generated dlgmm block differs from its table')
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true', help='compare only; exit 1 on a difference')
    parser.add_argument('--runs-dir', default=None, help=f'run records (default Results/{RUNS})')
    parser.add_argument('--out-dir', default=None, help=f'tables and figures (default Results/{OUT})')
    args = parser.parse_args(argv)
    results_dir = paths.results_dir()
    if args.check:
        problems = check(results_dir)
        print('\n'.join(problems) if problems else 'dlgmm: every table regenerates exactly from its records')
        return 1 if problems else 0
    runs_dir = pathlib.Path(args.runs_dir) if args.runs_dir else results_dir / RUNS
    out_dir = pathlib.Path(args.out_dir) if args.out_dir else results_dir / OUT
    if not runs_dir.is_dir():
        raise SystemExit(f'dlgmm_report: no run records in {runs_dir}; ship finished runs with '
                         f'`python3 -m Utils.ship_runs --from <log dir> --to {runs_dir}` first')
    runs = write_all(runs_dir, out_dir)
    if not len(runs):
        raise SystemExit(f'dlgmm_report: no finished DLGMM run in {runs_dir}')
    report = results_dir / 'REPLICATION.md'
    if args.out_dir is None and report.is_file():
        report.write_text(fill_report(report.read_text(), out_dir / 'tables'))
    print(f'dlgmm: {len(runs)} runs -> {out_dir}')
    return 0


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(run_main(main))
