"""Discrete latent families of the VAEs: how each samples psi from the encoder's parameters, its KL to the prior,
and the category probabilities of the discrete model it encodes.

    family         class              psi                                          KL (training)
    GS             GSLatent           softmax((log_pi + G) / tau), G Gumbel       ExpConcrete, sampled
    IGR_I          IGRILatent         softmax++((mu + sigma eps) / tau)           Gaussian, closed form (or sampled)
    IGR_Planar     IGRPlanarLatent    softmax++(planar(mu + sigma eps) / tau)     Gaussian
    IGR_SB_Finite  IGRSBFiniteLatent  softmax++(stick-break(sigmoid(kappa)) / tau) Gaussian
    IGR_SB         IGRSBLatent        the same, truncated per batch at `threshold`  Gaussian (kept dimensions)

Tensors follow the project layout (batch, categories, samples, vars). `Models.OptVAE` picks the class from
`LATENTS`; nothing else branches on the family. How a family samples (its noise, psi, the zero-temperature sample) is
its entry of `Utils.relaxed.families.FAMILIES`; a latent adds what the VAE needs around it (the prior, the KLs, the
category probabilities of the discrete model, the Jacobians of the vanished-gradient count).
"""
import numpy as np
import tensorflow as tf

from Utils.relaxed.densities import categorical_kl, gaussian_kl, gaussian_log_density
from Utils.relaxed.families import FAMILIES
from Utils.relaxed.gumbel_softmax import gs_sampled_kl
from Utils.relaxed.jacobians import igr_sb_psi_jacobian, softmax_jacobian, softmax_pp_jacobian
from Utils.relaxed.noise import generator_normal
from Utils.relaxed.planar import PlanarFlow
from Utils.relaxed.quadrature import compute_igr_log_probs, compute_igr_probs
from Utils.relaxed.stick_breaking import truncation_mask

DISCRETE_MC_SAMPLES = 100
PRIOR_MC_SAMPLES = 10000
PROPOSAL_FLOOR = 1e-12
"""Smallest probability of a category under the IGR-I proposal of the log-likelihood estimates."""
PROPOSAL_UNIFORM_WEIGHT = 0.05
"""Share of the uniform distribution (over the kept categories) in the Monte Carlo categorical proposals of the
log-likelihood estimates: every category the prior allows keeps probability >= this / K under the proposal."""


def _safe_log(p):
    return tf.math.log(tf.maximum(p, np.finfo(np.float32).tiny))


def _normalized_log_probs(log_probs, dtype):
    """Log-probabilities renormalised over axis 1 (quadrature sums are 1 only up to ~1e-7), cast to dtype."""
    return tf.cast(log_probs - tf.reduce_logsumexp(log_probs, axis=1, keepdims=True), dtype)


# ---------------------------------------------------------------------------------------------------------------------
# Discrete latent families
# ---------------------------------------------------------------------------------------------------------------------
class DiscreteLatent:
    """A relaxed categorical latent: `num_of_vars` variables, each from `n` encoder dimensions per parameter.

    Tensors follow the project layout (batch, categories, samples, vars); encoder parameters are (b, n, 1, v),
    noise (b, n, S, v), psi (b, K, S, v).  A draw is a dict with at least 'psi' and 'mask' ((1, n, 1, 1) or None).
    `exact_probs`: the category probabilities of TeELBOD from the family's closed form where it has one (IGR-I's
    quadrature; hyper `discrete_probs`), else Monte Carlo frequencies. `delta`: softmax++'s delta of the IGR
    families (hyper `softmax_delta`). The discrete model is the vertex nearest the relaxed sample, ``argmax psi =
    argmax(lam_1 + c, .., lam_n + c, 0)`` with ``c = -tau log delta`` (`vertex_shift`); with delta 1 (c = 0) that
    is the zero-temperature sample, whatever the temperature.
    """
    family = None
    """The family's entry of `Utils.relaxed.families.FAMILIES`: its noise, its relaxed and zero-temperature samples."""
    owns_objective = False
    """The latents of `Models.dlgmm` compute their own objective and test metrics; these share OptVAE's."""

    def __init__(self, n, num_of_vars, temp, prior=None, threshold=0.99, truncation_option='quantile',
                 closed_form_kl=True, exact_probs=True, delta=1.0):
        self.n, self.v, self.temp = int(n), int(num_of_vars), float(temp)
        self.delta = float(delta)
        self.threshold, self.truncation_option = float(threshold), truncation_option
        self.closed_form = bool(closed_form_kl)
        self.exact_probs = bool(exact_probs)
        self.prior = prior
        self.flow = None

    param_names = property(lambda self: self.family.param_names)
    truncates = property(lambda self: self.family.truncates)
    """Whether a draw chooses its number of categories (its 'n_required' is then recorded per epoch)."""
    categories = property(lambda self: self.family.categories(self.n))

    def make_flow(self):
        """A layer the network must own (IGR-Planar's flow) or None."""
        return None

    def trackables(self):
        """State of the latent a checkpoint must hold (none: the prior is read from its file)."""
        return {}

    def noise(self, rng, batch_n, sample_size):
        """The family's standard noise (b, n, S, v)."""
        return self.family.noise(rng, (batch_n, self.n, sample_size, self.v))

    def relaxed(self, params, noise, mask=None):
        """A relaxed draw (a dict with 'psi' and 'mask', `Utils.relaxed.families.Family.relaxed`)."""
        return self.family.relaxed(params, noise, self.temp, flow=self.flow, mask=mask, threshold=self.threshold,
                                   truncation_option=self.truncation_option, delta=self.delta)

    @property
    def vertex_shift(self):
        """``c = -tau log delta``: softmax++ with delta is softmax++ with delta 1 of ``(lam + c) / tau``, so the
        vertex nearest psi is that of ``lam + c`` (0 for delta 1)."""
        return -self.temp * float(np.log(self.delta))

    def hard(self, params, noise, draw):
        """The vertex nearest the relaxed sample (with delta 1, the zero-temperature sample): one-hot (b, K, S, v), an
        exact draw of the encoded categorical."""
        if self.delta != 1.0:
            draw = {**draw, 'lam': draw['lam'] + self.vertex_shift}
        return self.family.hard(params, noise, draw)

    def kl(self, params, draw):
        """KL used for training, per variable (b, v)."""
        raise NotImplementedError

    def log_ratio(self, params, draw):
        """``log p(sample) - log q(sample | x)`` of the relaxed samples, per sample and variable (b, S, v): the
        prior's density over the posterior's, both in the space the sample was drawn in (the map to the simplex is
        shared, so its Jacobian cancels). Minus its mean over samples is the sampled KL; in the importance weights of
        the log-likelihood estimate it enters per sample."""
        raise NotImplementedError

    def fixed_mask(self, categories):
        """The truncation mask of a discrete model with `categories` categories ((1, n, 1, 1)), None when the
        family does not truncate."""
        return None

    def proposal_log_probs(self, params, mask, noise):
        """log r(k | x) (b, K, 1, v) of a categorical proposal that can be both sampled and evaluated exactly, with
        mass on every category the prior allows (for the importance-weighted log-likelihood). `noise` (b, n, M, v)
        feeds the Monte Carlo proposals; exact families ignore it."""
        raise NotImplementedError

    def exact_prior_log_probs(self, mask):
        """log p(k) of the prior's categories, broadcastable to (b, K, 1, v), when known in closed form (else None:
        estimate it with `category_frequencies` on prior noise)."""
        return None

    def closed_form_kl(self, params, draw):
        raise NotImplementedError

    def straight_through_kl(self, params, draw):
        """KL of the straight-through objective, per variable (b, v): at least the categorical KL of the discrete
        model, so the objective stays a lower bound on its ELBO. IGR: the training (Gaussian) KL, which upper-bounds
        the categorical KL of the induced distributions (data processing: the argmax is a function of kappa, the same
        for prior and posterior)."""
        return self.kl(params, draw)

    def mc_noise(self, rng, batch_n):
        """Noise for Monte Carlo category probabilities: (posterior noise, prior noise) or None when exact."""
        return None

    def log_probs(self, params, draw, mc_noise=None):
        """log of the encoded category probabilities, (b, K, 1, v)."""
        raise NotImplementedError

    def prior_log_probs(self, draw, mc_noise=None):
        """log of the prior's category probabilities, broadcastable to (b, K, 1, v)."""
        raise NotImplementedError

    def discrete_kl(self, params, draw, mc_noise=None):
        """KL of the encoded categorical to the prior's, per variable (b, v)."""
        return categorical_kl(self.log_probs(params, draw, mc_noise), self.prior_log_probs(draw, mc_noise))[:, 0]

    def prior_params(self, batch_n):
        raise NotImplementedError

    def psi_jacobians(self, params, noise, draw):
        """``[d psi / d theta for theta in params]``, each (b, K, n, S, v): entry [b, k, j, s, v] =
        ``d psi_{b,k,s,v} / d theta_{b,j,v}`` (the Jacobian is block diagonal over examples and variables)."""
        raise NotImplementedError

    def categories_used(self, draw):
        return tf.constant(self.categories, tf.int32)


class GSLatent(DiscreteLatent):
    """Gumbel-Softmax: psi = softmax((log_pi + G) / tau), G Gumbel; prior uniform logits log(1/K)."""
    family = FAMILIES['GS']

    def log_ratio(self, params, draw):
        return -gs_sampled_kl(draw['log_psi'], params[0], self.temp)

    def kl(self, params, draw):
        return -tf.reduce_mean(self.log_ratio(params, draw), axis=1)

    def proposal_log_probs(self, params, mask, noise):
        return self.log_probs(params, None)

    def exact_prior_log_probs(self, mask):
        return self.prior_log_probs(None)

    def closed_form_kl(self, params, draw):
        return categorical_kl(self.log_probs(params, draw), self.prior_log_probs(draw))[:, 0, :]

    def straight_through_kl(self, params, draw):
        """GS: the categorical KL of softmax(log_pi) to uniform, exact for the decoded one-hot samples (Gumbel-max)."""
        return self.closed_form_kl(params, draw)

    def log_probs(self, params, draw, mc_noise=None):
        return tf.nn.log_softmax(params[0], axis=1)

    def prior_log_probs(self, draw, mc_noise=None):
        return tf.fill((1, self.n, 1, 1), -float(np.log(self.n)))

    def prior_params(self, batch_n):
        return [tf.zeros((batch_n, self.n, 1, self.v))]

    def psi_jacobians(self, params, noise, draw):
        return [softmax_jacobian(draw['psi'], self.temp)]


class IGRLatent(DiscreteLatent):
    """IGR-I: kappa = mu + sigma eps, psi = softmax++(h(kappa) / tau) with h the identity; K = n + 1.

    The KL is that of the Gaussians (closed form, or sampled at kappa when `closed_form_kl` is False).
    The family (`FAMILIES`) gives h and, for IGR-SB, the truncation mask.
    """
    family = FAMILIES['IGR_I']

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.prior is None:
            raise ValueError(f'{type(self).__name__} needs a prior {{"mu", "xi"}}')
        mu0, xi0 = (np.asarray(self.prior[k], np.float32) for k in ('mu', 'xi'))
        if mu0.shape != (1, self.n, 1, 1) or xi0.shape != mu0.shape:
            raise ValueError(f'the prior has mu {mu0.shape} and xi {xi0.shape}, expected (1, {self.n}, 1, 1) for '
                             f'{self.n} Gaussian dimensions ({self.n + 1} categories)')
        self.mu0, self.xi0 = tf.constant(mu0), tf.constant(xi0)
        self._mc_frequencies = tf.function(self._frequencies, jit_compile=self.xla_frequencies, autograph=False)

    # The Monte Carlo frequencies are a pure function of their inputs over (b, K, M, v) draws (M = 100), which XLA
    # fuses: compiled whatever the jit_compile setting (IGR-Planar's evaluation 2.6 -> 1.6 s per 10,000 images).
    xla_frequencies = True

    def transform(self, kappa):
        """The family's map ``lam = h(kappa)``."""
        return self.family.transform(kappa, self.flow)

    def transform_jacobian(self, kappa, lam):
        """``d h / d kappa`` (b, n, n, S, v), or None for the identity."""
        return None

    def kappa_jacobian(self, draw):
        """``d psi / d kappa`` (b, K, n, S, v): the softmax++ Jacobian times that of the transform."""
        return softmax_pp_jacobian(draw['psi'], self.temp, self.transform_jacobian(draw['kappa'], draw['lam']))

    def psi_jacobians(self, params, noise, draw):
        # kappa_j = mu_j + exp(xi_j) eps_j: d psi / d mu_j = d psi / d kappa_j, d psi / d xi_j = that * exp(xi_j) eps_j
        d_kappa = self.kappa_jacobian(draw)
        return [d_kappa, d_kappa * (tf.exp(params[1]) * noise)[:, None]]

    def _masked_sum(self, values, mask):
        """Sum over axis 1 of (b, n, S, v) values, only the kept dimensions."""
        return tf.reduce_sum(values if mask is None else values * mask, axis=1)

    def closed_form_kl(self, params, draw):
        mu, xi = params
        return self._masked_sum(gaussian_kl(mu, xi, self.mu0, self.xi0), draw['mask'])[:, 0, :]

    def log_ratio(self, params, draw):
        mu, xi = params
        log_ratio = (gaussian_log_density(draw['kappa'], self.mu0, self.xi0)
                     - gaussian_log_density(draw['kappa'], mu, xi))
        return self._masked_sum(log_ratio, draw['mask'])

    def kl(self, params, draw):
        if self.closed_form:
            return self.closed_form_kl(params, draw)
        return -tf.reduce_mean(self.log_ratio(params, draw), axis=1)

    def mc_noise(self, rng, batch_n):
        return self.noise(rng, batch_n, DISCRETE_MC_SAMPLES), self.noise(rng, 1, PRIOR_MC_SAMPLES)

    def _frequencies(self, params, noise, mask, axis=2):
        """Frequencies of the zero-temperature categories over the draws in `noise` (b, n, M, v), averaged over
        `axis` (kept, size 1). Only lam is formed: the argmax does not need the relaxed sample psi."""
        mu, xi = params
        lam = self.transform(mu + tf.exp(xi) * noise)
        return tf.reduce_mean(self.hard(params, noise, {'lam': lam, 'mask': mask}), axis=axis, keepdims=True)

    def category_frequencies(self, params, noise, mask, pool_vars=False):
        """Frequencies (b, K, 1, v) of the zero-temperature categories over the draws in `noise` (b, n, M, v);
        with `pool_vars` averaged over the variables too ((b, K, 1, 1); for a prior shared by the variables)."""
        return self._mc_frequencies(params, noise, mask, axis=(2, 3) if pool_vars else 2)

    def prior_is_shared(self):
        """The prior's categorical is the same for every variable (no per-variable flow)."""
        return self.flow is None

    def proposal_log_probs(self, params, mask, noise):
        """log of ``(1 - w) f + w / K_kept`` on the kept categories (f: frequencies over the draws in `noise`,
        w = PROPOSAL_UNIFORM_WEIGHT), -inf on the truncated ones."""
        freq = self._mc_frequencies(params, noise, mask)
        kept = self.kept_categories(mask, freq.dtype)
        uniform = kept / tf.reduce_sum(kept)
        probs = (1. - PROPOSAL_UNIFORM_WEIGHT) * freq + PROPOSAL_UNIFORM_WEIGHT * uniform
        return tf.where(kept > 0., tf.math.log(probs), tf.fill(tf.shape(probs), -np.inf))

    def kept_categories(self, mask, dtype):
        """1 for the categories a draw can take, (1, K, 1, 1)."""
        if mask is None:
            return tf.ones((1, self.categories, 1, 1), dtype)
        return tf.concat([tf.cast(mask, dtype), tf.ones((1, 1, 1, 1), dtype)], axis=1)

    def _mc_log_probs(self, params, draw, noise):
        """log of the frequencies of the zero-temperature categories over the draws in `noise` (b, n, M, v)."""
        return _safe_log(self._mc_frequencies(params, noise, draw['mask']))

    def log_probs(self, params, draw, mc_noise=None):
        return self._mc_log_probs(params, draw, mc_noise[0])

    def prior_log_probs(self, draw, mc_noise=None):
        prior = [tf.tile(p, [1, 1, 1, self.v]) for p in (self.mu0, self.xi0)]
        if self.flow is not None:  # the planar flow differs per variable
            return self._mc_log_probs(prior, draw, mc_noise[1])
        # the prior is the same for every variable: pool the draws of all variables (v times more)
        return _safe_log(self._mc_frequencies(prior, mc_noise[1], draw['mask'], axis=(2, 3)))

    def discrete_kl(self, params, draw, mc_noise=None):
        """Plug-in KL of the Monte Carlo frequencies, with the Miller-Madow correction: the plug-in entropy of
        M draws is low by (m - 1) / (2M) on average (m = categories seen), so that much is taken off the KL."""
        log_q = self.log_probs(params, draw, mc_noise)
        plug_in = categorical_kl(log_q, self.prior_log_probs(draw, mc_noise))[:, 0]
        seen = tf.reduce_sum(tf.cast(log_q > _safe_log(0.), log_q.dtype), axis=1)[:, 0]
        return plug_in - (seen - 1.) / (2. * DISCRETE_MC_SAMPLES)

    def prior_params(self, batch_n):
        return [tf.broadcast_to(p, (batch_n, self.n, 1, self.v)) for p in (self.mu0, self.xi0)]

    def categories_used(self, draw):
        return draw['n_required'] + 1


class IGRILatent(IGRLatent):
    """IGR-I with exact zero-temperature category probabilities (Gauss quadrature, `compute_igr_probs`), unless
    `exact_probs` is False (then Monte Carlo frequencies as for the other IGR families; about as fast)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.exact_probs:
            with tf.init_scope():  # a constant, computed once
                self._prior_log_probs = tf.constant(_safe_log(compute_igr_probs(self._vertex_mu(self.mu0),
                                                                                tf.exp(self.xi0))))
        # The quadrature is a pure function and the costliest part of an evaluation; XLA runs it about twice as
        # fast on a CPU (same numbers up to float rounding), so it is compiled whatever the jit_compile setting.
        self._compute_probs = tf.function(compute_igr_probs, jit_compile=True, autograph=False)

    def _vertex_mu(self, mu):
        """The mean of ``lam + c`` (`vertex_shift`), whose zero-temperature categories are the discrete model's."""
        return mu if self.delta == 1.0 else mu + tf.cast(self.vertex_shift, mu.dtype)

    def mc_noise(self, rng, batch_n):
        return None if self.exact_probs else super().mc_noise(rng, batch_n)

    def log_probs(self, params, draw, mc_noise=None):
        if not self.exact_probs:
            return super().log_probs(params, draw, mc_noise)
        mu, xi = params
        return _safe_log(self._compute_probs(self._vertex_mu(mu), tf.exp(xi)))

    def prior_log_probs(self, draw, mc_noise=None):
        return self._prior_log_probs if self.exact_probs else super().prior_log_probs(draw, mc_noise)

    def discrete_kl(self, params, draw, mc_noise=None):
        if not self.exact_probs:
            return super().discrete_kl(params, draw, mc_noise)
        return DiscreteLatent.discrete_kl(self, params, draw, mc_noise)

    # The log-likelihood uses the exact probabilities whatever `exact_probs`. The proposal is the float32 quadrature
    # floored at PROPOSAL_FLOOR and renormalised: any distribution that is sampled and evaluated exactly keeps the
    # estimate unbiased, and the floor keeps log r finite where float32 underflows (below ~6e-8); the float64
    # quadrature would cost ~40x more per test batch. The prior, which enters the estimate itself, is float64.
    def proposal_log_probs(self, params, mask, noise):
        mu, xi = params
        probs = tf.maximum(self._compute_probs(self._vertex_mu(mu), tf.exp(xi)), PROPOSAL_FLOOR)
        return tf.math.log(probs / tf.reduce_sum(probs, axis=1, keepdims=True))

    def exact_prior_log_probs(self, mask):
        return _normalized_log_probs(compute_igr_log_probs(self._vertex_mu(tf.cast(self.mu0, tf.float64)),
                                                           tf.exp(tf.cast(self.xi0, tf.float64))),
                                     self.mu0.dtype)


class IGRPlanarLatent(IGRLatent):
    """IGR-Planar: h = two planar-flow layers on the category axis (parameters owned by the network)."""
    family = FAMILIES['IGR_Planar']

    def make_flow(self):
        self.flow = PlanarFlow(self.n, self.v)
        return self.flow

    def transform_jacobian(self, kappa, lam):
        return self.flow.jacobian(kappa)


class IGRSBFiniteLatent(IGRLatent):
    """IGR-SB-Finite: h = stick-breaking of sigmoid(kappa), a fixed number of categories."""
    family = FAMILIES['IGR_SB_Finite']
    xla_frequencies = False  # the running argmax below is 2.8x slower under XLA's CPU code than in graph mode

    def _frequencies(self, params, noise, mask, axis=2):
        state_shape = tf.concat([tf.shape(noise)[:1], tf.shape(noise)[2:]], 0)
        return self._running_argmax_frequencies(params, mask, lambda k: tf.gather(noise, k, axis=1), state_shape,
                                                axis)

    def _running_argmax_frequencies(self, params, mask, piece_noise, state_shape, axis):
        """Frequencies of the zero-temperature categories, the argmax of the stick pieces found by one pass along the
        kept pieces: ``log lam_k = a_k + sum_{j<k} (a_j - kappa_j)`` with ``a = log sigmoid(kappa)`` (one softplus
        per draw; ``log sigmoid(-kappa) = a - kappa``), a running maximum, first index on ties. The softmax++
        category (lam = 0) never wins, unless delta > 1 (it then wins where every ``lam_k + c < 0``). `piece_noise(k)` gives the noise (b, M, v) = `state_shape` of piece k; pieces
        past the truncation are neither drawn nor visited (a while loop over the kept pieces; every tensor keeps its
        static shape). The same draws as the argmax of lam itself except where two pieces round to the same float32
        lam (`IGRLatent._frequencies`, whose cumsum along the pieces cost more than everything else)."""
        mu, xi = params
        sigma = tf.exp(xi)
        n_kept = self.n if mask is None else tf.cast(tf.reduce_sum(mask), tf.int32)

        def visit(k, best, winner, log_rest):
            kappa = tf.gather(mu, k, axis=1) + tf.gather(sigma, k, axis=1) * piece_noise(k)
            log_eta = -tf.nn.softplus(-kappa)
            log_lam = log_eta + log_rest
            better = log_lam > best
            return k + 1, tf.where(better, log_lam, best), tf.where(better, k, winner), log_rest + log_eta - kappa

        start = (tf.constant(0), tf.fill(state_shape, tf.constant(-np.inf, mu.dtype)), tf.zeros(state_shape, tf.int32),
                 tf.zeros(state_shape, mu.dtype))
        _, best, winner, _ = tf.while_loop(lambda k, *_: k < n_kept, visit, start, maximum_iterations=self.n)
        if self.vertex_shift < 0.:  # delta > 1: the softmax++ category wins where every lam_k + c < 0
            winner = tf.where(best < tf.cast(np.log(-self.vertex_shift), best.dtype), self.n, winner)
        one_hot = tf.one_hot(winner, self.categories, axis=1, dtype=mu.dtype)
        return tf.reduce_mean(one_hot, axis=axis, keepdims=True)

    def mc_noise(self, rng, batch_n):
        """The generator itself: the Monte Carlo noise is drawn piece by piece, only for the pieces the batch keeps
        (`_running_argmax_frequencies`)."""
        return rng

    def _drawn_frequencies(self, params, mask, rng, draws, axis):
        noise_shape = (int(params[0].shape[0]), draws, self.v)
        return self._running_argmax_frequencies(params, mask, lambda k: generator_normal(rng, noise_shape),
                                                noise_shape, axis)

    def log_probs(self, params, draw, mc_noise=None):
        return _safe_log(self._drawn_frequencies(params, draw['mask'], mc_noise, DISCRETE_MC_SAMPLES, 2))

    def prior_log_probs(self, draw, mc_noise=None):
        prior = [tf.tile(p, [1, 1, 1, self.v]) for p in (self.mu0, self.xi0)]
        return _safe_log(self._drawn_frequencies(prior, draw['mask'], mc_noise, PRIOR_MC_SAMPLES, (2, 3)))

    def kappa_jacobian(self, draw):
        # the stick-breaking structure gives each entry from O(n) sums (`igr_sb_psi_jacobian`), instead of the
        # product of the softmax++ and stick-breaking (`igr_sb_lam_jacobian`) Jacobians: 4.7x faster at 50 categories
        return igr_sb_psi_jacobian(draw['psi'], draw['kappa'], draw['lam'], self.temp)


class IGRSBLatent(IGRSBFiniteLatent):
    """IGR-SB: stick-breaking truncated per batch at the first piece where the stick passes `threshold`.

    Shapes never change: dimensions past `n_required` are masked (they get no mass, no KL), so the decoder sees the
    sample zero-padded to the allocated maximum.
    """
    family = FAMILIES['IGR_SB']

    def fixed_mask(self, categories):
        if not 2 <= int(categories) <= self.categories:
            raise ValueError(f'bad categories {categories!r}: IGR-SB keeps between 2 and {self.categories}')
        return truncation_mask(int(categories) - 1, self.n)


LATENTS = {cls.family.name: cls for cls in (GSLatent, IGRILatent, IGRPlanarLatent, IGRSBFiniteLatent, IGRSBLatent)}
"""Discrete family (`Utils.relaxed.families.FAMILIES`) -> its VAE latent class."""
