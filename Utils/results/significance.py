"""Welch's t-test, its confidence interval and Holm's correction: the verdict rule of the paper-budget report.

For two independent samples a (n_a values) and b (n_b values), signed so that d > 0 favours a:

    d = mean(a) - mean(b),   se = sqrt(s_a^2 / n_a + s_b^2 / n_b),   t = d / se,
    df = se^4 / ((s_a^2 / n_a)^2 / (n_a - 1) + (s_b^2 / n_b)^2 / (n_b - 1))      (Welch-Satterthwaite),
    p = P(|T_df| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2),    95% CI: d -+ t_{0.975, df} se,

with I_x(a, b) the regularised incomplete beta function (a continued fraction, Numerical Recipes' modified Lentz
method, written here) and t_{q, df} found by bisection on the same function. Holm's step-down correction of m
p-values sorted ascending, p_(1) <= ... <= p_(m): adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)); it keeps the
chance of any false rejection among the m tests at most alpha, whatever their dependence.

No TensorFlow import (the report runs on csv and json records).
"""
import math

import numpy as np


def _beta_fraction(a, b, x):
    """Continued fraction of I_x(a, b) (modified Lentz), converging fast for x < (a + 1) / (a + b + 2)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1., a - 1.
    c, d = 1., 1. - qab * x / qap
    d = 1. / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1. + aa * d
            d = 1. / (d if abs(d) > tiny else tiny)
            c = 1. + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.) < eps:
            break
    return h


def regularized_beta(x, a, b):
    """I_x(a, b) for 0 <= x <= 1 and a, b > 0."""
    if not 0. <= x <= 1.:
        raise ValueError(f'bad x {x}: must be in [0, 1]')
    if x in (0., 1.):
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.) / (a + b + 2.):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1. - math.exp(log_front) * _beta_fraction(b, a, 1. - x) / b


def t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with `df` > 0 degrees of freedom (any real df)."""
    if not df > 0:
        raise ValueError(f'bad degrees of freedom {df}: must be > 0')
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.
    return regularized_beta(df / (df + t * t), df / 2., 0.5)


def t_quantile(q, df):
    """t with P(T <= t) = q, for 0.5 <= q < 1 (bisection on `t_two_sided_p`, to 1e-12 relative)."""
    if not 0.5 <= q < 1.:
        raise ValueError(f'bad quantile {q}: must be in [0.5, 1)')
    target = 2. * (1. - q)
    low, high = 0., 1.
    while t_two_sided_p(high, df) > target:
        high *= 2.
    for _ in range(200):
        middle = 0.5 * (low + high)
        if t_two_sided_p(middle, df) > target:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return 0.5 * (low + high)


def welch(a, b, higher_is_better=True, level=0.95):
    """Welch's two-sided test of mean(a) = mean(b) and the `level` confidence interval of the difference.

    Args:
        a, b: sequences of per-seed values (NaN dropped); higher_is_better: False flips the sign, so that d > 0 always
            means a is better.
    Returns:
        dict n_a, n_b, diff (mean(a) - mean(b), signed), se, df, t, p, ci_low, ci_high (NaN where undefined: diff
        without a value on a side, the rest with fewer than two, or with both sides constant and equal).
    """
    a = np.asarray([v for v in a if not math.isnan(v)], float)
    b = np.asarray([v for v in b if not math.isnan(v)], float)
    sign = 1. if higher_is_better else -1.
    out = {'n_a': len(a), 'n_b': len(b), 'diff': math.nan, 'se': math.nan, 'df': math.nan, 't': math.nan,
           'p': math.nan, 'ci_low': math.nan, 'ci_high': math.nan}
    if len(a) and len(b):
        out['diff'] = float(sign * (a.mean() - b.mean()))
    if len(a) < 2 or len(b) < 2:
        return out
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = out['diff']
    se = math.sqrt(va + vb)
    if se == 0.:
        out.update(t=math.copysign(math.inf, diff) if diff else math.nan, p=0. if diff else math.nan,
                   ci_low=float(diff), ci_high=float(diff), se=0.)
        return out
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = t_quantile(0.5 + level / 2., df) * se
    out.update(se=se, df=df, t=diff / se, p=t_two_sided_p(diff / se, df), ci_low=diff - half, ci_high=diff + half)
    return out


def holm(p_values):
    """Holm-adjusted p-values, in the input order (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p_values, float)
    kept = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(p.shape, np.nan)
    order = kept[np.argsort(p[kept], kind='stable')]
    m, running = len(order), 0.
    for rank, index in enumerate(order):
        running = max(running, min(1., (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
