"""softmax++'s delta as a VAE setting (hyper `softmax_delta`, the ablation of the ICML-era original's delta 0.1).

References: TFP's `tfb.SoftmaxCentered` (delta = 1) applied to ``x - log delta``, which equals softmax++ with delta
(``softmax([x, log delta]) = softmax([x - log delta, 0])``), and a float64 numpy softmax. All checks are exact or at
float64 round-off; none is statistical.
"""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from Models import train_vae as tv
from Models.OptVAE import OptVAE
from Utils.relaxed.families import FAMILIES
from Utils.runs.hyper_checks import HyperError
from Utils.runs.runstore import run_key

tfb = tfp.bijectors
IGR_FAMILIES = ('IGR_I', 'IGR_Planar', 'IGR_SB_Finite')


def draws(delta, name='IGR_I', temp=0.7, seed=0):
    rng = np.random.default_rng(seed)
    params = [tf.constant(rng.normal(size=(3, 4, 1, 2))), tf.constant(0.5 * rng.normal(size=(3, 4, 1, 2)))]
    noise = tf.constant(rng.normal(size=(3, 4, 5, 2)))
    family = FAMILIES[name]
    flow = None
    if family.has_flow:
        from Utils.relaxed.planar import PlanarFlow
        flow = PlanarFlow(4, 2, seed=0, dtype=tf.float64)
    return family, params, noise, flow, family.relaxed(params, noise, temp, flow=flow, delta=delta)


@pytest.mark.parametrize('name', IGR_FAMILIES)
@pytest.mark.parametrize('delta', [0.1, 3.0])
def test_psi_is_softmax_centered_of_the_shifted_tempered_draw(name, delta):
    temp = 0.7
    family, params, noise, flow, draw = draws(delta, name, temp)
    x = np.moveaxis(draw['lam'].numpy() / temp - np.log(delta), 1, -1)
    reference = np.moveaxis(tfb.SoftmaxCentered().forward(x).numpy(), -1, 1)
    np.testing.assert_allclose(draw['psi'].numpy(), reference, rtol=1e-12, atol=1e-15)
    full = np.concatenate([draw['lam'].numpy() / temp, np.full_like(x[..., :1], np.log(delta)).swapaxes(1, -1)
                           .reshape(3, 1, 5, 2)], axis=1)
    e = np.exp(full - full.max(axis=1, keepdims=True))
    np.testing.assert_allclose(draw['psi'].numpy(), e / e.sum(axis=1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize('name', IGR_FAMILIES)
def test_delta_one_is_the_default_bit_for_bit_and_delta_leaves_the_zero_temperature_sample(name):
    family, params, noise, flow, default = draws(1.0, name)
    plain = family.relaxed(params, noise, 0.7, flow=flow)
    np.testing.assert_array_equal(default['psi'].numpy(), plain['psi'].numpy())
    _, _, _, _, shifted = draws(0.1, name)
    assert not np.allclose(shifted['psi'].numpy(), plain['psi'].numpy())
    np.testing.assert_array_equal(family.hard(params, noise, shifted).numpy(),
                                  family.hard(params, noise, plain).numpy())


def test_gs_family_refuses_a_delta():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match='delta 0.1'):
        FAMILIES['GS'].relaxed([tf.constant(rng.normal(size=(2, 3, 1, 1)))], tf.zeros((2, 3, 4, 1), tf.float64), 0.5,
                               delta=0.1)


@pytest.mark.parametrize('hyper, words', [
    ({'model_type': 'IGR_I_Dis', 'softmax_delta': 0.}, ['softmax_delta', '0', '> 0']),
    ({'model_type': 'IGR_I_Dis', 'softmax_delta': -1.}, ['softmax_delta', '-1']),
    ({'model_type': 'GS_Dis', 'n_required': 10, 'num_of_discrete_param': 1, 'softmax_delta': 0.1},
     ['softmax_delta', '0.1', 'GS_Dis', 'only 1']),
    ({'model_type': 'DLGMM_IGR', 'architecture': 'dlgmm_dense', 'latent_norm_n': 2, 'n_required': 5,
      'softmax_delta': 0.1}, ['softmax_delta', '0.1', 'DLGMM_IGR', 'only 1']),
])
def test_bad_softmax_delta_raises_naming_value_and_choices(hyper, words):
    with pytest.raises(HyperError) as err:
        tv.validate_hyper(hyper)
    for word in words:
        assert word in str(err.value)


def test_the_default_delta_leaves_run_keys_unchanged_and_another_changes_them():
    base = {'model_type': 'IGR_I_Dis', 'temp': 0.1}
    without = tv.validate_hyper(base)
    without.pop('softmax_delta')
    assert run_key(tv.validate_hyper(base)) == run_key(without)
    assert run_key(tv.validate_hyper({**base, 'softmax_delta': 1})) == run_key(without)
    assert run_key(tv.validate_hyper({**base, 'softmax_delta': 0.1})) != run_key(without)


def test_the_vae_samples_with_its_hyper_delta():
    hyper = tv.validate_hyper({'model_type': 'IGR_Planar_Dis', 'temp': 0.85, 'softmax_delta': 0.1,
                               'num_of_discrete_var': 2, 'batch_n': 3})
    prior = {'mu': np.zeros((1, 9, 1, 1), np.float32), 'xi': np.zeros((1, 9, 1, 1), np.float32)}
    vae = OptVAE(hyper, (28, 28, 1), 'bernoulli', prior=prior)
    assert vae.latent.delta == 0.1
    rng = np.random.default_rng(1)
    params = [tf.constant(rng.normal(size=(3, 9, 1, 2)), tf.float32) for _ in range(2)]
    noise = tf.constant(rng.normal(size=(3, 9, 4, 2)), tf.float32)
    draw = vae.latent.relaxed(params, noise)
    x = np.moveaxis(draw['lam'].numpy().astype(np.float64) / 0.85 - np.log(0.1), 1, -1)
    np.testing.assert_allclose(draw['psi'].numpy(), np.moveaxis(tfb.SoftmaxCentered().forward(x).numpy(), -1, 1),
                               rtol=2e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------------------
# The discrete model with delta: the vertex nearest psi
# ---------------------------------------------------------------------------------------------------------------------
def latent_and_draw(name, delta, temp=0.8, n=4, v=2, b=3, samples=200, exact=True, seed=0):
    from Models.latents import LATENTS
    rng = np.random.default_rng(seed)
    prior = {'mu': rng.normal(size=(1, n, 1, 1)).astype(np.float32),
             'xi': (0.3 * rng.normal(size=(1, n, 1, 1))).astype(np.float32)}
    latent = LATENTS[name](n, v, temp, prior=prior, delta=delta, exact_probs=exact)
    if latent.make_flow() is not None:
        latent.flow(tf.zeros((1, n, 1, v)))   # build the flow's weights
    params = [tf.constant(rng.normal(size=(b, n, 1, v)), tf.float32),
              tf.constant(0.3 * rng.normal(size=(b, n, 1, v)), tf.float32)]
    noise = tf.constant(rng.normal(size=(b, n, samples, v)), tf.float32)
    return latent, params, noise, latent.relaxed(params, noise)


@pytest.mark.parametrize('name', IGR_FAMILIES)
@pytest.mark.parametrize('delta', [0.1, 1.0, 3.0])
def test_the_discrete_sample_is_the_vertex_nearest_psi(name, delta):
    latent, params, noise, draw = latent_and_draw(name, delta)
    hard = latent.hard(params, noise, draw).numpy()
    psi = draw['psi'].numpy()
    np.testing.assert_array_equal(hard.argmax(axis=1), psi.argmax(axis=1))
    assert np.all(hard.sum(axis=1) == 1.)


@pytest.mark.parametrize('delta', [0.1, 3.0])
def test_igr_i_exact_probabilities_with_delta_match_the_frequencies_of_the_nearest_vertex(delta):
    """Quadrature against 200,000 float64 numpy draws of argmax softmax([lam / tau, log delta]) per (image, variable):
    every probability within 5 binomial standard errors (+1e-4). Seeded; for independent draws the chance of a false
    failure is below 6e-7 per probability, about 3e-5 over the 40 probabilities compared."""
    temp = 0.8
    latent, params, noise, draw = latent_and_draw('IGR_I', delta, temp)
    exact = np.exp(latent.log_probs(params, draw).numpy()[:, :, 0, :])              # (b, K, v)
    mu, xi = (p.numpy().astype(np.float64)[:, :, 0, :] for p in params)              # (b, n, v)
    rng = np.random.default_rng(5)
    m = 200_000
    lam = mu[:, :, None, :] + np.exp(xi)[:, :, None, :] * rng.normal(size=(3, 4, m, 2))
    logits = np.concatenate([lam / temp, np.full((3, 1, m, 2), np.log(delta))], axis=1)
    winner = logits.argmax(axis=1)                                                    # (b, m, v)
    freq = np.stack([(winner == k).mean(axis=1) for k in range(5)], axis=1)           # (b, K, v)
    se = np.sqrt(exact * (1. - exact) / m)
    assert np.all(np.abs(freq - exact) <= 5. * se + 1e-4), np.abs(freq - exact).max()
    prior = np.exp(latent.prior_log_probs(draw).numpy()[0, :, 0, 0])
    np.testing.assert_allclose(prior, np.exp(latent.exact_prior_log_probs(None).numpy()[0, :, 0, 0]), atol=1e-5)


def test_stick_breaking_frequencies_with_delta_above_one_let_the_last_category_win():
    """delta 3 at tau 0.8: the last category wins where every piece is below tau log 3 = 0.88 (every stick piece is
    below 1, so often). The running-argmax frequencies over 200 draws equal those of the nearest vertex exactly (the
    same noise)."""
    latent, params, noise, draw = latent_and_draw('IGR_SB_Finite', 3.0)
    freq = latent.category_frequencies(params, noise, None).numpy()[:, :, 0, :]
    nearest = latent.hard(params, noise, draw).numpy().mean(axis=2)
    np.testing.assert_allclose(freq, nearest, atol=1e-6)
    assert nearest[:, -1].mean() > 0.1
