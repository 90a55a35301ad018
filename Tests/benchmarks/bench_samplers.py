"""Sampler and quadrature rows of the speed benchmark (`bench_speed.py`): `generate_sample()` of the relaxed
samplers against TFP's RelaxedOneHotCategorical, and `compute_igr_probs` on one MNIST evaluation's (image, variable)
pairs in graph mode and under XLA."""
import numpy as np
import tensorflow as tf

from bench_floors import CATEGORIES, NUM_VARS, TEMP, Row, fmt_ratio, xla_name
from bench_table import TARGETS

SAMPLERS = ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB')
SAMPLER_BATCH, SAMPLER_K, SAMPLER_VARS = 64, 50, 30


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
