"""Grid cells and their run folders: run keys, finding a cell's run, locks, and each cell's state.

No TensorFlow import (the grid scripts' ``--status`` runs on a login node in a fraction of a second).

A cell's **run key** is a hash of its completed hyper dict (the experiment's own ``validate_hyper``), leaving out the
values that do not change what is trained (``KEY_EXCLUDED``: ``epochs`` may grow, checkpoint frequency, XLA, ...).
It is computed from the cell when a grid runs it and from ``config.json`` when a folder is read, always with the
current code, so folders made before keys existed are found too. New run folders of a grid are named
``<experiment>_<dataset>_<model>_t<temp>_s<seed>_k<key>``; ``--restart`` adds ``_r<n>``.

Running a cell (``claim``): finished -> skipped; unfinished -> resumed in its folder; none -> a new folder (or the
cell's folder left without config.json by a run that died before writing it). A lock file ``<run>/lock`` (host, pid,
Slurm job, start time and a token drawn at each acquisition; its mtime is refreshed every ``LOCK_REFRESH_SECONDS``
by the holder) keeps two processes from training one cell. A lock is stale when its process is gone (same host) or
its mtime is older than ``IGR_LOCK_STALE_SECONDS`` (default 900 s); a stale lock is taken over with a message.

Fencing: a holder that was suspended (SIGSTOP, a frozen node) past the stale age may find its lock taken over when
it comes back. Every write of a run that matters (checkpoints, metrics and gradient rows, status.json, final
metrics, log-likelihoods, images, train.log) first calls the lock's ``fence``, which raises ``LockLost`` unless the
lock file still names this holder (host, pid, token); the run then stops without writing and the grid exits with
``EXIT_LOCK_LOST``. The run finds the fence of its folder with ``fence_of(run_dir)`` (None without a grid lock).
"""
import hashlib
import json
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from Utils import paths
from Utils.runs.folders import model_label

KEY_EXCLUDED = ('epochs', 'save_every', 'jit_compile', 'num_of_repetitions', 'iter_per_epoch',
                'log_likelihood_samples', 'keep_checkpoints', 'keep_epochs', 'intra_op_threads')
"""Hyper keys that do not change what is trained: a run with more epochs, other checkpoint settings, XLA on or
another thread count is the same cell (XLA and the thread count change float rounding only)."""
KEY_OMITTED_VALUES = {'decoder_output': 'linear', 'softmax_delta': 1, 'unit_sigma': 'learned'}
"""Keys added after runs were made leave the key when they hold the setting those runs had, so their keys stand."""
KEY_LENGTH = 10
LOCK_FILE = 'lock'
LOCK_REFRESH_ENV = 'IGR_LOCK_REFRESH_SECONDS'
LOCK_REFRESH_SECONDS = 60.
LOCK_STALE_ENV = 'IGR_LOCK_STALE_SECONDS'
LOCK_STALE_SECONDS = 900.
"""A live holder touches its lock every LOCK_REFRESH_SECONDS; a lock untouched for LOCK_STALE_SECONDS is stale. The
stale age must exceed twice the refresh interval, so that one late refresh never makes a live holder's lock stale."""

EXIT_INTERRUPTED = 3
"""Exit code of a grid run stopped by SIGTERM / SIGUSR1 / SIGINT after writing its checkpoint (re-run to resume)."""
EXIT_LOCKED = 4
"""Exit code of a grid run whose cell another live process is training."""
EXIT_LOCK_LOST = 5
"""Exit code of a grid run whose lock was taken over while it ran (it had been suspended past the stale age): it
stopped at its next write without writing, and the process named in the message trains the cell."""


def _canonical(value):
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 30 and 30.0 are the same setting
    if hasattr(value, 'item'):
        return _canonical(value.item())
    return value


def run_key(completed_hyper, excluded=KEY_EXCLUDED):
    """Stable hex key of a completed hyper dict, without the `excluded` keys."""
    kept = {k: v for k, v in completed_hyper.items()
            if k not in excluded and not (k in KEY_OMITTED_VALUES and v == KEY_OMITTED_VALUES[k])}
    text = json.dumps(_canonical(kept), sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


VALIDATORS = {'vae': 'Models.vae_hyper', 'sop': 'Models.sop_hyper'}
"""experiment -> module whose TF-free `validate_hyper` completes that experiment's hyper dicts."""


def key_of_config(config):
    """Run key of a folder's config.json ({'experiment', 'hyper'}), or None when it cannot be computed."""
    import importlib
    module = VALIDATORS.get(config.get('experiment'))
    if module is None:
        return None
    try:
        module = importlib.import_module(module)
        saved = getattr(module, 'saved_hyper', dict)
        return run_key(module.validate_hyper(saved(dict(config['hyper']))))
    except (ValueError, KeyError, TypeError):
        return None


def read_json_or_none(path):
    """A JSON file's content, or None when it is missing or not valid JSON (a folder being written)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------------------
# Locks
# ---------------------------------------------------------------------------------------------------------------------
def _holder():
    return {'host': socket.gethostname(), 'pid': os.getpid(), 'slurm_job': _slurm_job(),
            'started': time.strftime('%Y-%m-%dT%H:%M:%S'), 'token': uuid.uuid4().hex}


def _slurm_job():
    job, task = os.environ.get('SLURM_ARRAY_JOB_ID') or os.environ.get('SLURM_JOB_ID'), \
        os.environ.get('SLURM_ARRAY_TASK_ID')
    if not job:
        return None
    return f'{job}_{task}' if task else job


def _pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (TypeError, ValueError):
        return False
    return True


class LockSettingError(ValueError):
    """A bad $IGR_LOCK_STALE_SECONDS or $IGR_LOCK_REFRESH_SECONDS; the message names the value."""


def _seconds_from_env(name, default):
    text = os.environ.get(name, '').strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise LockSettingError(f'bad ${name} {text!r}: expected a number of seconds > 0')
    return value


def lock_timing():
    """(refresh interval, stale age) in seconds from the environment, checked: stale age > 2 x refresh interval."""
    refresh = _seconds_from_env(LOCK_REFRESH_ENV, LOCK_REFRESH_SECONDS)
    stale = _seconds_from_env(LOCK_STALE_ENV, LOCK_STALE_SECONDS)
    if not stale > 2 * refresh:
        raise LockSettingError(f'bad ${LOCK_STALE_ENV} {stale:g}: the stale age must be more than twice the lock '
                               f'refresh interval ({refresh:g} s, ${LOCK_REFRESH_ENV}), else a live holder\'s lock '
                               f'could be taken over')
    return refresh, stale


def stale_seconds():
    return lock_timing()[1]


def refresh_seconds():
    return lock_timing()[0]


def lock_state(run_dir):
    """None (no lock), or (holder dict, stale: bool, why) of `<run_dir>/lock`."""
    path = Path(run_dir) / LOCK_FILE
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
    holder = read_json_or_none(path) or {}
    if holder.get('host') == socket.gethostname() and not _pid_alive(holder.get('pid')):
        return holder, True, f'process {holder.get("pid")} on this host is gone'
    if age > stale_seconds():
        return holder, True, f'not refreshed for {age:.0f} s (> {stale_seconds():.0f} s, ${LOCK_STALE_ENV})'
    return holder, False, ''


def describe_holder(holder):
    job = f', Slurm job {holder["slurm_job"]}' if holder.get('slurm_job') else ''
    return f'host {holder.get("host")}, pid {holder.get("pid")}{job}, since {holder.get("started")}'


class LockHeld(RuntimeError):
    """Another live process holds the cell's lock; the message names it."""


class LockLost(RuntimeError):
    """This process's lock was taken over (or removed) while it ran; the message names the new holder."""


_HELD = {}
"""Resolved run folder -> the RunLock this process holds on it (`fence_of`)."""


def fence_of(run_dir):
    """The fence of the lock this process holds on `run_dir` (a callable raising LockLost), or None."""
    lock = _HELD.get(Path(run_dir).resolve())
    return lock.fence if lock is not None else None


class RunLock:
    """An exclusive lock file in a run folder, refreshed by a daemon thread while held."""

    def __init__(self, run_dir, say=print):
        self.path = Path(run_dir) / LOCK_FILE
        self.say = say
        self._stop = threading.Event()
        self._thread = None
        self._mine = None

    def acquire(self):
        refresh = refresh_seconds()  # a bad setting fails here, before anything is written
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            self._mine = _holder()
            with os.fdopen(fd, 'w') as handle:
                json.dump(self._mine, handle)
            _HELD[self.path.parent.resolve()] = self
            self._thread = threading.Thread(target=self._refresh, args=(refresh,), daemon=True)
            self._thread.start()
            return self
        state = lock_state(self.path.parent)
        holder = state[0] if state else {}
        raise LockHeld(f'{self.path.parent} is in use by another process ({describe_holder(holder)}); '
                       f'not using it here')

    def _take_over_if_stale(self):
        state = lock_state(self.path.parent)
        if state is None:
            return
        holder, stale, why = state
        if not stale:
            raise LockHeld(f'{self.path.parent} is in use by another process ({describe_holder(holder)}); '
                           f'not using it here')
        # rename first: of two processes taking over the same stale lock only one rename succeeds
        aside = self.path.with_name(f'{LOCK_FILE}.stale.{os.getpid()}')
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return
        taken = read_json_or_none(aside) or {}
        if any(taken.get(k) != holder.get(k) for k in ('pid', 'started', 'token')):
            # a fresh lock was written between our check and the rename: put it back and give up
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            os.unlink(aside)
            raise LockHeld(f'{self.path.parent} was just locked by another process ({describe_holder(taken)})')
        os.unlink(aside)
        self.say(f'# taking over the stale lock of {self.path.parent} ({describe_holder(holder)}: {why})')

    def _names_me(self, holder):
        return self._mine is not None and all(holder.get(k) == self._mine[k] for k in ('host', 'pid', 'token'))

    def current_holder(self):
        """The lock file's content ({} when it is gone or unreadable)."""
        return read_json_or_none(self.path) or {}

    def holds(self):
        """True while the lock file names this holder (host, pid and the token of this acquisition)."""
        return self._names_me(self.current_holder())

    def fence(self):
        """Raise LockLost unless this process still holds the lock: called before each write of the run."""
        holder = self.current_holder()
        if self._names_me(holder):
            return
        now = f'it now names {describe_holder(holder)}' if holder else 'the lock file is gone'
        raise LockLost(f'lost the lock of {self.path.parent} ({now}): another process took the run over while this '
                       f'one was stopped; stopping without writing')

    def _refresh(self, interval):
        while not self._stop.wait(interval):
            if not self._touch_if_mine():
                return  # taken over or removed: never touch another holder's lock

    def _touch_if_mine(self):
        """Refresh the lock's mtime through the descriptor of the file just read, so that the file touched is the
        one that names this holder, even when it is replaced in between."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            holder = json.loads(os.read(fd, 1 << 16) or b'{}')
            if not isinstance(holder, dict) or not self._names_me(holder):
                return False
            os.utime(fd)
            return True
        except ValueError:
            return False
        finally:
            os.close(fd)

    def release(self):
        self._stop.set()
        _HELD.pop(self.path.parent.resolve(), None)
        if self.holds():
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


# ---------------------------------------------------------------------------------------------------------------------
# Run folders of an experiment
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class RunFolder:
    """What a run folder says about itself (read without TensorFlow)."""
    path: Path
    key: str
    hyper: dict
    created: str
    status: dict = field(default_factory=dict)

    @property
    def finished(self):
        return bool(self.status.get('finished'))

    @property
    def epochs_done(self):
        return int(self.status.get('epochs_done', 0))


class RunStore:
    """The run folders of one experiment under a log directory, indexed by run key.

    Args:
        experiment: the `experiment` field of the folders' config.json ('vae', 'sop').
        validate: the experiment's TF-free `validate_hyper(hyper) -> completed hyper`.
        headline: metric shown for a finished run in `--status` and skip lines ('TeELBO', 'TeNLL').
        log_dir: default `Utils.paths.log_dir()`.
        saved: the experiment's `saved_hyper(hyper)`, applied to a folder's config.json before `validate` (settings
            of keys added since the folder was made); default none.
    """

    def __init__(self, experiment, validate, headline, log_dir=None, saved=dict):
        self.experiment, self.validate, self.headline = experiment, validate, headline
        self.saved = saved
        self.log_dir = Path(log_dir) if log_dir is not None else paths.log_dir()
        self._index = self._unconfigured = None

    def key(self, cell):
        return run_key(self.validate(dict(cell)))

    def folders(self):
        """key -> [RunFolder] (oldest first) over every folder of this experiment with a readable config.json (the
        names of the folders without one are kept for `unconfigured`)."""
        if self._index is None:
            self._index, self._unconfigured = {}, set()
            for path in sorted(p for p in self.log_dir.iterdir() if p.is_dir()) if self.log_dir.is_dir() else []:
                config = read_json_or_none(path / 'config.json')
                if not isinstance(config, dict):
                    self._unconfigured.add(path.name)  # a run that died before writing it, or one starting now
                    continue
                if config.get('experiment') != self.experiment:
                    continue
                try:
                    key = run_key(self.validate(self.saved(dict(config['hyper']))))
                except (ValueError, KeyError, TypeError):
                    continue
                status = read_json_or_none(path / 'status.json') or {}
                self._index.setdefault(key, []).append(
                    RunFolder(path, key, config['hyper'], config.get('created', ''), status))
            for runs in self._index.values():
                runs.sort(key=lambda r: (r.created, r.path.name))
        return self._index

    def runs_of(self, cell):
        return self.folders().get(self.key(cell), [])

    def current(self, cell):
        """The folder a re-run of `cell` continues: the newest with the cell's key (None when there is none)."""
        runs = self.runs_of(cell)
        return runs[-1] if runs else None

    def folder_base(self, cell):
        """`<experiment>_<dataset>_<model>_t<temp>_s<seed>_k<key>`: the name of the cell's folder."""
        return (f'{self.experiment}_{cell.get("dataset_name", "mnist")}_{model_label(cell)}'
                f'_t{float(cell["temp"]):g}_s{cell.get("seed", 0)}_k{self.key(cell)}')

    def new_folder(self, cell, restart=False):
        """The folder a new run of `cell` trains in: `<base>` (or `<base>_r<n>` with `restart`), created atomically.

        Without `restart`, an existing `<base>` is returned as is: it has no readable config.json (else the cell
        would have a run), so a run died before writing it, or another process is starting in it; the caller locks
        it before training (the lock tells the two apart).
        """
        base = self.folder_base(cell)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        names = [base] if not restart else [f'{base}_r{n}' for n in range(1, 10_000)]
        for name in names:
            try:
                (self.log_dir / name).mkdir()
            except FileExistsError:
                if restart:
                    continue
            self._index = None
            return self.log_dir / name
        raise RuntimeError(f'no free run folder name for {base}_r<n> in {self.log_dir}')

    def unconfigured(self, cell):
        """Folders of `cell` (`<base>`, then `<base>_r<n>` by n) without a readable config.json."""
        base = self.folder_base(cell)

        def rank(name):  # <base> -> 0, <base>_r<n> -> n, any other name -> None
            tail = name[len(base) + 2:] if name.startswith(base + '_r') else ''
            return 0 if name == base else (int(tail) if tail.isdigit() else None)
        self.folders()
        ranked = sorted((rank(name), name) for name in self._unconfigured if rank(name) is not None)
        return [self.log_dir / name for _, name in ranked]

    def state(self, cell, epochs):
        """(state, text) of a cell: 'not started', 'running', 'interrupted', 'stopped', 'failed', 'finished'.

        A cell without a configured run shows its newest folder without config.json, if any: a run that failed or
        was killed before writing its config (its error is in that folder's status.json), or one starting now.
        """
        run = self.current(cell)
        orphans = self.unconfigured(cell) if run is None else []
        if run is None and not orphans:
            return 'not started', 'not started'
        path = run.path if run is not None else orphans[-1]
        where = path.name
        lock = lock_state(path)
        status = read_json_or_none(path / 'status.json') or (run.status if run is not None else {})
        done = int(status.get('epochs_done', 0))
        if lock is not None and not lock[1]:
            return 'running', f'running: {describe_holder(lock[0])}, epoch {done} of {epochs} done ({where})'
        if status.get('error'):
            return 'failed', f'failed: {status["error"]} ({where})'
        if status.get('finished') and done >= epochs:
            final = read_json_or_none(path / 'final_metrics.json') or {}
            value = final.get(self.headline)
            shown = f'{self.headline} {value:.4f}' if isinstance(value, (int, float)) else 'no metrics'
            return 'finished', f'finished: {shown}, {done} epochs ({where})'
        stop = status.get('interrupted')
        if stop:
            step = stop.get('step', 0) if isinstance(stop, dict) else 0
            steps = stop.get('steps', 0) if isinstance(stop, dict) else 0
            at = f'epoch {done + 1} of {epochs} (step {step} of {steps})' if 0 < step < steps else \
                f'epoch {done} of {epochs}'
            return 'interrupted', f'interrupted at {at} ({where})'
        return 'stopped', f'stopped at epoch {done} of {epochs}, no live process ({where})'


STATES = ('not started', 'running', 'interrupted', 'stopped', 'failed', 'finished')
