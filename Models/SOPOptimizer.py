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
Run folders, logs, checkpoints and resume follow `Utils/experiment.py` (same as the VAEs).
"""
import copy
import math
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from Models.SOP import SOP_MODEL_TYPES, SOPNet, bernoulli_log_lik
from Utils import experiment as ex

EXPERIMENT = 'sop'
METRIC_COLUMNS = ('TeNLL', 'TeNLLD', 'TeNLLMS', 'TrL')
SMOKE_BATCH_N = 5
TEST_ROWS_LIMIT = 20_000  # images x samples per test step

HYPER_KEYS = {
    'dataset_name': "'mnist' (binarized)",
    'model_type': f'one of {SOP_MODEL_TYPES}',
    'temp': 'temperature tau > 0',
    'sample_size': 'relaxed samples per image and training step',
    'test_sample_size': 'discretized samples per test image for TeNLLMS',
    'units': 'relaxed Bernoulli units per stochastic layer',
    'stochastic_layers': 'number of stochastic layers',
    'learning_rate': 'Adam learning rate',
    'batch_n': 'training batch size (5 in smoke mode)',
    'epochs': 'training epochs',
    'check_every': 'evaluate every this many epochs (and at the first and last)',
    'run_with_sample': 'smoke mode: a few dozen images, batch 5',
    'num_of_repetitions': 'runs per cell in the grid script (seeds seed, seed+1, ...)',
    'width_height': 'shape of the input half (14, 28, 1); the output is the other half',
    'iter_per_epoch': 'derived: training steps per epoch',
    'seed': 'seed of the weights, the data order and the noise',
    'save_every': 'checkpoint every this many epochs (0: only at the end); always at the end',
    'jit_compile': 'compile the steps with XLA',
}
VALID_KEYS = tuple(HYPER_KEYS)
DATASETS = ('mnist',)


def default_hyper():
    """Settings of Table 3: IGR-I, two layers of 200 units, batch 64, Adam 3e-4, 50 epochs."""
    return {'dataset_name': 'mnist', 'model_type': 'IGR_I', 'temp': 0.5, 'sample_size': 1, 'test_sample_size': 100,
            'units': 200, 'stochastic_layers': 2, 'learning_rate': 3e-4, 'batch_n': 64, 'epochs': 50,
            'check_every': 1, 'run_with_sample': False, 'num_of_repetitions': 1, 'width_height': (14, 28, 1),
            'iter_per_epoch': None, 'seed': 0, 'save_every': 10, 'jit_compile': False}


def validate_hyper(hyper, run_with_sample=None):
    """Check a hyper dict and return a completed copy (defaults for missing keys). Never modifies the argument.

    Raises `Utils.experiment.HyperError` (a ValueError) naming an unknown key (and the valid ones) or a bad value.
    """
    if not isinstance(hyper, dict):
        raise ex.HyperError(f'hyper must be a dict, got {type(hyper).__name__}')
    ex.check_keys(hyper, VALID_KEYS)
    h = {**default_hyper(), **copy.deepcopy(hyper)}
    if run_with_sample is not None:
        h['run_with_sample'] = bool(run_with_sample)
    ex.check_choice('model_type', h['model_type'], SOP_MODEL_TYPES)
    ex.check_choice('dataset_name', h['dataset_name'], DATASETS)
    ex.check_number('temp', h['temp'], low=0., low_open=True)
    ex.check_number('learning_rate', h['learning_rate'], low=0., low_open=True)
    for key in ('sample_size', 'test_sample_size', 'units', 'stochastic_layers', 'batch_n', 'epochs', 'check_every',
                'num_of_repetitions'):
        ex.check_number(key, h[key], low=1, integer=True)
    for key in ('seed', 'save_every'):
        ex.check_number(key, h[key], low=0, integer=True)
    for key in ('run_with_sample', 'jit_compile'):
        ex.check_bool(key, h[key])
    if tuple(h['width_height']) != (14, 28, 1):
        raise ex.HyperError(f'bad width_height {h["width_height"]!r}: only (14, 28, 1) (upper half of MNIST) is '
                            f'supported')
    h['width_height'] = tuple(h['width_height'])
    if h['run_with_sample']:
        h['batch_n'] = SMOKE_BATCH_N
    return h


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


def epoch_permutation(seed, epoch, n_examples, steps, batch_n):
    """Training order of one epoch, (steps, batch_n) indices, a function of (seed, epoch) only (exact resume)."""
    order = np.random.default_rng([int(seed), int(epoch)]).permutation(n_examples)
    return order[:steps * batch_n].reshape(steps, batch_n).astype(np.int32)


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
                          seed=seed)
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=float(h['learning_rate']))
        self.optimizer.build(self.net.trainable_variables)
        self.batch_n, self.sample_size = int(h['batch_n']), int(h['sample_size'])
        self.test_sample_size = int(h['test_sample_size'])
        ex.init_training_state(self, seed)
        self._step_in_epoch = tf.Variable(0, dtype=tf.int32, trainable=False)
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
        """Objects a checkpoint must hold to resume exactly."""
        return {'net': self.net, 'optimizer': self.optimizer, 'iteration': self.iteration, 'epoch': self.epoch,
                'rng': self.rng}

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
        ex.record_step(self, loss)
        return loss

    def _train_from_index(self):
        index = self._perm[self._step_in_epoch]
        self._step_in_epoch.assign_add(1)
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
        self._step_in_epoch.assign(0)
        self.loss_sum.assign(0.)
        self.loss_steps.assign(0)
        self.first_bad_iteration.assign(-1)

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


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def _should_evaluate(epoch, h):
    return epoch == 1 or epoch == h['epochs'] or epoch % h['check_every'] == 0


def _check_finite(model, epoch, run_dir, log):
    bad = int(model.first_bad_iteration.numpy())
    if bad < 0:
        return
    message = (f'Non-finite training loss at epoch {epoch} (global iteration {bad + 1}) of run {run_dir}; training '
               f'stopped. The last checkpoint holds the weights before it. Try a higher temperature.')
    log.line(f'# ERROR: {message}')
    log.status(error=message)
    raise NonFiniteLossError(message)


def _final_metrics(run_dir):
    rows = ex.read_metrics(run_dir)
    final = dict(rows[-1]) if rows else {}
    final['run_dir'] = str(run_dir)
    return final


def _prepare_resume(resume_dir, hyper, run_with_sample):
    saved = ex.read_config(resume_dir)['hyper']
    h = validate_hyper(dict(saved))
    if hyper is not None:
        wanted = validate_hyper(hyper, run_with_sample)
        differ = sorted(k for k in VALID_KEYS if k not in ('epochs', 'iter_per_epoch')
                        and ex.jsonable(wanted[k]) != ex.jsonable(h[k]))
        if differ:
            raise ex.HyperError(f'cannot resume {resume_dir} with a different hyper: {differ} differ '
                                f'(only epochs may change)')
        h['epochs'] = max(h['epochs'], wanted['epochs'])
    return h


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


def run_sop(hyper=None, run_with_sample=None, resume_dir=None, data=None):
    """Train one SOP model and return its final test metrics.

    Args:
        hyper: hyper dict (see HYPER_KEYS; missing keys take `default_hyper()` values). Not modified.
        run_with_sample: overrides hyper['run_with_sample'] when given (True: smoke mode, seconds).
        resume_dir: folder of an interrupted run: continues from its last checkpoint in the same folder (metrics of
            later epochs are dropped and redone); `hyper` may be None, or the same hyper with more `epochs`.
        data: optional dict from `load_sop_data` (to share the loaded halves across runs).
    Returns:
        dict with TeNLL, TeNLLD, TeNLLMS, TrL, seconds, epoch (of the last evaluation) and run_dir.
    Raises:
        HyperError for bad hyper values, NonFiniteLossError when the loss becomes NaN/inf,
        Utils.load_data.MissingDataError when MNIST is not on the machine.
    """
    if resume_dir is None:
        if hyper is None:
            raise ex.HyperError('run_sop needs a hyper dict (or resume_dir)')
        h = validate_hyper(hyper, run_with_sample)
    else:
        h = _prepare_resume(resume_dir, hyper, run_with_sample)
    ex.set_seed(h['seed'])
    data = data or load_sop_data(h['run_with_sample'])
    steps = len(data['x_train_upper']) // h['batch_n']
    if steps < 1:
        raise ex.HyperError(f'bad batch_n {h["batch_n"]}: larger than the {len(data["x_train_upper"])} images')
    h['iter_per_epoch'] = steps
    model = SOPOptimizer(h)
    run_dir = (ex.make_run_dir(EXPERIMENT, h['dataset_name'], h['model_type'], h['temp'], h['seed'])
               if resume_dir is None else Path(resume_dir))
    created = ex.read_config(run_dir).get('created') if (run_dir / 'config.json').exists() else None
    ex.write_json(run_dir / 'config.json', {'experiment': EXPERIMENT, 'hyper': h,
                                            'created': created or time.strftime('%Y-%m-%dT%H:%M:%S')})
    log = ex.RunLog(run_dir, METRIC_COLUMNS)
    manager = ex.checkpoint_manager(run_dir, **model.trackables())
    start_epoch = 0
    if resume_dir is not None:
        if manager.latest_checkpoint is not None:
            ex.restore_latest(manager)
            start_epoch = int(model.epoch.numpy())
        log.metrics.truncate_after(start_epoch)
        log.line(f'# resumed at epoch {start_epoch} (last checkpoint) on {time.strftime("%Y-%m-%dT%H:%M:%S")}')
    else:
        log.line(f'# SOP {h["model_type"]} temp {h["temp"]:g} seed {h["seed"]}, {steps} steps/epoch, '
                 f'{sum(int(np.prod(v.shape)) for v in model.net.trainable_variables)} parameters; run folder {run_dir}')
    log.status(epochs_done=start_epoch, finished=False)
    try:
        model.attach_train_data(data['x_train_upper'], data['x_train_lower'])
        for epoch in range(start_epoch + 1, h['epochs'] + 1):
            model.start_epoch(epoch_permutation(h['seed'], epoch, len(data['x_train_upper']), steps, h['batch_n']))
            bar = ex.ProgressBar(steps, f'Epoch {epoch:4d}')
            tic = time.perf_counter()
            for step in range(1, steps + 1):
                model.train_next()
                bar.update(step)
            stats = model.epoch_stats()
            seconds = time.perf_counter() - tic
            bar.close()
            _check_finite(model, epoch, run_dir, log)
            model.epoch.assign(epoch)
            if _should_evaluate(epoch, h):
                metrics = model.evaluate(data['x_test_upper'], data['x_test_lower'])
                metrics['TrL'] = stats['TrL']
                log.log_epoch(epoch, {k: metrics[k] for k in METRIC_COLUMNS}, seconds, model.iteration.numpy(),
                              integer_keys=())
            if (h['save_every'] and epoch % h['save_every'] == 0) or epoch == h['epochs']:
                manager.save(checkpoint_number=epoch)
                log.status(epochs_done=epoch, checkpoint_epoch=epoch, finished=False)
            else:
                log.status(epochs_done=epoch, finished=False)
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
    h = validate_hyper(dict(ex.read_config(run_dir)['hyper']))
    model = SOPOptimizer(h)
    manager = ex.checkpoint_manager(run_dir, **model.trackables())
    ex.restore_epoch(manager, epoch)
    return model, h
