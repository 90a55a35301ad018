"""Structured output prediction: relaxed Bernoulli units, training on a few dozen real images, run folders,
resume, bad hyper values, and smoke runs of sop.py / viz_sop.py."""
import csv
import json

import numpy as np
import pytest
import tensorflow as tf

from Models import SOPOptimizer as so
from Models.SOP import SOP_MODEL_TYPES, BernoulliUnits, SOPNet
from Utils.runs import hyper_checks


@pytest.fixture(autouse=True)
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path / 'Log'))
    monkeypatch.setenv('IGR_RESULTS_DIR', str(tmp_path / 'Results'))
    return tmp_path


@pytest.fixture(scope='module')
def smoke_data():
    return so.load_sop_data(run_with_sample=True)


def smoke_hyper(model_type='IGR_I', **overrides):
    return {'model_type': model_type, 'epochs': 2, 'temp': 0.5, 'units': 20, 'test_sample_size': 4,
            'save_every': 1, **overrides}


# ---- units -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('model_type', SOP_MODEL_TYPES)
def test_units_relaxed_in_unit_interval_and_hard_is_binary(model_type):
    net = SOPNet(model_type, 0.5, units=7, in_dim=5, out_dim=3, seed=0)
    rng = tf.random.Generator.from_seed(0)
    units = net.unit_layers[0]
    params = tf.random.stateless_normal((50, units.params_n), seed=[1, 2])
    noise = units.noise(rng, 50)
    soft = units.sample(params, noise).numpy()
    hard = units.sample(params, noise, hard=True).numpy()
    assert soft.shape == hard.shape == (50, 7)
    assert np.all((soft >= 0) & (soft <= 1)) and set(np.unique(hard)) <= {0., 1.}
    if model_type != 'IGR_SB':  # two categories: discretizing = rounding
        np.testing.assert_array_equal(hard, (soft > 0.5).astype(np.float32))
    assert net(tf.zeros((4, 5)), net.noise(rng, 4)).shape == (4, 3)


@pytest.mark.parametrize('model_type', SOP_MODEL_TYPES)
def test_closed_form_units_match_the_category_vectors(model_type):
    """`sample` forms b in closed form; the category vectors of `categories` (the general softmax++ of the flow or
    stick-breaking) are the previous computation. Same relaxed values to float rounding, same argmax (random
    parameters, so no draw is within rounding of a tie), and the same gradients."""
    net = SOPNet(model_type, 0.3, units=40, in_dim=5, out_dim=3, seed=1)
    units = net.unit_layers[0]
    params = tf.random.stateless_normal((300, units.params_n), seed=[3, 4]) * 2.
    noise = units.noise(tf.random.Generator.from_seed(5), 300)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(params)
        psi = units.categories(params, noise)
        fast = units.sample(params, noise)
        reference = psi[:, 0]
    np.testing.assert_allclose(fast.numpy(), reference.numpy(), rtol=2e-6, atol=1e-7)
    psi = psi.numpy()
    expected_hard = (np.argmax(psi, axis=1) == 0).astype(np.float32)
    # where the category vector rounds to a tie (tiny lam: every coordinate 1/3), its argmax says "first" and the
    # closed form compares lam_1 with lam_2 themselves; elsewhere the two agree exactly
    tied = np.sum(psi == psi.max(axis=1, keepdims=True), axis=1) > 1
    assert tied.mean() < 0.01
    hard = units.sample(params, noise, hard=True).numpy()
    np.testing.assert_array_equal(hard[~tied], expected_hard[~tied])
    grad_fast, grad_reference = (tape.gradient(y, params).numpy() for y in (fast, reference))
    np.testing.assert_allclose(grad_fast, grad_reference, rtol=1e-4, atol=1e-5 * np.abs(grad_reference).max())


def test_units_match_the_formulas():
    units = BernoulliUnits('IGR_I', 3, 0.25)
    mu, xi = np.array([[0.3, -1., 2.]], np.float32), np.array([[0., 0.5, -1.]], np.float32)
    eps = np.array([[[0.1, -0.2, 1.5]]], np.float32)
    expected = 1. / (1. + np.exp(-(mu + np.exp(xi) * eps[:, 0]) / 0.25))
    np.testing.assert_allclose(units.sample(np.concatenate([mu, xi], 1), eps).numpy(), expected, rtol=1e-5)
    gs = BernoulliUnits('GS', 1, 1.0)
    rng = tf.random.Generator.from_seed(0)
    log_alpha = np.full((20_000, 1), np.log(3.), np.float32)  # P(b = 1) = sigmoid(log 3) = 0.75
    hard = gs.sample(log_alpha, gs.noise(rng, 20_000), hard=True).numpy()
    assert abs(hard.mean() - 0.75) < 0.015


@pytest.mark.parametrize('model_type', ('IGR_I', 'IGR_Planar', 'IGR_SB'))
def test_a_fixed_unit_sigma_is_the_learned_units_with_xi_held_at_log_sigma(model_type):
    """Units with sigma fixed at 1.7 take mu only (half the parameters) and give exactly the learned-scale units whose
    xi parameters are all log 1.7 (relaxed and hard values); IGR-I also against sigmoid((mu + 1.7 eps) / tau) in
    float64."""
    from Utils.relaxed.planar import PlanarFlow
    flow = PlanarFlow(n_dims=1, num_of_vars=6, seed=3) if model_type == 'IGR_Planar' else None
    fixed, learned = (BernoulliUnits(model_type, 6, 0.4, flow, sigma) for sigma in (1.7, None))
    assert fixed.params_n * 2 == learned.params_n
    mu = tf.random.stateless_normal((30, fixed.params_n), seed=[7, 8])
    noise = fixed.noise(tf.random.Generator.from_seed(9), 30)
    xi = tf.fill(mu.shape, float(np.log(1.7)))
    for hard in (False, True):
        np.testing.assert_allclose(fixed.sample(mu, noise, hard).numpy(),
                                   learned.sample(tf.concat([mu, xi], axis=1), noise, hard).numpy(), rtol=1e-6)
    if model_type == 'IGR_I':
        z = mu.numpy().astype(np.float64) + 1.7 * noise.numpy()[:, 0].astype(np.float64)
        np.testing.assert_allclose(fixed.sample(mu, noise).numpy(), 1. / (1. + np.exp(-z / 0.4)), rtol=1e-5)


def test_a_fixed_unit_sigma_needs_an_igr_model_and_a_positive_number():
    for bad in (0, -1., float('nan'), 'one', True):
        with pytest.raises(hyper_checks.HyperError, match=rf"bad unit_sigma {bad!r}: 'learned' or a finite number > 0"):
            so.validate_hyper({'unit_sigma': bad})
    with pytest.raises(hyper_checks.HyperError, match=r"bad unit_sigma 1 for model_type GS: the Binary Concrete has no"):
        so.validate_hyper({'model_type': 'GS', 'unit_sigma': 1})
    with pytest.raises(ValueError, match='bad unit sigma 1.0 for GS'):
        BernoulliUnits('GS', 3, 0.5, sigma=1.)
    from Utils.runs.runstore import run_key
    learned = run_key(so.validate_hyper({}))
    assert run_key(so.validate_hyper({'unit_sigma': 'learned'})) == learned  # the shipped runs keep their keys
    assert run_key(so.validate_hyper({'unit_sigma': 1})) != learned
    net = SOPNet('IGR_I', 0.5, units=7, in_dim=5, out_dim=3, unit_sigma=1.)
    assert [v.shape[-1] for v in net.param_layers[0].trainable_variables] == [7, 7]


def test_sb_units_reach_both_values_at_low_temperature():
    units = BernoulliUnits('IGR_SB', 500, 0.01)
    rng = tf.random.Generator.from_seed(0)
    soft = units.sample(tf.zeros((4, units.params_n)), units.noise(rng, 4)).numpy()
    assert 0.2 < (soft > 0.99).mean() < 0.8 and 0.2 < (soft < 0.01).mean() < 0.8


# ---- hyper -------------------------------------------------------------------------------------------------------
def test_bad_hyper_is_rejected_with_clear_errors():
    with pytest.raises(hyper_checks.HyperError, match=r"unknown hyper key\(s\) \['tmp'\]; valid keys are"):
        so.validate_hyper({'tmp': 0.5})
    with pytest.raises(hyper_checks.HyperError, match=r"bad model_type 'IGR_SB_Finite'; valid choices are: GS, IGR_I"):
        so.validate_hyper({'model_type': 'IGR_SB_Finite'})
    with pytest.raises(hyper_checks.HyperError, match='temp'):
        so.validate_hyper({'temp': 0.})
    with pytest.raises(hyper_checks.HyperError, match='width_height'):
        so.validate_hyper({'width_height': (28, 28, 1)})
    hyper = {'model_type': 'GS'}
    assert so.validate_hyper(hyper, run_with_sample=True)['batch_n'] == so.SMOKE_BATCH_N and hyper == {'model_type': 'GS'}


# ---- training ----------------------------------------------------------------------------------------------------
def read_rows(run_dir):
    with open(f'{run_dir}/metrics.csv') as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize('model_type', SOP_MODEL_TYPES)
def test_sop_trains_on_tiny_real_data(model_type, smoke_data):
    final = so.run_sop(smoke_hyper(model_type), run_with_sample=True, data=smoke_data)
    rows = read_rows(final['run_dir'])
    assert list(rows[0]) == ['epoch', 'TeNLL', 'TeNLLD', 'TeNLLMS', 'TrL', 'seconds']
    assert [int(r['epoch']) for r in rows] == [1, 2]
    values = np.array([[float(r[k]) for k in ('TeNLL', 'TeNLLD', 'TeNLLMS', 'TrL')] for r in rows])
    assert np.isfinite(values).all() and np.all(values > 0)
    assert values[1, 3] < values[0, 3]  # the training loss goes down
    config = json.loads(open(f"{final['run_dir']}/config.json").read())
    assert config['experiment'] == 'sop' and config['hyper']['iter_per_epoch'] == 8
    assert json.loads(open(f"{final['run_dir']}/status.json").read())['finished'] is True
    assert final['TeNLLMS'] == pytest.approx(float(rows[-1]['TeNLLMS']))


def test_evaluation_is_deterministic_and_restores(smoke_data):
    final = so.run_sop(smoke_hyper('IGR_Planar', epochs=1), run_with_sample=True, data=smoke_data)
    model, hyper = so.load_trained_sop(final['run_dir'])
    metrics = model.evaluate(smoke_data['x_test_upper'], smoke_data['x_test_lower'])
    assert metrics == pytest.approx({k: final[k] for k in ('TeNLL', 'TeNLLD', 'TeNLLMS')}, rel=1e-5)
    assert metrics == model.evaluate(smoke_data['x_test_upper'], smoke_data['x_test_lower'])


def test_resume_continues_the_same_run_exactly(smoke_data, monkeypatch):
    straight = so.run_sop(smoke_hyper('GS', epochs=2), run_with_sample=True, data=smoke_data)
    first = so.run_sop(smoke_hyper('GS', epochs=1), run_with_sample=True, data=smoke_data)
    resumed = so.run_sop(smoke_hyper('GS', epochs=2), run_with_sample=True, resume_dir=first['run_dir'],
                         data=smoke_data)
    assert resumed['run_dir'] == first['run_dir'] and resumed['epoch'] == 2
    assert [int(r['epoch']) for r in read_rows(first['run_dir'])] == [1, 2]
    for key in ('TeNLL', 'TeNLLD', 'TeNLLMS', 'TrL'):
        assert resumed[key] == pytest.approx(straight[key], rel=1e-4)
    with pytest.raises(hyper_checks.HyperError, match='temp'):
        so.run_sop(smoke_hyper('GS', epochs=3, temp=0.9), run_with_sample=True, resume_dir=first['run_dir'],
                   data=smoke_data)


# ---- scripts -----------------------------------------------------------------------------------------------------
def test_sop_and_viz_scripts_smoke(dirs, capsys):
    from structure_output_prediction import sop, viz_sop
    assert sop.main(['--list']) is None
    assert '4 cells' in capsys.readouterr().out
    results = sop.main(['--smoke', '--set', 'epochs=1', '--set', 'units=10', '--set', 'test_sample_size=2',
                        '--cell', '3'])
    assert len(results) == 1 and np.isfinite(results[0]['TeNLLMS'])
    summary = sop.main(['--table', '--include-smoke'])
    assert list(summary['model_type']) == ['IGR_SB']
    assert (dirs / 'Results' / 'tables' / 'table3.md').exists()
    path = viz_sop.main(['--include-smoke', '--digits', '3'])
    assert path.exists() and path.stat().st_size > 0
    with pytest.raises(ValueError, match="'hot'"):
        sop.settings('hot')


def test_unit_values_script_records_how_discrete_the_units_are(dirs, smoke_data):
    """unit_values.py on a trained smoke run with sigma fixed at 0.5: the record's statistics are those of the
    network's own relaxed units under the same seeded noise, and its sigma is the fixed one."""
    from structure_output_prediction import unit_values
    final = so.run_sop(smoke_hyper('IGR_I', epochs=1, unit_sigma=0.5), run_with_sample=True, data=smoke_data)
    assert unit_values.main(['--run-dir', final['run_dir'], '--images', '12']) == 0
    record = json.loads(open(f"{final['run_dir']}/unit_values.json").read())
    assert (record['epoch'], record['images'], len(record['layers'])) == (1, 12, 2)
    model, _ = so.load_trained_sop(final['run_dir'])
    x = tf.constant(smoke_data['x_test_upper'][:12])
    noise = model.net.noise(tf.random.Generator.from_seed(0), 12)
    b = model.net.unit_layers[0].sample(model.net.param_layers[0](x), noise[0]).numpy()
    assert record['layers'][0]['undecided'] == pytest.approx(np.mean((b > 0.1) & (b < 0.9)))
    assert record['layers'][0]['mean_distance'] == pytest.approx(np.mean(np.minimum(b, 1 - b)), rel=1e-6)
    assert [layer['median_sigma'] for layer in record['layers']] == [0.5, 0.5]
    gs = unit_values.unit_values(model.net.__class__('GS', 0.5, units=4, in_dim=392, out_dim=392), x)
    assert all(set(layer) == {'undecided', 'mean_distance'} for layer in gs)
    with pytest.raises(SystemExit):
        unit_values.main(['--run-dir', str(dirs / 'nowhere')])
