"""Timing machinery and floors of the speed benchmark (`bench_speed.py`, `make bench`).

- The sizes and temperature shared by the rows, and `epoch_order`: an epoch's batch order as training draws it.
- `Row` / `time_rows`: one timed case and the interleaved timing of a section's cases.
- The floors, each the bare compiled network of a section fed the way training feeds it (`EpochFeed`): `FloorVAE`
  (dense VAENet, Gaussian softmax), `FloorSOP` (the SOP Dense layers, Gaussian sigmoid) and `FloorConvVAE` (the
  `conv_jointvae` VAENet).
"""
import pathlib
import resource
import time

import numpy as np
import tensorflow as tf

BATCH_N, NUM_VARS, CATEGORIES = 64, 30, 10
TEMP = 0.25
"""Relaxation temperature of the VAE rows and the samplers."""


def peak_rss_mb():
    """Peak resident set size of this process in MB (VmHWM; ru_maxrss of a child started by fork + exec would
    include the parent's size at the fork)."""
    try:
        for line in pathlib.Path('/proc/self/status').read_text().splitlines():
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.


def xla_name(jit):
    return 'on' if jit else 'off'


def epoch_order(n_examples, steps, epoch=1):
    """The (steps, BATCH_N) batch indices of `epoch` as a seed-0 training run draws them, for `start_epoch` of a
    floor or a model."""
    from Models.train_vae import epoch_permutation
    return epoch_permutation(0, epoch, n_examples, steps, BATCH_N)


# ---------------------------------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------------------------------
class Row:
    """One timed case: `call()` runs one step and returns a tensor (read to make sure the step has finished);
    `reset()` (optional) starts an epoch, once before the warm-up: warm-up + timed steps must fit in one epoch."""

    def __init__(self, section, name, jit, call, items, reset=None):
        self.section, self.name, self.jit, self.call, self.items, self.reset = section, name, jit, call, items, reset
        self.times = []
        self.error = None

    def run_once(self):
        out = self.call()
        if isinstance(out, (list, tuple)):
            out = out[0]
        if out is not None:
            np.asarray(out)
        return out

    @property
    def median_ms(self):
        return 1e3 * float(np.median(self.times)) if self.times else float('nan')

    @property
    def rate(self):
        return self.items / (self.median_ms / 1e3) if self.times else float('nan')


def time_rows(rows, steps, warmup, rounds):
    """Warm every row up, then time `steps` calls of each, interleaved over `rounds` rounds."""
    live = []
    for row in rows:
        try:
            if row.reset:
                row.reset()
            for _ in range(max(warmup, 1)):
                row.run_once()
            live.append(row)
        except Exception as error:  # a case that cannot run (e.g. no XLA kernel) is reported, not fatal
            row.error = f'{type(error).__name__}: {str(error).splitlines()[0][:80]}'
    # no reset between rounds: every timed step of a row takes the next batch of its epoch, as in training (a step
    # that recompiles for each new batch index would otherwise hide behind its cache)
    per_round = [steps // rounds + (1 if r < steps % rounds else 0) for r in range(rounds)]
    for count in per_round:
        for row in live:
            for _ in range(count):
                tic = time.perf_counter()
                row.run_once()
                row.times.append(time.perf_counter() - tic)
    return rows


# ---------------------------------------------------------------------------------------------------------------------
# Floors
# ---------------------------------------------------------------------------------------------------------------------
class EpochFeed:
    """What the floors share with OptVAE / SOPOptimizer: the training arrays stay on the device, each step gathers its
    batch from a per-epoch permutation held in a variable, and only the step core is compiled with the XLA setting
    (fetching the batch and the noise outside XLA, which would copy the captured training set into every call)."""

    def _init_vae_floor(self, net, x_train, jit, seed):
        """The VAE floors' shared state: `net` trained by Adam, a seeded noise generator, the images on device."""
        self.net = net
        self.optimizer = tf.keras.optimizers.Adam(1e-3)
        self.optimizer.build(self.net.trainable_variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self.x_train = tf.convert_to_tensor(x_train)
        self._init_feed(int(self.x_train.shape[0]), jit)

    def _init_feed(self, n_examples, jit):
        self.steps = n_examples // BATCH_N
        self.perm = tf.Variable(tf.zeros((self.steps, BATCH_N), tf.int32), trainable=False)
        self.step_in_epoch = tf.Variable(0, dtype=tf.int32, trainable=False)
        self._core = tf.function(self._train_core, jit_compile=jit, autograph=False)
        self.train_next = tf.function(self._train_next, autograph=False)

    def start_epoch(self, permutation):
        self.perm.assign(permutation)
        self.step_in_epoch.assign(0)

    def _next_index(self):
        index = self.perm[self.step_in_epoch]
        self.step_in_epoch.assign_add(1)
        return index


# ---------------------------------------------------------------------------------------------------------------------
# The dense VAE floor
# ---------------------------------------------------------------------------------------------------------------------
class FloorVAE(EpochFeed):
    """The compiled floor: same dense VAENet, Gaussian noise -> softmax over (z, 0), closed-form Gaussian KL."""

    def __init__(self, x_train, jit, seed=0):
        from Models.VAENet import VAENet
        tf.keras.utils.set_random_seed(seed)
        n, v = CATEGORIES - 1, NUM_VARS
        self.n, self.v = n, v
        self._init_vae_floor(VAENet('dense', tuple(x_train.shape[1:]), 'bernoulli', [n * v, n * v], CATEGORIES * v),
                             x_train, jit, seed)

    def _train_next(self):
        x = tf.gather(self.x_train, self._next_index())
        return self._core(x, self.rng.normal((BATCH_N, self.n, self.v)))

    def _train_core(self, x, eps):
        with tf.GradientTape() as tape:
            mu, xi = (tf.reshape(p, (BATCH_N, self.n, self.v)) for p in self.net.encode(x))
            z = mu + tf.exp(xi) * eps
            psi = tf.nn.softmax(tf.concat([z, tf.zeros((BATCH_N, 1, self.v))], axis=1), axis=1)
            logits = self.net.decode(tf.reshape(tf.transpose(psi, [0, 2, 1]), (BATCH_N, -1)))
            log_px = -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), [1, 2, 3])
            kl = tf.reduce_sum(0.5 * (tf.exp(2. * xi) + tf.square(mu) - 1.) - xi, axis=[1, 2])
            loss = -tf.reduce_mean(log_px - kl)
        grads = tape.gradient(loss, self.net.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.net.trainable_variables))
        return loss



# ---------------------------------------------------------------------------------------------------------------------
# SOP and conv floors
# ---------------------------------------------------------------------------------------------------------------------
class FloorSOP(EpochFeed):
    """Same Dense layers as the IGR-I SOP network; units = sigmoid(mu + sigma eps); summed cross-entropy; Adam."""

    def __init__(self, x_upper, x_lower, jit, units=200, layers=2, seed=0):
        tf.keras.utils.set_random_seed(seed)
        self.units = units
        self.param_layers = [tf.keras.layers.Dense(2 * units) for _ in range(layers)]
        self.out_layer = tf.keras.layers.Dense(x_lower.shape[1])
        h = tf.zeros((1, x_upper.shape[1]))
        for layer in self.param_layers:
            layer(h)
            h = tf.zeros((1, units))
        self.out_layer(h)
        self.variables = [w for layer in self.param_layers + [self.out_layer] for w in layer.trainable_weights]
        self.optimizer = tf.keras.optimizers.Adam(3e-4)
        self.optimizer.build(self.variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self.x_upper, self.x_lower = tf.convert_to_tensor(x_upper), tf.convert_to_tensor(x_lower)
        self._init_feed(int(self.x_upper.shape[0]), jit)

    def _train_next(self):
        index = self._next_index()
        noise = [self.rng.normal((BATCH_N, self.units)) for _ in self.param_layers]
        return self._core(tf.gather(self.x_upper, index), tf.gather(self.x_lower, index), noise)

    def _train_core(self, x_upper, x_lower, noise):
        with tf.GradientTape() as tape:
            h = x_upper
            for layer, eps in zip(self.param_layers, noise):
                mu, xi = tf.split(layer(h), 2, axis=-1)
                h = tf.sigmoid(mu + tf.exp(xi) * eps)
            logits = self.out_layer(h)
            loss = tf.reduce_mean(tf.reduce_sum(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=x_lower, logits=logits), axis=-1))
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return loss


class FloorConvVAE(EpochFeed):
    """The JointVAE networks' floor: the same `conv_jointvae` VAENet; Gaussian latents (reparameterized), the one
    10-category variable as Gaussian noise through a softmax over (z, 0); closed-form Gaussian KLs; the likelihood."""

    def __init__(self, x_train, likelihood, cont_n, jit, seed=0):
        from Models.VAENet import VAENet
        tf.keras.utils.set_random_seed(seed)
        self.n, self.cont_n = CATEGORIES - 1, cont_n
        net = VAENet('conv_jointvae', tuple(x_train.shape[1:]), likelihood, [cont_n, cont_n, self.n, self.n],
                     cont_n + CATEGORIES)
        self._init_vae_floor(net, x_train, jit, seed)

    def _train_next(self):
        x = tf.gather(self.x_train, self._next_index())
        return self._core(x, self.rng.normal((BATCH_N, self.cont_n)), self.rng.normal((BATCH_N, self.n)))

    def _train_core(self, x, eps_c, eps_d):
        gaussian_kl = lambda mu, xi: tf.reduce_sum(0.5 * (tf.exp(2. * xi) + tf.square(mu) - 1.) - xi, axis=-1)
        with tf.GradientTape() as tape:
            mu_c, xi_c, mu_d, xi_d = self.net.encode(x)
            z_d = mu_d + tf.exp(xi_d) * eps_d
            psi = tf.nn.softmax(tf.concat([z_d, tf.zeros((BATCH_N, 1))], axis=1), axis=1)
            out = self.net.decode(tf.concat([mu_c + tf.exp(xi_c) * eps_c, psi], axis=1))
            log_px = self.net.likelihood.log_prob(x[:, None], out[:, None])[:, 0]
            loss = -tf.reduce_mean(log_px - gaussian_kl(mu_c, xi_c) - gaussian_kl(mu_d, xi_d))
        grads = tape.gradient(loss, self.net.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.net.trainable_variables))
        return loss


def fmt_ratio(value):
    return '' if value is None or not np.isfinite(value) else f'{value:.2f}x'
