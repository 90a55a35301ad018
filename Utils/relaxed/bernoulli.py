r"""Relaxed Bernoulli variables: the Binary Concrete, IGR-Bernoulli, and the units of the SOP's stochastic layers.

    Binary Concrete   b = sigmoid((log_alpha + L) / tau),  L = log U - log(1 - U) logistic noise
    IGR-Bernoulli     b = sigmoid((mu + sigma eps) / tau) = softmax++((mu + sigma eps) / tau)_1

A unit of the structured output prediction network is a relaxed categorical variable whose first coordinate is the
unit's value (`Models/SOP.py`); each family's unit (:class:`BernoulliRelaxation` subclasses, chosen through
`Utils.relaxed.families`):

    GS          Binary Concrete; K = 2 (b, 1 - b)
    IGR_I       IGR-Bernoulli; K = 2 (one Gaussian dim)
    IGR_Planar  b = sigmoid(f(mu + sigma eps) / tau), f a stack of planar flows on the unit's Gaussian dimension; K = 2
    IGR_SB      two Gaussian dims, lam = stick-breaking(sigmoid(mu + sigma eps)), psi = softmax++(lam / tau) over K = 3;
                b = psi_1 = sigmoid(lam_1 / tau - softplus(lam_2 / tau)) (the first stick piece wins)

Discretized units: b_hard = 1 when the first coordinate is the argmax of the unit's category vector (for K = 2 this is
rounding b at 1/2, a draw of the discrete Bernoulli unit). Parameters are (rows, params_per_unit * units), noise
(rows, noise_dims, units), unit values (rows, units).

The IGR units' scale sigma is learned (the parameters hold mu and xi = log sigma per Gaussian dim) or, with
``sigma`` given, fixed at that value for every unit (the parameters hold mu only; the later original's SOP units
fixed sigma = 1).
"""
import math

import tensorflow as tf

from Utils.relaxed.internal import as_float, check_temperature
from Utils.relaxed.noise import generator_normal, generator_uniform, logistic
from Utils.relaxed.softmax_pp import igr_psi
from Utils.relaxed.stick_breaking import igr_sb_lam

__all__ = ['binary_concrete', 'igr_bernoulli', 'BernoulliRelaxation', 'BinaryConcreteUnits', 'IGRBernoulliUnits',
           'IGRPlanarBernoulliUnits', 'IGRStickBreakingBernoulliUnits']


def binary_concrete(log_alpha, temp, uniform):
    """Binary Concrete sample ``sigmoid((log_alpha + log U - log(1 - U)) / tau)`` (logistic noise), shape of the
    broadcast inputs."""
    check_temperature(temp)
    return tf.sigmoid((log_alpha + logistic(uniform)) / as_float(temp, log_alpha.dtype))


def igr_bernoulli(mu, xi, temp, eps):
    """IGR-Bernoulli sample ``sigmoid((mu + e^{xi} eps) / tau)``, shape of the broadcast inputs."""
    check_temperature(temp)
    return tf.sigmoid((mu + tf.exp(xi) * eps) / as_float(temp, mu.dtype))


class BernoulliRelaxation:
    """Relaxed Bernoulli units of one family at temperature ``temp`` (``flow``: IGR-Planar's `PlanarFlow`, n = 1;
    ``sigma``: None for a learned scale, or the fixed scale of every unit's Gaussian dims, finite and > 0)."""
    params_per_unit = 2
    noise_dims = 1

    def __init__(self, temp, flow=None, sigma=None):
        check_temperature(temp)
        self.temp, self.flow, self.sigma = float(temp), flow, None
        if sigma is not None:
            if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
                raise ValueError(f'bad unit sigma {sigma!r}: a finite number > 0, or None for a learned one')
            self.sigma = float(sigma)
            self.params_per_unit = self.noise_dims  # mu only

    def noise(self, rng, shape):
        """Standard noise (rows, noise_dims, units) from a ``tf.random.Generator``: N(0, 1) for the IGR units."""
        return generator_normal(rng, shape)

    def _mu_xi(self, params, units):
        """``(mu, xi)``, each (rows, noise_dims, units) (xi broadcastable), of the parameters (rows, params_per_unit *
        units)."""
        rows = tf.shape(params)[0]
        if self.sigma is None:
            p = tf.reshape(params, (rows, 2, self.noise_dims, units))
            return p[:, 0], p[:, 1]
        return tf.reshape(params, (rows, self.noise_dims, units)), tf.constant(math.log(self.sigma), params.dtype)

    def location_scale(self, params, units):
        """``(mu, sigma)`` of the units' Gaussian dims, each (rows, noise_dims, units) (a fixed sigma: a scalar);
        None for units without Gaussian dims (GS)."""
        mu, xi = self._mu_xi(params, units)
        return mu, tf.exp(xi)

    def _gaussian(self, params, noise):
        """``z = mu + sigma eps`` (rows, noise_dims, units)."""
        mu, xi = self._mu_xi(params, noise.shape[-1])
        return mu + tf.exp(xi) * noise

    def categories(self, params, noise):
        """Relaxed category vector of every unit, (rows, K, units)."""
        raise NotImplementedError

    def sample(self, params, noise, hard=False):
        """Unit values (rows, units): the relaxed first coordinate b, or its discretization."""
        raise NotImplementedError


class _TwoCategoryUnits(BernoulliRelaxation):
    """Units with K = 2 given by b itself: category vector (b, 1 - b), hard b = [b >= 1/2] (first of two tied
    coordinates wins)."""

    def relaxed(self, params, noise):
        raise NotImplementedError

    def categories(self, params, noise):
        b = self.relaxed(params, noise)
        return tf.stack([b, 1. - b], axis=1)

    def sample(self, params, noise, hard=False):
        b = self.relaxed(params, noise)
        return tf.cast(b >= 0.5, b.dtype) if hard else b


class BinaryConcreteUnits(_TwoCategoryUnits):
    """GS: Binary Concrete units, one logit per unit, Uniform(tiny, 1) noise (of no scale to fix)."""
    params_per_unit = 1

    def __init__(self, temp, flow=None, sigma=None):
        if sigma is not None:
            raise ValueError(f'bad unit sigma {sigma!r} for GS: the Binary Concrete\'s logistic noise has no scale; '
                             f'only the IGR units take one')
        super().__init__(temp, flow)

    def location_scale(self, params, units):
        return None

    def noise(self, rng, shape):
        return generator_uniform(rng, shape)

    def relaxed(self, params, noise):
        return binary_concrete(params, self.temp, noise[:, 0])


class IGRBernoulliUnits(_TwoCategoryUnits):
    """IGR-I: IGR-Bernoulli units, (mu, xi) per unit."""

    def relaxed(self, params, noise):
        mu, xi = self._mu_xi(params, noise.shape[-1])
        return igr_bernoulli(mu[:, 0], xi if self.sigma is not None else xi[:, 0], self.temp, noise[:, 0])


class _FirstCoordinateUnits(BernoulliRelaxation):
    """Units whose b is formed in closed form from the map of z (the category vectors are never built), the same
    values as the first coordinate of `categories` up to float rounding (hence the same hard values except where two
    coordinates are within rounding of a tie)."""

    def lam(self, z):
        """The map h of the unit's Gaussian dims: z (rows, n, 1, units) -> lam, same shape."""
        raise NotImplementedError

    def first_coordinate(self, z):
        """(logit of b, whether the first coordinate is the argmax), both (rows, units), from z (rows, n, units)."""
        raise NotImplementedError

    def categories(self, params, noise):
        return igr_psi(self.lam(self._gaussian(params, noise)[:, :, None, :]), self.temp)[:, :, 0, :]

    def sample(self, params, noise, hard=False):
        logit, first_wins = self.first_coordinate(self._gaussian(params, noise))
        return tf.cast(first_wins, logit.dtype) if hard else tf.sigmoid(logit)


class IGRPlanarBernoulliUnits(_FirstCoordinateUnits):
    """IGR-Planar: b = sigmoid(lam / tau), lam = f(mu + sigma eps); hard b = [lam >= 0]."""

    def lam(self, z):
        return self.flow(z)

    def first_coordinate(self, z):
        lam = self.flow(z[:, :, None, :])[:, 0, 0, :]
        return lam / self.temp, lam >= 0.


class IGRStickBreakingBernoulliUnits(_FirstCoordinateUnits):
    """IGR-SB: two stick pieces per unit, b = softmax(lam_1 / tau, lam_2 / tau, 0)_1
    = sigmoid(lam_1 / tau - softplus(lam_2 / tau)), lam_1 = sigmoid(z_1), lam_2 = sigmoid(z_2) sigmoid(-z_1);
    hard b = [lam_1 >= lam_2]. With one piece the softmax++ category could never win (b >= 1/2 always)."""
    params_per_unit = 4
    noise_dims = 2

    def lam(self, z):
        return igr_sb_lam(z)

    def first_coordinate(self, z):
        lam_1, lam_2 = tf.sigmoid(z[:, 0]), tf.sigmoid(z[:, 1]) * tf.sigmoid(-z[:, 0])
        return lam_1 / self.temp - tf.nn.softplus(lam_2 / self.temp), lam_1 >= lam_2
