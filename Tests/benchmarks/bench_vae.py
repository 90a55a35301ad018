"""VAE rows of the speed benchmark (`bench_speed.py`): one train step of every dense `model_type` against the dense
floor (section vae), and the same steps without and with the gradient monitor or straight-through (sections monitor,
straight_through). `build_vae` also builds the models of the epoch, checkpoint and memory rows."""
import tensorflow as tf

from Models.vae_hyper import XLA_WINS
from bench_floors import BATCH_N, CATEGORIES, NUM_VARS, TEMP, FloorVAE, Row, epoch_order, fmt_ratio, xla_name
from bench_table import TARGETS

VAE_MODEL_TYPES = ('GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis', 'IGR_SB_Dis',
                   'GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite', 'IGR_SB')
DENSE_DEFAULT_JIT = XLA_WINS['dense']
"""jit_compile='auto' of the dense networks: the setting of the monitor and straight-through rows."""
MONITOR_CASES = (('GS_Dis', 10), ('IGR_I_Dis', 10), ('IGR_Planar_Dis', 10), ('IGR_SB_Dis', 10), ('IGR_SB_Dis', 50))
MONITOR_SUFFIX = ' + gradient monitor'
STRAIGHT_THROUGH_CASES = tuple((m, 10) for m in ('GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis',
                                                 'IGR_SB_Dis'))
ST_SUFFIX = ' straight-through'


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


def vae_target(name):
    if name == 'IGR_SB_Dis':
        return f'<= {TARGETS["IGR_SB_Dis"]}x'
    return f'<= {TARGETS["discrete"]}x' if name.endswith('_Dis') else ''


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
