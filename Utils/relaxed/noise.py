r"""Standard noise of the relaxed distributions: the one place noise is drawn.

Three sources, the same transforms:

* the global generator or a stateless seed (``seed=None``: ``tf.random``'s global generator; an int or a pair: the
  stateless ops): :func:`sample_uniform`, :func:`sample_gumbel`, :func:`sample_normal`;
* a ``tf.random.Generator`` (the experiments' seeded streams): :func:`generator_uniform`, :func:`generator_gumbel`,
  :func:`generator_normal`.

Uniform noise is drawn in ``(tiny, 1)``, ``tiny`` the smallest normal number of the dtype, so every logarithm below is
finite. Transforms of a uniform ``U``:

    Gumbel      G = -log(-log U)
    logistic    L = log U - log(1 - U)
    normal      Box-Muller: sqrt(-2 log U1) cos(2 pi U2) and sqrt(-2 log U1) sin(2 pi U2), both N(0, 1)
"""
import numpy as np
import tensorflow as tf

from Utils.relaxed.internal import tiny

__all__ = ['sample_uniform', 'sample_gumbel', 'sample_normal', 'generator_uniform', 'generator_gumbel',
           'generator_normal', 'gumbel', 'logistic']


def gumbel(u):
    """Standard Gumbel noise ``G = -log(-log U)`` from uniforms ``u`` in (0, 1), same shape."""
    return -tf.math.log(-tf.math.log(u))


def logistic(u):
    """Standard logistic noise ``L = log U - log(1 - U)`` from uniforms ``u`` in (0, 1), same shape."""
    return tf.math.log(u) - tf.math.log1p(-u)


def sample_uniform(shape, dtype=tf.float32, seed=None):
    """Uniform(tiny, 1) noise (never 0). ``seed``: None (global generator) or an int / pair (stateless)."""
    low = tiny(dtype)
    if seed is None:
        return tf.random.uniform(shape, minval=low, maxval=1.0, dtype=dtype)
    seed = tf.constant([seed, 0] if np.ndim(seed) == 0 else seed, dtype=tf.int64)
    return tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=1.0, dtype=dtype)


def generator_uniform(rng, shape, dtype=tf.float32):
    """Uniform(tiny, 1) noise of ``shape`` from a ``tf.random.Generator``."""
    return rng.uniform(shape, minval=tiny(dtype), maxval=1.0, dtype=dtype)


def sample_gumbel(shape, dtype=tf.float32, seed=None):
    """Standard Gumbel noise ``G = -log(-log U)`` with ``U ~ Uniform(tiny, 1)`` (``seed`` as :func:`sample_uniform`)."""
    return gumbel(sample_uniform(shape, dtype, seed))


def generator_gumbel(rng, shape, dtype=tf.float32):
    """Standard Gumbel noise of ``shape`` from a ``tf.random.Generator``."""
    return gumbel(generator_uniform(rng, shape, dtype))


def _box_muller(u, shape):
    """Standard normals of ``shape`` from uniforms ``u`` (2, ceil(size / 2)) in (tiny, 1): the Box-Muller pairs
    ``sqrt(-2 log u1) cos(2 pi u2)`` and ``sqrt(-2 log u1) sin(2 pi u2)`` are independent N(0, 1) (both are used)."""
    radius = tf.sqrt(-2.0 * tf.math.log(u[0]))
    angle = (2.0 * np.pi) * u[1]
    z = tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], axis=0)
    return tf.reshape(z[:tf.reduce_prod(shape)], shape)


def _pairs_shape(shape):
    shape = tf.convert_to_tensor(shape, dtype=tf.int32)
    return shape, tf.stack([2, (tf.reduce_prod(shape) + 1) // 2])


def sample_normal(shape, dtype=tf.float32, seed=None):
    """Standard normal noise, by the Box-Muller transform of Uniform(tiny, 1) pairs (about twice as fast as
    ``tf.random.normal`` on a CPU). ``seed``: None (global generator) or an int / pair (stateless)."""
    shape, pairs = _pairs_shape(shape)
    return _box_muller(sample_uniform(pairs, dtype, seed), shape)


def generator_normal(rng, shape, dtype=tf.float32, box_muller=True):
    """Standard normal noise of ``shape`` from a ``tf.random.Generator``.

    ``box_muller=True``: by Box-Muller (about twice as fast as ``rng.normal`` on a CPU; under XLA ``rng.normal`` is the
    faster one), the stream of the VAEs, the SOP units and the DLGMM; False: ``rng.normal``, the stream of the
    approximation scripts. The two give different draws from the same generator state.
    """
    if not box_muller:
        return rng.normal(shape, dtype=dtype)
    shape, pairs = _pairs_shape(shape)
    return _box_muller(generator_uniform(rng, pairs, dtype), shape)
