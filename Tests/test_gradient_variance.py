"""Gradient-variance diagnostic (Models/gradient_variance.py, vae_experiments/gradient_variance.py): a problem with
a known answer, per-draw gradients against a slow loop, the script in both modes and its errors."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from Models import gradient_variance as gv
from Models import train_vae as tv
from Tests.test_straight_through import small_model
from vae_experiments import gradient_variance as script


def test_known_answer_linear_function():
    """f(z) = w.z, z = mu + sigma eps: df/dmu = w (no variance), df/dsigma = w eps (variance w^2). With M = 4000
    the sample variance has a relative standard error sqrt(2 / M) = 2.2%: 10% is 4.5 of them."""
    w = tf.constant([1., -2., 3.])
    mu, sigma = tf.Variable([0.1, 0.2, 0.3]), tf.Variable([1., 2., 0.5])
    eps = tf.random.stateless_normal((4000, 3), seed=(1, 2))
    loss = lambda e: (None if e is None else tf.reduce_sum(w * (mu + sigma * e[0])), [mu, sigma])
    grads = gv.per_draw_gradients(loss, eps, chunk=1000)
    assert grads.shape == (4000, 6)
    np.testing.assert_allclose(grads[:, :3].var(axis=0), 0., atol=1e-10)
    np.testing.assert_allclose(grads[:, 3:].var(axis=0, ddof=1), [1., 4., 9.], rtol=0.1)
    stats = gv.gradient_statistics(grads)
    assert stats['zero_variance'] == 3 and stats['coordinates'] == 6
    np.testing.assert_allclose(stats['trace_covariance'], grads.var(axis=0, ddof=1).sum())
    streamed = gv.streamed_statistics(loss, eps, chunk=300)           # 14 chunks, the last one short
    for key in ('mean_variance', 'trace_covariance', 'mean_norm', 'snr_median'):
        np.testing.assert_allclose(streamed[key], stats[key], rtol=1e-9)


@pytest.mark.parametrize('model_type', ['GS_Dis', 'IGR_I_Dis'])
def test_vae_gradients_match_a_per_draw_loop(model_type):
    model = small_model(model_type, straight_through=False)
    x = tf.constant((np.random.RandomState(0).rand(6, 4, 4, 1) < 0.5).astype(np.float32))
    draws = gv.vae_gradient_statistics(model, x, 6, seed=3, chunk=4, keep_draws=True)
    rng = tf.random.Generator.from_seed(3)
    noises = [model.draw_noise(rng, 6)[0] for _ in range(6)]
    for m in (0, 5):
        with tf.GradientTape(persistent=True) as tape:
            params_c, params_d = model.encode(x)
            loss = model.loss(model.elbo_terms(x, noise=(noises[m], None), params=(params_c, params_d)))
        for target, sources in (('discrete', params_d), ('encoder', gv.encoder_variables(model))):
            slow = np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, sources)])
            np.testing.assert_allclose(draws[target][m], slow, rtol=1e-4, atol=1e-6)


def test_bad_input_is_refused(tmp_path):
    model = small_model('GS_Dis', straight_through=False)
    with pytest.raises(ValueError, match='at least 2'):
        gv.vae_gradient_statistics(model, tf.zeros((6, 4, 4, 1)), 1)
    with pytest.raises(ValueError, match='unknown gradient targets'):
        gv.vae_gradient_statistics(model, tf.zeros((6, 4, 4, 1)), 4, targets=('decoder',))
    with pytest.raises(SystemExit):
        script.main(['--init', '--draws', '1'])
    with pytest.raises(SystemExit, match='no run folder'):
        script.main(['--run-dir', str(tmp_path / 'missing'), '--draws', '3'])


def test_script_init_and_run_modes(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path / 'Log'))
    out = tmp_path / 'gv.csv'
    frame = script.main(['--init', '--smoke', '--model', 'GS_Dis', '--model', 'IGR_I_Dis', '--temp', '0.5',
                         '--straight-through', '--draws', '4', '--batch', '5', '--chunk', '2', '--out', str(out)])
    assert len(frame) == 8 and set(frame['model']) == {'GS_Dis', 'GS_Dis_ST', 'IGR_I_Dis', 'IGR_I_Dis_ST'}
    assert (frame['mean_variance'] > 0).all() and out.with_suffix('.png').is_file()
    assert pd.read_csv(out).shape == (8, len(script.COLUMNS))
    final = tv.run_vae({'model_type': 'IGR_I_Dis', 'epochs': 3, 'num_of_discrete_var': 4, 'keep_checkpoints': 3,
                        'log_likelihood_samples': 0}, run_with_sample=True)
    frame = script.main(['--run-dir', final['run_dir'], '--draws', '3', '--batch', '5', '--out', str(out)])
    assert sorted(set(frame['epoch'])) == [1, 2, 3] and set(frame['target']) == {'discrete', 'encoder'}
    with pytest.raises(SystemExit, match='no checkpoint of epoch 7'):
        script.main(['--run-dir', final['run_dir'], '--epochs', '7', '--draws', '3', '--out', str(out)])
