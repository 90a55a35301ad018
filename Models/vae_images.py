"""Images of a trained VAE for its run folder and TensorBoard: reconstructions, prior samples, latent traversals.

Each function takes an `OptVAE` (`Models/OptVAE.py`); a mixture's latent (`Models/dlgmm.py`) draws its own. The noise
comes from generators seeded here, never from the training or evaluation streams, so images never move a number.
"""
import numpy as np
import tensorflow as tf


def mean_image(model, z_c, psi):
    """Decoded pixel means (b, H, W, C) for a single sample per example."""
    out = model.decode(z_c, psi)[:, 0]
    return model.likelihood.mean(out)


def reconstruct(model, x, seed=0):
    """Pixel means (b, H, W, C) of x (b, H, W, C) decoded from one relaxed posterior sample per image."""
    if model.latent.owns_objective:
        return model.latent.reconstruct(x, seed)
    rng = tf.random.Generator.from_seed(int(seed))
    params_c, params_d = model.encode(x)
    noise_d, noise_c = model.draw_noise(rng, x.shape[0], 1)
    psi = model.latent.relaxed(params_d, noise_d)['psi']
    return mean_image(model, model.continuous_sample(params_c, noise_c), psi)


def sample_prior_images(model, count, seed=0):
    """Images decoded from relaxed prior samples (Gaussian part N(0, 1))."""
    if model.latent.owns_objective:
        return model.latent.sample_prior_images(count, seed)
    rng = tf.random.Generator.from_seed(int(seed))
    noise_d, noise_c = model.draw_noise(rng, count, 1)
    psi = model.latent.relaxed(model.latent.prior_params(count), noise_d)['psi']
    return mean_image(model, noise_c, psi)


def traversal_images(model, x, max_vars=8, max_categories=10, cont_values=np.linspace(-2., 2., 8)):
    """Latent traversals around the code of one image x (1, H, W, C).

    Discrete: row j sets variable j to each category in turn (one-hot), the other variables keep their
    zero-temperature code. Continuous (mixed models): row d moves Gaussian dimension d over `cont_values`.
    Returns a dict name -> (rows, cols, H, W, C) array (a mixture: its components).
    """
    if model.latent.owns_objective:
        return model.latent.traversal_images(x)
    params_c, params_d = model.encode(x)
    noise_d, _ = model.draw_noise(tf.random.Generator.from_seed(0), 1, 1)
    draw = model.latent.relaxed(params_d, noise_d)
    code = model.latent.hard(params_d, noise_d, draw)[0, :, 0, :].numpy()  # (K, v)
    z_mean = params_c[0].numpy()[0] if model.mixed else None
    cats, nvars = min(model.latent.categories, max_categories), min(model.latent.v, max_vars)
    psis, zs = [], []
    for j in range(nvars):
        for k in range(cats):
            c = code.copy()
            c[:, j] = 0.
            c[k, j] = 1.
            psis.append(c)
            zs.append(z_mean)
    out = {'discrete': _decode_grid(model, psis, zs, (nvars, cats))}
    if model.mixed:
        dims = min(model.cont_n, 10)
        psis, zs = [], []
        for d in range(dims):
            for value in cont_values:
                z = z_mean.copy()
                z[d] = value
                psis.append(code)
                zs.append(z)
        out['continuous'] = _decode_grid(model, psis, zs, (dims, len(cont_values)))
    return out


def _decode_grid(model, psis, zs, grid_shape):
    psi = tf.constant(np.stack(psis)[:, :, None, :], tf.float32)
    z_c = tf.constant(np.stack(zs)[:, :, None], tf.float32) if model.mixed else None
    images = mean_image(model, z_c, psi).numpy()
    return images.reshape(grid_shape + images.shape[1:])
