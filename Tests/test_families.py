"""The family table (`Utils.relaxed.families`): every caller samples through it, and it agrees with references
written independently here (float64 numpy, TFP's bijectors and distributions).

Tolerances: float64 references 1e-12 relative (the same formulas in another order of operations); float32 results
(the planar flow, a Keras layer that computes in float32, and the SOP units) 1e-5 relative, 1e-6 absolute.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from Models.SOP import BernoulliUnits
from Models.latents import LATENTS
from Models.sop_hyper import SOP_MODEL_TYPES
from Models.vae_hyper import MODEL_TYPES
from Tests.reference import stick_break_iterative
from Utils import Distributions as D
from Utils.MinimizeEmpiricalLoss import psi_from_noise
from Utils.relaxed import noise as noise_lib
from Utils.relaxed.families import FAMILIES, get_family
from Utils.relaxed.planar import PlanarFlow

tfb, tfd = tfp.bijectors, tfp.distributions
REPO = Path(__file__).resolve().parents[1]
F64 = tf.float64


def params_and_noise(name, dtype=np.float64, b=3, n=4, samples=5, v=2, seed=0):
    """Encoder-like parameters (b, n, 1, v) and the family's noise (b, n, S, v) as numpy."""
    rng = np.random.default_rng(seed)
    if name == 'GS':
        params = [rng.normal(size=(b, n, 1, v))]
        noise = -np.log(-np.log(rng.uniform(size=(b, n, samples, v))))
    else:
        params = [rng.normal(size=(b, n, 1, v)), 0.5 * rng.normal(size=(b, n, 1, v))]
        noise = rng.normal(size=(b, n, samples, v))
    return [p.astype(dtype) for p in params], noise.astype(dtype)


def np_softmax_pp(x):
    """softmax over (x_1..x_n, 0) along axis 1 (float64 numpy)."""
    full = np.concatenate([x, np.zeros_like(x[:, :1])], axis=1)
    e = np.exp(full - full.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_planar(z, layers):
    """Planar layers f(z) = z + u_hat tanh(w.z + b) on axis 1, u_hat = u + (softplus(w.u) - 1 - w.u) w / |w|^2."""
    for w, u, b in layers:
        wu = np.sum(w * u, axis=1, keepdims=True)
        u_hat = u + (np.log1p(np.exp(wu)) - 1. - wu) * w / np.sum(w * w, axis=1, keepdims=True)
        z = z + u_hat * np.tanh(np.sum(w * z, axis=1, keepdims=True) + b)
    return z


def np_nearest_rank_pieces(lam, threshold, quantile=70.):
    needed = 1 + np.sum(np.cumsum(lam, axis=1) <= threshold, axis=1).ravel()
    statistic = np.sort(needed)[int(np.ceil(quantile / 100. * needed.size)) - 1]
    return min(statistic, lam.shape[1])


# ---------------------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------------------
def test_every_table_of_families_is_keyed_by_the_family_table():
    assert set(LATENTS) == set(FAMILIES) and all(LATENTS[k].family is FAMILIES[k] for k in FAMILIES)
    assert set(D.SAMPLERS) == set(FAMILIES) and all(D.SAMPLERS[k].family is FAMILIES[k] for k in FAMILIES)
    assert {family for family, _ in MODEL_TYPES.values()} == set(FAMILIES)
    for name in SOP_MODEL_TYPES:
        assert FAMILIES[name].bernoulli_units(0.5, PlanarFlow(1, 3, seed=0)).temp == 0.5
    with pytest.raises(ValueError, match='IGR_SB_Finite has no relaxed Bernoulli units'):
        FAMILIES['IGR_SB_Finite'].bernoulli_units(0.5)
    with pytest.raises(ValueError, match="unknown model_type 'IGR_X'; valid choices are .*'GS', 'IGR_I'"):
        get_family('IGR_X')


def test_family_sizes():
    assert [FAMILIES[k].categories(9) for k in ('GS', 'IGR_I', 'IGR_SB')] == [9, 10, 10]
    assert [FAMILIES[k].params_n(10) for k in ('GS', 'IGR_Planar', 'IGR_SB_Finite')] == [10, 9, 9]
    assert [FAMILIES[k].prior_family for k in ('IGR_I', 'IGR_Planar', 'IGR_SB', 'IGR_SB_Finite')] == \
        ['IGR_I', 'IGR_I', 'IGR_SB', 'IGR_SB_Finite']
    assert not FAMILIES['GS'].gaussian and all(FAMILIES[k].gaussian for k in FAMILIES if k != 'GS')


def test_the_family_table_does_not_import_tensorflow():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    code = ('import sys; from Utils.relaxed.families import FAMILIES; import Models.vae_hyper; '
            'assert "tensorflow" not in sys.modules, "tensorflow imported"')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------------------------------------------------------------------------
# One implementation: the VAE latent, the fits and the legacy classes draw the same psi from the same noise
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', list(FAMILIES))
def test_latent_fit_and_legacy_sampler_give_the_same_psi(name):
    params, noise = params_and_noise(name, np.float32, n=9, v=3)
    params, noise = [tf.constant(p) for p in params], tf.constant(noise)
    n, v = noise.shape[1], noise.shape[3]
    prior = None if name == 'GS' else {'mu': np.zeros((1, n, 1, 1), np.float32), 'xi': np.zeros((1, n, 1, 1), np.float32)}
    latent = LATENTS[name](n, v, 0.3, prior=prior, threshold=0.9)
    flow = latent.make_flow()
    psi_latent = latent.relaxed(params, noise)['psi']
    named = dict(zip(FAMILIES[name].param_names, params))
    psi_fit, n_required = psi_from_noise(name, named, noise, 0.3, threshold=0.9, planar_flow=flow)
    legacy = D.SAMPLERS[name].from_params(params, 0.3, noise.shape[2], threshold=0.9, planar_flow=flow)
    legacy.noise = noise
    legacy.generate_sample()
    psi_legacy = legacy.psi_padded if name == 'IGR_SB' else legacy.psi
    np.testing.assert_array_equal(psi_latent.numpy(), psi_fit.numpy())
    np.testing.assert_array_equal(psi_latent.numpy(), psi_legacy.numpy())
    assert int(n_required) == int(latent.relaxed(params, noise)['n_required'] if name != 'GS' else n)


# ---------------------------------------------------------------------------------------------------------------------
# Against independent references
# ---------------------------------------------------------------------------------------------------------------------
def test_gs_matches_softmax_and_tfp_exp_relaxed_one_hot_categorical():
    params, noise = params_and_noise('GS')
    draw = FAMILIES['GS'].relaxed([tf.constant(params[0])], tf.constant(noise), 0.4)
    lam = (params[0] + noise) / 0.4
    ref = np.exp(lam - lam.max(axis=1, keepdims=True))
    ref /= ref.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(draw['psi'].numpy(), ref, rtol=1e-12)
    tfp_dist = tfd.ExpRelaxedOneHotCategorical(np.float64(0.4), logits=np.moveaxis(params[0], 1, -1))
    log_q = D.compute_log_exp_gs_dist(draw['log_psi'], params[0], 0.4).numpy()
    np.testing.assert_allclose(log_q, tfp_dist.log_prob(np.moveaxis(draw['log_psi'].numpy(), 1, -1)).numpy(),
                               rtol=1e-12)
    np.testing.assert_array_equal(FAMILIES['GS'].hard(params, noise, draw).numpy().argmax(axis=1),
                                  (params[0] + noise).argmax(axis=1))


def test_igr_i_matches_tfp_softmax_centered():
    params, noise = params_and_noise('IGR_I')
    draw = FAMILIES['IGR_I'].relaxed([tf.constant(p) for p in params], tf.constant(noise), 0.3)
    kappa = params[0] + np.exp(params[1]) * noise
    ref = tfb.SoftmaxCentered().forward(np.moveaxis(kappa / 0.3, 1, -1)).numpy()
    np.testing.assert_allclose(draw['psi'].numpy(), np.moveaxis(ref, -1, 1), rtol=1e-12)
    np.testing.assert_allclose(draw['kappa'].numpy(), kappa, rtol=1e-12)
    hard = FAMILIES['IGR_I'].hard(params, noise, draw).numpy()
    np.testing.assert_array_equal(hard.argmax(axis=1),
                                  np.concatenate([kappa, np.zeros_like(kappa[:, :1])], axis=1).argmax(axis=1))


def test_igr_planar_matches_numpy_planar_flows():
    params, noise = params_and_noise('IGR_Planar')
    flow = PlanarFlow(4, 2, seed=3)
    draw = FAMILIES['IGR_Planar'].relaxed([tf.constant(p) for p in params], tf.constant(noise), 0.5, flow=flow)
    layers = [(w.numpy().astype(np.float64), u.numpy().astype(np.float64), b.numpy().astype(np.float64))
              for w, u, b in zip(flow.w, flow.u, flow.b)]
    lam = np_planar(params[0] + np.exp(params[1]) * noise, layers)
    np.testing.assert_allclose(draw['lam'].numpy(), lam, rtol=1e-5, atol=1e-6)     # the Keras layer runs in float32
    np.testing.assert_allclose(draw['psi'].numpy(), np_softmax_pp(draw['lam'].numpy() / 0.5), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='planar_flow'):
        FAMILIES['IGR_Planar'].relaxed([tf.constant(p) for p in params], tf.constant(noise), 0.5)


@pytest.mark.parametrize('name', ['IGR_SB_Finite', 'IGR_SB'])
def test_igr_sb_matches_the_iterative_stick_breaking_and_the_nearest_rank_truncation(name):
    params, noise = params_and_noise(name, n=12, samples=40)
    draw = FAMILIES[name].relaxed([tf.constant(p) for p in params], tf.constant(noise), 0.2, threshold=0.8)
    eta = 1. / (1. + np.exp(-(params[0] + np.exp(params[1]) * noise)))
    lam = stick_break_iterative(tf.constant(eta)).numpy()
    np.testing.assert_allclose(draw['lam'].numpy(), lam, rtol=1e-12)
    kept = np_nearest_rank_pieces(lam, 0.8) if name == 'IGR_SB' else lam.shape[1]
    assert int(draw['n_required']) == kept and (name == 'IGR_SB') == (draw['mask'] is not None)
    ref = np.zeros(draw['psi'].shape)
    ref[:, list(range(kept)) + [-1]] = np_softmax_pp(lam[:, :kept] / 0.2)
    np.testing.assert_allclose(draw['psi'].numpy(), ref, rtol=1e-12, atol=1e-300)


def test_noise_draws_the_documented_transforms_of_one_stream():
    shape = (3, 4, 5, 2)
    gumbel = noise_lib.generator_gumbel(tf.random.Generator.from_seed(4), shape)
    u = tf.random.Generator.from_seed(4).uniform(shape, minval=np.finfo(np.float32).tiny, maxval=1.)
    np.testing.assert_allclose(gumbel.numpy(), -np.log(-np.log(u.numpy().astype(np.float64))), rtol=1e-5, atol=1e-6)
    normal = noise_lib.generator_normal(tf.random.Generator.from_seed(4), shape, box_muller=False)
    np.testing.assert_array_equal(normal.numpy(), tf.random.Generator.from_seed(4).normal(shape).numpy())
    u = tf.random.Generator.from_seed(4).uniform((2, 60), minval=np.finfo(np.float32).tiny, maxval=1.).numpy()
    u64 = u.astype(np.float64)
    radius = np.sqrt(-2. * np.log(u64[0]))
    box_muller = np.concatenate([radius * np.cos(2. * np.pi * u64[1]), radius * np.sin(2. * np.pi * u64[1])])
    np.testing.assert_allclose(noise_lib.generator_normal(tf.random.Generator.from_seed(4), shape).numpy().ravel(),
                               box_muller, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('name', list(SOP_MODEL_TYPES))
def test_bernoulli_units_match_the_formulas(name):
    flow = PlanarFlow(n_dims=1, num_of_vars=6, seed=2) if FAMILIES[name].has_flow else None
    units = BernoulliUnits(name, 6, 0.4, flow)
    rng = np.random.default_rng(1)
    params = rng.normal(size=(50, units.params_n)).astype(np.float32)
    noise = units.noise(tf.random.Generator.from_seed(0), 50).numpy()
    b = units.sample(tf.constant(params), tf.constant(noise)).numpy().astype(np.float64)
    p64, e64 = params.astype(np.float64), noise.astype(np.float64)
    if name == 'GS':
        ref = 1. / (1. + np.exp(-(p64 + np.log(e64[:, 0]) - np.log1p(-e64[:, 0])) / 0.4))
    else:
        p = p64.reshape(50, 2, units.noise_dims, 6)
        z = p[:, 0] + np.exp(p[:, 1]) * e64
        if name == 'IGR_Planar':
            layers = [(w.numpy().astype(np.float64), u.numpy().astype(np.float64), b_.numpy().astype(np.float64))
                      for w, u, b_ in zip(flow.w, flow.u, flow.b)]
            z = np_planar(z[:, :, None, :], layers)[:, :, 0, :]
        elif name == 'IGR_SB':
            z = stick_break_iterative(tf.constant(1. / (1. + np.exp(-z)))).numpy()
        ref = np_softmax_pp(z[:, :, None, :] / 0.4)[:, 0, 0, :]
    np.testing.assert_allclose(b, ref, rtol=1e-5, atol=1e-6)
    hard = units.sample(tf.constant(params), tf.constant(noise), hard=True).numpy()
    categories = units.categories(tf.constant(params), tf.constant(noise)).numpy()
    decided = np.abs(np.sort(categories, axis=1)[:, -1] - np.sort(categories, axis=1)[:, -2]) > 1e-5
    np.testing.assert_array_equal(hard[decided], (categories.argmax(axis=1) == 0)[decided])
