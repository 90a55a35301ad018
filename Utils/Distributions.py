r"""Relaxed categorical distributions: Gumbel-Softmax and Invertible Gaussian Reparameterization.

Conventions
-----------
Discrete tensors are shaped ``(batch, n, S, vars)``: axis 1 holds the categories (GS) or the Gaussian
dimensions (IGR), ``S`` the samples and ``vars`` the independent discrete variables. Encoder parameters
arrive as ``(batch, n, 1, vars)`` and broadcast against noise ``(batch, n, S, vars)``. For IGR,
``n = K - 1`` Gaussian dimensions give ``K`` categories after softmax++. ``xi`` is ``log sigma``.
Everything follows the dtype of its inputs (float32 unless given float64).

Gumbel-Softmax (Concrete)
-------------------------
``G = -log(-log U)``, ``U ~ Uniform(tiny, 1)``; ``lam = (log_pi + G) / tau``; ``psi = softmax(lam)``;
``log_psi = lam - logsumexp(lam)``. The density of ``y = log_psi`` (ExpConcrete) is

    log p(y; pi, tau) = lgamma(K) + (K-1) log tau + sum_k (log_pi_k - tau y_k) - K logsumexp_k(log_pi_k - tau y_k),

and the sampled KL to a prior with logits ``log_pi0`` is ``log p(y; pi, tau) - log p(y; pi0, tau)`` at the
same sample. ``argmax(log_pi + G)`` is distributed as ``softmax(log_pi)`` (Gumbel-max).

Invertible Gaussian Reparameterization
--------------------------------------
``z = mu + sigma * eps`` (``eps ~ N(0, I)``, ``n`` dims), ``lam = h(z)`` for an invertible ``h`` and
``psi = softmax++(lam / tau)`` with

    softmax++(x)_k = exp(x_k) / (sum_j exp(x_j) + delta),  k <= n;   psi_{n+1} = delta / (sum_j exp(x_j) + delta),

i.e. a softmax over ``(x_1, .., x_n, log delta)`` (``delta = 1`` equals ``tfp.bijectors.SoftmaxCentered``).
As ``tau -> 0`` the sample tends to the vertex of ``argmax(lam_1, .., lam_n, 0)``.

* IGR-I: ``h`` is the identity.
* IGR-Planar: ``h`` is a stack of planar flows ``f(z) = z + u_hat tanh(w.z + b)`` with
  ``u_hat = u + (m(w.u) - w.u) w / ||w||^2``, ``m(a) = -1 + softplus(a)``, so ``w.u_hat > -1`` and ``f`` is
  invertible; ``log|det df/dz| = log|1 + (w.u_hat) (1 - tanh^2(w.z + b))|``.
* IGR-SB: ``eta = sigmoid(z)``, ``pi_k = eta_k prod_{j<k} (1 - eta_j)`` (an exclusive cumulative product),
  ``lam = pi``. Truncation keeps the first ``n_required`` pieces, where ``n_required`` is a statistic over the
  draws of the number of leading pieces needed for ``cumsum(pi) > threshold``.
* IGR-SB-Finite: the same stick-breaking with all ``n`` pieces.

Since ``h``, ``/tau`` and softmax++ are shared by the posterior and the prior, the KL is the Gaussian one:
``KL(q(psi) || p(psi)) = KL(N(mu, sigma^2) || N(mu0, sigma0^2))``.

For IGR-I the density of ``psi`` (on its first ``n`` coordinates) follows from the change of variables
``z = tau (log psi_{1:n} - log psi_{n+1} + log delta)``; softmax++ has Jacobian determinant
``prod_{k=1}^{n+1} psi_k``, so

    log q(psi) = sum_k log N(z_k; mu_k, sigma_k) - sum_{k=1}^{n+1} log psi_k + n log tau.

Zero-temperature category probabilities of IGR-I (independent ``lam_k ~ N(mu_k, sigma_k^2)``):

    P(n+1) = prod_k Phi(-mu_k / sigma_k),
    P(k)   = int_0^inf N(t; mu_k, sigma_k) prod_{j != k} Phi((t - mu_j) / sigma_j) dt,

computed by composite Gauss-Legendre quadrature of the integrand in probability space (products of ``Phi``, not
sums of ``log Phi``; see :func:`compute_igr_probs`); :func:`compute_igr_log_probs` gives finite logarithms.

Relaxed Bernoulli
-----------------
Binary Concrete: ``sigmoid((log_alpha + log U - log(1 - U)) / tau)`` (logistic noise).
IGR-Bernoulli: ``sigmoid((mu + sigma eps) / tau)``.
"""
import numbers

import numpy as np
import tensorflow as tf

__all__ = [
    'check_temperature', 'sample_gumbel', 'sample_normal', 'sample_uniform', 'generator_normal',
    'softmax_pp', 'log_softmax_pp', 'softmax_pp_and_log', 'project_to_vertices_via_softmax_pp', 'argmax_one_hot',
    'gs_log_psi', 'compute_log_exp_gs_dist', 'gs_sampled_kl', 'categorical_kl', 'gaussian_kl',
    'PlanarFlow', 'planar_u_hat', 'planar_w_dot_u_hat', 'planar_forward', 'planar_inverse',
    'stick_break', 'stick_break_iterative', 'stick_break_from_logits', 'igr_sb_lam',
    'compute_n_required', 'truncation_mask', 'TRUNCATION_OPTIONS', 'DEFAULT_QUANTILE',
    'igr_psi', 'igr_log_psi', 'igr_i_log_prob',
    'compute_igr_log_probs', 'compute_igr_probs',
    'binary_concrete', 'igr_bernoulli',
    'GS', 'IGR_I', 'IGR_Planar', 'IGR_SB', 'IGR_SB_Finite', 'SAMPLERS', 'get_sampler_class',
    'dist_type_from_model_type', 'generate_sample',
]

TRUNCATION_OPTIONS = ('quantile', 'max')
# Percentile of the per-draw number of stick pieces used by the 'quantile' truncation (the original code's value).
DEFAULT_QUANTILE = 70.0
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


# ----------------------------------------------------------------------------------------------------------
# Validation and noise
# ----------------------------------------------------------------------------------------------------------
def _static_value(x):
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
    value = _static_value(temp)
    if value is not None and (value.size == 0 or not np.all(np.isfinite(value)) or np.any(value <= 0)):
        raise ValueError(f'temperature must be finite and > 0, got {value.tolist()!r}')
    return temp


def _as_float(x, dtype):
    """``x`` as a tensor of ``dtype`` (Python numbers go through float64, never through float32)."""
    if tf.is_tensor(x) or isinstance(x, tf.Variable):
        return tf.cast(x, dtype)
    return tf.cast(tf.constant(np.asarray(x, dtype=np.float64)), dtype)


def _tiny(dtype):
    return np.finfo(tf.as_dtype(dtype).as_numpy_dtype).tiny


def sample_uniform(shape, dtype=tf.float32, seed=None):
    """Uniform(tiny, 1) noise (never 0). ``seed``: None (global generator) or an int / pair (stateless)."""
    tiny = _tiny(dtype)
    if seed is None:
        return tf.random.uniform(shape, minval=tiny, maxval=1.0, dtype=dtype)
    seed = tf.constant([seed, 0] if np.ndim(seed) == 0 else seed, dtype=tf.int64)
    return tf.random.stateless_uniform(shape, seed=seed, minval=tiny, maxval=1.0, dtype=dtype)


def sample_gumbel(shape, dtype=tf.float32, seed=None):
    """Standard Gumbel noise ``G = -log(-log U)`` with ``U ~ Uniform(tiny, 1)``."""
    return -tf.math.log(-tf.math.log(sample_uniform(shape, dtype, seed)))


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


def generator_normal(rng, shape, dtype=tf.float32):
    """Standard normal noise of ``shape`` from a ``tf.random.Generator``, by Box-Muller (about twice as fast as
    ``rng.normal`` on a CPU; under XLA ``rng.normal`` is the faster one)."""
    shape, pairs = _pairs_shape(shape)
    return _box_muller(rng.uniform(pairs, minval=_tiny(dtype), maxval=1.0, dtype=dtype), shape)


# ----------------------------------------------------------------------------------------------------------
# softmax++
# ----------------------------------------------------------------------------------------------------------
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
    """softmax++ along axis 1: (b, n, ...) -> (b, n+1, ...).

    ``psi_k = exp(x_k) / (sum_j exp(x_j) + delta)`` and ``psi_{n+1} = delta / (sum_j exp(x_j) + delta)``,
    computed as a softmax over ``(x, log delta)`` (max subtracted), hence finite for any finite input and
    exactly 0 for entries equal to ``-inf`` (used for masking).
    """
    _, _, exp_y, exp_last, total = _softmax_pp_parts(x, delta)
    return tf.concat([exp_y, exp_last], axis=1) / total


def log_softmax_pp(x, delta=1.0):
    """Logarithm of :func:`softmax_pp`, computed stably: (b, n, ...) -> (b, n+1, ...)."""
    y, y_last, _, _, total = _softmax_pp_parts(x, delta)
    return tf.concat([y, y_last], axis=1) - tf.math.log(total)


def softmax_pp_and_log(x, delta=1.0):
    """``(softmax_pp(x), log_softmax_pp(x))`` sharing their work."""
    y, y_last, exp_y, exp_last, total = _softmax_pp_parts(x, delta)
    return tf.concat([exp_y, exp_last], axis=1) / total, tf.concat([y, y_last], axis=1) - tf.math.log(total)


def project_to_vertices_via_softmax_pp(lam, delta=1.0):
    """softmax++ of ``lam`` along axis 1 (name kept from the original code); see :func:`softmax_pp`."""
    return softmax_pp(lam, delta)


def argmax_one_hot(psi, axis=1):
    """One-hot vector of ``argmax(psi)`` along ``axis``, same shape and dtype as ``psi``."""
    depth = tf.shape(psi)[axis]
    return tf.one_hot(tf.argmax(psi, axis=axis), depth=depth, axis=axis, dtype=psi.dtype)


# ----------------------------------------------------------------------------------------------------------
# Gumbel-Softmax
# ----------------------------------------------------------------------------------------------------------
def gs_log_psi(log_pi, gumbel, temp):
    """Log of a GS sample: ``lam = (log_pi + G) / tau``, ``log_psi = lam - logsumexp_1(lam)``.

    log_pi: (b, K, 1 or S, v); gumbel: (b, K, S, v). Returns (b, K, S, v).
    """
    check_temperature(temp)
    lam = (log_pi + gumbel) / _as_float(temp, gumbel.dtype)
    return lam - tf.reduce_logsumexp(lam, axis=1, keepdims=True)


def compute_log_exp_gs_dist(log_psi, logits, temp):
    """ExpConcrete log-density of ``log_psi`` (b, K, S, v) with ``logits`` broadcastable to it -> (b, S, v).

    ``lgamma(K) + (K-1) log tau + sum_k a_k - K logsumexp_k a_k`` with ``a = logits - tau * log_psi``.
    """
    check_temperature(temp)
    dtype = log_psi.dtype
    temp = _as_float(temp, dtype)
    k = tf.cast(tf.shape(log_psi)[1], dtype)
    aux = _as_float(logits, dtype) - temp * log_psi
    log_const = tf.math.lgamma(k) + (k - 1.0) * tf.math.log(temp)
    return log_const + tf.reduce_sum(aux, axis=1) - k * tf.reduce_logsumexp(aux, axis=1)


def gs_sampled_kl(log_psi, log_pi, temp, prior_log_pi=None):
    """Single-sample KL estimate ``log q(log_psi) - log p(log_psi)`` of two ExpConcretes -> (b, S, v).

    The prior has logits ``prior_log_pi`` (default: uniform, ``log(1/K)``) and the same temperature.
    Sum the result over variables for a per-example KL.
    """
    if prior_log_pi is None:
        k = tf.cast(tf.shape(log_psi)[1], log_psi.dtype)
        prior_log_pi = -tf.math.log(k) * tf.ones_like(log_psi[:1, :, :1])
    log_q = compute_log_exp_gs_dist(log_psi, log_pi, temp)
    log_p = compute_log_exp_gs_dist(log_psi, prior_log_pi, temp)
    return log_q - log_p


def categorical_kl(log_q, log_p, axis=1):
    """``KL(q || p) = sum q (log q - log p)`` along ``axis`` from log-probabilities; terms with q = 0 are 0."""
    q = tf.exp(log_q)
    positive = q > 0
    safe_log_q = tf.where(positive, log_q, tf.zeros_like(log_q))
    safe_log_p = tf.where(positive, tf.broadcast_to(log_p, tf.shape(log_q)), tf.zeros_like(log_q))
    terms = tf.where(positive, q * (safe_log_q - safe_log_p), tf.zeros_like(log_q))
    return tf.reduce_sum(terms, axis=axis)


def gaussian_kl(mu, xi, mu0, xi0):
    """Elementwise ``KL(N(mu, e^{2 xi}) || N(mu0, e^{2 xi0}))``
    ``= xi0 - xi + (e^{2 xi} + (mu - mu0)^2) / (2 e^{2 xi0}) - 1/2`` (shape of the broadcast inputs)."""
    return (xi0 - xi) + 0.5 * (tf.exp(2.0 * (xi - xi0)) + tf.square(mu - mu0) * tf.exp(-2.0 * xi0) - 1.0)


# ----------------------------------------------------------------------------------------------------------
# Planar flow
# ----------------------------------------------------------------------------------------------------------
def planar_u_hat(w, u, axis=1):
    """``u_hat = u + (m(w.u) - w.u) w / ||w||^2`` with ``m(a) = -1 + softplus(a)``, dot products along ``axis``:
    the corrected ``u`` that makes ``f(z) = z + u_hat tanh(w.z + b)`` invertible (``w.u_hat > -1``)."""
    wu = tf.reduce_sum(w * u, axis=axis, keepdims=True)
    w_norm_sq = tf.maximum(tf.reduce_sum(tf.square(w), axis=axis, keepdims=True), _tiny(w.dtype))
    return u + (-1.0 + tf.nn.softplus(wu) - wu) * w / w_norm_sq


def planar_w_dot_u_hat(w, u, axis=1):
    """``w.u_hat = -1 + softplus(w.u)`` in exact form (kept dimension ``axis``)."""
    return -1.0 + tf.nn.softplus(tf.reduce_sum(w * u, axis=axis, keepdims=True))


def planar_forward(z, w, u, b, axis=1):
    """One planar layer ``f(z) = z + u_hat tanh(w.z + b)`` along ``axis``; returns ``(f(z), log|det df/dz|)``,
    the log-determinant with ``axis`` reduced. ``det = 1 + (w.u_hat) (1 - tanh^2)``, written as
    ``tanh^2 + softplus(w.u) (1 - tanh^2) > 0`` to avoid cancellation."""
    h = tf.tanh(tf.reduce_sum(w * z, axis=axis, keepdims=True) + b)
    tanh_sq = tf.square(tf.squeeze(h, axis=axis))
    softplus_wu = tf.nn.softplus(tf.reduce_sum(w * u, axis=axis))
    log_det = tf.math.log(tanh_sq + softplus_wu * (1.0 - tanh_sq))
    return z + planar_u_hat(w, u, axis) * h, log_det


def planar_inverse(y, w, u, b, axis=1, bisections=None):
    """Inverse of :func:`planar_forward`'s map. With ``a = w.z`` the layer gives ``w.y = a + m tanh(a + b)``
    (``m = w.u_hat > -1``), strictly increasing in ``a``, with the root in ``[w.y - |m|, w.y + |m|]``: bisection
    (40 steps in float32, 60 in float64) then two Newton steps; ``z = y - u_hat tanh(a + b)``."""
    m = planar_w_dot_u_hat(w, u, axis)
    target = tf.reduce_sum(w * y, axis=axis, keepdims=True)
    low, high = target - tf.abs(m) - 1.0, target + tf.abs(m) + 1.0
    steps = bisections or (60 if y.dtype == tf.float64 else 40)
    for _ in range(steps):
        mid = 0.5 * (low + high)
        above = mid + m * tf.tanh(mid + b) > target
        low, high = tf.where(above, low, mid), tf.where(above, mid, high)
    a = 0.5 * (low + high)
    for _ in range(2):
        t = tf.tanh(a + b)
        a = a - (a + m * t - target) / (1.0 + m * (1.0 - tf.square(t)))
    return y - planar_u_hat(w, u, axis) * tf.tanh(a + b)


class PlanarFlow(tf.keras.layers.Layer):
    """Stack of ``n_layers`` planar flows acting on axis 1 of ``z`` (b, n, S, v), one flow per variable.

    Layer i: ``f(z) = z + u_hat tanh(w.z + b)`` with ``w, u`` of shape (1, n, 1, v), ``b`` (1, 1, 1, v),
    ``u_hat = u + (m(w.u) - w.u) w / ||w||^2`` and ``m(a) = -1 + softplus(a)`` (so ``w.u_hat > -1``).
    ``n_dims`` and ``num_of_vars`` may be given to build the weights at construction; otherwise they are
    built on the first call.
    """

    def __init__(self, n_dims=None, num_of_vars=None, n_layers=2, init_stddev=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.n_dims = n_dims
        self.num_of_vars = num_of_vars
        self.n_layers = int(n_layers)
        self.init_stddev = float(init_stddev)
        self.seed = seed
        self.w, self.u, self.b = [], [], []
        if n_dims is not None and num_of_vars is not None:
            self.build((None, n_dims, None, num_of_vars))

    def build(self, input_shape):
        n, v = int(input_shape[1]), int(input_shape[3])
        self.n_dims, self.num_of_vars = n, v
        for i in range(self.n_layers):
            seed = None if self.seed is None else self.seed + 2 * i
            init_w = tf.keras.initializers.RandomNormal(stddev=self.init_stddev, seed=seed)
            init_u = tf.keras.initializers.RandomNormal(
                stddev=self.init_stddev, seed=None if seed is None else seed + 1)
            self.w.append(self.add_weight(name=f'w_{i}', shape=(1, n, 1, v), initializer=init_w))
            self.u.append(self.add_weight(name=f'u_{i}', shape=(1, n, 1, v), initializer=init_u))
            self.b.append(self.add_weight(name=f'b_{i}', shape=(1, 1, 1, v), initializer='zeros'))
        self.built = True

    def _params(self, i, dtype):
        return tf.cast(self.w[i], dtype), tf.cast(self.u[i], dtype), tf.cast(self.b[i], dtype)

    def u_hat(self, i, dtype=None):
        """Corrected ``u`` of layer ``i``, shape (1, n, 1, v)."""
        w, u, _ = self._params(i, dtype or self.w[i].dtype)
        return planar_u_hat(w, u, axis=1)

    def w_dot_u_hat(self, i, dtype=None):
        """``w.u_hat = m(w.u) = -1 + softplus(w.u) > -1`` of layer ``i`` (exact form), shape (1, 1, 1, v)."""
        w, u, _ = self._params(i, dtype or self.w[i].dtype)
        return planar_w_dot_u_hat(w, u, axis=1)

    def forward_and_log_det(self, z):
        """Returns ``(f(z), log|det df/dz|)`` with shapes (b, n, S, v) and (b, S, v) (:func:`planar_forward`)."""
        log_det = tf.zeros_like(z[:, 0])
        for i in range(self.n_layers):
            z, layer_log_det = planar_forward(z, *self._params(i, z.dtype), axis=1)
            log_det += layer_log_det
        return z, log_det

    def jacobian(self, z):
        """``d flow(z) / dz``: (b, n, S, v) -> (b, n, n, S, v), entry [b, k, j] = d f_k / d z_j.

        Layer i contributes ``I + u_hat h' w^T`` (``h' = 1 - tanh^2`` at its input); the layers compose by
        ``J <- J + u_hat h' (w^T J)``, O(n^2) per (batch, sample, variable).
        """
        n = z.shape[1]
        jac = tf.broadcast_to(tf.eye(n, dtype=z.dtype)[None, :, :, None, None],
                              (tf.shape(z)[0], n, n, tf.shape(z)[2], tf.shape(z)[3]))
        for i in range(self.n_layers):
            w, _, b = self._params(i, z.dtype)
            u_hat = self.u_hat(i, z.dtype)
            h = tf.tanh(tf.reduce_sum(w * z, axis=1, keepdims=True) + b)
            w_jac = tf.reduce_sum(w[:, :, None] * jac, axis=1, keepdims=True)            # (b, 1, n, S, v)
            jac = jac + (u_hat * (1.0 - tf.square(h)))[:, :, None] * w_jac
            z = z + u_hat * h
        return jac

    def call(self, z):
        return self.forward_and_log_det(z)[0]

    def log_det_jacobian(self, z):
        """``log|det d flow(z) / dz|`` per (batch, sample, variable): (b, n, S, v) -> (b, S, v)."""
        return self.forward_and_log_det(z)[1]

    def get_config(self):
        config = super().get_config()
        config.update(n_dims=self.n_dims, num_of_vars=self.num_of_vars, n_layers=self.n_layers,
                      init_stddev=self.init_stddev, seed=self.seed)
        return config


# ----------------------------------------------------------------------------------------------------------
# Stick-breaking and truncation
# ----------------------------------------------------------------------------------------------------------
def stick_break(eta):
    """Stick-breaking along axis 1: ``pi_k = eta_k prod_{j<k} (1 - eta_j)`` via an exclusive cumprod.

    eta in [0, 1], (b, n, ...) -> pi, same shape; ``sum_k pi_k = 1 - prod_k (1 - eta_k) <= 1``.
    """
    return eta * tf.math.cumprod(1.0 - eta, axis=1, exclusive=True)


def stick_break_from_logits(z):
    """:func:`stick_break` of ``sigmoid(z)`` computed in log space (finite gradients for any ``z``):
    ``log pi_k = log sigmoid(z_k) + sum_{j<k} log sigmoid(-z_j)`` (exclusive cumsum)."""
    log_eta = -tf.nn.softplus(-z)
    log_one_minus_eta = -tf.nn.softplus(z)
    return tf.exp(log_eta + tf.math.cumsum(log_one_minus_eta, axis=1, exclusive=True))


def stick_break_iterative(eta):
    """Plain loop version of :func:`stick_break` (reference for tests only)."""
    remaining = tf.ones_like(eta[:, 0])
    pieces = []
    for k in range(eta.shape[1]):
        pieces.append(eta[:, k] * remaining)
        remaining = remaining * (1.0 - eta[:, k])
    return tf.stack(pieces, axis=1)


def igr_sb_lam(z):
    """IGR-SB map ``lam = stick_break(sigmoid(z))`` (b, n, S, v) -> (b, n, S, v)."""
    return stick_break_from_logits(z)


def igr_sb_lam_jacobian(z, lam):
    """``d lam / d z`` of :func:`igr_sb_lam` at z (lam = igr_sb_lam(z)): (b, n, S, v) -> (b, n, n, S, v),
    entry [b, k, j] = ``lam_k (delta_kj sigmoid(-z_j) - [j < k] sigmoid(z_j))`` (lower triangular)."""
    n = z.shape[1]
    eye = tf.eye(n, dtype=z.dtype)[None, :, :, None, None]
    strictly_lower = tf.constant(np.tril(np.ones((n, n)), -1), z.dtype)[None, :, :, None, None]
    return lam[:, :, None] * (eye * tf.sigmoid(-z)[:, None] - strictly_lower * tf.sigmoid(z)[:, None])


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
    below = tf.cast(tf.math.cumsum(pi, axis=1) <= _as_float(threshold, pi.dtype), tf.int32)
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


# ----------------------------------------------------------------------------------------------------------
# IGR
# ----------------------------------------------------------------------------------------------------------
def _scaled_masked(lam, temp, mask):
    check_temperature(temp)
    x = lam / _as_float(temp, lam.dtype)
    if mask is not None:
        minus_inf = tf.constant(-np.inf, dtype=lam.dtype)
        x = tf.where(tf.cast(mask, lam.dtype) > 0, x, minus_inf)
    return x


def _sum_of_others(x):
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
    own = eye * _sum_of_others(psi)[:, :, None]
    return psi[:, :, None] * (own - (1.0 - eye) * psi[:, None]) / _as_float(temp, psi.dtype)


def softmax_pp_jacobian(psi, temp, lam_jacobian=None):
    """``d psi / d kappa`` of ``psi = softmax++(h(kappa) / tau)`` (masked categories included, with psi = 0).

    psi: (b, n+1, S, v); lam_jacobian: ``d h / d kappa`` (b, n, n, S, v), entry [b, k, j] = d h_k / d kappa_j, or
    None for the identity. Returns (b, n+1, n, S, v), entry [b, m, j] =
    ``psi_m sum_{k <= n} (delta_mk - psi_k) J_kj / tau`` (the softmax++ Jacobian ``psi_m (delta_mk - psi_k) / tau``
    times J), formed as ``psi_m ((sum_{k != m} psi_k) J_mj - sum_{k != m, k <= n} psi_k J_kj) / tau`` so that no
    term cancels where psi_m is close to 1. A masked category has psi = 0, so its row and its column vanish.
    """
    n = psi.shape[1] - 1
    others = _sum_of_others(psi)[:, :n, None]                                          # (b, n, 1, S, v)
    if lam_jacobian is None:
        eye = tf.eye(n, dtype=psi.dtype)[None, :, :, None, None]
        bracket = eye * others - (1.0 - eye) * psi[:, None, :n]                        # (b, n, n, S, v)
        last = -psi[:, None, :n]
    else:
        weighted = psi[:, :n, None] * lam_jacobian                                      # psi_k J_kj
        bracket = others * lam_jacobian - _sum_of_others(weighted)
        last = -tf.reduce_sum(weighted, axis=1, keepdims=True)
    return psi[:, :, None] * tf.concat([bracket, last], axis=1) / _as_float(temp, psi.dtype)


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
    others = _sum_of_others(psi)
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
    return psi[:, :, None] * bracket / _as_float(temp, dtype)


def igr_psi(lam, temp, mask=None, delta=1.0):
    """IGR sample ``softmax++(lam / tau)`` (b, n, S, v) -> (b, n+1, S, v).

    ``mask`` (broadcastable to ``lam``, e.g. from :func:`truncation_mask`): dims with mask 0 contribute
    nothing (their ``psi`` is exactly 0 and they get no gradient); the last category stays at index n.
    """
    return softmax_pp(_scaled_masked(lam, temp, mask), delta)


def igr_log_psi(lam, temp, mask=None, delta=1.0):
    """Log of :func:`igr_psi` (masked dims are ``-inf``)."""
    return log_softmax_pp(_scaled_masked(lam, temp, mask), delta)


def igr_i_log_prob(log_psi, mu, xi, temp, delta=1.0):
    """Log-density of an IGR-I sample on the simplex (w.r.t. Lebesgue measure on its first n coordinates).

    log_psi: (b, n+1, S, v); mu, xi: broadcastable to (b, n, S, v). Returns (b, S, v):
    ``sum_k log N(z_k; mu_k, e^{xi_k}) - sum_{k=1}^{n+1} log psi_k + n log tau`` with
    ``z = tau (log_psi_{1:n} - log_psi_{n+1} + log delta)``.
    """
    check_temperature(temp)
    dtype = log_psi.dtype
    temp = _as_float(temp, dtype)
    n = tf.cast(tf.shape(log_psi)[1] - 1, dtype)
    z = temp * (log_psi[:, :-1] - log_psi[:, -1:] + tf.cast(np.log(delta), dtype))
    eps = (z - mu) * tf.exp(-xi)
    log_normal = tf.reduce_sum(-0.5 * tf.square(eps) - xi - _LOG_SQRT_2PI, axis=1)
    return log_normal - tf.reduce_sum(log_psi, axis=1) + n * tf.math.log(temp)


# ----------------------------------------------------------------------------------------------------------
# Zero-temperature category probabilities of IGR-I
# ----------------------------------------------------------------------------------------------------------
# Quadrature layout. The maximum M = max_j lam_j lies in [max_j(mu_j - w sigma_j), max_j(mu_j + w sigma_j)] except
# with probability at most (n + 1) Phi(-w) (P(M < mu_j - w sigma_j) <= Phi(-w) for every j), so that is the domain (cut
# at 0: only t > 0 beats the softmax++ category). Every category j adds the breakpoints mu_j + sigma_j * grid (its
# density and its step Phi_j are both resolved on its own scale, however the sigmas compare); all categories of one
# (example, variable) share the panels between consecutive breakpoints, each with a Gauss-Legendre rule. Sharing the
# nodes makes the work n * Q per (example, variable) instead of n * (n - 1) * Q.
_QUAD_RULES = {  # dtype -> (breakpoints per category in units of sigma_j, domain half-width w, nodes per panel)
    tf.float64: (np.array([-6.0, -4.0, -2.5, -1.25, 0.0, 1.25, 2.5, 4.0, 6.0, 9.0]), 9.0, 5),
    tf.float32: (np.array([-2.5, 0.0, 2.5, 6.5]), 6.5, 6),
}
# (example, variable) pairs integrated at once: bounds the memory (pairs x n x Q values) and keeps it in cache.
_QUAD_CHUNK = 512


def _quadrature_panels(mu, sigma, grid, width):
    """Panels ``[left, left + length]`` that partition the integration domain: mu, sigma (P, n) -> two (P, m).

    The breakpoints (the domain's lower end and mu_j + sigma_j * grid, clipped to the domain) are not sorted: the
    panel of breakpoint i ends at the next breakpoint above it (ties go to the later index, the largest gets a
    panel of length 0), which gives the same partition for a fixed m^2 comparisons (XLA's CPU sort is ~5x slower).
    Panel ends are the breakpoints themselves, so the panels tile the domain exactly in any dtype.
    """
    lower = tf.maximum(tf.reduce_max(mu - width * sigma, axis=1, keepdims=True), 0.0)
    upper = tf.maximum(tf.reduce_max(mu + width * sigma, axis=1, keepdims=True), lower)
    pairs = tf.shape(mu)[0]
    bps = tf.reshape(mu[:, :, None] + sigma[:, :, None] * tf.constant(grid, mu.dtype), (pairs, -1))
    bps = tf.clip_by_value(tf.concat([lower, bps], axis=1), lower, upper)                      # (P, m)
    m = bps.shape[1]
    later = np.arange(m)[None, :] > np.arange(m)[:, None]                                      # [i, j]: j > i
    b_i, b_j = bps[:, :, None], bps[:, None, :]
    above = (b_j > b_i) | ((b_j == b_i) & later)
    right = tf.reduce_min(tf.where(above, b_j, upper[:, :, None]), axis=2)
    return bps, right - bps


def _normal_cdf(x):
    """Phi(x). In float32 as ``(1 + erf(x / sqrt 2)) / 2``: absolute error ~6e-8 (no relative accuracy in the lower
    tail, which the probabilities do not need), 3x cheaper than erfc under XLA on a CPU. float64 keeps erfc."""
    if x.dtype == tf.float64:
        return 0.5 * tf.math.erfc(x * -np.sqrt(0.5))
    return 0.5 + 0.5 * tf.math.erf(x * np.sqrt(0.5))


def _exclusive_products(factors):
    """``[prod_{j != k} f_j for k]`` for a list of n same-shape tensors, by prefix and suffix products (2n
    multiplications, no division: a factor may be 0). XLA's cumprod along a short axis is ~4x slower."""
    n = len(factors)
    prefix, suffix = [None] * n, [None] * n
    for j in range(1, n):
        prefix[j] = factors[0] if j == 1 else prefix[j - 1] * factors[j - 1]
    for j in range(n - 2, -1, -1):
        suffix[j] = factors[n - 1] if j == n - 2 else suffix[j + 1] * factors[j + 1]
    products = []
    for p, s in zip(prefix, suffix):
        products.append(tf.ones_like(factors[0]) if p is None and s is None
                        else p if s is None else s if p is None else p * s)
    return products


def _igr_probs_pairs(mu, sigma):
    """P(k), k = 1..n+1, for independent rows: mu, sigma (P, n) -> (P, n+1). See compute_igr_probs.

    The standardised node values are formed per panel as ``x = (left - mu_j) / sigma_j + (length / sigma_j) u``:
    within 6.5 sigma_j of mu_j a panel is at most 4 sigma_j long and mu_j is a panel end, so x carries about one
    rounding of |x| <= 11 (forming t first would lose ~|mu_j| / sigma_j ulps in float32).
    """
    dtype, n = mu.dtype, mu.shape[1]
    grid, width, nodes_n = _QUAD_RULES.get(dtype, _QUAD_RULES[tf.float64])
    left, length = _quadrature_panels(mu, sigma, grid, width)
    nodes01, weights01 = np.polynomial.legendre.leggauss(nodes_n)
    u = tf.constant((nodes01 + 1.0) / 2.0, dtype)
    pairs = tf.shape(mu)[0]
    weights = tf.reshape(length[:, :, None] * tf.constant(weights01 / 2.0, dtype), (pairs, -1))    # (P, Q)
    inv_sigma = 1.0 / sigma
    x = [tf.reshape(((left - mu[:, j:j + 1]) * inv_sigma[:, j:j + 1])[:, :, None]
                    + (length * inv_sigma[:, j:j + 1])[:, :, None] * u, (pairs, -1)) for j in range(n)]
    others = _exclusive_products([_normal_cdf(x_j) for x_j in x])
    p_k = tf.stack([tf.reduce_sum(weights * tf.exp(-0.5 * tf.square(x_k)) * others_k, axis=1)
                    for x_k, others_k in zip(x, others)], axis=1) * (inv_sigma / np.sqrt(2.0 * np.pi))
    p_last = tf.reduce_prod(_normal_cdf(-mu * inv_sigma), axis=1, keepdims=True)
    return tf.concat([p_k, p_last], axis=1)


def compute_igr_probs(mu, sigma):
    """Zero-temperature category probabilities of IGR-I, ``P(argmax(lam_1, .., lam_n, 0) = k)`` for
    independent ``lam_k ~ N(mu_k, sigma_k^2)``.

    mu, sigma: (b, n, v) or (b, n, 1, v). Returns (b, n+1, v) or (b, n+1, 1, v); the last entry is the
    softmax++ category, ``prod_k Phi(-mu_k / sigma_k)``, and for k <= n
    ``P(k) = int_{t > 0} N(t; mu_k, sigma_k) prod_{j != k} Phi((t - mu_j) / sigma_j) dt``, a composite
    Gauss-Legendre sum over nodes shared by the categories of one (example, variable) (see ``_QUAD_RULES``).
    Accuracy: about 1e-7 absolute in float64 and 1e-6 in float32, even when the sigmas differ by a factor of 1000
    and ``|mu|`` is large. The result is not renormalised (it sums to 1 up to that error). Work grows as
    ``b * v * n * Q`` with ``Q = 6 (4 n + 1)`` nodes in float32 (``5 (10 n + 1)`` in float64); the (example,
    variable) pairs are integrated in chunks of ``_QUAD_CHUNK``, which bounds the memory.
    """
    mu = tf.convert_to_tensor(mu)
    squeeze_samples = len(mu.shape) == 4
    if squeeze_samples:
        mu, sigma = mu[:, :, 0], sigma[:, :, 0]
    sigma = _as_float(sigma, mu.dtype)
    n = int(mu.shape[1])
    shape = tf.shape(mu)
    rows = lambda t: tf.reshape(tf.transpose(t, [0, 2, 1]), (-1, n))                    # (b * v, n)
    mu_rows, sigma_rows = rows(mu), rows(sigma)
    pairs = tf.shape(mu_rows)[0]
    static_pairs = mu_rows.shape[0]
    if static_pairs is not None and static_pairs <= _QUAD_CHUNK:
        probs = _igr_probs_pairs(mu_rows, sigma_rows)
    else:
        chunks = (pairs + _QUAD_CHUNK - 1) // _QUAD_CHUNK
        pad = chunks * _QUAD_CHUNK - pairs
        chunked = lambda t, fill: tf.reshape(tf.pad(t, [[0, pad], [0, 0]], constant_values=fill),
                                             (chunks, _QUAD_CHUNK, n))
        probs = tf.map_fn(lambda ms: _igr_probs_pairs(ms[0], ms[1]),
                          (chunked(mu_rows, 0.0), chunked(sigma_rows, 1.0)),
                          fn_output_signature=tf.TensorSpec((_QUAD_CHUNK, n + 1), mu.dtype))
        probs = tf.reshape(probs, (-1, n + 1))[:pairs]
    probs = tf.transpose(tf.reshape(probs, (shape[0], shape[2], n + 1)), [0, 2, 1])    # (b, n+1, v)
    return probs[:, :, None] if squeeze_samples else probs


def compute_igr_log_probs(mu, sigma):
    """``log`` of :func:`compute_igr_probs`, finite: usable as a log-density.

    The probabilities are computed in float64 whatever the input dtype and floored at the smallest positive
    float64 (log >= -708), then the logarithms are cast back to the input dtype. In float32 the probabilities
    themselves would underflow: below ~6e-8 the float32 quadrature returns 0 (e.g. mu = 5.5, sigma = 1 gives
    log P = [-6e-8, -inf] in float32 arithmetic, [-1.9e-8, -17.78] here). Shapes as :func:`compute_igr_probs`.
    """
    mu = tf.convert_to_tensor(mu)
    probs = compute_igr_probs(tf.cast(mu, tf.float64), tf.cast(sigma, tf.float64))
    return tf.cast(tf.math.log(tf.maximum(probs, np.finfo(np.float64).tiny)), mu.dtype)


# ----------------------------------------------------------------------------------------------------------
# Relaxed Bernoulli
# ----------------------------------------------------------------------------------------------------------
def binary_concrete(log_alpha, temp, uniform):
    """Binary Concrete sample ``sigmoid((log_alpha + log U - log(1 - U)) / tau)`` (logistic noise)."""
    check_temperature(temp)
    logistic = tf.math.log(uniform) - tf.math.log1p(-uniform)
    return tf.sigmoid((log_alpha + logistic) / _as_float(temp, log_alpha.dtype))


def igr_bernoulli(mu, xi, temp, eps):
    """IGR-Bernoulli sample ``sigmoid((mu + e^{xi} eps) / tau)``."""
    check_temperature(temp)
    return tf.sigmoid((mu + tf.exp(xi) * eps) / _as_float(temp, mu.dtype))


# ----------------------------------------------------------------------------------------------------------
# Sampler classes (original public names)
# ----------------------------------------------------------------------------------------------------------
def _noise_shape(param, sample_size):
    shape = tf.shape(param)
    return tf.concat([shape[:2], [sample_size], shape[3:]], axis=0)


class GS:
    """Gumbel-Softmax sampler. log_pi: (b, K, 1, v). ``generate_sample()`` sets ``lam = (log_pi + G) / tau``,
    ``log_psi`` and ``psi`` (b, K, S, v). ``noise``: optional Gumbel tensor (b, K, S, v)."""

    def __init__(self, log_pi, temp, sample_size=1, noise=None):
        self.log_pi = tf.convert_to_tensor(log_pi)
        self.temp = check_temperature(temp)
        self.sample_size = int(sample_size)
        self.noise = noise
        self.n_required = self.log_pi.shape[1]
        self.lam = self.log_psi = self.psi = None

    def generate_sample(self):
        gumbel = self.noise
        if gumbel is None:
            gumbel = sample_gumbel(_noise_shape(self.log_pi, self.sample_size), self.log_pi.dtype)
        self.lam = (self.log_pi + gumbel) / _as_float(self.temp, gumbel.dtype)
        self.log_psi = gs_log_psi(self.log_pi, gumbel, self.temp)
        self.psi = tf.exp(self.log_psi)
        return self.psi

    def log_prob(self, log_psi):
        """ExpConcrete log-density of ``log_psi`` (b, K, S, v) -> (b, S, v)."""
        return compute_log_exp_gs_dist(log_psi, self.log_pi, self.temp)


class _IGR:
    """Common IGR sampler. mu, xi: (b, n, 1, v). ``generate_sample()`` sets ``kappa = mu + sigma * eps``,
    ``lam = h(kappa)``, ``log_psi`` and ``psi = softmax++(lam / tau)`` (b, n+1, S, v).
    ``noise``: optional standard normal tensor (b, n, S, v) used instead of fresh noise."""

    def __init__(self, mu, xi, temp, sample_size=1, noise=None):
        self.mu = tf.convert_to_tensor(mu)
        self.xi = _as_float(xi, self.mu.dtype)
        self.temp = check_temperature(temp)
        self.sample_size = int(sample_size)
        self.noise = noise
        self.n_required = self.mu.shape[1]
        self.kappa = self.lam = self.log_psi = self.psi = None

    def transform(self, kappa):
        raise NotImplementedError

    def _project(self):
        self.psi, self.log_psi = softmax_pp_and_log(_scaled_masked(self.lam, self.temp, None))

    def generate_sample(self):
        eps = self.noise
        if eps is None:
            eps = sample_normal(_noise_shape(self.mu, self.sample_size), self.mu.dtype)
        self.kappa = self.mu + tf.exp(self.xi) * eps
        self.lam = self.transform(self.kappa)
        self._project()
        return self.psi


class IGR_I(_IGR):
    """IGR-I sampler (``h`` = identity), with the log-density of its samples and its zero-temperature
    category probabilities."""

    def transform(self, kappa):
        return kappa

    def log_prob(self, log_psi):
        """Log-density of ``log_psi`` (b, n+1, S, v) on the simplex -> (b, S, v)."""
        return igr_i_log_prob(log_psi, self.mu, self.xi, self.temp)

    def category_probs(self):
        """Zero-temperature category probabilities (b, n+1, 1, v)."""
        return compute_igr_probs(self.mu, tf.exp(self.xi))


class IGR_Planar(_IGR):
    """IGR with ``h`` = a :class:`PlanarFlow` (owned by the network and passed in)."""

    def __init__(self, mu, xi, temp, planar_flow, sample_size=1, noise=None):
        super().__init__(mu, xi, temp, sample_size, noise)
        self.planar_flow = planar_flow

    def transform(self, kappa):
        return self.planar_flow(kappa)


class IGR_SB_Finite(_IGR):
    """IGR with stick-breaking over all n dims: ``lam = stick_break(sigmoid(kappa))``."""

    def transform(self, kappa):
        return igr_sb_lam(kappa)


class IGR_SB(IGR_SB_Finite):
    """IGR stick-breaking truncated by ``threshold`` (see :func:`compute_n_required`).

    After ``generate_sample()``: ``lam`` (b, n, S, v) untruncated pieces, ``n_required`` (int; a tensor
    while tracing), ``threshold_met`` (bool), ``mask`` (1, n, 1, 1), ``psi``/``log_psi`` over the first
    ``n_required`` pieces (b, n_required+1, S, v) and ``psi_padded`` (b, n+1, S, v) with zeros on the
    dropped pieces.
    """

    def __init__(self, mu, xi, temp, sample_size=1, threshold=0.99, truncation_option='quantile', noise=None,
                 quantile=DEFAULT_QUANTILE):
        super().__init__(mu, xi, temp, sample_size, noise)
        if truncation_option not in TRUNCATION_OPTIONS:
            raise ValueError(f'unknown truncation_option {truncation_option!r}; choose one of {TRUNCATION_OPTIONS}')
        self.threshold = threshold
        self.truncation_option = truncation_option
        self.quantile = quantile
        self.threshold_met = self.mask = self.psi_padded = None

    def _project(self):
        n_required, self.threshold_met = compute_n_required(self.lam, self.threshold, self.truncation_option,
                                                            self.quantile)
        if tf.executing_eagerly():
            n_required, self.threshold_met = int(n_required), bool(self.threshold_met)
        self.n_required = n_required
        self.mask = truncation_mask(n_required, self.lam.shape[1], self.lam.dtype)
        self.psi_padded = igr_psi(self.lam, self.temp, self.mask)
        self.psi, self.log_psi = softmax_pp_and_log(_scaled_masked(self.lam[:, :n_required], self.temp, None))


SAMPLERS = {'GS': GS, 'IGR_I': IGR_I, 'IGR_Planar': IGR_Planar, 'IGR_SB': IGR_SB, 'IGR_SB_Finite': IGR_SB_Finite}


def get_sampler_class(name):
    """Sampler class for ``name`` in :data:`SAMPLERS`; ValueError listing the choices otherwise."""
    try:
        return SAMPLERS[name]
    except (KeyError, TypeError):
        raise ValueError(f'unknown distribution {name!r}; choose one of {sorted(SAMPLERS)}') from None


def dist_type_from_model_type(model_type):
    """Sampler name of a ``model_type`` ('IGR_I_Dis' -> 'IGR_I'); ValueError if unknown."""
    name = model_type[:-len('_Dis')] if model_type.endswith('_Dis') else model_type
    get_sampler_class(name)
    return name


def generate_sample(sample_size, params, dist_type, temp, threshold=0.99, output_one_hot=False, planar_flow=None):
    """Draw ``sample_size`` samples for the approximation scripts.

    params: ``[log_pi]`` for GS or ``[mu, xi]`` for IGR, each (b, n, 1, v). Returns numpy: the relaxed samples
    ``psi`` (b, K, S, v) when ``output_one_hot`` (the original name of this switch), else the category
    indices ``argmax(psi, axis=1)`` (b, S, v). For IGR-SB, K = n_required + 1 varies with the draw.
    """
    cls = get_sampler_class(dist_type)
    if cls is GS:
        dist = GS(params[0], temp, sample_size)
    elif cls is IGR_Planar:
        if planar_flow is None:
            raise ValueError("dist_type 'IGR_Planar' needs planar_flow")
        dist = IGR_Planar(params[0], params[1], temp, planar_flow, sample_size)
    elif cls is IGR_SB:
        dist = IGR_SB(params[0], params[1], temp, sample_size, threshold=threshold)
    else:
        dist = cls(params[0], params[1], temp, sample_size)
    psi = dist.generate_sample().numpy()
    return psi if output_one_hot else np.argmax(psi, axis=1)


# ----------------------------------------------------------------------------------------------------------
# TensorFlow Probability distributions (Utils/igr_distributions.py), imported on first use: TFP is slow to import
# and the samplers above do not need it.
# ----------------------------------------------------------------------------------------------------------
_TFP_CLASSES = ('IGR', 'IGRPlanar', 'IGRStickBreaking', 'IGRBernoulli')


def __getattr__(name):
    if name in _TFP_CLASSES:
        from Utils import igr_distributions
        return getattr(igr_distributions, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
