"""Training entry points of the VAE experiments.

    run_vae(hyper, run_with_sample=None, resume_dir=None)  -> final test metrics (dict with 'run_dir')
    run_vae_for_all_cases(hyper, model_cases, dataset_cases=None, temps=None, num_of_repetitions=None,
                          seeds=None, run_with_sample=None)  -> list of final metrics, one per run
    load_trained_vae(run_dir)  -> (OptVAE with restored weights, hyper)
    evaluate_trained_vae(run_dir)  -> test metrics of a saved run
    default_hyper(), validate_hyper(hyper), complete_hyper(hyper)

`hyper` is a plain dict (see `HYPER_KEYS` for every valid key). It is never modified: `validate_hyper` returns a
completed copy, with the model-dependent settings filled in by `complete_hyper` (the only place that does so), and
that copy is what the run folder's `config.json` records.
"""
import copy
import datetime
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from Models.OptVAE import MODEL_TYPES, OptVAE
from Utils import experiment as ex
from Utils import paths
from Utils.Distributions import check_temperature
from Utils.general import load_prior, prior_file_name
from Utils.grid import enumerate_cells
from Utils.load_data import ARCHITECTURES, DATASETS, load_dataset, test_batch_size

EXPERIMENT = 'vae'
METRIC_COLUMNS = ('TeELBO', 'TeELBOC', 'TeELBOD', 'TeJV', 'TeJVC', 'N', 'TrL')
SMOKE_BATCH_N = 5
TEST_BATCH_LIMIT = 500
TRUNCATION_OPTIONS = ('quantile', 'max')
DISCRETE_PROBS = ('exact', 'monte_carlo')

HYPER_KEYS = {
    # keys of the original code (SPEC section 2)
    'dataset_name': "dataset: 'mnist' (Bernoulli), 'fmnist', 'celeb_a' (Gaussian), 'omniglot' (Bernoulli)",
    'model_type': 'one of MODEL_TYPES (GS_Dis, IGR_I_Dis, ..., GS, IGR_I, ...)',
    'temp': 'temperature tau > 0',
    'sample_size': 'posterior samples per example and step',
    'n_required': 'per discrete variable: categories for GS, Gaussian dimensions for IGR (9 -> 10 categories); '
                  'for IGR-SB the allocated maximum',
    'num_of_discrete_param': 'derived: 1 for GS (log_pi), 2 for IGR (mu, xi)',
    'num_of_discrete_var': 'number of discrete variables',
    'num_of_norm_param': 'derived: 2 (mu, xi) for models with Gaussian latents, 0 for *_Dis',
    'num_of_norm_var': 'number of Gaussian latent vectors (models with Gaussian latents; at least 1)',
    'latent_norm_n': 'dimension of each Gaussian latent vector (set to 0 for *_Dis)',
    'architecture': "'dense' (28x28) or 'conv_jointvae' (32x32; 64x64 for celeb_a)",
    'learning_rate': 'Adam learning rate',
    'batch_n': 'training batch size (5 in smoke mode)',
    'epochs': 'training epochs',
    'run_jv': 'train on the JointVAE objective instead of the ELBO',
    'gamma': 'JointVAE penalty coefficient',
    'cont_c_linspace': 'JointVAE continuous capacity (start, stop, iterations)',
    'disc_c_linspace': 'JointVAE discrete capacity (start, stop, iterations)',
    'check_every': 'evaluate the test metrics every this many epochs (and at the first and last)',
    'run_with_sample': 'smoke mode: a few dozen images, batch 5',
    'num_of_repetitions': 'runs per case in run_vae_for_all_cases (seeds seed, seed+1, ...)',
    'truncation_option': "IGR-SB truncation statistic: 'quantile' or 'max'",
    'threshold': 'IGR-SB stick precision in (0, 1)',
    'prior_file': 'IGR prior pickle: None = Results/mu_xi_unif_<K>_<family>.pkl (IGR_Planar uses IGR_I); a bare '
                  'file name is looked up in Results/, a path is used as is',
    'run_closed_form_kl': 'IGR: closed-form Gaussian KL (True) or the sampled one (False); GS always samples',
    'width_height': 'SOP only (accepted and ignored here)',
    'iter_per_epoch': 'derived: training steps per epoch (len(train) // batch_n)',
    # keys added by this implementation
    'seed': 'seed of the weights, the data order and the noise',
    'save_every': 'checkpoint every this many epochs (0: only at the end); always at the end',
    'monitor_gradients': 'write the % of vanished gradients d psi / d theta per epoch to gradients.csv',
    'jit_compile': 'compile the train and test steps with XLA',
    'discrete_probs': "IGR-I category probabilities for TeELBOD: 'exact' (Gauss quadrature) or 'monte_carlo' "
                      "(frequencies of 100 draws, as for the other IGR families); both take ~3 s per 10,000 test "
                      "images on a 2-core CPU",
    'latent_discrete_n': 'derived: categories per discrete variable seen by the decoder (K; IGR: n_required + 1)',
}
VALID_KEYS = tuple(HYPER_KEYS)
DERIVED_KEYS = ('num_of_discrete_param', 'num_of_norm_param', 'latent_discrete_n', 'iter_per_epoch')


def default_hyper():
    """A fresh dict of defaults: IGR-I, 30 variables x 10 categories, binarized MNIST, dense networks."""
    return {
        'dataset_name': 'mnist', 'model_type': 'IGR_I_Dis', 'temp': 0.25, 'sample_size': 1, 'n_required': 9,
        'num_of_discrete_param': 2, 'num_of_discrete_var': 30, 'num_of_norm_param': 0, 'num_of_norm_var': 0,
        'latent_norm_n': 0, 'architecture': 'dense', 'learning_rate': 1e-3, 'batch_n': 64, 'epochs': 100,
        'run_jv': False, 'gamma': 30., 'cont_c_linspace': (0., 5., 25000), 'disc_c_linspace': (0., 5., 25000),
        'check_every': 1, 'run_with_sample': False, 'num_of_repetitions': 1, 'truncation_option': 'quantile',
        'threshold': 0.99, 'prior_file': None, 'run_closed_form_kl': True, 'width_height': (14, 28, 1),
        'iter_per_epoch': None, 'seed': 0, 'save_every': 10, 'monitor_gradients': False, 'jit_compile': False,
        'discrete_probs': 'exact', 'latent_discrete_n': None,
    }


def _check_values(h):
    ex.check_choice('model_type', h['model_type'], tuple(MODEL_TYPES))
    ex.check_choice('dataset_name', h['dataset_name'], DATASETS)
    ex.check_choice('architecture', h['architecture'], ARCHITECTURES)
    ex.check_choice('truncation_option', h['truncation_option'], TRUNCATION_OPTIONS)
    ex.check_choice('discrete_probs', h['discrete_probs'], DISCRETE_PROBS)
    ex.check_number('temp', h['temp'], low=0., low_open=True)
    for key in ('sample_size', 'n_required', 'num_of_discrete_var', 'batch_n', 'epochs', 'check_every',
                'num_of_repetitions'):
        ex.check_number(key, h[key], low=1, integer=True)
    for key in ('num_of_norm_var', 'latent_norm_n', 'save_every', 'seed'):
        ex.check_number(key, h[key], low=0, integer=True)
    ex.check_number('learning_rate', h['learning_rate'], low=0., low_open=True)
    ex.check_number('gamma', h['gamma'], low=0.)
    ex.check_number('threshold', h['threshold'], low=0., low_open=True, high=1.)
    if h['threshold'] >= 1.:
        raise ex.HyperError(f'bad threshold {h["threshold"]!r}: must be < 1')
    for key in ('run_jv', 'run_with_sample', 'run_closed_form_kl', 'monitor_gradients', 'jit_compile'):
        ex.check_bool(key, h[key])
    for key in ('cont_c_linspace', 'disc_c_linspace'):
        ex.check_linspace(key, h[key])
    if h['prior_file'] is not None and not isinstance(h['prior_file'], (str, Path)):
        raise ex.HyperError(f'bad prior_file {h["prior_file"]!r}: expected None or a path')
    family = MODEL_TYPES[h['model_type']][0]
    if family == 'GS' and h['n_required'] < 2:
        raise ex.HyperError(f'bad n_required {h["n_required"]!r}: GS needs at least 2 categories')
    check_temperature(float(h['temp']))


def complete_hyper(hyper):
    """Fill the model-dependent settings (the only function that does). Returns a new dict.

    - num_of_discrete_param: 1 for GS (log_pi), 2 for IGR (mu, xi);
    - Gaussian latents: num_of_norm_param 2 and num_of_norm_var >= 1 for mixed models (latent_norm_n must be >= 1);
      all three set to 0 for *_Dis models;
    - latent_discrete_n: categories per variable, n_required (GS) or n_required + 1 (IGR);
    - prior_file: the learned uniform prior for IGR families when not given (IGR_Planar uses IGR_I's), None for GS;
    - batch_n: 5 in smoke mode (run_with_sample).
    """
    h = dict(hyper)
    family, mixed = MODEL_TYPES[h['model_type']]
    is_gs = family == 'GS'
    h['num_of_discrete_param'] = 1 if is_gs else 2
    if mixed:
        if h['latent_norm_n'] < 1:
            raise ex.HyperError(f'model_type {h["model_type"]!r} has Gaussian latents: latent_norm_n must be >= 1, '
                                f'got {h["latent_norm_n"]!r} (use {h["model_type"]}_Dis for discrete latents only)')
        h['num_of_norm_param'], h['num_of_norm_var'] = 2, max(1, int(h['num_of_norm_var']))
    else:
        h['num_of_norm_param'] = h['num_of_norm_var'] = h['latent_norm_n'] = 0
    h['latent_discrete_n'] = int(h['n_required']) + (0 if is_gs else 1)
    if is_gs:
        h['prior_file'] = None
    elif h['prior_file'] is None:
        prior_family = 'IGR_I' if family == 'IGR_Planar' else family
        h['prior_file'] = prior_file_name(h['latent_discrete_n'], prior_family)
    else:
        h['prior_file'] = str(h['prior_file'])
    if h['run_with_sample']:
        h['batch_n'] = SMOKE_BATCH_N
    for key in ('cont_c_linspace', 'disc_c_linspace', 'width_height'):
        if isinstance(h[key], list):
            h[key] = tuple(h[key])
    return h


def validate_hyper(hyper, run_with_sample=None):
    """Check a hyper dict and return a completed copy (defaults for missing keys, derived keys filled).

    Raises `Utils.experiment.HyperError` (a ValueError) for an unknown key (listing the valid ones) or a bad value
    (naming it and the valid choices or range). The argument is never modified.
    """
    if not isinstance(hyper, dict):
        raise ex.HyperError(f'hyper must be a dict, got {type(hyper).__name__}')
    ex.check_keys(hyper, VALID_KEYS)
    h = {**default_hyper(), **copy.deepcopy(hyper)}
    if run_with_sample is not None:
        h['run_with_sample'] = bool(run_with_sample)
    _check_values(h)
    return complete_hyper(h)


def resolve_prior_path(prior_file):
    """A bare file name is looked up in Results/ (or IGR_RESULTS_DIR); a path is taken as is (then from the repo)."""
    path = Path(prior_file)
    if path.is_absolute() or len(path.parts) > 1:
        return path if path.is_absolute() or path.exists() else paths.REPO_ROOT / path
    return paths.results_file(prior_file)


def load_prior_for(hyper):
    """The IGR prior {'mu', 'xi'} of a completed hyper (None for GS); read from disk once per run."""
    if hyper['prior_file'] is None:
        return None
    return load_prior(resolve_prior_path(hyper['prior_file']))


# ---------------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------------
class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def epoch_permutation(seed, epoch, n_examples, steps, batch_n):
    """Training order of one epoch: (steps, batch_n) indices, a function of (seed, epoch) only (exact resume)."""
    order = np.random.default_rng([int(seed), int(epoch)]).permutation(n_examples)
    return order[:steps * batch_n].reshape(steps, batch_n).astype(np.int32)


def _test_batches(x_test):
    tb = test_batch_size(len(x_test), TEST_BATCH_LIMIT)
    return tf.constant(x_test.reshape((len(x_test) // tb, tb) + x_test.shape[1:]))


def _build(hyper, data_spec):
    """The OptVAE of a completed hyper for a dataset (the IGR prior is read here, once)."""
    return OptVAE(hyper, data_spec.image_shape, data_spec.likelihood, prior=load_prior_for(hyper))


def _should_evaluate(epoch, hyper):
    return epoch == 1 or epoch == hyper['epochs'] or epoch % hyper['check_every'] == 0


def _save_png(path, grid):
    """grid: (rows, cols, H, W, C) floats in [0, 1] -> one PNG."""
    rows, cols, height, width, channels = grid.shape
    tiled = grid.transpose(0, 2, 1, 3, 4).reshape(rows * height, cols * width, channels)
    data = tf.io.encode_png(tf.cast(tf.round(tf.clip_by_value(tiled, 0., 1.) * 255.), tf.uint8))
    tf.io.write_file(str(path), data)
    return tiled


def write_images(model, x_test, run_dir, log, epoch):
    """Reconstructions, prior samples and traversals under `<run_dir>/images/` (and in TensorBoard)."""
    folder = Path(run_dir) / 'images'
    folder.mkdir(exist_ok=True)
    count = min(8, len(x_test))
    x = x_test[:count]
    recon = model.reconstruct(x).numpy()
    grids = {'reconstructions': np.stack([x, recon]),
             'samples': model.sample_prior_images(16).numpy().reshape((2, 8) + x.shape[1:])}
    for name, grid in model.traversal_images(x[:1]).items():
        grids[f'traversal_{name}'] = grid
    for name, grid in grids.items():
        tiled = _save_png(folder / f'{name}.png', grid)
        log.images(epoch, name, tiled[None])


def _run_header(model, hyper, run_dir, steps):
    counts = model.net.count_params_by_part()
    return (f'# {hyper["model_type"]} on {hyper["dataset_name"]} ({hyper["architecture"]}), temp {hyper["temp"]:g}, '
            f'seed {hyper["seed"]}, {steps} steps/epoch, parameters {counts}; run folder {run_dir}')


def _check_finite(model, epoch, epoch_start_iteration, run_dir, log):
    bad = int(model.first_bad_iteration.numpy())
    if bad < 0:
        return
    message = (f'Non-finite training loss at epoch {epoch}, step {bad - epoch_start_iteration + 1} '
               f'(global iteration {bad + 1}) of run {run_dir}; training stopped. The last checkpoint holds the '
               f'weights before it. Try a higher temperature or a lower learning rate.')
    log.line(f'# ERROR: {message}')
    log.status(error=message)
    raise NonFiniteLossError(message)


def _train_loop(model, hyper, spec, run_dir, log, manager, grad_log, start_epoch):
    """Epochs start_epoch + 1 .. epochs: train, evaluate, log, checkpoint."""
    steps = model.attach_train_data(spec.x_train)
    test_batches = _test_batches(spec.x_test)
    for epoch in range(start_epoch + 1, hyper['epochs'] + 1):
        model.start_epoch(epoch_permutation(hyper['seed'], epoch, len(spec.x_train), steps, hyper['batch_n']))
        start_iteration = int(model.iteration.numpy())
        bar = ex.ProgressBar(steps, f'Epoch {epoch:4d}')
        tic = time.perf_counter()
        for step in range(1, steps + 1):  # no device reads inside the epoch: the first non-finite step is kept
            model.train_next()            # in a variable and checked once the epoch ends
            bar.update(step)
        stats = model.epoch_stats()
        seconds = time.perf_counter() - tic
        bar.close()
        _check_finite(model, epoch, start_iteration, run_dir, log)
        model.epoch.assign(epoch)
        if _should_evaluate(epoch, hyper):
            metrics = model.evaluate(test_batches)
            metrics['TrL'] = stats['TrL']
            log.log_epoch(epoch, {k: metrics[k] for k in METRIC_COLUMNS}, seconds, model.iteration.numpy())
        if grad_log is not None:
            grad_log.append({'epoch': epoch, 'vanished_pct': stats['vanished_pct']})
            log.scalars(epoch, {'vanished_pct': stats['vanished_pct']})
        if model.family == 'IGR_SB':
            log.scalars(epoch, {'n_required_max': stats['n_required_max']})
            if stats['threshold_unmet_steps']:
                log.line(f'# warning: epoch {epoch}: the IGR-SB stick did not reach threshold {hyper["threshold"]} '
                         f'within {hyper["n_required"]} pieces in {stats["threshold_unmet_steps"]} of {steps} steps; '
                         f'raise n_required (the allocated maximum)')
        saved = (hyper['save_every'] and epoch % hyper['save_every'] == 0) or epoch == hyper['epochs']
        if saved:
            manager.save(checkpoint_number=epoch)
            log.status(epochs_done=epoch, checkpoint_epoch=epoch, finished=False)
        else:
            log.status(epochs_done=epoch, finished=False)


def _prepare_resume(resume_dir, hyper, run_with_sample):
    config = ex.read_config(resume_dir)
    saved = config['hyper']
    h = validate_hyper(saved)
    if hyper is not None:
        wanted = validate_hyper(hyper, run_with_sample)
        differ = sorted(k for k in VALID_KEYS if k not in ('epochs',) + DERIVED_KEYS
                        and ex.jsonable(wanted[k]) != ex.jsonable(h[k]))
        if differ:
            raise ex.HyperError(f'cannot resume {resume_dir} with a different hyper: {differ} differ '
                                f'(only epochs may change)')
        h['epochs'] = max(h['epochs'], wanted['epochs'])
    return h


def run_vae(hyper=None, run_with_sample=None, resume_dir=None):
    """Train one VAE and return its final test metrics.

    Args:
        hyper: hyper dict (see HYPER_KEYS; missing keys take `default_hyper()` values). Not modified.
        run_with_sample: overrides hyper['run_with_sample'] when given (True: smoke mode).
        resume_dir: folder of an interrupted run: training continues from its last checkpoint in the same folder
            (metrics of epochs after that checkpoint are dropped and redone). `hyper` may then be None, or the
            same hyper with a larger `epochs` to extend a finished run.
    Returns:
        dict with TeELBO, TeELBOC, TeELBOD, TeJV, TeJVC, N, TrL, seconds, epoch (of the last evaluation) and run_dir.
    Raises:
        HyperError for bad hyper values, NonFiniteLossError when the loss becomes NaN/inf,
        Utils.load_data.MissingDataError when the dataset is not on the machine.
    """
    if resume_dir is None:
        if hyper is None:
            raise ex.HyperError('run_vae needs a hyper dict (or resume_dir)')
        h = validate_hyper(hyper, run_with_sample)
    else:
        h = _prepare_resume(resume_dir, hyper, run_with_sample)
    ex.set_seed(h['seed'])
    spec = load_dataset(h['dataset_name'], h['architecture'], h['run_with_sample'])
    steps = len(spec.x_train) // h['batch_n']
    if steps < 1:
        raise ex.HyperError(f'bad batch_n {h["batch_n"]}: larger than the {len(spec.x_train)} training images')
    h['iter_per_epoch'] = steps
    model = _build(h, spec)

    if resume_dir is None:
        run_dir = ex.make_run_dir(EXPERIMENT, h['dataset_name'], h['model_type'], h['temp'], h['seed'])
    else:
        run_dir = Path(resume_dir)
    config_extra = {'image_shape': list(spec.image_shape), 'likelihood': spec.likelihood}
    ex.write_json(run_dir / 'config.json', {'experiment': EXPERIMENT, 'hyper': h, 'data': config_extra,
                                            'created': _created(run_dir)})
    log = ex.RunLog(run_dir, METRIC_COLUMNS)
    manager = ex.checkpoint_manager(run_dir, **model.trackables())
    grad_log = ex.CsvLog(run_dir / 'gradients.csv', ['epoch', 'vanished_pct']) if h['monitor_gradients'] else None
    start_epoch = 0
    if resume_dir is not None:
        if manager.latest_checkpoint is not None:
            ex.restore_latest(manager)
            start_epoch = int(model.epoch.numpy())
        log.metrics.truncate_after(start_epoch)
        if grad_log is not None:
            grad_log.truncate_after(start_epoch)
        log.line(f'# resumed at epoch {start_epoch} (last checkpoint) on {_now()}')
        if start_epoch >= h['epochs']:
            final = _final_metrics(run_dir)
            log.finish(final)
            return final
    else:
        log.line(_run_header(model, h, run_dir, steps))
    log.status(epochs_done=start_epoch, finished=False)
    try:
        _train_loop(model, h, spec, run_dir, log, manager, grad_log, start_epoch)
        write_images(model, spec.x_test, run_dir, log, h['epochs'])
        final = _final_metrics(run_dir)
        log.finish(final)
    finally:
        log.close()
    return final


def _now():
    return datetime.datetime.now().isoformat(timespec='seconds')


def _created(run_dir):
    path = Path(run_dir) / 'config.json'
    if path.exists():
        return ex.read_json(path).get('created', _now())
    return _now()


def _final_metrics(run_dir):
    rows = ex.read_metrics(run_dir)
    final = dict(rows[-1]) if rows else {}
    if 'N' in final:
        final['N'] = int(final['N'])
    final['run_dir'] = str(run_dir)
    return final


def run_vae_for_all_cases(hyper, model_cases, dataset_cases=None, temps=None, num_of_repetitions=None, seeds=None,
                          run_with_sample=None):
    """Run every (model, dataset, temperature, seed) combination; returns the list of final metrics.

    Args:
        hyper: base hyper dict (not modified).
        model_cases: model_type names, override dicts with 'model_type', or an ordered dict model_type -> overrides
            (e.g. {'GS_Dis': {'n_required': 10}, 'IGR_I_Dis': {'n_required': 9}}).
        dataset_cases: dataset names, override dicts or dict name -> overrides (None: hyper's dataset).
        temps: list of temperatures, or dict model_type -> list (None: hyper's temp).
        num_of_repetitions: runs per case with seeds hyper['seed'] + 0..n-1 (default hyper's value).
        seeds: explicit list of seeds (wins over num_of_repetitions).
        run_with_sample: overrides hyper['run_with_sample'] when given.
    Returns:
        list of dicts (each with the cell's model_type, dataset_name, temp, seed and run_dir).
    """
    base = copy.deepcopy(hyper)
    ex.check_keys(base, VALID_KEYS)
    if seeds is None:
        reps = num_of_repetitions if num_of_repetitions is not None else base.get('num_of_repetitions', 1)
        seeds = [int(base.get('seed', 0)) + r for r in range(int(reps))]
    results = []
    for cell in enumerate_cells(base, model_cases, dataset_cases, temps, list(seeds)):
        final = run_vae(cell, run_with_sample)
        results.append({**{k: cell[k] for k in ('model_type', 'dataset_name', 'temp', 'seed')}, **final})
    return results


# ---------------------------------------------------------------------------------------------------------------------
# Trained runs
# ---------------------------------------------------------------------------------------------------------------------
def load_trained_vae(run_dir, epoch=None):
    """Rebuild a run's model from its folder and restore its weights.

    Args:
        run_dir: a `Log/<run>/` folder written by run_vae.
        epoch: checkpoint epoch to restore (default: the latest).
    Returns:
        (OptVAE with weights restored, completed hyper dict). `model.sample_posterior_psi(x, S)` draws
        posterior samples psi (b, K, S, v); `model.evaluate(batches)` recomputes the test metrics.
    """
    run_dir = Path(run_dir)
    config = ex.read_config(run_dir)
    h = {**default_hyper(), **config['hyper']}  # keys added after the run was made take their defaults
    data = config.get('data')
    if data is None:
        spec = load_dataset(h['dataset_name'], h['architecture'], run_with_sample=True)
        data = {'image_shape': list(spec.image_shape), 'likelihood': spec.likelihood}
    for key in ('cont_c_linspace', 'disc_c_linspace', 'width_height'):
        h[key] = tuple(h[key])
    model = OptVAE(h, tuple(data['image_shape']), data['likelihood'], prior=load_prior_for(h))
    manager = ex.checkpoint_manager(run_dir, **model.trackables())
    ex.restore_epoch(manager, epoch)
    return model, h


def evaluate_trained_vae(run_dir, epoch=None):
    """Test metrics of a saved run (same numbers as its last evaluation when restored from the final checkpoint)."""
    model, h = load_trained_vae(run_dir, epoch)
    spec = load_dataset(h['dataset_name'], h['architecture'], h['run_with_sample'])
    return model.evaluate(_test_batches(spec.x_test))
