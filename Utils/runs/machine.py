"""What made a run: the machine and library versions of each training session, kept in the run's `machine.json`.

A run may be trained in several sessions (a resume after a kill, a cluster job that ran out of time), possibly on
different nodes, so the record is a list with one entry per session, from the first epoch that session trained.
Float rounding depends on the CPU, the thread count, XLA and the library versions, so this is what tells whether two
runs of the same cell can be expected to agree bit for bit.
"""
import os
import platform
import time
from pathlib import Path

from Utils.runs.folders import read_json, write_json

MACHINE_FILE = 'machine.json'


def cpu_model():
    """The CPU's model name (Linux: /proc/cpuinfo), or what the platform module knows."""
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown'


def describe_machine():
    """CPU model, usable and total cores, GPUs, the thread settings and the library versions of this process."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_probability as tfp
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None
    return {'cpu': cpu_model(), 'cpu_count': os.cpu_count(), 'cores_usable': usable,
            'gpus': [d.name for d in tf.config.list_physical_devices('GPU')],
            'intra_op_threads': tf.config.threading.get_intra_op_parallelism_threads(),
            'inter_op_threads': tf.config.threading.get_inter_op_parallelism_threads(),
            'python': platform.python_version(), 'tensorflow': tf.__version__,
            'tensorflow_probability': tfp.__version__, 'numpy': np.__version__}


def record_session(run_dir, first_epoch, fence=None):
    """Append this session (training from epoch `first_epoch`) to the run's machine.json; returns the entry."""
    path = Path(run_dir) / MACHINE_FILE
    sessions = read_json(path)['sessions'] if path.is_file() else []
    entry = {'first_epoch': int(first_epoch), 'started': time.strftime('%Y-%m-%dT%H:%M:%S'), **describe_machine()}
    write_json(path, {'sessions': sessions + [entry]}, fence)
    return entry


def summary(entry):
    """One line for train.log."""
    gpus = ', '.join(entry['gpus']) or 'no GPU'
    usable = entry['cores_usable']
    cores = f'{len(usable)} of {entry["cpu_count"]} cores' if usable is not None else f'{entry["cpu_count"]} cores'
    return (f'# machine: {entry["cpu"]}, {cores}, {gpus}, intra-op threads {entry["intra_op_threads"] or "default"}; '
            f'TensorFlow {entry["tensorflow"]}, TFP {entry["tensorflow_probability"]}, NumPy {entry["numpy"]}')


def run_machines(run_dir):
    """The CPU models that trained a run (from machine.json), with None for epochs no session recorded: a run made, or
    begun, before runs recorded their machine."""
    path = Path(run_dir) / MACHINE_FILE
    sessions = read_json(path)['sessions'] if path.is_file() else []
    unrecorded = not sessions or int(sessions[0]['first_epoch']) > 1
    return sorted({s['cpu'] for s in sessions}) + ([None] if unrecorded else [])
