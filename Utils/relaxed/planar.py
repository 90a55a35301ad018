r"""Planar flows (Rezende and Mohamed 2015), IGR-Planar's map ``h``.

One layer acts on the ``n`` Gaussian dimensions on ``axis``:

    f(z) = z + u_hat tanh(w.z + b),   u_hat = u + (m(w.u) - w.u) w / ||w||^2,   m(a) = -1 + softplus(a),

so ``w.u_hat > -1`` and ``f`` is invertible; ``log|det df/dz| = log|1 + (w.u_hat) (1 - tanh^2(w.z + b))|``.
:class:`PlanarFlow` is the Keras layer of the VAEs and the SOP (a stack of layers, one flow per variable).
"""
import tensorflow as tf

from Utils.relaxed.internal import tiny
from Utils.relaxed.jacobians import planar_jacobian

__all__ = ['planar_u_hat', 'planar_w_dot_u_hat', 'planar_forward', 'planar_inverse', 'PlanarFlow']


def planar_u_hat(w, u, axis=1):
    """``u_hat = u + (m(w.u) - w.u) w / ||w||^2`` with ``m(a) = -1 + softplus(a)``, dot products along ``axis``:
    the corrected ``u`` that makes ``f(z) = z + u_hat tanh(w.z + b)`` invertible (``w.u_hat > -1``)."""
    wu = tf.reduce_sum(w * u, axis=axis, keepdims=True)
    w_norm_sq = tf.maximum(tf.reduce_sum(tf.square(w), axis=axis, keepdims=True), tiny(w.dtype))
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
        """``d flow(z) / dz``: (b, n, S, v) -> (b, n, n, S, v), entry [b, k, j] = d f_k / d z_j
        (`Utils.relaxed.jacobians.planar_jacobian`)."""
        def layers():  # lazily, layer by layer, as the Jacobian is accumulated
            for i in range(self.n_layers):
                w, _, b = self._params(i, z.dtype)
                yield w, self.u_hat(i, z.dtype), b

        return planar_jacobian(z, layers())

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
