"""Reference implementations the tests compare the project's code against (plain loops, tf.data): not used by the
project itself."""
import tensorflow as tf

from Utils.load_data import test_batch_size


def stick_break_iterative(eta):
    """Stick-breaking along axis 1 by a plain loop, ``pi_k = eta_k prod_{j<k} (1 - eta_j)`` (the reference of
    `Utils.relaxed.stick_breaking.stick_break`)."""
    remaining = tf.ones_like(eta[:, 0])
    pieces = []
    for k in range(eta.shape[1]):
        pieces.append(eta[:, k] * remaining)
        remaining = remaining * (1.0 - eta[:, k])
    return tf.stack(pieces, axis=1)


def make_tf_datasets(spec, batch_n, seed, test_batch_n=None):
    """Cached, shuffled (seeded, reshuffled each epoch), batched, prefetched tf.data pipelines of a
    `Utils.load_data.DataSpec` (the alternative to the project's in-memory batches that the speed benchmark measures).

    The training set drops its last partial batch so every step has the static shape `(batch_n, H, W, C)`;
    the test set uses a batch size that divides its size, so no image is dropped or repeated.
    Returns (train_ds, test_ds).
    """
    test_batch_n = test_batch_n or test_batch_size(len(spec.x_test))
    train = (tf.data.Dataset.from_tensor_slices(spec.x_train).cache()
             .shuffle(len(spec.x_train), seed=seed, reshuffle_each_iteration=True)
             .batch(batch_n, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    test = (tf.data.Dataset.from_tensor_slices(spec.x_test).cache()
            .batch(test_batch_n, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    return train, test
