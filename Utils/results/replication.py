"""The paper's claims checked against shipped runs: comparisons paired by seed and a stated verdict rule.

Each claim is a list of comparisons "A is better than B", A an IGR case and B the matching Gumbel-Softmax case.
A comparison reads one number per seed for A and for B (a final-epoch metric, or a value derived from a run's
records), keeps the seeds both have, and takes the per-seed differences d_s = A_s - B_s signed so that d > 0 means
A is better. With n seeds, mean d and sample std s_d (ddof=1):

    t = mean(d) / (s_d / sqrt(n)),   p = P(|T_{n-1}| >= |t|)   (two-sided paired t-test)

Verdict of a comparison (VERDICT_RULE): p < ALPHA and mean(d) > 0: 'supported'; p < ALPHA and mean(d) < 0:
'not supported' (the runs contradict the claim); otherwise 'not decidable' (the seeds disagree or are too few). With
3 seeds, p < 0.05 needs |t| > 4.30: every seed's difference of one sign and small against their mean.

A claim's verdict: 'not supported' when any of its comparisons contradicts it, 'supported' when none does and
more than half of them support it, 'not decidable' otherwise.

The paper-budget report (5 seeds) uses WELCH_RULE instead: Welch's two-sided t-test on the per-seed values of the
two cases (`Utils/results/significance.py`; the seeds of two models share only the data order, so they are not paired) with
Holm's correction over the comparisons of each claim, and reports the difference with its 95% confidence interval.

No TensorFlow import: this runs on the shipped csv/json records only.
"""
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from Utils.results import significance
from Utils.results.results_io import LL_METRICS, log_likelihood_at, select_runs

ALPHA = 0.05
VERDICT_RULE = (f'paired over seeds, two-sided t-test: supported when p < {ALPHA} and IGR is better on average, not '
                f'supported when p < {ALPHA} and IGR is worse, not decidable otherwise; a claim is not supported when '
                f'any comparison contradicts it, supported when none does and more than half support it')
WELCH_RULE = (f'Welch\'s two-sided t-test on the per-seed values of the IGR case and the GS case (not paired: two '
              f'models\' runs of one seed share only the data order), p-values Holm-corrected over the comparisons of '
              f'each claim; a comparison is supported when the corrected p < {ALPHA} and IGR is better on average, not '
              f'supported when the corrected p < {ALPHA} and IGR is worse, not decidable otherwise; a claim is not '
              f'supported when any comparison contradicts it, supported when none does and more than half support it')
SUPPORTED, NOT_SUPPORTED, UNDECIDED = 'supported', 'not supported', 'not decidable'


def two_sided_t_pvalue(t, df):
    """P(|T| >= |t|) for Student's t with integer ``df`` >= 1 degrees of freedom, in closed form.

    With theta = arctan(|t| / sqrt(df)), P(|T| < |t|) is (Abramowitz & Stegun 26.7.3-4)
        df odd:  (2 / pi) (theta + sin(theta) [cos(theta) + 2/3 cos^3(theta) + ... + (2.4...(df-3))/(3.5...(df-2))
                 cos^(df-2)(theta)])   (only 2 theta / pi when df = 1)
        df even: sin(theta) [1 + 1/2 cos^2(theta) + (1.3)/(2.4) cos^4(theta) + ... + (1.3...(df-3))/(2.4...(df-2))
                 cos^(df-2)(theta)]
    """
    df = int(df)
    if df < 1:
        raise ValueError(f'bad degrees of freedom {df}: need at least 1')
    if math.isnan(t):
        return math.nan
    theta = math.atan(abs(t) / math.sqrt(df))
    sin, cos = math.sin(theta), math.cos(theta)
    if df % 2 == 0:
        term = total = 1.
        for k in range(1, df // 2):
            term *= cos * cos * (2 * k - 1) / (2 * k)
            total += term
        inside = sin * total
    else:
        total = 0.
        if df > 1:
            term = total = cos
            for k in range(1, (df - 1) // 2):
                term *= cos * cos * (2 * k) / (2 * k + 1)
                total += term
        inside = 2. / math.pi * (theta + sin * total)
    return max(0., 1. - inside)


def paired_comparison(a, b, higher_is_better=True):
    """Paired comparison of two per-seed Series (index: seed) on their common seeds.

    Returns dict n, seeds, a_mean, a_std, b_mean, b_std, diff_mean, diff_std (d = a - b, sign flipped when lower is
    better so that d > 0 means a is better), wins (seeds with d > 0), t, p and verdict.
    """
    common = sorted(set(a.dropna().index) & set(b.dropna().index))
    a_values = np.array([float(a[s]) for s in common])
    b_values = np.array([float(b[s]) for s in common])
    sign = 1. if higher_is_better else -1.
    d = sign * (a_values - b_values)
    n = len(common)
    std = lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else math.nan
    row = {'n': n, 'seeds': ' '.join(str(s) for s in common),
           'a_mean': float(a_values.mean()) if n else math.nan, 'a_std': std(a_values),
           'b_mean': float(b_values.mean()) if n else math.nan, 'b_std': std(b_values),
           'diff_mean': float(d.mean()) if n else math.nan, 'diff_std': std(d), 'wins': int((d > 0).sum())}
    if n < 2:
        t = math.nan
    elif row['diff_std'] == 0.:
        t = math.copysign(math.inf, row['diff_mean']) if row['diff_mean'] else math.nan
    else:
        t = row['diff_mean'] / (row['diff_std'] / math.sqrt(n))
    row['t'] = t
    row['p'] = (0. if math.isinf(t) else two_sided_t_pvalue(t, n - 1)) if not math.isnan(t) else math.nan
    row['verdict'] = comparison_verdict(row['diff_mean'], row['p'])
    return row


def comparison_verdict(diff_mean, p):
    if p is None or math.isnan(p) or p >= ALPHA:
        return UNDECIDED
    return SUPPORTED if diff_mean > 0 else NOT_SUPPORTED


def claim_verdict(verdicts):
    verdicts = list(verdicts)
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    if verdicts and sum(v == SUPPORTED for v in verdicts) * 2 > len(verdicts):
        return SUPPORTED
    return UNDECIDED


# ---------------------------------------------------------------------------------------------------------------------
# Per-seed values from the records
# ---------------------------------------------------------------------------------------------------------------------
def _by_seed(frame, column):
    if not len(frame):
        return pd.Series(dtype=float)
    frame = frame.dropna(subset=[column])
    if frame['seed'].duplicated().any():
        raise ValueError(f'several runs per seed in one case:\n{frame[["run_name", "seed"]]}')
    return pd.Series(pd.to_numeric(frame[column]).to_numpy(), index=frame['seed'].astype(int).to_numpy())


@dataclass(frozen=True)
class Case:
    """One side of a comparison: a model at a temperature (and dataset / objective) and how to read its value."""
    label: str
    where: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """'a is better than b' in `metric`, read from `source` (see SOURCES)."""
    claim: str
    context: str
    source: str
    metric: str
    a: Case
    b: Case
    higher_is_better: bool = True


class Records:
    """The inputs of the comparisons: the shipped runs and the csv files computed from their weights.

    With `epoch`, every value is read at that epoch of the runs (metrics.csv, log_likelihood.json, the vanished
    share up to it); a run that did not reach it gives no value. `vertex` and `gradient_variance` are then expected
    to hold that epoch's rows.
    """

    def __init__(self, runs, vertex=None, gradient_variance=None, epoch=None):
        self.runs, self.epoch = runs, epoch
        self.vertex = vertex if vertex is not None else pd.DataFrame(columns=['case', 'panel', 'seed'])
        self.gradient_variance = gradient_variance if gradient_variance is not None else pd.DataFrame(
            columns=['model', 'temp', 'epoch', 'target', 'run'])

    def final(self, case, metric):
        """Final-epoch `metric` per seed (Table 1-3 values), or its value at `self.epoch`."""
        rows = select_runs(self.runs, **case.where)
        if self.epoch is None:
            return _by_seed(rows, metric)
        return pd.Series({int(seed): _value_at(run_dir, metric, self.epoch)
                          for seed, run_dir in zip(rows['seed'], rows['run_dir'])}, dtype=float)

    def vanished(self, case, metric):
        """Mean over training epochs of the percentage of vanished gradients (`gradients.csv`, Figure 4)."""
        rows = select_runs(self.runs, **case.where)
        values = {}
        for seed, run_dir in zip(rows['seed'], rows['run_dir']):
            path = Path(run_dir) / 'gradients.csv'
            if path.is_file():
                frame = pd.read_csv(path)
                if self.epoch is not None:
                    frame = frame[frame['epoch'] <= self.epoch] if frame['epoch'].max() >= self.epoch else frame[:0]
                values[int(seed)] = float(frame[metric].mean()) if len(frame) else math.nan
        return pd.Series(values, dtype=float)

    def drop(self, case, metric):
        """metric at the case's temperature `temp` minus metric at `low_temp` (the loss from lowering it)."""
        where = dict(case.where)
        low = where.pop('low_temp')
        return self.final(Case(case.label, where), metric) - self.final(Case(case.label, {**where, 'temp': low}),
                                                                         metric)

    def vertex_share(self, case, metric):
        """Figure 5's per-run summary (`..._runs.csv`): e.g. the share of images within 0.2 of a vertex."""
        rows = self.vertex[(self.vertex['case'] == case.where['case']) &
                           (self.vertex['panel'].astype(str) == str(case.where['panel']))]
        return _by_seed(rows, metric)

    def variance(self, case, metric):
        """The gradient-variance diagnostic of a run's checkpoint (`vae_experiments/gradient_variance.py`)."""
        g = self.gradient_variance
        epoch = case.where['epoch'] if case.where['epoch'] is not None else self.epoch
        rows = g[(g['model'] == case.where['model_type']) & np.isclose(g['temp'], case.where['temp'])
                 & (g['epoch'] == epoch) & (g['target'] == case.where['target'])]
        seeds = dict(zip(self.runs['run_name'], self.runs['seed']))
        rows = rows.assign(seed=[seeds.get(r) for r in rows['run']], run_name=rows['run']).dropna(subset=['seed'])
        return _by_seed(rows, metric)


def _value_at(run_dir, metric, epoch):
    """`metric` of a run at `epoch`: its metrics.csv row, or its log-likelihood there (largest S); NaN if absent."""
    if metric in LL_METRICS:
        return float(log_likelihood_at(run_dir, epoch).get(metric, math.nan))
    path = Path(run_dir) / 'metrics.csv'
    if not path.is_file():
        return math.nan
    frame = pd.read_csv(path, float_precision='round_trip')
    row = frame[frame['epoch'] == epoch]
    return float(row[metric].iloc[0]) if len(row) and metric in row else math.nan


SOURCES = {'final': Records.final, 'vanished': Records.vanished, 'drop': Records.drop,
           'vertex': Records.vertex_share, 'variance': Records.variance}
"""source name -> how a comparison's per-seed values are read."""


def welch_comparison(a, b, higher_is_better=True):
    """Welch's comparison of two per-seed Series: the columns of `paired_comparison` (diff_std: the standard error;
    n: the smaller side's number of seeds) plus n_a and n_b (each side's), ci_low, ci_high and df; the verdict is set
    by `evaluate` after Holm's correction."""
    a, b = a.dropna(), b.dropna()
    test = significance.welch(a.to_numpy(float), b.to_numpy(float), higher_is_better)
    std = lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else math.nan
    mean = lambda v: float(np.mean(v)) if len(v) else math.nan
    return {'n': min(len(a), len(b)), 'n_a': len(a), 'n_b': len(b),
            'seeds': ' '.join(str(s) for s in sorted(set(a.index) | set(b.index))),
            'a_mean': mean(a), 'a_std': std(a), 'b_mean': mean(b), 'b_std': std(b), 'diff_mean': test['diff'],
            'diff_std': test['se'], 'ci_low': test['ci_low'], 'ci_high': test['ci_high'], 'df': test['df'],
            'wins': math.nan, 't': test['t'], 'p': test['p']}


RULES = {'paired': paired_comparison, 'welch': welch_comparison}


def evaluate(comparisons, records, rule='paired'):
    """One row per comparison (its context, cases, metric and the statistics of `rule`, 'paired' or 'welch'; with
    'welch' also p_holm, the p-value Holm-corrected within the claim, which decides the verdict)."""
    if rule not in RULES:
        raise ValueError(f'unknown rule {rule!r}; valid choices are: {", ".join(RULES)}')
    rows = []
    for c in comparisons:
        if c.source not in SOURCES:
            raise ValueError(f'unknown source {c.source!r}; valid choices are: {", ".join(SOURCES)}')
        read = SOURCES[c.source]
        stats = RULES[rule](read(records, c.a, c.metric), read(records, c.b, c.metric), c.higher_is_better)
        rows.append({'claim': c.claim, 'context': c.context, 'metric': c.metric,
                     'better': 'higher' if c.higher_is_better else 'lower', 'a': c.a.label, 'b': c.b.label,
                     **stats})
    table = pd.DataFrame(rows)
    if rule == 'welch' and len(table):
        table['p_holm'] = np.nan
        for _, index in table.groupby('claim', sort=False).groups.items():
            table.loc[index, 'p_holm'] = significance.holm(table.loc[index, 'p'].to_numpy(float))
        table['verdict'] = [comparison_verdict(d, p) for d, p in zip(table['diff_mean'], table['p_holm'])]
    return table


def _number(value, digits):
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return '-' if value is None or math.isnan(value) else ('inf' if value > 0 else '-inf')
    return f'{value:.{digits}f}'


def _digits(frame):
    values = np.abs(frame[['a_mean', 'b_mean']].to_numpy(float))
    scale = np.nanmax(values) if np.isfinite(values).any() else 1.
    return 2 if scale >= 1 else (4 if scale >= 1e-2 else 6)


def claims_markdown(table, claims):
    """Markdown: per claim (id -> text), its verdict and a table of its comparisons."""
    parts = []
    for claim_id, text in claims.items():
        rows = table[table['claim'] == claim_id]
        verdict = claim_verdict(rows['verdict']) if len(rows) else UNDECIDED
        parts.append(f'### {text}\n\n**Verdict: {verdict}** ({sum(rows["verdict"] == SUPPORTED)} supported, '
                     f'{sum(rows["verdict"] == NOT_SUPPORTED)} not supported, {sum(rows["verdict"] == UNDECIDED)} '
                     f'not decidable of {len(rows)} comparisons)\n\n')
        if not len(rows):
            parts.append('No runs for this claim.\n\n')
            continue
        welch = 'p_holm' in rows
        parts.append('| context | metric | IGR case | GS case | IGR | GS | IGR - GS (better > 0) | '
                     + ('95% CI | n | p | p (Holm) | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n'
                        if welch else 'wins | p | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n'))
        for _, r in rows.iterrows():
            digits = _digits(rows[rows['metric'] == r['metric']])
            mean_std = lambda m, s: f'{_number(m, digits)} ± {_number(s, digits)}'
            start = (f'| {r["context"]} | {r["metric"]} ({r["better"]} is better) | {r["a"]} | {r["b"]} | '
                     f'{mean_std(r["a_mean"], r["a_std"])} | {mean_std(r["b_mean"], r["b_std"])} | ')
            if welch:
                parts.append(start + f'{_number(r["diff_mean"], digits)} | [{_number(r["ci_low"], digits)}, '
                             f'{_number(r["ci_high"], digits)}] | {r["n"]} | {_number(r["p"], 3)} | '
                             f'{_number(r["p_holm"], 3)} | {r["verdict"]} |\n')
            else:
                parts.append(start + f'{mean_std(r["diff_mean"], r["diff_std"])} | {r["wins"]}/{r["n"]} | '
                             f'{_number(r["p"], 3)} | {r["verdict"]} |\n')
        parts.append('\n')
    return ''.join(parts)
