"""Tests of Utils/Distributions.py: softmax++, Gumbel-Softmax, KLs, stick-breaking, planar flow, samplers.

Statistical tests are seeded; their tolerances are 5 standard errors per compared quantity, so a fresh seed
would fail with probability below 6e-7 per quantity (below 1e-5 per test).
"""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import Utils.Distributions as D
from Tests.reference import stick_break_iterative

tfd, tfb = tfp.distributions, tfp.bijectors


def _rng(seed=0):
    return np.random.default_rng(seed)


def _last_axis(x):  # (b, K, S, v) -> (b, S, v, K) for TFP's event-last convention
    return tf.transpose(x, [0, 2, 3, 1])


def _binomial_tolerance(p, n_draws, n_se=5.0):
    return n_se * np.sqrt(np.maximum(p * (1.0 - p), 1e-12) / n_draws) + 1e-9


# ------------------------------------------------------------------------------------------------------------
# softmax++
# ------------------------------------------------------------------------------------------------------------
def _softmax_pp_numpy(x, delta=1.0):
    x = np.asarray(x, dtype=np.float64)
    full = np.concatenate([x, np.full_like(x[:, :1], np.log(delta))], axis=1)
    full = np.exp(full - full.max(axis=1, keepdims=True))
    return full / full.sum(axis=1, keepdims=True)


@pytest.mark.parametrize('delta', [1.0, 0.1])
def test_softmax_pp_matches_numpy_reference(delta):
    x = _rng(1).normal(0.0, 3.0, size=(4, 6, 3, 2))
    for dtype, tol in [(tf.float64, 1e-12), (tf.float32, 2e-6)]:
        psi = D.softmax_pp(tf.constant(x, dtype), delta).numpy()
        assert psi.shape == (4, 7, 3, 2)
        np.testing.assert_allclose(psi, _softmax_pp_numpy(x, delta), atol=tol)
        np.testing.assert_allclose(np.exp(D.log_softmax_pp(tf.constant(x, dtype), delta).numpy()), psi, atol=tol)
    np.testing.assert_array_equal(D.project_to_vertices_via_softmax_pp(tf.constant(x)).numpy(),
                                  D.softmax_pp(tf.constant(x)).numpy())


def test_softmax_pp_matches_softmax_centered():
    x = tf.constant(_rng(2).normal(0.0, 2.0, size=(3, 5, 2, 4)))
    expected = tf.transpose(tfb.SoftmaxCentered().forward(_last_axis(x)), [0, 3, 1, 2])
    np.testing.assert_allclose(D.softmax_pp(x).numpy(), expected.numpy(), atol=1e-12)


def test_softmax_pp_is_stable_at_extreme_inputs():
    # |x / tau| = 1e4: lam = +-100 at tau = 0.01
    lam = tf.constant([[100.0, -100.0, 50.0], [-100.0, -100.0, -100.0], [-100.0, 100.0, 100.0]])
    lam = tf.reshape(tf.transpose(lam), (1, 3, 1, 3))  # three variables
    with tf.GradientTape() as tape:
        tape.watch(lam)
        psi = D.igr_psi(lam, 0.01)
        log_psi = D.igr_log_psi(lam, 0.01)
        loss = tf.reduce_sum(psi * tf.range(1.0, 5.0)[None, :, None, None]) + tf.reduce_sum(log_psi)
    grad = tape.gradient(loss, lam)
    assert np.all(np.isfinite(psi.numpy())) and np.all(np.isfinite(log_psi.numpy()))
    assert np.all(np.isfinite(grad.numpy()))
    np.testing.assert_allclose(tf.reduce_sum(psi, axis=1).numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(psi[0, :, 0, 0].numpy(), [1, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(psi[0, :, 0, 1].numpy(), [0, 0, 0, 1], atol=1e-6)   # all negative -> last
    np.testing.assert_allclose(psi[0, :, 0, 2].numpy(), [0, 0.5, 0.5, 0], atol=1e-6)  # tie
    huge = D.softmax_pp(tf.constant([[[[1e30]], [[-1e30]]]]))
    np.testing.assert_allclose(huge.numpy().ravel(), [1, 0, 0], atol=1e-7)


@pytest.mark.parametrize('dtype', [tf.float32, tf.float64])
def test_softmax_pp_sums_to_one(dtype):
    x = tf.constant(_rng(3).normal(0.0, 30.0, size=(5, 9, 4, 3)), dtype)
    np.testing.assert_allclose(tf.reduce_sum(D.softmax_pp(x), axis=1).numpy(), 1.0,
                               atol=1e-6 if dtype == tf.float32 else 1e-14)


def test_argmax_one_hot():
    psi = tf.constant([[[[0.1]], [[0.7]], [[0.2]]]])
    np.testing.assert_array_equal(D.argmax_one_hot(psi).numpy().ravel(), [0, 1, 0])


# ------------------------------------------------------------------------------------------------------------
# Gumbel-Softmax and divergences
# ------------------------------------------------------------------------------------------------------------
def test_exp_concrete_log_density_matches_tfp():
    rng = _rng(4)
    b, k, s, v = 3, 6, 4, 2
    logits = tf.constant(rng.normal(size=(b, k, 1, v)))
    gumbel = D.sample_gumbel((b, k, s, v), tf.float64, seed=4)
    for temp in [0.1, 0.37, 2.0]:
        log_psi = D.gs_log_psi(logits, gumbel, temp)
        ours = D.compute_log_exp_gs_dist(log_psi, logits, temp)
        dist = tfd.ExpRelaxedOneHotCategorical(temperature=tf.constant(temp, tf.float64),
                                               logits=_last_axis(tf.broadcast_to(logits, log_psi.shape)))
        np.testing.assert_allclose(ours.numpy(), dist.log_prob(_last_axis(log_psi)).numpy(), rtol=1e-10)
    # any point of the log-simplex, not only our own samples
    y = rng.normal(0.0, 4.0, size=(b, k, s, v))
    y = tf.constant(y - np.log(np.exp(y).sum(axis=1, keepdims=True)))
    dist = tfd.ExpRelaxedOneHotCategorical(0.5, logits=_last_axis(tf.broadcast_to(logits, y.shape)))
    np.testing.assert_allclose(D.compute_log_exp_gs_dist(y, logits, 0.5).numpy(),
                               dist.log_prob(_last_axis(y)).numpy(), rtol=1e-10)


def test_gs_sampled_kl_is_log_density_difference():
    rng = _rng(5)
    logits = tf.constant(rng.normal(size=(2, 5, 1, 3)))
    log_psi = D.gs_log_psi(logits, D.sample_gumbel((2, 5, 7, 3), tf.float64, seed=5), 0.4)
    kl = D.gs_sampled_kl(log_psi, logits, 0.4)
    assert kl.shape == (2, 7, 3)
    q = tfd.ExpRelaxedOneHotCategorical(0.4, logits=_last_axis(tf.broadcast_to(logits, log_psi.shape)))
    p = tfd.ExpRelaxedOneHotCategorical(0.4, logits=tf.zeros((2, 7, 3, 5), tf.float64))
    expected = q.log_prob(_last_axis(log_psi)) - p.log_prob(_last_axis(log_psi))
    np.testing.assert_allclose(kl.numpy(), expected.numpy(), rtol=1e-9, atol=1e-9)
    explicit = D.gs_sampled_kl(log_psi, logits, 0.4, prior_log_pi=tf.fill((1, 5, 1, 1), tf.constant(-3.0, tf.float64)))
    np.testing.assert_allclose(kl.numpy(), explicit.numpy(), atol=1e-9)  # constant shifts of logits cancel
    np.testing.assert_allclose(D.gs_sampled_kl(log_psi, tf.zeros_like(logits), 0.4).numpy(), 0.0, atol=1e-9)


def test_categorical_kl():
    rng = _rng(6)
    q = rng.dirichlet(np.ones(5), size=(3, 2)).transpose(0, 2, 1)   # (3, 5, 2)
    p = rng.dirichlet(np.ones(5), size=(3, 2)).transpose(0, 2, 1)
    expected = np.sum(q * (np.log(q) - np.log(p)), axis=1)
    np.testing.assert_allclose(D.categorical_kl(tf.math.log(q), tf.math.log(p)).numpy(), expected, rtol=1e-12)
    # zero-probability categories contribute 0, with finite gradients
    log_q = tf.constant([[np.log(0.5), np.log(0.5), -np.inf]])
    log_p = tf.Variable(np.log([[0.25, 0.25, 0.5]]))
    with tf.GradientTape() as tape:
        kl = D.categorical_kl(log_q, log_p)
    np.testing.assert_allclose(kl.numpy(), [np.log(2.0)], rtol=1e-12)
    assert np.all(np.isfinite(tape.gradient(kl, log_p).numpy()))


def test_gaussian_kl_matches_tfp():
    rng = _rng(7)
    mu, xi, mu0, xi0 = (tf.constant(rng.normal(size=(4, 3, 1, 2))) for _ in range(4))
    expected = tfd.kl_divergence(tfd.Normal(mu, tf.exp(xi)), tfd.Normal(mu0, tf.exp(xi0)))
    np.testing.assert_allclose(D.gaussian_kl(mu, xi, mu0, xi0).numpy(), expected.numpy(), rtol=1e-12)


def test_gumbel_max_frequencies_match_softmax():
    log_pi = np.log(np.array([0.05, 0.1, 0.15, 0.3, 0.4]))
    n_draws = 40000
    dist = D.GS(tf.constant(log_pi.reshape(1, 5, 1, 1)), temp=0.5, sample_size=n_draws,
                noise=D.sample_gumbel((1, 5, n_draws, 1), tf.float64, seed=8))
    psi = dist.generate_sample()
    freq = np.bincount(np.argmax(psi.numpy(), axis=1).ravel(), minlength=5) / n_draws
    probs = np.exp(log_pi)
    assert np.all(np.abs(freq - probs) <= _binomial_tolerance(probs, n_draws))
    np.testing.assert_allclose(dist.log_psi.numpy(), np.log(psi.numpy()), atol=1e-10)


def test_gumbel_noise_is_finite():
    g = D.sample_gumbel((200000,), tf.float32, seed=9)
    assert np.all(np.isfinite(g.numpy()))


# ------------------------------------------------------------------------------------------------------------
# Stick-breaking and truncation
# ------------------------------------------------------------------------------------------------------------
def test_stick_break_matches_iterative_reference():
    z = tf.constant(_rng(10).normal(0.0, 3.0, size=(4, 12, 3, 2)))
    eta = tf.sigmoid(z)
    ref = stick_break_iterative(eta).numpy()
    np.testing.assert_allclose(D.stick_break(eta).numpy(), ref, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(D.igr_sb_lam(z).numpy(), ref, rtol=1e-10, atol=1e-300)
    total = ref.sum(axis=1)
    np.testing.assert_allclose(total, 1.0 - np.prod(1.0 - eta.numpy(), axis=1), rtol=1e-12)


def test_stick_break_pieces_sum_to_at_most_one():
    z = tf.constant(_rng(11).normal(0.0, 5.0, size=(50, 30, 4, 3)), tf.float32)
    pi = D.igr_sb_lam(z).numpy()
    assert np.all(pi >= 0.0)
    assert np.all(pi.sum(axis=1) <= 1.0 + 1e-6)
    assert np.all(D.stick_break(tf.sigmoid(z)).numpy().sum(axis=1) <= 1.0 + 1e-6)


def _pieces_needing(counts, n, threshold=0.9):
    """Stick pieces (len(counts), n) whose cumsum first exceeds ``threshold`` at piece ``count`` (n+1: never)."""
    rows = []
    for m in counts:
        row = np.zeros(n)
        if m > n:
            row[:] = 0.8 / n
        else:
            row[:m - 1] = 0.8 / max(m - 1, 1)
            row[m - 1] = threshold + 0.05 - row[:m - 1].sum()
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize('jit', [False, True])
def test_truncation_picks_the_right_index(jit):
    n = 6
    counts = [1, 2, 2, 3, 3, 3, 4, 4, 5, 6]   # pieces needed per draw; sorted already
    pi = _pieces_needing(counts, n)                                      # (10, n)
    pi = tf.constant(pi.reshape(5, 2, n).transpose(0, 2, 1)[..., None], tf.float32)  # (5, n, 2, 1)

    def run(p, option, q=D.DEFAULT_QUANTILE):
        fn = lambda x: D.compute_n_required(x, 0.9, option, q)
        fn = tf.function(fn, jit_compile=True) if jit else fn
        n_required, met = fn(p)
        assert n_required.dtype == tf.int32 and n_required.shape == ()
        return int(n_required), bool(met)

    # nearest rank: the 70th percentile of 10 draws is the 7th smallest, the 50th the 5th
    assert run(pi, 'quantile') == (4, True)
    assert run(pi, 'quantile', 50.0) == (3, True)
    assert run(pi, 'quantile', 100.0) == (6, True)
    assert run(pi, 'max') == (6, True)
    unmet = _pieces_needing([2, 3, n + 1, n + 1], n)
    unmet = tf.constant(unmet.T[None, :, :, None], tf.float32)           # (1, n, 4, 1)
    assert run(unmet, 'max') == (n, False)
    assert run(unmet, 'quantile', 50.0) == (3, True)
    assert run(unmet, 'quantile', 75.0) == (n, False)


def test_truncation_validates_options():
    pi = tf.zeros((1, 3, 1, 1))
    with pytest.raises(ValueError, match="quantile.*max"):
        D.compute_n_required(pi, 0.9, 'median')
    with pytest.raises(ValueError, match='threshold'):
        D.compute_n_required(pi, 1.5)


def test_truncation_mask_and_masked_psi():
    mask = D.truncation_mask(3, 5)
    assert mask.shape == (1, 5, 1, 1)
    np.testing.assert_array_equal(mask.numpy().ravel(), [1, 1, 1, 0, 0])
    lam = tf.constant(_rng(12).uniform(size=(2, 5, 3, 2)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(lam)
        psi = D.igr_psi(lam, 0.05, mask)
        loss = tf.reduce_sum(psi * tf.range(1.0, 7.0)[None, :, None, None])
    grad = tape.gradient(loss, lam).numpy()
    assert psi.shape == (2, 6, 3, 2)
    np.testing.assert_array_equal(psi[:, 3:5].numpy(), 0.0)
    np.testing.assert_allclose(tf.reduce_sum(psi, axis=1).numpy(), 1.0, atol=1e-6)
    truncated = D.softmax_pp(lam[:, :3] / 0.05).numpy()
    np.testing.assert_allclose(psi.numpy()[:, [0, 1, 2, 5]], truncated, atol=1e-6)
    assert np.all(np.isfinite(grad)) and np.all(grad[:, 3:] == 0.0)


# ------------------------------------------------------------------------------------------------------------
# Planar flow
# ------------------------------------------------------------------------------------------------------------
def _randomise(flow, rng, scale):
    for var in flow.trainable_variables:
        var.assign(rng.normal(0.0, scale, size=var.shape))


def test_planar_flow_log_det_matches_autodiff():
    b, n, s, v = 2, 4, 2, 3
    flow = D.PlanarFlow(n, v, n_layers=2, dtype='float64')
    assert len(flow.trainable_variables) == 6
    _randomise(flow, _rng(13), 1.5)
    z = tf.constant(_rng(14).normal(size=(b, n, s, v)))
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = flow(z)
    jac = tape.jacobian(y, z).numpy()                                     # (b, n, s, v, b, n, s, v)
    log_det = flow.log_det_jacobian(z).numpy()
    assert y.shape == z.shape and log_det.shape == (b, s, v)
    for i in range(b):
        for j in range(s):
            for k in range(v):
                sign, expected = np.linalg.slogdet(jac[i, :, j, k, i, :, j, k])
                assert sign != 0
                np.testing.assert_allclose(log_det[i, j, k], expected, atol=1e-10)
    np.testing.assert_allclose(flow.forward_and_log_det(z)[0].numpy(), y.numpy(), atol=1e-14)


def test_planar_flow_correction_keeps_it_invertible():
    rng = _rng(15)
    flow = D.PlanarFlow(5, 400, n_layers=2, dtype='float64')
    for scale in [0.01, 1.0, 10.0]:
        _randomise(flow, rng, scale)
        for i in range(flow.n_layers):
            w_dot_u_hat = tf.reduce_sum(flow.w[i] * flow.u_hat(i), axis=1, keepdims=True).numpy()
            np.testing.assert_allclose(w_dot_u_hat, flow.w_dot_u_hat(i).numpy(), rtol=1e-9, atol=1e-9)
            assert np.all(w_dot_u_hat >= -1.0 - 1e-9) and np.all(flow.w_dot_u_hat(i).numpy() >= -1.0)
    # adversarial: u = -c w makes w.u very negative; the correction still gives w.u_hat >= -1
    w = rng.normal(size=(1, 5, 1, 400))
    flow.w[0].assign(w)
    flow.u[0].assign(-rng.uniform(0.0, 50.0, size=(1, 1, 1, 400)) * w)
    assert np.all(tf.reduce_sum(flow.w[0] * flow.u_hat(0), axis=1).numpy() >= -1.0 - 1e-9)
    assert np.all(np.isfinite(flow.log_det_jacobian(tf.constant(rng.normal(size=(2, 5, 3, 400)))).numpy()))


def test_planar_flow_builds_lazily_and_serialises():
    flow = D.PlanarFlow(seed=3)
    y = flow(tf.zeros((2, 4, 3, 5)))
    assert y.shape == (2, 4, 3, 5) and flow.w[0].shape == (1, 4, 1, 5) and flow.b[1].shape == (1, 1, 1, 5)
    assert flow.get_config()['n_layers'] == 2


# ------------------------------------------------------------------------------------------------------------
# Relaxed Bernoulli
# ------------------------------------------------------------------------------------------------------------
def test_binary_concrete_uses_logistic_noise():
    log_alpha = tf.constant(np.array([-2.0, -0.3, 0.0, 1.2]).reshape(1, 4), tf.float64)
    n_draws = 40000
    uniform = D.sample_uniform((n_draws, 4), tf.float64, seed=16)
    for temp in [0.1, 1.0]:
        x = D.binary_concrete(log_alpha, temp, uniform).numpy()
        expected = 1.0 / (1.0 + np.exp(-(log_alpha.numpy() + np.log(uniform) - np.log1p(-uniform)) / temp))
        np.testing.assert_allclose(x, expected, rtol=1e-10)
    # P(x > 1/2) = sigmoid(log_alpha) exactly for logistic noise (any temperature)
    freq = (D.binary_concrete(log_alpha, 0.5, uniform).numpy() > 0.5).mean(axis=0)
    probs = tf.sigmoid(log_alpha).numpy().ravel()
    assert np.all(np.abs(freq - probs) <= _binomial_tolerance(probs, n_draws))


def test_igr_bernoulli_uses_temperature():
    mu = tf.constant([[0.5, -1.0]], tf.float64)
    xi = tf.constant([[0.1, -0.5]], tf.float64)
    eps = D.sample_normal((5, 2), tf.float64, seed=17)
    for temp in [0.05, 1.0]:
        expected = 1.0 / (1.0 + np.exp(-(mu.numpy() + np.exp(xi.numpy()) * eps.numpy()) / temp))
        np.testing.assert_allclose(D.igr_bernoulli(mu, xi, temp, eps).numpy(), expected, rtol=1e-12)


# ------------------------------------------------------------------------------------------------------------
# Samplers, lookup table, validation
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('bad', [0.0, -1.0, float('nan'), [0.5, 0.0], tf.constant(-0.2)])
def test_temperature_is_validated(bad):
    with pytest.raises(ValueError, match='temperature'):
        D.check_temperature(bad)
    with pytest.raises(ValueError, match='temperature'):
        D.IGR_I(tf.zeros((1, 2, 1, 1)), tf.zeros((1, 2, 1, 1)), bad)
    with pytest.raises(ValueError, match='temperature'):
        D.igr_psi(tf.zeros((1, 2, 1, 1)), bad)


def test_unknown_sampler_lists_choices():
    with pytest.raises(ValueError, match="IGR_I.*IGR_Planar.*IGR_SB"):
        D.get_sampler_class('IGR_X')
    assert set(D.SAMPLERS) == {'GS', 'IGR_I', 'IGR_Planar', 'IGR_SB', 'IGR_SB_Finite'}
    from Models.OptVAE import model_family
    assert model_family('IGR_SB_Finite_Dis') == ('IGR_SB_Finite', False) and model_family('GS')[0] == 'GS'
    with pytest.raises(ValueError, match="unknown model_type 'IGR_X_Dis'; valid choices are: .*IGR_SB_Finite_Dis"):
        model_family('IGR_X_Dis')
    with pytest.raises(ValueError):
        D.generate_sample(1, [tf.zeros((1, 3, 1, 1))], 'Gumbel', 0.5)


def _make(name, b=2, n=5, v=3, sample_size=4, temp=0.5, flow=None):
    rng = _rng(18)
    mu = tf.constant(rng.normal(size=(b, n, 1, v)), tf.float32)
    xi = tf.constant(rng.normal(0.0, 0.3, size=(b, n, 1, v)), tf.float32)
    if name == 'GS':
        return D.GS(mu, temp, sample_size)
    if name == 'IGR_Planar':
        return D.IGR_Planar(mu, xi, temp, flow or D.PlanarFlow(seed=1), sample_size)
    return D.get_sampler_class(name)(mu, xi, temp, sample_size)


@pytest.mark.parametrize('name', sorted(D.SAMPLERS))
def test_samplers_shapes_and_attributes(name):
    dist = _make(name)
    psi = dist.generate_sample()
    k = 5 if name == 'GS' else (dist.n_required + 1 if name == 'IGR_SB' else 6)
    assert psi.shape == (2, k, 4, 3)
    np.testing.assert_allclose(tf.reduce_sum(psi, axis=1).numpy(), 1.0, atol=1e-5)
    assert dist.lam is not None and dist.log_psi is not None
    if name != 'GS':
        assert dist.kappa.shape == (2, 5, 4, 3)


def test_igr_sb_truncated_and_padded_samples_agree():
    dist = D.IGR_SB(tf.fill((3, 8, 1, 2), 0.5), tf.fill((3, 8, 1, 2), -1.0), 0.1, sample_size=6, threshold=0.8)
    dist.generate_sample()
    n_req = dist.n_required
    assert isinstance(n_req, int) and 1 <= n_req <= 8 and isinstance(dist.threshold_met, bool)
    assert dist.psi.shape == (3, n_req + 1, 6, 2) and dist.psi_padded.shape == (3, 9, 6, 2)
    np.testing.assert_allclose(dist.psi_padded.numpy()[:, list(range(n_req)) + [8]], dist.psi.numpy(), atol=1e-6)
    np.testing.assert_array_equal(dist.psi_padded.numpy()[:, n_req:8], 0.0)


def test_generate_sample_helper():
    mu = tf.zeros((1, 4, 1, 1))
    for name, params in [('GS', [mu]), ('IGR_I', [mu, mu]), ('IGR_SB_Finite', [mu, mu]), ('IGR_SB', [mu, mu])]:
        idx = D.generate_sample(50, params, name, 0.1)
        assert idx.shape == (1, 50, 1) and idx.dtype.kind == 'i'
        psi = D.generate_sample(50, params, name, 0.1, output_one_hot=True)
        assert psi.ndim == 4 and psi.shape[2] == 50
    psi = D.generate_sample(5, [mu, mu], 'IGR_Planar', 0.1, output_one_hot=True, planar_flow=D.PlanarFlow(seed=0))
    assert psi.shape == (1, 5, 5, 1)
    with pytest.raises(ValueError, match='planar_flow'):
        D.generate_sample(5, [mu, mu], 'IGR_Planar', 0.1)


# ------------------------------------------------------------------------------------------------------------
# Gradients at low temperature
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(D.SAMPLERS))
def test_gradients_flow_and_are_finite_at_low_temperature(name):
    rng = _rng(19)
    b, n, v, s = 3, 6, 2, 4
    mu = tf.Variable(rng.normal(0.0, 2.0, size=(b, n, 1, v)).astype(np.float32))
    mu[0, 0, 0, 0].assign(40.0)    # extreme values: saturated sigmoids / softmax
    mu[1, 0, 0, 1].assign(-40.0)
    xi = tf.Variable(rng.normal(0.0, 0.5, size=(b, n, 1, v)).astype(np.float32))
    flow = D.PlanarFlow(seed=2)
    weights = tf.constant(rng.normal(size=(1, n + 1, 1, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        if name == 'GS':
            dist = D.GS(mu, 0.01, s)
            dist.generate_sample()
            kl = D.gs_sampled_kl(dist.log_psi, mu, 0.01)
            loss = tf.reduce_sum(dist.psi * weights[:, :n]) + tf.reduce_mean(kl)
            params = [mu]
        else:
            dist = (D.IGR_Planar(mu, xi, 0.01, flow, s) if name == 'IGR_Planar'
                    else D.get_sampler_class(name)(mu, xi, 0.01, s))
            dist.generate_sample()
            psi = dist.psi_padded if name == 'IGR_SB' else dist.psi
            kl = D.gaussian_kl(mu, xi, 0.0, 0.0)
            loss = tf.reduce_sum(psi * weights) + tf.reduce_sum(kl)
            params = [mu, xi] + (flow.trainable_variables if name == 'IGR_Planar' else [])
    grads = tape.gradient(loss, params)
    for param, grad in zip(params, grads):
        assert grad is not None, param.name
        assert np.all(np.isfinite(grad.numpy())), param.name
        assert np.any(grad.numpy() != 0.0), param.name


def test_compiled_igr_sb_step_with_mask():
    """The pure-function path of the VAE (sample, truncate, mask, KL) compiles with XLA and has finite gradients."""
    mu = tf.Variable(tf.random.stateless_normal((4, 10, 1, 3), seed=[20, 0]))
    xi = tf.Variable(tf.fill((4, 10, 1, 3), -1.0))

    @tf.function(jit_compile=True)
    def step(eps):
        with tf.GradientTape() as tape:
            lam = D.igr_sb_lam(mu + tf.exp(xi) * eps)
            n_required, met = D.compute_n_required(lam, 0.9, 'quantile')
            mask = D.truncation_mask(n_required, 10, lam.dtype)
            psi = D.igr_psi(lam, 0.01, mask)
            loss = tf.reduce_sum(psi[:, 0]) + tf.reduce_sum(D.gaussian_kl(mu, xi, 0.0, 0.0) * mask)
        return tape.gradient(loss, [mu, xi]), n_required, met, psi

    grads, n_required, met, psi = step(D.sample_normal((4, 10, 5, 3), seed=21))
    assert psi.shape == (4, 11, 5, 3) and 1 <= int(n_required) <= 10
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)


def test_sum_of_others_keeps_relative_accuracy_next_to_a_dominant_entry():
    rng = np.random.default_rng(0)
    small = rng.uniform(1e-9, 1e-7, size=(6, 7, 2))
    x = np.concatenate([small[:, :3], 1.0 - small.sum(axis=1, keepdims=True), small[:, 3:]], axis=1)  # dominant
    x[0, :] = 0.25                                                                    # all tied
    x[1, 3] = -x[1, 3]                                                                # dominant and negative
    x32 = x.astype(np.float32)
    expected = x32.astype(np.float64).sum(axis=1, keepdims=True) - x32.astype(np.float64)
    got = D._sum_of_others(tf.constant(x32)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=0)
    assert np.all(got[2:, 3] > 0)       # 1 - x_dominant would round to 0 or to a multiple of 6e-8 in float32
