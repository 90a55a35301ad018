"""Deep latent Gaussian mixture VAE (Nalisnick, Hertel and Smyth 2016) with per-image stick-breaking weights.

The model (T components allocated, K <= T kept; z_k in R^d):

    v_j ~ p(v_j) = Uniform(0, 1), j = 1..K-1            (stick fractions; no other prior on them)
    pi_k(v) = v_k prod_{j<k} (1 - v_j), k < K;  pi_K(v) = prod_{j<K} (1 - v_j);  pi_k = 0 for k > K
    k | v ~ Categorical(pi(v)),  z | k ~ N(m_k, I_d),  x | z ~ p(x | z) (the decoder; Bernoulli on binarized images)

with prior means m_1 = 0 and m_k in {+-1/sqrt(d)}^d (random signs, seeded by the run's seed and kept in its
checkpoints). The encoder gives per image two parameters per stick (T - 1 sticks), and a mean and a log-variance per
component: q(v, k, z | x) = q(v | x) pi_k(v) q_k(z | x), q(v | x) = prod_j q(v_j | x), q_k(z | x) = N(mean_k, var_k).
Since pi_k(v) is in both p and q, it cancels inside the log and k is summed out exactly:

    ELBO(x) = E_{q(v|x)} [ sum_k pi_k(v) E_{q_k(z|x)} [log p(x|z) + log N(z; m_k, I) - log q_k(z|x)] ]
              + E_{q(v|x)} [log p(v) - log q(v|x)]                 (log p(v) = 0)
            <= log p(x) of the K-component model,

K = T without truncation; with the threshold truncation K is chosen per batch (the model truncated at that K: the
last kept component takes the remaining mass, the sticks past it do not exist in that model and have no term).
Monte Carlo: one draw of v and one z_k for every k per sample (all T components decoded in one batched call).
Training uses stick-the-landing (Roeder, Wu and Duvenaud 2017): the variational parameters inside log q(v|x) and
log q_k(z|x) are stop-gradient; the dropped score terms have expectation 0 (also when weighted by pi_k(v), since z_k
and v are independent under q), so the gradient stays unbiased. Test values use the same estimator without it.

Stick families (`STICKS`; with the truncation switch they make the four model types of
`Models.vae_hyper.MIXTURE_TYPES`):
    kumaraswamy   v ~ Kumaraswamy(a, b), density a b v^(a-1) (1 - v^a)^(b-1); a, b = exp(encoder outputs);
                  v = (1 - (1 - u)^(1/b))^(1/a), u ~ U(0, 1)
    logit_normal  v = sigmoid(y), y ~ N(mu, sigma^2), sigma = exp(xi) (IGR's Gaussian stick)
Truncation (the `_SB` types): per draw, the components needed for cumsum(pi) > threshold; over the batch's draws
the TRUNCATION_QUANTILE-th percentile is K (at most T), as a mask over the T components (static shapes).

Test metrics (`METRIC_COLUMNS`, per image over the test set): TeELBO; N the truncation level (max over test
batches; T without truncation); Kused the mean number of components with E[pi_k | x] > USED_WEIGHT; NMI and ACC the
clustering of the labels by argmax_k E[pi_k | x] (normalized mutual information with the arithmetic-mean
normalisation, and majority-label accuracy; NaN without labels). E[pi_k | x] is exact: the sticks are independent,
so E[pi_k] = E[v_k] prod_{j<k} (1 - E[v_j]), with E[v] = b B(1 + 1/a, b) (Kumaraswamy) or Gauss-Hermite quadrature
(logit-normal). TeLL (`MixtureLogLikelihood`): importance-weighted log p(x) over S draws of (v, z_1..z_T),
log w = log p(v) - log r(v|x) + logsumexp_k [log pi_k(v) + log p(x|z_k) + log N(z_k; m_k, I) - log q_k(z_k|x)],
whose exponent is an unbiased estimate of p(x) (the z_j, j != k, integrate to 1). The sticks are drawn from the
defensive mixture r(v_j|x) = (1 - w) q(v_j|x) + w U(0, 1), w = DEFENSIVE_WEIGHT (like the project's categorical
proposals): with q itself the weight p(v)/q(v) has infinite variance for logit-normal sticks (the uniform prior,
logistic in y = logit v, has heavier tails than the Gaussian q) and for Kumaraswamy sticks with a or b > 1; with r it
is at most 1/w per stick.
"""
import functools
import math

import numpy as np
import tensorflow as tf

from Models import log_likelihood as ll
from Models.vae_hyper import MIXTURE_TYPES
from Utils.relaxed.densities import gaussian_log_density
from Utils.relaxed.noise import generator_normal, generator_uniform
from Utils.relaxed.stick_breaking import compute_n_required, log_stick_break

TRUNCATION_QUANTILE = 75.
"""Percentile of the per-draw number of components of the threshold truncation (the original's DLGMM setting)."""
USED_WEIGHT = 0.01
"""A component is in use for an image when E[pi_k | x] exceeds this."""
HERMITE_NODES = 32
PRIOR_MEANS_STREAM = 20160
"""Second word of the numpy seed of the prior means ([seed, this]): a stream of its own, so no other draw moves."""
DEFENSIVE_WEIGHT = 0.05
"""Share of the uniform distribution in the stick proposal of the log-likelihood estimate."""
METRIC_COLUMNS = ('TeELBO', 'N', 'Kused', 'NMI', 'ACC', 'TrL')
_LN2 = math.log(2.)


def log1mexp(x):
    """log(1 - exp(x)) for x <= 0, accurate at both ends (Maechler 2012), finite gradients in both branches; x is
    capped at -1e-37 so that x = 0 (a stick rounded to 1) gives a large negative number, not -inf."""
    x = tf.minimum(x, -1e-37)
    near = x > -_LN2
    x_near, x_far = tf.where(near, x, -_LN2), tf.where(near, -_LN2, x)
    return tf.where(near, tf.math.log(-tf.math.expm1(x_near)), tf.math.log1p(-tf.exp(x_far)))


# ---------------------------------------------------------------------------------------------------------------------
# Stick distributions: parameters p0, p1 (b, T-1, 1) from the encoder, draws as log v and log(1 - v)
# ---------------------------------------------------------------------------------------------------------------------
class KumaraswamySticks:
    """v ~ Kumaraswamy(a, b), a = exp(p0) (the power on v), b = exp(p1); tfp's Kumaraswamy(concentration1=a,
    concentration0=b)."""

    @staticmethod
    def noise(rng, shape):
        return generator_uniform(rng, shape)

    @staticmethod
    def sample(p0, p1, u):
        """{'log_v', 'log_1mv'} by inversion in log space: log(1 - v^a) = log(1 - u) / b, log v = log1mexp(that) / a."""
        log_v = log1mexp(tf.math.log1p(-u) * tf.exp(-p1)) * tf.exp(-p0)
        return {'log_v': log_v, 'log_1mv': log1mexp(log_v)}

    @staticmethod
    def log_density(p0, p1, draw):
        """log q(v) = log a + log b + (a - 1) log v + (b - 1) log(1 - v^a)."""
        log_v = draw['log_v']
        a, b = tf.exp(p0), tf.exp(p1)
        return p0 + p1 + (a - 1.) * log_v + (b - 1.) * log1mexp(a * log_v)

    @staticmethod
    def mean_log(p0, p1):
        """(log E[v], log E[1 - v]) in closed form: E[v] = b Gamma(1 + 1/a) Gamma(b) / Gamma(1 + 1/a + b)."""
        inv_a, b = tf.exp(-p0), tf.exp(p1)
        log_mean = p1 + tf.math.lgamma(1. + inv_a) + tf.math.lgamma(b) - tf.math.lgamma(1. + inv_a + b)
        return log_mean, log1mexp(log_mean)


class LogitNormalSticks:
    """v = sigmoid(y), y = p0 + exp(p1) eps, eps ~ N(0, 1): the logit-normal (IGR) stick; tfp's LogitNormal."""

    @staticmethod
    def noise(rng, shape):
        return generator_normal(rng, shape)

    @staticmethod
    def sample(p0, p1, eps):
        y = p0 + tf.exp(p1) * eps
        return {'y': y, 'log_v': -tf.nn.softplus(-y), 'log_1mv': -tf.nn.softplus(y)}

    @staticmethod
    def log_density(p0, p1, draw):
        """log q(v) = log N(y; mu, sigma) - log v - log(1 - v) (the Jacobian of v = sigmoid(y))."""
        return gaussian_log_density(draw['y'], p0, p1) - draw['log_v'] - draw['log_1mv']

    @staticmethod
    def mean_log(p0, p1):
        """(log E[v], log E[1 - v]) by Gauss-Hermite quadrature of E[sigmoid(+-y)] (HERMITE_NODES nodes)."""
        nodes, weights = np.polynomial.hermite.hermgauss(HERMITE_NODES)
        y = p0[..., None] + math.sqrt(2.) * tf.exp(p1)[..., None] * tf.constant(nodes, p0.dtype)
        log_w = tf.constant(np.log(weights) - 0.5 * np.log(np.pi), p0.dtype)
        return (tf.reduce_logsumexp(log_w - tf.nn.softplus(-y), axis=-1),
                tf.reduce_logsumexp(log_w - tf.nn.softplus(y), axis=-1))


STICKS = {'kumaraswamy': KumaraswamySticks, 'logit_normal': LogitNormalSticks}
"""Stick distribution name (`Models.vae_hyper.MIXTURE_TYPES`) -> its class."""


# ---------------------------------------------------------------------------------------------------------------------
# Stick-breaking, truncation, prior means
# ---------------------------------------------------------------------------------------------------------------------
def stick_breaking_log_weights(log_v, log_1mv, mask=None):
    """log pi (b, T, ...) of T - 1 sticks given as log v, log(1 - v) (b, T-1, ...).

    pi_k = v_k prod_{j<k} (1 - v_j) for k below the last kept component, which takes the rest
    (prod_{j<k} (1 - v_j)); components past it get log pi = -inf. `mask` (1, T, 1...) keeps the first K components
    (None: all T), so sum_k pi_k = 1 exactly in real arithmetic.
    """
    zeros = tf.zeros_like(log_v[:, :1])
    log_v = tf.concat([log_v, zeros], axis=1)                 # v_T = 1: the last component takes the rest
    log_1mv = tf.concat([log_1mv, zeros], axis=1)             # (its own 1 - v is never used: the cumsum is exclusive)
    if mask is not None:
        last = mask - tf.concat([mask[:, 1:], tf.zeros_like(mask[:, :1])], axis=1)
        log_v = tf.where(last > 0., tf.zeros_like(log_v), log_v)
    log_pi = log_stick_break(log_v, log_1mv)
    if mask is not None:
        log_pi = tf.where(mask > 0., log_pi, tf.fill(tf.shape(log_pi), tf.constant(-np.inf, log_pi.dtype)))
    return log_pi


def components_mask(kept, components, dtype=tf.float32):
    """(1, T, 1) mask, 1 on the first `kept` components."""
    return tf.reshape(tf.cast(tf.range(components) < tf.cast(kept, tf.int32), dtype), (1, components, 1))


def prior_means(components, dims, seed):
    """(T, d) float32: m_1 = 0, m_k = s / sqrt(d) with signs s from a numpy generator seeded [seed, stream]."""
    rng = np.random.default_rng([int(seed), PRIOR_MEANS_STREAM])
    signs = 2. * rng.integers(0, 2, size=(components - 1, dims)) - 1.
    return np.concatenate([np.zeros((1, dims)), signs / np.sqrt(dims)]).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------------
# Clustering scores (numpy)
# ---------------------------------------------------------------------------------------------------------------------
def contingency_table(assignments, labels):
    """Counts n[c, y] of (cluster, label) pairs over the distinct values of each."""
    _, c = np.unique(np.asarray(assignments), return_inverse=True)
    _, y = np.unique(np.asarray(labels), return_inverse=True)
    table = np.zeros((c.max() + 1, y.max() + 1), np.int64)
    np.add.at(table, (c.ravel(), y.ravel()), 1)
    return table


def normalized_mutual_information(assignments, labels):
    """I(C; Y) / ((H(C) + H(Y)) / 2) in nats of the empirical joint; 1 when both have a single value."""
    table = contingency_table(assignments, labels).astype(np.float64)
    joint = table / table.sum()
    pc, py = joint.sum(axis=1), joint.sum(axis=0)
    entropy = lambda p: -np.sum(p[p > 0] * np.log(p[p > 0]))
    nz = joint > 0
    mutual = np.sum(joint[nz] * np.log(joint[nz] / np.outer(pc, py)[nz]))
    mean_entropy = 0.5 * (entropy(pc) + entropy(py))
    return 1. if mean_entropy == 0. else float(max(mutual, 0.) / mean_entropy)


def majority_accuracy(assignments, labels):
    """Share of images whose label is the most frequent label of their cluster."""
    table = contingency_table(assignments, labels)
    return float(table.max(axis=1).sum() / table.sum())


def clustering_scores(assignments, labels):
    """{'NMI', 'ACC'}; NaN without labels."""
    if labels is None:
        return {'NMI': float('nan'), 'ACC': float('nan')}
    labels = np.asarray(labels)[:len(assignments)]
    return {'NMI': normalized_mutual_information(assignments, labels), 'ACC': majority_accuracy(assignments, labels)}


# ---------------------------------------------------------------------------------------------------------------------
# The latent: objective, evaluation, figures
# ---------------------------------------------------------------------------------------------------------------------
class MixtureLatent:
    """The DLGMM latent (v, k, z) of an `OptVAE`, which owns its objective and its test metrics.

    Args:
        components: T, allocated components (hyper `n_required`).
        dims: d, dimension of each z_k (hyper `latent_norm_n`).
        sticks: key of STICKS.
        truncated: threshold truncation per batch (the `_SB` model types).
        threshold: precision of the truncation (hyper `threshold`).
        seed: seed of the prior means.
    Encoder output (flat, `param_sizes`): p0, p1 (b, T-1), mean, log-variance (b, T d); decoder input d.
    Noise per draw: sticks (b, T-1, S), Gaussian (b, T, S, d).
    """
    owns_objective = True
    metric_columns = METRIC_COLUMNS
    log_likelihood_estimator = property(lambda self: MixtureLogLikelihood)

    def __init__(self, components, dims, sticks, truncated, threshold=0.9999, seed=0):
        self.T, self.d = int(components), int(dims)
        if self.T < 2:
            raise ValueError(f'a mixture needs at least 2 components, got {components!r}')
        self.sticks, self.truncates, self.threshold = STICKS[sticks], bool(truncated), float(threshold)
        with tf.init_scope():   # a variable of the checkpoint: a resumed or reloaded run keeps its means
            self.prior_means = tf.Variable(prior_means(self.T, self.d, seed), trainable=False, name='prior_means')
        self.param_sizes = [self.T - 1, self.T - 1, self.T * self.d, self.T * self.d]
        self.decoder_input_n = self.d
        self.vae = None

    @classmethod
    def from_hyper(cls, h):
        sticks, truncated = MIXTURE_TYPES[h['model_type']]
        return cls(h['n_required'], h['latent_norm_n'], sticks, truncated, h['threshold'], h['seed'])

    categories = property(lambda self: self.T)

    def make_flow(self):
        return None

    def trackables(self):
        return {'prior_means': self.prior_means}

    def bind(self, vae, jit=False):
        """Compile the test step of `vae` (the deterministic core with XLA when `jit`; noise drawn outside)."""
        self.vae = vae
        self._test_core = tf.function(self._test_sums, jit_compile=bool(jit), autograph=False)
        self._test_step = tf.function(lambda x: self._test_core(x, self.noise(vae.eval_rng, x.shape[0],
                                                                               vae.sample_size)), autograph=False)

    # ---- pieces --------------------------------------------------------------------------------------------------
    def noise(self, rng, batch_n, sample_size):
        return (self.sticks.noise(rng, (batch_n, self.T - 1, sample_size)),
                generator_normal(rng, (batch_n, self.T, sample_size, self.d)))

    def encode(self, x):
        """x (b, H, W, C) -> p0, p1 (b, T-1, 1), mean, xi = log sd (b, T, 1, d)."""
        p0, p1, mean, log_var = self.vae.net.encode(x)
        shape = (-1, self.T, 1, self.d)
        return p0[..., None], p1[..., None], tf.reshape(mean, shape), 0.5 * tf.reshape(log_var, shape)

    def fixed_mask(self, categories):
        """The mask of the model with `categories` components (None: all T, or an untruncated type)."""
        if not 1 <= int(categories) <= self.T:
            raise ValueError(f'bad categories {categories!r}: the mixture keeps between 1 and {self.T} components')
        return None if int(categories) == self.T else components_mask(int(categories), self.T)

    def truncation(self, log_pi):
        """(mask (1, T, 1), K) of the batch's untruncated weights log pi (b, T, S)."""
        kept, _ = compute_n_required(tf.exp(log_pi)[..., None], self.threshold, 'quantile',
                                          quantile=TRUNCATION_QUANTILE)
        return components_mask(kept, self.T, log_pi.dtype), kept

    def log_px(self, x, z):
        """log p(x | z_k) of every component and sample, z (b, T, S, d) -> (b, T, S): one decoder call."""
        batch_n, _, sample_size, _ = z.shape
        out = self.vae.net.decode(tf.reshape(z, (-1, self.d)))
        out = tf.reshape(out, (-1, self.T * sample_size) + tuple(out.shape[1:]))
        return tf.reshape(self.vae.likelihood.log_prob(x[:, None], out), (-1, self.T, sample_size))

    def defensive_noise(self, rng, batch_n, sample_size):
        """Noise of the stick proposal r of the log-likelihood: (which sticks are uniform draws, the uniforms)."""
        shape = (batch_n, self.T - 1, sample_size)
        return rng.uniform(shape), generator_uniform(rng, shape)

    def _defensive_sticks(self, p0, p1, noise_v, defensive):
        """Sticks from r = (1 - w) q + w U(0, 1) and log r at them (w = DEFENSIVE_WEIGHT)."""
        pick, u = defensive
        drawn = self.sticks.sample(p0, p1, noise_v)
        log_u, log_1mu = tf.math.log(u), tf.math.log1p(-u)
        flat = {'log_v': log_u, 'log_1mv': log_1mu, 'y': log_u - log_1mu}
        uniform = pick < DEFENSIVE_WEIGHT
        draw = {k: tf.where(uniform, flat[k], value) for k, value in drawn.items()}
        log_r = math.log1p(-DEFENSIVE_WEIGHT) + self.sticks.log_density(p0, p1, draw)
        log_w = tf.fill(tf.shape(log_r), tf.constant(math.log(DEFENSIVE_WEIGHT), log_r.dtype))
        return draw, tf.reduce_logsumexp(tf.stack([log_r, log_w]), axis=0)

    def terms(self, x, noise, params=None, mask=None, stick_the_landing=False, defensive=None):
        """Per-draw pieces of the bound and of the importance weights for x (b, H, W, C), S samples:

            'log_pi' (b, T, S), 'component' (b, T, S) = log p(x|z_k) + log N(z_k; m_k, I) - log q_k(z_k|x),
            'log_qv' (b, S) = log q(v|x) over the kept sticks, 'mask', 'kept' (K).
        `mask` fixes the kept components (default: the truncation of these draws, or all T). `defensive`
        (`defensive_noise`): the sticks come from the log-likelihood's proposal r and 'log_qv' is log r(v|x).
        """
        params = self.encode(x) if params is None else params
        p0, p1, mean, xi = params
        noise_v, noise_z = noise
        if defensive is None:
            sticks = self.sticks.sample(p0, p1, noise_v)
        else:
            sticks, log_r = self._defensive_sticks(p0, p1, noise_v, defensive)
        if mask is None and self.truncates:
            mask, kept = self.truncation(stick_breaking_log_weights(sticks['log_v'], sticks['log_1mv']))
        else:
            kept = tf.constant(self.T, tf.int32) if mask is None else tf.cast(tf.reduce_sum(mask), tf.int32)
        log_pi = stick_breaking_log_weights(sticks['log_v'], sticks['log_1mv'], mask)
        z = mean + tf.exp(xi) * noise_z
        if stick_the_landing:   # the parameters inside the log-densities only (z and v keep their paths)
            p0, p1, mean, xi = (tf.stop_gradient(p) for p in (p0, p1, mean, xi))
        means = self.prior_means[None, :, None, :]
        log_prior_z = gaussian_log_density(z, means)                                      # N(z; m_k, I)
        component = self.log_px(x, z) + tf.reduce_sum(log_prior_z - gaussian_log_density(z, mean, xi), axis=-1)
        log_qv = self.sticks.log_density(p0, p1, sticks) if defensive is None else log_r
        if mask is not None:    # stick j exists in the model iff component j + 1 is kept
            log_qv = tf.where(mask[:, 1:] > 0., log_qv, tf.zeros_like(log_qv))
        return {'log_pi': log_pi, 'component': component, 'log_qv': tf.reduce_sum(log_qv, axis=1), 'mask': mask,
                'kept': kept}

    @staticmethod
    def elbo(terms):
        """Per-example ELBO estimate (b,): mean over samples of sum_k pi_k component_k - log q(v|x)."""
        weighted = tf.reduce_sum(tf.exp(terms['log_pi']) * terms['component'], axis=1)
        return tf.reduce_mean(weighted - terms['log_qv'], axis=1)

    @staticmethod
    def log_weights(terms):
        """Importance log-weights (b, S): -log q(v|x) + logsumexp_k [log pi_k + component_k]."""
        return tf.reduce_logsumexp(terms['log_pi'] + terms['component'], axis=1) - terms['log_qv']

    def training_terms(self, x, noise):
        """What `OptVAE`'s train step needs: the per-example 'elbo' (b,) with stick-the-landing, and 'draw'."""
        terms = self.terms(x, noise, stick_the_landing=True)
        return {'elbo': self.elbo(terms),
                'draw': {'n_required': terms['kept'], 'threshold_met': tf.constant(True)}}

    def expected_log_weights(self, params, mask):
        """log E[pi_k | x] (b, T), exact (independent sticks), with the kept components `mask`."""
        log_mean, log_1m_mean = self.sticks.mean_log(params[0], params[1])
        return stick_breaking_log_weights(log_mean, log_1m_mean, mask)[..., 0]

    # ---- evaluation ----------------------------------------------------------------------------------------------
    def _test_sums(self, x, noise):
        params = self.encode(x)
        terms = self.terms(x, noise, params=params)
        expected = self.expected_log_weights(params, terms['mask'])
        used = tf.reduce_sum(tf.cast(expected > math.log(USED_WEIGHT), tf.float32))
        return tf.reduce_sum(self.elbo(terms)), used, terms['kept'], tf.argmax(expected, axis=1, output_type=tf.int32)

    def evaluate(self, x_test_batches, labels=None):
        """{'TeELBO', 'N', 'Kused', 'NMI', 'ACC'} over the test batches (noise reset to the fixed evaluation seed)."""
        vae = self.vae
        vae.eval_rng.reset_from_seed(vae.eval_seed)
        elbo, used, kept, assignments = 0., 0., 0, []
        for i in range(int(x_test_batches.shape[0])):
            e, u, k, a = self._test_step(x_test_batches[i])
            elbo, used, kept = elbo + float(e), used + float(u), max(kept, int(k))
            assignments.append(a.numpy())
        assignments = np.concatenate(assignments)
        count = len(assignments)
        return {'TeELBO': elbo / count, 'N': kept, 'Kused': used / count, **clustering_scores(assignments, labels)}

    # ---- figures -------------------------------------------------------------------------------------------------
    def _pixel_means(self, z):
        return self.vae.likelihood.mean(self.vae.net.decode(z))

    def reconstruct(self, x, seed=0):
        """sum_k pi_k(v) E[x | z_k] for one draw of (v, z) per image: (b, H, W, C)."""
        noise = self.noise(tf.random.Generator.from_seed(int(seed)), x.shape[0], 1)
        params = self.encode(x)
        terms_pi = tf.exp(self.terms(x, noise, params=params)['log_pi'])[:, :, 0]          # (b, T)
        z = (params[2] + tf.exp(params[3]) * noise[1])[:, :, 0]                               # (b, T, d)
        images = tf.reshape(self._pixel_means(tf.reshape(z, (-1, self.d))), (-1, self.T) + self.vae.image_shape)
        return tf.einsum('bk,bkhwc->bhwc', terms_pi, images)

    def sample_prior_images(self, count, seed=0):
        """Decoded z ~ N(m_k, I), k ~ pi(v), v ~ U(0, 1) (T components)."""
        rng = tf.random.Generator.from_seed(int(seed))
        u = generator_uniform(rng, (count, self.T - 1, 1))
        log_pi = stick_breaking_log_weights(tf.math.log(u), tf.math.log1p(-u))[:, :, 0]
        k = tf.random.stateless_categorical(log_pi, 1, seed=rng.make_seeds(1)[:, 0])[:, 0]
        z = tf.gather(self.prior_means, k) + generator_normal(rng, (count, self.d))
        return self._pixel_means(z)

    def traversal_images(self, x):
        """{'components': (2, T, H, W, C)}: row 1 the prior means m_k decoded, row 2 the means of q_k(z | x[0])."""
        mean = self.encode(x[:1])[2][0, :, 0]                                               # (T, d)
        images = self._pixel_means(tf.concat([self.prior_means, mean], axis=0)).numpy()
        return {'components': images.reshape((2, self.T) + images.shape[1:])}


# ---------------------------------------------------------------------------------------------------------------------
# Importance-weighted log-likelihood
# ---------------------------------------------------------------------------------------------------------------------
class MixtureLogLikelihood(ll.LogLikelihood):
    """TeLL of a DLGMM at S draws of (v, z_1..z_T) per image (module docstring), with the project's chunked loop.

    `categories`: the components of the evaluated model (the test set's N for the truncated types; all T when None).
    There is no separate discrete model, so no TeLLD.
    """

    def __init__(self, vae, samples, categories=None, chunk=None, seed=0, **_):
        super().__init__(vae, samples, categories=categories, chunk=chunk, seed=seed)
        self._batch_fn = tf.function(functools.partial(MixtureLogLikelihood._batch, self), autograph=False)

    def chunk_size(self, batch_n):
        if self.chunk is not None:
            return self.chunk
        per_row = int(np.prod(self.vae.image_shape)) * self.vae.likelihood.n_params * self.latent.T
        widest = max(1, min(self.samples, ll.CHUNK_ELEMENTS // (batch_n * per_row)))
        return -(-self.samples // -(-self.samples // widest))

    def _batch(self, x):
        latent, batch_n = self.latent, x.shape[0]
        chunk = self.chunk_size(batch_n)
        chunks = -(-self.samples // chunk)
        params = latent.encode(x)

        def body(i, lse):
            noise = latent.noise(self.rng, batch_n, chunk)
            defensive = latent.defensive_noise(self.rng, batch_n, chunk)
            log_w = latent.log_weights(latent.terms(x, noise, params=params, mask=self.mask, defensive=defensive))
            valid = tf.broadcast_to((tf.range(chunk) + i * chunk < self.samples)[None], tf.shape(log_w))
            log_w = tf.where(valid, log_w, tf.fill(tf.shape(log_w), -np.inf))
            return i + 1, ll._logaddexp(lse, tf.reduce_logsumexp(log_w, axis=1))

        _, lse = tf.while_loop(lambda i, _: i < chunks, body, (tf.constant(0), tf.fill((batch_n,), -np.inf)))
        return lse - math.log(self.samples)

    def per_image(self, x_test_batches, seed=None):
        """TeLL per image (numpy)."""
        self.rng.reset_from_seed(self.seed if seed is None else int(seed))
        return np.concatenate([self._batch_fn(x_test_batches[i]).numpy()
                               for i in range(int(x_test_batches.shape[0]))])

    def __call__(self, x_test_batches):
        """{'TeLL', 'TeLL_se', 'LL_S', 'LL_seconds'} (standard error over images, ddof=1)."""
        import time
        start = time.perf_counter()
        values = self.per_image(x_test_batches)
        se = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float('nan')
        return {'TeLL': float(np.mean(values)), 'TeLL_se': se, 'LL_S': self.samples,
                'LL_seconds': time.perf_counter() - start}
