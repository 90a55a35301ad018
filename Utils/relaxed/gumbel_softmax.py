r"""The Gumbel-Softmax (Concrete) distribution.

``G = -log(-log U)``, ``U ~ Uniform(tiny, 1)`` (`Utils.relaxed.noise`); ``lam = (log_pi + G) / tau``;
``psi = softmax(lam)``; ``log_psi = lam - logsumexp(lam)``, along the K categories on axis 1. The density of
``y = log_psi`` (ExpConcrete) is

    log p(y; pi, tau) = lgamma(K) + (K-1) log tau + sum_k (log_pi_k - tau y_k) - K logsumexp_k(log_pi_k - tau y_k),

and the sampled KL to a prior with logits ``log_pi0`` is ``log p(y; pi, tau) - log p(y; pi0, tau)`` at the
same sample. ``argmax(log_pi + G)`` is distributed as ``softmax(log_pi)`` (Gumbel-max).
"""
import tensorflow as tf

from Utils.relaxed.internal import as_float, check_temperature

__all__ = ['gs_lam', 'gs_log_psi', 'compute_log_exp_gs_dist', 'gs_sampled_kl']


def gs_lam(log_pi, gumbel, temp):
    """``lam = (log_pi + G) / tau``: log_pi (b, K, 1 or S, v), gumbel (b, K, S, v) -> (b, K, S, v)."""
    check_temperature(temp)
    return (log_pi + gumbel) / as_float(temp, gumbel.dtype)


def gs_log_psi(log_pi, gumbel, temp):
    """Log of a GS sample, ``log_psi = lam - logsumexp_k(lam)`` with ``lam = (log_pi + G) / tau``.

    log_pi: (b, K, 1 or S, v); gumbel: (b, K, S, v). Returns (b, K, S, v).
    """
    lam = gs_lam(log_pi, gumbel, temp)
    return lam - tf.reduce_logsumexp(lam, axis=1, keepdims=True)


def compute_log_exp_gs_dist(log_psi, logits, temp):
    """ExpConcrete log-density of ``log_psi`` (b, K, S, v) with ``logits`` broadcastable to it -> (b, S, v).

    ``lgamma(K) + (K-1) log tau + sum_k a_k - K logsumexp_k a_k`` with ``a = logits - tau * log_psi``.
    """
    check_temperature(temp)
    dtype = log_psi.dtype
    temp = as_float(temp, dtype)
    k = tf.cast(tf.shape(log_psi)[1], dtype)
    aux = as_float(logits, dtype) - temp * log_psi
    log_const = tf.math.lgamma(k) + (k - 1.0) * tf.math.log(temp)
    return log_const + tf.reduce_sum(aux, axis=1) - k * tf.reduce_logsumexp(aux, axis=1)


def gs_sampled_kl(log_psi, log_pi, temp, prior_log_pi=None):
    """Single-sample KL estimate ``log q(log_psi) - log p(log_psi)`` of two ExpConcretes -> (b, S, v).

    log_psi: (b, K, S, v); log_pi: broadcastable to it. The prior has logits ``prior_log_pi`` (default: uniform,
    ``log(1/K)``) and the same temperature. Sum the result over variables for a per-example KL.
    """
    if prior_log_pi is None:
        k = tf.cast(tf.shape(log_psi)[1], log_psi.dtype)
        prior_log_pi = -tf.math.log(k) * tf.ones_like(log_psi[:1, :, :1])
    log_q = compute_log_exp_gs_dist(log_psi, log_pi, temp)
    log_p = compute_log_exp_gs_dist(log_psi, prior_log_pi, temp)
    return log_q - log_p
