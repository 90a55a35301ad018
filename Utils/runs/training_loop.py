"""The epoch loop shared by the VAE and SOP experiments: data order, checkpoints, resume, signals, non-finite losses.

A model plugged in here has `start_epoch(permutation)`, `continue_epoch(permutation)`, `train_next()`,
`epoch_stats()` and the counters of `Utils.runs.checkpointing.init_training_state` (`iteration`, `epoch`, `step_in_epoch`,
`first_bad_iteration`); its `trackables()` hold everything a step changes, so a checkpoint taken after any step
resumes exactly.

Interruption: SIGTERM / SIGUSR1 / SIGINT stop training at the end of the current step; a mid-epoch checkpoint of that
point is written, `status.json` says `interrupted` (epoch, step, signal) and `Utils.runs.stop_signals.Interrupted` is
raised. The next run of the same folder continues from that step with the same data order and noise.
"""
import time
from pathlib import Path

import numpy as np

from Utils.runs import logs, stop_signals


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def epoch_permutation(seed, epoch, n_examples, steps, batch_n):
    """Training order of one epoch: (steps, batch_n) indices, a function of (seed, epoch) only (exact resume)."""
    order = np.random.default_rng([int(seed), int(epoch)]).permutation(n_examples)
    return order[:steps * batch_n].reshape(steps, batch_n).astype(np.int32)


def resume_point(model, checkpoints, steps, log=None):
    """Restore the newest complete checkpoint; returns (epochs completed, steps done in the next epoch, source).

    source: 'interrupted' (mid-epoch), 'epoch', or None (nothing saved: start from the first step). Checkpoints
    skipped as incomplete (a torn write) are named in `log` (a `Utils.runs.logs.RunLog`) when given.
    """
    source = checkpoints.restore_for_resume()
    for text in checkpoints.skipped if log is not None else ():
        log.line(f'# skipped an incomplete checkpoint: {text}')
    if source is None:
        return 0, 0, None
    epoch = int(model.epoch.numpy())
    step = int(model.step_in_epoch.numpy()) if source == 'interrupted' else 0
    return epoch, (step if 0 < step < steps else 0), source


def _check_finite(model, epoch, epoch_start_iteration, run_dir, log, hint):
    bad = int(model.first_bad_iteration.numpy())
    if bad < 0:
        return
    message = (f'Non-finite training loss at epoch {epoch}, step {bad - epoch_start_iteration + 1} '
               f'(global iteration {bad + 1}) of run {Path(run_dir).name}; training stopped. The last checkpoint '
               f'holds the weights before it. {hint}')
    log.line(f'# ERROR: {message}')
    log.status(error=message)
    raise NonFiniteLossError(message)


def _interrupt(model, checkpoints, log, stop, epoch, step, steps):
    """Checkpoint the exact point reached (epoch `epoch`, `step` of `steps` done) and raise Interrupted."""
    checkpoints.save_interrupt(int(model.iteration.numpy()))
    done = epoch if step >= steps else epoch - 1
    where = f'the end of epoch {epoch}' if step >= steps else f'epoch {epoch}, step {step} of {steps}'
    log.status(epochs_done=done, finished=False,
               interrupted={'signal': stop.requested, 'epoch': epoch, 'step': step, 'steps': steps,
                            'at': time.strftime('%Y-%m-%dT%H:%M:%S')})
    message = f'interrupted by {stop.requested} at {where}; checkpoint written, run again to resume'
    log.line(f'# {message}')
    raise stop_signals.Interrupted(message, stop.requested)


def train_epochs(model, hyper, n_train, steps, run_dir, log, checkpoints, start_epoch, start_step, end_of_epoch,
                 hint='Try a higher temperature or a lower learning rate.'):
    """Epochs start_epoch + 1 .. hyper['epochs'], the first from step `start_step` + 1.

    Args:
        model: see the module docstring.
        hyper: completed hyper (seed, epochs, batch_n, save_every).
        n_train: number of training examples; steps: training steps per epoch.
        run_dir, log (`Utils.runs.logs.RunLog`), checkpoints (`Utils.runs.checkpointing.Checkpoints`).
        end_of_epoch: `f(epoch, stats, seconds)` called after each epoch's training (evaluation and logging).
        hint: the advice appended to the non-finite loss error.
    Raises:
        NonFiniteLossError, Utils.runs.stop_signals.Interrupted.
    """
    with stop_signals.StopSignals() as stop:
        for epoch in range(start_epoch + 1, hyper['epochs'] + 1):
            permutation = epoch_permutation(hyper['seed'], epoch, n_train, steps, hyper['batch_n'])
            first = start_step if epoch == start_epoch + 1 else 0
            if first:
                model.continue_epoch(permutation)
                log.line(f'# continuing epoch {epoch} at step {first + 1} of {steps}')
            else:
                model.start_epoch(permutation)
            start_iteration = int(model.iteration.numpy()) - first
            bar = logs.ProgressBar(steps, f'Epoch {epoch:4d}')
            tic = time.perf_counter()
            for step in range(first + 1, steps + 1):  # no device reads inside the epoch: the first non-finite
                model.train_next()                    # step is kept in a variable and checked once it ends
                bar.update(step)
                if stop.requested and step < steps:
                    bar.close()
                    _interrupt(model, checkpoints, log, stop, epoch, step, steps)
            stats = model.epoch_stats()
            seconds = time.perf_counter() - tic
            bar.close()
            _check_finite(model, epoch, start_iteration, run_dir, log, hint)
            model.epoch.assign(epoch)
            end_of_epoch(epoch, stats, seconds)
            if ((hyper['save_every'] and epoch % hyper['save_every'] == 0) or epoch == hyper['epochs']
                    or epoch in checkpoints.keep_epochs):
                checkpoints.save_epoch(epoch)
                log.status(epochs_done=epoch, checkpoint_epoch=epoch, finished=False)
            else:
                log.status(epochs_done=epoch, finished=False)
            if stop.requested and epoch < hyper['epochs']:
                _interrupt(model, checkpoints, log, stop, epoch, steps, steps)
