"""Network of the structured output prediction (SOP) experiment: relaxed Bernoulli stochastic layers.

Upper half of a binarized MNIST image (14 x 28 = 392 pixels) -> Dense -> 200 relaxed Bernoulli units -> Dense ->
200 relaxed Bernoulli units -> Dense -> 392 logits of the lower half. The Dense layers output the parameters of
the units (no other nonlinearity: the stochastic units are the nonlinearity).

Every unit is a relaxed categorical variable whose first coordinate is the unit's value:
  GS          Binary Concrete, b = sigmoid((log_alpha + log U - log(1 - U)) / tau) (logistic noise); K = 2.
  IGR_I       b = sigmoid((mu + sigma eps) / tau) = softmax++((mu + sigma eps) / tau)_1; K = 2 (one Gaussian dim).
  IGR_Planar  b = sigmoid(f(mu + sigma eps) / tau) with f a stack of two planar flows acting on the unit's Gaussian
              dimension (one flow per unit, `Utils.Distributions.PlanarFlow` with n = 1); K = 2.
  IGR_SB      two Gaussian dims per unit, lam = stick_break(sigmoid(mu + sigma eps)) and
              psi = softmax++(lam / tau) over K = 3 coordinates; b = psi_1 (the first stick piece wins).
              With one Gaussian dim the SB map gives psi_1 = sigmoid(pi_1 / tau) >= 1/2 (pi_1 > 0, so the softmax++
              category can never win as tau -> 0); two pieces give the unit both values at low temperature
              (b -> 1 when pi_1 > pi_2, b -> 0 when pi_2 > pi_1).
Discretized units: b_hard = 1 when the first coordinate is the argmax of the unit's category vector (for K = 2 this
is rounding b at 1/2, i.e. a draw of the discrete Bernoulli unit); the next layer then sees the hard values.

Noise tensors are shaped (rows, noise_dims, units) and flattened samples live on the rows axis.
"""
import numpy as np
import tensorflow as tf

from Models.sop_hyper import SOP_MODEL_TYPES  # noqa: F401  (the list lives with the hyper schema)
from Utils import Distributions as dist

PARAMS_PER_UNIT = {'GS': 1, 'IGR_I': 2, 'IGR_Planar': 2, 'IGR_SB': 4}
NOISE_DIMS = {'GS': 1, 'IGR_I': 1, 'IGR_Planar': 1, 'IGR_SB': 2}


def check_sop_model_type(model_type):
    if model_type not in SOP_MODEL_TYPES:
        raise ValueError(f'Unknown SOP model_type {model_type!r}; valid choices are {list(SOP_MODEL_TYPES)}')


class BernoulliUnits:
    """Relaxed Bernoulli units of one model family (no weights except the planar flow, owned by the network).

    Args: model_type in SOP_MODEL_TYPES, units, temp (> 0), planar_flow (IGR_Planar only).
    """

    def __init__(self, model_type, units, temp, planar_flow=None):
        check_sop_model_type(model_type)
        dist.check_temperature(temp)
        self.model_type, self.units, self.temp = model_type, int(units), float(temp)
        self.planar_flow = planar_flow
        self.noise_dims = NOISE_DIMS[model_type]
        self.params_n = PARAMS_PER_UNIT[model_type] * self.units

    def noise(self, rng, rows):
        """Standard noise (rows, noise_dims, units): Uniform(tiny, 1) for GS, N(0, 1) for IGR."""
        shape = (rows, self.noise_dims, self.units)
        if self.model_type == 'GS':
            return rng.uniform(shape, minval=np.finfo(np.float32).tiny, maxval=1.)
        return dist.generator_normal(rng, shape)

    def categories(self, params, noise):
        """Relaxed category vector of every unit, (rows, K, units); params (rows, params_n), noise as `noise()`."""
        rows = tf.shape(params)[0]
        if self.model_type == 'GS':
            b = dist.binary_concrete(params, self.temp, noise[:, 0])
            return tf.stack([b, 1. - b], axis=1)
        p = tf.reshape(params, (rows, 2, self.noise_dims, self.units))
        mu, xi = p[:, 0], p[:, 1]
        if self.model_type == 'IGR_I':
            b = dist.igr_bernoulli(mu[:, 0], xi[:, 0], self.temp, noise[:, 0])
            return tf.stack([b, 1. - b], axis=1)
        z = (mu + tf.exp(xi) * noise)[:, :, None, :]  # (rows, n, 1, units): axis 1 = Gaussian dims, units = vars
        lam = self.planar_flow(z) if self.model_type == 'IGR_Planar' else dist.igr_sb_lam(z)
        return dist.igr_psi(lam, self.temp)[:, :, 0, :]

    def sample(self, params, noise, hard=False):
        """Unit values (rows, units): relaxed b = first category coordinate, or its discretization (argmax == 0).

        Only b is formed, in closed form (the category vectors of `categories` are never built):
          GS, IGR_I    as in `categories`; hard b = [b >= 1/2] (first of two tied coordinates wins)
          IGR_Planar   b = sigmoid(lam / tau), lam = f(mu + sigma eps); hard b = [lam >= 0]
          IGR_SB       b = softmax(lam_1 / tau, lam_2 / tau, 0)_1 = sigmoid(lam_1 / tau - softplus(lam_2 / tau)),
                       lam_1 = sigmoid(z_1), lam_2 = sigmoid(z_2) sigmoid(-z_1); hard b = [lam_1 >= lam_2]
        The same values as the first coordinate of `categories` up to float rounding (and hence the same hard values
        except where two coordinates are within rounding of a tie).
        """
        if self.model_type in ('GS', 'IGR_I'):
            b = self.categories(params, noise)[:, 0]
            return tf.cast(b >= 0.5, b.dtype) if hard else b
        logit, first_wins = self._first_coordinate(params, noise)
        return tf.cast(first_wins, logit.dtype) if hard else tf.sigmoid(logit)

    def _first_coordinate(self, params, noise):
        """(logit of b, whether the first coordinate is the argmax), both (rows, units); IGR_Planar and IGR_SB."""
        p = tf.reshape(params, (tf.shape(params)[0], 2, self.noise_dims, self.units))
        z = p[:, 0] + tf.exp(p[:, 1]) * noise
        if self.model_type == 'IGR_Planar':
            lam = self.planar_flow(z[:, :, None, :])[:, 0, 0, :]
            return lam / self.temp, lam >= 0.
        lam_1, lam_2 = tf.sigmoid(z[:, 0]), tf.sigmoid(z[:, 1]) * tf.sigmoid(-z[:, 0])
        return lam_1 / self.temp - tf.nn.softplus(lam_2 / self.temp), lam_1 >= lam_2


class SOPNet(tf.keras.Model):
    """Stochastic network x_upper (rows, 392) -> logits of x_lower (rows, 392).

    Args: model_type, temp, units (200), stochastic_layers (2), out_dim (392), seed (weight initialisers).
    """

    def __init__(self, model_type, temp, units=200, stochastic_layers=2, in_dim=392, out_dim=392, seed=0, **kwargs):
        super().__init__(**kwargs)
        check_sop_model_type(model_type)
        self.model_type, self.units, self.in_dim, self.out_dim = model_type, int(units), int(in_dim), int(out_dim)
        init = lambda i: tf.keras.initializers.GlorotUniform(seed=seed + i)
        self.flows = []
        if model_type == 'IGR_Planar':
            self.flows = [dist.PlanarFlow(n_dims=1, num_of_vars=self.units, seed=seed + 100 + 10 * i, name=f'flow_{i}')
                          for i in range(stochastic_layers)]
        self.unit_layers = [BernoulliUnits(model_type, units, temp, self.flows[i] if self.flows else None)
                            for i in range(stochastic_layers)]
        self.param_layers = [tf.keras.layers.Dense(u.params_n, kernel_initializer=init(i), name=f'params_{i}')
                             for i, u in enumerate(self.unit_layers)]
        self.out_layer = tf.keras.layers.Dense(self.out_dim, kernel_initializer=init(stochastic_layers), name='logits')
        self.build_all()

    def build_all(self):
        """Create every weight now (so checkpoints and the optimizer see them before the first step)."""
        h = tf.zeros((1, self.in_dim))
        for layer, units in zip(self.param_layers, self.unit_layers):
            layer(h)
            h = tf.zeros((1, self.units))
        self.out_layer(h)
        self.built = True

    def noise(self, rng, rows):
        """One noise tensor per stochastic layer."""
        return [u.noise(rng, rows) for u in self.unit_layers]

    def call(self, x_upper, noise, hard=False, samples=1):
        """x_upper (b, 392) float, noise list from `noise(rng, b * samples)` -> logits (b * samples, 392).

        The first layer's parameters are computed once per image and repeated `samples` times (image-major rows).
        """
        params = self.param_layers[0](x_upper)
        if samples > 1:
            params = tf.repeat(params, samples, axis=0)
        h = self.unit_layers[0].sample(params, noise[0], hard=hard)
        for layer, units, eps in zip(self.param_layers[1:], self.unit_layers[1:], noise[1:]):
            h = units.sample(layer(h), eps, hard=hard)
        return self.out_layer(h)


def bernoulli_log_lik(x, logits):
    """log p(x | logits) = -sum of sigmoid cross-entropies over the last axis. x, logits (..., D) -> (...)."""
    return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=-1)
