"""The deep latent Gaussian mixture (Models/dlgmm.py): its bound and importance weights against float64 quadrature of a
tiny model, the stick densities against TensorFlow Probability, stick-breaking and the truncation, the clustering
scores by hand, and every model type through the real run_vae (train, resume, reload), the grid script and Omniglot.

Statistical checks use fixed seeds and 4 standard errors: under a normal approximation each fails by chance with
probability below 6.4e-5 (two-sided) or 3.2e-5 (one-sided), so the few dozen checks here below 0.3% together.
"""
import itertools
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from Models import dlgmm
from Models import train_vae as tv
from Models.VAENet import BernoulliLikelihood
from Models.vae_hyper import MIXTURE_TYPES
from Utils.runs import folders, hyper_checks

tfd = tfp.distributions
F64 = tf.float64


# ---------------------------------------------------------------------------------------------------------------------
# A tiny model: 3 binary pixels, z 1-dimensional, T = 3 components, decoder logits w z + b
# ---------------------------------------------------------------------------------------------------------------------
W, B = np.array([2.0, -1.5, 0.7]), np.array([0.3, 0.5, -1.0])
MEANS = np.array([[0.], [1.], [-1.]])          # m_k of the tiny model (d = 1: +-1/sqrt(1))
IMAGES = np.array(list(itertools.product([0., 1.], repeat=3)))      # all 8 images, (8, 3)


def tiny_latent(sticks, seed=0, log_var=-0.5, dtype=F64):
    """A MixtureLatent on a stand-in network whose encoder returns fixed random parameters."""
    latent = dlgmm.MixtureLatent(3, 1, sticks, truncated=False)
    latent.prior_means = tf.constant(MEANS, dtype)
    rng = np.random.default_rng(seed)
    flat = [rng.normal(0.3, 0.4, (8, 2)), rng.normal(0., 0.4, (8, 2)), rng.normal(0., 0.8, (8, 3)),
            rng.normal(log_var, 0.3, (8, 3))]
    net = SimpleNamespace(encode=lambda x: [tf.constant(p[:x.shape[0]], dtype) for p in flat],
                          decode=lambda z: tf.reshape(z * W + B, (-1, 1, 3, 1)))
    latent.vae = SimpleNamespace(net=net, likelihood=BernoulliLikelihood, image_shape=(1, 3, 1), latent=latent)
    return latent, [np.asarray(p) for p in flat]


def images_tensor():
    return tf.constant(IMAGES.reshape(8, 1, 3, 1), F64)


def log_px_given_z(z):
    """log p(x | z) of the 8 images at the points z (...), -> (8, ...)."""
    logits = np.multiply.outer(z, W) + B                                  # (..., 3)
    x = IMAGES.reshape((8,) + (1,) * np.ndim(z) + (3,))
    return np.sum(x * logits - np.logaddexp(0., logits), axis=-1)


HERMITE = np.polynomial.hermite.hermgauss(80)


def gauss_expectation(f, mean, sd):
    """E f(z), z ~ N(mean, sd^2), by 80-point Gauss-Hermite (mean, sd broadcast against the images)."""
    t, w = HERMITE
    z = np.asarray(mean)[..., None] + np.sqrt(2.) * np.asarray(sd)[..., None] * t
    return np.sum(w * f(z), axis=-1) / np.sqrt(np.pi)


def uniform_stick_weights(kept):
    """E_U[pi_k] of the model with `kept` of the 3 components, by 2-d Gauss-Legendre quadrature over (v1, v2)."""
    t, w = np.polynomial.legendre.leggauss(40)
    v, wv = (t + 1.) / 2., w / 2.
    v1, v2 = np.meshgrid(v, v, indexing='ij')
    pis = [v1, (1 - v1) * v2, (1 - v1) * (1 - v2)] if kept == 3 else [v1, 1 - v1, np.zeros_like(v1)]
    return np.array([np.sum(np.outer(wv, wv) * p) for p in pis])


def exact_log_px(kept=3):
    """log p(x) = log int sum_k pi_k(v) int N(z; m_k, 1) p(x | z) dz dv for the 8 images (float64 quadrature)."""
    c = np.stack([gauss_expectation(lambda z: np.exp(log_px_given_z(z)), m, 1.) for m in MEANS[:, 0]], 1)
    return np.log(c @ uniform_stick_weights(kept))


def draws(latent, samples, seed, mask=None, defensive=False):
    """terms of `samples` draws per image, float64 (sticks from the log-likelihood's proposal when `defensive`)."""
    rng = tf.random.Generator.from_seed(seed)
    noise = tuple(tf.cast(n, F64) for n in latent.noise(rng, 8, samples))
    extra = tuple(tf.cast(n, F64) for n in latent.defensive_noise(rng, 8, samples)) if defensive else None
    return latent.terms(images_tensor(), noise, mask=mask, defensive=extra)


def exact_elbo(latent, flat, sticks):
    """The ELBO by quadrature: sum_k E[pi_k] A_k + H(q(v)), A_k = E_{q_k}[log p(x|z) + log N(z; m_k, 1) - log q_k]."""
    p0, p1, mean, log_var = flat
    sd = np.exp(0.5 * log_var)
    a_k = np.stack([gauss_expectation(lambda z: log_px_given_z(z)[np.arange(8), np.arange(8)]
                                      - 0.5 * (z - MEANS[k, 0]) ** 2 + 0.5 * ((z - mean[:, k:k + 1]) / sd[:, k:k + 1])
                                      ** 2 + np.log(sd[:, k:k + 1]), mean[:, k], sd[:, k]) for k in range(3)], 1)
    log_e = latent.expected_log_weights([tf.constant(p0[..., None]), tf.constant(p1[..., None])], None).numpy()
    if sticks == 'kumaraswamy':     # entropy of Kumaraswamy(a, b): 1 - 1/b + (1 - 1/a) H_b - log(a b)
        a, b = np.exp(p0), np.exp(p1)
        harmonic = tf.math.digamma(b + 1.).numpy() + np.euler_gamma
        entropy = np.sum(1. - 1. / b + (1. - 1. / a) * harmonic - np.log(a * b), axis=1)
    else:                           # E[-log q(v)] = H(N(mu, sigma)) + E[log v + log(1 - v)]
        sigma = np.exp(p1)
        log_v_1mv = gauss_expectation(lambda y: -np.logaddexp(0., -y) - np.logaddexp(0., y), p0, sigma)
        entropy = np.sum(0.5 * np.log(2 * np.pi * np.e * sigma ** 2) + log_v_1mv, axis=1)
    return np.sum(np.exp(log_e) * a_k, axis=1) + entropy


@pytest.mark.parametrize('sticks', list(dlgmm.STICKS))
def test_bound_is_the_exact_elbo_and_below_log_px(sticks):
    latent, flat = tiny_latent(sticks)
    terms = draws(latent, 40000, seed=1)
    per_draw = (tf.reduce_sum(tf.exp(terms['log_pi']) * terms['component'], axis=1) - terms['log_qv']).numpy()
    estimate, se = per_draw.mean(1), per_draw.std(1, ddof=1) / np.sqrt(per_draw.shape[1])
    np.testing.assert_allclose(latent.elbo(terms).numpy(), estimate, rtol=1e-12)
    exact = exact_elbo(latent, flat, sticks)
    log_px = exact_log_px()
    assert np.all(np.abs(estimate - exact) <= 4 * se), (estimate - exact, se)
    assert np.all(exact < log_px - 0.05)             # random encoders: a real gap
    assert np.all(estimate <= log_px + 4 * se)       # one-sided: the Monte Carlo bound stays below log p(x)


@pytest.mark.parametrize('sticks', list(dlgmm.STICKS))
def test_importance_weights_estimate_log_px(sticks):
    """exp(log w) is unbiased for p(x): the mean of 40,000 weights within 4 standard errors, also for the model
    truncated at 2 components; the estimator of the test set agrees at S = 4000. The weights have finite variance
    (the condition of the standard errors): the sticks come from the defensive proposal, and the Gaussian q_k have
    variances near the prior's (above half of it) here, where the 3-pixel likelihood is too weak to narrow the
    posterior."""
    latent, _ = tiny_latent(sticks, log_var=0.)
    for kept in (3, 2):
        mask = None if kept == 3 else tf.constant(dlgmm.components_mask(2, 3, F64))
        log_w = latent.log_weights(draws(latent, 40000, seed=2, mask=mask, defensive=True)).numpy()
        w = np.exp(log_w - exact_log_px(kept)[:, None])                 # relative to p(x): mean 1
        assert np.all(np.abs(w.mean(1) - 1.) <= 4 * w.std(1, ddof=1) / np.sqrt(w.shape[1])), w.mean(1)
    relative_sd = w.std(1, ddof=1)
    latent, _ = tiny_latent(sticks, log_var=0., dtype=tf.float32)     # the estimator draws float32 noise
    estimator = dlgmm.MixtureLogLikelihood(latent.vae, 4000, chunk=1000, seed=3)
    values = estimator.per_image(tf.cast(images_tensor(), tf.float32)[None])
    assert np.all(np.abs(values - exact_log_px()) <= 4 * relative_sd / np.sqrt(4000) + 1e-3)


def test_stick_log_densities_match_tfp():
    rng = np.random.default_rng(0)
    p0, p1 = (tf.constant(rng.normal(0., 0.7, (50, 4, 1))) for _ in range(2))
    u = tf.constant(rng.uniform(0.001, 0.999, (50, 4, 6)))
    draw = dlgmm.KumaraswamySticks.sample(p0, p1, u)
    v = tf.exp(draw['log_v'])
    np.testing.assert_allclose(tf.exp(draw['log_1mv']), 1. - v, rtol=1e-10, atol=1e-13)
    kumaraswamy = tfd.Kumaraswamy(concentration1=tf.exp(p0), concentration0=tf.exp(p1))
    np.testing.assert_allclose(dlgmm.KumaraswamySticks.log_density(p0, p1, draw), kumaraswamy.log_prob(v),
                               rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(kumaraswamy.cdf(v), u, rtol=1e-8)      # the inversion sampler
    eps = tf.constant(rng.normal(size=(50, 4, 6)))
    draw = dlgmm.LogitNormalSticks.sample(p0, p1, eps)
    v = tf.exp(draw['log_v'])
    logit_normal = tfd.LogitNormal(loc=p0, scale=tf.exp(p1))
    np.testing.assert_allclose(dlgmm.LogitNormalSticks.log_density(p0, p1, draw), logit_normal.log_prob(v),
                               rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize('sticks', list(dlgmm.STICKS))
def test_expected_weights_match_monte_carlo(sticks):
    family = dlgmm.STICKS[sticks]
    rng = np.random.default_rng(1)
    p0, p1 = (tf.constant(rng.normal(0., 0.6, (3, 5, 1)), tf.float32) for _ in range(2))
    noise = family.noise(tf.random.Generator.from_seed(0), (3, 5, 100000))
    draw = family.sample(p0, p1, noise)
    pi = tf.exp(dlgmm.stick_breaking_log_weights(draw['log_v'], draw['log_1mv'])).numpy()
    se = pi.std(axis=2) / np.sqrt(pi.shape[2])
    latent = dlgmm.MixtureLatent(6, 1, sticks, truncated=False)
    expected = np.exp(latent.expected_log_weights([p0, p1], None).numpy())
    assert np.all(np.abs(expected - pi.mean(axis=2)) <= 4 * se + 1e-6)
    np.testing.assert_allclose(expected.sum(axis=1), 1., atol=1e-5)


def test_stick_breaking_sums_to_one_and_matches_numpy():
    rng = np.random.default_rng(2)
    v = rng.uniform(0.01, 0.99, (4, 6, 3))
    reference = np.zeros((4, 7, 3))
    rest = np.ones((4, 3))
    for k in range(6):
        reference[:, k] = v[:, k] * rest
        rest = rest * (1. - v[:, k])
    reference[:, 6] = rest
    log_pi = dlgmm.stick_breaking_log_weights(tf.constant(np.log(v)), tf.constant(np.log1p(-v)))
    np.testing.assert_allclose(np.exp(log_pi), reference, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_pi).sum(axis=1), 1., rtol=1e-12)
    truncated = np.exp(dlgmm.stick_breaking_log_weights(tf.constant(np.log(v)), tf.constant(np.log1p(-v)),
                                                        dlgmm.components_mask(3, 7, F64)).numpy())
    np.testing.assert_allclose(truncated[:, :2], reference[:, :2], rtol=1e-12)
    np.testing.assert_allclose(truncated[:, 2], (1. - v[:, 0]) * (1. - v[:, 1]), rtol=1e-12)
    assert np.all(truncated[:, 3:] == 0.)
    np.testing.assert_allclose(truncated.sum(axis=1), 1., rtol=1e-12)


def test_truncation_keeps_the_quantile_of_the_components_needed():
    latent = dlgmm.MixtureLatent(20, 1, 'logit_normal', truncated=True, threshold=0.9999)
    needed = np.array([2, 3, 4, 5, 9, 9, 12, 20])                      # per draw: the component holding the mass
    pi = np.full((8, 20, 1), 1e-7)
    pi[np.arange(8), needed - 1, 0] = 1. - 19e-7
    mask, kept = latent.truncation(tf.constant(np.log(pi), tf.float32))
    # nearest-rank 75th percentile of the 8 counts: the 6th smallest, 9
    assert int(kept) == 9 and mask.shape == (1, 20, 1)
    np.testing.assert_array_equal(mask.numpy()[0, :, 0], [1.] * 9 + [0.] * 11)
    halves = np.log(np.full((1, 19, 1), 0.5))                           # 1 - 2^-k > 0.9999 first at k = 14
    _, kept = latent.truncation(dlgmm.stick_breaking_log_weights(halves, halves))
    assert int(kept) == 14
    tiny = np.log(np.full((1, 19, 1), 1e-3))                            # never reached: all 20 kept
    _, kept = latent.truncation(dlgmm.stick_breaking_log_weights(tiny, np.log1p(-np.full((1, 19, 1), 1e-3))))
    assert int(kept) == 20


def test_prior_means_are_seeded_and_fixed():
    means = dlgmm.prior_means(20, 50, 5328)
    assert means.shape == (20, 50) and np.all(means[0] == 0.)
    np.testing.assert_allclose(np.abs(means[1:]), 1. / np.sqrt(50), rtol=1e-6)
    np.testing.assert_array_equal(means, dlgmm.prior_means(20, 50, 5328))
    assert not np.array_equal(means, dlgmm.prior_means(20, 50, 49))


# ---------------------------------------------------------------------------------------------------------------------
# Clustering scores by hand
# ---------------------------------------------------------------------------------------------------------------------
def test_nmi_and_majority_accuracy_by_hand():
    nmi, acc = dlgmm.normalized_mutual_information, dlgmm.majority_accuracy
    # a relabelled perfect clustering
    assert nmi([3, 3, 7, 7, 1], [0, 0, 1, 1, 2]) == pytest.approx(1.) and acc([3, 3, 7, 7, 1], [0, 0, 1, 1, 2]) == 1.
    # independent: I = 0
    assert nmi([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0., abs=1e-15) and acc([0, 0, 1, 1], [0, 1, 0, 1]) == 0.5
    # clusters {a, a, b} and {b}: joint (1/2, 1/4 | 0, 1/4), p(c) = (3/4, 1/4), p(y) = (1/2, 1/2)
    mutual = 0.5 * np.log(0.5 / (0.75 * 0.5)) + 0.25 * np.log(0.25 / (0.75 * 0.5)) + 0.25 * np.log(0.25 / (0.25 * 0.5))
    h_c, h_y = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), np.log(2.)
    assert mutual == pytest.approx(0.2157615543388357)
    assert nmi([0, 0, 0, 1], [0, 0, 1, 1]) == pytest.approx(mutual / ((h_c + h_y) / 2.))
    assert nmi([0, 0, 0, 1], [0, 0, 1, 1]) == pytest.approx(0.34371, abs=1e-5)
    assert acc([0, 0, 0, 1], [0, 0, 1, 1]) == 0.75
    # one cluster: no information; one cluster and one label: identical partitions
    assert nmi([5, 5, 5], [0, 1, 1]) == 0. and acc([5, 5, 5], [0, 1, 1]) == pytest.approx(2. / 3.)
    assert nmi([5, 5], [1, 1]) == 1.
    scores = dlgmm.clustering_scores(np.array([0, 1]), None)
    assert np.isnan(scores['NMI']) and np.isnan(scores['ACC'])


# ---------------------------------------------------------------------------------------------------------------------
# Runs through run_vae
# ---------------------------------------------------------------------------------------------------------------------
STEPS_PER_EPOCH = 8


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path))
    return tmp_path


def mixture_hyper(model_type, **overrides):
    return {'model_type': model_type, 'architecture': 'dlgmm_dense', 'n_required': 5, 'latent_norm_n': 4,
            'threshold': 0.9999, 'learning_rate': 1e-3, 'epochs': 2, 'save_every': 1, 'temp': 1.0, **overrides}


def test_mixture_hyper_is_validated():
    h = tv.validate_hyper(mixture_hyper('DLGMM_IGR_SB'))
    assert (h['num_of_discrete_var'], h['num_of_norm_var'], h['latent_discrete_n'], h['prior_file']) == (1, 5, 5, None)
    for bad, match in (({'n_required': 1}, 'n_required'), ({'latent_norm_n': 0}, 'latent_norm_n'),
                       ({'monitor_gradients': True}, 'monitor_gradients'), ({'run_jv': True}, 'run_jv'),
                       ({'straight_through': True}, 'straight_through')):
        with pytest.raises(hyper_checks.HyperError, match=match):
            tv.validate_hyper(mixture_hyper('DLGMM_IGR', **bad))
    with pytest.raises(hyper_checks.HyperError, match='DLGMM_Kumaraswamy_SB'):
        tv.validate_hyper({'model_type': 'DLGMM'})


@pytest.mark.parametrize('model_type, jit', [('DLGMM_Kumaraswamy', 'auto'), ('DLGMM_Kumaraswamy_SB', 'auto'),
                                             ('DLGMM_IGR', True), ('DLGMM_IGR_SB', 'auto')])
def test_every_mixture_trains_resumes_and_reloads(log_dir, monkeypatch, model_type, jit):
    from Models.OptVAE import OptVAE
    hyper = mixture_hyper(model_type, epochs=3, jit_compile=jit)
    reference = tv.run_vae(hyper, run_with_sample=True)
    rows = folders.read_metrics(reference['run_dir'])
    assert [r['epoch'] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r[k]) for r in rows for k in ('TeELBO', 'Kused', 'NMI', 'ACC', 'TrL'))
    assert rows[2]['TrL'] < rows[0]['TrL'] and rows[2]['TeELBO'] > rows[0]['TeELBO']
    assert all(1 <= r['N'] <= 5 for r in rows) and all(0. <= r['NMI'] <= 1. for r in rows)
    assert np.isfinite(reference['TeLL']) and reference['TeLL_se'] > 0 and 'TeLLD' not in reference
    header = (log_dir / reference['run_dir'].split('/')[-1] / 'metrics.csv').read_text().splitlines()[0]
    assert header == 'epoch,TeELBO,N,Kused,NMI,ACC,TrL,seconds'

    # reloaded: the same test metrics and log-likelihood, and the prior means come from the checkpoint
    metrics = tv.evaluate_trained_vae(reference['run_dir'], log_likelihood_samples=reference['LL_S'])
    for key in ('TeELBO', 'N', 'Kused', 'NMI', 'ACC', 'TeLL'):
        assert metrics[key] == reference[key], key
    ckpt = tf.train.latest_checkpoint(f"{reference['run_dir']}/checkpoints")
    assert any('prior_means' in name for name, _ in tf.train.list_variables(ckpt))

    # interrupted in epoch 3 (last checkpoint at epoch 2), resumed: the same numbers
    original, calls = OptVAE.train_next, {'n': 0}

    def interrupted(self):
        calls['n'] += 1
        if calls['n'] > 2 * STEPS_PER_EPOCH + 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(OptVAE, 'train_next', interrupted)
    with pytest.raises(KeyboardInterrupt):
        tv.run_vae({**hyper, 'save_every': 2}, run_with_sample=True)
    monkeypatch.setattr(OptVAE, 'train_next', original)
    (run_dir,) = [p for p in log_dir.iterdir() if p.name != reference['run_dir'].split('/')[-1]]
    resumed = tv.run_vae(resume_dir=run_dir)
    assert [r['epoch'] for r in folders.read_metrics(run_dir)] == [1, 2, 3]
    for key in ('TeELBO', 'Kused', 'NMI', 'TrL', 'TeLL'):
        assert resumed[key] == pytest.approx(reference[key], rel=1e-6), key


def test_truncated_mixture_records_its_truncation_level(log_dir):
    final = tv.run_vae(mixture_hyper('DLGMM_IGR_SB', n_required=12, threshold=0.5, epochs=1), run_with_sample=True)
    assert 1 <= final['N'] < 12          # a low threshold keeps few components
    model, _ = tv.load_trained_vae(final['run_dir'])
    x = tf.zeros((3, 28, 28, 1))
    terms = model.latent.terms(x, model.latent.noise(tf.random.Generator.from_seed(0), 3, 4))
    pi = tf.exp(terms['log_pi']).numpy()
    np.testing.assert_allclose(pi.sum(axis=1), 1., atol=1e-5)
    assert np.all(pi[:, int(terms['kept']):] == 0.)


def test_dlgmm_grid_smoke_and_presets(log_dir, capsys):
    from vae_experiments import dlgmm_grid
    assert dlgmm_grid.main(['--count']) is None and dlgmm_grid.main(['--preset', 'evidence', '--count']) is None
    assert capsys.readouterr().out.split() == ['40', '12']
    for preset in dlgmm_grid.PRESETS:
        for cell in dlgmm_grid.grid_cells(preset):
            tv.validate_hyper(cell)
    paper = dlgmm_grid.grid_cells('paper')
    assert {c['seed'] for c in paper} == {5328, 5945, 8965, 49, 9337} and {c['epochs'] for c in paper} == {300}
    assert {c['model_type'] for c in paper} == set(MIXTURE_TYPES)
    evidence = dlgmm_grid.grid_cells('evidence')
    assert {c['epochs'] for c in evidence} == {dlgmm_grid.EVIDENCE_EPOCHS} and {c['dataset_name'] for c in evidence} \
        == {'mnist'}
    (final,) = dlgmm_grid.main(['--preset', 'smoke', '--smoke', '--cell', '3'])
    assert final['run_dir'].startswith(str(log_dir)) and np.isfinite(final['TeELBO'])
    (again,) = dlgmm_grid.main(['--preset', 'smoke', '--smoke', '--cell', '3'])     # finished: skipped
    assert again['run_dir'] == final['run_dir']


def test_mixture_trains_on_mocked_omniglot(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds
    monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'tfds'))
    monkeypatch.setenv('IGR_DATA_DIR', str(tmp_path / 'data'))
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path / 'Log'))
    with tfds.testing.mock_data(num_examples=64, policy=tfds.testing.MockPolicy.USE_CODE):
        final = tv.run_vae(mixture_hyper('DLGMM_Kumaraswamy_SB', dataset_name='omniglot', epochs=1),
                           run_with_sample=True)
    assert np.isfinite(final['TeELBO']) and np.isnan(final['NMI'])     # no labels loaded for Omniglot


# ---------------------------------------------------------------------------------------------------------------------
# Records, table, verdicts and figures of the nonparametric experiment
# ---------------------------------------------------------------------------------------------------------------------
def test_weight_summary_by_hand():
    from vae_experiments.dlgmm_records import weight_summary
    expected = np.array([[0.7, 0.2, 0.1], [0.5, 0.495, 0.005], [0.1, 0.3, 0.6], [0.2, 0.79, 0.01]])
    record = weight_summary(expected, np.array([0, 1, 1, 0]), used_weight=0.01)
    np.testing.assert_allclose(record['mean_weight'], [0.375, 0.44625, 0.17875])
    assert record['share_using'] == [1.0, 1.0, 0.5]                     # 0.005 and 0.01 are not above 1%
    assert record['share_most_probable'] == [0.5, 0.25, 0.25]
    assert record['components_in_use'] == {'2': 2, '3': 2}
    assert record['most_probable_by_label'] == [[1, 1], [1, 0], [0, 1]]


def test_records_table_verdicts_and_check_of_smoke_runs(log_dir, tmp_path):
    """Four variants x two seeds at smoke size: each run's mixture records, the report's tables and figures, and
    `--check` passing on what it wrote and failing on a changed table."""
    import shutil
    from vae_experiments import dlgmm_grid, dlgmm_records, dlgmm_report
    for cell in range(4):
        for seed in ('5328', '5945'):
            dlgmm_grid.main(['--preset', 'smoke', '--smoke', '--cell', str(cell), '--set', f'seed={seed}'])
    run_dirs = sorted(p for p in log_dir.iterdir() if p.name.startswith("vae_"))
    assert len(run_dirs) == 8
    for folder in run_dirs:
        assert dlgmm_records.write_records(folder, say=lambda _: None) == ['mixture_weights.json',
                                                                          'component_samples.npz',
                                                                          'log_likelihood_subset.json']
        assert dlgmm_records.write_records(folder) == []                  # recorded already: nothing again
        record = json.loads((folder / 'mixture_weights.json').read_text())
        assert record['components'] == 5 and record['images'] == sum(record['components_in_use'].values())
        assert sum(record['mean_weight']) == pytest.approx(1., abs=1e-5)
        assert sum(record['share_most_probable']) == pytest.approx(1.)
        assert np.sum(record['most_probable_by_label']) == record['images']
        samples = np.load(folder / 'component_samples.npz')['samples']
        assert samples.shape == (5, dlgmm_records.SAMPLES, 28, 28) and samples.dtype == np.uint8
        subset = json.loads((folder / 'log_likelihood_subset.json').read_text())
        assert subset['images'] > 0 and all(np.isfinite(subset[s]['TeLL']) for s in ('100', '1000'))

    results = tmp_path / 'results'
    shutil.copytree(log_dir, results / dlgmm_report.RUNS)
    runs = dlgmm_report.write_all(results / dlgmm_report.RUNS, results / dlgmm_report.OUT, include_smoke=True)
    assert len(runs) == 8
    out = results / dlgmm_report.OUT
    assert (out / 'dlgmm_weights.png').stat().st_size > 0 and (out / 'dlgmm_components.png').stat().st_size > 0
    summary = pd.read_csv(out / 'tables' / 'dlgmm_summary.csv')
    assert list(summary['model_type']) == list(dlgmm_report.VARIANTS) and set(summary['n_runs']) == {2}
    assert summary['TeLL_1000_gain_mean'].notna().all()
    claims = pd.read_csv(out / 'tables' / 'dlgmm_claims.csv')
    assert len(claims) == 4 and set(claims['n']) == {2}
    for row in claims.itertuples():                                      # the CI is the paired t interval
        d = (dlgmm_report._per_seed(runs, row.IGR, row.metric) - dlgmm_report._per_seed(runs, row.baseline,
                                                                                      row.metric)).values
        half = 12.706204736174707 * np.std(d, ddof=1) / np.sqrt(2)      # t_{0.975, 1}
        assert row.ci_low == pytest.approx(d.mean() - half, rel=1e-5, abs=1e-4)
    (results / 'REPLICATION.md').write_text('# R\n\n<!-- generated:dlgmm.dlgmm_summary -->\nold\n'
                                            '<!-- /generated:dlgmm.dlgmm_summary -->\n')
    assert dlgmm_report.check(results, include_smoke=True) == ['REPLICATION.md: a generated dlgmm block differs '
                                                               'from its table']
    report = results / 'REPLICATION.md'
    report.write_text(dlgmm_report.fill_report(report.read_text(), out / 'tables'))
    assert '| IGR (logit-normal), 20 |' in report.read_text()
    assert dlgmm_report.check(results, include_smoke=True) == []
    table = out / 'tables' / 'dlgmm_claims.csv'
    table.write_text(table.read_text().replace('not decidable', 'supported', 1))
    assert dlgmm_report.check(results, include_smoke=True) == [
        f'dlgmm/tables/dlgmm_claims.csv: differs from its regeneration from {results / dlgmm_report.RUNS}']
