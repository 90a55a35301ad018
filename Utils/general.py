"""Helpers shared by the approximation experiments (Figures 1 and 2, the learned priors).

- target pmfs built from `tfp.distributions` (`target_pmf`),
- the distance of simplex samples to their nearest vertex and its summary statistics (`distance_to_nearest_vertex`,
  `proximity_stats`),
- discrete KL divergences (`kl_divergence`),
- parameter shapes / initialisation for the samplers (`n_params_for`, `initial_params`),
- saving and loading the learned IGR priors (`save_prior`, `load_prior`).

All tensors follow the project convention `(batch, categories, samples, vars)` with categories on axis 1.
"""
import pickle
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from Utils.paths import prior_file_name  # noqa: F401  (re-exported)
from Utils.relaxed.families import FAMILIES, get_family
from Utils.results.results_io import markdown_lines

tfd = tfp.distributions

MODEL_TYPES = tuple(FAMILIES)
TARGETS = ('ten_categories', 'uniform', 'binomial', 'poisson', 'negative_binomial')
TEN_CATEGORY_WEIGHTS = (10., 1., 5., 1., 10., 10., 1., 6., 1., 1.)


def check_model_type(model_type):
    """Raise a ValueError naming the bad `model_type` and the valid choices."""
    get_family(model_type)


def target_distribution(name, **kwargs):
    """The `tfp.distributions` object of a named Figure 2 target.

    name: 'ten_categories' (pmf proportional to [10,1,5,1,10,10,1,6,1,1]), 'uniform' (needs `n_categories`),
    'binomial' (total_count=12, probs=0.3), 'poisson' (rate=50), 'negative_binomial' (total_count=50, probs=0.6;
    tfp's convention: number of successes with success probability `probs` before `total_count` failures, mean 75).
    Keyword arguments override the defaults (e.g. `rate=10.`).
    """
    if name == 'ten_categories':
        weights = np.asarray(kwargs.get('weights', TEN_CATEGORY_WEIGHTS), dtype=np.float64)
        return tfd.Categorical(logits=np.log(weights))
    if name == 'uniform':
        n = int(kwargs['n_categories'])
        return tfd.Categorical(logits=np.zeros(n, dtype=np.float64))
    if name == 'binomial':
        return tfd.Binomial(total_count=np.float64(kwargs.get('total_count', 12.)),
                            probs=np.float64(kwargs.get('probs', 0.3)))
    if name == 'poisson':
        return tfd.Poisson(rate=np.float64(kwargs.get('rate', 50.)))
    if name == 'negative_binomial':
        return tfd.NegativeBinomial(total_count=np.float64(kwargs.get('total_count', 50.)),
                                    probs=np.float64(kwargs.get('probs', 0.6)))
    raise ValueError(f'Unknown target {name!r}; valid choices are {list(TARGETS)}')


def target_pmf(name, n_categories, **kwargs):
    """pmf of a named target on the support {0, ..., n_categories-1}, renormalised there.

    Returns a float64 numpy array of shape (n_categories,). Mass outside the support (e.g. Poisson(50) with 20
    categories) is dropped and the rest renormalised; support points outside the target's support get probability 0.
    """
    if int(n_categories) < 2:
        raise ValueError(f'n_categories must be >= 2, got {n_categories}')
    dist = target_distribution(name, n_categories=n_categories, **kwargs)
    k = np.arange(n_categories, dtype=np.float64)
    if name in ('ten_categories', 'uniform'):
        probs = dist.probs_parameter().numpy()
        pmf = np.zeros(n_categories)
        m = min(len(probs), n_categories)
        pmf[:m] = probs[:m]
    else:
        pmf = dist.prob(k).numpy()
    pmf = np.nan_to_num(pmf, nan=0.0)
    return pmf / pmf.sum()


def kl_divergence(q, p, eps=1e-10, axis=-1):
    """Discrete KL(q || p) = sum_k q_k (log q_k - log p_k) along `axis` (numpy or tf, float).

    Terms with q_k = 0 contribute 0; p is floored at `eps` so that mass where p vanishes is penalised finitely.
    """
    q = tf.convert_to_tensor(q)
    p = tf.cast(tf.convert_to_tensor(p), q.dtype)
    log_ratio = tf.math.log(tf.maximum(q, eps)) - tf.math.log(tf.maximum(p, eps))
    return tf.reduce_sum(tf.where(q > 0, q * log_ratio, tf.zeros_like(q)), axis=axis)


def distance_to_nearest_vertex(psi, axis=1):
    """Euclidean distance of each simplex point to the one-hot vertex of its argmax.

    ||psi - e_argmax||^2 = sum_k psi_k^2 - 2 max_k psi_k + 1.  psi: (..., K, ...) with categories on `axis`;
    returns the same shape without `axis`.
    """
    psi = tf.convert_to_tensor(psi)
    sq = tf.reduce_sum(psi * psi, axis=axis) - 2. * tf.reduce_max(psi, axis=axis) + 1.
    return tf.sqrt(tf.maximum(sq, 0.))


def proximity_stats(distances, axis=0):
    """Median, 10th/20th/25th/75th/90th percentiles, mean and std of distances along `axis` (numpy dict)."""
    d = np.asarray(distances)
    q = np.percentile(d, [10, 20, 25, 50, 75, 90], axis=axis)
    return {'p10': q[0], 'p20': q[1], 'p25': q[2], 'median': q[3], 'p75': q[4], 'p90': q[5],
            'mean': d.mean(axis=axis), 'std': d.std(axis=axis)}


def n_params_for(model_type, n_categories):
    """Number of parameters per variable: K logits for GS, K-1 Gaussian dims for IGR (softmax++ adds one)."""
    return get_family(model_type).params_n(n_categories)


def initial_params(model_type, n_categories, seed=0, mu_scale=0.1, xi_init=0.):
    """Initial sampler parameters shaped (1, n, 1, 1), float32, seeded.

    GS: {'log_pi': small normal noise}; IGR: {'mu': small normal noise, 'xi': xi_init} (sigma = exp(xi)).
    """
    family = get_family(model_type)
    n = family.params_n(n_categories)
    location = (mu_scale * np.random.default_rng(seed).standard_normal((1, n, 1, 1))).astype(np.float32)
    params = {family.param_names[0]: location}
    if family.gaussian:
        params['xi'] = np.full((1, n, 1, 1), xi_init, dtype=np.float32)
    return params


def save_prior(path, mu, xi):
    """Pickle {'mu': float32 (1, n, 1, 1), 'xi': float32 (1, n, 1, 1)} to `path`."""
    mu = np.asarray(mu, dtype=np.float32)
    xi = np.asarray(xi, dtype=np.float32)
    if mu.shape != xi.shape or mu.ndim != 4:
        raise ValueError(f'mu and xi must both be shaped (1, n, 1, 1); got {mu.shape} and {xi.shape}')
    with open(path, 'wb') as f:
        pickle.dump({'mu': mu, 'xi': xi}, f)


ORIGINAL_LOGISTIC_XI = 0.5413
"""xi0 of the original code's IGR-I / IGR-Planar VAE prior, sigma0 = exp(0.5413) = 1.718. The original wrote
softplus^-1(1) = log(e - 1) = 0.541325 and added N(0, 0.01^2) jitter to xi at every batch; the 2.5e-5 between the two
constants is 400 times smaller than that jitter's standard deviation."""


def original_logistic_prior(n):
    """The prior the original code gave its discrete IGR-I and IGR-Planar VAEs, {'mu', 'xi'} float32 (1, n, 1, 1).

    mu0 = log((1/n) / (1 - 1/n)) = log(1/(n - 1)) and xi0 = 0.5413 in each of the n Gaussian dimensions
    (5eaac6f, `Utils/general.py: initialize_mu_and_xi_for_logistic`, n = 9 for 10 categories: mu0 = log(1/8) = -2.079).
    The original also drew N(0, 0.01^2) jitter for xi at every batch, never seeded (mu was overwritten exactly); it is
    left out, so runs are reproducible.
    """
    n = int(n)
    if n < 2:
        raise ValueError(f'bad n {n}: the original logistic prior needs at least 2 Gaussian dimensions')
    mu = np.full((1, n, 1, 1), np.log(1. / (n - 1.)), dtype=np.float32)
    return {'mu': mu, 'xi': np.full((1, n, 1, 1), ORIGINAL_LOGISTIC_XI, dtype=np.float32)}


def standard_normal_prior(n):
    """N(0, 1) in each of the n Gaussian dimensions, {'mu', 'xi'} float32 (1, n, 1, 1): the original JointVAE IGR-I
    and IGR-Planar models never set their prior, which stayed at mu0 = xi0 = 0."""
    zeros = np.zeros((1, int(n), 1, 1), dtype=np.float32)
    return {'mu': zeros, 'xi': zeros.copy()}


NAMED_PRIORS = {'original_logistic': original_logistic_prior, 'standard_normal': standard_normal_prior}
"""Priors given by name (hyper `prior_file`) instead of a pickle: name -> f(n Gaussian dimensions)."""


def load_prior(path):
    """Load a prior pickle written by `save_prior`; returns {'mu', 'xi'} float32 arrays shaped (1, n, 1, 1)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'Prior file {path} not found; create it with `python3 approximations/set_prior.py`')
    with open(path, 'rb') as f:
        prior = pickle.load(f)
    if set(prior) != {'mu', 'xi'}:
        raise ValueError(f'Prior file {path} must hold the keys mu and xi, found {sorted(prior)}')
    return {k: np.asarray(v, dtype=np.float32) for k, v in prior.items()}


def stick_breaking_uniform_init(n, sigma=3.0, max_hazard=0.95):
    """IGR-SB parameters (1, n, 1, 1) whose stick pieces are picked about uniformly, near the vertices.

    With a wide Gaussian, eta_k = sigmoid(z_k) is close to 0 or 1 and is "1" with probability
    Phi(mu_k / sigma). Choosing the hazard Phi(mu_k / sigma) = 1 / (n - k + 1) (k = 1..n, capped at
    `max_hazard`) makes the first piece with eta_k ~ 1, which carries almost all the stick, uniform over the n
    pieces. Used as the starting point of the IGR-SB prior fits. Returns {'mu', 'xi'} float32.
    """
    hazard = np.minimum(1.0 / (n - np.arange(n)), max_hazard)
    mu = sigma * tfd.Normal(np.float64(0.), np.float64(1.)).quantile(hazard).numpy()
    return {'mu': mu.reshape(1, n, 1, 1).astype(np.float32),
            'xi': np.full((1, n, 1, 1), np.log(sigma), dtype=np.float32)}


def find_prior_file(name):
    """Path of a learned prior: `Results/` (or $IGR_RESULTS_DIR) first, then the repository's shipped `Results/`."""
    from Utils import paths
    for path in (paths.results_file(name), paths.REPO_ROOT / 'Results' / name):
        if path.exists():
            return path
    raise FileNotFoundError(f'Prior file {name} not found in {paths.results_file(name).parent} or '
                            f'{paths.REPO_ROOT / "Results"}; create it with `python3 approximations/set_prior.py`')


def markdown_table(frame, floatfmt='{:.3f}'):
    """A pandas DataFrame as a GitHub markdown table (no extra dependency), floats formatted with `floatfmt`."""
    cells = [[floatfmt.format(v) if isinstance(v, (float, np.floating)) else str(v) for v in row]
             for row in frame.itertuples(index=False)]
    return markdown_lines(frame.columns, cells)
