"""Training and evaluation of the structured output prediction (SOP) experiment (Table 3).

    run_sop(hyper, run_with_sample=None, resume_dir=None)  -> final test metrics (dict with 'run_dir')
    load_trained_sop(run_dir, epoch=None)                  -> (SOPOptimizer with restored weights, hyper)
    default_hyper(), validate_hyper(hyper)

Task: predict the lower half of a binarized MNIST digit from its upper half with the stochastic network of
`Models/SOP.py`. Training minimises the summed sigmoid cross-entropy of the lower half given one relaxed sample of
the units per image (batch mean), with Adam. Test metrics (per image, nats), written to the run folder's
`metrics.csv` (columns `epoch,TeNLL,TeNLLD,TeNLLMS,TrL,seconds`):
  TeNLL    -log p(x_lower | z), z one relaxed sample;
  TeNLLD   the same with discretized units (every layer's sample is rounded before it feeds the next layer);
  TeNLLMS  -log (1/S) sum_s p(x_lower | z_s) over S = `test_sample_size` discretized samples (an estimate of the
           discrete model's -log p(x_lower | x_upper), tighter than TeNLLD);
  TrL      mean training loss of the epoch.
Run folders, logs, checkpoints and resume follow `Utils/runs/` (same as the VAEs).
"""
import math
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from Models.SOP import SOPNet, bernoulli_log_lik
from Models.sop_hyper import (HYPER_KEYS, SMOKE_BATCH_N, SOP_MODEL_TYPES, VALID_KEYS,  # noqa: F401
                              default_hyper, unit_sigma, validate_hyper)
from Utils.runs import checkpointing, folders, hyper_checks, logs, seeding
from Utils.runs.resume import ResumeRules, hyper_to_run, take_up
from Utils.runs.runstore import fence_of
from Utils.runs.training_loop import NonFiniteLossError, epoch_permutation, train_epochs  # noqa: F401

EXPERIMENT = 'sop'
METRIC_COLUMNS = ('TeNLL', 'TeNLLD', 'TeNLLMS', 'TrL')
TEST_ROWS_LIMIT = 20_000  # images x samples per test step


def split_halves(images):
    """Binarized images (N, 28, 28[, 1]) -> (upper (N, 392), lower (N, 392)) float32."""
    x = np.asarray(images, np.float32).reshape(len(images), 28, 28)
    return x[:, :14].reshape(len(x), -1), x[:, 14:].reshape(len(x), -1)


def load_sop_data(run_with_sample=False):
    """Binarized MNIST halves: dict x_train_upper, x_train_lower, x_test_upper, x_test_lower (float32, (N, 392))."""
    from Utils.load_data import load_dataset
    spec = load_dataset('mnist', 'dense', run_with_sample)
    train_u, train_l = split_halves(spec.x_train)
    test_u, test_l = split_halves(spec.x_test)
    return {'x_train_upper': train_u, 'x_train_lower': train_l, 'x_test_upper': test_u, 'x_test_lower': test_l}


def test_batch_size(n_test, samples):
    """Largest divisor of n_test with batch * samples <= TEST_ROWS_LIMIT (every test image seen once)."""
    limit = max(1, TEST_ROWS_LIMIT // max(samples, 1))
    return max(d for d in range(1, min(n_test, limit) + 1) if n_test % d == 0)


class SOPOptimizer:
    """Network, Adam, compiled train/test steps and bookkeeping of one SOP run.

    Args: hyper (validated, `validate_hyper`).
    """

    def __init__(self, hyper):
        self.hyper = h = dict(hyper)
        seed = int(h['seed'])
        self.net = SOPNet(h['model_type'], h['temp'], units=h['units'], stochastic_layers=h['stochastic_layers'],
                          seed=seed, unit_sigma=unit_sigma(h))
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=float(h['learning_rate']))
        self.optimizer.build(self.net.trainable_variables)
        self.batch_n, self.sample_size = int(h['batch_n']), int(h['sample_size'])
        self.test_sample_size = int(h['test_sample_size'])
        checkpointing.init_training_state(self, seed)
        self._x_upper = self._x_lower = self._perm = None
        # Compiled steps. The noise is drawn and the batch gathered by outer (plain graph) functions; with jit_compile
        # only the deterministic core (network, loss, Adam update) is compiled by XLA, so XLA changes float rounding,
        # not the random draws, and the training set is not copied into every XLA call.
        jit = bool(h['jit_compile'])
        compiled = lambda fn, xla=False, **kw: tf.function(fn, jit_compile=xla, autograph=False, **kw)
        self._train_core = compiled(self._train_core_body, xla=True) if jit else self._train_core_body
        self._test_core = compiled(self._test_core_body, xla=True) if jit else self._test_core_body
        self.train_step = compiled(self._train_step)
        self.test_step = compiled(self._test_step, reduce_retracing=True)
        self._indexed_train_step = compiled(self._train_from_index)

    def trackables(self):
        """Objects a checkpoint must hold to resume exactly, mid-epoch included."""
        return {'net': self.net, 'optimizer': self.optimizer, **checkpointing.training_state_trackables(self)}

    # ---- objective -------------------------------------------------------------------------------------------------
    def log_lik_samples(self, x_upper, x_lower, samples, rng, hard=False):
        """log p(x_lower | z_s) for S = `samples` draws per image: (b, S). x_upper, x_lower (b, 392)."""
        noise = self.net.noise(rng, tf.shape(x_upper)[0] * samples)
        return self._log_lik_given_noise(x_upper, x_lower, samples, noise, hard)

    def _log_lik_given_noise(self, x_upper, x_lower, samples, noise, hard=False):
        b = tf.shape(x_upper)[0]
        logits = self.net(x_upper, noise, hard=hard, samples=samples)  # (b*S, 392)
        log_lik = bernoulli_log_lik(tf.repeat(x_lower, samples, axis=0), logits)
        return tf.reshape(log_lik, (b, samples))

    def _train_step(self, x_upper, x_lower):
        """One Adam step on the mean (over images and samples) summed cross-entropy; returns the loss."""
        noise = self.net.noise(self.rng, tf.shape(x_upper)[0] * self.sample_size)
        return self._train_core(x_upper, x_lower, noise)

    def _train_core_body(self, x_upper, x_lower, noise):
        """The step given its noise; bookkeeping goes to variables (no host sync)."""
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self._log_lik_given_noise(x_upper, x_lower, self.sample_size, noise))
        variables = self.net.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        checkpointing.record_step(self, loss)
        return loss

    def _train_from_index(self):
        index = self._perm[self.step_in_epoch]
        self.step_in_epoch.assign_add(1)
        return self._train_step(tf.gather(self._x_upper, index), tf.gather(self._x_lower, index))

    def attach_train_data(self, x_upper, x_lower):
        """Keep the training halves on the device; batches are gathered inside the compiled step. Returns steps."""
        self._x_upper, self._x_lower = tf.constant(x_upper), tf.constant(x_lower)
        steps = len(x_upper) // self.batch_n
        self._perm = tf.Variable(tf.zeros((steps, self.batch_n), tf.int32), trainable=False)
        return steps

    def start_epoch(self, permutation):
        """permutation (steps, batch_n) training indices of this epoch; resets the epoch's statistics."""
        self._perm.assign(permutation)
        self.step_in_epoch.assign(0)
        self.loss_sum.assign(0.)
        self.loss_steps.assign(0)
        self.first_bad_iteration.assign(-1)

    def continue_epoch(self, permutation):
        """The permutation of an epoch resumed mid-way: the restored step and statistics are kept."""
        self._perm.assign(permutation)

    def train_next(self):
        return self._indexed_train_step()

    def epoch_stats(self):
        steps = int(self.loss_steps.numpy())
        return {'TrL': float(self.loss_sum.numpy()) / max(steps, 1), 'steps': steps,
                'first_bad_iteration': int(self.first_bad_iteration.numpy())}

    # ---- evaluation ------------------------------------------------------------------------------------------------
    def _test_step(self, x_upper, x_lower):
        """Sums over the batch of [NLL relaxed, NLL discretized, multi-sample NLL discretized]."""
        b = tf.shape(x_upper)[0]
        noise = [self.net.noise(self.eval_rng, b), self.net.noise(self.eval_rng, b),
                 self.net.noise(self.eval_rng, b * self.test_sample_size)]
        return self._test_core(x_upper, x_lower, noise)

    def _test_core_body(self, x_upper, x_lower, noise):
        relaxed = self._log_lik_given_noise(x_upper, x_lower, 1, noise[0])[:, 0]
        hard = self._log_lik_given_noise(x_upper, x_lower, 1, noise[1], hard=True)[:, 0]
        multi = self._log_lik_given_noise(x_upper, x_lower, self.test_sample_size, noise[2], hard=True)
        log_mean = tf.reduce_logsumexp(multi, axis=1) - math.log(self.test_sample_size)
        return -tf.stack([tf.reduce_sum(relaxed), tf.reduce_sum(hard), tf.reduce_sum(log_mean)])

    def evaluate(self, x_upper, x_lower):
        """Test metrics {'TeNLL', 'TeNLLD', 'TeNLLMS'} per image over all of (x_upper, x_lower) (N, 392) numpy.

        The evaluation noise restarts from a fixed seed, so the same weights always give the same numbers.
        """
        self.eval_rng.reset_from_seed(self.eval_seed)
        n = len(x_upper)
        tb = test_batch_size(n, self.test_sample_size)
        total = tf.zeros(3)
        for start in range(0, n, tb):
            total += self.test_step(tf.constant(x_upper[start:start + tb]), tf.constant(x_lower[start:start + tb]))
        return dict(zip(('TeNLL', 'TeNLLD', 'TeNLLMS'), map(float, (total / n).numpy())))

    def predict_lower(self, x_upper, hard=False, seed=0):
        """Bernoulli means sigmoid(logits) of the lower half (b, 392) given one sample of the units."""
        rng = tf.random.Generator.from_seed(int(seed))
        x_upper = tf.convert_to_tensor(x_upper, tf.float32)
        logits = self.net(x_upper, self.net.noise(rng, tf.shape(x_upper)[0]), hard=hard)
        return tf.sigmoid(logits)


def _should_evaluate(epoch, h):
    return epoch == 1 or epoch == h['epochs'] or epoch % h['check_every'] == 0


def _final_metrics(run_dir):
    rows = folders.read_metrics(run_dir)
    final = dict(rows[-1]) if rows else {}
    final['run_dir'] = str(run_dir)
    return final


RESUME_RULES = ResumeRules('run_sop', validate_hyper, VALID_KEYS, ('epochs',), ('iter_per_epoch',))
"""An SOP run resumes with its saved hyper; only a larger `epochs` may be asked for."""


def write_prediction_image(model, x_upper, x_lower, path, count=8, seed=0):
    """PNG of `count` test digits: rows = truth, relaxed prediction, discretized prediction (upper half = input)."""
    pred = model.predict_lower(x_upper[:count], seed=seed).numpy()
    pred_d = model.predict_lower(x_upper[:count], hard=True, seed=seed).numpy()
    up = x_upper[:count].reshape(-1, 14, 28)
    rows = [np.concatenate([up, low.reshape(-1, 14, 28)], axis=1) for low in (x_lower[:count], pred, pred_d)]
    grid = np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)
    data = tf.io.encode_png(tf.cast(tf.round(np.clip(grid, 0., 1.)[..., None] * 255.), tf.uint8))
    tf.io.write_file(str(path), data)
    return grid


def run_sop(hyper=None, run_with_sample=None, resume_dir=None, data=None, run_dir=None):
    """Train one SOP model and return its final test metrics.

    Args:
        hyper: hyper dict (see HYPER_KEYS; missing keys take `default_hyper()` values). Not modified.
        run_with_sample: overrides hyper['run_with_sample'] when given (True: smoke mode, seconds).
        resume_dir: folder of an interrupted run: continues from its newest checkpoint (mid-epoch after a signal)
            in the same folder (logged epochs after it are dropped and redone); `hyper` may be None, or the same
            hyper with more `epochs`.
        data: optional dict from `load_sop_data` (to share the loaded halves across runs).
        run_dir: train in this folder: a new run when it holds no config.json yet, else as `resume_dir`.
    Returns:
        dict with TeNLL, TeNLLD, TeNLLMS, TrL, seconds, epoch (of the last evaluation) and run_dir.
    Raises:
        HyperError for bad hyper values, NonFiniteLossError when the loss becomes NaN/inf,
        Utils.runs.stop_signals.Interrupted after a stop signal, Utils.load_data.MissingDataError when MNIST is missing.
    """
    h, resume_dir = hyper_to_run(hyper, run_with_sample, resume_dir, run_dir, RESUME_RULES)
    seeding.set_intra_op_threads(h['intra_op_threads'])
    seeding.set_seed(h['seed'])
    data = data or load_sop_data(h['run_with_sample'])
    h['iter_per_epoch'] = steps = hyper_checks.steps_per_epoch(len(data['x_train_upper']), h['batch_n'], hyper)
    model = SOPOptimizer(h)
    run_dir = folders.run_folder(EXPERIMENT, h, resume_dir, run_dir)
    fence = fence_of(run_dir)  # the grid's lock check before each write; None outside a grid
    created = folders.read_config(run_dir).get('created') if (run_dir / 'config.json').exists() else None
    folders.write_json(run_dir / 'config.json', {'experiment': EXPERIMENT, 'hyper': h,
                                            'created': created or time.strftime('%Y-%m-%dT%H:%M:%S')}, fence)
    log = logs.RunLog(run_dir, METRIC_COLUMNS, fence=fence)
    checkpoints = checkpointing.Checkpoints(run_dir, fence=fence, **model.trackables())
    start_epoch = start_step = 0
    if resume_dir is not None:
        start_epoch, start_step = take_up(model, checkpoints, steps, log)
    else:
        log.line(f'# SOP {h["model_type"]} temp {h["temp"]:g} seed {h["seed"]}, {steps} steps/epoch, '
                 f'{sum(int(np.prod(v.shape)) for v in model.net.trainable_variables)} parameters; '
                 f'run folder {run_dir.name}')
    log.session(start_epoch + 1)
    log.status(epochs_done=start_epoch, finished=False, interrupted=None, error=None)

    def end_of_epoch(epoch, stats, seconds):
        if _should_evaluate(epoch, h):
            metrics = model.evaluate(data['x_test_upper'], data['x_test_lower'])
            metrics['TrL'] = stats['TrL']
            log.log_epoch(epoch, {k: metrics[k] for k in METRIC_COLUMNS}, seconds, model.iteration.numpy(),
                          integer_keys=())
    try:
        model.attach_train_data(data['x_train_upper'], data['x_train_lower'])
        train_epochs(model, h, len(data['x_train_upper']), steps, run_dir, log, checkpoints, start_epoch,
                     start_step, end_of_epoch, hint='Try a higher temperature.')
        log.fence()
        (run_dir / 'images').mkdir(exist_ok=True)
        write_prediction_image(model, data['x_test_upper'], data['x_test_lower'], run_dir / 'images' / 'lower_half.png')
        final = _final_metrics(run_dir)
        log.finish(final)
    finally:
        log.close()
    return final


def load_trained_sop(run_dir, epoch=None):
    """Rebuild a run's model from its folder and restore its weights -> (SOPOptimizer, hyper)."""
    run_dir = Path(run_dir)
    h = validate_hyper(dict(folders.read_config(run_dir)['hyper']))
    model = SOPOptimizer(h)
    manager = checkpointing.checkpoint_manager(run_dir, **model.trackables())
    checkpointing.restore_epoch(manager, epoch)
    return model, h
