"""Network of the structured output prediction (SOP) experiment: relaxed Bernoulli stochastic layers.

Upper half of a binarized MNIST image (14 x 28 = 392 pixels) -> Dense -> 200 relaxed Bernoulli units -> Dense ->
200 relaxed Bernoulli units -> Dense -> 392 logits of the lower half. The Dense layers output the parameters of
the units (no other nonlinearity: the stochastic units are the nonlinearity).

Every unit is a relaxed categorical variable whose first coordinate is the unit's value; each model type's units are
its family's (`Utils.relaxed.families`, `Family.bernoulli_units`; the constructions in `Utils/relaxed/bernoulli.py`):
  GS          Binary Concrete, b = sigmoid((log_alpha + log U - log(1 - U)) / tau) (logistic noise); K = 2.
  IGR_I       b = sigmoid((mu + sigma eps) / tau) = softmax++((mu + sigma eps) / tau)_1; K = 2 (one Gaussian dim).
  IGR_Planar  b = sigmoid(f(mu + sigma eps) / tau) with f a stack of two planar flows acting on the unit's Gaussian
              dimension (one flow per unit, `Utils.relaxed.planar.PlanarFlow` with n = 1); K = 2.
  IGR_SB      two Gaussian dims per unit, lam = stick_break(sigmoid(mu + sigma eps)) and
              psi = softmax++(lam / tau) over K = 3 coordinates; b = psi_1 (the first stick piece wins).
              With one Gaussian dim the SB map gives psi_1 = sigmoid(pi_1 / tau) >= 1/2 (pi_1 > 0, so the softmax++
              category can never win as tau -> 0); two pieces give the unit both values at low temperature
              (b -> 1 when pi_1 > pi_2, b -> 0 when pi_2 > pi_1).
The IGR units' sigma is learned (mu and xi = log sigma per Gaussian dim), or fixed for every unit with `unit_sigma`
(mu only; the later original's SOP fixed sigma = 1).
Discretized units: b_hard = 1 when the first coordinate is the argmax of the unit's category vector (for K = 2 this
is rounding b at 1/2, i.e. a draw of the discrete Bernoulli unit); the next layer then sees the hard values.

Noise tensors are shaped (rows, noise_dims, units) and flattened samples live on the rows axis.
"""
import tensorflow as tf

from Models.sop_hyper import SOP_MODEL_TYPES  # noqa: F401  (the list lives with the hyper schema)
from Utils.relaxed.families import FAMILIES
from Utils.relaxed.planar import PlanarFlow


def check_sop_model_type(model_type):
    if model_type not in SOP_MODEL_TYPES:
        raise ValueError(f'Unknown SOP model_type {model_type!r}; valid choices are {list(SOP_MODEL_TYPES)}')


class BernoulliUnits:
    """Relaxed Bernoulli units of one model family (no weights except the planar flow, owned by the network).

    Args: model_type in SOP_MODEL_TYPES, units, temp (> 0), planar_flow (IGR_Planar only), sigma (IGR only: the
    fixed scale of the units' Gaussian dims; None learns it).
    """

    def __init__(self, model_type, units, temp, planar_flow=None, sigma=None):
        check_sop_model_type(model_type)
        self.relaxation = FAMILIES[model_type].bernoulli_units(temp, planar_flow, sigma)
        self.model_type, self.units, self.temp = model_type, int(units), self.relaxation.temp
        self.planar_flow = planar_flow
        self.noise_dims = self.relaxation.noise_dims
        self.params_n = self.relaxation.params_per_unit * self.units

    def noise(self, rng, rows):
        """Standard noise (rows, noise_dims, units): Uniform(tiny, 1) for GS, N(0, 1) for IGR."""
        return self.relaxation.noise(rng, (rows, self.noise_dims, self.units))

    def categories(self, params, noise):
        """Relaxed category vector of every unit, (rows, K, units); params (rows, params_n), noise as `noise()`."""
        return self.relaxation.categories(params, noise)

    def sample(self, params, noise, hard=False):
        """Unit values (rows, units): relaxed b = first category coordinate, or its discretization (argmax == 0).

        Only b is formed (`Utils.relaxed.bernoulli`: in closed form for IGR_Planar and IGR_SB, whose category vectors
        are never built); the same values as the first coordinate of `categories` up to float rounding.
        """
        return self.relaxation.sample(params, noise, hard=hard)


class SOPNet(tf.keras.Model):
    """Stochastic network x_upper (rows, 392) -> logits of x_lower (rows, 392).

    Args: model_type, temp, units (200), stochastic_layers (2), out_dim (392), seed (weight initialisers),
    unit_sigma (IGR only: the units' fixed scale; None learns it).
    """

    def __init__(self, model_type, temp, units=200, stochastic_layers=2, in_dim=392, out_dim=392, seed=0,
                 unit_sigma=None, **kwargs):
        super().__init__(**kwargs)
        check_sop_model_type(model_type)
        self.model_type, self.units, self.in_dim, self.out_dim = model_type, int(units), int(in_dim), int(out_dim)
        init = lambda i: tf.keras.initializers.GlorotUniform(seed=seed + i)
        self.flows = []
        if FAMILIES[model_type].has_flow:
            self.flows = [PlanarFlow(n_dims=1, num_of_vars=self.units, seed=seed + 100 + 10 * i, name=f'flow_{i}')
                          for i in range(stochastic_layers)]
        self.unit_layers = [BernoulliUnits(model_type, units, temp, self.flows[i] if self.flows else None, unit_sigma)
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
