"""Validation and dtype helpers shared by the modules of `Utils.relaxed`."""
import numbers

import numpy as np
import tensorflow as tf



def static_value(x):
    """Concrete numpy value of ``x`` when it is known without running a graph, else None."""
    if isinstance(x, (numbers.Number, np.ndarray, np.generic, list, tuple)):
        return np.asarray(x, dtype=np.float64)
    if isinstance(x, tf.Variable):
        return np.asarray(x.numpy(), dtype=np.float64) if tf.executing_eagerly() else None
    if tf.is_tensor(x):
        value = tf.get_static_value(x)
        return None if value is None else np.asarray(value, dtype=np.float64)
    return None


def check_temperature(temp):
    """Raise ValueError unless every entry of ``temp`` is a finite number > 0; return ``temp`` unchanged.

    Symbolic tensors whose value is unknown while tracing are passed through unchecked.
    """
    value = static_value(temp)
    if value is not None and (value.size == 0 or not np.all(np.isfinite(value)) or np.any(value <= 0)):
        raise ValueError(f'temperature must be finite and > 0, got {value.tolist()!r}')
    return temp


def as_float(x, dtype):
    """``x`` as a tensor of ``dtype`` (Python numbers go through float64, never through float32)."""
    if tf.is_tensor(x) or isinstance(x, tf.Variable):
        return tf.cast(x, dtype)
    return tf.cast(tf.constant(np.asarray(x, dtype=np.float64)), dtype)


def tiny(dtype):
    """The smallest positive normal number of ``dtype``: the lower end of the uniform noise, so ``log u`` is finite."""
    return np.finfo(tf.as_dtype(dtype).as_numpy_dtype).tiny


def argmax_one_hot(x, axis=1):
    """One-hot vector of ``argmax(x)`` along ``axis`` (first index on ties), same shape and dtype as ``x``.

    x: float tensor (..., K, ...) with the K candidates on ``axis``.
    """
    depth = x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]
    return tf.one_hot(tf.argmax(x, axis=axis), depth=depth, axis=axis, dtype=x.dtype)
