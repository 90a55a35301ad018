"""The original code's setup where it decides results: the IGR-I / IGR-Planar priors and the Gaussian decoder output.

References: the constants of the original's `initialize_mu_and_xi_for_logistic` (5eaac6f), Monte Carlo argmax
frequencies of the zero-temperature sample, and a float64 numpy transcription of the original's Gaussian
log-density (mean sigmoid(out_1), std 1e-6 + softplus(out_2) of an ELU output).
"""
import numpy as np
import pytest
import tensorflow as tf

from Models import train_vae as tv
from Models.VAENet import GaussianLikelihood, VAENet
from Utils.Distributions import compute_igr_probs
from Utils.general import ORIGINAL_LOGISTIC_XI, original_logistic_prior, standard_normal_prior

PIXEL_BOUND = float(-np.log(np.log1p(np.exp(-1.))) - 0.5 * np.log(2. * np.pi))
"""Largest per-pixel log-density under an ELU output: std >= softplus(-1), so log N <= -log softplus(-1) -
log(2 pi) / 2 = 0.242 nats."""


def test_original_logistic_prior_constants():
    prior = original_logistic_prior(9)
    assert prior['mu'].shape == prior['xi'].shape == (1, 9, 1, 1)
    np.testing.assert_allclose(prior['mu'], np.log(1. / 8.), rtol=1e-7)          # log((1/n) / (1 - 1/n)), n = 9
    np.testing.assert_array_equal(prior['xi'], np.float32(0.5413))
    np.testing.assert_allclose(np.exp(ORIGINAL_LOGISTIC_XI), 1.7182, atol=1e-4)   # sigma0
    np.testing.assert_allclose(ORIGINAL_LOGISTIC_XI, np.log(np.expm1(1.)), atol=1e-4)  # softplus^-1(1)
    np.testing.assert_array_equal(standard_normal_prior(9)['mu'], 0.)
    np.testing.assert_array_equal(standard_normal_prior(9)['xi'], 0.)


@pytest.mark.parametrize('prior, expected_last', [(original_logistic_prior(9), 0.3395),
                                                  (standard_normal_prior(9), 2. ** -9)])
def test_induced_category_distribution_quadrature_against_monte_carlo(prior, expected_last):
    mu, sigma = prior['mu'][0, :, 0, 0].astype(np.float64), np.exp(prior['xi'][0, :, 0, 0].astype(np.float64))
    exact = np.asarray(compute_igr_probs(mu[None, :, None], sigma[None, :, None]))[0, :, 0]
    draws = 400_000
    z = np.random.default_rng(7).normal(mu, sigma, size=(draws, 9))
    winner = np.argmax(np.concatenate([z, np.zeros((draws, 1))], axis=1), axis=1)  # softmax++ at tau -> 0
    freq = np.bincount(winner, minlength=10) / draws
    # 5 binomial standard errors per category: a false failure about once in 1.7 million per category
    se = np.sqrt(exact * (1. - exact) / draws)
    np.testing.assert_array_less(np.abs(freq - exact), 5. * se + 1e-12)
    np.testing.assert_allclose(exact.sum(), 1., atol=1e-5)  # 1e-6 per category in float32 (compute_igr_probs)
    np.testing.assert_allclose(exact[-1], expected_last, atol=5e-5)
    np.testing.assert_allclose(exact[:-1], exact[0], atol=1e-6)  # the first n categories are exchangeable


def test_default_priors_are_the_originals_and_learned_stays_available():
    complete = lambda **h: tv.validate_hyper(h)['prior_file']
    assert complete(model_type='IGR_I_Dis') == 'original_logistic'
    assert complete(model_type='IGR_Planar_Dis') == 'original_logistic'
    assert complete(model_type='IGR_I', latent_norm_n=4) == 'standard_normal'
    assert complete(model_type='IGR_Planar', latent_norm_n=4) == 'standard_normal'
    assert complete(model_type='IGR_SB_Finite_Dis') == 'mu_xi_unif_10_IGR_SB_Finite.pkl'
    assert complete(model_type='IGR_SB_Dis', n_required=49) == 'mu_xi_unif_50_IGR_SB.pkl'
    assert complete(model_type='GS_Dis', n_required=10) is None
    assert complete(model_type='IGR_I_Dis', prior_file='learned') == 'mu_xi_unif_10_IGR_I.pkl'
    assert complete(model_type='IGR_Planar_Dis', prior_file='learned') == 'mu_xi_unif_10_IGR_I.pkl'
    loaded = tv.load_prior_for(tv.validate_hyper({'model_type': 'IGR_I_Dis'}))
    np.testing.assert_array_equal(loaded['mu'], original_logistic_prior(9)['mu'])
    with pytest.raises(ValueError, match='prior_file'):
        tv.validate_hyper({'model_type': 'IGR_I_Dis', 'prior_file': 3})


def test_decoder_output_defaults_by_likelihood_and_is_validated():
    out = lambda **h: tv.validate_hyper(h)['decoder_output']
    assert out(dataset_name='mnist') == 'linear'
    assert out(dataset_name='fmnist') == 'elu'
    assert out(dataset_name='celeb_a', architecture='conv_jointvae') == 'elu'
    assert out(dataset_name='fmnist', decoder_output='linear') == 'linear'
    with pytest.raises(ValueError, match="bad decoder_output 'relu'.*elu, linear"):
        tv.validate_hyper({'decoder_output': 'relu'})


def _wild_weights(net, seed):
    rng = np.random.default_rng(seed)
    for weight in net.decoder.weights:
        weight.assign(rng.normal(0., 3., weight.shape).astype(np.float32))


@pytest.mark.parametrize('architecture, shape', [('dense', (28, 28, 1)), ('conv_jointvae', (32, 32, 1)),
                                                 ('conv_jointvae', (64, 64, 3))])
def test_elu_output_bounds_the_mean_std_and_density_for_any_weights(architecture, shape):
    net = VAENet(architecture, shape, 'gaussian', [6, 6], 12, output_activation='elu')
    for seed in range(3):
        _wild_weights(net, seed)
        out = net.decode(tf.constant(np.random.default_rng(seed).normal(0., 5., (8, 12)), tf.float32))
        loc, scale = GaussianLikelihood.split(out)
        assert float(tf.reduce_min(out)) >= -1.  # float32 ELU reaches -1 exactly
        assert float(tf.reduce_min(loc)) >= 1. / (1. + np.e) - 1e-7                 # sigmoid(-1) = 0.269
        assert float(tf.reduce_min(scale)) >= np.log1p(np.exp(-1.)) - 1e-7           # softplus(-1) = 0.313
        worst = GaussianLikelihood.log_prob(loc[:, None], out[:, None])              # x = mean: the largest density
        assert float(tf.reduce_max(worst)) <= np.prod(shape) * PIXEL_BOUND + 1e-3
    linear = VAENet(architecture, shape, 'gaussian', [6, 6], 12, output_activation='linear')
    _wild_weights(linear, 0)
    assert float(tf.reduce_min(linear.decode(tf.ones((8, 12)) * 5.))) < -1.  # what the ELU prevents


def test_gaussian_log_density_equals_the_originals_formula_in_float64():
    rng = np.random.default_rng(3)
    raw = rng.normal(0., 2., (4, 2, 5, 5, 2))
    out = np.where(raw > 0, raw, np.expm1(raw))                                      # an ELU output
    x = rng.random((4, 1, 5, 5, 1))
    mean = 1. / (1. + np.exp(-out[..., :1]))
    std = 1e-6 + np.log1p(np.exp(out[..., 1:]))
    reference = np.sum(-0.5 * np.log(2. * np.pi) - np.log(std) - 0.5 * ((x - mean) / std) ** 2, axis=(-3, -2, -1))
    ours = GaussianLikelihood.log_prob(tf.constant(x, tf.float32), tf.constant(out, tf.float32))
    np.testing.assert_allclose(ours.numpy(), reference, rtol=2e-6, atol=2e-5)


def test_a_short_real_fashion_mnist_run_stays_below_the_density_bound(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path))
    monkeypatch.setenv('IGR_SMOKE_TRAIN_N', '600')
    final = tv.run_vae({'dataset_name': 'fmnist', 'model_type': 'IGR_I_Dis', 'temp': 1.0, 'epochs': 3,
                        'num_of_discrete_var': 10, 'log_likelihood_samples': 0}, run_with_sample=True)
    from Utils.runs import folders
    rows = folders.read_metrics(final['run_dir'])
    assert [r['epoch'] for r in rows] == [1, 2, 3]
    bound = 784 * PIXEL_BOUND                                                        # 189.9 nats per image
    for row in rows:
        for key in ('TeELBO', 'TeELBOC', 'TeELBOD'):
            assert np.isfinite(row[key]) and row[key] <= bound, (key, row)
    assert folders.read_config(final['run_dir'])['hyper']['decoder_output'] == 'elu'
