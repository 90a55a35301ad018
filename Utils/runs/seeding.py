"""Seeding and threads of a run: Python, NumPy and TensorFlow seeds, TensorFlow's intra-op threads."""
import random

import numpy as np

from Utils.runs.hyper_checks import HyperError


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
