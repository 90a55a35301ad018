"""Variance and signal-to-noise of the reparameterization gradients of a VAE's training objective.

For fixed weights and a fixed batch x, each of M independent noise draws eps_m gives a gradient
g_m = d loss(x, eps_m) / d theta. Over the draws, per coordinate j: mean mu_j, variance s_j^2 (ddof=1). Reported:

    mean_variance  mean_j s_j^2            trace_covariance  sum_j s_j^2 (the trace of the gradient covariance)
    mean_norm      ||mu||_2                snr_q10, snr_median, snr_q90   quantiles of |mu_j| / s_j over coordinates
                                           (coordinates with s_j = 0 are left out and counted in `zero_variance`)

for theta = (a) the encoder's discrete parameters (the outputs of its head: log_pi for GS, mu and xi for IGR, per
example and variable) and (b) every encoder weight. The M gradients are computed in chunks: one compiled function
per chunk evaluates the C per-draw losses with `tf.vectorized_map` and differentiates them with `tape.jacobian`
(vectorised, no Python loop over draws inside a chunk).
"""
import numpy as np
import tensorflow as tf

TARGETS = ('discrete', 'encoder')


def gradient_statistics(grads):
    """Statistics of per-draw gradients ``grads`` (M, P) over the M draws (see the module docstring)."""
    grads = np.asarray(grads, np.float64)
    if grads.ndim != 2 or grads.shape[0] < 2:
        raise ValueError(f'need at least 2 gradient draws (M, P), got shape {grads.shape}')
    return _statistics(grads.mean(axis=0), grads.var(axis=0, ddof=1), grads.shape[0])


def _statistics(mean, variance, draws):
    positive = variance > 0
    snr = np.abs(mean[positive]) / np.sqrt(variance[positive])
    quantiles = np.quantile(snr, [0.1, 0.5, 0.9]) if snr.size else [np.nan] * 3
    return {'mean_variance': float(variance.mean()), 'trace_covariance': float(variance.sum()),
            'mean_norm': float(np.linalg.norm(mean)), 'snr_q10': float(quantiles[0]),
            'snr_median': float(quantiles[1]), 'snr_q90': float(quantiles[2]),
            'zero_variance': int((~positive).sum()), 'coordinates': int(mean.size), 'draws': int(draws)}


def per_draw_gradients(loss_and_sources, noises, chunk=16):
    """Gradients of one loss per noise draw.

    Args:
        loss_and_sources: function(noise) -> (loss scalar, list of tensors/variables to differentiate), evaluated
            per draw inside `tf.vectorized_map`; the sources must not depend on the noise (e.g. weights, or encoder
            outputs computed outside).
        noises: a tensor (M, ...) or a tuple of them, one row per draw.
    Returns:
        float64 numpy array (M, P): the flattened gradients, sources concatenated in order.
    """
    return np.concatenate(list(_chunks(loss_and_sources, noises, chunk)), axis=0)


def streamed_statistics(loss_and_sources, noises, chunk=16):
    """`gradient_statistics` of the per-draw gradients without holding them all: per-coordinate sums over the
    chunks in float64, shifted by the first chunk's mean (no cancellation when the variance is small)."""
    shift, count, first, second = None, 0, 0., 0.
    for grads in _chunks(loss_and_sources, noises, chunk):
        shift = grads.mean(axis=0) if shift is None else shift
        centred = grads - shift
        count, first, second = count + len(grads), first + centred.sum(axis=0), second + (centred ** 2).sum(axis=0)
    return _statistics(shift + first / count, np.maximum(second - first ** 2 / count, 0.) / (count - 1), count)


def _chunks(loss_and_sources, noises, chunk):
    noises = noises if isinstance(noises, tuple) else (noises,)
    draws = int(noises[0].shape[0])
    if draws < 2:
        raise ValueError(f'need at least 2 noise draws, got {draws}')
    step = tf.function(lambda *chunk_noises: _chunk_jacobian(loss_and_sources, chunk_noises), autograph=False)
    for start in range(0, draws, int(chunk)):
        yield step(*(n[start:start + int(chunk)] for n in noises)).numpy().astype(np.float64)


def _chunk_jacobian(loss_and_sources, noises):
    """(C, P) gradients of the C per-draw losses of one chunk."""
    with tf.GradientTape() as tape:
        sources = loss_and_sources(None)[1]
        for s in sources:
            if not hasattr(s, 'assign'):   # variables (Keras' too) are watched already
                tape.watch(s)
        losses = tf.vectorized_map(lambda nz: loss_and_sources(nz)[0], noises)
    jacobians = tape.jacobian(losses, sources)
    count = tf.shape(losses)[0]
    return tf.concat([tf.reshape(tf.cast(j, tf.float64), (count, -1)) for j in jacobians], axis=1)


def encoder_variables(model):
    """Every weight of the VAE's encoder (trunk and heads; not the decoder, not IGR-Planar's flow)."""
    return model.net.trunk.trainable_variables + [v for head in model.net.heads for v in head.trainable_variables]


def vae_gradient_statistics(model, x, draws, seed=0, chunk=16, targets=TARGETS, keep_draws=False):
    """Statistics of the per-draw gradients of `model`'s training loss on the batch x (b, H, W, C) over `draws`
    noise draws, per target ('discrete': the encoder's discrete parameters; 'encoder': every encoder weight).

    Returns {target: statistics dict}, or with `keep_draws` {target: (M, P) gradients} (small models only).
    """
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise ValueError(f'unknown gradient targets {unknown}; valid choices are: {", ".join(TARGETS)}')
    if int(draws) < 2:
        raise ValueError(f'bad number of draws {draws!r}: need at least 2 (a variance needs two draws)')
    rng = tf.random.Generator.from_seed(int(seed))
    x = tf.convert_to_tensor(x, tf.float32)
    noise_d, noise_c = zip(*[model.draw_noise(rng, x.shape[0]) for _ in range(int(draws))])
    noise_d = tf.stack(noise_d)
    noise_c = tf.stack(noise_c) if model.mixed else tf.zeros((int(draws), 0))
    compute = per_draw_gradients if keep_draws else streamed_statistics
    return {target: compute(_loss_and_sources(model, x, target), (noise_d, noise_c), chunk) for target in targets}


def _loss_and_sources(model, x, target):
    """`per_draw_gradients`' loss_and_sources for one target.

    For 'discrete' the encoder runs once here and the loss is differentiated with respect to its discrete outputs
    (held fixed across the draws); for 'encoder' the encoder runs inside the differentiated function, with respect
    to its weights.
    """
    if target == 'discrete':
        params_c, params_d = model.encode(x)
        params_d = [tf.identity(p) for p in params_d]
        encode = lambda: (params_c, params_d)
        sources = lambda params: list(params[1])
    else:
        encode = lambda: model.encode(x)
        sources = lambda params: encoder_variables(model)

    def loss_and_sources(noise):
        params = encode()
        if noise is None:
            return None, sources(params)
        noise_d, noise_c = noise
        terms = model.elbo_terms(x, noise=(noise_d, noise_c if model.mixed else None), params=params)
        return model.loss(terms), sources(params)
    return loss_and_sources
