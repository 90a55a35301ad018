r"""Densities and divergences: the Gaussian log-density and KL, the categorical KL, the IGR-I density on the simplex.

``xi`` is ``log sigma`` throughout.

    log N(z; mu, e^xi)             = -log sqrt(2 pi) - xi - (z - mu)^2 e^{-2 xi} / 2
    KL(N(mu, e^{2 xi}) || N(mu0, e^{2 xi0})) = xi0 - xi + (e^{2 xi} + (mu - mu0)^2) / (2 e^{2 xi0}) - 1/2
    KL(q || p)                      = sum_k q_k (log q_k - log p_k)     (terms with q_k = 0 are 0)

Since IGR's map to the simplex (``h``, ``/tau`` and softmax++) is shared by the posterior and the prior, the KL of
two IGR distributions is the Gaussian one. For IGR-I the density of ``psi`` (on its first ``n`` coordinates) follows
from the change of variables ``z = tau (log psi_{1:n} - log psi_{n+1} + log delta)``; softmax++ has Jacobian
determinant ``prod_{k=1}^{n+1} psi_k``, so

    log q(psi) = sum_k log N(z_k; mu_k, sigma_k) - sum_{k=1}^{n+1} log psi_k + n log tau.
"""
import numpy as np
import tensorflow as tf

from Utils.relaxed.internal import as_float, check_temperature

__all__ = ['gaussian_log_density', 'gaussian_kl', 'categorical_kl', 'igr_i_log_prob']


def gaussian_log_density(z, mu, xi=None):
    """``log N(z; mu, exp(xi)^2)``, elementwise (shape of the broadcast inputs; numbers or tensors); ``xi=None``: unit
    variance, ``log N(z; mu, 1)`` (in the dtype of z and mu)."""
    if xi is None:
        return -0.5 * np.log(2. * np.pi) - 0.5 * tf.square(z - mu)
    return -0.5 * np.log(2. * np.pi) - xi - 0.5 * tf.square((z - mu) * tf.exp(-xi))


def gaussian_kl(mu, xi, mu0, xi0):
    """Elementwise ``KL(N(mu, e^{2 xi}) || N(mu0, e^{2 xi0}))``
    ``= xi0 - xi + (e^{2 xi} + (mu - mu0)^2) / (2 e^{2 xi0}) - 1/2`` (shape of the broadcast inputs)."""
    return (xi0 - xi) + 0.5 * (tf.exp(2.0 * (xi - xi0)) + tf.square(mu - mu0) * tf.exp(-2.0 * xi0) - 1.0)


def categorical_kl(log_q, log_p, axis=1):
    """``KL(q || p) = sum q (log q - log p)`` along ``axis`` from log-probabilities; terms with q = 0 are 0.

    log_q: (..., K, ...); log_p: broadcastable to it. Returns log_q's shape without ``axis``.
    """
    q = tf.exp(log_q)
    positive = q > 0
    safe_log_q = tf.where(positive, log_q, tf.zeros_like(log_q))
    safe_log_p = tf.where(positive, tf.broadcast_to(log_p, tf.shape(log_q)), tf.zeros_like(log_q))
    terms = tf.where(positive, q * (safe_log_q - safe_log_p), tf.zeros_like(log_q))
    return tf.reduce_sum(terms, axis=axis)


def igr_i_log_prob(log_psi, mu, xi, temp, delta=1.0):
    """Log-density of an IGR-I sample on the simplex (w.r.t. Lebesgue measure on its first n coordinates).

    log_psi: (b, n+1, S, v); mu, xi: broadcastable to (b, n, S, v). Returns (b, S, v):
    ``sum_k log N(z_k; mu_k, e^{xi_k}) - sum_{k=1}^{n+1} log psi_k + n log tau`` with
    ``z = tau (log_psi_{1:n} - log_psi_{n+1} + log delta)``.
    """
    check_temperature(temp)
    dtype = log_psi.dtype
    temp = as_float(temp, dtype)
    n = tf.cast(tf.shape(log_psi)[1] - 1, dtype)
    z = temp * (log_psi[:, :-1] - log_psi[:, -1:] + tf.cast(np.log(delta), dtype))
    log_normal = tf.reduce_sum(gaussian_log_density(z, mu, xi), axis=1)
    return log_normal - tf.reduce_sum(log_psi, axis=1) + n * tf.math.log(temp)
