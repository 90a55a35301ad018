"""Reference implementations the tests compare the project's code against (plain loops): not used by the project
itself."""
import tensorflow as tf

from Models.vae_hyper import MODEL_TYPES


def stick_break_iterative(eta):
    """Stick-breaking along axis 1 by a plain loop, ``pi_k = eta_k prod_{j<k} (1 - eta_j)`` (the reference of
    `Utils.relaxed.stick_breaking.stick_break`)."""
    remaining = tf.ones_like(eta[:, 0])
    pieces = []
    for k in range(eta.shape[1]):
        pieces.append(eta[:, k] * remaining)
        remaining = remaining * (1.0 - eta[:, k])
    return tf.stack(pieces, axis=1)


def dist_type_from_model_type(model_type):
    """Sampler name of a VAE ``model_type`` ('IGR_I_Dis' -> 'IGR_I'); ValueError if unknown."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f'unknown model_type {model_type!r}; valid choices are {list(MODEL_TYPES)}')
    return MODEL_TYPES[model_type][0]

