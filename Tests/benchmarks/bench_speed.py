"""Speed benchmark of the VAE and SOP train steps, MNIST epochs and the relaxed samplers (`make bench`).

Prints one markdown table; every row is measured in this one process. Sections:

- vae: one train step of every `model_type` on binarized MNIST (dense networks, batch 64, 30 variables x 10
  categories; mixed types add 10 Gaussian latents), through the path `run_vae` uses (`OptVAE.train_next`: the batch
  is gathered from the device-resident training set inside the compiled step). The reference is the *floor*: the
  same `VAENet` encoder/decoder (encoder head 30 x 9 x 2, decoder input 30 x 10), Gaussian noise through a softmax
  over the 9 dimensions and a 0 (10 categories), closed-form Gaussian KL, Bernoulli likelihood, Adam, one compiled
  `tf.function` fed the same way. Rows are compared with the floor of the same XLA setting.
- monitor: train steps of the Figure 4 models (10 categories, and IGR-SB also with 50) without and with the
  vanished-gradient monitor (`monitor_gradients`), XLA on (the dense default); the ratio is to the same model
  without it (target <= 1.3x).
- straight_through: train steps of every discrete family with and without `straight_through` (one-hot forward,
  relaxed gradient), XLA on (the dense default); the ratio is to the relaxed step (target <= 1.1x).
- sop: one train step of every SOP `model_type` (batch 64, two layers of 200 units) through `SOPOptimizer.train_next`;
  floor: the same Dense layers (sized as IGR-I's: 2 parameters per unit) with Gaussian noise through a sigmoid.
- conv: one train step of every JointVAE model of Table 2 (`jv_grid.py`'s cells: `conv_jointvae`, one 10-category
  variable + Gaussian latents, the JointVAE objective) on MNIST at 32x32 (real images, resized) and at CelebA's
  64x64x3 (generated pixels of the real shape, Gaussian likelihood), against a conv floor: the same network with the
  discrete part a Gaussian through a softmax over (z, 0), closed-form Gaussian KLs and the dataset's likelihood;
  then one JointVAE MNIST epoch (937 steps + test evaluation) against 937 conv-floor steps. Conv steps are slow, so
  a quarter of `--steps` calls are timed.
- epoch: one MNIST epoch as `run_vae` runs it (937 steps with the progress bar, the epoch statistics and the
  non-finite check, then the test evaluation of all 10,000 test images), against 937 floor steps called in the
  same kind of Python loop; `--epoch-repeats` interleaved repeats, medians reported. IGR-SB with 50 categories (its
  Table 1 / Figure 3-5 setting, a larger network than the floor's) is compared with its own train-only epoch.
- sampler: `generate_sample()` of the `Utils.Distributions` samplers (batch 64, 50 categories, 30 variables) against
  `tfp.distributions.RelaxedOneHotCategorical(temp, logits).sample(S)` on the same sizes, both as compiled
  `tf.function`s; the rate counts relaxed one-hot vectors (batch x variables x samples) per second. Draws of more
  than 10 samples take ~0.1 s, so they are timed over a quarter of `--steps` calls.
- quadrature: `compute_igr_probs` (the exact IGR-I category probabilities behind `TeELBOD`) for the 10,000 x 30
  (image, variable) pairs of one MNIST evaluation (9 Gaussians each), in graph mode and under XLA (the evaluation
  always compiles it); `--quick` uses 500 images.
- memory: peak resident set size of a fresh process running one epoch and its evaluation (measured in a child
  process, since this one holds every model of the table), and of this process.

Times are the median over `--steps` timed calls per row after `--warmup` calls; the timed calls of all rows of a
section are interleaved in `--rounds` rounds, so that a change in the machine's load affects every row alike.
Run from the repository root: `python3 Tests/benchmarks/bench_speed.py [--quick]`. The timing machinery and the floors
are in `bench_floors.py`.
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))    # bench_floors, also when loaded by path

import argparse
import os
import platform
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np
import tensorflow as tf

VAE_MODEL_TYPES = ('GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis', 'IGR_SB_Dis',
                   'GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite', 'IGR_SB')
SOP_MODEL_TYPES = ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB')
SAMPLERS = ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB')
EPOCH_MODEL_TYPES = ('IGR_I_Dis', 'GS_Dis', 'IGR_SB_Dis')
from Models.vae_hyper import XLA_WINS  # noqa: E402
from bench_floors import (BATCH_N, CATEGORIES, NUM_VARS, FloorConvVAE, FloorSOP, FloorVAE, Row,  # noqa: E402
                          fmt_ratio, peak_rss_mb, time_rows, xla_name)
SAMPLER_BATCH, SAMPLER_K, SAMPLER_VARS = 64, 50, 30
TARGETS = {'discrete': 1.25, 'IGR_SB_Dis': 1.5, 'epoch': 1.3, 'epoch_own': 1.3, 'monitor': 1.3, 'sampler_IGR_I': 1.5,
           'straight_through': 1.1}
DENSE_DEFAULT_JIT = XLA_WINS['dense']
"""jit_compile='auto' of the dense networks: the setting of the monitor and straight-through rows."""
SB50_SETTINGS = {'n_required': 49, 'threshold': 0.9}
"""IGR-SB with 50 categories (Table 1's CelebA cells, the infinite-SB preset, Figures 3-5)."""
MONITOR_CASES = (('GS_Dis', 10), ('IGR_I_Dis', 10), ('IGR_Planar_Dis', 10), ('IGR_SB_Dis', 10), ('IGR_SB_Dis', 50))
MONITOR_SUFFIX = ' + gradient monitor'
STRAIGHT_THROUGH_CASES = tuple((m, 10) for m in ('GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis',
                                                 'IGR_SB_Dis'))
ST_SUFFIX = ' straight-through'
TEMP = 0.25
JV_MODEL_TYPES = ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite')
CONV_CASES = {'mnist': ((32, 32, 1), 'bernoulli'), 'celeb_a': ((64, 64, 3), 'gaussian')}
"""dataset -> (image shape, likelihood) of the conv rows; CelebA's pixels are generated (no CelebA on the machine)."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='a seconds-long check: few steps, short epochs')
    parser.add_argument('--steps', type=int, help='timed calls per row (default 200; --quick 20)')
    parser.add_argument('--warmup', type=int, help='untimed calls per row before timing (default 20; --quick 3)')
    parser.add_argument('--rounds', type=int, help='interleaved rounds per section (default 10; --quick 1)')
    parser.add_argument('--jit', choices=('off', 'on', 'both'),
                        help='XLA setting of the rows (floors are measured for each setting used; default both, '
                             '--quick off)')
    parser.add_argument('--models', default=','.join(VAE_MODEL_TYPES), help='comma-separated VAE model types')
    parser.add_argument('--sop-models', default=','.join(SOP_MODEL_TYPES), help='comma-separated SOP model types')
    parser.add_argument('--jv-models', default=','.join(JV_MODEL_TYPES),
                        help='comma-separated JointVAE model types of the conv rows')
    parser.add_argument('--samplers', default=','.join(SAMPLERS), help='comma-separated samplers')
    parser.add_argument('--sample-sizes', default='1,100', help='comma-separated sample sizes of the samplers')
    parser.add_argument('--epoch-models', default=','.join(EPOCH_MODEL_TYPES), help='model types timed per epoch')
    parser.add_argument('--epoch-steps', type=int, help='train steps of the timed epoch (default 937; --quick 50)')
    parser.add_argument('--epoch-repeats', type=int, help='timed epochs per case, interleaved with the floor epoch '
                                                          '(median reported; default 3, --quick 1)')
    parser.add_argument('--test-n', type=int, help='test images evaluated in the timed epoch (default all 10,000; '
                                                   '--quick 500, the proportion of its 50 steps to 937)')
    parser.add_argument('--skip', default='',
                        help='comma-separated sections to skip: vae,monitor,straight_through,sop,conv,epoch,sampler,'
                             'quadrature,checkpoint,'
                             'celeb_a,memory')
    parser.add_argument('--out', help='also write the table to this file')
    parser.add_argument('--memory-child', help=argparse.SUPPRESS)  # internal: the memory-measuring child process
    parser.add_argument('--celeb-a-child', type=int, help=argparse.SUPPRESS)  # internal: CelebA memory child
    args = parser.parse_args(argv)
    defaults = dict(steps=(20, 200), warmup=(3, 20), rounds=(1, 10), epoch_steps=(50, 937), epoch_repeats=(1, 3),
                    test_n=(500, None), jit=('off', 'both'))
    for key, (quick, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    split = lambda text: [t for t in text.split(',') if t]
    for key in ('models', 'sop_models', 'jv_models', 'samplers', 'epoch_models', 'skip'):
        setattr(args, key, split(getattr(args, key)))
    args.sample_sizes = [int(s) for s in split(args.sample_sizes)]
    args.jit_settings = {'off': [False], 'on': [True], 'both': [False, True]}[args.jit]
    epoch_n = 60000 // BATCH_N
    if args.epoch_repeats < 1:
        parser.error(f'--epoch-repeats must be at least 1, got {args.epoch_repeats}')
    if args.steps + args.warmup > epoch_n or args.epoch_steps > epoch_n:
        parser.error(f'--steps + --warmup and --epoch-steps must fit in one epoch ({epoch_n} steps)')
    return args


# ---------------------------------------------------------------------------------------------------------------------
# VAE rows
# ---------------------------------------------------------------------------------------------------------------------
def vae_hyper(model_type, jit, **overrides):
    from Models import train_vae as tv
    family_is_gs = model_type.startswith('GS')
    hyper = {'model_type': model_type, 'n_required': CATEGORIES if family_is_gs else CATEGORIES - 1,
             'num_of_discrete_var': NUM_VARS, 'batch_n': BATCH_N, 'temp': TEMP, 'jit_compile': jit, **overrides}
    if not model_type.endswith('_Dis'):
        hyper.update(latent_norm_n=10, num_of_norm_var=1)
    return tv.validate_hyper(hyper)


def build_vae(model_type, jit, spec, **overrides):
    from Models import train_vae as tv
    from Models.OptVAE import OptVAE
    h = vae_hyper(model_type, jit, **overrides)
    tf.keras.utils.set_random_seed(0)
    model = OptVAE(h, spec.image_shape, spec.likelihood, prior=tv.load_prior_for(h))
    return model, h


def epoch_order(n_examples, steps, epoch=1):
    from Models.train_vae import epoch_permutation
    return epoch_permutation(0, epoch, n_examples, steps, BATCH_N)


def vae_rows(args, spec, x_train):
    rows, floors, models = [], {}, {}
    n_train = len(spec.x_train)
    for jit in args.jit_settings:
        floor = FloorVAE(x_train, jit)
        floors[jit] = floor
        order = epoch_order(n_train, floor.steps)
        rows.append(Row('vae', 'floor (Gaussian softmax)', jit, floor.train_next, BATCH_N,
                        reset=lambda f=floor, o=order: f.start_epoch(o)))
        for model_type in args.models:
            model, h = build_vae(model_type, jit, spec)
            steps = model.attach_train_data(x_train)
            models[(model_type, jit)] = model
            order = epoch_order(n_train, steps)
            rows.append(Row('vae', model_type, jit, model.train_next, BATCH_N,
                            reset=lambda m=model, o=order: m.start_epoch(o)))
    return rows, floors, models


def variant_rows(section, cases, suffix, option, args, spec, x_train):
    """Train steps of each (model, categories) case without and with one option switched on, with the default XLA
    setting of the dense networks (on)."""
    rows = []
    for model_type, categories in cases:
        if model_type not in args.models:
            continue
        for on in (False, True):
            overrides = {option: on}
            if categories != CATEGORIES:
                overrides['n_required'] = categories if model_type.startswith('GS') else categories - 1
            model, _ = build_vae(model_type, DENSE_DEFAULT_JIT, spec, **overrides)
            order = epoch_order(len(spec.x_train), model.attach_train_data(x_train))
            name = f'{model_type} K={categories}' + (suffix if on else '')
            rows.append(Row(section, name, DENSE_DEFAULT_JIT, model.train_next, BATCH_N,
                            reset=lambda m=model, o=order: m.start_epoch(o)))
    return rows


def variant_lines(section, rows, suffix, target=None):
    """Each row with the option on against the same model without it (and the target ratio when there is one)."""
    lines = []
    plain = {r.name: r for r in rows if not r.name.endswith(suffix)}
    for row in rows:
        if row.error:
            lines.append(f'| {section} | {row.name} | {xla_name(row.jit)} | n/a | {row.error} | | |')
            continue
        ref = plain.get(row.name[:-len(suffix)]) if row.name.endswith(suffix) else None
        ratio = row.median_ms / ref.median_ms if ref is not None and ref.times else None
        goal = '' if ratio is None or target is None else (
            f'<= {target}x' + (' (met)' if ratio <= target else ' (missed)'))
        lines.append(f'| {section} | {row.name} | {xla_name(row.jit)} | {row.median_ms:.2f} | {row.rate:,.0f} img/s | '
                     f'{fmt_ratio(ratio)} | {goal} |')
    return lines


# ---------------------------------------------------------------------------------------------------------------------
# SOP rows
# ---------------------------------------------------------------------------------------------------------------------
def sop_rows(args, spec):
    from Models import SOPOptimizer as so
    upper, lower = (tf.constant(half) for half in so.split_halves(spec.x_train))  # one copy shared by all models
    rows, floors = [], {}
    for jit in args.jit_settings:
        floor = FloorSOP(upper, lower, jit)
        floors[jit] = floor
        order = epoch_order(len(upper), floor.steps)
        rows.append(Row('sop', 'floor (Gaussian sigmoid)', jit, floor.train_next, BATCH_N,
                        reset=lambda f=floor, o=order: f.start_epoch(o)))
        for model_type in args.sop_models:
            tf.keras.utils.set_random_seed(0)
            model = so.SOPOptimizer(so.validate_hyper({'model_type': model_type, 'batch_n': BATCH_N,
                                                       'jit_compile': jit}))
            steps = model.attach_train_data(upper, lower)
            order = epoch_order(len(upper), steps)
            rows.append(Row('sop', model_type, jit, model.train_next, BATCH_N,
                            reset=lambda m=model, o=order: m.start_epoch(o)))
    return rows, floors


# ---------------------------------------------------------------------------------------------------------------------
# Conv (JointVAE) rows
# ---------------------------------------------------------------------------------------------------------------------
def jv_cell(model_type, dataset_name):
    """Table 2's hyper dict of one JointVAE model on one dataset (`jv_grid.py`, first temperature and seed)."""
    from vae_experiments import jv_grid
    return next(c for c in jv_grid.grid_cells('table2')
                if c['model_type'] == model_type and c['dataset_name'] == dataset_name)


def conv_images(dataset_name, count):
    """Training images of a conv case: real MNIST at 32x32; generated pixels in [0, 1] of CelebA's shape."""
    if dataset_name == 'mnist':
        from Utils.load_data import load_dataset
        return load_dataset('mnist', 'conv_jointvae').x_train
    shape, _ = CONV_CASES[dataset_name]
    return np.random.default_rng(0).uniform(size=(count,) + shape).astype(np.float32)


def build_jv(model_type, dataset_name, jit):
    from Models import train_vae as tv
    from Models.OptVAE import OptVAE
    h = tv.validate_hyper({**jv_cell(model_type, dataset_name), 'batch_n': BATCH_N, 'jit_compile': jit})
    shape, likelihood = CONV_CASES[dataset_name]
    tf.keras.utils.set_random_seed(0)
    return OptVAE(h, shape, likelihood, prior=tv.load_prior_for(h)), h


def conv_rows(args):
    """Rows (section 'conv <dataset>') of the conv floor and every JointVAE model, per XLA setting."""
    rows, floors = [], {}
    for dataset_name, (_, likelihood) in CONV_CASES.items():
        section = f'conv {dataset_name}'
        x_train = tf.constant(conv_images(dataset_name, BATCH_N * (conv_steps(args) + args.warmup + 1)))
        cont_n = jv_cell(JV_MODEL_TYPES[0], dataset_name)['latent_norm_n']
        for jit in args.jit_settings:
            floor = FloorConvVAE(x_train, likelihood, cont_n, jit)
            floors[(dataset_name, jit)] = floor
            order = epoch_order(int(x_train.shape[0]), floor.steps)
            rows.append(Row(section, 'conv floor (Gaussian softmax)', jit, floor.train_next, BATCH_N,
                            reset=lambda f=floor, o=order: f.start_epoch(o)))
            for model_type in args.jv_models:
                model, _ = build_jv(model_type, dataset_name, jit)
                order = epoch_order(int(x_train.shape[0]), model.attach_train_data(x_train))
                rows.append(Row(section, f'JointVAE {model_type}', jit, model.train_next, BATCH_N,
                                reset=lambda m=model, o=order: m.start_epoch(o)))
    return rows, floors


def conv_steps(args):
    return max(args.steps // 4, 2)


def conv_lines(args):
    rows, floors = conv_rows(args)
    lines = []
    for section in sorted({r.section for r in rows}, reverse=True):  # mnist first
        part = [r for r in rows if r.section == section]
        time_rows(part, conv_steps(args), min(args.warmup, conv_steps(args)), args.rounds)
        lines += step_lines(part, 'conv floor (Gaussian softmax)', lambda name: '')
    if args.jv_models:
        lines += jv_epoch_lines(args)
    return lines


def jv_epoch_lines(args):
    """One JointVAE MNIST epoch of the first `--jv-models` model (train steps + test evaluation, as `run_vae` runs
    it) against the same number of conv-floor steps; median over `--epoch-repeats` interleaved repeats."""
    from Utils.load_data import load_dataset
    spec = load_dataset('mnist', 'conv_jointvae')
    x_train = tf.constant(spec.x_train)
    model_type, lines = args.jv_models[0], []
    for jit in args.jit_settings:
        floor = FloorConvVAE(x_train, spec.likelihood, jv_cell(model_type, 'mnist')['latent_norm_n'], jit)
        model, _ = build_jv(model_type, 'mnist', jit)
        model.attach_train_data(x_train)
        floor_s, timings = [], []
        for _ in range(args.epoch_repeats):
            floor_s.append(time_floor_epoch(floor, len(spec.x_train), args.epoch_steps))
            timings.append(time_epoch(model, spec, args.epoch_steps, args.test_n))
        train_s, eval_s = (np.median(column) for column in zip(*timings))
        ratio = float(np.median([(t + e) / f for (t, e), f in zip(timings, floor_s)]))
        lines.append(f'| epoch | JointVAE conv floor: {args.epoch_steps} steps | {xla_name(jit)} | '
                     f'{1e3 * np.median(floor_s):.0f} | {args.epoch_steps * BATCH_N / np.median(floor_s):,.0f} img/s '
                     f'| | |')
        lines.append(f'| epoch | JointVAE {model_type}: {args.epoch_steps} steps + test evaluation | {xla_name(jit)} | '
                     f'{1e3 * (train_s + eval_s):.0f} | train {train_s:.2f} s, eval {eval_s:.2f} s | '
                     f'{fmt_ratio(ratio)} of floor epoch | |')
    return lines


# ---------------------------------------------------------------------------------------------------------------------
# Epochs
# ---------------------------------------------------------------------------------------------------------------------
def time_epoch(model, spec, steps, test_n):
    """One epoch the way `run_vae` runs it: (train seconds, evaluation seconds)."""
    from Models import train_vae as tv
    from Utils.runs import checkpointing, logs
    x_test = spec.x_test[:test_n] if test_n else spec.x_test
    test_batches = tv._test_batches(x_test)
    all_steps = len(spec.x_train) // BATCH_N
    model.start_epoch(epoch_order(len(spec.x_train), all_steps, epoch=2))
    model.train_next()  # trace/compile both steps outside the timed epoch
    model.test_step(test_batches[0])
    model.start_epoch(epoch_order(len(spec.x_train), all_steps, epoch=2))
    bar = logs.ProgressBar(steps, 'bench', enabled=False)
    tic = time.perf_counter()
    for step in range(1, steps + 1):
        model.train_next()
        bar.update(step)
    model.epoch_stats()
    bar.close()
    train_s = time.perf_counter() - tic
    tic = time.perf_counter()
    model.evaluate(test_batches)
    return train_s, time.perf_counter() - tic


def time_tf_data_epoch(model, spec, steps):
    """`steps` train steps fed by the cached, shuffled, prefetched `make_tf_datasets` pipeline (seconds)."""
    from Utils.load_data import make_tf_datasets
    train, _ = make_tf_datasets(spec, BATCH_N, seed=0)
    batches = iter(train.repeat())
    model.train_step(next(batches))  # trace outside the timed loop
    tic = time.perf_counter()
    for _ in range(steps):
        model.train_step(next(batches))
    np.asarray(model.loss_sum)
    return time.perf_counter() - tic


def time_floor_epoch(floor, n_train, steps):
    """`steps` floor steps called in a Python loop, as an epoch calls them (seconds)."""
    floor.start_epoch(epoch_order(n_train, floor.steps, epoch=2))
    floor.train_next()
    floor.start_epoch(epoch_order(n_train, floor.steps, epoch=2))
    tic = time.perf_counter()
    for _ in range(steps):
        floor.train_next()
    np.asarray(floor.net.trainable_variables[0][0, 0])
    return time.perf_counter() - tic


def epoch_cases(args, spec, models, jit, x_train):
    """[(label, model)] of the epoch section for one XLA setting (models of the vae section are reused)."""
    from Models import train_vae as tv
    cases = [(model_type, {}, '') for model_type in args.epoch_models]
    if 'IGR_I_Dis' in args.epoch_models and 'discrete_probs' in tv.HYPER_KEYS:
        cases.append(('IGR_I_Dis', {'discrete_probs': 'monte_carlo'}, ', discrete_probs=monte_carlo'))
    if 'IGR_SB_Dis' in args.epoch_models:
        cases.append(('IGR_SB_Dis', SB50_SETTINGS, ' K=50'))
    built = []
    for model_type, overrides, suffix in cases:
        model = None if overrides else models.get((model_type, jit))
        if model is None:
            model, _ = build_vae(model_type, jit, spec, **overrides)
            model.attach_train_data(x_train)
        built.append((model_type + suffix, model))
    return built


def epoch_lines(args, spec, models, floors, x_train):
    """Every repeat times the floor epoch and then each case's epoch; the ratio of a case is the median over the
    repeats of its epoch over the floor epoch of the same repeat (neighbours in time share the machine's load)."""
    lines = []
    for jit in args.jit_settings:
        floor = floors.get(jit) or FloorVAE(x_train, jit)
        cases = epoch_cases(args, spec, models, jit, x_train)
        floor_s, timings = [], {label: [] for label, _ in cases}
        for _ in range(args.epoch_repeats):
            floor_s.append(time_floor_epoch(floor, len(spec.x_train), args.epoch_steps))
            for label, model in cases:
                timings[label].append(time_epoch(model, spec, args.epoch_steps, args.test_n))
        lines.append(f'| epoch | floor: {args.epoch_steps} steps | {xla_name(jit)} | {1e3 * np.median(floor_s):.0f} | '
                     f'{args.epoch_steps * BATCH_N / np.median(floor_s):,.0f} img/s | | |')
        for label, _ in cases:
            train_s, eval_s = (np.median(column) for column in zip(*timings[label]))
            ratio = float(np.median([(t + e) / f for (t, e), f in zip(timings[label], floor_s)]))
            own = float(np.median([(t + e) / t for t, e in timings[label]]))
            if label.endswith(' K=50'):    # 50 categories: a larger network than the floor's; its own train epoch
                versus, goal = f'{fmt_ratio(own)} of its train-only epoch', TARGETS['epoch_own']
                met = own <= goal
            else:
                versus, goal = f'{fmt_ratio(ratio)} of floor epoch ({fmt_ratio(own)} of its train-only)', \
                    TARGETS['epoch']
                met = ratio <= goal
            lines.append(f'| epoch | {label}: {args.epoch_steps} steps + test evaluation | {xla_name(jit)} | '
                         f'{1e3 * (train_s + eval_s):.0f} | train {train_s:.2f} s, eval {eval_s:.2f} s | '
                         f'{versus} | <= {goal}x ({"met" if met else "missed"}) |')
        if args.epoch_models and not jit:
            model_type = 'GS_Dis' if 'GS_Dis' in args.epoch_models else args.epoch_models[-1]
            model = models.get((model_type, jit)) or build_vae(model_type, jit, spec)[0]
            data_s = time_tf_data_epoch(model, spec, args.epoch_steps)
            lines.append(f'| epoch | {model_type}: {args.epoch_steps} steps fed by tf.data (make_tf_datasets), no '
                         f'evaluation | {xla_name(jit)} | {1e3 * data_s:.0f} | '
                         f'{args.epoch_steps * BATCH_N / data_s:,.0f} img/s | {fmt_ratio(data_s / floor_s[-1])} of '
                         f'the last floor epoch | |')
    return lines


def memory_child(args):
    """Body of the child process that measures the memory of one training epoch (train + evaluation)."""
    from Utils.load_data import load_dataset
    spec = load_dataset('mnist', 'dense')
    model, _ = build_vae(args.memory_child, False, spec)
    model.attach_train_data(spec.x_train)
    time_epoch(model, spec, args.epoch_steps, args.test_n)
    print(f'peak_rss_mb {peak_rss_mb():.1f}')


def child_peak_rss_mb(args, model_type):
    """Peak RSS of a fresh process that loads MNIST, builds `model_type` and runs one epoch with its evaluation."""
    import subprocess
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), '--memory-child', model_type,
               '--epoch-steps', str(args.epoch_steps)] + (['--test-n', str(args.test_n)] if args.test_n else [])
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return float(out.split('peak_rss_mb')[-1].split()[0])


CELEB_A_TRAIN_N = 162_770


def celeb_a_child(n_images):
    """Child body: on mock CelebA of `n_images` per split (the real 218x178x3 uint8 features), build the cache, load
    the full-size path and train one GS_Dis epoch (conv_jointvae 64x64x3, batch 64) with its test evaluation."""
    import tempfile
    import tensorflow_datasets as tfds
    from Utils import load_data
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(TFDS_DATA_DIR=f'{folder}/tfds', IGR_DATA_DIR=f'{folder}/data')
        with tfds.testing.mock_data(num_examples=n_images, policy=tfds.testing.MockPolicy.USE_CODE):
            tic = time.perf_counter()
            spec = load_data.load_dataset('celeb_a', 'conv_jointvae')
            prepare_s = time.perf_counter() - tic
            load_rss = peak_rss_mb()
            cache_mb = sum(load_data.celeb_a_cache_path(s).stat().st_size for s in ('train', 'test')) / 2 ** 20
            model, _ = build_vae('GS_Dis', False, spec, dataset_name='celeb_a', architecture='conv_jointvae')
            model.attach_train_data(spec.x_train)
            train_s, eval_s = time_epoch(model, spec, len(spec.x_train) // BATCH_N, None)
    print(f'celeb_a {prepare_s:.3f} {load_rss:.1f} {peak_rss_mb():.1f} {cache_mb:.2f} {train_s:.3f} {eval_s:.3f}')


def celeb_a_lines(args):
    """Peak RSS of CelebA's full-size path for two sizes, the growth per image and the projection to the real split."""
    import subprocess
    sizes = (128, 256) if args.quick else (2048, 6144)
    results = {}
    for n in sizes:
        command = [sys.executable, str(pathlib.Path(__file__).resolve()), '--celeb-a-child', str(n)]
        out = subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        results[n] = [float(v) for v in out.split('celeb_a')[-1].split()]
    (n1, r1), (n2, r2) = sorted(results.items())
    lines = []
    for n, (prepare_s, load_rss, epoch_rss, cache_mb, train_s, eval_s) in sorted(results.items()):
        lines.append(f'| celeb_a memory | mock CelebA, {n} images per split: cache built + loaded (full-size path) | '
                     f'off | {1000 * prepare_s / (2 * n):.2f} per image | {load_rss:,.0f} MB | cache '
                     f'{cache_mb:,.1f} MB | |')
        lines.append(f'| celeb_a memory | ... + one GS_Dis epoch ({n // BATCH_N} steps, 64x64x3) + evaluation | off | '
                     f'{1000 * train_s / (n // BATCH_N):.1f} per step | {epoch_rss:,.0f} MB | | |')
    per_image_kb = 1024 * (r2[2] - r1[2]) / (n2 - n1)
    projected = r2[2] + (CELEB_A_TRAIN_N - n2) * per_image_kb / 1024
    lines.append(f'| celeb_a memory | growth of the epoch peak per training image; projection to {CELEB_A_TRAIN_N:,} '
                 f'| | {per_image_kb:.2f} KB per image | {projected:,.0f} MB projected | | < 3 GB '
                 f'{"met" if projected < 3072 else "MISSED"} |')
    prepare_per_image = r2[0] / (2 * n2)
    lines.append(f'| celeb_a cache | preprocessing time and size projected to the real splits (162,770 + 19,962) | | '
                 f'{prepare_per_image * 182_732 / 60:.1f} min | {182_732 * 64 * 64 * 3 / 2 ** 30:.2f} GiB on disk '
                 f'| | |')
    return lines


# ---------------------------------------------------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------------------------------------------------
def sampler_rows(args):
    import tensorflow_probability as tfp
    from Utils import Distributions as dist
    rng = np.random.default_rng(0)
    b, k, v = SAMPLER_BATCH, SAMPLER_K, SAMPLER_VARS
    log_pi = tf.constant(np.log(rng.dirichlet(np.ones(k), size=(b, v))).astype(np.float32))  # (b, v, K)
    log_pi_ours = tf.transpose(log_pi, [0, 2, 1])[:, :, None, :]                          # (b, K, 1, v)
    mu = tf.constant(rng.normal(0., 1., (b, k - 1, 1, v)).astype(np.float32))
    xi = tf.constant(rng.normal(-1., 0.3, (b, k - 1, 1, v)).astype(np.float32))
    flow = dist.PlanarFlow(k - 1, v, seed=0)
    makers = {
        'GS': lambda s: dist.GS(log_pi_ours, TEMP, s).generate_sample(),
        'IGR_I': lambda s: dist.IGR_I(mu, xi, TEMP, s).generate_sample(),
        'IGR_Planar': lambda s: dist.IGR_Planar(mu, xi, TEMP, flow, s).generate_sample(),
        'IGR_SB': lambda s: dist.IGR_SB(mu, xi, TEMP, s, threshold=0.99).generate_sample(),
        'TFP RelaxedOneHotCategorical': lambda s: tfp.distributions.RelaxedOneHotCategorical(
            TEMP, logits=log_pi).sample(s),
    }
    rows = []
    for jit in args.jit_settings:
        for s in args.sample_sizes:
            for name in ['TFP RelaxedOneHotCategorical'] + list(args.samplers):
                if jit and name == 'IGR_SB':
                    continue  # psi has a data-dependent shape (n_required + 1 categories): XLA crashes on it (TF 2.20)
                fn = tf.function(lambda s=s, name=name: makers[name](s), jit_compile=jit, autograph=False)
                rows.append(Row('sampler', f'{name} S={s}', jit, fn, b * v * s))
    return rows


def quadrature_rows(args):
    """compute_igr_probs on one evaluation's worth of (image, variable) pairs; mu and sigma spread like an encoder's."""
    from Utils import Distributions as dist
    rng = np.random.default_rng(0)
    images = args.test_n or 10_000
    shape = (images, CATEGORIES - 1, NUM_VARS)
    mu = tf.constant(rng.normal(0.0, 2.0, shape).astype(np.float32))
    sigma = tf.constant(np.exp(rng.normal(-1.0, 0.7, shape)).astype(np.float32))
    rows = []
    for jit in (False, True):
        fn = tf.function(lambda: dist.compute_igr_probs(mu, sigma), jit_compile=jit, autograph=False)
        rows.append(Row('quadrature', f'compute_igr_probs, {images:,} images x {NUM_VARS} variables',
                        jit, fn, images * NUM_VARS))
    return rows


def quadrature_lines(rows):
    lines = []
    graph = next((r for r in rows if not r.jit and r.times), None)
    for row in rows:
        ratio = row.median_ms / graph.median_ms if graph is not None and row is not graph and row.times else None
        lines.append(f'| quadrature | {row.name} | {xla_name(row.jit)} | {row.median_ms:.0f} | '
                     f'{row.rate / 1e3:,.0f} k pairs/s | {fmt_ratio(ratio)} | |')
    return lines


# ---------------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------------
HEADER = ('| section | case | XLA | median ms | rate | vs reference | target |',
          '|---|---|---|---:|---:|---:|---|')


def checkpoint_lines(args, spec):
    """Cost of the every-epoch checkpoint (weights, Adam state, counters; the last 2 kept) against a training epoch
    of the same model (the goal in docs/hpc.md, "Wall time, preemption, resubmission": under 2% of an MNIST epoch)."""
    import statistics
    import tempfile
    from Utils.runs import checkpointing, logs
    model_type = args.epoch_models[0] if args.epoch_models else 'IGR_I_Dis'
    model, _ = build_vae(model_type, False, spec)
    model.attach_train_data(spec.x_train)
    train_s, _ = time_epoch(model, spec, args.epoch_steps, 1)
    saves = []
    with tempfile.TemporaryDirectory() as folder:
        checkpoints = checkpointing.Checkpoints(folder, **model.trackables())
        for epoch in range(1, 4 if args.quick else 8):
            tic = time.perf_counter()
            checkpoints.save_epoch(epoch)
            saves.append(time.perf_counter() - tic)
    save = statistics.median(saves[1:] if len(saves) > 2 else saves)
    share = 100. * save / (train_s * (60000 // BATCH_N) / args.epoch_steps)
    return [f'| checkpoint | {model_type}: one epoch checkpoint (keep 2), vs its 937-step training epoch | off | '
            f'{1000 * save:.1f} | {share:.2f}% of the epoch | | < 2% {"met" if share < 2 else "MISSED"} |']


def step_lines(rows, floor_name, target_of):
    lines = []
    floors = {r.jit: r for r in rows if r.name == floor_name}
    for row in rows:
        if row.error:
            lines.append(f'| {row.section} | {row.name} | {xla_name(row.jit)} | n/a | {row.error} | | |')
            continue
        floor = floors.get(row.jit)
        ratio = row.median_ms / floor.median_ms if floor and row is not floor and floor.times else None
        target = '' if row is floor else target_of(row.name)
        ok = '' if ratio is None or not target else (' (met)' if ratio <= float(target[2:-1]) else ' (missed)')
        lines.append(f'| {row.section} | {row.name} | {xla_name(row.jit)} | {row.median_ms:.2f} | '
                     f'{row.rate:,.0f} img/s | {fmt_ratio(ratio)} | {target}{ok} |')
    return lines


def vae_target(name):
    if name == 'IGR_SB_Dis':
        return f'<= {TARGETS["IGR_SB_Dis"]}x'
    return f'<= {TARGETS["discrete"]}x' if name.endswith('_Dis') else ''


def sampler_lines(rows):
    lines = []
    refs = {(r.jit, r.name.split('S=')[1]): r for r in rows if r.name.startswith('TFP')}
    for row in rows:
        if row.error:
            lines.append(f'| sampler | {row.name} | {xla_name(row.jit)} | n/a | {row.error} | | |')
            continue
        ref = refs.get((row.jit, row.name.split('S=')[1]))
        is_ref = ref is row
        ratio = row.median_ms / ref.median_ms if ref is not None and not is_ref and ref.times else None
        target = f'<= {TARGETS["sampler_IGR_I"]}x' if row.name.startswith('IGR_I ') else ''
        ok = '' if ratio is None or not target else (' (met)' if ratio <= TARGETS['sampler_IGR_I'] else ' (missed)')
        lines.append(f'| sampler | {row.name} | {xla_name(row.jit)} | {row.median_ms:.2f} | '
                     f'{row.rate / 1e6:.2f} M vec/s | {fmt_ratio(ratio)} | {target}{ok} |')
    return lines


def machine_line(args):
    load = os.getloadavg() if hasattr(os, 'getloadavg') else (float('nan'),) * 3
    return (f'# {platform.node()} {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; '
            f'TF {tf.__version__}, Python {platform.python_version()}; steps {args.steps} (median), warm-up '
            f'{args.warmup}, rounds {args.rounds}, epoch steps {args.epoch_steps}')


class SectionLog(list):
    """The table's lines; each section's lines also go to stderr as soon as they are added (a full run takes most of
    an hour on 2 cores)."""

    def __iadd__(self, new_lines):
        print('\n'.join(new_lines), file=sys.stderr, flush=True)
        return super().__iadd__(new_lines)


def main(argv=None):
    args = parse_args(argv)
    if args.memory_child:
        return memory_child(args)
    if args.celeb_a_child:
        return celeb_a_child(args.celeb_a_child)
    from Utils.load_data import load_dataset
    tic_all = time.perf_counter()
    spec = load_dataset('mnist', 'dense')
    x_train = tf.constant(spec.x_train)  # the training images as one tensor, read by every section's models
    lines = SectionLog([machine_line(args), *HEADER])
    vae_floors, models = {}, {}
    if 'vae' not in args.skip:
        rows, vae_floors, models = vae_rows(args, spec, x_train)
        time_rows(rows, args.steps, args.warmup, args.rounds)
        lines += step_lines(rows, 'floor (Gaussian softmax)', vae_target)
    if 'monitor' not in args.skip:
        rows = variant_rows('monitor', MONITOR_CASES, MONITOR_SUFFIX, 'monitor_gradients', args, spec, x_train)
        time_rows(rows, args.steps, args.warmup, args.rounds)
        lines += variant_lines('monitor', rows, MONITOR_SUFFIX, TARGETS['monitor'])
    if 'straight_through' not in args.skip:
        rows = variant_rows('straight_through', STRAIGHT_THROUGH_CASES, ST_SUFFIX, 'straight_through', args, spec,
                            x_train)
        time_rows(rows, args.steps, args.warmup, args.rounds)
        lines += variant_lines('straight_through', rows, ST_SUFFIX, TARGETS['straight_through'])
    if 'sop' not in args.skip:
        rows, _ = sop_rows(args, spec)
        time_rows(rows, args.steps, args.warmup, args.rounds)
        lines += step_lines(rows, 'floor (Gaussian sigmoid)', lambda name: '')
    if 'conv' not in args.skip:
        lines += conv_lines(args)
    if 'epoch' not in args.skip:
        lines += epoch_lines(args, spec, models, vae_floors, x_train)
    if 'sampler' not in args.skip:
        rows = sampler_rows(args)
        for size in args.sample_sizes:  # large draws take ~0.1 s a call: fewer calls suffice for a stable median
            sized = [r for r in rows if r.name.endswith(f'S={size}')]
            steps = args.steps if size <= 10 else max(args.steps // 4, 2)
            time_rows(sized, steps, min(args.warmup, max(steps // 4, 1)), args.rounds)
        lines += sampler_lines(rows)
    if 'quadrature' not in args.skip:
        rows = quadrature_rows(args)  # ~1 s a call: a few calls give a stable median
        time_rows(rows, 5 if args.steps >= 50 else 1, 1, min(args.rounds, 5))
        lines += quadrature_lines(rows)
    if 'checkpoint' not in args.skip:
        lines += checkpoint_lines(args, spec)
    if 'celeb_a' not in args.skip:
        lines += celeb_a_lines(args)
    if 'memory' not in args.skip:
        model_type = args.epoch_models[0] if args.epoch_models else 'IGR_I_Dis'
        lines.append(f'| memory | peak RSS, one {model_type} epoch + evaluation in a fresh process | off | | '
                     f'{child_peak_rss_mb(args, model_type):,.0f} MB | | |')
    lines.append(f'| memory | peak RSS of this benchmark process (every model above alive) | | | '
                 f'{peak_rss_mb():,.0f} MB | | |')
    lines.append(f'# total benchmark time {time.perf_counter() - tic_all:.0f} s')
    text = '\n'.join(lines)
    print(text, flush=True)
    if args.out:
        pathlib.Path(args.out).write_text(text + '\n')
    return text


if __name__ == '__main__':
    main()
