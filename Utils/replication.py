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

No TensorFlow import: this runs on the shipped csv/json records only.
"""
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from Utils.results_io import select_runs

ALPHA = 0.05
VERDICT_RULE = (f'paired over seeds, two-sided t-test: supported when p < {ALPHA} and IGR is better on average, not '
                f'supported when p < {ALPHA} and IGR is worse, not decidable otherwise; a claim is not supported when '
                f'any comparison contradicts it, supported when none does and more than half support it')
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
    """The inputs of the comparisons: the shipped runs and the csv files computed from their weights."""

    def __init__(self, runs, vertex=None, gradient_variance=None):
        self.runs = runs
        self.vertex = vertex if vertex is not None else pd.DataFrame(columns=['case', 'panel', 'seed'])
        self.gradient_variance = gradient_variance if gradient_variance is not None else pd.DataFrame(
            columns=['model', 'temp', 'epoch', 'target', 'run'])

    def final(self, case, metric):
        """Final-epoch `metric` per seed (Table 1-3 values)."""
        return _by_seed(select_runs(self.runs, **case.where), metric)

    def vanished(self, case, metric):
        """Mean over training epochs of the percentage of vanished gradients (`gradients.csv`, Figure 4)."""
        rows = select_runs(self.runs, **case.where)
        values = {}
        for seed, run_dir in zip(rows['seed'], rows['run_dir']):
            path = Path(run_dir) / 'gradients.csv'
            if path.is_file():
                values[int(seed)] = float(pd.read_csv(path)[metric].mean())
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
        rows = g[(g['model'] == case.where['model_type']) & np.isclose(g['temp'], case.where['temp'])
                 & (g['epoch'] == case.where['epoch']) & (g['target'] == case.where['target'])]
        seeds = dict(zip(self.runs['run_name'], self.runs['seed']))
        rows = rows.assign(seed=[seeds.get(r) for r in rows['run']], run_name=rows['run']).dropna(subset=['seed'])
        return _by_seed(rows, metric)


SOURCES = {'final': Records.final, 'vanished': Records.vanished, 'drop': Records.drop,
           'vertex': Records.vertex_share, 'variance': Records.variance}
"""source name -> how a comparison's per-seed values are read."""


def evaluate(comparisons, records):
    """One row per comparison (its context, cases, metric and the paired statistics)."""
    rows = []
    for c in comparisons:
        if c.source not in SOURCES:
            raise ValueError(f'unknown source {c.source!r}; valid choices are: {", ".join(SOURCES)}')
        read = SOURCES[c.source]
        stats = paired_comparison(read(records, c.a, c.metric), read(records, c.b, c.metric), c.higher_is_better)
        rows.append({'claim': c.claim, 'context': c.context, 'metric': c.metric,
                     'better': 'higher' if c.higher_is_better else 'lower', 'a': c.a.label, 'b': c.b.label,
                     **stats})
    return pd.DataFrame(rows)


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
        parts.append('| context | metric | IGR case | GS case | IGR | GS | IGR - GS (better > 0) | wins | p | '
                     'verdict |\n|---|---|---|---|---|---|---|---|---|---|\n')
        for _, r in rows.iterrows():
            digits = _digits(rows[rows['metric'] == r['metric']])
            mean_std = lambda m, s: f'{_number(m, digits)} ± {_number(s, digits)}'
            parts.append(f'| {r["context"]} | {r["metric"]} ({r["better"]} is better) | {r["a"]} | {r["b"]} | '
                         f'{mean_std(r["a_mean"], r["a_std"])} | {mean_std(r["b_mean"], r["b_std"])} | '
                         f'{mean_std(r["diff_mean"], r["diff_std"])} | {r["wins"]}/{r["n"]} | '
                         f'{_number(r["p"], 3)} | {r["verdict"]} |\n')
        parts.append('\n')
    return ''.join(parts)
