"""Tests of the IGR-I category probabilities (compute_igr_probs) and the IGR-I log-density on the simplex.

Statistical tests are seeded; tolerances are 5 standard errors per compared quantity (a fresh seed would fail
with probability below 6e-7 per quantity), plus the stated deterministic allowances.
"""
import math

import numpy as np
import pytest
import tensorflow as tf

import Utils.Distributions as D

_erfc = np.frompyfunc(math.erfc, 1, 1)


def _phi_cdf(x):
    return (0.5 * _erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0))).astype(np.float64)


def _trapezoid_igr_probs(mu, sigma):
    """Dense float64 trapezoid of P(k) = int_0^inf N(t; mu_k, s_k) prod_{j!=k} Phi((t - mu_j)/s_j) dt.

    The grid is the union of a uniform grid over [0, max(mu + 12 sigma)] and fine grids (200 points per
    sigma) around every mu_j, so the narrow categories are resolved.
    """
    n = len(mu)
    top = max(0.0, float(np.max(mu + 12.0 * sigma))) + 1.0
    grids = [np.linspace(0.0, top, 20001)]
    for m, s in zip(mu, sigma):
        lo, hi = max(0.0, m - 12.0 * s), max(0.0, m + 12.0 * s)
        if hi > lo:
            grids.append(np.linspace(lo, hi, 4801))
    t = np.unique(np.concatenate(grids))
    cdfs = [_phi_cdf((t - mu[j]) / sigma[j]) for j in range(n)]
    probs = []
    for k in range(n):
        f = np.exp(-0.5 * ((t - mu[k]) / sigma[k]) ** 2) / (sigma[k] * math.sqrt(2.0 * math.pi))
        for j in range(n):
            if j != k:
                f = f * cdfs[j]
        probs.append(np.trapezoid(f, t))
    probs.append(np.prod(_phi_cdf(-mu / sigma)))
    return np.array(probs)


def _monte_carlo_igr_probs(mu, sigma, n_draws, seed):
    """float64 Monte Carlo frequencies of argmax(lam_1, .., lam_n, 0)."""
    lam = mu + sigma * np.random.default_rng(seed).standard_normal((n_draws, len(mu)))
    winners = np.argmax(np.concatenate([lam, np.zeros((n_draws, 1))], axis=1), axis=1)
    return np.bincount(winners, minlength=len(mu) + 1) / n_draws


def _igr_probs(mu, sigma, dtype=tf.float64):
    mu = tf.constant(np.asarray(mu).reshape(1, -1, 1), dtype)
    sigma = tf.constant(np.asarray(sigma).reshape(1, -1, 1), dtype)
    return D.compute_igr_probs(mu, sigma).numpy()[0, :, 0]


# mu, sigma: moderate; sigmas differing by 100x; large |mu| with tiny and huge sigmas; one dominant category
HARD_CASES = [
    (np.array([0.3, -1.0, 2.0, 0.5]), np.array([1.0, 0.1, 3.0, 0.7])),
    (np.array([1.0, 1.2, 0.8, -0.5]), np.array([0.05, 5.0, 0.5, 0.05])),
    (np.array([20.0, 19.0, -15.0, 21.0]), np.array([0.1, 4.0, 10.0, 0.5])),
    (np.array([-3.0, -2.5, -4.0]), np.array([0.02, 2.0, 1.0])),
    (np.array([0.0, 6.0, 0.5]), np.array([1.0, 0.2, 8.0])),
]


@pytest.mark.parametrize('case', range(len(HARD_CASES)))
def test_igr_probs_match_dense_trapezoid(case):
    mu, sigma = HARD_CASES[case]
    expected = _trapezoid_igr_probs(mu, sigma)
    assert abs(expected.sum() - 1.0) < 1e-6   # the reference itself is accurate
    np.testing.assert_allclose(_igr_probs(mu, sigma), expected, atol=2e-6)
    np.testing.assert_allclose(_igr_probs(mu, sigma, tf.float32), expected, atol=2e-5)


@pytest.mark.parametrize('case', [0, 1, 4])
def test_igr_probs_match_float64_monte_carlo(case):
    mu, sigma = HARD_CASES[case]
    n_draws = 200000
    freq = _monte_carlo_igr_probs(mu, sigma, n_draws, seed=100 + case)
    probs = _igr_probs(mu, sigma)
    tolerance = 5.0 * np.sqrt(np.maximum(probs * (1.0 - probs), 1e-12) / n_draws) + 1e-9
    assert np.all(np.abs(freq - probs) <= tolerance), (freq, probs)


@pytest.mark.parametrize('dtype, tol', [(tf.float64, 1e-6), (tf.float32, 1e-5)])
def test_igr_probs_sum_to_one_without_normalisation(dtype, tol):
    rng = np.random.default_rng(0)
    b, n, v = 6, 9, 3
    mu = rng.normal(0.0, 5.0, size=(b, n, 1, v)) * rng.choice([0.1, 1.0, 6.0], size=(b, 1, 1, v))
    sigma = np.exp(rng.uniform(-3.5, 3.5, size=(b, n, 1, v)))     # ratios up to ~1000
    probs = D.compute_igr_probs(tf.constant(mu, dtype), tf.constant(sigma, dtype)).numpy()
    assert probs.shape == (b, n + 1, 1, v)
    assert np.all(probs >= 0.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=tol)
    log_probs = D.compute_igr_log_probs(tf.constant(mu[:, :, 0], dtype), tf.constant(sigma[:, :, 0], dtype))
    assert log_probs.shape == (b, n + 1, v) and log_probs.dtype == dtype
    # the logarithms come from the float64 quadrature whatever the input dtype (finite, accurate for tiny P)
    as64 = lambda x: tf.cast(tf.constant(x[:, :, 0], dtype), tf.float64)  # the same (rounded) inputs
    exact = D.compute_igr_probs(as64(mu), as64(sigma))
    np.testing.assert_allclose(np.exp(log_probs.numpy()), exact.numpy(), rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize('dtype', [tf.float32, tf.float64])
def test_quadrature_panels_tile_the_domain_like_sorted_breakpoints(dtype):
    # The panels come from "next breakpoint above" instead of a sort: they must be exactly the gaps between the
    # sorted breakpoints (as a multiset), so they tile [lower, upper] with no overlap, whatever the ties.
    rng = np.random.default_rng(3)
    pairs, n = 64, 7
    mu = rng.normal(0.0, 3.0, size=(pairs, n))
    mu[:8] = 0.0                                                   # all categories equal: many tied breakpoints
    sigma = np.exp(rng.uniform(-3.0, 2.0, size=(pairs, n)))
    sigma[:8] = 1.0
    grid, width, _ = D._QUAD_RULES[dtype]
    left, length = D._quadrature_panels(tf.constant(mu, dtype), tf.constant(sigma, dtype), grid, width)
    left, length = left.numpy(), length.numpy()
    lower = np.maximum((mu - width * sigma).max(axis=1), 0.0)
    upper = np.maximum((mu + width * sigma).max(axis=1), lower)
    rtol = 1e-6 if dtype == tf.float32 else 1e-14
    assert np.all(length >= 0.0)
    for i in range(pairs):
        bps = np.sort(left[i])
        np.testing.assert_array_equal(np.sort(length[i]), np.sort(np.append(np.diff(bps), 0.0)))
        # lower = mu_j - 6.5 sigma_j may cancel: its rounding is relative to the scale of the breakpoints
        np.testing.assert_allclose([bps[0], bps[-1]], [lower[i], upper[i]], rtol=0.0, atol=rtol * (upper[i] + 1.0))


def test_igr_probs_same_under_xla():
    rng = np.random.default_rng(4)
    mu = tf.constant(rng.normal(0.0, 3.0, size=(50, 9, 1, 30)), tf.float32)      # 1,500 pairs: several chunks
    sigma = tf.constant(np.exp(rng.uniform(-3.0, 1.0, size=(50, 9, 1, 30))), tf.float32)
    graph = D.compute_igr_probs(mu, sigma).numpy()
    xla = tf.function(D.compute_igr_probs, jit_compile=True, autograph=False)(mu, sigma).numpy()
    np.testing.assert_allclose(xla, graph, atol=2e-6)
    reference = D.compute_igr_probs(tf.cast(mu, tf.float64), tf.cast(sigma, tf.float64)).numpy()
    np.testing.assert_allclose(xla, reference, atol=1e-5)


def test_igr_probs_one_dimension_reduces_to_phi():
    for m, s in [(0.7, 1.3), (-25.0, 0.01), (4.0, 20.0)]:
        mu, sigma = np.array([m]), np.array([s])
        expected = [_phi_cdf(mu / sigma)[0], _phi_cdf(-mu / sigma)[0]]
        np.testing.assert_allclose(_igr_probs(mu, sigma), expected, rtol=1e-7, atol=1e-300)


def test_igr_samples_at_low_temperature_follow_category_probabilities():
    mu = tf.constant(np.array([[0.3, 0.5], [-1.0, 0.2], [2.0, -0.4], [0.5, 0.1]]).reshape(1, 4, 1, 2), tf.float32)
    xi = tf.math.log(tf.constant(np.array([[1.0, 0.3], [0.1, 2.0], [3.0, 0.5], [0.7, 1.0]]).reshape(1, 4, 1, 2),
                                 tf.float32))
    n_draws = 20000
    dist = D.IGR_I(mu, xi, temp=0.01, sample_size=n_draws,
                   noise=D.sample_normal((1, 4, n_draws, 2), tf.float32, seed=7))
    psi = dist.generate_sample().numpy()[0]                          # (5, n_draws, 2)
    probs = dist.category_probs().numpy()[0, :, 0]                   # (5, 2)
    tolerance = 5.0 * np.sqrt(np.maximum(probs * (1.0 - probs), 1e-12) / n_draws) + 1e-9
    for var in range(2):
        freq = np.bincount(np.argmax(psi[:, :, var], axis=0), minlength=5) / n_draws
        assert np.all(np.abs(freq - probs[:, var]) <= tolerance[:, var])
    # the relaxed samples sit at the vertices: their mean is the category probabilities (0.01 for near-ties)
    assert np.all(np.abs(psi.mean(axis=1) - probs) <= tolerance + 0.01)
    assert np.median(psi.max(axis=0)) > 0.999


# ------------------------------------------------------------------------------------------------------------
# IGR-I log-density on the simplex
# ------------------------------------------------------------------------------------------------------------
def _gaussian_log_density(z, mu, xi):
    return np.sum(-0.5 * ((z - mu) / np.exp(xi)) ** 2 - xi - 0.5 * np.log(2.0 * np.pi), axis=1)


@pytest.mark.parametrize('temp', [0.3, 1.0, 2.0])
def test_igr_log_prob_is_gaussian_density_minus_autodiff_log_det(temp):
    # (moderate temperatures: near a vertex the determinant of the autodiff Jacobian itself loses precision)
    rng = np.random.default_rng(1)
    b, n, s, v = 2, 3, 2, 2
    mu = rng.normal(size=(b, n, 1, v))
    xi = rng.normal(0.0, 0.3, size=(b, n, 1, v))
    z = tf.constant(mu + np.exp(xi) * rng.normal(size=(b, n, s, v)))
    with tf.GradientTape() as tape:
        tape.watch(z)
        psi = D.igr_psi(z, temp)[:, :n]
    jac = tape.jacobian(psi, z).numpy()                                 # (b, n, s, v, b, n, s, v)
    log_prob = D.igr_i_log_prob(D.igr_log_psi(z, temp), tf.constant(mu), tf.constant(xi), temp).numpy()
    gauss = _gaussian_log_density(z.numpy(), mu, xi)
    for i in range(b):
        for j in range(s):
            for k in range(v):
                _, log_det = np.linalg.slogdet(jac[i, :, j, k, i, :, j, k])
                np.testing.assert_allclose(log_prob[i, j, k], gauss[i, j, k] - log_det, rtol=1e-9, atol=1e-9)
    dist = D.IGR_I(tf.constant(mu), tf.constant(xi), temp)
    np.testing.assert_allclose(dist.log_prob(D.igr_log_psi(z, temp)).numpy(), log_prob, rtol=1e-12)


def test_igr_log_prob_integrates_to_one_on_the_simplex():
    """n = 1: the density of psi_1 on (0, 1) integrates to 1 (dense trapezoid on a logit grid)."""
    mu, xi, temp = 0.4, np.log(0.9), 0.7
    u = np.linspace(-60.0, 60.0, 200001)                             # psi_1 = sigmoid(u)
    log_psi = np.stack([-np.logaddexp(0.0, -u), -np.logaddexp(0.0, u)])  # log psi_1, log psi_2
    log_q = D.igr_i_log_prob(tf.constant(log_psi.reshape(1, 2, -1, 1)), mu, xi, temp).numpy().ravel()
    dpsi_du = np.exp(log_psi[0] + log_psi[1])
    assert abs(np.trapezoid(np.exp(log_q) * dpsi_du, u) - 1.0) < 1e-6


def test_igr_kl_by_monte_carlo_matches_closed_form():
    rng = np.random.default_rng(2)
    n, n_draws, temp = 4, 20000, 0.3
    mu, xi = rng.normal(size=(1, n, 1, 1)), rng.normal(0.0, 0.4, size=(1, n, 1, 1))
    mu0, xi0 = rng.normal(size=(1, n, 1, 1)), rng.normal(0.0, 0.4, size=(1, n, 1, 1))
    q = D.IGR_I(tf.constant(mu), tf.constant(xi), temp, sample_size=n_draws,
                noise=D.sample_normal((1, n, n_draws, 1), tf.float64, seed=3))
    q.generate_sample()
    log_ratio = (q.log_prob(q.log_psi) - D.igr_i_log_prob(q.log_psi, mu0, xi0, temp)).numpy().ravel()
    closed_form = tf.reduce_sum(D.gaussian_kl(mu, xi, mu0, xi0)).numpy()
    standard_error = log_ratio.std() / np.sqrt(n_draws)
    assert abs(log_ratio.mean() - closed_form) <= 5.0 * standard_error


def test_igr_log_probs_are_finite_where_float32_probabilities_underflow():
    from Utils.Distributions import compute_igr_log_probs, compute_igr_probs
    mu = np.array([[[5.5]], [[30.0]]], np.float32)    # (b=2, n=1, v=1)
    sigma = np.ones_like(mu)
    assert compute_igr_probs(mu, sigma).numpy()[0, 1, 0] == 0.  # float32: P(last) = Phi(-5.5) ~ 1.9e-8 rounds to 0
    logs = compute_igr_log_probs(mu, sigma).numpy()
    assert logs.dtype == np.float32 and np.all(np.isfinite(logs))
    exact = np.log(0.5 * math.erfc(5.5 / math.sqrt(2.)))   # log Phi(-5.5)
    np.testing.assert_allclose(logs[0, 1, 0], exact, rtol=1e-6)
    assert logs[1, 1, 0] >= np.log(np.finfo(np.float64).tiny) - 1e-3  # floored, not -inf
