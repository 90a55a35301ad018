"""Import TensorFlow without its GPU-probe error on machines that have no NVIDIA GPU.

On a CPU-only machine the first device query of the GPU build of TensorFlow logs
``E ... cuda_platform.cc:51] failed call to cuInit: ...`` (an ERROR line, so TF_CPP_MIN_LOG_LEVEL=2 keeps it), which
users read as a failure. `import_tensorflow()` imports TensorFlow and runs that first query while the process's
stderr goes through a filter that drops exactly the probe's lines, and only when the machine shows no NVIDIA device
(`/dev/nvidiactl`, `/dev/nvidia0`, or NVIDIA_VISIBLE_DEVICES set). On a GPU machine nothing is filtered, so a real
driver error is always shown. Entry points call it before anything else imports TensorFlow.
"""
import os
import sys
import threading

PROBE_LINES = ('failed call to cuInit', 'Could not find cuda drivers on your machine')


def has_nvidia_device():
    return (os.path.exists('/dev/nvidiactl') or os.path.exists('/dev/nvidia0')
            or bool(os.environ.get('NVIDIA_VISIBLE_DEVICES', '').strip()))


def import_tensorflow():
    """`import tensorflow` (and list the GPUs once) with the CUDA probe's lines dropped on machines without a GPU."""
    if 'tensorflow' in sys.modules or has_nvidia_device():
        import tensorflow as tf
        return tf
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    saved = os.dup(2)
    kept = []
    reader = threading.Thread(target=lambda: kept.append(_drain(read_end)), daemon=True)
    reader.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        import tensorflow as tf
        tf.config.list_physical_devices('GPU')
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        reader.join()
        os.write(2, b''.join(kept))
    return tf


def _drain(fd):
    """Everything written to the pipe, minus the probe's lines."""
    chunks = []
    with os.fdopen(fd, 'rb') as handle:
        for line in handle:
            if not any(marker.encode() in line for marker in PROBE_LINES):
                chunks.append(line)
    return b''.join(chunks)
