"""Importance-weighted estimates of the marginal log-likelihood log p(x) of a trained VAE (Burda et al. 2016).

For a test image x and S proposals,

    LL_S(x) = log (1/S) sum_s exp(w_s),   w_s = log p(x | z_s) + log p(z_s) - log r(z_s | x),

everything inside the log-mean-exp, so E[LL_S(x)] <= log p(x), E[LL_1] is an ELBO, and E[LL_S] grows to log p(x)
with S (for every proposal r that is positive wherever the prior is). Two models are estimated at once:

    TeLLD  the discrete model (what a user deploys): z = one-hot categories b, p(x | b) the decoder fed the one-hot
           code, p(b) the prior's zero-temperature categorical, r(b | x) a categorical proposal per variable
           (`DiscreteLatent.proposal_log_probs`):
             GS      r = softmax(log_pi), p uniform (both exact);
             IGR-I   r and p the exact zero-temperature probabilities (`compute_igr_log_probs`, float64, renormalised);
             IGR-Planar, IGR-SB-Finite, IGR-SB
                     r = (1 - w) f + w / K, f the argmax frequencies of DISCRETE_MC_SAMPLES draws from q(. | x),
                     w = PROPOSAL_UNIFORM_WEIGHT: exact to evaluate, so the estimator stays unbiased for p(x); p is
                     estimated from PRIOR_LL_SAMPLES draws per variable (pooled over the variables when the prior is
                     shared; add-1/2 counts, so no allowed category has p = 0). Its error moves TeLLD by about
                     `TeLLD_prior_se` (delta method, below).
    TeLL   the relaxed model (what was trained): IGR samples kappa ~ N(mu, sigma), weight
           log p(x | psi(kappa)) + log N(kappa; mu0, sigma0) - log N(kappa; mu, sigma) (the invertible map to the
           simplex is shared by prior and posterior: its Jacobian cancels); GS the ExpConcrete densities of log psi.
Gaussian latents of the JointVAE models enter both as log N(z; 0, 1) - log N(z; mu, sigma). IGR-SB is evaluated as
the model with a fixed number of categories (the test set's N: the mask of `fixed_mask`).

Prior error of TeLLD (Monte Carlo priors). To first order, an error d log p(k) of the prior of variable v moves
mean TeLLD by sum_{v,k} g_vk d log p_vk, g_vk the test-set mean of the self-normalised weight of category k in
variable v. For a multinomial estimate from M draws this has variance (sum_k g_k^2 / p_k - 1) / M per variable
(a pooled prior: (sum_k G_k^2 / p_k - v^2) / (M v) with G_k = sum_v g_vk); `TeLLD_prior_se` is its square root.

Cost: one encoder pass per image and 2 S decoder passes (relaxed and discrete), the samples in chunks of
`chunk` per image inside one compiled loop per test batch (static shapes; memory ~ batch x chunk decoder outputs).
"""
import functools
import math
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from Models.latents import DISCRETE_MC_SAMPLES
from Utils.relaxed.noise import generator_gumbel

PRIOR_LL_SAMPLES = 1_000_000
"""Prior draws per variable behind the Monte Carlo prior probabilities of TeLLD (v times more when pooled)."""
CHUNK_ELEMENTS = 1 << 25
"""Decoder output values per chunk (batch x chunk x image values x likelihood parameters): ~128 MB in float32."""
PRIOR_CHUNK_ELEMENTS = 1 << 23
METRICS = ('TeLL', 'TeLL_se', 'TeLLD', 'TeLLD_se', 'TeLLD_prior_se')


def _logaddexp(a, b):
    """log(exp(a) + exp(b)), -inf when both are -inf."""
    top = tf.maximum(a, b)
    safe = tf.where(tf.math.is_finite(top), top, tf.zeros_like(top))
    return safe + tf.math.log(tf.exp(a - safe) + tf.exp(b - safe))


class LogLikelihood:
    """TeLL and TeLLD of an `OptVAE` at S samples.

    Args:
        vae: a trained `Models.OptVAE.OptVAE`.
        samples: S >= 1 importance samples per image.
        categories: IGR-SB only, the categories of the discrete model (the test set's N); ignored otherwise.
        chunk: samples per image per compiled loop iteration (default: from CHUNK_ELEMENTS and the batch size).
        seed: seed of every draw (the same weights and seed give the same estimate).
        prior_samples: M, prior draws per variable for the Monte Carlo priors.
    """

    def __init__(self, vae, samples, categories=None, chunk=None, seed=0, prior_samples=PRIOR_LL_SAMPLES):
        samples = int(samples)
        if samples < 1:
            raise ValueError(f'bad log-likelihood samples {samples!r}: need at least 1')
        self.vae, self.latent, self.samples = vae, vae.latent, samples
        self.chunk = None if chunk is None else max(1, min(int(chunk), samples))
        self.seed, self.prior_samples = int(seed), int(prior_samples)
        self.mask = self.latent.fixed_mask(self.latent.categories if categories is None else categories)
        self.rng = tf.random.Generator.from_seed(self.seed)
        # a per-instance partial: TensorFlow's retracing detector keys on the code object, and every estimator traces
        # once (its shapes are static)
        self._batch_fn = tf.function(functools.partial(LogLikelihood._batch, self), autograph=False)
        self._prior = None

    # ---- the prior's categorical ---------------------------------------------------------------------------------
    def prior_log_probs(self):
        """(log p (1, K, 1, 1 or v), draws behind it or 0 when exact); computed once."""
        if self._prior is None:
            exact = self.latent.exact_prior_log_probs(self.mask)
            self._prior = (exact, 0) if exact is not None else self._mc_prior()
        return self._prior

    def _mc_prior(self):
        latent, n, v = self.latent, self.latent.n, self.latent.v
        per_chunk = max(1, min(self.prior_samples, PRIOR_CHUNK_ELEMENTS // (n * v)))
        chunks = -(-self.prior_samples // per_chunk)
        rng = tf.random.Generator.from_seed(self.seed + 1)
        prior = latent.prior_params(1)
        pooled = latent.prior_is_shared()

        def body(i, total):
            noise = latent.noise(rng, 1, per_chunk)
            return i + 1, total + latent.category_frequencies(prior, noise, self.mask, pool_vars=pooled)

        shape = (1, latent.categories, 1, 1 if pooled else v)
        count = tf.function(lambda: tf.while_loop(lambda i, t: i < chunks, body, (0, tf.zeros(shape)))[1],
                            autograph=False)
        draws = chunks * per_chunk * (v if pooled else 1)
        counts = tf.cast(count(), tf.float64) * (draws / chunks)
        kept = tf.cast(latent.kept_categories(self.mask, tf.float64), tf.float64)
        smoothed = kept * (counts + 0.5) / (draws + 0.5 * tf.reduce_sum(kept))
        log_p = tf.where(kept > 0., tf.math.log(tf.where(kept > 0., smoothed, tf.ones_like(smoothed))),
                         tf.fill(tf.shape(smoothed), tf.constant(-np.inf, tf.float64)))
        return tf.cast(log_p, tf.float32), draws

    # ---- one test batch ------------------------------------------------------------------------------------------
    def chunk_size(self, batch_n):
        if self.chunk is not None:
            return self.chunk
        per_row = int(np.prod(self.vae.image_shape)) * self.vae.likelihood.n_params
        widest = max(1, min(self.samples, CHUNK_ELEMENTS // (batch_n * per_row)))
        return -(-self.samples // -(-self.samples // widest))     # equal chunks: S = 100 -> 2 x 50, not 85 + 15

    def _batch(self, x, log_prior):
        """Per image: log-mean-exp of the relaxed and of the discrete weights (b,), and the self-normalised
        discrete weights of each category summed over the batch (K, v)."""
        vae, latent = self.vae, self.latent
        batch_n = x.shape[0]
        chunk = self.chunk_size(batch_n)
        chunks = -(-self.samples // chunk)
        rng = self.rng
        params_c, params_d = vae.encode(x)
        log_r = latent.proposal_log_probs(params_d, self.mask, latent.noise(rng, batch_n, DISCRETE_MC_SAMPLES))

        def body(i, lse_relaxed, lse_discrete, weights):
            noise_d, noise_c = vae.draw_noise(rng, batch_n, chunk)
            valid = tf.range(chunk) + i * chunk < self.samples
            valid = tf.broadcast_to(valid[None], (batch_n, chunk))
            z_c = vae.continuous_sample(params_c, noise_c)
            w_cont = vae.continuous_log_ratio(params_c, z_c)
            draw = latent.relaxed(params_d, noise_d, mask=self.mask)
            w_relaxed = (vae.log_px_samples(x, z_c, draw['psi'])
                         + tf.reduce_sum(latent.log_ratio(params_d, draw), axis=-1) + w_cont)
            gumbel = generator_gumbel(rng, (batch_n, latent.categories, chunk, latent.v))
            one_hot = tf.one_hot(tf.argmax(log_r + gumbel, axis=1), latent.categories, axis=1)     # Gumbel-max
            log_ratio = tf.where(one_hot > 0., log_prior - log_r, tf.zeros_like(one_hot))  # (b, K, chunk, v)
            w_discrete = (vae.log_px_samples(x, z_c, one_hot)
                          + tf.reduce_sum(log_ratio, axis=(1, 3)) + w_cont)
            minus_inf = tf.fill(tf.shape(w_relaxed), -np.inf)
            w_relaxed = tf.where(valid, w_relaxed, minus_inf)
            w_discrete = tf.where(valid, w_discrete, minus_inf)
            new_relaxed = _logaddexp(lse_relaxed, tf.reduce_logsumexp(w_relaxed, axis=1))
            new_discrete = _logaddexp(lse_discrete, tf.reduce_logsumexp(w_discrete, axis=1))
            share = tf.exp(w_discrete - new_discrete[:, None])                           # (b, chunk)
            weights = (weights * tf.exp(lse_discrete - new_discrete)[:, None, None]
                       + tf.einsum('bs,bksv->bkv', share, one_hot))
            return i + 1, new_relaxed, new_discrete, weights

        minus_inf = tf.fill((batch_n,), -np.inf)
        init = (tf.constant(0), minus_inf, minus_inf, tf.zeros((batch_n, latent.categories, latent.v)))
        _, lse_relaxed, lse_discrete, weights = tf.while_loop(lambda i, *_: i < chunks, body, init)
        log_s = math.log(self.samples)
        return lse_relaxed - log_s, lse_discrete - log_s, tf.reduce_sum(weights, axis=0)

    # ---- the test set ----------------------------------------------------------------------------------------
    def per_image(self, x_test_batches, seed=None):
        """(TeLL per image, TeLLD per image, category weights (K, v) summed over images), as numpy; the draws
        from `seed` (default the estimator's; the Monte Carlo prior always from the estimator's)."""
        self.rng.reset_from_seed(self.seed if seed is None else int(seed))
        log_prior, _ = self.prior_log_probs()
        relaxed, discrete, weights = [], [], 0.
        for i in range(int(x_test_batches.shape[0])):
            ll_r, ll_d, w = self._batch_fn(x_test_batches[i], log_prior)
            relaxed.append(ll_r.numpy())
            discrete.append(ll_d.numpy())
            weights = weights + w.numpy()
        return np.concatenate(relaxed), np.concatenate(discrete), weights

    def __call__(self, x_test_batches):
        """{'TeLL', 'TeLL_se', 'TeLLD', 'TeLLD_se', 'TeLLD_prior_se', 'LL_S', 'LL_seconds'}: means over the test
        images, standard errors over images (ddof=1) and the prior's error (0 when exact)."""
        start = time.perf_counter()
        relaxed, discrete, weights = self.per_image(x_test_batches)
        log_prior, draws = self.prior_log_probs()
        prior_se = prior_standard_error(weights / len(discrete), log_prior.numpy(), draws,
                                        pooled=self.latent.prior_is_shared()) if draws else 0.
        se = lambda values: float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float('nan')
        return {'TeLL': float(np.mean(relaxed)), 'TeLL_se': se(relaxed), 'TeLLD': float(np.mean(discrete)),
                'TeLLD_se': se(discrete), 'TeLLD_prior_se': float(prior_se), 'LL_S': self.samples,
                'LL_seconds': time.perf_counter() - start}


def estimator(vae, samples, categories=None, chunk=None, seed=0):
    """The estimator of a VAE: `LogLikelihood`, or its latent's own (`log_likelihood_estimator`, the mixtures')."""
    own = getattr(vae.latent, 'log_likelihood_estimator', None)
    return (own or LogLikelihood)(vae, samples, categories=categories, chunk=chunk, seed=seed)


def prior_standard_error(g, log_prior, draws, pooled):
    """Delta-method standard error of mean TeLLD from a multinomial prior estimate (see the module docstring).

    g: (K, v) test-set mean self-normalised weight per category and variable (each column sums to 1);
    log_prior: (1, K, 1, 1 or v) estimated log p; draws: draws behind it (pooled: M v in total).
    """
    p = np.exp(np.asarray(log_prior, np.float64)[0, :, 0, :])          # (K, 1) or (K, v)
    g = np.asarray(g, np.float64)
    kept = p > 0
    if pooled:
        total = g.sum(axis=1, keepdims=True)                             # (K, 1)
        variance = (np.sum(np.where(kept, total ** 2 / np.where(kept, p, 1.), 0.)) - g.shape[1] ** 2) / draws
    else:
        variance = np.sum(np.sum(np.where(kept, g ** 2 / np.where(kept, p, 1.), 0.), axis=0) - 1.) / draws
    return float(np.sqrt(max(variance, 0.)))


# ---------------------------------------------------------------------------------------------------------------------
# Run folders
# ---------------------------------------------------------------------------------------------------------------------
def has_result(run_dir, samples, epoch):
    """A `log_likelihood.json` entry at this S and epoch exists."""
    from Utils.results.results_io import has_log_likelihood
    return has_log_likelihood(run_dir, samples, epoch)


def record_result(run_dir, epoch, result, fence=None):
    """Add (or replace) the entry of `result` (from `LogLikelihood.__call__`) at `epoch` in `log_likelihood.json`
    (`fence`: a grid run's lock check, called before the write; see `Utils.runs.runstore.RunLock.fence`)."""
    from Utils.runs import folders
    from Utils.results.results_io import LL_FILE, load_log_likelihoods
    samples = int(result['LL_S'])
    entries = [e for e in load_log_likelihoods(run_dir) if (e.get('S'), e.get('epoch')) != (samples, int(epoch))]
    entry = {'S': samples, 'epoch': int(epoch), **{k: float(result[k]) for k in METRICS if k in result},
             'seconds': float(result['LL_seconds'])}
    entries = sorted(entries + [entry], key=lambda e: (e['epoch'], e['S']))
    folders.write_json(Path(run_dir) / LL_FILE, {'entries': entries}, fence)
    return entry


def describe(result):
    """One line for train.log."""
    prior = f' (prior error {result["TeLLD_prior_se"]:.3f})' if result.get('TeLLD_prior_se') else ''
    discrete = f', TeLLD {result["TeLLD"]:.4f} ± {result["TeLLD_se"]:.4f}{prior}' if 'TeLLD' in result else ''
    return (f'# log-likelihood, S = {result["LL_S"]}: TeLL {result["TeLL"]:.4f} ± {result["TeLL_se"]:.4f}'
            f'{discrete} (± = standard error over test images); {result["LL_seconds"]:.1f} s')
