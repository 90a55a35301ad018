"""Checks of hyper dicts: unknown keys, choices, numbers, derived values; a bad value is one HyperError naming it
and the valid choices."""
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np



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


def check_epoch_list(key, value):
    """A list or tuple of epoch numbers >= 1 (may be empty)."""
    if not isinstance(value, (list, tuple)):
        raise HyperError(f'bad {key} {value!r}: expected a list of epochs, e.g. [1, 10, 25, 50, 100]')
    for epoch in value:
        check_number(f'{key} entry', epoch, low=1, integer=True)


def check_intra_op_threads(value):
    """`intra_op_threads`: 0 (TensorFlow's default, one thread per core) or a positive thread count."""
    check_number('intra_op_threads', value, low=0, integer=True)
