r"""The relaxed categorical families: one small class each, one table (`FAMILIES`) that every caller dispatches on.

    family         class               parameters   categories   psi
    GS             GumbelSoftmax       log_pi (K)   K            softmax((log_pi + G) / tau), G Gumbel
    IGR_I          IGRIdentity         mu, xi (n)   n + 1        softmax++(kappa / tau), kappa = mu + sigma eps
    IGR_Planar     IGRPlanar           mu, xi (n)   n + 1        softmax++(f(kappa) / tau), f planar flows
    IGR_SB         IGRStickBreaking    mu, xi (n)   <= n + 1     softmax++(stick-break(sigmoid(kappa)) / tau), truncated
    IGR_SB_Finite  IGRStickBreakingFinite  mu, xi   n + 1        the same without truncation

A family knows its parameters, its noise, its map from noise to the simplex (`relaxed`), its zero-temperature sample
(`hard`), the exact probabilities of its zero-temperature categories where they have a closed form, and its relaxed
Bernoulli unit (the SOP). The VAE latents (`Models.latents.LATENTS`), the SOP units (`Models.SOP`), the fits of the
approximations (`Utils.MinimizeEmpiricalLoss`), the legacy sampler classes (`Utils.Distributions`) and the hyper
checks read it; a new family is one class here and one entry in `FAMILIES`.

Tensors follow the project layout: parameters (b, n, 1, v), noise (b, n, S, v), psi (b, K, S, v). This module does not
import TensorFlow (the hyper checks of `Models.vae_hyper` read the table on machines without it): the maths modules
are imported by the methods that use them.
"""

import numpy as np

__all__ = ['Family', 'GumbelSoftmax', 'IGRIdentity', 'IGRPlanar', 'IGRStickBreakingFinite', 'IGRStickBreaking',
           'FAMILIES', 'get_family']


class Family:
    """A relaxed categorical family (the base class holds IGR's shared parts: Gaussian noise, kappa, softmax++).

    Class attributes: `name` (the key of `FAMILIES`), `label` (display name), `param_names` (encoder outputs per
    variable, each (b, n, 1, v)), `has_flow` (needs IGR-Planar's flow layer), `truncates` (a draw chooses how many
    categories it keeps), `prior_family` (whose learned prior file it uses: the same map from Gaussians to categories
    would otherwise need a prior per flow).
    """
    name = label = None
    param_names = ('mu', 'xi')
    has_flow = False
    truncates = False
    prior_family = None

    def __repr__(self):
        return f'<family {self.name}>'

    # ---- sizes ---------------------------------------------------------------------------------------------------
    def categories(self, n):
        """Categories of a variable with n parameters per parameter name (IGR: softmax++ adds one)."""
        return int(n) + 1

    def params_n(self, categories):
        """Parameters per parameter name for a variable of `categories` categories."""
        return int(categories) - 1

    @property
    def gaussian(self):
        """Whether the family draws Gaussians (kappa), whose prior is an (mu0, xi0) pair."""
        return 'xi' in self.param_names

    # ---- sampling ------------------------------------------------------------------------------------------------
    def noise(self, rng, shape, dtype=None, box_muller=True):
        """Standard noise of `shape` (b, n, S, v) from a ``tf.random.Generator``: N(0, 1) (Box-Muller, or ``rng.normal``
        when `box_muller` is False: `Utils.relaxed.noise.generator_normal`)."""
        import tensorflow as tf
        from Utils.relaxed.noise import generator_normal
        return generator_normal(rng, shape, dtype or tf.float32, box_muller=box_muller)

    def transform(self, kappa, flow=None):
        """IGR's invertible map ``lam = h(kappa)`` on axis 1 (identity here)."""
        return kappa

    def truncation(self, lam, threshold=0.99, truncation_option='quantile', quantile=None):
        """(mask (1, n, 1, 1) or None, n_required int32 scalar, threshold met bool scalar) of a batch of draws lam."""
        import tensorflow as tf
        return None, tf.constant(lam.shape[1], tf.int32), tf.constant(True)

    def relaxed(self, params, noise, temp, flow=None, mask=None, threshold=0.99, truncation_option='quantile',
                quantile=None, delta=1.0):
        """One relaxed draw per noise sample.

        Args:
            params: [mu, xi], each (b, n, 1, v) (or anything broadcastable against noise).
            noise: standard normal (b, n, S, v).
            temp: tau > 0 (a number, or a tensor broadcastable to the draws).
            flow: IGR-Planar's `PlanarFlow`.
            mask: a fixed truncation mask (1, n, 1, 1); None: the family's own (`truncation`, IGR-SB: from these draws).
            threshold, truncation_option, quantile: IGR-SB's truncation (`compute_n_required`; quantile None: its
                default).
            delta: softmax++'s delta (> 0; 1 is the default and `tfb.SoftmaxCentered`'s map). It acts on the tempered
                draw: ``softmax++(lam / tau; delta) = softmax++((lam - tau log delta) / tau; 1)``; the vertex
                nearest psi is `hard` of ``lam - tau log delta`` (`Models.latents.DiscreteLatent.hard`).
        Returns:
            dict with 'psi' (b, n+1, S, v) (masked dims exactly 0), 'kappa' = mu + sigma eps, 'lam' = h(kappa)
            (b, n, S, v), 'mask', 'n_required' (int32 scalar, the dims kept) and 'threshold_met' (bool scalar).
        """
        import tensorflow as tf
        from Utils.relaxed.softmax_pp import igr_psi
        mu, xi = params
        kappa = mu + tf.exp(xi) * noise
        lam = self.transform(kappa, flow)
        met = tf.constant(True)
        if mask is None:
            mask, n_required, met = self.truncation(lam, threshold, truncation_option, quantile)
        else:
            n_required = tf.cast(tf.reduce_sum(mask), tf.int32)
        psi = igr_psi(lam, temp, mask=mask, delta=delta)
        return {'psi': psi, 'kappa': kappa, 'lam': lam, 'mask': mask, 'n_required': n_required,
                'threshold_met': met}

    def hard(self, params, noise, draw):
        """Zero-temperature sample of a draw: one-hot (b, K, S, v), an exact draw of the encoded categorical."""
        from Utils.relaxed.softmax_pp import vertex_one_hot
        return vertex_one_hot(draw['lam'], draw.get('mask'))

    # ---- zero temperature ----------------------------------------------------------------------------------------
    def exact_probs(self, params):
        """Probabilities (b, K, 1, v) of the zero-temperature categories when known in closed form, else None."""
        return None

    def uniform_params(self, categories):
        """Parameters (1, n, 1, 1) of the uniform distribution over `categories` when known in closed form (GS:
        uniform logits), else None (IGR: a learned prior, `approximations/set_prior.py`)."""
        return None

    # ---- relaxed Bernoulli units (the SOP) -----------------------------------------------------------------------
    def bernoulli_units(self, temp, flow=None, sigma=None):
        """The family's relaxed Bernoulli units (`Utils.relaxed.bernoulli`) at temperature `temp` (`sigma`: the IGR
        units' fixed scale, None for a learned one)."""
        raise ValueError(f'family {self.name} has no relaxed Bernoulli units')


class GumbelSoftmax(Family):
    """GS: ``psi = softmax((log_pi + G) / tau)``, G standard Gumbel; K = n categories; no Gaussian prior."""
    name, label = 'GS', 'GS'
    param_names = ('log_pi',)

    def categories(self, n):
        return int(n)

    def params_n(self, categories):
        return int(categories)

    def noise(self, rng, shape, dtype=None, box_muller=True):
        """Standard Gumbel noise (`Utils.relaxed.noise.generator_gumbel`)."""
        import tensorflow as tf
        from Utils.relaxed.noise import generator_gumbel
        return generator_gumbel(rng, shape, dtype or tf.float32)

    def relaxed(self, params, noise, temp, flow=None, mask=None, threshold=0.99, truncation_option='quantile',
                quantile=None, delta=1.0):
        """dict with 'lam' = (log_pi + G) / tau, 'log_psi' = lam - logsumexp(lam) and 'psi' (b, K, S, v), 'mask' None.
        params: [log_pi] (b, K, 1, v); noise: standard Gumbel (b, K, S, v); delta: 1 only (GS has no softmax++)."""
        if delta != 1.0:
            raise ValueError(f'bad delta {delta!r}: the GS family has no softmax++ (only 1 is valid)')
        import tensorflow as tf
        from Utils.relaxed.gumbel_softmax import gs_lam
        lam = gs_lam(params[0], noise, temp)
        log_psi = lam - tf.reduce_logsumexp(lam, axis=1, keepdims=True)
        return {'psi': tf.exp(log_psi), 'log_psi': log_psi, 'lam': lam, 'mask': None}

    def hard(self, params, noise, draw):
        from Utils.relaxed.internal import argmax_one_hot
        return argmax_one_hot(params[0] + noise)

    def exact_probs(self, params):
        import tensorflow as tf
        return tf.nn.softmax(params[0], axis=1)

    def uniform_params(self, categories):
        return {'log_pi': np.full((1, int(categories), 1, 1), -np.log(categories), np.float32)}

    def bernoulli_units(self, temp, flow=None, sigma=None):
        from Utils.relaxed.bernoulli import BinaryConcreteUnits
        return BinaryConcreteUnits(temp, sigma=sigma)


class IGRIdentity(Family):
    """IGR-I: ``h`` is the identity; exact zero-temperature probabilities by quadrature."""
    name, label = 'IGR_I', 'IGR-I'
    prior_family = 'IGR_I'

    def exact_probs(self, params):
        import tensorflow as tf
        from Utils.relaxed.quadrature import compute_igr_probs
        return compute_igr_probs(params[0], tf.exp(params[1]))

    def bernoulli_units(self, temp, flow=None, sigma=None):
        from Utils.relaxed.bernoulli import IGRBernoulliUnits
        return IGRBernoulliUnits(temp, sigma=sigma)


class IGRPlanar(Family):
    """IGR-Planar: ``h`` = planar flows on the category axis (`Utils.relaxed.planar.PlanarFlow`, owned by the
    network); the learned prior of IGR-I."""
    name, label = 'IGR_Planar', 'IGR-Planar'
    has_flow = True
    prior_family = 'IGR_I'

    def transform(self, kappa, flow=None):
        if flow is None:
            raise ValueError('IGR_Planar needs a planar_flow (Utils.relaxed.planar.PlanarFlow)')
        return flow(kappa)

    def bernoulli_units(self, temp, flow=None, sigma=None):
        from Utils.relaxed.bernoulli import IGRPlanarBernoulliUnits
        return IGRPlanarBernoulliUnits(temp, flow, sigma)


class IGRStickBreakingFinite(Family):
    """IGR-SB-Finite: ``h`` = stick-breaking of sigmoid(kappa) over all n pieces."""
    name, label = 'IGR_SB_Finite', 'IGR-SB-Finite'
    prior_family = 'IGR_SB_Finite'

    def transform(self, kappa, flow=None):
        from Utils.relaxed.stick_breaking import igr_sb_lam
        return igr_sb_lam(kappa)


class IGRStickBreaking(IGRStickBreakingFinite):
    """IGR-SB: stick-breaking truncated per batch at the first piece where the stick passes `threshold` (shapes never
    change: the pieces past `n_required` are masked)."""
    name, label = 'IGR_SB', 'IGR-SB'
    truncates = True
    prior_family = 'IGR_SB'

    def truncation(self, lam, threshold=0.99, truncation_option='quantile', quantile=None):
        import tensorflow as tf
        from Utils.relaxed.stick_breaking import DEFAULT_QUANTILE, compute_n_required, truncation_mask
        n_required, met = compute_n_required(lam, threshold, truncation_option,
                                             DEFAULT_QUANTILE if quantile is None else quantile)
        return truncation_mask(n_required, lam.shape[1], lam.dtype), tf.cast(n_required, tf.int32), met

    def bernoulli_units(self, temp, flow=None, sigma=None):
        from Utils.relaxed.bernoulli import IGRStickBreakingBernoulliUnits
        return IGRStickBreakingBernoulliUnits(temp, sigma=sigma)


FAMILIES = {family.name: family for family in (GumbelSoftmax(), IGRIdentity(), IGRPlanar(), IGRStickBreaking(),
                                               IGRStickBreakingFinite())}
"""Family name -> family (the only place a family's behaviour is chosen)."""


def get_family(name, what='model_type'):
    """The family called `name`; a ValueError naming it and the valid choices otherwise (`what`: the word for it)."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ValueError(f'unknown {what} {name!r}; valid choices are {list(FAMILIES)}') from None
