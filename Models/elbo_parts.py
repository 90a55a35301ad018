"""The parts of a discrete VAE's TeELBO and TeELBOD over the test set, with the noise of `OptVAE.evaluate`.

    TeELBO  = E log p(x | psi)     - KL_relaxed      - KL_continuous     (psi: the relaxed sample)
    TeELBOD = E log p(x | one-hot) - KL_categorical  - KL_continuous     (one-hot: its zero-temperature argmax)

A model whose relaxed ELBO improves while its discrete one falls apart shows here which part moves: the decoder
reading what the argmax discards (log p(x | one-hot) falls) or the categorical posterior (KL_categorical). The noise
is drawn as `evaluate` draws it (the evaluation generator reset to its seed, then per batch the relaxation's noise and
the Monte Carlo noise of the categorical KL), so the parts add up to evaluate's TeELBO and TeELBOD up to float
rounding (they are computed without XLA).
"""
import tensorflow as tf

PARTS = ('log_px', 'kl_relaxed', 'log_px_one_hot', 'kl_categorical', 'kl_continuous')


def _test_draws(model, x_test_batches):
    """Per test batch: (x, the `elbo_terms` of x, its one-hot argmax, the categorical KL (b, v)), with the noise drawn
    as `OptVAE.evaluate` draws it (the evaluation generator reset to its seed; per batch the relaxation's noise, then
    the Monte Carlo noise of the categorical KL, which IGR-SB draws inside the KL)."""
    if model.latent.owns_objective:
        raise ValueError(f'ELBO parts are defined for the relaxed discrete latents, not for {model.model_type!r}')
    model.eval_rng.reset_from_seed(model.eval_seed)
    for i in range(int(x_test_batches.shape[0])):
        x = x_test_batches[i]
        terms = model.elbo_terms(x, noise=model.draw_noise(model.eval_rng, x.shape[0]))
        params_d, draw = terms['params_d'], terms['draw']
        one_hot = model.latent.hard(params_d, terms['noise_d'], draw)
        kl_cat = model.latent.discrete_kl(params_d, {'mask': draw['mask']},
                                          model.latent.mc_noise(model.eval_rng, x.shape[0]))
        yield x, terms, one_hot, kl_cat


def elbo_parts(model, x_test_batches):
    """Means over the test images of PARTS, and 'TeELBO' and 'TeELBOD' formed from them.

    Args:
        model: a discrete or JointVAE `Models.OptVAE.OptVAE` (not a mixture).
        x_test_batches: the test set as a tensor (n_batches, tb, H, W, C) (`Models.train_vae._test_batches`).
    Returns:
        dict of floats.
    """
    total, count = tf.zeros(len(PARTS), tf.float64), 0
    for x, terms, one_hot, kl_cat in _test_draws(model, x_test_batches):
        kl_c = terms['kl_continuous']
        sums = [tf.reduce_sum(terms['log_px']), tf.reduce_sum(terms['kl_discrete']),
                tf.reduce_sum(model.log_px(x, terms['z_c'], one_hot)), tf.reduce_sum(kl_cat),
                tf.reduce_sum(kl_c) if kl_c is not None else tf.constant(0.)]
        total += tf.cast(tf.stack(sums), tf.float64)
        count += int(x.shape[0])
    out = dict(zip(PARTS, (total / count).numpy().tolist()))
    out['TeELBO'] = out['log_px'] - out['kl_relaxed'] - out['kl_continuous']
    out['TeELBOD'] = out['log_px_one_hot'] - out['kl_categorical'] - out['kl_continuous']
    return out


OFFSET_FRACTIONS = (0., 0.25, 0.5, 0.75, 1.)


def offset_reading(model, x_test_batches, fractions=OFFSET_FRACTIONS):
    """How much the decoder reads the relaxed sample's offset from its vertex: for each a of `fractions`, the mean
    over the test images of

        log p(x | e + a (psi - e))          (psi: the relaxed sample; e: its one-hot argmax)

    so a = 1 is TeELBO's reconstruction (`log_px` of `elbo_parts`) and a = 0 TeELBOD's (`log_px_one_hot`); every point
    in between lies on the segment from the vertex to the sample, inside the simplex. The noise is drawn as `elbo_parts`
    draws it, so a = 1 and a = 0 equal its two reconstructions.

    Args:
        model: a discrete or JointVAE `Models.OptVAE.OptVAE` (not a mixture).
        x_test_batches: the test set as a tensor (n_batches, tb, H, W, C).
        fractions: the a values, each in [0, 1].
    Returns:
        {a: mean log p(x | ...)} as floats.
    """
    total, count = tf.zeros(len(fractions), tf.float64), 0
    for x, terms, one_hot, _ in _test_draws(model, x_test_batches):
        psi = terms['draw']['psi']
        # the ends decode exactly what `elbo_parts` decodes (e + (psi - e) can differ from psi in the last bit)
        points = [one_hot if a == 0 else psi if a == 1 else one_hot + a * (psi - one_hot) for a in fractions]
        sums = [tf.reduce_sum(model.log_px(x, terms['z_c'], point)) for point in points]
        total += tf.cast(tf.stack(sums), tf.float64)
        count += int(x.shape[0])
    return dict(zip((float(a) for a in fractions), (total / count).numpy().tolist()))
