"""Straight-through training (hyper `straight_through`): one-hot forward values, relaxed gradients, a valid bound,
every discrete family end to end, run names and table rows of their own."""
import json

import numpy as np
import pytest
import tensorflow as tf

from Models import train_vae as tv
from Models.OptVAE import OptVAE
from Utils import Distributions as dist
from Utils.runs import hyper_checks
from Utils.results import results_io

DISCRETE_MODELS = ['GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis', 'IGR_SB_Dis']


def small_model(model_type, straight_through=True):
    n = 4 if model_type == 'GS_Dis' else 3
    h = tv.validate_hyper({'model_type': model_type, 'n_required': n, 'num_of_discrete_var': 2, 'temp': 0.5,
                           'batch_n': 6, 'straight_through': straight_through,
                           'prior_file': None if model_type == 'GS_Dis' else 'unused.pkl'})
    prior = None if model_type == 'GS_Dis' else {'mu': np.zeros((1, n, 1, 1), np.float32),
                                                 'xi': np.zeros((1, n, 1, 1), np.float32)}
    tf.keras.utils.set_random_seed(0)
    return OptVAE(h, (4, 4, 1), 'bernoulli', prior=prior)


@pytest.mark.parametrize('model_type', DISCRETE_MODELS)
def test_forward_is_exactly_one_hot_and_the_gradient_is_the_relaxed_one(model_type):
    model = small_model(model_type)
    x = tf.constant((np.random.RandomState(0).rand(6, 4, 4, 1) < 0.5).astype(np.float32))
    _, params = model.encode(x)
    noise = model.latent.noise(tf.random.Generator.from_seed(1), 6, 3)
    weights = tf.constant(np.random.RandomState(2).randn(1, model.latent.categories, 3, 2), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(params)
        draw = model.latent.relaxed(params, noise)
        st = model.straight_through_psi(params, noise, draw)
        loss_st, loss_relaxed = tf.reduce_sum(weights * st), tf.reduce_sum(weights * draw['psi'])
    np.testing.assert_array_equal(st.numpy(), model.latent.hard(params, noise, draw).numpy())
    assert set(np.unique(st.numpy())) <= {0., 1.} and np.all(st.numpy().sum(axis=1) == 1.)
    for g_st, g_relaxed in zip(tape.gradient(loss_st, params), tape.gradient(loss_relaxed, params)):
        np.testing.assert_allclose(g_st.numpy(), g_relaxed.numpy(), rtol=1e-6)


def test_the_objective_bounds_the_discrete_elbo():
    """IGR: the Gaussian KL is at least the categorical KL of the induced zero-temperature distributions; GS uses
    the categorical KL itself."""
    rs = np.random.RandomState(3)
    mu, xi = rs.randn(50, 4, 1, 3) * 2, rs.randn(50, 4, 1, 3) * 0.5
    mu0, xi0 = rs.randn(1, 4, 1, 1), rs.randn(1, 4, 1, 1) * 0.3
    gaussian = dist.gaussian_kl(mu, xi, mu0, xi0).numpy().sum(axis=1)[:, 0]
    log_q = dist.compute_igr_log_probs(tf.constant(mu), tf.constant(np.exp(xi)))
    log_p = dist.compute_igr_log_probs(tf.constant(mu0), tf.constant(np.exp(xi0)))
    categorical = dist.categorical_kl(log_q, log_p).numpy()[:, 0]
    assert np.all(gaussian >= categorical - 1e-6)
    model = small_model('GS_Dis')
    params = [tf.constant(rs.randn(6, 4, 1, 2), tf.float32)]
    np.testing.assert_allclose(model.latent.straight_through_kl(params, {}).numpy(),
                               model.latent.closed_form_kl(params, {}).numpy())


@pytest.mark.parametrize('model_type', DISCRETE_MODELS + ['IGR_I'])
def test_every_family_trains_straight_through(model_type, tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path))
    hyper = {'model_type': model_type, 'n_required': 10 if model_type.startswith('GS') else 9, 'temp': 0.5,
             'epochs': 1, 'num_of_discrete_var': 4, 'straight_through': True, 'log_likelihood_samples': 0}
    if model_type == 'IGR_I':
        hyper.update(latent_norm_n=3, num_of_discrete_var=1)
    final = tv.run_vae(hyper, run_with_sample=True)
    assert f'_{model_type}_ST_t0.5_' in final['run_dir']
    assert np.isfinite(final['TeELBO']) and np.isfinite(final['TrL'])
    config = json.loads((tmp_path / final['run_dir'].split('/')[-1] / 'config.json').read_text())
    assert config['hyper']['straight_through'] is True


def test_straight_through_runs_get_rows_of_their_own(tmp_path):
    for st, value in ((False, -100.), (True, -90.)):
        run = tmp_path / f'vae_mnist_GS_Dis{"_ST" if st else ""}_t0.5_s0'
        run.mkdir()
        (run / 'config.json').write_text(json.dumps({'experiment': 'vae', 'hyper': {
            'model_type': 'GS_Dis', 'dataset_name': 'mnist', 'temp': 0.5, 'seed': 0, 'straight_through': st}}))
        (run / 'metrics.csv').write_text(f'epoch,TeELBO\n1,{value}\n')
        (run / 'status.json').write_text(json.dumps({'epochs_done': 1, 'finished': True}))
    summary = results_io.summarize_runs(results_io.collect_runs(tmp_path), ('TeELBO',))
    assert dict(zip(summary['model_type'], summary['TeELBO_mean'])) == {'GS_Dis': -100., 'GS_Dis_ST': -90.}


def test_bad_value_is_refused():
    with pytest.raises(hyper_checks.HyperError, match='straight_through'):
        tv.validate_hyper({'straight_through': 'yes'})
