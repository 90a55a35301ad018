r"""Closed-form Jacobians of the relaxed samples with respect to their parameters (the vanished-gradient count).

Tensors are ``(b, n, S, v)``; a Jacobian ``d y / d x`` of a map acting on axis 1 is ``(b, n_y, n_x, S, v)``, entry
``[b, i, j]`` = ``d y_i / d x_j`` (block diagonal over examples, samples and variables, so only the blocks are formed):

    softmax(l / tau)             psi_m (delta_mj - psi_j) / tau
    softmax++(h(kappa) / tau)    psi_m sum_{k <= n} (delta_mk - psi_k) J_kj / tau,   J = d h / d kappa
    stick-breaking of sigmoid    lam_k (delta_kj sigmoid(-z_j) - [j < k] sigmoid(z_j))
    planar flows                 prod over layers of (I + u_hat h' w^T),   h' = 1 - tanh^2 at the layer's input

``1 - psi_m`` is formed as ``sum_{k != m} psi_k`` (:func:`sum_of_others`), so no entry cancels where psi_m rounds
to 1 (there the Jacobian is small but not 0, which is what the count of vanished entries must see).
"""
import numpy as np
import tensorflow as tf

from Utils.relaxed.internal import as_float

__all__ = ['sum_of_others', 'softmax_jacobian', 'softmax_pp_jacobian', 'igr_sb_lam_jacobian', 'igr_sb_psi_jacobian',
           'planar_jacobian']


def igr_sb_lam_jacobian(z, lam):
    """``d lam / d z`` of :func:`igr_sb_lam` at z (lam = igr_sb_lam(z)): (b, n, S, v) -> (b, n, n, S, v),
    entry [b, k, j] = ``lam_k (delta_kj sigmoid(-z_j) - [j < k] sigmoid(z_j))`` (lower triangular)."""
    n = z.shape[1]
    eye = tf.eye(n, dtype=z.dtype)[None, :, :, None, None]
    strictly_lower = tf.constant(np.tril(np.ones((n, n)), -1), z.dtype)[None, :, :, None, None]
    return lam[:, :, None] * (eye * tf.sigmoid(-z)[:, None] - strictly_lower * tf.sigmoid(z)[:, None])


def sum_of_others(x):
    """``sum_{k != m} x_k`` along axis 1 without the cancellation of ``sum - x_m`` where x_m dominates (``1 - psi_m``
    in float32 is 0 once psi_m rounds to 1, while the other probabilities still sum to e.g. 1e-6): the entries of
    largest |x| get the sum of the others formed without them, the rest ``sum - x_m``, which for nonnegative x loses
    at most a few ulps (signed x can cancel in any order of summation). Exclusive prefix + suffix sums would cost
    O(n^2) per column under XLA."""
    largest = tf.abs(x) >= tf.reduce_max(tf.abs(x), axis=1, keepdims=True)
    zeros = tf.zeros_like(x)
    rest = tf.reduce_sum(tf.where(largest, zeros, x), axis=1, keepdims=True)
    largest_sum = tf.reduce_sum(tf.where(largest, x, zeros), axis=1, keepdims=True)   # ties: all of them
    return tf.where(largest, rest + (largest_sum - x), rest + largest_sum - x)


def softmax_jacobian(psi, temp):
    """``d psi / d logits`` of ``psi = softmax(logits / tau)`` along axis 1: (b, K, S, v) -> (b, K, K, S, v),
    entry [b, m, j] = ``psi_m (delta_mj - psi_j) / tau``, with ``1 - psi_m`` formed as ``sum_{k != m} psi_k``."""
    eye = tf.eye(psi.shape[1], dtype=psi.dtype)[None, :, :, None, None]
    own = eye * sum_of_others(psi)[:, :, None]
    return psi[:, :, None] * (own - (1.0 - eye) * psi[:, None]) / as_float(temp, psi.dtype)


def softmax_pp_jacobian(psi, temp, lam_jacobian=None):
    """``d psi / d kappa`` of ``psi = softmax++(h(kappa) / tau)`` (masked categories included, with psi = 0).

    psi: (b, n+1, S, v); lam_jacobian: ``d h / d kappa`` (b, n, n, S, v), entry [b, k, j] = d h_k / d kappa_j, or
    None for the identity. Returns (b, n+1, n, S, v), entry [b, m, j] =
    ``psi_m sum_{k <= n} (delta_mk - psi_k) J_kj / tau`` (the softmax++ Jacobian ``psi_m (delta_mk - psi_k) / tau``
    times J), formed as ``psi_m ((sum_{k != m} psi_k) J_mj - sum_{k != m, k <= n} psi_k J_kj) / tau`` so that no
    term cancels where psi_m is close to 1. A masked category has psi = 0, so its row and its column vanish.
    """
    n = psi.shape[1] - 1
    others = sum_of_others(psi)[:, :n, None]                                          # (b, n, 1, S, v)
    if lam_jacobian is None:
        eye = tf.eye(n, dtype=psi.dtype)[None, :, :, None, None]
        bracket = eye * others - (1.0 - eye) * psi[:, None, :n]                        # (b, n, n, S, v)
        last = -psi[:, None, :n]
    else:
        weighted = psi[:, :n, None] * lam_jacobian                                      # psi_k J_kj
        bracket = others * lam_jacobian - sum_of_others(weighted)
        last = -tf.reduce_sum(weighted, axis=1, keepdims=True)
    return psi[:, :, None] * tf.concat([bracket, last], axis=1) / as_float(temp, psi.dtype)


def igr_sb_psi_jacobian(psi, z, lam, temp):
    """d psi / d z of IGR-SB, psi = softmax++(stick_break(sigmoid(z)) / tau), in O(n) work per entry.

    psi: (b, n+1, S, v) (masked pieces have psi = 0); z, lam = igr_sb_lam(z): (b, n, S, v).
    Returns (b, n+1, n, S, v), entry [m, j] = psi_m bracket_mj / tau with A_k = psi_k lam_k, T_j = sum_{j<k<n} A_k,
    s_j = sigmoid(z_j), r_j = sigmoid(-z_j), o_m = sum_{k != m} psi_k:
        m < j or m = n:  s_j T_j - A_j r_j
        m = j:           o_j lam_j r_j + s_j T_j
        j < m < n:       s_j (T_j - A_m - o_m lam_m) - A_j r_j
    T_j - A_m is formed without cancellation: with g the largest A, S_j the
    sum over j < k < n, k != g, and T_j - A_m = S_j + (A_g - A_m) when g > j (exact for m = g), S_j - A_m otherwise
    (then A_m is not the largest A, so psi_m is not close to 1 and the bracket does not cancel).
    """
    n = z.shape[1]
    dtype = psi.dtype
    A = psi[:, :n] * lam
    s, r = tf.sigmoid(z), tf.sigmoid(-z)
    g = tf.argmax(A, axis=1)                                                            # (b, S, v)
    is_g = tf.one_hot(g, n, axis=1, dtype=dtype)                                        # (b, n, S, v)
    A_g = tf.reduce_sum(A * is_g, axis=1, keepdims=True)
    after = tf.constant(np.triu(np.ones((n, n)), 1).T, dtype)                          # [k, j] = k > j
    S = tf.einsum('bksv,kj->bjsv', A * (1. - is_g), after)                             # (b, n, S, v)
    g_after_j = tf.cast(tf.range(n)[None, :, None, None] < tf.cast(g, tf.int32)[:, None], dtype)  # [g > j]
    T = S + g_after_j * A_g
    others = sum_of_others(psi)
    o = others[:, :n]
    # (b, m, j, S, v) pieces
    col = lambda x: x[:, None]            # depends on j
    row = lambda x: x[:, :, None]         # depends on m
    upper = col(s * T - A * r)
    diag = col(o * lam * r + s * T)
    t_minus_a = col(S) + tf.where(col(g_after_j) > 0., A_g[:, None] - row(A), -row(A))         # T_j - A_m
    lower = col(s) * (t_minus_a - row(o * lam)) - col(A * r)
    m_idx = tf.range(n)[:, None]
    j_idx = tf.range(n)[None, :]
    shape5 = lambda c: tf.reshape(c, (1, n, n, 1, 1))
    bracket = tf.where(shape5(m_idx < j_idx), upper, tf.where(shape5(m_idx == j_idx), diag, lower))
    bracket = tf.concat([bracket, upper], axis=1)                                      # last row: m = n
    return psi[:, :, None] * bracket / as_float(temp, dtype)


def planar_jacobian(z, layers):
    """``d f(z) / dz`` of a stack of planar layers on axis 1: z (b, n, S, v) -> (b, n, n, S, v), entry [b, k, j] =
    ``d f_k / d z_j``.

    layers: ``[(w, u_hat, b)]`` in the order applied, w and u_hat (1, n, 1, v), b (1, 1, 1, v). Layer i contributes
    ``I + u_hat h' w^T`` (``h' = 1 - tanh^2`` at its input); the layers compose by ``J <- J + u_hat h' (w^T J)``,
    O(n^2) per (batch, sample, variable).
    """
    n = z.shape[1]
    jac = tf.broadcast_to(tf.eye(n, dtype=z.dtype)[None, :, :, None, None],
                          (tf.shape(z)[0], n, n, tf.shape(z)[2], tf.shape(z)[3]))
    for w, u_hat, b in layers:
        h = tf.tanh(tf.reduce_sum(w * z, axis=1, keepdims=True) + b)
        w_jac = tf.reduce_sum(w[:, :, None] * jac, axis=1, keepdims=True)            # (b, 1, n, S, v)
        jac = jac + (u_hat * (1.0 - tf.square(h)))[:, :, None] * w_jac
        z = z + u_hat * h
    return jac
