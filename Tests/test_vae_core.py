"""The VAE core: shapes of every tensor the ELBO sums, the KLs, the discrete-model pieces, the gradient monitor."""
import numpy as np
import pytest
import tensorflow as tf

from Models import latents as lt
from Models import train_vae as tv
from Models.OptVAE import LATENTS, MODEL_TYPES, OptVAE
from Models.VAENet import GaussianLikelihood, VAENet
from Utils import Distributions as dist

BATCH, SAMPLES, VARS = 4, 3, 5


def make_model(model_type, image_shape=(28, 28, 1), likelihood='bernoulli', **overrides):
    family, mixed = MODEL_TYPES[model_type]
    hyper = {'model_type': model_type, 'n_required': 10 if family == 'GS' else 9, 'num_of_discrete_var': VARS,
             'sample_size': SAMPLES, 'temp': 0.5, 'batch_n': BATCH,
             'architecture': 'conv_jointvae' if image_shape[0] in (32, 64) else 'dense'}
    if mixed:
        hyper.update(latent_norm_n=6, num_of_norm_var=1)
    hyper.update(overrides)
    h = tv.validate_hyper(hyper)
    return OptVAE(h, image_shape, likelihood, prior=tv.load_prior_for(h))


def images(shape, seed=0, binary=True):
    x = np.random.default_rng(seed).random((BATCH,) + shape).astype(np.float32)
    return tf.constant((x > 0.5).astype(np.float32) if binary else x)


@pytest.mark.parametrize('model_type', list(MODEL_TYPES))
def test_shapes_of_every_elbo_term(model_type):
    family, mixed = MODEL_TYPES[model_type]
    shape, likelihood = ((32, 32, 1), 'bernoulli') if mixed else ((28, 28, 1), 'gaussian')
    model = make_model(model_type, shape, likelihood)
    x = images(shape, binary=likelihood == 'bernoulli')
    terms = model.elbo_terms(x)
    categories = 10
    n = 10 if family == 'GS' else 9
    assert terms['log_px'].shape == (BATCH,)
    assert terms['kl_discrete'].shape == (BATCH, VARS)
    assert terms['kl_continuous'] is None if not mixed else terms['kl_continuous'].shape == (BATCH, 6)
    assert [p.shape for p in terms['params_d']] == [(BATCH, n, 1, VARS)] * (1 if family == 'GS' else 2)
    psi = terms['draw']['psi']
    assert psi.shape == (BATCH, categories, SAMPLES, VARS)
    np.testing.assert_allclose(tf.reduce_sum(psi, axis=1), 1., atol=1e-5)
    assert model.decode(terms['z_c'], psi).shape == (BATCH, SAMPLES) + shape[:2] + (model.likelihood.n_params,)
    for name in ('log_px', 'kl_discrete'):
        assert np.all(np.isfinite(terms[name].numpy()))
    elbo = model.elbo(terms['log_px'], terms['kl_discrete'], terms['kl_continuous'])
    expected = terms['log_px'] - tf.reduce_sum(terms['kl_discrete'], 1)
    if mixed:
        expected -= tf.reduce_sum(terms['kl_continuous'], 1)
    np.testing.assert_allclose(elbo, expected, rtol=1e-6)
    one_hot = model.latent.hard(terms['params_d'], terms['noise_d'], terms['draw'])
    assert one_hot.shape == psi.shape
    np.testing.assert_array_equal(tf.reduce_sum(one_hot, axis=1), 1.)
    assert set(np.unique(one_hot.numpy())) <= {0., 1.}
    sums, used = model.test_step(x)
    assert sums.shape == (5,) and np.all(np.isfinite(sums.numpy())) and 1 <= int(used) <= categories


def test_conv_64x64_gaussian_network_shapes():
    net = VAENet('conv_jointvae', (64, 64, 3), 'gaussian', [20, 20, 27], 37)
    params = net.encode(tf.zeros((2, 64, 64, 3)))
    assert [p.shape for p in params] == [(2, 20), (2, 20), (2, 27)]
    assert net.decode(tf.zeros((2, 37))).shape == (2, 64, 64, 6)
    with pytest.raises(ValueError, match='32x32 or 64x64'):
        VAENet('conv_jointvae', (28, 28, 1), 'bernoulli', [4], 4)
    with pytest.raises(ValueError, match='dense, conv_jointvae'):
        VAENet('mlp', (28, 28, 1), 'bernoulli', [4], 4)


def test_gaussian_head_matches_its_formula():
    out = tf.constant(np.random.default_rng(1).normal(size=(1, 1, 2, 2, 2)).astype(np.float32))
    x = tf.constant([[[[0.2], [0.9]], [[0.5], [0.0]]]], tf.float32)[:, None]
    mean, std = tf.sigmoid(out[..., :1]), 1e-6 + tf.nn.softplus(out[..., 1:])
    expected = tf.reduce_sum(-0.5 * np.log(2 * np.pi) - tf.math.log(std) - 0.5 * ((x - mean) / std) ** 2)
    np.testing.assert_allclose(GaussianLikelihood.log_prob(x, out)[0, 0], expected, rtol=1e-5)


def _fixed_params(latent, seed=0, scale=1.):
    rng = np.random.default_rng(seed)
    shape = (1, latent.n, 1, latent.v)
    return [tf.constant(scale * rng.normal(size=shape).astype(np.float32)) for _ in latent.param_names]


@pytest.mark.parametrize('family', ['IGR_I', 'IGR_Planar', 'IGR_SB_Finite'])
def test_sampled_and_closed_form_kl_agree_in_expectation(family):
    prior = tv.load_prior_for(tv.validate_hyper({'model_type': f'{family}_Dis'}))
    latent = LATENTS[family](9, 3, 0.3, prior=prior, closed_form_kl=False)
    latent.make_flow()
    params = _fixed_params(latent)
    params[1] = params[1] * 0.3
    noise = tf.random.Generator.from_seed(0).normal((1, 9, 20000, 3))
    draw = latent.relaxed(params, noise)
    kappa = draw['kappa']
    log_ratio = (tf.reduce_sum(-params[1] - 0.5 * tf.square((kappa - params[0]) * tf.exp(-params[1]))
                               + latent.xi0 + 0.5 * tf.square((kappa - latent.mu0) * tf.exp(-latent.xi0)), axis=1))
    sampled = latent.kl(params, draw)[0].numpy()
    closed = latent.closed_form_kl(params, draw)[0].numpy()
    se = tf.math.reduce_std(log_ratio, axis=1)[0].numpy() / np.sqrt(20000)
    np.testing.assert_array_less(np.abs(sampled - closed), 4 * se + 1e-4)


def test_gs_sampled_kl_matches_tfp_and_bounds_the_categorical_kl():
    import tensorflow_probability as tfp
    latent = LATENTS['GS'](10, 3, 0.5)
    params = _fixed_params(latent, scale=2.)
    noise = latent.noise(tf.random.Generator.from_seed(1), 1, 20000)
    draw = latent.relaxed(params, noise)
    pointwise = dist.gs_sampled_kl(draw['log_psi'], params[0], 0.5)
    q = tfp.distributions.ExpRelaxedOneHotCategorical(0.5, logits=tf.transpose(params[0], [0, 2, 3, 1]))
    p = tfp.distributions.ExpRelaxedOneHotCategorical(0.5, logits=tf.zeros((10,)))
    y = tf.transpose(draw['log_psi'], [0, 2, 3, 1])
    np.testing.assert_allclose(pointwise, q.log_prob(y) - p.log_prob(y), rtol=1e-3, atol=1e-3)
    # data processing: the relaxed KL is at least the KL of the categoricals it rounds to (argmax)
    sampled = latent.kl(params, draw)[0].numpy()
    closed = latent.closed_form_kl(params, draw)[0].numpy()
    se = tf.math.reduce_std(pointwise, axis=1)[0].numpy() / np.sqrt(20000)
    assert np.all(sampled > closed - 4 * se)


@pytest.mark.parametrize('family', ['GS', 'IGR_I', 'IGR_Planar', 'IGR_SB'])
def test_zero_temperature_samples_follow_the_encoded_probabilities(family):
    prior = None if family == 'GS' else tv.load_prior_for(tv.validate_hyper({'model_type': f'{family}_Dis'}))
    n = 10 if family == 'GS' else 9
    latent = LATENTS[family](n, 2, 0.1, prior=prior, threshold=0.99)
    latent.make_flow()
    params = _fixed_params(latent, seed=2, scale=0.7)
    rng = tf.random.Generator.from_seed(3)
    noise = latent.noise(rng, 1, 40000)
    draw = latent.relaxed(params, noise)
    freq = tf.reduce_mean(latent.hard(params, noise, draw), axis=2)[0].numpy()
    mc = latent.mc_noise(rng, 1)
    probs = tf.exp(latent.log_probs(params, draw, mc))[0, :, 0].numpy()
    np.testing.assert_allclose(probs.sum(0), 1., atol=1e-4)
    # 4.5 standard errors per entry of each estimate (the 40,000 hard draws, and the M = 100 draws of the Monte Carlo
    # probabilities; binomial, p(1-p) floored at 1/M): false-failure rate ~1e-4 over the 20 entries
    se_freq = np.sqrt(0.25 / 40000)
    se_probs = 0. if mc is None else np.sqrt(np.maximum(freq * (1. - freq), 1. / lt.DISCRETE_MC_SAMPLES)
                                             / lt.DISCRETE_MC_SAMPLES)
    assert np.all(np.abs(freq - probs) <= 4.5 * (se_freq + se_probs) + (0.005 if mc is None else 0.))
    prior_probs = tf.exp(latent.prior_log_probs(draw, mc)).numpy()
    np.testing.assert_allclose(prior_probs.sum(axis=1), 1., atol=1e-4)


def _vanished_by_full_jacobian(latent, params, noise):
    """Reference: the Jacobian by reverse mode, its (example, variable) diagonal blocks, entries <= 1e-10."""
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(params)
        psi = latent.relaxed(params, noise)['psi']
    count = 0
    for p in params:
        jac = tape.jacobian(psi, p).numpy()  # (b, K, S, v, b, n, 1, v)
        for b in range(jac.shape[0]):
            for v in range(jac.shape[3]):
                count += np.sum(np.abs(jac[b, :, :, v, b, :, 0, v]) <= 1e-10)
    return count


def test_vanished_gradient_monitor_counts_entries():
    model = make_model('GS_Dis', temp=0.05)
    logits = np.random.default_rng(0).normal(scale=8., size=(BATCH, 10, 1, VARS)).astype(np.float32)
    params = [tf.constant(logits)]
    noise = model.latent.noise(tf.random.Generator.from_seed(0), BATCH, SAMPLES)
    vanished, total = model.vanished_gradient_counts(params, noise, None)
    assert total == 1 * 10 * BATCH * 10 * SAMPLES * VARS
    assert 0.5 < vanished / total < 1.  # a peaked GS at a low temperature: most derivatives underflow
    # against float64 autodiff (float32 autodiff rounds 1 - psi_m to 0 once psi_m rounds to 1): only entries near
    # the 1e-10 line may move across it
    params64, noise64 = [tf.cast(params[0], tf.float64)], tf.cast(noise, tf.float64)
    assert abs(float(vanished) - _vanished_by_full_jacobian(model.latent, params64, noise64)) <= 1e-3 * float(total)

    model = make_model('IGR_I_Dis', temp=1.)
    params = [tf.zeros((BATCH, 9, 1, VARS)), tf.zeros((BATCH, 9, 1, VARS))]
    noise = model.latent.noise(tf.random.Generator.from_seed(0), BATCH, SAMPLES)
    vanished, total = model.vanished_gradient_counts(params, noise, None)
    assert total == 2 * 9 * BATCH * 10 * SAMPLES * VARS and vanished == 0


def _jacobian_blocks_by_reverse_mode(latent, params, noise, mask):
    """Reference: the full Jacobian of psi by reverse-mode autodiff, its (example, variable) diagonal blocks as
    (P, b, K, n, S, v)."""
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(params)
        psi = latent.relaxed(params, noise, mask=mask)['psi']
    blocks = []
    for p in params:
        jac = tape.jacobian(psi, p).numpy()  # (b, K, S, v, b, n, 1, v)
        b_n, v_n = jac.shape[0], jac.shape[3]
        blocks.append(np.stack([np.stack([jac[b, :, :, v, b, :, 0, v].transpose(0, 2, 1) for v in range(v_n)], -1)
                                for b in range(b_n)]))
    return np.stack(blocks)


def _jacobian_latent(family, dtype, temp):
    n = 10 if family == 'GS' else 9
    prior = {'mu': np.zeros((1, n, 1, 1)), 'xi': np.zeros((1, n, 1, 1))} if family != 'GS' else None
    latent = LATENTS[family](n, VARS, temp, prior=prior, threshold=0.9)
    if latent.make_flow() is not None:   # a flow in the test's dtype (Keras casts a layer's inputs to its own)
        latent.flow = dist.PlanarFlow(n, VARS, dtype=dtype.name)
        for weights in (latent.flow.w, latent.flow.u):     # flows far from the identity
            for w in weights:
                w.assign(np.random.default_rng(5).normal(scale=0.8, size=w.shape).astype(np.float32))
    return latent


def _jacobian_case(family, dtype, scale, temp):
    latent = _jacobian_latent(family, dtype, temp)
    n = latent.n
    rng = np.random.default_rng(1)
    params = [tf.constant(rng.normal(scale=scale, size=(BATCH, n, 1, VARS)), dtype) for _ in latent.param_names]
    noise = tf.cast(latent.noise(tf.random.Generator.from_seed(2), BATCH, SAMPLES), dtype)
    mask = dist.truncation_mask(tf.constant(5), n, dtype) if family == 'IGR_SB' else None   # pieces 6..9 dropped
    draw = latent.relaxed(params, noise, mask=mask)
    closed = np.stack([j.numpy() for j in latent.psi_jacobians(params, noise, draw)])
    return latent, params, noise, mask, closed


FAMILIES = ['GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite', 'IGR_SB']


@pytest.mark.parametrize('family', FAMILIES)
def test_closed_form_psi_jacobians_match_autodiff_in_float64(family):
    latent, params, noise, mask, closed = _jacobian_case(family, tf.float64, scale=1.5, temp=0.3)
    reference = _jacobian_blocks_by_reverse_mode(latent, params, noise, mask)
    n = latent.n
    assert closed.shape == reference.shape == (len(params), BATCH, latent.categories, n, SAMPLES, VARS)
    assert np.abs(reference).max() > 0.1
    np.testing.assert_allclose(closed, reference, rtol=1e-9, atol=1e-13)
    if mask is not None:
        assert np.all(closed[:, :, 5:9] == 0.) and np.all(closed[:, :, :, 5:] == 0.)


@pytest.mark.parametrize('family', FAMILIES)
def test_closed_form_psi_jacobians_keep_float32_accuracy_near_vertices(family):
    # low temperature, large logits: psi_m rounds to 1 in float32, where 1 - psi_m would be 0
    latent, params, noise, mask, closed = _jacobian_case(family, tf.float32, scale=6., temp=0.05)
    latent64 = _jacobian_latent(family, tf.float64, temp=0.05)          # same values, float64 arithmetic
    params64 = [tf.cast(p, tf.float64) for p in params]
    mask64 = None if mask is None else tf.cast(mask, tf.float64)
    reference = _jacobian_blocks_by_reverse_mode(latent64, params64, tf.cast(noise, tf.float64), mask64)
    # float32 rounding of psi and of the parameters: relative ~1e-5 on the entries that carry a gradient
    # (a dense transform Jacobian lets the two terms of the bracket cancel: absolute error ~1e-5 of the largest)
    np.testing.assert_allclose(closed, reference, rtol=2e-3, atol=1e-5 * np.abs(reference).max())
    vanished = np.abs(closed) <= 1e-10
    assert 0.05 < vanished.mean() < 1.
    # only entries within a factor of 10 of the 1e-10 line may be classified differently
    near_line = (np.abs(reference) > 1e-11) & (np.abs(reference) < 1e-9)
    assert np.all((vanished == (np.abs(reference) <= 1e-10)) | near_line)


def test_vanished_gradient_monitor_counts_only_kept_coordinates():
    model = make_model('IGR_SB_Dis', temp=0.05)
    n = model.latent.n
    rng = np.random.default_rng(3)
    params = [tf.constant(rng.normal(scale=4., size=(BATCH, n, 1, VARS)).astype(np.float32)) for _ in range(2)]
    noise = model.latent.noise(tf.random.Generator.from_seed(0), BATCH, SAMPLES)
    mask = dist.truncation_mask(tf.constant(5), n, tf.float32)
    vanished, total = model.vanished_gradient_counts(params, noise, mask)
    assert float(total) == 2 * BATCH * SAMPLES * VARS * 5 * 6   # kept parameter coords x (kept pieces + last)
    reference = _jacobian_blocks_by_reverse_mode(
        _jacobian_latent('IGR_SB', tf.float64, 0.05), [tf.cast(p, tf.float64) for p in params],
        tf.cast(noise, tf.float64), tf.cast(mask, tf.float64))
    kept = reference[:, :, [0, 1, 2, 3, 4, n]][:, :, :, :5]
    assert 0 < float(vanished) < float(total)
    assert abs(float(vanished) - np.sum(np.abs(kept) <= 1e-10)) <= 1e-3 * float(total)


def test_jointvae_capacity_schedule():
    model = make_model('IGR_I', (32, 32, 1), cont_c_linspace=(0., 5., 100), disc_c_linspace=(1., 3., 10))
    assert float(model.capacity(model.cont_c)) == 0.
    model.iteration.assign(50)
    assert float(model.capacity(model.cont_c)) == pytest.approx(2.5)
    model.iteration.assign(1000)
    assert float(model.capacity(model.cont_c)) == 5. and float(model.capacity(model.disc_c)) == 3.


def test_igr_sb_truncation_masks_without_changing_shapes():
    model = make_model('IGR_SB_Dis', n_required=49, threshold=0.9,
                       prior_file='mu_xi_unif_50_IGR_SB_Finite.pkl')
    x = images((28, 28, 1))
    terms = model.elbo_terms(x)
    draw = terms['draw']
    kept = int(draw['n_required'])
    assert 1 <= kept <= 49 and draw['psi'].shape == (BATCH, 50, SAMPLES, VARS)
    np.testing.assert_array_equal(draw['psi'][:, kept:49].numpy(), 0.)
    full = model.latent.closed_form_kl(terms['params_d'], {**draw, 'mask': None})
    assert np.all(terms['kl_discrete'].numpy() <= full.numpy() + 1e-4)


def test_monte_carlo_discrete_kl_is_close_to_the_exact_one():
    prior = tv.load_prior_for(tv.validate_hyper({'model_type': 'IGR_I_Dis'}))
    exact = LATENTS['IGR_I'](9, 4, 0.1, prior=prior)
    monte_carlo = LATENTS['IGR_I'](9, 4, 0.1, prior=prior, exact_probs=False)
    rng = np.random.default_rng(5)
    params = [tf.constant(rng.normal(size=(1, 9, 1, 4)).astype(np.float32) * np.ones((200, 1, 1, 1), np.float32)),
              tf.constant(np.full((200, 9, 1, 4), -0.5, np.float32))]
    noise = exact.noise(tf.random.Generator.from_seed(0), 200, 1)
    draw = exact.relaxed(params, noise)
    reference = exact.discrete_kl(params, draw).numpy().mean(0)
    mc_noise = monte_carlo.mc_noise(tf.random.Generator.from_seed(1), 200)
    estimate = monte_carlo.discrete_kl(params, draw, mc_noise).numpy().mean(0)
    np.testing.assert_allclose(estimate, reference, atol=0.03)  # the plug-in without correction is ~0.045 too high


@pytest.mark.parametrize('kept', [9, 4])
def test_stick_breaking_running_argmax_matches_the_argmax_of_lam(kept):
    """IGR-SB frequencies by one pass over the kept pieces (log space) against the previous computation (the argmax
    of lam = stick_break(sigmoid(kappa)) over all pieces, masked): the same draws give the same frequencies; drawn
    piece by piece (only the kept pieces), the estimate agrees with 40,000 draws within 4.5 binomial standard errors
    per entry (false-failure rate ~1e-4 over the entries)."""
    prior = tv.load_prior_for(tv.validate_hyper({'model_type': 'IGR_SB_Dis'}))
    latent = LATENTS['IGR_SB'](9, 3, 0.1, prior=prior)
    rng = np.random.default_rng(7)
    params = [tf.constant(rng.normal(scale=s, size=(20, 9, 1, 3)).astype(np.float32)) for s in (2., 0.5)]
    mask = dist.truncation_mask(kept, 9)
    noise = latent.noise(tf.random.Generator.from_seed(0), 20, 500)
    previous = lt.IGRLatent._frequencies(latent, params, noise, mask).numpy()
    np.testing.assert_array_equal(latent._frequencies(params, noise, mask).numpy(), previous)
    assert np.all(previous[:, kept:9] == 0.) and np.all(previous[:, 9] == 0.)
    m = lt.DISCRETE_MC_SAMPLES
    drawn = latent.log_probs(params, {'mask': mask}, latent.mc_noise(tf.random.Generator.from_seed(1), 20))
    many = latent._drawn_frequencies(params, mask, tf.random.Generator.from_seed(2), 40000, 2).numpy()
    se = np.sqrt(np.maximum(many * (1. - many), 1. / m) / m) + np.sqrt(0.25 / 40000)
    assert np.all(np.abs(np.exp(drawn.numpy()) - many) <= 4.5 * se)


@pytest.mark.parametrize('dtype, scale, temp, rtol', [(tf.float64, 1.5, 0.3, 1e-11), (tf.float32, 1., 0.5, 1e-3)])
def test_stick_breaking_psi_jacobian_matches_the_product_form(dtype, scale, temp, rtol):
    """`igr_sb_psi_jacobian` (O(n) sums per entry) against the previous computation, the softmax++ Jacobian times
    the stick-breaking one (`softmax_pp_jacobian` with `igr_sb_lam_jacobian`), pieces 7..9 truncated."""
    z = tf.constant(np.random.default_rng(4).normal(scale=scale, size=(8, 9, 3, 4)), dtype)
    lam = dist.igr_sb_lam(z)
    psi = dist.igr_psi(lam, temp, mask=dist.truncation_mask(tf.constant(6), 9, dtype))
    previous = dist.softmax_pp_jacobian(psi, temp, dist.igr_sb_lam_jacobian(z, lam)).numpy()
    new = dist.igr_sb_psi_jacobian(psi, z, lam, temp).numpy()
    np.testing.assert_allclose(new, previous, rtol=rtol, atol=rtol * 1e-3 * np.abs(previous).max())


@pytest.mark.parametrize('model_type', ['GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis', 'IGR_SB_Dis',
                                        'IGR_I'])
def test_elbo_parts_add_up_to_the_evaluated_elbos(model_type):
    """`Models.elbo_parts` draws the noise as `evaluate` does, so its parts add up to evaluate's TeELBO and TeELBOD
    (float rounding apart: it runs without XLA); the one-hot reconstruction differs from the relaxed one."""
    from Models.elbo_parts import elbo_parts
    model = make_model(model_type)
    x = tf.stack([images((28, 28, 1), seed) for seed in range(3)])  # 3 test batches of BATCH images
    metrics, parts = model.evaluate(x), elbo_parts(model, x)
    assert parts['TeELBO'] == pytest.approx(metrics['TeELBO'], rel=1e-5, abs=1e-3)
    assert parts['TeELBOD'] == pytest.approx(metrics['TeELBOD'], rel=1e-5, abs=1e-3)
    assert parts['log_px'] != parts['log_px_one_hot'] and parts['kl_categorical'] >= -1e-3
    assert (parts['kl_continuous'] > 0) == (model_type == 'IGR_I')  # the JointVAE's Gaussian latents


@pytest.mark.parametrize('model_type', ['GS_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis', 'IGR_I'])
def test_the_offset_reading_ends_at_the_two_reconstructions_of_the_elbo_parts(model_type):
    """`offset_reading` draws the noise as `elbo_parts`, so its ends a = 1 and a = 0 are the relaxed and the one-hot
    reconstructions; the points in between are decoded from inside the simplex (the segment e + a (psi - e))."""
    from Models.elbo_parts import elbo_parts, offset_reading
    model = make_model(model_type)
    x = tf.stack([images((28, 28, 1), seed) for seed in range(3)])
    parts, reading = elbo_parts(model, x), offset_reading(model, x, (0., 0.5, 1.))
    assert reading[1.] == pytest.approx(parts['log_px'], rel=1e-6)
    assert reading[0.] == pytest.approx(parts['log_px_one_hot'], rel=1e-6)
    assert reading[0.5] not in (reading[0.], reading[1.])
