"""Stopping a run on SIGTERM / SIGUSR1 / SIGINT at the end of its current step, with a checkpoint."""
import signal
import threading




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
