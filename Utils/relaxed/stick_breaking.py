r"""Stick-breaking, IGR-SB's map ``h`` and its truncation.

Along axis 1 of ``(b, n, ...)`` tensors, fractions ``eta_k`` in [0, 1] break a unit stick into pieces

    pi_k = eta_k prod_{j<k} (1 - eta_j)          (an exclusive cumulative product; sum_k pi_k <= 1),

computed in log space as ``log pi_k = log eta_k + sum_{j<k} log(1 - eta_j)`` (:func:`log_stick_break`, also the
weights of the DLGMM's mixture). IGR-SB: ``eta = sigmoid(z)`` and ``lam = pi`` (:func:`igr_sb_lam`).

Truncation (countably infinite support): for each draw the number of leading pieces needed for ``cumsum(pi)`` to pass
``threshold``; over the batch a statistic of those ('quantile' or 'max', :func:`compute_n_required`) is the number of
pieces kept, ``n_required``, and :func:`truncation_mask` keeps them (static shapes; the others are masked).
"""
import tensorflow as tf

from Utils.relaxed.internal import as_float

__all__ = ['log_stick_break', 'stick_break', 'log_stick_break_from_logits', 'stick_break_from_logits', 'igr_sb_lam', 'compute_n_required',
           'truncation_mask', 'TRUNCATION_OPTIONS', 'DEFAULT_QUANTILE']

TRUNCATION_OPTIONS = ('quantile', 'max')
DEFAULT_QUANTILE = 70.0
"""Percentile of the per-draw number of stick pieces used by the 'quantile' truncation (the original code's value)."""


def log_stick_break(log_eta, log_one_minus_eta, axis=1):
    """``log pi_k = log eta_k + sum_{j<k} log(1 - eta_j)`` along ``axis`` (an exclusive cumulative sum).

    log_eta, log_one_minus_eta: (..., n, ...) logarithms of the fractions and of their complements (given separately
    so each is accurate where the other underflows). Returns log pi, same shape.
    """
    return log_eta + tf.math.cumsum(log_one_minus_eta, axis=axis, exclusive=True)


def stick_break(eta):
    """Stick-breaking along axis 1: ``pi_k = eta_k prod_{j<k} (1 - eta_j)`` via an exclusive cumprod.

    eta in [0, 1], (b, n, ...) -> pi, same shape; ``sum_k pi_k = 1 - prod_k (1 - eta_k) <= 1``.
    """
    return eta * tf.math.cumprod(1.0 - eta, axis=1, exclusive=True)


def log_stick_break_from_logits(z, axis=1):
    """``log`` of :func:`stick_break` of ``sigmoid(z)`` along ``axis``: ``log sigmoid(z_k) + sum_{j<k} log sigmoid(-z_j)``
    (finite for any finite z)."""
    return log_stick_break(-tf.nn.softplus(-z), -tf.nn.softplus(z), axis=axis)


def stick_break_from_logits(z, axis=1):
    """:func:`stick_break` of ``sigmoid(z)`` computed in log space (finite gradients for any ``z``):
    z (b, n, ...) -> pi, same shape."""
    return tf.exp(log_stick_break_from_logits(z, axis))


def igr_sb_lam(z):
    """IGR-SB map ``lam = stick_break(sigmoid(z))``: z (b, n, S, v) -> lam (b, n, S, v)."""
    return stick_break_from_logits(z)


def compute_n_required(pi, threshold, truncation_option='quantile', quantile=DEFAULT_QUANTILE):
    """Number of leading stick pieces to keep, for the batch of draws ``pi`` (b, n, S, v).

    Per draw, ``m = 1 + #{k : cumsum(pi)_k <= threshold}`` is the number of pieces needed for
    ``cumsum(pi) > threshold`` (``n + 1`` when the ``n`` pieces do not reach it). Over all draws
    (batch, samples, variables) the statistic is the ``quantile``-th percentile (nearest rank: the smallest
    ``m`` such that at least ``quantile`` % of the draws need at most ``m`` pieces) for 'quantile', or the
    maximum for 'max'. Returns ``(n_required, threshold_met)``: an int32 scalar ``min(statistic, n)`` and a
    bool scalar ``statistic <= n``. Static-shape safe (works under ``tf.function(jit_compile=True)``).
    """
    if truncation_option not in TRUNCATION_OPTIONS:
        raise ValueError(f'unknown truncation_option {truncation_option!r}; choose one of {TRUNCATION_OPTIONS}')
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f'threshold must be in (0, 1), got {threshold!r}')
    n = tf.shape(pi)[1]
    below = tf.cast(tf.math.cumsum(pi, axis=1) <= as_float(threshold, pi.dtype), tf.int32)
    needed = tf.reshape(1 + tf.reduce_sum(below, axis=1), [-1])
    if truncation_option == 'max':
        statistic = tf.reduce_max(needed)
    else:
        if not 0.0 < float(quantile) <= 100.0:
            raise ValueError(f'quantile must be in (0, 100], got {quantile!r}')
        count = tf.size(needed)
        rank = tf.cast(tf.math.ceil(float(quantile) / 100.0 * tf.cast(count, tf.float64)), tf.int32)
        statistic = tf.gather(tf.sort(needed), tf.clip_by_value(rank - 1, 0, count - 1))
    return tf.minimum(statistic, n), statistic <= n


def truncation_mask(n_required, n, dtype=tf.float32):
    """(1, n, 1, 1) mask equal to 1 on the first ``n_required`` dims and 0 elsewhere."""
    keep = tf.range(n) < tf.cast(n_required, tf.int32)
    return tf.reshape(tf.cast(keep, dtype), (1, n, 1, 1))
