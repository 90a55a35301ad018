"""Training entry points of the VAE experiments.

    run_vae(hyper, run_with_sample=None, resume_dir=None)  -> final test metrics (dict with 'run_dir')
    run_vae_for_all_cases(hyper, model_cases, dataset_cases=None, temps=None, num_of_repetitions=None,
                          seeds=None, run_with_sample=None)  -> list of final metrics, one per run
    load_trained_vae(run_dir)  -> (OptVAE with restored weights, hyper)
    evaluate_trained_vae(run_dir, log_likelihood_samples=None)  -> test metrics of a saved run (+ TeLL, TeLLD)
    default_hyper(), validate_hyper(hyper), complete_hyper(hyper)

`hyper` is a plain dict (see `HYPER_KEYS` for every valid key). It is never modified: `validate_hyper` returns a
completed copy, with the model-dependent settings filled in by `complete_hyper` (the only place that does so), and
that copy is what the run folder's `config.json` records.
"""
import copy
import datetime
from pathlib import Path

import numpy as np
import tensorflow as tf

from Models import log_likelihood as ll
from Models import vae_images
from Models.OptVAE import OptVAE
from Models.vae_hyper import (DERIVED_KEYS, HYPER_KEYS, MODEL_TYPES, SMOKE_BATCH_N, VALID_KEYS,  # noqa: F401
                              complete_hyper, default_hyper, saved_hyper, validate_hyper)
from Utils.runs import checkpointing, folders, hyper_checks, logs, seeding
from Utils import paths
from Utils.general import NAMED_PRIORS, load_prior
from Utils.image_store import HostBatches
from Utils.runs.grid import enumerate_cells
from Utils.load_data import load_dataset, test_batch_size
from Utils.results.results_io import log_likelihood_at
from Utils.runs.resume import ResumeRules, hyper_to_run, take_up
from Utils.runs.runstore import fence_of
from Utils.runs.training_loop import NonFiniteLossError, epoch_permutation, train_epochs  # noqa: F401

EXPERIMENT = 'vae'
RESUME_MAY_CHANGE = ('epochs', 'log_likelihood_samples', 'keep_checkpoints', 'keep_epochs')
METRIC_COLUMNS = ('TeELBO', 'TeELBOC', 'TeELBOD', 'TeJV', 'TeJVC', 'N', 'TrL')
TEST_BATCH_LIMIT = 500


def resolve_prior_path(prior_file):
    """A bare file name is looked up in Results/ (or IGR_RESULTS_DIR); a path is taken as is (then from the repo)."""
    path = Path(prior_file)
    if path.is_absolute() or len(path.parts) > 1:
        return path if path.is_absolute() or path.exists() else paths.REPO_ROOT / path
    return paths.results_file(prior_file)


def load_prior_for(hyper):
    """The IGR prior {'mu', 'xi'} of a completed hyper (None for GS): a named one (`NAMED_PRIORS`) or a pickle read
    from disk, once per run."""
    if hyper['prior_file'] is None:
        return None
    if hyper['prior_file'] in NAMED_PRIORS:
        return NAMED_PRIORS[hyper['prior_file']](int(hyper['n_required']))
    return load_prior(resolve_prior_path(hyper['prior_file']))


# ---------------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------------
def _test_batches(x_test):
    """The test set as (n_batches, tb, H, W, C): one tensor, or batches read from disk one at a time (CelebA)."""
    tb = test_batch_size(len(x_test), TEST_BATCH_LIMIT)
    if not isinstance(x_test, np.ndarray):
        return HostBatches(x_test, tb)
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
    log.fence()
    folder.mkdir(exist_ok=True)
    count = min(8, len(x_test))
    x = x_test[:count]
    recon = vae_images.reconstruct(model, x).numpy()
    grids = {'reconstructions': np.stack([x, recon]),
             'samples': vae_images.sample_prior_images(model, 16).numpy().reshape((2, 8) + x.shape[1:])}
    for name, grid in vae_images.traversal_images(model, x[:1]).items():
        grids[f'traversal_{name}'] = grid
    for name, grid in grids.items():
        log.fence()
        tiled = _save_png(folder / f'{name}.png', grid)
        log.images(epoch, name, tiled[None])


def _run_header(model, hyper, run_dir, steps):
    counts = model.net.count_params_by_part()
    return (f'# {hyper["model_type"]} on {hyper["dataset_name"]} ({hyper["architecture"]}), temp {hyper["temp"]:g}, '
            f'seed {hyper["seed"]}, {steps} steps/epoch, parameters {counts}; run folder {Path(run_dir).name}')


JV_METRICS = ('TeJV', 'TeJVC')


def metric_columns(model):
    """Columns of a model's metrics.csv: METRIC_COLUMNS, or the mixture's own (`Models.dlgmm.METRIC_COLUMNS`)."""
    return getattr(model.latent, 'metric_columns', METRIC_COLUMNS)


def shown_metrics(hyper, columns=METRIC_COLUMNS):
    """Metrics a run prints: the JointVAE objective (TeJV, TeJVC) only for runs trained on it (metrics.csv keeps
    every column)."""
    return tuple(k for k in columns if hyper['run_jv'] or k not in JV_METRICS)


def _end_of_epoch(model, hyper, test_batches, log, grad_log, steps, labels=None):
    """After an epoch's training: evaluate (when due), log the metrics and the monitors."""
    columns = metric_columns(model)

    def end(epoch, stats, seconds):
        if _should_evaluate(epoch, hyper):
            metrics = model.evaluate(test_batches, labels=labels)
            metrics['TrL'] = stats['TrL']
            log.log_epoch(epoch, {k: metrics[k] for k in columns}, seconds, model.iteration.numpy(),
                          shown=shown_metrics(hyper, columns))
        if grad_log is not None:
            grad_log.append({'epoch': epoch, 'vanished_pct': stats['vanished_pct']})
            log.scalars(epoch, {'vanished_pct': stats['vanished_pct']})
        if model.latent.truncates:
            log.scalars(epoch, {'n_required_max': stats['n_required_max']})
            if stats['threshold_unmet_steps']:
                log.line(f'# warning: epoch {epoch}: the IGR-SB stick did not reach threshold {hyper["threshold"]} '
                         f'within {hyper["n_required"]} pieces in {stats["threshold_unmet_steps"]} of {steps} steps; '
                         f'raise n_required (the allocated maximum)')
    return end


RESUME_RULES = ResumeRules('run_vae', validate_hyper, VALID_KEYS, RESUME_MAY_CHANGE, DERIVED_KEYS, saved_hyper)
"""A VAE run resumes with its saved hyper (read as `saved_hyper` completes older folders); only the evaluation and
checkpoint settings of RESUME_MAY_CHANGE, and a larger `epochs`, may be asked for."""


def run_vae(hyper=None, run_with_sample=None, resume_dir=None, run_dir=None):
    """Train one VAE and return its final test metrics.

    Args:
        hyper: hyper dict (see HYPER_KEYS; missing keys take `default_hyper()` values). Not modified.
        run_with_sample: overrides hyper['run_with_sample'] when given (True: smoke mode).
        resume_dir: folder of an interrupted run: training continues from its last checkpoint in the same folder
            (the mid-epoch checkpoint of a signal, else the last epoch checkpoint; logged epochs after it are
            dropped and redone). `hyper` may then be None, or the same hyper with a larger `epochs` to extend a
            finished run.
        run_dir: train in this folder: a new run when it holds no config.json yet, else as `resume_dir`
            (the grid scripts pass the cell's folder; see `Utils/runs/runstore.py`).
    Returns:
        dict with TeELBO, TeELBOC, TeELBOD, TeJV, TeJVC, N, TrL, seconds, epoch (of the last evaluation) and run_dir.
    Raises:
        HyperError for bad hyper values, NonFiniteLossError when the loss becomes NaN/inf,
        Utils.runs.stop_signals.Interrupted when SIGTERM / SIGUSR1 / SIGINT stopped it (after a checkpoint),
        Utils.load_data.MissingDataError when the dataset is not on the machine.
    """
    h, resume_dir = hyper_to_run(hyper, run_with_sample, resume_dir, run_dir, RESUME_RULES)
    seeding.set_intra_op_threads(h['intra_op_threads'])
    seeding.set_seed(h['seed'])
    spec = load_dataset(h['dataset_name'], h['architecture'], h['run_with_sample'])
    h['iter_per_epoch'] = steps = hyper_checks.steps_per_epoch(len(spec.x_train), h['batch_n'], hyper)
    model = _build(h, spec)

    run_dir = folders.run_folder(EXPERIMENT, h, resume_dir, run_dir)
    fence = fence_of(run_dir)  # the grid's lock check before each write; None outside a grid
    config_extra = {'image_shape': list(spec.image_shape), 'likelihood': spec.likelihood}
    folders.write_json(run_dir / 'config.json', {'experiment': EXPERIMENT, 'hyper': h, 'data': config_extra,
                                            'created': _created(run_dir)}, fence)
    log = logs.RunLog(run_dir, metric_columns(model), fence=fence)
    checkpoints = checkpointing.Checkpoints(run_dir, max_to_keep=h['keep_checkpoints'], keep_epochs=h['keep_epochs'],
                                 fence=fence, **model.trackables())
    grad_log = logs.CsvLog(run_dir / 'gradients.csv', ['epoch', 'vanished_pct'], fence) if h['monitor_gradients'] \
        else None
    start_epoch = start_step = 0
    if resume_dir is not None:
        start_epoch, start_step = take_up(model, checkpoints, steps, log, *[grad_log] if grad_log else [])
        if start_epoch >= h['epochs']:
            test_batches = _test_batches(spec.x_test)
            _log_likelihood_at_end(model, h, test_batches, run_dir, log)
            final = _final_metrics(run_dir)
            log.finish(final)
            return final
    else:
        log.line(_run_header(model, h, run_dir, steps))
    log.session(start_epoch + 1)
    log.status(epochs_done=start_epoch, finished=False, interrupted=None, error=None)
    try:
        test_batches = _test_batches(spec.x_test)
        model.attach_train_data(spec.x_train)
        train_epochs(model, h, len(spec.x_train), steps, run_dir, log, checkpoints, start_epoch, start_step,
                     _end_of_epoch(model, h, test_batches, log, grad_log, steps, spec.y_test))
        write_images(model, spec.x_test, run_dir, log, h['epochs'])
        _log_likelihood_at_end(model, h, test_batches, run_dir, log)
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
        return folders.read_json(path).get('created', _now())
    return _now()


def _log_likelihood_at_end(model, hyper, test_batches, run_dir, log):
    """TeLL / TeLLD at S = hyper['log_likelihood_samples'] of the final weights, once (kept in log_likelihood.json)."""
    samples, epoch = int(hyper['log_likelihood_samples']), int(hyper['epochs'])
    if not samples or ll.has_result(run_dir, samples, epoch):
        return
    rows = folders.read_metrics(run_dir)
    categories = int(rows[-1]['N']) if rows and 'N' in rows[-1] else None
    result = ll.estimator(model, samples, categories=categories)(test_batches)
    ll.record_result(run_dir, epoch, result, fence=log.fence)
    log.line(ll.describe(result))


def _final_metrics(run_dir):
    rows = folders.read_metrics(run_dir)
    final = dict(rows[-1]) if rows else {}
    if 'N' in final:
        final['N'] = int(final['N'])
    if 'epoch' in final:
        final.update(log_likelihood_at(run_dir, int(final['epoch'])))
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
    hyper_checks.check_keys(base, VALID_KEYS)
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
    config = folders.read_config(run_dir)
    h = {**default_hyper(), **saved_hyper(config['hyper'])}  # keys added since: the settings the run had
    data = config.get('data')
    if data is None:
        spec = load_dataset(h['dataset_name'], h['architecture'], run_with_sample=True)
        data = {'image_shape': list(spec.image_shape), 'likelihood': spec.likelihood}
    for key in ('cont_c_linspace', 'disc_c_linspace', 'width_height'):
        h[key] = tuple(h[key])
    model = OptVAE(h, tuple(data['image_shape']), data['likelihood'], prior=load_prior_for(h))
    manager = checkpointing.checkpoint_manager(run_dir, **model.trackables())
    checkpointing.restore_epoch(manager, epoch)
    return model, h


def evaluate_trained_vae(run_dir, epoch=None, log_likelihood_samples=None, chunk=None):
    """Test metrics of a saved run (same numbers as its last evaluation when restored from the final checkpoint).

    With `log_likelihood_samples` = S, also the importance-weighted log-likelihoods of the relaxed and the discrete
    model (`Models/log_likelihood.py`): TeLL, TeLL_se, TeLLD, TeLLD_se, TeLLD_prior_se, LL_S, LL_seconds (IGR-SB:
    the discrete model with the N categories of this evaluation). Nothing is written to the run folder.
    """
    model, h = load_trained_vae(run_dir, epoch)
    spec = load_dataset(h['dataset_name'], h['architecture'], h['run_with_sample'])
    batches = _test_batches(spec.x_test)
    metrics = model.evaluate(batches, labels=spec.y_test)
    if log_likelihood_samples:
        metrics.update(ll.estimator(model, log_likelihood_samples, categories=metrics['N'], chunk=chunk)(batches))
    return metrics
