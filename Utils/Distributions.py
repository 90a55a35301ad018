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

Where it lives
--------------
The maths is in `Utils.relaxed` (one concept per module: noise, softmax++, Gumbel-Softmax, stick-breaking, planar
flows, densities, Jacobians, quadrature, relaxed Bernoulli, and the table of families); this module re-exports its
public names and keeps the sampler classes of the original code (`GS`, `IGR_I`, `IGR_Planar`, `IGR_SB`,
`IGR_SB_Finite`, `generate_sample`), thin adapters over `Utils.relaxed.families`. The TensorFlow Probability
distributions (`IGR`, `IGRPlanar`, `IGRStickBreaking`, `IGRBernoulli`, in `Utils.igr_distributions`) are importable
from here too, loaded on first use.
"""
import numpy as np
import tensorflow as tf

from Utils.relaxed.bernoulli import binary_concrete, igr_bernoulli
from Utils.relaxed.densities import categorical_kl, gaussian_kl, gaussian_log_density, igr_i_log_prob
from Utils.relaxed.families import FAMILIES, get_family
from Utils.relaxed.gumbel_softmax import compute_log_exp_gs_dist, gs_log_psi, gs_sampled_kl
from Utils.relaxed.internal import argmax_one_hot, as_float, check_temperature
from Utils.relaxed.jacobians import (igr_sb_lam_jacobian, igr_sb_psi_jacobian, softmax_jacobian,
                                     softmax_pp_jacobian)
from Utils.relaxed.jacobians import sum_of_others as _sum_of_others  # noqa: F401  (tested under this name)
from Utils.relaxed.noise import generator_normal, sample_gumbel, sample_normal, sample_uniform
from Utils.relaxed.planar import PlanarFlow, planar_forward, planar_inverse, planar_u_hat, planar_w_dot_u_hat
from Utils.relaxed.quadrature import (_QUAD_RULES, _quadrature_panels,  # noqa: F401  (tested under these names)
                                      compute_igr_log_probs, compute_igr_probs)
from Utils.relaxed.softmax_pp import (igr_log_psi, igr_psi, log_softmax_pp, softmax_pp, softmax_pp_and_log,
                                      tempered)
from Utils.relaxed.stick_breaking import (DEFAULT_QUANTILE, TRUNCATION_OPTIONS, compute_n_required, igr_sb_lam,
                                          stick_break, stick_break_from_logits, truncation_mask)

__all__ = [
    'check_temperature', 'sample_gumbel', 'sample_normal', 'sample_uniform', 'generator_normal',
    'softmax_pp', 'log_softmax_pp', 'softmax_pp_and_log', 'project_to_vertices_via_softmax_pp', 'argmax_one_hot',
    'gs_log_psi', 'compute_log_exp_gs_dist', 'gs_sampled_kl', 'categorical_kl', 'gaussian_kl', 'gaussian_log_density',
    'PlanarFlow', 'planar_u_hat', 'planar_w_dot_u_hat', 'planar_forward', 'planar_inverse',
    'stick_break', 'stick_break_from_logits', 'igr_sb_lam',
    'compute_n_required', 'truncation_mask', 'TRUNCATION_OPTIONS', 'DEFAULT_QUANTILE',
    'igr_psi', 'igr_log_psi', 'igr_i_log_prob',
    'softmax_jacobian', 'softmax_pp_jacobian', 'igr_sb_lam_jacobian', 'igr_sb_psi_jacobian',
    'compute_igr_log_probs', 'compute_igr_probs',
    'binary_concrete', 'igr_bernoulli',
    'GS', 'IGR_I', 'IGR_Planar', 'IGR_SB', 'IGR_SB_Finite', 'SAMPLERS', 'get_sampler_class', 'generate_sample',
    'FAMILIES',
]


def project_to_vertices_via_softmax_pp(lam, delta=1.0):
    """softmax++ of ``lam`` along axis 1 (name kept from the original code); see :func:`softmax_pp`."""
    return softmax_pp(lam, delta)


# ----------------------------------------------------------------------------------------------------------
# Sampler classes (original public names): adapters over `Utils.relaxed.families`
# ----------------------------------------------------------------------------------------------------------
def _noise_shape(param, sample_size):
    shape = tf.shape(param)
    return tf.concat([shape[:2], [sample_size], shape[3:]], axis=0)


class GS:
    """Gumbel-Softmax sampler. log_pi: (b, K, 1, v). ``generate_sample()`` sets ``lam = (log_pi + G) / tau``,
    ``log_psi`` and ``psi`` (b, K, S, v). ``noise``: optional Gumbel tensor (b, K, S, v)."""
    family = FAMILIES['GS']

    def __init__(self, log_pi, temp, sample_size=1, noise=None):
        self.log_pi = tf.convert_to_tensor(log_pi)
        self.temp = check_temperature(temp)
        self.sample_size = int(sample_size)
        self.noise = noise
        self.n_required = self.log_pi.shape[1]
        self.lam = self.log_psi = self.psi = None

    @classmethod
    def from_params(cls, params, temp, sample_size=1, **_):
        """The sampler of ``params = [log_pi]`` (`generate_sample`)."""
        return cls(params[0], temp, sample_size)

    def generate_sample(self):
        gumbel = self.noise
        if gumbel is None:
            gumbel = sample_gumbel(_noise_shape(self.log_pi, self.sample_size), self.log_pi.dtype)
        draw = self.family.relaxed([self.log_pi], gumbel, self.temp)
        self.lam, self.log_psi, self.psi = draw['lam'], draw['log_psi'], draw['psi']
        return self.psi

    def log_prob(self, log_psi):
        """ExpConcrete log-density of ``log_psi`` (b, K, S, v) -> (b, S, v)."""
        return compute_log_exp_gs_dist(log_psi, self.log_pi, self.temp)


class _IGR:
    """Common IGR sampler. mu, xi: (b, n, 1, v). ``generate_sample()`` sets ``kappa = mu + sigma * eps``,
    ``lam = h(kappa)``, ``log_psi`` and ``psi = softmax++(lam / tau)`` (b, n+1, S, v).
    ``noise``: optional standard normal tensor (b, n, S, v) used instead of fresh noise."""
    family = None
    flow = None

    def __init__(self, mu, xi, temp, sample_size=1, noise=None):
        self.mu = tf.convert_to_tensor(mu)
        self.xi = as_float(xi, self.mu.dtype)
        self.temp = check_temperature(temp)
        self.sample_size = int(sample_size)
        self.noise = noise
        self.n_required = self.mu.shape[1]
        self.kappa = self.lam = self.log_psi = self.psi = None

    @classmethod
    def from_params(cls, params, temp, sample_size=1, **_):
        """The sampler of ``params = [mu, xi]`` (`generate_sample`)."""
        return cls(params[0], params[1], temp, sample_size)

    def transform(self, kappa):
        """``lam = h(kappa)``, the family's map."""
        return self.family.transform(kappa, self.flow)

    def _draw(self, eps):
        return self.family.relaxed([self.mu, self.xi], eps, self.temp, flow=self.flow)

    def _project(self, draw):
        self.psi, self.log_psi = draw['psi'], igr_log_psi(self.lam, self.temp)

    def generate_sample(self):
        eps = self.noise
        if eps is None:
            eps = sample_normal(_noise_shape(self.mu, self.sample_size), self.mu.dtype)
        draw = self._draw(eps)
        self.kappa, self.lam = draw['kappa'], draw['lam']
        self._project(draw)
        return self.psi


class IGR_I(_IGR):
    """IGR-I sampler (``h`` = identity), with the log-density of its samples and its zero-temperature
    category probabilities."""
    family = FAMILIES['IGR_I']

    def log_prob(self, log_psi):
        """Log-density of ``log_psi`` (b, n+1, S, v) on the simplex -> (b, S, v)."""
        return igr_i_log_prob(log_psi, self.mu, self.xi, self.temp)

    def category_probs(self):
        """Zero-temperature category probabilities (b, n+1, 1, v)."""
        return self.family.exact_probs([self.mu, self.xi])


class IGR_Planar(_IGR):
    """IGR with ``h`` = a :class:`PlanarFlow` (owned by the network and passed in)."""
    family = FAMILIES['IGR_Planar']

    def __init__(self, mu, xi, temp, planar_flow, sample_size=1, noise=None):
        super().__init__(mu, xi, temp, sample_size, noise)
        self.planar_flow = self.flow = planar_flow

    @classmethod
    def from_params(cls, params, temp, sample_size=1, planar_flow=None, **_):
        if planar_flow is None:
            raise ValueError("dist_type 'IGR_Planar' needs planar_flow")
        return cls(params[0], params[1], temp, planar_flow, sample_size)


class IGR_SB_Finite(_IGR):
    """IGR with stick-breaking over all n dims: ``lam = stick_break(sigmoid(kappa))``."""
    family = FAMILIES['IGR_SB_Finite']


class IGR_SB(IGR_SB_Finite):
    """IGR stick-breaking truncated by ``threshold`` (see :func:`compute_n_required`).

    After ``generate_sample()``: ``lam`` (b, n, S, v) untruncated pieces, ``n_required`` (int; a tensor
    while tracing), ``threshold_met`` (bool), ``mask`` (1, n, 1, 1), ``psi``/``log_psi`` over the first
    ``n_required`` pieces (b, n_required+1, S, v) and ``psi_padded`` (b, n+1, S, v) with zeros on the
    dropped pieces.
    """
    family = FAMILIES['IGR_SB']

    def __init__(self, mu, xi, temp, sample_size=1, threshold=0.99, truncation_option='quantile', noise=None,
                 quantile=DEFAULT_QUANTILE):
        super().__init__(mu, xi, temp, sample_size, noise)
        if truncation_option not in TRUNCATION_OPTIONS:
            raise ValueError(f'unknown truncation_option {truncation_option!r}; choose one of {TRUNCATION_OPTIONS}')
        self.threshold = threshold
        self.truncation_option = truncation_option
        self.quantile = quantile
        self.threshold_met = self.mask = self.psi_padded = None

    @classmethod
    def from_params(cls, params, temp, sample_size=1, threshold=0.99, **_):
        return cls(params[0], params[1], temp, sample_size, threshold=threshold)

    def _draw(self, eps):
        return self.family.relaxed([self.mu, self.xi], eps, self.temp, threshold=self.threshold,
                                   truncation_option=self.truncation_option, quantile=self.quantile)

    def _project(self, draw):
        n_required, self.threshold_met = draw['n_required'], draw['threshold_met']
        if tf.executing_eagerly():
            n_required, self.threshold_met = int(n_required), bool(self.threshold_met)
        self.n_required, self.mask, self.psi_padded = n_required, draw['mask'], draw['psi']
        self.psi, self.log_psi = softmax_pp_and_log(tempered(self.lam[:, :n_required], self.temp))


SAMPLERS = {cls.family.name: cls for cls in (GS, IGR_I, IGR_Planar, IGR_SB, IGR_SB_Finite)}
"""The original code's sampler class of each family (`Utils.relaxed.families.FAMILIES` holds the maths)."""


def get_sampler_class(name):
    """Sampler class for ``name`` in :data:`SAMPLERS`; ValueError listing the choices otherwise."""
    return SAMPLERS[get_family(name, 'distribution').name]


def generate_sample(sample_size, params, dist_type, temp, threshold=0.99, output_one_hot=False, planar_flow=None):
    """Draw ``sample_size`` samples for the approximation scripts.

    params: ``[log_pi]`` for GS or ``[mu, xi]`` for IGR, each (b, n, 1, v). Returns numpy: the relaxed samples
    ``psi`` (b, K, S, v) when ``output_one_hot`` (the original name of this switch), else the category
    indices ``argmax(psi, axis=1)`` (b, S, v). For IGR-SB, K = n_required + 1 varies with the draw.
    """
    dist = get_sampler_class(dist_type).from_params(params, temp, sample_size, threshold=threshold,
                                                    planar_flow=planar_flow)
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
