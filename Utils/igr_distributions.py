r"""IGR as TensorFlow Probability distributions: `IGR`, `IGRPlanar`, `IGRStickBreaking`, `IGRBernoulli`.

Layout follows TFP, not the rest of this project: parameters have their K-1 Gaussian dimensions on the last axis,
samples their K categories on the last axis, everything before it is batch. Each distribution is a
`tfd.TransformedDistribution` of independent Gaussians ``z ~ N(loc, scale)`` (``n = K - 1`` dimensions) through

    psi = softmax++(h(z) / temperature; delta),   softmax++(x; delta) = softmax([x_1, .., x_n, log delta]),

with ``h`` the identity (IGR-I), a stack of planar flows (IGR-Planar) or ``stick-breaking(sigmoid(z))``
(IGR-SB); `IGRBernoulli` is ``sigmoid(z / temperature)`` with event shape []. The maths is the project's
(`Utils.relaxed`: `softmax_pp`, `log_softmax_pp`, `planar_forward`, `planar_inverse`, `stick_break_from_logits`,
`compute_igr_probs`, `gaussian_kl`), wrapped in TFP bijectors.

Densities (`log_prob`) are with respect to Lebesgue measure on the first K-1 coordinates of the simplex, the
convention of `Utils.relaxed.densities.igr_i_log_prob` and of the Concrete density: for IGR-I
``log q(psi) = sum_k log N(z_k; loc_k, scale_k) + n log tau - sum_{k=1}^{K} log psi_k`` with
``z = tau (log psi_{1:n} - log psi_K + log delta)``. TFP's ``tfb.SoftmaxCentered`` measures volume on the simplex
itself, which adds ``0.5 log K`` to its log-determinant: `IGR(delta=1).log_prob = TransformedDistribution(
MVNDiag, [Scale(1/tau), SoftmaxCentered]).log_prob + 0.5 log K` (tested).

At low temperatures a sample's smaller entries underflow to exactly 0 (e.g. tau = 0.01 with gaps of more than ~7
between the entries of ``h(z)`` in float64); `log_prob` of the tensor a distribution returned from `sample` uses
TFP's bijector cache (exact), while the same values coming from elsewhere cannot be inverted and give -inf or nan.

KL: `tfd.kl_divergence(p, q)` between two distributions of the same family, temperature, delta and map is the
Gaussian KL summed over the K-1 dimensions (the map is shared and invertible); anything else raises ValueError.
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util, parameter_properties, tensor_util

from Utils.relaxed.densities import gaussian_kl
from Utils.relaxed.planar import planar_forward, planar_inverse
from Utils.relaxed.quadrature import compute_igr_log_probs, compute_igr_probs
from Utils.relaxed.softmax_pp import log_softmax_pp, softmax_pp, straight_through, vertex_one_hot
from Utils.relaxed.stick_breaking import compute_n_required, log_stick_break_from_logits, stick_break_from_logits

tfb, tfd = tfp.bijectors, tfp.distributions

__all__ = ['IGR', 'IGRPlanar', 'IGRStickBreaking', 'IGRBernoulli', 'SoftmaxPlusPlus', 'PlanarFlowBijector',
           'SigmoidStickBreaking', 'straight_through', 'stick_breaking_pieces_needed', 'planar_params_from_layer']


def _on_last_axis(fn, x, extra=0):
    """Apply a function of (rows, n) tensors along the last axis of x [..., n] -> [..., n + extra]."""
    n = tf.shape(x)[-1]
    rows = tf.reshape(x, [-1, n])
    out = fn(rows)
    return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [n + extra]], axis=0))


# ---------------------------------------------------------------------------------------------------------------------
# Bijectors
# ---------------------------------------------------------------------------------------------------------------------
class SoftmaxPlusPlus(tfb.Bijector):
    """``R^n -> simplex in R^{n+1}``: ``y = softmax([x, log delta])`` (delta = 1 is ``tfb.SoftmaxCentered``'s map).

    Inverse ``x = log y_{1:n} - log y_{n+1} + log delta``; ``log|det dy_{1:n}/dx| = sum_{k=1}^{n+1} log y_k``
    (Lebesgue measure on the first n coordinates; independent of delta), computed from x in log space. The inverse
    log-determinant is left to TFP (minus the forward one at the inverse, which the bijector cache makes exact and
    finite for a sample's own tensor even where its small entries underflowed to 0).
    """

    def __init__(self, delta=1., validate_args=False, name='softmax_plus_plus'):
        parameters = dict(locals())
        self._delta = float(delta)
        if not self._delta > 0.:
            raise ValueError(f'delta must be > 0, got {delta!r}')
        super().__init__(forward_min_event_ndims=1, validate_args=validate_args, parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    delta = property(lambda self: self._delta)

    def _forward(self, x):
        return _on_last_axis(lambda rows: softmax_pp(rows, self._delta), x, extra=1)

    def _inverse(self, y):
        log_y = tf.math.log(y)
        return log_y[..., :-1] - log_y[..., -1:] + tf.cast(np.log(self._delta), y.dtype)

    def _forward_log_det_jacobian(self, x):
        return tf.reduce_sum(_on_last_axis(lambda rows: log_softmax_pp(rows, self._delta), x, extra=1), -1)

    def _forward_event_shape(self, input_shape):
        return input_shape[:-1].concatenate([None if input_shape[-1] is None else input_shape[-1] + 1])

    def _forward_event_shape_tensor(self, input_shape):
        return tf.concat([input_shape[:-1], input_shape[-1:] + 1], axis=0)

    def _inverse_event_shape(self, output_shape):
        return output_shape[:-1].concatenate([None if output_shape[-1] is None else output_shape[-1] - 1])

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.concat([output_shape[:-1], output_shape[-1:] - 1], axis=0)


class PlanarFlowBijector(tfb.Bijector):
    """A stack of L planar flows on the last axis, layer i: ``f(z) = z + u_hat_i tanh(w_i.z + b_i)``
    (`Utils.relaxed.planar.planar_forward`).

    w, u: [..., L, n]; b: [..., L] (read when used, so tf.Variables get their gradients). Invertible because
    ``w.u_hat = -1 + softplus(w.u) > -1``; the inverse solves one scalar equation per layer (`planar_inverse`).
    """

    def __init__(self, w, u, b, validate_args=False, name='planar_flow'):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype([w, u, b], tf.float32)
            self._w = tensor_util.convert_nonref_to_tensor(w, dtype=dtype, name='w')
            self._u = tensor_util.convert_nonref_to_tensor(u, dtype=dtype, name='u')
            self._b = tensor_util.convert_nonref_to_tensor(b, dtype=dtype, name='b')
            self._layers = int(self._b.shape[-1])
            super().__init__(forward_min_event_ndims=1, validate_args=validate_args, parameters=parameters,
                             dtype=dtype, name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(w=parameter_properties.ParameterProperties(event_ndims=2),
                    u=parameter_properties.ParameterProperties(event_ndims=2),
                    b=parameter_properties.ParameterProperties(event_ndims=1))

    w, u, b = (property(lambda self, k=k: getattr(self, k)) for k in ('_w', '_u', '_b'))

    def _layer(self, i, dtype):
        return (tf.cast(self._w[..., i, :], dtype), tf.cast(self._u[..., i, :], dtype),
                tf.cast(self._b[..., i:i + 1], dtype))

    def _forward_and_log_det(self, x):
        log_det = 0.
        for i in range(self._layers):
            x, layer_log_det = planar_forward(x, *self._layer(i, x.dtype), axis=-1)
            log_det += layer_log_det
        return x, log_det

    def _forward(self, x):
        return self._forward_and_log_det(x)[0]

    def _forward_log_det_jacobian(self, x):
        return self._forward_and_log_det(x)[1]

    def _inverse(self, y):
        for i in reversed(range(self._layers)):
            y = planar_inverse(y, *self._layer(i, y.dtype), axis=-1)
        return y


class SigmoidStickBreaking(tfb.Bijector):
    """``R^n -> (0, 1)^n``: ``lam_k = sigmoid(z_k) prod_{j<k} sigmoid(-z_j)`` (`stick_break_from_logits`).

    Inverse ``eta_k = lam_k / (1 - sum_{j<k} lam_j)``, ``z = logit(eta)``; the Jacobian is triangular with diagonal
    ``lam_k sigmoid(-z_k)``, so ``log|det| = sum_k (log lam_k - softplus(z_k))``.
    """

    def __init__(self, validate_args=False, name='sigmoid_stick_breaking'):
        parameters = dict(locals())
        super().__init__(forward_min_event_ndims=1, validate_args=validate_args, parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _forward(self, x):
        return _on_last_axis(stick_break_from_logits, x)

    def _forward_log_det_jacobian(self, x):
        return tf.reduce_sum(log_stick_break_from_logits(x, axis=-1) - tf.nn.softplus(x), axis=-1)

    def _inverse(self, y):
        rest = 1. - tf.math.cumsum(y, axis=-1, exclusive=True)
        return tf.math.log(y) - tf.math.log(rest - y)



# ---------------------------------------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------------------------------------
def _check_positive(value, name):
    """Raise ValueError now when a statically known value is not > 0 (values known only at run time are checked
    by `_parameter_control_dependencies` when validate_args is set)."""
    static = None if isinstance(value, tf.Variable) else tf.get_static_value(value)
    if static is not None and np.any(np.asarray(static) <= 0):
        raise ValueError(f'{name} must be > 0, got {np.asarray(static).tolist()!r}')


def _store_gaussian_params(dist_, loc, scale, temperature):
    """loc, scale, temperature as tensors of one dtype (variables kept as references), positivity checked."""
    dtype = dtype_util.common_dtype([loc, scale, temperature], tf.float32)
    dist_._loc = tensor_util.convert_nonref_to_tensor(loc, dtype=dtype, name='loc')
    dist_._scale = tensor_util.convert_nonref_to_tensor(scale, dtype=dtype, name='scale')
    dist_._temperature = tensor_util.convert_nonref_to_tensor(temperature, dtype=dtype, name='temperature')
    _check_positive(dist_._temperature, 'temperature')
    _check_positive(dist_._scale, 'scale')


def _positive_assertions(dist_, is_init):
    """validate_args: temperature > 0 and scale > 0, checked where TFP checks parameters (init and every call)."""
    if not dist_.validate_args:
        return []
    return [tf.debugging.assert_positive(getattr(dist_, attr), message=f'{attr[1:]} must be > 0')
            for attr in ('_temperature', '_scale')]


def _igr_parameter_properties(dtype):
    positive = lambda: tfb.Softplus(low=dtype_util.eps(dtype))
    return dict(loc=parameter_properties.ParameterProperties(event_ndims=1),
                scale=parameter_properties.ParameterProperties(event_ndims=1,
                                                               default_constraining_bijector_fn=positive),
                temperature=parameter_properties.ParameterProperties(shape_fn=lambda sample_shape: [],
                                                                     default_constraining_bijector_fn=positive))


class _IGRBase(tfd.TransformedDistribution):
    """Shared construction: Gaussian base, map h (a bijector or None), division by the temperature, softmax++."""

    def _setup(self, loc, scale, temperature, delta, validate_args, allow_nan_stats, name, parameters, flows=()):
        with tf.name_scope(name) as name:
            _store_gaussian_params(self, loc, scale, temperature)
            if self._temperature.shape.rank not in (None, 0):
                raise ValueError(f'temperature must be a scalar, got shape {self._temperature.shape}')
            self._delta = float(delta)
            base = tfd.Independent(tfd.Normal(self._loc, self._scale, validate_args=validate_args,
                                              allow_nan_stats=allow_nan_stats), reinterpreted_batch_ndims=1)
            self._map = list(flows)
            bijector = tfb.Chain([SoftmaxPlusPlus(self._delta, validate_args=validate_args),
                                  tfb.Scale(1. / self._temperature)] + self._map[::-1])
            super(_IGRBase, self).__init__(distribution=base, bijector=bijector, validate_args=validate_args,
                                           parameters=parameters, name=name)

    loc = property(lambda self: self._loc)
    scale = property(lambda self: self._scale)
    temperature = property(lambda self: self._temperature)
    delta = property(lambda self: self._delta)

    def _parameter_control_dependencies(self, is_init):
        return _positive_assertions(self, is_init)

    def transform(self, z):
        """h(z) on the last axis (before the temperature and softmax++)."""
        for flow in self._map:
            z = flow.forward(z)
        return z

    def _gaussian_sample(self, sample_shape, seed):
        return self.distribution.sample(sample_shape, seed=seed)

    def hard_sample(self, sample_shape=(), seed=None):
        """Zero-temperature samples: one-hot of ``argmax(h(z)_1, .., h(z)_n, 0)``, an exact draw of the categorical
        the relaxation tends to as the temperature goes to 0 (`categorical_probs`)."""
        return vertex_one_hot(self.transform(self._gaussian_sample(sample_shape, seed)), axis=-1)

    def straight_through_sample(self, sample_shape=(), seed=None):
        """One-hot zero-temperature samples in the forward pass, the relaxed sample's gradient in the backward pass
        (same noise for both)."""
        z = self._gaussian_sample(sample_shape, seed)
        lam = self.transform(z)
        relaxed = self.bijector.bijectors[0].forward(lam / self._temperature)
        return straight_through(vertex_one_hot(lam, axis=-1), relaxed)

    def categorical_probs(self, num_samples=10000, seed=None):
        """Probabilities [..., K] of the zero-temperature categories: frequencies of `num_samples` hard samples,
        standard error ``sqrt(p (1 - p) / num_samples)`` per entry (`IGR` overrides this with the exact values)."""
        return tf.reduce_mean(self.hard_sample(num_samples, seed), axis=0)

    def categorical_log_probs(self, num_samples=10000, seed=None):
        """log of `categorical_probs` (-inf for categories never drawn)."""
        return tf.math.log(self.categorical_probs(num_samples, seed))

    def _default_event_space_bijector(self):
        return None


class IGR(_IGRBase):
    """IGR-I: ``psi = softmax++((loc + scale eps) / temperature; delta)``, event shape [K].

    Args:
        loc, scale: float tensors [..., K-1] (broadcast against each other); scale > 0.
        temperature: positive scalar tau.
        delta: softmax++'s constant (1: TFP's SoftmaxCentered map).
        validate_args, allow_nan_stats, name: as in TFP.
    """

    def __init__(self, loc, scale, temperature, delta=1., validate_args=False, allow_nan_stats=True, name='IGR'):
        parameters = dict(locals())
        self._setup(loc, scale, temperature, delta, validate_args, allow_nan_stats, name, parameters)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return _igr_parameter_properties(dtype)

    def categorical_probs(self, num_samples=None, seed=None):
        """Exact zero-temperature category probabilities [..., K] (Gauss quadrature, `compute_igr_probs`; accurate
        to ~1e-6 in float32, ~1e-7 in float64; independent of delta)."""
        loc, scale = tf.broadcast_to(self._loc, self._shape()), tf.broadcast_to(self._scale, self._shape())
        probs = compute_igr_probs(tf.reshape(loc, [-1, tf.shape(loc)[-1], 1]),
                                       tf.reshape(scale, [-1, tf.shape(loc)[-1], 1]))
        return tf.reshape(probs, tf.concat([tf.shape(loc)[:-1], [-1]], 0))

    def categorical_log_probs(self, num_samples=None, seed=None):
        """Finite logarithms of the exact probabilities (computed in float64, `compute_igr_log_probs`)."""
        loc, scale = tf.broadcast_to(self._loc, self._shape()), tf.broadcast_to(self._scale, self._shape())
        n = tf.shape(loc)[-1]
        log_probs = compute_igr_log_probs(tf.reshape(loc, [-1, n, 1]), tf.reshape(scale, [-1, n, 1]))
        return tf.reshape(log_probs, tf.concat([tf.shape(loc)[:-1], [-1]], 0))

    def _shape(self):
        return tf.broadcast_dynamic_shape(tf.shape(self._loc), tf.shape(self._scale))


class IGRPlanar(_IGRBase):
    """IGR-Planar: ``psi = softmax++(f_L(..f_1(loc + scale eps)) / temperature; delta)`` with planar flows f_i.

    Args:
        loc, scale, temperature, delta: as `IGR`.
        flow_w, flow_u: [..., L, K-1] and flow_b: [..., L], the L layers' parameters (e.g. tf.Variables of a Keras
            layer; `planar_params_from_layer` reads the project's `Utils.relaxed.planar.PlanarFlow`).
    """

    def __init__(self, loc, scale, temperature, flow_w, flow_u, flow_b, delta=1., validate_args=False,
                 allow_nan_stats=True, name='IGRPlanar'):
        parameters = dict(locals())
        flows = [PlanarFlowBijector(flow_w, flow_u, flow_b, validate_args=validate_args)]
        self._flow_params = (flow_w, flow_u, flow_b)
        self._setup(loc, scale, temperature, delta, validate_args, allow_nan_stats, name, parameters, flows)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        props = _igr_parameter_properties(dtype)
        props.update(flow_w=parameter_properties.ParameterProperties(event_ndims=2),
                     flow_u=parameter_properties.ParameterProperties(event_ndims=2),
                     flow_b=parameter_properties.ParameterProperties(event_ndims=1))
        return props

    flow_params = property(lambda self: self._flow_params)


class IGRStickBreaking(_IGRBase):
    """IGR-SB with K categories: ``psi = softmax++(stick-breaking(sigmoid(loc + scale eps)) / temperature)``.

    For the countably infinite case, allocate generously and keep the first `stick_breaking_pieces_needed` pieces
    (mask the rest), as the VAEs do per batch.
    """

    def __init__(self, loc, scale, temperature, delta=1., validate_args=False, allow_nan_stats=True,
                 name='IGRStickBreaking'):
        parameters = dict(locals())
        self._setup(loc, scale, temperature, delta, validate_args, allow_nan_stats, name, parameters,
                    [SigmoidStickBreaking(validate_args=validate_args)])

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return _igr_parameter_properties(dtype)

    def pieces_needed(self, num_samples=100, threshold=0.99, truncation_option='quantile', seed=None):
        """`stick_breaking_pieces_needed` of `num_samples` draws of this distribution."""
        return stick_breaking_pieces_needed(self.transform(self._gaussian_sample(num_samples, seed)), threshold,
                                            truncation_option)


def stick_breaking_pieces_needed(lam, threshold=0.99, truncation_option='quantile'):
    """How many leading stick pieces a batch of stick-breaking draws ``lam`` [..., n] needs so that their sum passes
    `threshold` (`Utils.relaxed.stick_breaking.compute_n_required`: the 70th percentile over draws for 'quantile', the maximum
    for 'max'). Returns ``(pieces int32, threshold_met bool)``; pieces <= n, and threshold_met is False when n
    pieces were not enough (allocate more)."""
    n = tf.shape(lam)[-1]
    rows = tf.reshape(lam, [-1, n])
    return compute_n_required(tf.transpose(rows)[None, :, :, None], threshold, truncation_option)


class IGRBernoulli(tfd.TransformedDistribution):
    """Relaxed Bernoulli of IGR: ``y = sigmoid((loc + scale eps) / temperature)``, event shape [] (`igr_bernoulli`).

    ``log q(y) = log N(tau logit(y); loc, scale) + log tau - log y - log(1 - y)``.
    """

    def __init__(self, loc, scale, temperature, validate_args=False, allow_nan_stats=True, name='IGRBernoulli'):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            _store_gaussian_params(self, loc, scale, temperature)
            super().__init__(distribution=tfd.Normal(self._loc, self._scale, validate_args=validate_args,
                                                     allow_nan_stats=allow_nan_stats),
                             bijector=tfb.Chain([tfb.Sigmoid(), tfb.Scale(1. / self._temperature)]),
                             validate_args=validate_args, parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        positive = lambda: tfb.Softplus(low=dtype_util.eps(dtype))
        return dict(loc=parameter_properties.ParameterProperties(),
                    scale=parameter_properties.ParameterProperties(default_constraining_bijector_fn=positive),
                    temperature=parameter_properties.ParameterProperties(default_constraining_bijector_fn=positive))

    loc = property(lambda self: self._loc)
    scale = property(lambda self: self._scale)
    temperature = property(lambda self: self._temperature)

    def _parameter_control_dependencies(self, is_init):
        return _positive_assertions(self, is_init)

    def _default_event_space_bijector(self):
        return None

    def bernoulli_probs(self):
        """P(y > 1/2) = P(z > 0) = Phi(loc / scale): the zero-temperature Bernoulli probability (exact)."""
        return tfd.Normal(0., 1.).cdf(self._loc / self._scale)


def planar_params_from_layer(layer):
    """(flow_w [v, L, n], flow_u [v, L, n], flow_b [v, L]) of a `Utils.relaxed.planar.PlanarFlow` layer, whose
    weights are (1, n, 1, v): one flow per variable becomes the batch dimension v."""
    to_batch = lambda t: tf.transpose(t[0, :, 0, :])                                    # (n, v) -> (v, n)
    return (tf.stack([to_batch(w) for w in layer.w], axis=1), tf.stack([to_batch(u) for u in layer.u], axis=1),
            tf.stack([t[0, 0, 0, :] for t in layer.b], axis=1))


# ---------------------------------------------------------------------------------------------------------------------
# KL
# ---------------------------------------------------------------------------------------------------------------------
def _same_value(a, b):
    if a is b:
        return True
    va, vb = tf.get_static_value(a), tf.get_static_value(b)
    return va is not None and vb is not None and np.shape(va) == np.shape(vb) and np.all(va == vb)


def _same_map(p, q):
    if type(p) is not type(q) or p.delta != q.delta or not _same_value(p.temperature, q.temperature):
        return False
    if isinstance(p, IGRPlanar):
        return all(_same_value(a, b) for a, b in zip(p.flow_params, q.flow_params))
    return True


@tfd.RegisterKL(_IGRBase, _IGRBase)
def _kl_igr(p, q, name=None):
    """KL(p || q) = sum_k KL(N(loc_p, scale_p) || N(loc_q, scale_q)) when p and q share their map to the simplex."""
    if not _same_map(p, q):
        raise ValueError(f'KL between IGR distributions needs one family, temperature, delta and flow: got '
                         f'{type(p).__name__}(temperature={tf.get_static_value(p.temperature)}, delta={p.delta}) and '
                         f'{type(q).__name__}(temperature={tf.get_static_value(q.temperature)}, delta={q.delta})'
                         f'{" (planar flows differ)" if isinstance(p, IGRPlanar) and type(p) is type(q) else ""}')
    with tf.name_scope(name or 'kl_igr'):
        kl = gaussian_kl(p.loc, tf.math.log(p.scale), q.loc, tf.math.log(q.scale))
        return tf.reduce_sum(kl, axis=-1)


@tfd.RegisterKL(IGRBernoulli, IGRBernoulli)
def _kl_igr_bernoulli(p, q, name=None):
    """KL(p || q) = KL(N(loc_p, scale_p) || N(loc_q, scale_q)) at one temperature."""
    if not _same_value(p.temperature, q.temperature):
        raise ValueError(f'KL between IGRBernoulli distributions needs one temperature: got '
                         f'{tf.get_static_value(p.temperature)} and {tf.get_static_value(q.temperature)}')
    with tf.name_scope(name or 'kl_igr_bernoulli'):
        return gaussian_kl(p.loc, tf.math.log(p.scale), q.loc, tf.math.log(q.scale))
