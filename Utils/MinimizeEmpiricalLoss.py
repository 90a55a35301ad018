"""Fit the parameters of a relaxed categorical sampler to a target pmf (Figure 2 and the learned IGR priors).

The sampler's induced category distribution is summarised by the Monte Carlo mean of its simplex samples,
`q = mean_s psi_s` (S draws per step), and the parameters are moved by Adam to minimise

    KL(q || p) = sum_k q_k (log q_k - log p_k)        (loss_type='kl', p floored at 1e-10)
    or  sum_k (q_k - p_k)^2                           (loss_type='mse').

Supported samplers: the families of `Utils.relaxed.families` (GS with parameters log_pi and K categories; IGR_I,
IGR_Planar, IGR_SB_Finite and IGR_SB with parameters mu, xi and K-1 Gaussian dims; IGR_SB truncates the stick at the
first piece where the cumulative mass passes `threshold`, and the number of pieces kept, `n_required`, is recorded
each step). The step is a compiled `tf.function` with static shapes; the noise comes from a seeded
`tf.random.Generator`.
"""
import time

import numpy as np
import tensorflow as tf

from Utils.general import kl_divergence
from Utils.relaxed.families import get_family
from Utils.relaxed.internal import check_temperature
from Utils.relaxed.stick_breaking import TRUNCATION_OPTIONS

LOSS_TYPES = ('kl', 'mse')


def draw_noise(generator, model_type, shape, dtype=tf.float32):
    """Standard noise for one batch of draws: Gumbel for GS, standard normal for IGR (``generator.normal``, not the
    VAEs' Box-Muller: the fits' stream). shape (1, n, S, 1)."""
    return get_family(model_type).noise(generator, shape, dtype, box_muller=False)


def psi_from_noise(model_type, params, noise, temp, threshold=0.9, truncation_option='quantile',
                   planar_flow=None):
    """Simplex samples of a sampler given its standard noise (`Utils.relaxed.families.Family.relaxed`).

    params: dict of tensors shaped (1, n, 1, 1): {'log_pi'} for GS, {'mu', 'xi'} for IGR.
    noise: (1, n, S, 1) Gumbel (GS) or standard normal (IGR).
    Returns (psi, n_required): psi (1, K, S, 1) with K = n for GS and n + 1 for IGR (for IGR_SB the dropped
    pieces are exactly 0 and the softmax++ category stays last); n_required an int32 scalar (the pieces kept by
    the IGR_SB truncation, `Utils.relaxed.stick_breaking.compute_n_required`; n otherwise).
    """
    family = get_family(model_type)
    draw = family.relaxed([params[name] for name in family.param_names], noise, temp, flow=planar_flow,
                          threshold=threshold, truncation_option=truncation_option)
    n_required = draw.get('n_required')    # GS keeps its n categories
    return draw['psi'], tf.constant(noise.shape[1], tf.int32) if n_required is None else n_required


def empirical_loss(q, p, loss_type='kl'):
    """KL(q || p) or squared error between the empirical category distribution q and the target p, both (K,)."""
    if loss_type == 'kl':
        return kl_divergence(q, p, axis=-1)
    if loss_type == 'mse':
        return tf.reduce_sum(tf.square(q - p), axis=-1)
    raise ValueError(f'Unknown loss_type {loss_type!r}; valid choices are {list(LOSS_TYPES)}')


class MinimizeEmpiricalLoss:
    """Adam on the sampler parameters to make mean psi match a target pmf.

    Args:
      target_pmf: (K,) probabilities (K categories: K logits for GS, K-1 Gaussian dims for IGR).
      model_type: one of GS, IGR_I, IGR_Planar, IGR_SB, IGR_SB_Finite.
      params: initial parameters, dict of arrays shaped (1, n, 1, 1) (see `Utils.general.initial_params`).
      temp: temperature (> 0), or a pair (start, end) to anneal it geometrically from start to end over
        `max_iterations` (gradients through nearly one-hot samples vanish, so low-temperature fits start warmer).
      sample_size: Monte Carlo draws per step (S).
      learning_rate: Adam step size, a float or a `tf.keras.optimizers.schedules.LearningRateSchedule`.
      max_iterations: number of steps.
      tolerance: stop early once the step loss is <= tolerance (None: never).
      loss_type: 'kl' or 'mse'.
      threshold, truncation_option: IGR_SB truncation (precision of the stick; 'quantile' or 'max').
      planar_flow: a `PlanarFlow` layer for IGR_Planar (its weights are trained too).
      seed: seeds the noise generator.
      print_every: print progress every so many steps (0: silent).
    After `optimize()`: `loss_history` (float array, one per step), `n_required_history` (int array),
    `params` (dict of numpy arrays), `iterations_run`, `seconds`.
    """

    def __init__(self, target_pmf, model_type, params, temp, sample_size=1000, learning_rate=1e-2,
                 max_iterations=200, tolerance=None, loss_type='kl', threshold=0.9, truncation_option='quantile',
                 planar_flow=None, seed=0, print_every=0):
        family = get_family(model_type)
        if loss_type not in LOSS_TYPES:
            raise ValueError(f'Unknown loss_type {loss_type!r}; valid choices are {list(LOSS_TYPES)}')
        if truncation_option not in TRUNCATION_OPTIONS:
            raise ValueError(f'Unknown truncation_option {truncation_option!r}; '
                             f'valid choices are {list(TRUNCATION_OPTIONS)}')
        temps = (temp, temp) if np.isscalar(temp) else tuple(temp)
        if len(temps) != 2:
            raise ValueError(f'temp must be a number or a (start, end) pair, got {temp!r}')
        for t in temps:
            check_temperature(t)
        self.temp_schedule = np.geomspace(temps[0], temps[1], max(int(max_iterations), 1)).astype(np.float32)
        self.temp_var = tf.Variable(float(temps[0]), trainable=False, name='temp')
        self.model_type, self.loss_type = model_type, loss_type
        self.threshold, self.truncation_option = float(threshold), truncation_option
        self.sample_size, self.max_iterations = int(sample_size), int(max_iterations)
        self.tolerance, self.print_every = tolerance, int(print_every)
        target = np.asarray(target_pmf, dtype=np.float64)
        if target.ndim != 1 or np.any(target < 0) or not np.isclose(target.sum(), 1., atol=1e-4):
            raise ValueError(f'target_pmf must be a 1-D array of probabilities summing to 1, got {target_pmf!r}')
        self.target = tf.constant(target.astype(np.float32))
        names = family.param_names
        if set(params) != set(names):
            raise ValueError(f'{model_type} needs parameters {list(names)}, got {sorted(params)}')
        self.n = int(np.shape(params[names[0]])[1])
        expected_k = family.categories(self.n)
        if self.target.shape[0] != expected_k:
            raise ValueError(f'target_pmf has {self.target.shape[0]} categories but {model_type} with '
                             f'{self.n} parameters per variable gives {expected_k}')
        self.variables = {k: tf.Variable(np.asarray(params[k], dtype=np.float32), name=k) for k in names}
        self.planar_flow = planar_flow
        if family.has_flow:
            if planar_flow is None:
                raise ValueError(f'{model_type} needs a planar_flow (Utils.relaxed.planar.PlanarFlow)')
            planar_flow(tf.zeros((1, self.n, 1, 1)))  # build
        self.generator = tf.random.Generator.from_seed(seed)
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
        self.loss_history = np.zeros(0)
        self.n_required_history = np.zeros(0, dtype=np.int32)
        self.iterations_run, self.seconds = 0, 0.

    @property
    def temp(self):
        """The temperature in use (the end of the schedule once `optimize()` has run)."""
        return float(self.temp_var.numpy())

    @temp.setter
    def temp(self, value):
        check_temperature(value)
        self.temp_var.assign(float(value))

    @property
    def trainable(self):
        extra = list(self.planar_flow.trainable_variables) if self.planar_flow is not None else []
        return list(self.variables.values()) + extra

    def mean_psi(self, sample_size=None):
        """Monte Carlo mean of psi over `sample_size` fresh draws -> ((K,), n_required)."""
        s = self.sample_size if sample_size is None else int(sample_size)
        noise = draw_noise(self.generator, self.model_type, (1, self.n, s, 1))
        psi, n_required = psi_from_noise(self.model_type, self.variables, noise, self.temp_var, self.threshold,
                                         self.truncation_option, self.planar_flow)
        return tf.reduce_mean(psi, axis=(0, 2, 3)), n_required

    @tf.function
    def train_step(self):
        """One Adam step on a fresh batch of S draws; returns (loss, n_required)."""
        with tf.GradientTape() as tape:
            q, n_required = self.mean_psi()
            loss = empirical_loss(q, self.target, self.loss_type)
        grads = tape.gradient(loss, self.trainable)
        self.optimizer.apply_gradients(zip(grads, self.trainable))
        return loss, n_required

    def optimize(self):
        """Run up to `max_iterations` steps (or until the loss is <= tolerance); returns self."""
        losses, n_req = [], []
        start = time.time()
        for it in range(self.max_iterations):
            self.temp_var.assign(self.temp_schedule[it])
            loss, n_required = self.train_step()
            losses.append(float(loss))
            n_req.append(int(n_required))
            if self.print_every and (it % self.print_every == 0 or it == self.max_iterations - 1):
                print(f'{self.model_type} iter {it:6d} || loss {losses[-1]:.6f} || n_required {n_req[-1]}',
                      flush=True)
            if self.tolerance is not None and losses[-1] <= self.tolerance:
                break
        self.temp_var.assign(self.temp_schedule[-1])
        self.seconds = time.time() - start
        self.loss_history = np.asarray(losses)
        self.n_required_history = np.asarray(n_req, dtype=np.int32)
        self.iterations_run = len(losses)
        return self

    @property
    def params(self):
        """Current parameters as numpy float32 arrays shaped (1, n, 1, 1)."""
        return {k: v.numpy() for k, v in self.variables.items()}

    def induced_distribution(self, n_samples, chunk=10_000):
        """Mean of psi and frequencies of argmax(psi) over `n_samples` fresh draws -> two numpy (K,) arrays."""
        total_psi, counts, done = 0., 0., 0
        while done < n_samples:
            s = min(chunk, n_samples - done)
            psi = self.sample_psi(s, chunk=s)
            total_psi = total_psi + psi.sum(axis=1)
            counts = counts + np.bincount(psi.argmax(axis=0), minlength=psi.shape[0])
            done += s
        return total_psi / n_samples, counts / n_samples

    def sample_psi(self, n_samples, chunk=10_000):
        """`n_samples` fresh simplex samples, numpy (K, n_samples) (drawn in chunks to bound memory)."""
        out = []
        for start in range(0, n_samples, chunk):
            s = min(chunk, n_samples - start)
            noise = draw_noise(self.generator, self.model_type, (1, self.n, s, 1))
            psi, _ = psi_from_noise(self.model_type, self.variables, noise, self.temp_var, self.threshold,
                                    self.truncation_option, self.planar_flow)
            out.append(psi[0, :, :, 0].numpy())
        return np.concatenate(out, axis=1)
