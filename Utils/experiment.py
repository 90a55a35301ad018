"""What every experiment shares: hyper validation, seeding, run folders, logs, checkpoints, progress output.

Run folder layout (one folder per run, never reused)::

    Log/<experiment>_<dataset>_<model_type>_t<temp>_s<seed>_<YYYYmmdd-HHMMSS>[_<k>]/
        config.json         {"experiment": ..., "hyper": {...validated hyper...}, "created": iso-time}
        metrics.csv         one row per evaluated epoch (columns fixed by the experiment)
        train.log           readable lines `Epoch    1 || TeELBO -98.765 || ... || 12.3 sec || i: 937 ||`
        status.json         {"epochs_done": int, "finished": bool, "checkpoint_epoch": int, ...}
        final_metrics.json  last row of metrics.csv (+ run_dir: the folder's name) once the run finished
        checkpoints/        tf.train.CheckpointManager files
        tb/                 TensorBoard summaries
        images/             figures written by the experiment

Experiments read results back from these files only (`read_config`, `read_metrics`, `read_status`).
"""
import csv
import datetime
import io
import json
import math
import os
import random
import shutil
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from Utils import paths


# ---------------------------------------------------------------------------------------------------------------------
# Hyper validation
# ---------------------------------------------------------------------------------------------------------------------
class HyperError(ValueError):
    """A hyper dict with an unknown key or a bad value; the message names the key, the value and what is valid."""


def check_keys(hyper, valid_keys, what='hyper'):
    """Raise HyperError when `hyper` holds a key outside `valid_keys` (the message lists the valid keys)."""
    unknown = sorted(set(hyper) - set(valid_keys), key=str)
    if unknown:
        raise HyperError(f'unknown {what} key(s) {unknown}; valid keys are: {", ".join(sorted(valid_keys))}')


def merged_hyper(hyper, valid_keys, defaults, run_with_sample=None):
    """A deep copy of `hyper` over `defaults` after checking its type and keys (`run_with_sample` wins when given)."""
    import copy
    if not isinstance(hyper, dict):
        raise HyperError(f'hyper must be a dict, got {type(hyper).__name__}')
    check_keys(hyper, valid_keys)
    h = {**defaults, **copy.deepcopy(hyper)}
    if run_with_sample is not None:
        h['run_with_sample'] = bool(run_with_sample)
    return h


def check_required(hyper, required, what='hyper'):
    """Raise HyperError when a required key is missing."""
    missing = [key for key in required if key not in hyper]
    if missing:
        raise HyperError(f'{what} is missing the key(s) {missing}')


def check_choice(key, value, choices):
    """Raise HyperError unless `value` is one of `choices`."""
    if value not in choices:
        raise HyperError(f'bad {key} {value!r}; valid choices are: {", ".join(map(str, choices))}')


def check_number(key, value, low=None, high=None, low_open=False, integer=False):
    """Raise HyperError unless `value` is a number (an int if `integer`) in [low, high] ((low, high] if low_open)."""
    kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        raise HyperError(f'bad {key} {value!r}: expected {"an integer" if integer else "a number"}')
    if not math.isfinite(float(value)):
        raise HyperError(f'bad {key} {value!r}: expected a finite number')
    if low is not None and (value <= low if low_open else value < low):
        raise HyperError(f'bad {key} {value!r}: must be {">" if low_open else ">="} {low}')
    if high is not None and value > high:
        raise HyperError(f'bad {key} {value!r}: must be <= {high}')


def check_bool(key, value):
    if not isinstance(value, (bool, np.bool_)):
        raise HyperError(f'bad {key} {value!r}: expected True or False')


JIT_AUTO = 'auto'


def check_jit_compile(value):
    """`jit_compile` is True, False or 'auto' (resolved by the experiment's hyper module from its measurements)."""
    if not (isinstance(value, (bool, np.bool_)) or (isinstance(value, str) and value == JIT_AUTO)):
        raise HyperError(f"bad jit_compile {value!r}: expected True, False or {JIT_AUTO!r}")


def resolve_jit_compile(value, xla_wins, smoke):
    """The XLA setting of a run: `value` itself unless 'auto'; then XLA where the benchmark measured it faster
    (`xla_wins`), except in smoke runs, whose few steps would not repay the compilation."""
    if value != JIT_AUTO:
        return bool(value)
    return bool(xla_wins) and not smoke


def check_linspace(key, value):
    """A schedule `(start, stop, n_iterations)` with n_iterations a positive integer."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise HyperError(f'bad {key} {value!r}: expected (start, stop, n_iterations)')
    check_number(f'{key}[0]', value[0])
    check_number(f'{key}[1]', value[1])
    check_number(f'{key}[2]', value[2], low=1, integer=True)


def check_derived(hyper, completed, keys):
    """Raise HyperError when the user's `hyper` sets one of the derived `keys` to another value than the derived one
    in `completed` (None means not set; the derived value itself is accepted, e.g. a saved config.json)."""
    for key in keys:
        given = hyper.get(key)
        if given is not None and jsonable(given) != jsonable(completed[key]):
            raise HyperError(f'{key} is derived ({completed[key]!r} for this hyper dict) and cannot be set to '
                             f'{given!r}; leave it out or set it to None')


def steps_per_epoch(n_train, batch_n, hyper=None):
    """Training steps per epoch, `n_train // batch_n`: the derived `iter_per_epoch`.

    `hyper`: the user's hyper dict (None when resuming from a folder alone); an `iter_per_epoch` it sets must equal
    the derived value (it is known only here, once the data is loaded).
    """
    steps = int(n_train) // int(batch_n)
    if steps < 1:
        raise HyperError(f'bad batch_n {batch_n}: larger than the {n_train} training images')
    given = (hyper or {}).get('iter_per_epoch')
    if given is not None and jsonable(given) != steps:
        raise HyperError(f'iter_per_epoch is derived (training images // batch_n = {n_train} // {batch_n} = {steps}) '
                         f'and cannot be set to {given!r}; leave it out or set it to None')
    return steps


def jsonable(value):
    """Plain JSON types for a hyper value (tuples -> lists, numpy scalars -> Python)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------------------------------------
def check_epoch_list(key, value):
    """A list or tuple of epoch numbers >= 1 (may be empty)."""
    if not isinstance(value, (list, tuple)):
        raise HyperError(f'bad {key} {value!r}: expected a list of epochs, e.g. [1, 10, 25, 50, 100]')
    for epoch in value:
        check_number(f'{key} entry', epoch, low=1, integer=True)


def check_intra_op_threads(value):
    """`intra_op_threads`: 0 (TensorFlow's default, one thread per core) or a positive thread count."""
    check_number('intra_op_threads', value, low=0, integer=True)


def set_intra_op_threads(threads):
    """Give TensorFlow's ops `threads` intra-op threads (0: leave TensorFlow's default).

    It must happen before TensorFlow runs its first op; a process that already runs with another setting raises
    HyperError (a thread count changes the order of float reductions, so a run and its resume must share it).
    """
    import tensorflow as tf
    threads = int(threads)
    if threads == 0:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        current = tf.config.threading.get_intra_op_parallelism_threads()
        if current != threads:
            raise HyperError(f'bad intra_op_threads {threads}: this process already runs TensorFlow with '
                             f'{current or "the default number of"} intra-op threads; start a new process') from None


def set_seed(seed):
    """Seed Python, NumPy and TensorFlow (weight initialisers) and return a `tf.random.Generator` for the noise."""
    import tensorflow as tf
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    tf.random.set_seed(seed)
    try:
        import keras
        keras.utils.set_random_seed(seed)
    except Exception:  # pragma: no cover - keras always ships with TF 2.20
        pass
    return tf.random.Generator.from_seed(seed)


# ---------------------------------------------------------------------------------------------------------------------
# Run folders
# ---------------------------------------------------------------------------------------------------------------------
def model_label(hyper):
    """The model part of run names and table rows: model_type, with `_ST` for straight-through training."""
    return f'{hyper["model_type"]}_ST' if hyper.get('straight_through') else hyper['model_type']


def run_name(experiment, dataset_name, model_type, temp, seed, stamp=None):
    """`<experiment>_<dataset>_<model_type>_t<temp>_s<seed>_<YYYYmmdd-HHMMSS>`."""
    stamp = stamp or datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    return f'{experiment}_{dataset_name}_{model_type}_t{float(temp):g}_s{seed}_{stamp}'


def make_run_dir(experiment, dataset_name, model_type, temp, seed):
    """Create a fresh run folder under `Log/` (a numeric suffix is added when the name is taken)."""
    base = paths.log_dir() / run_name(experiment, dataset_name, model_type, temp, seed)
    candidate, k = base, 0
    while True:
        try:
            candidate.mkdir(parents=False, exist_ok=False)  # atomic: two runs never share a folder
            return candidate
        except FileExistsError:
            k += 1
            candidate = base.with_name(f'{base.name}_{k}')


def run_folder(experiment, hyper, resume_dir=None, run_dir=None):
    """The folder a run writes: `resume_dir` (continued), else `run_dir` (a grid cell's, created if needed), else a
    fresh `make_run_dir` folder."""
    if resume_dir is not None:
        return Path(resume_dir)
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return Path(run_dir)
    return make_run_dir(experiment, hyper['dataset_name'], model_label(hyper), hyper['temp'], hyper['seed'])


def no_fence():
    """The fence of a run without a grid lock: every write may go ahead."""


def write_bytes(path, data, fence=None):
    """Write `data` atomically (a crash never leaves half a file); `fence()` first (see `Utils.runstore.RunLock`)."""
    (fence or no_fence)()
    path = Path(path)
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path, payload, fence=None):
    """Write JSON atomically, as `write_bytes`."""
    write_bytes(path, (json.dumps(jsonable(payload), indent=2, sort_keys=False) + '\n').encode(), fence)


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def save_config(run_dir, experiment, hyper):
    write_json(Path(run_dir) / 'config.json', {'experiment': experiment, 'hyper': dict(hyper),
                                               'created': datetime.datetime.now().isoformat(timespec='seconds')})


def read_config(run_dir):
    """The `config.json` of a run: {'experiment', 'hyper', 'created'}."""
    return read_json(Path(run_dir) / 'config.json')


def read_status(run_dir):
    path = Path(run_dir) / 'status.json'
    return read_json(path) if path.exists() else {'epochs_done': 0, 'finished': False}


def read_metrics(run_dir, name='metrics.csv'):
    """Rows of a run's metrics file as a list of dicts with float values ('epoch' as int)."""
    path = Path(run_dir) / name
    if not path.exists():
        return []
    with open(path, newline='') as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return []
    header = rows[0]
    return [{k: (int(float(v)) if k == 'epoch' else float(v)) for k, v in zip(header, row)}
            for row in rows[1:] if _whole_row(row, len(header))]


# ---------------------------------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------------------------------
class CsvLog:
    """An append-only CSV file keyed by epoch; `truncate_after(e)` drops rows of epochs > e (used on resume).

    The header is written atomically and every row with one `write` on an O_APPEND descriptor, so a kill leaves
    whole rows; a torn last row (a kill inside that write) is dropped by `truncate_after` and by `read_metrics`.
    `fence()` is called before each write (a grid run's lock check; see `Utils.runstore.RunLock.fence`).
    """

    def __init__(self, path, columns, fence=None):
        self.path, self.columns = Path(path), list(columns)
        self.fence = fence or no_fence
        if not self.path.exists():
            self.fence()
            tmp = self.path.with_name(self.path.name + '.tmp')
            with open(tmp, 'w', newline='') as handle:
                csv.writer(handle).writerow(self.columns)
            os.replace(tmp, self.path)

    def append(self, row):
        buffer = io.StringIO()
        csv.writer(buffer).writerow([_csv_value(row[c]) for c in self.columns])
        self.fence()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, buffer.getvalue().encode())
        finally:
            os.close(fd)

    def truncate_after(self, epoch):
        with open(self.path, newline='') as handle:
            rows = list(csv.reader(handle))
        width = len(rows[0])
        kept = [rows[0]] + [r for r in rows[1:] if _whole_row(r, width) and int(float(r[0])) <= epoch]
        self.fence()
        tmp = self.path.with_name(self.path.name + '.tmp')
        with open(tmp, 'w', newline='') as handle:
            csv.writer(handle).writerows(kept)
        os.replace(tmp, self.path)


def _whole_row(row, width):
    if len(row) != width:
        return False
    try:
        float(row[0])
    except ValueError:
        return False
    return all(cell != '' for cell in row)


def _csv_value(value):
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value


def format_log_line(epoch, metrics, seconds, iteration, integer_keys=('N',)):
    """The original log line: `Epoch    1 || TeELBO -98.765 || ... || N 10 || TrL 99.1 || 12.3 sec || i: 937 ||`."""
    parts = [f'Epoch {epoch:4d}']
    for key, value in metrics.items():
        parts.append(f'{key} {int(value)}' if key in integer_keys else f'{key} {float(value):.4f}')
    parts.append(f'{seconds:.1f} sec')
    parts.append(f'i: {int(iteration)}')
    return ' || '.join(parts) + ' ||'


class RunLog:
    """metrics.csv + train.log + status.json (+ final_metrics.json, TensorBoard) of one run folder.

    `fence`: called before every write into the folder (a grid run's lock check, `Utils.runstore.RunLock.fence`:
    it raises when another process took the run over); None for a run without a lock. The experiment's other
    writers in the folder (checkpoints, images, log-likelihoods) call the same `log.fence`.
    """

    def __init__(self, run_dir, metric_columns, echo=True, fence=None):
        self.run_dir = Path(run_dir)
        self.fence = fence or no_fence
        self.metrics = CsvLog(self.run_dir / 'metrics.csv', ['epoch'] + list(metric_columns) + ['seconds'],
                              fence=self.fence)
        self.echo = echo
        self._writer = None

    def line(self, text):
        """Append a line to train.log (and print it)."""
        self.fence()
        with open(self.run_dir / 'train.log', 'a') as handle:
            handle.write(text + '\n')
        if self.echo:
            print(text, flush=True)

    def log_epoch(self, epoch, metrics, seconds, iteration, integer_keys=('N',), shown=None):
        """metrics.csv gets every metric; the train.log line only the `shown` ones (default all)."""
        self.metrics.append({'epoch': epoch, **metrics, 'seconds': seconds})
        visible = metrics if shown is None else {k: v for k, v in metrics.items() if k in shown}
        self.line(format_log_line(epoch, visible, seconds, iteration, integer_keys))
        self.scalars(epoch, metrics)

    def scalars(self, step, values, prefix=''):
        import tensorflow as tf
        self.fence()
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.run_dir / 'tb'))
        with self._writer.as_default():
            for key, value in values.items():
                tf.summary.scalar(prefix + key, float(value), step=int(step))
        self._writer.flush()

    def images(self, step, name, images):
        """images: float array (n, H, W, C) in [0, 1]."""
        import tensorflow as tf
        self.fence()
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.run_dir / 'tb'))
        with self._writer.as_default():
            tf.summary.image(name, images, step=int(step), max_outputs=len(images))
        self._writer.flush()

    def status(self, **fields):
        """Update status.json; a field given as None is removed."""
        current = read_status(self.run_dir)
        current.update(fields)
        current = {k: v for k, v in current.items() if v is not None}
        write_json(self.run_dir / 'status.json', current, self.fence)

    def finish(self, final_metrics):
        """final_metrics.json and status.json finished. A `run_dir` in the metrics is recorded as the folder's name
        (records stay valid wherever the folder is moved; the caller keeps its absolute path)."""
        record = {**final_metrics, 'run_dir': self.run_dir.name} if 'run_dir' in final_metrics else final_metrics
        write_json(self.run_dir / 'final_metrics.json', record, self.fence)
        self.status(finished=True)

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------------------------------
EVAL_SEED_OFFSET = 10_007
"""The evaluation noise comes from its own generator, seeded `seed + EVAL_SEED_OFFSET` and reset at every evaluation."""


def init_training_state(model, seed):
    """Give a model the random generators and counters shared by the VAE and SOP training loops.

    Sets `rng` (training noise), `eval_seed` / `eval_rng` (test noise), the checkpointed `iteration`, `epoch` and
    `step_in_epoch` counters, and the per-epoch bookkeeping (`loss_sum`, `loss_steps`, `first_bad_iteration`) that the compiled
    step updates and the epoch loop reads once per epoch.
    """
    import tensorflow as tf
    model.rng = tf.random.Generator.from_seed(int(seed))
    model.eval_seed = int(seed) + EVAL_SEED_OFFSET
    model.eval_rng = tf.random.Generator.from_seed(model.eval_seed)
    model.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name='iteration')
    model.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name='epoch')
    model.step_in_epoch = tf.Variable(0, dtype=tf.int32, trainable=False, name='step_in_epoch')
    model.loss_sum = tf.Variable(0., dtype=tf.float64, trainable=False)
    model.loss_steps = tf.Variable(0, dtype=tf.int64, trainable=False)
    model.first_bad_iteration = tf.Variable(-1, dtype=tf.int64, trainable=False)


def training_state_trackables(model):
    """The shared counters, generator and running epoch statistics a checkpoint holds (see `Checkpoints`)."""
    return {'iteration': model.iteration, 'epoch': model.epoch, 'rng': model.rng,
            'step_in_epoch': model.step_in_epoch, 'loss_sum': model.loss_sum, 'loss_steps': model.loss_steps,
            'first_bad_iteration': model.first_bad_iteration}


def record_step(model, loss):
    """Inside a compiled train step: count the step, add its loss to the epoch's sum, and remember the first
    iteration whose loss was not finite (read once per epoch, so the step never syncs with the host)."""
    import tensorflow as tf
    bad = tf.logical_and(tf.logical_not(tf.math.is_finite(loss)), model.first_bad_iteration < 0)
    model.first_bad_iteration.assign(tf.where(bad, model.iteration, model.first_bad_iteration))
    model.iteration.assign_add(1)
    model.loss_sum.assign_add(tf.cast(loss, tf.float64))
    model.loss_steps.assign_add(1)


def checkpoint_manager(run_dir, max_to_keep=2, **trackables):
    """A `tf.train.CheckpointManager` in `<run_dir>/checkpoints` over the given trackable objects."""
    import tensorflow as tf
    checkpoint = tf.train.Checkpoint(**trackables)
    return tf.train.CheckpointManager(checkpoint, str(Path(run_dir) / 'checkpoints'), max_to_keep=max_to_keep)


MILESTONE_DIR = 'milestones'
"""`<run>/checkpoints/milestones/ckpt-<epoch>`: the checkpoints of the epochs in the hyper's `keep_epochs`, kept for
good beside the rolling ones (evaluations at chosen points of a long run)."""


def milestone_path(run_dir, epoch):
    return Path(run_dir) / 'checkpoints' / MILESTONE_DIR / f'ckpt-{int(epoch)}'


def milestone_epochs(run_dir):
    """Epochs with a complete milestone checkpoint (its index file is written last), ascending."""
    folder = Path(run_dir) / 'checkpoints' / MILESTONE_DIR
    if not folder.is_dir():
        return []
    return sorted(int(p.name[len('ckpt-'):-len('.index')]) for p in folder.glob('ckpt-*.index'))


def checkpoint_epochs(run_dir):
    """Epochs of the checkpoints kept in `<run_dir>/checkpoints` and its milestones, ascending (index files only)."""
    import tensorflow as tf
    state = tf.train.get_checkpoint_state(str(Path(run_dir) / 'checkpoints'))
    paths = state.all_model_checkpoint_paths if state else []
    rolling = {int(str(p).rsplit('-', 1)[1]) for p in paths}
    return sorted(rolling | set(milestone_epochs(run_dir)))


def restore_latest(manager):
    """Restore the latest checkpoint of `manager`; returns its path (raises FileNotFoundError when there is none)."""
    path = manager.latest_checkpoint
    if path is None:
        raise FileNotFoundError(f'no checkpoint in {manager.directory}')
    manager.checkpoint.restore(path).expect_partial()
    return path


def restore_epoch(manager, epoch=None):
    """Restore the checkpoint saved at `epoch` (None: the latest); returns its path.

    Raises FileNotFoundError naming the kept checkpoints when that epoch was not kept.
    """
    if epoch is None:
        return restore_latest(manager)
    matches = [p for p in manager.checkpoints if p.endswith(f'-{int(epoch)}')]
    run_dir = Path(manager.directory).parent
    if not matches and int(epoch) in milestone_epochs(run_dir):
        matches = [str(milestone_path(run_dir, epoch))]
    if not matches:
        raise FileNotFoundError(f'no checkpoint of epoch {epoch} in {manager.directory}; kept: {manager.checkpoints} '
                                f'and milestones {milestone_epochs(run_dir)}')
    manager.checkpoint.restore(matches[0]).expect_partial()
    return matches[0]


CHECKPOINT_PAUSE_ENV = 'IGR_TEST_CHECKPOINT_PAUSE'
"""Test hook (Tests/test_cluster_faults.py), inert unless set: '<point>:<epoch>' stops the writer of epoch <epoch>'s
checkpoint at <point> until the process is killed. 'written': the checkpoint's data and index files are complete and
the state file `checkpoints/checkpoint` does not name it yet; 'clearing': the interrupted checkpoint's state file is
removed, its data and index files not yet."""
ITERATION_KEY = 'iteration/.ATTRIBUTES/VARIABLE_VALUE'
"""The training iteration inside a checkpoint of `training_state_trackables` (orders checkpoints of every kind)."""
READ_ERRORS = (ValueError, LookupError, OSError)
"""What reading a missing, short or damaged checkpoint raises, besides tf.errors.OpError (NotFoundError for a missing
file, DataLossError for a bad checksum): TensorFlow's reader raises IndexError for a short data file."""


class CheckpointError(RuntimeError):
    """A run folder has checkpoints, none of them complete."""


def _pause_point():
    point, _, epoch = os.environ.get(CHECKPOINT_PAUSE_ENV, '').partition(':')
    return (point, int(epoch)) if point and epoch.isdigit() else None


def _pause_until_killed(point, epoch):
    print(f'# test pause: checkpoint of epoch {epoch} stopped at {point!r} (pid {os.getpid()})', file=sys.stderr,
          flush=True)
    while True:
        time.sleep(60)


class Checkpoints:
    """Epoch checkpoints (`checkpoints/ckpt-<epoch>`, the last `max_to_keep` kept, plus those of `keep_epochs` for
    good under `checkpoints/milestones/`) and one mid-epoch checkpoint written when a run is interrupted
    (`checkpoints/interrupted/ckpt-<iteration>`, removed at the next epoch end).

    Both hold the same objects (`trackables`: weights, optimizer, counters, generator state, the epoch's running
    statistics and the step reached in it), so resuming from either continues exactly where training stopped.
    `fence()` is called before each write (a grid run's lock check; see `RunLog`).

    A resume restores the newest *complete* checkpoint: TensorFlow writes a checkpoint's data, then its index, then
    the state file that names it, so a kill inside a write leaves the state naming the previous one; but a kill while
    an interrupted checkpoint is deleted, a copy or a file system that lost the last writes can leave a state file
    naming files that are gone or torn. Each candidate is therefore read before it is trusted, and a candidate that
    fails is skipped (named in `skipped`) for the next newest.
    """

    def __init__(self, run_dir, max_to_keep=2, keep_epochs=(), fence=None, **trackables):
        import tensorflow as tf
        self.run_dir = Path(run_dir)
        self.keep_epochs = frozenset(int(e) for e in keep_epochs)
        self.epochs = checkpoint_manager(run_dir, max_to_keep, **trackables)
        self.checkpoint = self.epochs.checkpoint
        self.interrupt_dir = self.run_dir / 'checkpoints' / 'interrupted'
        self.fence = fence or no_fence
        self.skipped = []
        self._tf = tf
        self._pause = _pause_point()

    def _interrupt_manager(self):
        return self._tf.train.CheckpointManager(self.checkpoint, str(self.interrupt_dir), max_to_keep=1)

    def _candidates(self):
        """(iteration, rank, source, prefix) of every checkpoint a resume could use, newest first (at equal iteration
        a rolling epoch checkpoint, then a milestone, then the interrupted one)."""
        named = {}
        if self.interrupt_dir.is_dir():
            interrupted = self._interrupt_manager()
            named.update((p, ('interrupted', 0)) for p in interrupted.checkpoints + [interrupted.latest_checkpoint]
                         if p)
        named.update((str(milestone_path(self.run_dir, e)), ('epoch', 1)) for e in milestone_epochs(self.run_dir))
        named.update((p, ('epoch', 2)) for p in self.epochs.checkpoints + [self.epochs.latest_checkpoint] if p)
        found = []
        for prefix, (source, rank) in named.items():
            try:  # the index and one small tensor: a missing index or data file fails here
                iteration = int(self._tf.train.load_checkpoint(prefix).get_tensor(ITERATION_KEY))
            except (*READ_ERRORS, self._tf.errors.OpError) as error:
                self._skip(prefix, error)
                continue
            found.append((iteration, rank, source, prefix))
        return sorted(found, reverse=True)

    def _read_whole(self, prefix):
        """Read every tensor of a checkpoint, verifying each shard's checksum (a few MB, at a resume only): a short
        or damaged data file raises here, before any variable is overwritten."""
        reader = self._tf.train.load_checkpoint(prefix)
        for key in reader.get_variable_to_dtype_map():
            reader.get_tensor(key)

    def _skip(self, prefix, error):
        from Utils.relocate_records import relocate_text
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        text = f'{Path(prefix).relative_to(self.run_dir)} ({type(error).__name__}: {first})'
        self.skipped.append(relocate_text(text, self.run_dir.name))  # for train.log: no absolute path in records

    def restore_for_resume(self):
        """Restore the newest complete checkpoint: the one with the most training iterations, the mid-epoch one of an
        interrupted run included (an epoch checkpoint wins a tie).

        Returns 'interrupted', 'epoch' or None (nothing saved: the run starts from its first step). Raises
        CheckpointError when checkpoints were saved and none of them is complete.
        """
        for _, _, source, prefix in self._candidates():
            try:
                self._read_whole(prefix)
                self.checkpoint.restore(prefix).expect_partial()
            except (*READ_ERRORS, self._tf.errors.OpError) as error:
                self._skip(prefix, error)
                continue
            return source
        if self.skipped:  # never start a run over silently when it had checkpoints: its logs would be cut to none
            raise CheckpointError(f'no complete checkpoint in {self.run_dir.name}/checkpoints: '
                                  f'{"; ".join(self.skipped)}. Delete the folder\'s checkpoints/ to train the run '
                                  f'again from its first epoch')
        return None

    def save_epoch(self, epoch):
        self.fence()
        if int(epoch) in self.keep_epochs:  # before the rolling one: a kill in between redoes the epoch and both
            self.checkpoint.write(str(milestone_path(self.run_dir, epoch)))
        path = self.epochs.save(checkpoint_number=int(epoch), options=self._write_options(epoch))
        self.clear_interrupt(epoch)
        return path

    def _write_options(self, epoch):
        """None (TensorFlow's defaults) unless the test hook asks to stop once the files are written."""
        if self._pause != ('written', int(epoch)):
            return None
        return self._tf.train.CheckpointOptions(
            experimental_write_callbacks=[lambda: _pause_until_killed('written', int(epoch))])

    def save_interrupt(self, iteration):
        self.fence()
        return self._interrupt_manager().save(checkpoint_number=int(iteration))

    def clear_interrupt(self, epoch=None):
        if not self.interrupt_dir.is_dir():
            return
        self.fence()
        # the state file first: a kill during the deletion then leaves files no state names, never a state naming
        # files that are half gone
        (self.interrupt_dir / 'checkpoint').unlink(missing_ok=True)
        if epoch is not None and self._pause == ('clearing', int(epoch)):
            _pause_until_killed('clearing', int(epoch))
        shutil.rmtree(self.interrupt_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------------
# Stopping on a signal
# ---------------------------------------------------------------------------------------------------------------------
STOP_SIGNALS = ('SIGTERM', 'SIGUSR1', 'SIGINT')
"""Slurm sends SIGTERM at the time limit and on preemption, and the signal of `--signal` (SIGUSR1 in
`igr_slurm.sbatch`) before it; SIGINT is Ctrl-C."""


class Interrupted(Exception):
    """Training stopped on a signal after writing a checkpoint of that exact point; re-run to resume."""

    def __init__(self, message, signal_name=None):
        super().__init__(message)
        self.signal_name = signal_name


_pending_stop = []


def stop_early_on_signals():
    """From now on a stop signal that arrives before the training loop starts (while TensorFlow is imported, data
    loaded) is remembered instead of killing the process; the next `StopSignals` then stops after its first step.
    Used by the grid scripts, so that Slurm's warning signal is never lost. Main thread only (else no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def remember(signum, frame):
        name = signal.Signals(signum).name
        if name == 'SIGINT' and 'SIGINT' in _pending_stop:
            raise KeyboardInterrupt
        _pending_stop.append(name)
    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), remember)


class StopSignals:
    """While active, SIGTERM / SIGUSR1 / SIGINT only set `requested` (the signal's name): the training loop stops at
    the end of the current step. A second SIGINT raises KeyboardInterrupt at once. Outside the main thread (where
    Python cannot install handlers) it does nothing."""

    def __init__(self):
        self.requested = None
        self._previous = {}

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.requested == 'SIGINT' and name == 'SIGINT':
            raise KeyboardInterrupt
        self.requested = self.requested or name

    def __enter__(self):
        if _pending_stop:
            self.requested = _pending_stop[0]
        if threading.current_thread() is threading.main_thread():
            for name in STOP_SIGNALS:
                signum = getattr(signal, name)
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        return False


# ---------------------------------------------------------------------------------------------------------------------
# Progress bar
# ---------------------------------------------------------------------------------------------------------------------
class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most every `interval` seconds (silent when not a terminal).

    `update(step)` costs a clock read; it never reads tensors, so it does not synchronise with the device.
    """

    def __init__(self, total, label='', width=30, interval=0.25, stream=None, enabled=None):
        self.total, self.label, self.width, self.interval = max(int(total), 1), label, width, interval
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = self._last = time.perf_counter()
        self._drawn = False

    def update(self, step, suffix=''):
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < self.interval and step < self.total:
            return
        self._last = now
        done = int(self.width * min(step, self.total) / self.total)
        rate = step / max(now - self.start, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else 0.
        bar = '=' * done + ('>' if done < self.width else '') + '.' * max(self.width - done - 1, 0)
        self.stream.write(f'\r{self.label} {step}/{self.total} [{bar}] {rate:.0f} it/s eta {eta:.0f}s {suffix}')
        self.stream.flush()
        self._drawn = True

    def close(self):
        if self.enabled and self._drawn:
            self.stream.write('\r' + ' ' * (len(self.label) + self.width + 60) + '\r')
            self.stream.flush()
