"""Welch's test, the t quantile and Holm's correction against TFP's Student t and cases worked by hand."""
import math

import numpy as np
import pytest

from Utils.results import significance as sig


@pytest.mark.parametrize('df', [0.7, 1., 2.7, 2.941, 4.3, 7.9, 30.5, 300.])
def test_two_sided_p_and_quantile_match_tfp_student_t(df):
    import tensorflow_probability as tfp
    student = tfp.distributions.StudentT(np.float64(df), np.float64(0.), np.float64(1.))
    t = np.array([0., 0.05, 0.3, 1., 2.2, 4.303, 9., 40.])
    reference = 2. * student.survival_function(t).numpy()
    mine = np.array([sig.t_two_sided_p(v, df) for v in t])
    np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-14)
    for q in (0.5, 0.8, 0.975, 0.995):
        np.testing.assert_allclose(sig.t_quantile(q, df), student.quantile(np.float64(q)).numpy(), rtol=1e-8,
                                   atol=1e-10)


def test_regularized_beta_closed_forms():
    for x in (0., 0.1, 0.5, 0.93, 1.):
        assert sig.regularized_beta(x, 1., 1.) == pytest.approx(x, abs=1e-14)            # I_x(1, 1) = x
        assert sig.regularized_beta(x, 2., 1.) == pytest.approx(x * x, abs=1e-14)        # I_x(2, 1) = x^2
        assert sig.regularized_beta(x, 0.5, 0.5) == pytest.approx(2. / math.pi * math.asin(math.sqrt(x)), abs=1e-12)
    with pytest.raises(ValueError, match='bad x 1.5'):
        sig.regularized_beta(1.5, 1., 1.)


def test_welch_by_hand():
    row = sig.welch([1., 2., 3.], [4., 6., 8.])
    # va = 1/3, vb = 4/3: se = sqrt(5/3), t = -4 / se, df = (5/3)^2 / ((1/3)^2 / 2 + (4/3)^2 / 2) = 50/17
    assert row['diff'] == pytest.approx(-4.) and row['se'] == pytest.approx(math.sqrt(5. / 3.))
    assert row['df'] == pytest.approx(50. / 17.) and row['t'] == pytest.approx(-4. / math.sqrt(5. / 3.))
    assert row['p'] == pytest.approx(sig.t_two_sided_p(row['t'], 50. / 17.))
    half = sig.t_quantile(0.975, 50. / 17.) * math.sqrt(5. / 3.)
    assert (row['ci_low'], row['ci_high']) == pytest.approx((-4. - half, -4. + half))
    flipped = sig.welch([1., 2., 3.], [4., 6., 8.], higher_is_better=False)
    assert flipped['diff'] == pytest.approx(4.) and flipped['p'] == pytest.approx(row['p'])
    single = sig.welch([1.], [2., 3.])                                               # one value: no test
    assert math.isnan(single['p']) and single['diff'] == pytest.approx(-1.5)
    assert math.isnan(sig.welch([], [2., 3.])['diff'])
    assert math.isnan(sig.welch([1., float('nan')], [2., 3.])['p'])
    constant = sig.welch([2., 2.], [1., 1.])
    assert constant['p'] == 0. and constant['diff'] == 1.


def test_welch_equal_variances_and_sizes_is_student_t():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0., 1., 5), rng.normal(0.5, 1., 5)
    b = (b - b.mean()) * a.std(ddof=1) / b.std(ddof=1) + b.mean()                      # equal sample variances
    row = sig.welch(a, b)
    pooled = math.sqrt(a.var(ddof=1) * 2 / 5)
    assert row['df'] == pytest.approx(8.) and row['t'] == pytest.approx((a.mean() - b.mean()) / pooled)


def test_holm_by_hand():
    adjusted = sig.holm([0.01, 0.04, 0.03, float('nan')])
    # sorted 0.01, 0.03, 0.04 (m = 3): 3 x 0.01 = 0.03, max(0.03, 2 x 0.03) = 0.06, max(0.06, 0.04) = 0.06
    np.testing.assert_allclose(adjusted[:3], [0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
    np.testing.assert_allclose(sig.holm([0.5, 0.9]), [1., 1.])
    np.testing.assert_allclose(sig.holm([0.002]), [0.002])


def test_holm_keeps_the_familywise_error_rate():
    """Seeded: 20,000 families of 6 true null p-values (uniform); the share with any adjusted p < 0.05 is at most
    0.05 (+ 4 binomial standard errors: a false failure about once in 30,000 runs of this test)."""
    p = np.random.default_rng(5).random((20_000, 6))
    rejected = np.mean([np.nanmin(sig.holm(row)) < 0.05 for row in p])
    assert rejected <= 0.05 + 4. * math.sqrt(0.05 * 0.95 / 20_000)
