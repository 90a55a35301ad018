"""Importance-weighted log-likelihoods (Models/log_likelihood.py) against exact enumeration and closed forms.

The tiny VAEs have 2 discrete variables x 3 categories on 4x4 binary images, so log p(x) of the discrete model is a
sum over 9 configurations; the relaxed IGR-I model with one variable of 2 categories is a 1-d integral, done by
quadrature. Statistical checks use fixed seeds and 4 standard errors (false-failure rate below 1e-4 each under a
normal approximation).
"""
import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from Models import train_vae as tv
from Models.OptVAE import OptVAE
from Models.log_likelihood import LogLikelihood, prior_standard_error
from Utils import Distributions as dist

tfd = tfp.distributions
IMAGE = (4, 4, 1)
PRIOR = {'mu': np.array([0.3, -0.2], np.float32).reshape(1, 2, 1, 1),
         'xi': np.array([-0.1, 0.2], np.float32).reshape(1, 2, 1, 1)}


def _images(count=20, seed=0, flip=0.2):
    """Noisy copies of 9 random binary prototypes: a latent code of 2 x 3 categories explains them."""
    rs = np.random.RandomState(seed)
    prototypes = rs.rand(9, *IMAGE) < 0.5
    x = prototypes[rs.randint(9, size=count)] ^ (rs.rand(count, *IMAGE) < flip)
    return x.astype(np.float32)


def tiny_vae(model_type, variables=2, temp=0.5, steps=150, seed=0):
    n = 3 if model_type == 'GS_Dis' else 2
    if model_type != 'GS_Dis' and variables == 1:
        n = 1
    h = tv.validate_hyper({'model_type': model_type, 'n_required': n, 'num_of_discrete_var': variables,
                           'temp': temp, 'batch_n': 20, 'seed': seed, 'learning_rate': 3e-3,
                           'prior_file': None if model_type == 'GS_Dis' else 'unused.pkl'})
    prior = None if model_type == 'GS_Dis' else {k: v[:, :n] for k, v in PRIOR.items()}
    tf.keras.utils.set_random_seed(seed)
    model = OptVAE(h, IMAGE, 'bernoulli', prior=prior)
    x = tf.constant(_images(seed=seed))
    for _ in range(steps):
        model.train_step(x)
    return model, _images(seed=seed)


def batches(x, per_batch=10):
    return tf.constant(x.reshape((len(x) // per_batch, per_batch) + x.shape[1:]))


def _configurations(model):
    """One-hot codes of every configuration (1, K, C, v) and their indices (C, v)."""
    K, v = model.latent.categories, model.latent.v
    configs = np.array(list(itertools.product(range(K), repeat=v)))
    psi = np.zeros((1, K, len(configs), v), np.float32)
    for s, code in enumerate(configs):
        psi[0, code, s, np.arange(v)] = 1.
    return psi, configs


def _log_px_all(model, x, psi):
    psi = np.broadcast_to(psi, (len(x),) + psi.shape[1:])
    return model.log_px_samples(tf.constant(x), None, tf.constant(psi)).numpy().astype(np.float64)


def _code_log_prob(log_probs, configs):
    """sum_v log p(b_v) for every configuration: log_probs (b, K, 1, v or 1) -> (b, C)."""
    lp = np.asarray(log_probs, np.float64)[:, :, 0, :]
    lp = np.broadcast_to(lp, lp.shape[:2] + (configs.shape[1],))
    return sum(lp[:, configs[:, j], j] for j in range(configs.shape[1]))


def exact_log_px(model, x, log_prior):
    psi, configs = _configurations(model)
    joint = _log_px_all(model, x, psi) + _code_log_prob(log_prior, configs)
    return np.logaddexp.reduce(joint, axis=1)


def exact_discrete_elbo(model, x):
    """sum_b q(b | x) [log p(x | b) + log p(b) - log q(b | x)], q the encoder's categorical (GS, IGR-I: exact)."""
    psi, configs = _configurations(model)
    _, params = model.encode(tf.constant(x))
    log_q = _code_log_prob(model.latent.proposal_log_probs(params, None, None).numpy(), configs)
    log_p = _code_log_prob(model.latent.exact_prior_log_probs(None).numpy(), configs)
    return np.sum(np.exp(log_q) * (_log_px_all(model, x, psi) + log_p - log_q), axis=1)


@pytest.fixture(scope='module', params=['GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis'])
def trained(request):
    return request.param, tiny_vae(request.param)


def test_discrete_estimate_matches_enumeration(trained):
    model_type, (model, x) = trained
    estimator = LogLikelihood(model, 2000, seed=1)
    _, discrete, _ = estimator.per_image(batches(x))
    log_prior, draws = estimator.prior_log_probs()
    exact = exact_log_px(model, x, log_prior.numpy())
    error = discrete - exact
    se = np.std(error, ddof=1) / np.sqrt(len(error))
    assert abs(np.mean(error)) <= 4 * se + 1e-4, (model_type, np.mean(error), se)
    assert np.max(np.abs(error)) < 0.2, model_type
    if draws:  # a Monte Carlo prior: the exact log p(x) under the true prior is within the stated prior error
        result = estimator(batches(x))
        assert result['TeLLD_prior_se'] > 0.
        assert result['TeLLD_prior_se'] < 0.01


@pytest.mark.parametrize('model_type, steps', [('GS_Dis', 100), ('IGR_I_Dis', 300)])
def test_single_sample_is_the_discrete_elbo_and_the_estimate_grows_with_s(model_type, steps):
    model, x = tiny_vae(model_type, steps=steps)   # (GS collapses to its prior on these images when trained longer)
    elbo = exact_discrete_elbo(model, x)
    exact = exact_log_px(model, x, model.latent.exact_prior_log_probs(None).numpy())
    assert np.mean(exact - elbo) > 0.05, 'the tiny model must have a bound gap for this test to mean anything'
    estimators = {s: LogLikelihood(model, s) for s in (1, 10, 100)}
    repeats = {s: np.stack([est.per_image(batches(x), seed=seed)[1] for seed in range(30)])
               for s, est in estimators.items()}
    one = repeats[1]
    diff = one.mean(axis=0) - elbo
    assert abs(diff.mean()) <= 4 * one.std(ddof=1) / np.sqrt(one.size)
    for small, large in ((1, 10), (10, 100)):
        gain = (repeats[large] - repeats[small]).mean(axis=1)           # paired by seed
        assert gain.mean() > -4 * gain.std(ddof=1) / np.sqrt(len(gain)), (small, large)
    gain = (repeats[100] - repeats[1]).mean(axis=1)
    assert gain.mean() > 4 * gain.std(ddof=1) / np.sqrt(len(gain))
    below = exact - repeats[100].mean(axis=0)                           # E[LL_S] <= log p(x)
    assert below.mean() > -4 * below.std(ddof=1) / np.sqrt(len(below))


def test_relaxed_estimate_matches_quadrature():
    """IGR-I with one variable of 2 categories: p(x) = int N(k; mu0, s0) p(x | softmax++(k / tau)) dk."""
    model, x = tiny_vae('IGR_I_Dis', variables=1, temp=0.5)
    relaxed, _, _ = LogLikelihood(model, 3000, seed=2).per_image(batches(x))
    mu0, s0 = float(PRIOR['mu'][0, 0, 0, 0]), float(np.exp(PRIOR['xi'][0, 0, 0, 0]))
    nodes = np.linspace(mu0 - 9 * s0, mu0 + 9 * s0, 4001)
    psi = dist.igr_psi(tf.constant(nodes.reshape(1, 1, -1, 1), tf.float32), 0.5).numpy()
    log_px = _log_px_all(model, x, psi)
    log_prior = -0.5 * ((nodes - mu0) / s0) ** 2 - np.log(s0 * np.sqrt(2 * np.pi))
    exact = np.logaddexp.reduce(log_px + log_prior + np.log(nodes[1] - nodes[0]), axis=1)
    error = relaxed - exact
    assert abs(np.mean(error)) <= 4 * np.std(error, ddof=1) / np.sqrt(len(error)) + 1e-3
    assert np.max(np.abs(error)) < 0.2   # per image: S = 3000 leaves ~0.01-0.1 of Monte Carlo error here


def test_igr_weight_equals_change_of_variables_densities():
    model, x = tiny_vae('IGR_I_Dis', steps=5)
    _, params = model.encode(tf.constant(x))
    noise = model.latent.noise(tf.random.Generator.from_seed(3), len(x), 7)
    draw = model.latent.relaxed(params, noise)
    weight = model.latent.log_ratio(params, draw).numpy()
    log_psi = dist.igr_log_psi(draw['lam'], model.latent.temp)
    mu0, xi0 = model.latent.mu0, model.latent.xi0
    direct = (dist.igr_i_log_prob(log_psi, mu0, xi0, model.latent.temp)
              - dist.igr_i_log_prob(log_psi, params[0], params[1], model.latent.temp)).numpy()
    np.testing.assert_allclose(weight, direct, rtol=1e-4, atol=2e-4)


def test_gs_weight_equals_tfp_exp_relaxed_densities():
    model, x = tiny_vae('GS_Dis', steps=5)
    _, params = model.encode(tf.constant(x))
    noise = model.latent.noise(tf.random.Generator.from_seed(4), len(x), 7)
    draw = model.latent.relaxed(params, noise)
    weight = model.latent.log_ratio(params, draw).numpy()                      # (b, S, v)
    y = tf.transpose(draw['log_psi'], [0, 2, 3, 1])                             # (b, S, v, K)
    logits = tf.transpose(params[0], [0, 2, 3, 1])
    posterior = tfd.ExpRelaxedOneHotCategorical(model.latent.temp, logits=logits)
    prior = tfd.ExpRelaxedOneHotCategorical(model.latent.temp, logits=tf.zeros_like(logits))
    np.testing.assert_allclose(weight, (prior.log_prob(y) - posterior.log_prob(y)).numpy(), rtol=1e-4, atol=1e-3)


def test_proposals_are_finite_on_every_allowed_category():
    model, x = tiny_vae('IGR_I_Dis', steps=5)
    _, (mu, xi) = model.encode(tf.constant(x))
    far = [mu + 12., xi - 3.]               # float32 quadrature would give probabilities of exactly 0 here
    log_r = model.latent.proposal_log_probs(far, None, None).numpy()
    assert np.all(np.isfinite(log_r))
    np.testing.assert_allclose(np.exp(log_r).sum(axis=1), 1., atol=1e-6)
    planar, _ = tiny_vae('IGR_Planar_Dis', steps=5)
    _, params = planar.encode(tf.constant(x))
    noise = planar.latent.noise(tf.random.Generator.from_seed(0), len(x), 100)
    log_r = planar.latent.proposal_log_probs(params, None, noise).numpy()
    assert np.all(np.isfinite(log_r)) and np.all(np.exp(log_r) >= 0.05 / 3 - 1e-7)


def test_truncated_stick_breaking_keeps_masked_categories_impossible():
    model, x = tiny_vae('IGR_SB_Dis', steps=5)
    estimator = LogLikelihood(model, 50, categories=2)
    log_prior, _ = estimator.prior_log_probs()
    assert np.isneginf(log_prior.numpy()[0, 1, 0, 0]) and np.all(np.isfinite(log_prior.numpy()[0, [0, 2]]))
    result = estimator(batches(x))
    assert np.isfinite(result['TeLLD']) and np.isfinite(result['TeLL'])
    with pytest.raises(ValueError, match='bad categories 7'):
        LogLikelihood(model, 5, categories=7)


def test_prior_standard_error_matches_a_simulation():
    """The delta-method error against the spread of log-mean estimates over re-drawn multinomial priors."""
    rs = np.random.RandomState(0)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    g = np.array([[0.6, 0.2], [0.2, 0.5], [0.15, 0.2], [0.05, 0.1]])      # columns sum to 1
    draws = 4000
    # TeLLD moves by sum_vk g_vk d log p_k, to first order
    shifts = [np.sum(g * (np.log(rs.multinomial(draws, p) / draws) - np.log(p))[:, None]) for _ in range(4000)]
    predicted = prior_standard_error(g, np.log(p).reshape(1, 4, 1, 1), draws, pooled=True)
    assert abs(np.std(shifts) / predicted - 1.) < 0.1


def test_bad_sample_count_is_refused():
    model, _ = tiny_vae('GS_Dis', steps=1)
    with pytest.raises(ValueError, match='bad log-likelihood samples 0'):
        LogLikelihood(model, 0)
