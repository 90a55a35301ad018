r"""softmax++ and IGR's map of ``lam`` to the simplex.

    softmax++(x; delta)_k = exp(x_k) / (sum_j exp(x_j) + delta),  k <= n;   psi_{n+1} = delta / (sum_j exp(x_j) + delta),

i.e. a softmax over ``(x_1, .., x_n, log delta)`` (``delta = 1`` is ``tfp.bijectors.SoftmaxCentered``'s map), along
axis 1 of ``(b, n, ...)`` tensors. IGR's sample is ``psi = softmax++(lam / tau)``; as ``tau -> 0`` it tends to the
vertex of ``argmax(lam_1, .., lam_n, 0)`` (:func:`vertex_one_hot`); :func:`straight_through` feeds that vertex
forward with the relaxed sample's gradient.
"""
import numpy as np
import tensorflow as tf

from Utils.relaxed.internal import argmax_one_hot, as_float, check_temperature

__all__ = ['softmax_pp', 'log_softmax_pp', 'softmax_pp_and_log', 'tempered', 'igr_psi', 'igr_log_psi',
           'vertex_one_hot', 'straight_through']


def _softmax_pp_parts(x, delta):
    """Shared pieces of softmax++ along axis 1, without transposes (tf.nn.softmax on a middle axis transposes):
    ``m = max(max_k x_k, log delta)`` (no gradient: the result does not depend on it), ``y = x - m``,
    ``y_last = log delta - m`` and ``log s = log(sum_k exp(y_k) + exp(y_last))``."""
    log_delta = tf.cast(np.log(delta), x.dtype)
    m = tf.stop_gradient(tf.maximum(tf.reduce_max(x, axis=1, keepdims=True), log_delta))
    y, y_last = x - m, log_delta - m
    exp_y, exp_last = tf.exp(y), tf.exp(y_last)
    total = tf.reduce_sum(exp_y, axis=1, keepdims=True) + exp_last
    return y, y_last, exp_y, exp_last, total


def softmax_pp(x, delta=1.0):
    """softmax++ along axis 1: x (b, n, ...) -> psi (b, n+1, ...).

    ``psi_k = exp(x_k) / (sum_j exp(x_j) + delta)`` and ``psi_{n+1} = delta / (sum_j exp(x_j) + delta)``,
    computed as a softmax over ``(x, log delta)`` (max subtracted), hence finite for any finite input and
    exactly 0 for entries equal to ``-inf`` (used for masking).
    """
    _, _, exp_y, exp_last, total = _softmax_pp_parts(x, delta)
    return tf.concat([exp_y, exp_last], axis=1) / total


def log_softmax_pp(x, delta=1.0):
    """Logarithm of :func:`softmax_pp`, computed stably: x (b, n, ...) -> log psi (b, n+1, ...)."""
    y, y_last, _, _, total = _softmax_pp_parts(x, delta)
    return tf.concat([y, y_last], axis=1) - tf.math.log(total)


def softmax_pp_and_log(x, delta=1.0):
    """``(softmax_pp(x), log_softmax_pp(x))`` sharing their work (the same values as the two functions)."""
    y, y_last, exp_y, exp_last, total = _softmax_pp_parts(x, delta)
    return tf.concat([exp_y, exp_last], axis=1) / total, tf.concat([y, y_last], axis=1) - tf.math.log(total)


def tempered(lam, temp, mask=None):
    """``lam / tau`` with the dims where ``mask`` is 0 set to ``-inf`` (they get no mass after softmax++).

    lam: (b, n, ...); temp: a positive number or a tensor broadcastable to lam; mask: None or broadcastable to lam
    (e.g. (1, n, 1, 1) from `Utils.relaxed.stick_breaking.truncation_mask`).
    """
    check_temperature(temp)
    x = lam / as_float(temp, lam.dtype)
    if mask is not None:
        minus_inf = tf.constant(-np.inf, dtype=lam.dtype)
        x = tf.where(tf.cast(mask, lam.dtype) > 0, x, minus_inf)
    return x


def igr_psi(lam, temp, mask=None, delta=1.0):
    """IGR sample ``psi = softmax++(lam / tau)``: lam (b, n, S, v) -> psi (b, n+1, S, v).

    ``mask`` (broadcastable to ``lam``, e.g. from `truncation_mask`): dims with mask 0 contribute nothing (their
    ``psi`` is exactly 0 and they get no gradient); the last category stays at index n.
    """
    return softmax_pp(tempered(lam, temp, mask), delta)


def igr_log_psi(lam, temp, mask=None, delta=1.0):
    """Log of :func:`igr_psi` (masked dims are ``-inf``)."""
    return log_softmax_pp(tempered(lam, temp, mask), delta)


def vertex_one_hot(lam, mask=None, axis=1):
    """The zero-temperature IGR sample: the one-hot vertex of ``argmax(lam_1, .., lam_n, 0)`` (the softmax++
    category wins when every kept ``lam_k < 0``; first index on ties).

    lam: (..., n, ...) with the n dims on ``axis``; mask: None or broadcastable to lam (dims with mask 0 never win).
    Returns (..., n+1, ...), same dtype.
    """
    if mask is not None:
        lam = tf.where(mask > 0., lam, tf.fill(tf.shape(lam), tf.constant(-np.inf, lam.dtype)))
    zeros = tf.zeros_like(tf.gather(lam, [0], axis=axis))
    return argmax_one_hot(tf.concat([lam, zeros], axis=axis), axis=axis)


def straight_through(hard, relaxed):
    """``hard`` in the forward pass, the gradient of ``relaxed`` in the backward pass (same shapes)."""
    return hard + (relaxed - tf.stop_gradient(relaxed))      # x - x is exactly 0: the value is `hard`
