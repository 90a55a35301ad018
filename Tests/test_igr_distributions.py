"""IGR as TFP distributions (Utils/igr_distributions.py): shapes, densities against the project's formula and TFP's
own transformed distribution, bijector round trips, the registered KL against Monte Carlo, gradients, category
probabilities, XLA, argument validation, and use from outside the repository.

Statistical checks use fixed seeds and 5 standard errors (false-failure rate below 1e-6 each, normal approximation).
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from Utils import Distributions as dist
from Utils.Distributions import IGR, IGRBernoulli, IGRPlanar, IGRStickBreaking
from Utils import igr_distributions as igd

tfd, tfb = tfp.distributions, tfp.bijectors
REPO = Path(__file__).resolve().parents[1]


def planar_params(n=3, batch=(), layers=2, seed=0, dtype=tf.float32, u_scale=1.):
    rs = np.random.RandomState(seed)
    shape = tuple(batch) + (layers, n)
    return (tf.constant(rs.randn(*shape) * 0.5, dtype), tf.constant(rs.randn(*shape) * u_scale, dtype),
            tf.constant(rs.randn(*shape[:-1]) * 0.3, dtype))


def make(family, loc, scale, temp, dtype=tf.float32, u_scale=1., **kw):
    loc, scale = tf.constant(loc, dtype), tf.constant(scale, dtype)
    if family == 'planar':
        batch = tf.broadcast_static_shape(loc.shape, scale.shape)[:-1]
        return IGRPlanar(loc, scale, temp, *planar_params(loc.shape[-1], batch, dtype=dtype, u_scale=u_scale), **kw)
    return {'igr': IGR, 'sb': IGRStickBreaking}[family](loc, scale, temp, **kw)


FAMILIES = ['igr', 'planar', 'sb']


@pytest.mark.parametrize('family', FAMILIES)
@pytest.mark.parametrize('loc_shape, scale_shape, batch', [((3,), (3,), ()), ((5, 3), (5, 3), (5,)),
                                                            ((2, 1, 3), (4, 3), (2, 4))])
def test_shapes(family, loc_shape, scale_shape, batch):
    rs = np.random.RandomState(0)
    d = make(family, rs.randn(*loc_shape), np.exp(rs.randn(*scale_shape) * 0.3), 0.5)
    assert d.batch_shape == batch and d.event_shape == (4,)
    assert d.reparameterization_type == tfd.FULLY_REPARAMETERIZED
    x = d.sample(7, seed=(1, 2))
    assert x.shape == (7,) + batch + (4,)
    np.testing.assert_allclose(x.numpy().sum(-1), 1., atol=1e-5)
    assert d.log_prob(x).shape == (7,) + batch
    assert d.hard_sample(7, seed=(1, 2)).shape == (7,) + batch + (4,)
    np.testing.assert_array_equal(x.numpy(), d.sample(7, seed=(1, 2)).numpy())  # stateless seeds


@pytest.mark.parametrize('delta', [1., 2.5])
def test_igr_log_prob_is_the_change_of_variables_density(delta):
    rs = np.random.RandomState(1)
    loc, scale = rs.randn(6, 4), np.exp(rs.randn(6, 4) * 0.5)
    d = IGR(tf.constant(loc, tf.float64), tf.constant(scale, tf.float64), 0.3, delta=delta)
    x = tf.identity(d.sample(5, seed=(3, 4)))               # a new tensor: no bijector cache
    project = dist.igr_i_log_prob(tf.transpose(tf.math.log(x), [1, 2, 0])[:, :, :, None],
                                  loc[:, :, None, None], np.log(scale)[:, :, None, None], 0.3, delta=delta)
    np.testing.assert_allclose(d.log_prob(x).numpy(), tf.transpose(project[:, :, 0]).numpy(), rtol=1e-9)
    if delta == 1.:
        scale_by = tfb.Scale(tf.constant(1. / 0.3, tf.float64))
        tfp_own = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc, scale),
                                              tfb.Chain([tfb.SoftmaxCentered(), scale_by]))
        # TFP measures volume on the simplex: 0.5 log K more log-determinant
        np.testing.assert_allclose(d.log_prob(x).numpy(), tfp_own.log_prob(x).numpy() + 0.5 * np.log(5.),
                                   rtol=1e-9)


def test_stick_breaking_and_planar_log_probs_by_change_of_variables():
    rs = np.random.RandomState(2)
    loc, scale = rs.randn(3), np.exp(rs.randn(3) * 0.3)
    for family in ('planar', 'sb'):
        d = make(family, loc, scale, 0.7, dtype=tf.float64)
        z = tfd.Normal(tf.constant(loc), tf.constant(scale)).sample(11, seed=(5, 6))
        lam = d.transform(z)
        z_fresh = tf.identity(z)                     # not the tensor in the bijector cache: a taped forward pass
        with tf.GradientTape() as tape:
            tape.watch(z_fresh)
            lam_t = d.transform(z_fresh)
        log_det_h = tf.math.log(tf.abs(tf.linalg.det(tape.batch_jacobian(lam_t, z_fresh))))
        psi = dist.softmax_pp(lam / 0.7)                                            # (samples, K)
        expected = (tf.reduce_sum(tfd.Normal(loc, scale).log_prob(z), -1) - log_det_h
                    + 3 * np.log(0.7) - tf.reduce_sum(tf.math.log(psi), 1))
        np.testing.assert_allclose(d.log_prob(psi).numpy(), expected.numpy(), rtol=1e-8)


@pytest.mark.parametrize('dtype', [tf.float32, tf.float64])
@pytest.mark.parametrize('family', FAMILIES)
@pytest.mark.parametrize('temp', [1., 0.1, 0.01])
def test_bijector_round_trips(family, temp, dtype):
    """A sample's own tensor inverts exactly (TFP's bijector cache) and has a finite density at any temperature and
    |loc| <= 20; from values alone the inverse is accurate where every entry is representable (the spread of
    h(z) / tau within the float range: |loc| <= 20 tau in float32, 200 tau in float64)."""
    rs = np.random.RandomState(3)
    loc = rs.uniform(-20., 20., size=(50, 4))
    d = make(family, loc, np.full((50, 4), 0.5), temp, dtype=dtype)
    z = d.distribution.sample(3, seed=(7, 8))
    x = d.bijector.forward(z)
    np.testing.assert_array_equal(d.bijector.inverse(x).numpy(), z.numpy())
    assert np.all(np.isfinite(d.log_prob(x).numpy()))
    spread = min(20., (20. if dtype == tf.float32 else 200.) * temp)
    if family == 'sb':   # the pieces must not use up the stick: 1 - sum(lam) is recovered by a subtraction
        spread = min(spread, 3.)
    d = make(family, loc * spread / 20., np.full((50, 4), spread / 10.), temp, dtype=dtype, u_scale=spread / 20.)
    z = d.distribution.sample(3, seed=(7, 8))
    x = d.bijector.forward(z).numpy()
    back = d.bijector.inverse(tf.constant(x)).numpy()                              # a new tensor: values only
    # (IGR-Planar: the flow itself moves z by up to ~0.35 / |w| even for small u, which can still underflow float32
    # at tau = 0.01; those samples cannot be inverted from their values)
    representable = np.all(x > np.finfo(dtype.as_numpy_dtype).tiny * 1e6, axis=-1)
    assert representable.mean() > 0.5
    tolerance = (3e-4 if dtype == tf.float32 else 1e-9) * max(spread, 1.)
    np.testing.assert_allclose(back[representable], z.numpy()[representable],
                               atol=tolerance * (100. if family == 'sb' else 1.))


@pytest.mark.parametrize('family', FAMILIES)
def test_registered_kl_matches_monte_carlo(family):
    rs = np.random.RandomState(4)
    p = make(family, rs.randn(2, 3), np.exp(rs.randn(2, 3) * 0.3), 0.4, dtype=tf.float64)
    if family == 'planar':
        q = IGRPlanar(tf.constant(rs.randn(2, 3)), tf.constant(np.exp(rs.randn(2, 3) * 0.3)), 0.4, *p.flow_params)
    else:
        q = make(family, rs.randn(2, 3), np.exp(rs.randn(2, 3) * 0.3), 0.4, dtype=tf.float64)
    x = p.sample(20000, seed=(9, 9))
    log_ratio = (p.log_prob(x) - q.log_prob(x)).numpy()
    kl = tfd.kl_divergence(p, q).numpy()
    se = log_ratio.std(axis=0, ddof=1) / np.sqrt(len(log_ratio))
    assert np.all(np.abs(log_ratio.mean(axis=0) - kl) < 5 * se), (log_ratio.mean(0), kl, se)


def test_kl_refuses_different_maps():
    a = IGR(tf.zeros(3), tf.ones(3), 0.5)
    with pytest.raises(ValueError, match='one family, temperature, delta'):
        tfd.kl_divergence(a, IGR(tf.zeros(3), tf.ones(3), 0.3))
    with pytest.raises(ValueError, match='one family'):
        tfd.kl_divergence(a, IGR(tf.zeros(3), tf.ones(3), 0.5, delta=2.))
    with pytest.raises(ValueError, match='one family'):
        tfd.kl_divergence(a, IGRStickBreaking(tf.zeros(3), tf.ones(3), 0.5))
    p = make('planar', np.zeros(3), np.ones(3), 0.5)
    other = IGRPlanar(tf.zeros(3), tf.ones(3), 0.5, *planar_params(seed=5))
    with pytest.raises(ValueError, match='planar flows differ'):
        tfd.kl_divergence(p, other)
    b = IGRBernoulli(0., 1., 0.5)
    np.testing.assert_allclose(tfd.kl_divergence(b, IGRBernoulli(1., 2., 0.5)).numpy(),
                               tfd.kl_divergence(tfd.Normal(0., 1.), tfd.Normal(1., 2.)).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match='one temperature'):
        tfd.kl_divergence(b, IGRBernoulli(0., 1., 0.1))


@pytest.mark.parametrize('family', FAMILIES)
def test_gradients_flow_and_are_finite_at_low_temperature(family):
    loc, scale = tf.Variable([0.5, -1., 2.]), tf.Variable([1., 0.3, 0.7])
    if family == 'planar':
        w, u, b = (tf.Variable(t) for t in planar_params())
        d, extra = IGRPlanar(loc, scale, 0.01, w, u, b), [w, u, b]
    else:
        d, extra = {'igr': IGR, 'sb': IGRStickBreaking}[family](loc, scale, 0.01), []
    target = tf.constant([0.1, 0.2, 0.3, 0.4])
    with tf.GradientTape() as tape:
        x = d.sample(50, seed=(1, 1))
        loss = tf.reduce_mean(tf.square(x - target)) - tf.reduce_mean(d.log_prob(x))
    grads = tape.gradient(loss, [loc, scale] + extra)
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)
    assert all(np.any(g.numpy() != 0.) for g in grads)


@pytest.mark.parametrize('family', FAMILIES)
def test_categorical_probs_match_argmax_frequencies(family):
    rs = np.random.RandomState(6)
    d = make(family, rs.randn(2, 3), np.exp(rs.randn(2, 3) * 0.3), 0.5)
    probs = d.categorical_probs(num_samples=20000, seed=(2, 3)).numpy()
    np.testing.assert_allclose(probs.sum(-1), 1., atol=1e-5)
    freq = tf.reduce_mean(d.hard_sample(40000, seed=(4, 5)), 0).numpy()
    se = np.sqrt(np.maximum(freq * (1 - freq), 1e-4) * (1 / 40000 + (0 if family == 'igr' else 1 / 20000)))
    assert np.all(np.abs(probs - freq) < 5 * se)
    assert np.all(np.isfinite(IGR(tf.constant([8., -8.]), tf.constant([0.5, 0.5]), 0.5).categorical_log_probs()))


def test_straight_through_is_one_hot_forward_and_relaxed_backward():
    loc = tf.Variable([0.5, -1., 2.])
    d = IGR(loc, tf.ones(3), 0.5)
    target = tf.constant([0.1, 0.2, 0.3, 0.4])
    with tf.GradientTape(persistent=True) as tape:
        st = d.straight_through_sample(20, seed=(1, 2))
        relaxed = d.sample(20, seed=(1, 2))
        loss_st, loss_relaxed = tf.reduce_sum(st * target), tf.reduce_sum(relaxed * target)
    np.testing.assert_array_equal(np.sort(st.numpy(), -1)[..., -1], 1.)
    np.testing.assert_array_equal(st.numpy(), d.hard_sample(20, seed=(1, 2)).numpy())
    np.testing.assert_allclose(tape.gradient(loss_st, loc).numpy(), tape.gradient(loss_relaxed, loc).numpy(),
                               rtol=1e-5)


def test_bernoulli_density_and_probability():
    d = IGRBernoulli(tf.constant([0.3, -1.]), tf.constant([0.5, 2.]), 0.4)
    y = tf.identity(d.sample(9, seed=(1, 2)))
    tau, loc, scale = 0.4, np.array([0.3, -1.]), np.array([0.5, 2.])
    yv = y.numpy().astype(np.float64)
    z = tau * np.log(yv / (1 - yv))
    expected = (-0.5 * ((z - loc) / scale) ** 2 - np.log(scale * np.sqrt(2 * np.pi)) + np.log(tau)
                - np.log(yv) - np.log1p(-yv))
    np.testing.assert_allclose(d.log_prob(y).numpy(), expected, rtol=2e-4, atol=2e-4)
    z = d.distribution.sample(5, seed=(5, 6))                 # the project's sampler, same noise, same values
    np.testing.assert_allclose(d.bijector.forward(z).numpy(),
                               dist.igr_bernoulli(d.loc, tf.math.log(d.scale), tau, (z - d.loc) / d.scale).numpy(),
                               rtol=1e-5, atol=1e-6)
    freq = np.mean(d.sample(40000, seed=(3, 4)).numpy() > 0.5, axis=0)
    probs = d.bernoulli_probs().numpy()
    assert np.all(np.abs(freq - probs) < 5 * np.sqrt(probs * (1 - probs) / 40000))


def test_under_xla():
    """Sampling, log_prob, KL and the exact category probabilities compile with jit_compile=True. (XLA's stateless
    random numbers differ from graph mode's for one seed, so XLA's log_prob is checked on XLA's own samples.)"""
    w, u, b = planar_params()
    loc, scale = tf.constant([[0.3, -0.2, 1.]]), tf.constant([[1., 0.5, 2.]])
    make_all = lambda: (IGR(loc, scale, 0.3), IGRPlanar(loc, scale, 0.3, w, u, b), IGRStickBreaking(loc, scale, 0.3),
                        IGRBernoulli(loc, scale, 0.3))

    @tf.function(jit_compile=True)
    def run():
        out = []
        for d in make_all():
            x = d.sample(4, seed=(1, 2))
            out.append((x, d.log_prob(x), tfd.kl_divergence(d, d)))
        return out, IGR(loc, scale, 0.3).categorical_probs()

    compiled, probs = run()
    for d, (x, log_prob, kl) in zip(make_all(), compiled):
        np.testing.assert_allclose(log_prob.numpy(), d.log_prob(tf.constant(x.numpy())).numpy(), rtol=1e-4,
                                   atol=1e-4)
        np.testing.assert_allclose(kl.numpy(), 0., atol=1e-6)
    np.testing.assert_allclose(probs.numpy(), IGR(loc, scale, 0.3).categorical_probs().numpy(), atol=1e-6)


def test_validate_args_rejects_bad_temperature_and_scale():
    for cls in (IGR, IGRStickBreaking, IGRBernoulli):
        with pytest.raises(ValueError, match='temperature must be > 0'):
            cls(tf.zeros(3), tf.ones(3), 0., validate_args=True)
        with pytest.raises(ValueError, match='scale must be > 0'):
            cls(tf.zeros(3), -tf.ones(3), 0.5, validate_args=True)
    scale = tf.Variable([1., 1., 1.])
    d = IGR(tf.zeros(3), scale, 0.5, validate_args=True)
    scale.assign([1., -1., 1.])
    with pytest.raises(tf.errors.InvalidArgumentError, match='scale must be > 0'):
        d.sample(seed=(1, 2))
    with pytest.raises(ValueError, match='temperature must be a scalar'):
        IGR(tf.zeros(3), tf.ones(3), [0.5, 0.5])
    with pytest.raises(ValueError, match='delta must be > 0'):
        IGR(tf.zeros(3), tf.ones(3), 0.5, delta=0.)


def test_planar_params_from_the_project_layer_give_the_same_map():
    layer = dist.PlanarFlow(3, 2, seed=0)
    z = tf.random.stateless_normal((5, 3, 1, 2), seed=(1, 2))
    w, u, b = igd.planar_params_from_layer(layer)
    d = IGRPlanar(tf.zeros((2, 3)), tf.ones((2, 3)), 0.5, w, u, b)
    ours = d.transform(tf.transpose(z[:, :, 0, :], [0, 2, 1]))                    # (5, v, n)
    np.testing.assert_allclose(ours.numpy(), tf.transpose(layer(z)[:, :, 0, :], [0, 2, 1]).numpy(), rtol=1e-5,
                               atol=1e-6)


def test_stick_breaking_pieces_needed():
    d = IGRStickBreaking(tf.fill([20], 1.5), tf.fill([20], 0.5), 0.5)
    pieces, met = d.pieces_needed(num_samples=200, threshold=0.99, seed=(1, 2))
    lam = d.transform(d.distribution.sample(200, seed=(1, 2))).numpy()
    needed = 1 + np.sum(np.cumsum(lam, -1) <= 0.99, -1)
    assert bool(met) and int(pieces) == int(np.sort(needed)[int(np.ceil(0.7 * 200)) - 1])


def test_importable_from_outside_the_repository(tmp_path):
    """`pip install -e <repo>` (done by `make install`) makes the package importable from any folder."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    code = ('import Utils.Distributions as d; from Utils.Distributions import IGR; '
            'print(d.__file__); print(IGR([0.], [1.], 0.5).sample(seed=(1, 2)).shape)')
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f'not importable outside the repository (run `pip install -e {REPO}`):\n{out.stderr}'
    assert out.stdout.splitlines()[0].startswith(str(REPO)) and out.stdout.splitlines()[1] == '(2,)'


def _python_block_after(path, marker):
    """The first ```python block after `marker` in the markdown file `path`."""
    text = path.read_text()
    start = text.index('```python', text.index(marker)) + len('```python')
    return text[start:text.index('```', start)]


def test_docs_keras_vae_example_trains_and_its_loss_falls():
    """The tf.keras VAE with IGR latents of docs/igr_distributions.md runs, and its loss goes down."""
    code = _python_block_after(REPO / 'docs' / 'igr_distributions.md', '<!-- igr-keras-example -->')
    namespace = {}
    exec(compile(code.replace('STEPS = 200', 'STEPS = 30'), 'docs/igr_distributions.md example', 'exec'), namespace)
    losses = namespace['losses']
    assert len(losses) == 30 and np.all(np.isfinite(losses)) and np.mean(losses[-5:]) < np.mean(losses[:5])


def test_readme_igr_snippet_runs_with_the_shapes_it_states():
    """The short IGR snippet of README.md runs, and its sample, KL and hard sample have the shapes its comments say."""
    code = _python_block_after(REPO / 'README.md', '<!-- igr-readme-snippet -->')
    namespace = {}
    exec(compile(code, 'README.md snippet', 'exec'), namespace)
    k = namespace['K']
    psi, kl, one_hot = namespace['psi'].numpy(), namespace['kl'].numpy(), namespace['one_hot'].numpy()
    assert psi.shape == (64, k) and np.allclose(psi.sum(-1), 1, atol=1e-5) and np.all(psi >= 0)
    assert kl.shape == (64,) and np.all(np.isfinite(kl)) and np.allclose(kl, 0, atol=1e-6)  # q equals the prior
    assert one_hot.shape == (64, k) and np.all(one_hot.sum(-1) == 1) and set(np.unique(one_hot)) <= {0, 1}
