"""Conv rows of the speed benchmark (`bench_speed.py`): one train step of every JointVAE model of Table 2 on MNIST
(32x32) and at CelebA's 64x64x3 against the conv floor, and one JointVAE MNIST epoch against conv-floor steps."""
import numpy as np
import tensorflow as tf

from bench_epochs import time_epoch, time_floor_epoch
from bench_floors import BATCH_N, FloorConvVAE, Row, epoch_order, fmt_ratio, time_rows, xla_name
from bench_table import step_lines

JV_MODEL_TYPES = ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite')
CONV_CASES = {'mnist': ((32, 32, 1), 'bernoulli'), 'celeb_a': ((64, 64, 3), 'gaussian')}
"""dataset -> (image shape, likelihood) of the conv rows; CelebA's pixels are generated (no CelebA on the machine)."""


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
