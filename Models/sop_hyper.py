"""The SOP experiment's hyper dict: valid keys, defaults and validation (no TensorFlow import).

    default_hyper(), validate_hyper(hyper, run_with_sample=None)
"""

import math

from Utils.runs import hyper_checks

SOP_MODEL_TYPES = ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB')

SMOKE_BATCH_N = 5
LEARNED = 'learned'

HYPER_KEYS = {
    'dataset_name': "'mnist' (binarized)",
    'model_type': f'one of {SOP_MODEL_TYPES}',
    'temp': 'temperature tau > 0',
    'sample_size': 'relaxed samples per image and training step',
    'test_sample_size': 'discretized samples per test image for TeNLLMS',
    'units': 'relaxed Bernoulli units per stochastic layer',
    'stochastic_layers': 'number of stochastic layers',
    'learning_rate': 'Adam learning rate',
    'batch_n': 'training batch size (5 in smoke mode)',
    'epochs': 'training epochs',
    'check_every': 'evaluate every this many epochs (and at the first and last)',
    'run_with_sample': 'smoke mode: a few dozen images, batch 5',
    'num_of_repetitions': 'runs per cell in the grid script (seeds seed, seed+1, ...)',
    'width_height': 'shape of the input half (14, 28, 1); the output is the other half',
    'iter_per_epoch': 'derived: training steps per epoch',
    'seed': 'seed of the weights, the data order and the noise',
    'save_every': 'checkpoint every this many epochs (0: only at the end; default 1, the last 2 kept); always at '
                  'the end',
    'jit_compile': "compile the steps with XLA: True, False or 'auto' (default: XLA, which `make bench` measured "
                   "faster for every SOP model, except in smoke runs); config.json records the setting used",
    'intra_op_threads': "TensorFlow's intra-op threads (0: its default); a run resumes only with the same setting",
    'unit_sigma': "scale sigma of the IGR units' Gaussian dims: 'learned' (default; the encoder outputs mu and log "
                  "sigma) or a fixed number > 0 for every unit (the encoder outputs mu only; the later original's SOP "
                  "fixed it at 1); not for GS",
}
VALID_KEYS = tuple(HYPER_KEYS)
DATASETS = ('mnist',)


def default_hyper():
    """Settings of Table 3: IGR-I, two layers of 200 units, batch 64, Adam 3e-4, 50 epochs."""
    return {'dataset_name': 'mnist', 'model_type': 'IGR_I', 'temp': 0.5, 'sample_size': 1, 'test_sample_size': 100,
            'units': 200, 'stochastic_layers': 2, 'learning_rate': 3e-4, 'batch_n': 64, 'epochs': 50,
            'check_every': 1, 'run_with_sample': False, 'num_of_repetitions': 1, 'width_height': (14, 28, 1),
            'iter_per_epoch': None, 'seed': 0, 'save_every': 1, 'jit_compile': hyper_checks.JIT_AUTO,
            'intra_op_threads': 0, 'unit_sigma': LEARNED}


def validate_hyper(hyper, run_with_sample=None):
    """Check a hyper dict and return a completed copy (defaults for missing keys). Never modifies the argument.

    Raises `Utils.runs.hyper_checks.HyperError` (a ValueError) naming an unknown key (and the valid ones) or a bad value.
    """
    h = hyper_checks.merged_hyper(hyper, VALID_KEYS, default_hyper(), run_with_sample)
    hyper_checks.check_choice('model_type', h['model_type'], SOP_MODEL_TYPES)
    hyper_checks.check_choice('dataset_name', h['dataset_name'], DATASETS)
    hyper_checks.check_number('temp', h['temp'], low=0., low_open=True)
    hyper_checks.check_number('learning_rate', h['learning_rate'], low=0., low_open=True)
    for key in ('sample_size', 'test_sample_size', 'units', 'stochastic_layers', 'batch_n', 'epochs', 'check_every',
                'num_of_repetitions'):
        hyper_checks.check_number(key, h[key], low=1, integer=True)
    for key in ('seed', 'save_every'):
        hyper_checks.check_number(key, h[key], low=0, integer=True)
    hyper_checks.check_bool('run_with_sample', h['run_with_sample'])
    hyper_checks.check_jit_compile(h['jit_compile'])
    hyper_checks.check_intra_op_threads(h['intra_op_threads'])
    _check_unit_sigma(h['unit_sigma'], h['model_type'])
    if tuple(h['width_height']) != (14, 28, 1):
        raise hyper_checks.HyperError(f'bad width_height {h["width_height"]!r}: only (14, 28, 1) (upper half of MNIST) is '
                            f'supported')
    h['width_height'] = tuple(h['width_height'])
    if h['run_with_sample']:
        h['batch_n'] = SMOKE_BATCH_N
    h['jit_compile'] = hyper_checks.resolve_jit_compile(h['jit_compile'], True, h['run_with_sample'])
    return h


def _check_unit_sigma(value, model_type):
    if value == LEARNED:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise hyper_checks.HyperError(f'bad unit_sigma {value!r}: {LEARNED!r} or a finite number > 0')
    if model_type == 'GS':
        raise hyper_checks.HyperError(f'bad unit_sigma {value!r} for model_type GS: the Binary Concrete has no scale; '
                                      f'only the IGR models ({", ".join(SOP_MODEL_TYPES[1:])}) take a fixed one')


def unit_sigma(hyper):
    """The fixed unit scale of a completed hyper dict, or None when it is learned."""
    return None if hyper['unit_sigma'] == LEARNED else float(hyper['unit_sigma'])
