"""How close posterior samples sit to the vertices of the simplex (Figure 5).

For every test image the encoder defines a relaxed posterior over `num_of_vars` discrete variables.  We draw
`S` samples psi of shape (batch_n, categories_n, S, num_of_vars), measure for each variable the Euclidean distance
of the sample to the one-hot vertex at its argmax,

    d(psi) = || psi - e_{argmax_k psi_k} ||_2 ,

average d over the variables and take the median over the S samples: one number per image.  A boxplot of these
numbers per model is Figure 5.  IGR-SB samples zero-padded to the allocated maximum number of categories give the
same distance as the unpadded ones (padded coordinates are 0 in both psi and the vertex).
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from Utils.general import distance_to_nearest_vertex  # (b, K, S, v) -> (b, S, v), categories on axis 1


def median_distance_per_image(psi):
    """Median over samples of the variable-averaged vertex distance.

    Args:
        psi: (batch_n, categories_n, S, num_of_vars) posterior samples for batch_n images.
    Returns:
        (batch_n,) median_s [ mean_v d(psi[:, :, s, v]) ].
    """
    per_sample = tf.reduce_mean(distance_to_nearest_vertex(psi), axis=-1)  # (batch_n, S)
    return tfp.stats.percentile(per_sample, 50.0, axis=1, interpolation='midpoint')


def _batched_vertex_distances(sample_psi, x, samples_n, batch_n, seed):
    """Yields, batch by batch, d(psi) of shape (b, S, num_of_vars); batch i is drawn with seed + i."""
    for i, start in enumerate(range(0, int(x.shape[0]), batch_n)):
        yield distance_to_nearest_vertex(sample_psi(x[start:start + batch_n], samples_n, seed + i))


def _median_over_axis1(values):
    return tfp.stats.percentile(values, 50.0, axis=1, interpolation='midpoint').numpy()


def _concatenate(parts):
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def posterior_vertex_distances(sample_psi, x, samples_n=100, batch_n=100, seed=0):
    """Per-image median vertex distance over a whole set of images.

    Args:
        sample_psi: callable (x_batch, samples_n, seed) -> psi (b, categories_n, samples_n, num_of_vars); it encodes
            the images and draws samples from the relaxed posterior (e.g. `OptVAE.sample_posterior_psi`).
        x: (N, H, W, C) float images.
        samples_n: S, posterior samples per image.
        batch_n: images encoded at a time (bounds the memory; for IGR-SB it is also the batch over which the
            truncation level is chosen).
        seed: noise seed of the first batch; batch i uses seed + i, so the result is reproducible.
    Returns:
        numpy array (N,) of medians.
    """
    return vertex_distance_profile(sample_psi, x, samples_n, batch_n, seed)[0]


def fraction_within(distances, radius=0.2):
    """Share of values at most `radius` from a vertex (the "20" temperatures put 75% within 0.2)."""
    distances = np.asarray(distances)
    return float(np.mean(distances <= radius)) if distances.size else float('nan')


def vertex_distance_profile(sample_psi, x, samples_n=100, batch_n=100, seed=0, radius=0.2):
    """Figure 5's per-image medians and the share of posterior samples within `radius` of a vertex, in one pass.

    Arguments as `posterior_vertex_distances`, whose result is this function's first.
    Returns:
        (medians (N,), share of samples whose variable-averaged distance is <= radius, share of single variables'
        samples psi[:, :, s, v] that are <= radius from their vertex).
    """
    medians, near_samples, near_variables, samples, variables = [], 0, 0, 0, 0
    for per_variable in _batched_vertex_distances(sample_psi, x, samples_n, batch_n, seed):   # (b, S, v)
        per_sample = tf.reduce_mean(per_variable, axis=-1)                                     # (b, S)
        medians.append(_median_over_axis1(per_sample))
        near_samples += int(tf.reduce_sum(tf.cast(per_sample <= radius, tf.int64)))
        near_variables += int(tf.reduce_sum(tf.cast(per_variable <= radius, tf.int64)))
        samples += int(tf.size(per_sample))
        variables += int(tf.size(per_variable))
    return _concatenate(medians), near_samples / max(samples, 1), near_variables / max(variables, 1)


def averaged_and_pooled_medians(sample_psi, x, samples_n=100, batch_n=100, seed=0):
    """Per-image medians of the vertex distance with and without Figure 5's averaging over the variables.

    The same draws as `posterior_vertex_distances` (batch i from seed + i), so the first result equals its medians.
    Returns:
        (averaged (N,): median_s [mean_v d(psi[:, :, s, v])], Figure 5's measure;
         pooled (N,): median over (s, v) of d(psi[:, :, s, v]), every variable's sample a value of its own).
    """
    averaged, pooled = [], []
    for per_variable in _batched_vertex_distances(sample_psi, x, samples_n, batch_n, seed):   # (b, S, v)
        averaged.append(_median_over_axis1(tf.reduce_mean(per_variable, axis=-1)))
        pooled.append(_median_over_axis1(tf.reshape(per_variable, (tf.shape(per_variable)[0], -1))))  # (b, S v)
    return _concatenate(averaged), _concatenate(pooled)
