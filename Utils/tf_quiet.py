"""Import TensorFlow without the lines it prints on every start, which users read as problems.

A new user running a script sees, before anything of ours:
- on a CPU-only machine, the first device query of the GPU build of TensorFlow logs
  ``E ... cuda_platform.cc:51] failed call to cuInit: ...`` (an ERROR line, so TF_CPP_MIN_LOG_LEVEL=2 keeps it);
- without TF_CPP_MIN_LOG_LEVEL, the INFO lines ``oneDNN custom operations are on ...`` and ``This TensorFlow binary
  is optimized to use available CPU instructions ...`` (with its second line ``To enable the following
  instructions: ...``);
- at the first XLA compilation, whatever the log level, ``WARNING: All log messages before absl::InitializeLog() is
  called are written to STDERR`` and ``I0000 ... Compiled cluster using XLA!  This line is logged at most once ...``.

`import_tensorflow()` routes the process's stderr (file descriptor 2, so TensorFlow's C++ logging too) through a
filter that drops exactly those lines for the rest of the process, and the CUDA probe's lines only when the machine
shows no NVIDIA device (`/dev/nvidiactl`, `/dev/nvidia0`, or NVIDIA_VISIBLE_DEVICES set), so a real driver error is
always shown. Every other line, warnings and tracebacks included, passes unchanged; at exit the filter is drained and
stderr restored. Entry points call it before anything else imports TensorFlow.
"""
import atexit
import os
import sys
import threading

PROBE_LINES = ('failed call to cuInit', 'Could not find cuda drivers on your machine')
START_LINES = ('oneDNN custom operations are on', 'This TensorFlow binary is optimized to use available CPU',
               'To enable the following instructions:',
               'All log messages before absl::InitializeLog() is called are written to STDERR',
               'Compiled cluster using XLA!  This line is logged at most once')
"""Substrings of the start-up lines dropped on every machine (each appears once per process, none is a problem)."""


def has_nvidia_device():
    return (os.path.exists('/dev/nvidiactl') or os.path.exists('/dev/nvidia0')
            or bool(os.environ.get('NVIDIA_VISIBLE_DEVICES', '').strip()))


def dropped_markers():
    """The substrings of the lines this machine's filter drops."""
    return START_LINES + (() if has_nvidia_device() else PROBE_LINES)


def import_tensorflow():
    """`import tensorflow` (and list the GPUs once) with its start-up lines filtered from stderr (see above)."""
    if 'tensorflow' not in sys.modules:
        StderrFilter.install(dropped_markers())
    import tensorflow as tf
    tf.config.list_physical_devices('GPU')
    return tf


class StderrFilter:
    """File descriptor 2 through a pipe; a thread copies each line to the real stderr unless it holds a marker."""
    _installed = None

    def __init__(self, markers):
        self.markers = tuple(m.encode() for m in markers)
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        self.saved = os.dup(2)
        os.dup2(write_end, 2)
        os.close(write_end)
        self.reader = threading.Thread(target=self._copy, args=(read_end,), daemon=True)
        self.reader.start()

    @classmethod
    def install(cls, markers):
        if cls._installed is None:
            cls._installed = cls(markers)
            atexit.register(cls._installed.close)
        return cls._installed

    def _copy(self, fd):
        with os.fdopen(fd, 'rb') as handle:
            for line in handle:
                while line and not any(marker in line for marker in self.markers):
                    line = line[os.write(self.saved, line):]

    def close(self):
        """Restore stderr and let the thread write out what is still in the pipe (e.g. a traceback)."""
        sys.stderr.flush()
        os.dup2(self.saved, 2)   # the pipe's last write end closes: the thread reads to the end and stops
        self.reader.join(timeout=5.)
        type(self)._installed = None
