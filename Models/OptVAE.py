"""The VAE core: one ELBO / JointVAE objective and one train and test step for every model type.

A model type is a discrete latent family, optionally mixed with Gaussian latents (the JointVAE setting):

    model_type        family          Gaussian latents
    GS_Dis            GS              no
    IGR_I_Dis         IGR_I           no
    IGR_Planar_Dis    IGR_Planar      no
    IGR_SB_Finite_Dis IGR_SB_Finite   no
    IGR_SB_Dis        IGR_SB          no
    GS, IGR_I, IGR_Planar, IGR_SB_Finite, IGR_SB     the same families, with Gaussian latents

The family is a small object from `LATENTS` that says how to sample psi from the encoder's parameters, its KL to
the prior and the discrete category probabilities it encodes; everything else (encoder, decoder, likelihood,
objective, optimizer, bookkeeping) is shared.

Objective, per example (x one image, psi the relaxed discrete sample, z the Gaussian sample):

    ELBO = log p(x | psi, z) - sum_{v} KL_disc[v] - sum_{d} KL_cont[d]              (summed over every latent)
    JointVAE loss = -log p(x | psi, z) + gamma |KL_cont - C_cont(i)| + gamma |KL_disc - C_disc(i)|,

KL_cont, KL_disc being batch means of the summed KLs, and C(i) = c0 + (c1 - c0) min(i / n_iter, 1) at global
iteration i.  The KL of the discrete part is the ExpConcrete sampled KL log q(y) - log p(y) for GS (prior: uniform
logits) and the closed-form Gaussian KL KL(N(mu, sigma^2) || N(mu0, sigma0^2)) for IGR (the invertible map to the
simplex is shared by posterior and prior); `run_closed_form_kl=False` makes IGR use the sampled Gaussian KL
log N(kappa; mu, sigma) - log N(kappa; mu0, sigma0) instead.

Straight-through (hyper `straight_through`): the decoder gets the one-hot zero-temperature sample (`latent.hard`),
the gradient is the relaxed sample's (`hard + psi - stop_gradient(psi)`), and the KL is `latent.straight_through_kl`
(GS: the categorical KL, exact for the decoded samples; IGR: the Gaussian KL, an upper bound on the categorical KL by
the data-processing inequality), so the objective is a lower bound on the discrete model's ELBO. TeELBO is then that
objective.

The deep latent Gaussian mixtures (`Models.vae_hyper.MIXTURE_TYPES`, `Models/dlgmm.py`) plug in through the same
latent slot: their latent object owns the objective (`owns_objective`), so the train step takes its per-example ELBO
and `evaluate`, the figures and the log-likelihood defer to it; network, optimizer, steps, checkpoints and the epoch
loop are the ones below.

Test metrics (per example, averaged over the test set):
    TeELBO   ELBO with the training KL,      TeELBOC  ELBO with the closed-form KL
             (GS: categorical KL of softmax(log_pi) to the uniform prior),
    TeJV, TeJVC  the JointVAE objective with those KLs,
    TeELBOD  ELBO of the discrete model: the decoder is fed the one-hot zero-temperature sample (argmax; an exact
             draw of the encoded categorical), the KL is the categorical KL of the encoded category probabilities
             to the prior's (GS: softmax(log_pi) vs uniform; IGR-I: `compute_igr_probs` for both, exact;
             IGR-Planar, IGR-SB-Finite, IGR-SB, and IGR-I with discrete_probs='monte_carlo': frequencies of the
             argmax over DISCRETE_MC_SAMPLES draws per example, with the Miller-Madow entropy correction, and over
             PRIOR_MC_SAMPLES draws for the prior, pooled over variables when they share it),
    N        categories in use (IGR-SB: kept stick pieces + 1, maximum over test batches).
"""
import functools

import numpy as np
import tensorflow as tf

from Models.VAENet import VAENet
from Models.dlgmm import MixtureLatent
from Models.latents import DISCRETE_MC_SAMPLES, LATENTS, PRIOR_MC_SAMPLES  # noqa: F401  (re-exported)
from Models.vae_hyper import MIXTURE_TYPES, MODEL_TYPES  # noqa: F401  (re-exported; they live with the hyper schema)
from Utils.relaxed.densities import gaussian_kl, gaussian_log_density
from Utils.relaxed.noise import generator_normal
from Utils.relaxed.softmax_pp import straight_through
from Utils.runs import checkpointing

keras = tf.keras

VANISHED_GRAD_ATOL = 1e-10


def model_family(model_type):
    """(family, has JointVAE Gaussian latents); a mixture is its own family, with no separate Gaussian block."""
    if model_type in MIXTURE_TYPES:
        return model_type, False
    if model_type not in MODEL_TYPES:
        raise ValueError(f'unknown model_type {model_type!r}; valid choices are: '
                         f'{", ".join(list(MODEL_TYPES) + list(MIXTURE_TYPES))}')
    return MODEL_TYPES[model_type]


# ---------------------------------------------------------------------------------------------------------------------
# The core
# ---------------------------------------------------------------------------------------------------------------------
class OptVAE:
    """Network, optimizer, objective and compiled steps of one VAE.

    Args:
        hyper: a completed hyper dict (`Models.train_vae.complete_hyper`).
        image_shape: (H, W, C).
        likelihood: 'bernoulli' or 'gaussian'.
        prior: {'mu', 'xi'} arrays (1, n, 1, 1) for IGR families (loaded once by the caller), None for GS.
    """

    def __init__(self, hyper, image_shape, likelihood, prior=None):
        self.hyper = dict(hyper)
        h = self.hyper
        family, self.mixed = model_family(h['model_type'])
        self.family = family
        self.batch_n, self.sample_size = int(h['batch_n']), int(h['sample_size'])
        if h['model_type'] in MIXTURE_TYPES:
            self.latent = MixtureLatent.from_hyper(h)
        else:
            self.latent = LATENTS[family](h['n_required'], h['num_of_discrete_var'], h['temp'], prior=prior,
                                          threshold=h['threshold'], truncation_option=h['truncation_option'],
                                          closed_form_kl=h['run_closed_form_kl'],
                                          exact_probs=h.get('discrete_probs', 'exact') == 'exact',
                                          delta=h.get('softmax_delta', 1.0))
        self.cont_n = int(h['latent_norm_n']) * int(h['num_of_norm_var']) if self.mixed else 0
        if self.latent.owns_objective:
            param_sizes, decoder_in = self.latent.param_sizes, self.latent.decoder_input_n
        else:
            disc_size = self.latent.n * self.latent.v
            param_sizes = [self.cont_n] * (2 if self.mixed else 0) + [disc_size] * len(self.latent.param_names)
            decoder_in = self.cont_n + self.latent.categories * self.latent.v
        self.net = VAENet(h['architecture'], image_shape, likelihood, param_sizes, decoder_in,
                          planar_flow=self.latent.make_flow(), output_activation=h['decoder_output'])
        self.likelihood = self.net.likelihood
        self.image_shape = tuple(image_shape)
        self.optimizer = keras.optimizers.Adam(learning_rate=float(h['learning_rate']))
        self.optimizer.build(self.net.trainable_variables)

        self.gamma = float(h['gamma'])
        self.cont_c = tuple(float(c) for c in h['cont_c_linspace'])
        self.disc_c = tuple(float(c) for c in h['disc_c_linspace'])
        self.run_jv = bool(h['run_jv'])
        self.straight_through = bool(h.get('straight_through', False))

        checkpointing.init_training_state(self, h['seed'])
        # Further per-epoch bookkeeping, updated inside the compiled step and read once per epoch.
        self.n_required_max = tf.Variable(0, dtype=tf.int32, trainable=False)
        self.threshold_unmet_steps = tf.Variable(0, dtype=tf.int32, trainable=False)
        self.grad_vanished = tf.Variable(0., dtype=tf.float64, trainable=False)
        self.grad_total = tf.Variable(0., dtype=tf.float64, trainable=False)
        self.monitor_gradients = bool(h.get('monitor_gradients', False))
        # a pure function of its inputs: ~25 elementwise passes over (P, b, K, n, S, v) values, which XLA fuses
        # (IGR-SB with K = 50: a train step with the monitor 68 -> 26 ms), so compiled whatever jit_compile says
        self._vanished_counts = tf.function(self._count_vanished, jit_compile=True, autograph=False)

        # Compiled steps. The noise is drawn by the outer function; with jit_compile the deterministic core (network,
        # objective, optimizer update) is compiled by XLA, so XLA changes only float rounding, not the random draws.
        # AutoGraph is off (the steps have no data-dependent Python control flow). Functions are per-instance
        # partials so that TensorFlow's retracing detector, which keys on the code object, does not count the first
        # trace of every model built in one process as a retrace.
        jit = bool(h.get('jit_compile', False))
        compiled = lambda method, xla=False, **kw: tf.function(functools.partial(method, self), jit_compile=xla,
                                                               autograph=False, **kw)
        self._train_core = compiled(OptVAE._train_core, xla=True) if jit else self._train_core
        self._test_core = compiled(OptVAE._test_core, xla=True) if jit else self._test_core
        self.train_step = compiled(OptVAE._train_step)
        self.test_step = compiled(OptVAE._test_step, reduce_retracing=True)
        self._indexed_train_step = compiled(OptVAE._train_from_index)
        self._x_train = self._perm = self._host_images = None
        if self.latent.owns_objective:
            self.latent.bind(self, jit)

    # ---- checkpointing -------------------------------------------------------------------------------------------
    def trackables(self):
        """Objects a checkpoint must hold to resume training exactly, mid-epoch included."""
        return {'net': self.net, 'optimizer': self.optimizer, **checkpointing.training_state_trackables(self),
                'n_required_max': self.n_required_max, 'threshold_unmet_steps': self.threshold_unmet_steps,
                'grad_vanished': self.grad_vanished, 'grad_total': self.grad_total, **self.latent.trackables()}

    # ---- building blocks -----------------------------------------------------------------------------------------
    def encode(self, x):
        """x (b, H, W, C) -> (continuous params [mu (b, d), xi (b, d)] or [], discrete params [(b, n, 1, v), ...])."""
        flat = self.net.encode(x)
        n_cont = 2 if self.mixed else 0
        batch_n = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
        disc = [tf.reshape(p, (batch_n, self.latent.n, 1, self.latent.v)) for p in flat[n_cont:]]
        return flat[:n_cont], disc

    def draw_noise(self, rng, batch_n, sample_size=None):
        """(discrete noise (b, n, S, v), continuous noise (b, d, S) or None)."""
        sample_size = sample_size or self.sample_size
        noise_d = self.latent.noise(rng, batch_n, sample_size)
        noise_c = generator_normal(rng, (batch_n, self.cont_n, sample_size)) if self.mixed else None
        return noise_d, noise_c

    def continuous_sample(self, params_c, noise_c):
        """z = mu + sigma eps, (b, d, S)."""
        if not self.mixed:
            return None
        mu, xi = params_c
        return mu[:, :, None] + tf.exp(xi)[:, :, None] * noise_c

    def decoder_input(self, z_c, psi):
        """Concatenate z (b, d, S) and psi (b, K, S, v) per sample -> (b*S, d + K*v)."""
        batch_n, categories, sample_size, num_vars = psi.shape
        flat_psi = tf.reshape(tf.transpose(psi, [0, 2, 1, 3]), (-1, sample_size, categories * num_vars))
        if z_c is not None:
            flat_psi = tf.concat([tf.transpose(z_c, [0, 2, 1]), flat_psi], axis=-1)
        return tf.reshape(flat_psi, (-1, flat_psi.shape[-1]))

    def decode(self, z_c, psi):
        """Decoder output reshaped to (b, S, H, W, C*P)."""
        out = self.net.decode(self.decoder_input(z_c, psi))
        return tf.reshape(out, (-1, psi.shape[2]) + tuple(out.shape[1:]))

    def log_px_samples(self, x, z_c, psi):
        """log p(x | z_s, psi_s) for each of the S samples: (b, S)."""
        return self.likelihood.log_prob(x[:, None], self.decode(z_c, psi))

    def log_px(self, x, z_c, psi):
        """log p(x | z, psi), averaged over the S samples: (b,)."""
        return tf.reduce_mean(self.log_px_samples(x, z_c, psi), axis=1)

    def continuous_kl(self, params_c):
        """KL(N(mu, sigma^2) || N(0, 1)) per dimension, (b, d); zeros (b, 0) without Gaussian latents."""
        if not self.mixed:
            return None
        mu, xi = params_c
        return gaussian_kl(mu, xi, tf.zeros_like(mu), tf.zeros_like(xi))

    def continuous_log_ratio(self, params_c, z_c):
        """``log N(z; 0, 1) - log N(z; mu, sigma^2)`` summed over the Gaussian dimensions, (b, S); 0 without them."""
        if not self.mixed:
            return 0.
        mu, xi = (p[:, :, None] for p in params_c)
        return tf.reduce_sum(gaussian_log_density(z_c, 0., 0.) - gaussian_log_density(z_c, mu, xi), axis=1)

    def capacity(self, c_linspace):
        """C(i) = c0 + (c1 - c0) min(i / n_iter, 1) at the current global iteration."""
        c0, c1, n_iter = c_linspace
        progress = tf.minimum(tf.cast(self.iteration, tf.float32) / float(n_iter), 1.)
        return c0 + (c1 - c0) * progress

    def elbo_terms(self, x, rng=None, noise=None, params=None):
        """Every tensor the ELBO sums, for one batch x (b, H, W, C).

        `params`: the encoder's (continuous, discrete) parameters when already computed (default: encode x).
        Returns a dict: 'log_px' (b,), 'kl_discrete' (b, v) training KL per discrete variable,
        'kl_continuous' (b, d) per Gaussian dimension (None without Gaussian latents), plus the intermediate
        'params_c', 'params_d', 'noise_d', 'noise_c', 'z_c', 'draw'.
        """
        params_c, params_d = params if params is not None else self.encode(x)
        noise_d, noise_c = noise if noise is not None else self.draw_noise(rng or self.rng, x.shape[0])
        draw = self.latent.relaxed(params_d, noise_d)
        z_c = self.continuous_sample(params_c, noise_c)
        if self.straight_through:
            decoded, kl_d = self.straight_through_psi(params_d, noise_d, draw), self.latent.straight_through_kl
        else:
            decoded, kl_d = draw['psi'], self.latent.kl
        return {'log_px': self.log_px(x, z_c, decoded), 'kl_discrete': kl_d(params_d, draw),
                'kl_continuous': self.continuous_kl(params_c), 'params_c': params_c, 'params_d': params_d,
                'noise_d': noise_d, 'noise_c': noise_c, 'z_c': z_c, 'draw': draw}

    def straight_through_psi(self, params_d, noise_d, draw):
        """The one-hot zero-temperature sample in the forward pass, the relaxed sample's gradient backward:
        ``hard + psi - stop_gradient(psi)`` (exactly one-hot in value)."""
        return straight_through(self.latent.hard(params_d, noise_d, draw), draw['psi'])

    @staticmethod
    def _sum_kl(kl):
        return 0. if kl is None else tf.reduce_sum(kl, axis=1)

    def elbo(self, log_px, kl_d, kl_c):
        """Per-example ELBO (b,): log p(x|.) minus every KL."""
        return log_px - self._sum_kl(kl_d) - self._sum_kl(kl_c)

    def jointvae_loss(self, log_px, kl_d, kl_c):
        """-E log p(x|.) + gamma |E KL_cont - C_cont| + gamma |E KL_disc - C_disc| (scalar, batch means)."""
        kl_c_mean = tf.reduce_mean(self._sum_kl(kl_c)) if kl_c is not None else 0.
        return (-tf.reduce_mean(log_px)
                + self.gamma * tf.abs(kl_c_mean - self.capacity(self.cont_c))
                + self.gamma * tf.abs(tf.reduce_mean(self._sum_kl(kl_d)) - self.capacity(self.disc_c)))

    def loss(self, terms):
        if self.run_jv:
            return self.jointvae_loss(terms['log_px'], terms['kl_discrete'], terms['kl_continuous'])
        return -tf.reduce_mean(self.elbo(terms['log_px'], terms['kl_discrete'], terms['kl_continuous']))

    # ---- training ------------------------------------------------------------------------------------------------
    def _train_step(self, x):
        """One Adam step on the objective for a batch x (b, H, W, C); returns the loss."""
        return self._train_core(x, self.draw_noise(self.rng, x.shape[0]))

    def _train_core(self, x, noise):
        """The step given its noise. Bookkeeping goes to variables (no host sync)."""
        with tf.GradientTape() as tape:
            if self.latent.owns_objective:  # the mixtures: their own per-example bound (noise: (latent's, None))
                terms = self.latent.training_terms(x, noise[0])
                loss = -tf.reduce_mean(terms['elbo'])
            else:
                terms = self.elbo_terms(x, noise=noise)
                loss = self.loss(terms)
        variables = self.net.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        checkpointing.record_step(self, loss)
        draw = terms['draw']
        if self.latent.truncates:
            self.n_required_max.assign(tf.maximum(self.n_required_max, draw['n_required']))
            self.threshold_unmet_steps.assign_add(tf.cast(tf.logical_not(draw['threshold_met']), tf.int32))
        if self.monitor_gradients:
            vanished, total = self.vanished_gradient_counts(terms['params_d'], terms['noise_d'], draw['mask'])
            self.grad_vanished.assign_add(vanished)
            self.grad_total.assign_add(total)
        return loss

    def _train_from_index(self):
        index = self._perm[self.step_in_epoch]
        self.step_in_epoch.assign_add(1)
        return self._train_step(tf.gather(self._x_train, index))

    def attach_train_data(self, x_train):
        """Keep the training images on the device; batches are gathered inside the compiled step.

        A variable (not an eager constant, which would live in host memory) so that it is placed on the GPU when
        there is one and no step copies the training set. Images read from disk (`Utils.image_store.StoredImages`,
        CelebA) stay there: each step reads its batch on the host, in the same permutation order.
        """
        steps = len(x_train) // self.batch_n
        self._perm = tf.Variable(tf.zeros((steps, self.batch_n), tf.int32), trainable=False)
        if isinstance(x_train, np.ndarray) or tf.is_tensor(x_train):
            self._x_train, self._host_images = tf.Variable(x_train, trainable=False, name='x_train'), None
        else:
            self._x_train, self._host_images = None, x_train
            self._host_train_step = tf.function(functools.partial(OptVAE._train_host_batch, self), autograph=False)
        return steps

    def _train_host_batch(self, x):
        self.step_in_epoch.assign_add(1)
        return self._train_step(x)

    def start_epoch(self, permutation):
        """permutation: int array (steps, batch_n) of training indices for this epoch; resets the epoch stats."""
        self._perm.assign(permutation)
        self._host_perm, self._host_step = np.asarray(permutation), 0
        self.step_in_epoch.assign(0)
        for var in (self.loss_sum, self.grad_vanished, self.grad_total):
            var.assign(tf.zeros_like(var))
        for var in (self.loss_steps, self.n_required_max, self.threshold_unmet_steps):
            var.assign(tf.zeros_like(var))
        self.first_bad_iteration.assign(-1)

    def continue_epoch(self, permutation):
        """The permutation of an epoch resumed mid-way: the restored step and statistics are kept."""
        self._perm.assign(permutation)
        self._host_perm, self._host_step = np.asarray(permutation), int(self.step_in_epoch.numpy())

    def train_next(self):
        """Train on the next batch of the current epoch's permutation."""
        if self._host_images is not None:
            batch = self._host_images[self._host_perm[self._host_step]]
            self._host_step += 1
            return self._host_train_step(tf.constant(batch))
        return self._indexed_train_step()

    def epoch_stats(self):
        """Host copy of the epoch's bookkeeping (one read per epoch)."""
        steps = int(self.loss_steps.numpy())
        stats = {'TrL': float(self.loss_sum.numpy()) / max(steps, 1), 'steps': steps,
                 'first_bad_iteration': int(self.first_bad_iteration.numpy()),
                 'n_required_max': int(self.n_required_max.numpy()),
                 'threshold_unmet_steps': int(self.threshold_unmet_steps.numpy())}
        if self.monitor_gradients:
            total = float(self.grad_total.numpy())
            stats['vanished_pct'] = 100. * float(self.grad_vanished.numpy()) / total if total else float('nan')
        return stats

    # ---- vanished gradients (Figure 4) ---------------------------------------------------------------------------
    def vanished_gradient_counts(self, params_d, noise_d, mask):
        """Entries of d psi / d (discrete encoder parameters) with |.| <= 1e-10, and the number of entries.

        The Jacobian is block diagonal over (example, variable); each latent family gives its blocks in closed form
        (`psi_jacobians`: the softmax / softmax++ Jacobian times that of its transform), O(K n) per block instead
        of one forward-mode pass per parameter coordinate. Coordinates dropped by the IGR-SB truncation (parameter
        coordinates j and sample coordinates k; the softmax++ category is always kept) are not counted.
        """
        return self._vanished_counts([tf.stop_gradient(p) for p in params_d], noise_d, mask)

    def _count_vanished(self, params_d, noise_d, mask):
        draw = self.latent.relaxed(params_d, noise_d, mask=mask)
        jacobians = self.latent.psi_jacobians(params_d, noise_d, draw)                  # P x (b, K, n, S, v)
        blocks = len(jacobians) * int(np.prod([jacobians[0].shape[i] for i in (0, 3, 4)]))
        n = self.latent.n
        if mask is None:
            keep, kept_pairs = True, tf.constant(float(jacobians[0].shape[1] * n), tf.float64)
        else:
            kept_j = tf.reshape(mask, (n,)) > 0.
            kept_k = tf.concat([kept_j, [True]], 0)                                    # the softmax++ category
            keep = tf.reshape(kept_k, (1, n + 1, 1, 1, 1)) & tf.reshape(kept_j, (1, 1, n, 1, 1))
            kept = tf.cast(tf.math.count_nonzero(kept_j), tf.float64)
            kept_pairs = kept * (kept + 1.)
        flags = tf.add_n([tf.cast((tf.abs(j) <= VANISHED_GRAD_ATOL) & keep, tf.int32) for j in jacobians])
        # the (K, n) axes reduced first: XLA's CPU code reduced the whole stack to a scalar 3.5x slower (IGR-SB, K = 50)
        vanished = tf.reduce_sum(tf.cast(tf.reduce_sum(flags, axis=[1, 2]), tf.int64))
        return tf.cast(vanished, tf.float64), blocks * kept_pairs

    # ---- evaluation ----------------------------------------------------------------------------------------------
    def _test_step(self, x):
        """Sums over the batch of [ELBO, ELBOC, ELBOD, JV*b, JVC*b] and the categories in use (int32)."""
        noise = self.draw_noise(self.eval_rng, x.shape[0])
        sums, used, params_d, mask = self._test_core(x, noise)
        # The categorical KL of TeELBOD runs outside the (possibly XLA-compiled) core: each family compiles its own
        # (IGR-I's quadrature and the IGR-I / IGR-Planar frequencies with XLA, IGR-SB's running argmax in graph
        # mode, where it is 2.8x faster).
        kl_cat = self.latent.discrete_kl(params_d, {'mask': mask}, self.latent.mc_noise(self.eval_rng, x.shape[0]))
        return sums - tf.one_hot(2, 5) * tf.reduce_sum(kl_cat), used

    def _test_core(self, x, noise):
        """The test sums given the noise, ELBOD without its categorical KL (see `_test_step`); also returns the
        discrete parameters and the truncation mask, for that KL."""
        terms = self.elbo_terms(x, noise=noise)
        params_d, draw, kl_c = terms['params_d'], terms['draw'], terms['kl_continuous']
        kl_dc = self.latent.closed_form_kl(params_d, draw)
        elbo = self.elbo(terms['log_px'], terms['kl_discrete'], kl_c)
        elboc = self.elbo(terms['log_px'], kl_dc, kl_c)
        jv = self.jointvae_loss(terms['log_px'], terms['kl_discrete'], kl_c)
        jvc = self.jointvae_loss(terms['log_px'], kl_dc, kl_c)
        one_hot = self.latent.hard(params_d, terms['noise_d'], draw)
        elbod_without_kl_cat = self.elbo(self.log_px(x, terms['z_c'], one_hot), None, kl_c)
        batch_n = tf.cast(tf.shape(x)[0], tf.float32)
        sums = tf.stack([tf.reduce_sum(elbo), tf.reduce_sum(elboc), tf.reduce_sum(elbod_without_kl_cat),
                         jv * batch_n, jvc * batch_n])
        return sums, self.latent.categories_used(draw), params_d, draw['mask']

    def evaluate(self, x_test_batches, labels=None):
        """Test metrics over the batches of a tensor (n_batches, tb, H, W, C); noise reset to a fixed seed so the
        same weights always give the same numbers. Returns {'TeELBO', 'TeELBOC', 'TeELBOD', 'TeJV', 'TeJVC', 'N'}
        (a mixture: its own `metric_columns`, the clustering scores from the test `labels`)."""
        if self.latent.owns_objective:
            return self.latent.evaluate(x_test_batches, labels)
        self.eval_rng.reset_from_seed(self.eval_seed)
        total, n_used, count = tf.zeros(5), tf.constant(0, tf.int32), 0
        for i in range(int(x_test_batches.shape[0])):
            sums, used = self.test_step(x_test_batches[i])
            total, n_used = total + sums, tf.maximum(n_used, used)
            count += int(x_test_batches.shape[1])
        values = (total / count).numpy()
        out = dict(zip(('TeELBO', 'TeELBOC', 'TeELBOD', 'TeJV', 'TeJVC'), map(float, values)))
        out['N'] = int(n_used.numpy())
        return out

    # ---- sampling for figures ------------------------------------------------------------------------------------
    def sample_posterior_psi(self, x, samples_n, seed=0):
        """S = samples_n relaxed posterior samples psi (b, K, S, v) for images x (b, H, W, C).

        IGR-SB samples keep the allocated K = n + 1 coordinates (dimensions past the batch's truncation are 0).
        """
        rng = tf.random.Generator.from_seed(int(seed))
        x = tf.convert_to_tensor(x, tf.float32)
        _, params_d = self.encode(x)
        noise = self.latent.noise(rng, x.shape[0], int(samples_n))
        return self.latent.relaxed(params_d, noise)['psi']
