"""Checkpoints of a run: the training state, rolling and milestone checkpoints, torn-write fallback."""
import os
import shutil
import sys
import time
from pathlib import Path

from Utils.runs.folders import no_fence


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
