"""Approximation experiments: the empirical-loss fit, Figure 1's distances, the shipped uniform priors, and
smoke runs of every approximation script at tiny size."""
import json
import pickle

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from Utils import Distributions as dist
from Utils.MinimizeEmpiricalLoss import MinimizeEmpiricalLoss, empirical_loss
from Utils.general import (distance_to_nearest_vertex, find_prior_file, initial_params, kl_divergence,
                           load_prior, prior_file_name, save_prior, stick_breaking_uniform_init, target_pmf)
from Utils.paths import REPO_ROOT

tfd = tfp.distributions

# Figure 1 reference (SPEC section 4): GS median distance to the nearest vertex at K = 50.
GS_MEDIAN_REFERENCE = {0.2: 0.05, 0.25: 0.10, 0.5: 0.42, 1.0: 0.75}
GS_MEDIAN_TOLERANCE = 0.03  # absolute; the Monte Carlo error of the median with 20,000 draws is below 0.005
SHIPPED_PRIORS = [(k, m) for k in (10, 50) for m in ('IGR_I', 'IGR_SB_Finite', 'IGR_SB')]


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_RESULTS_DIR', str(tmp_path))
    return tmp_path


# ---- helpers ---------------------------------------------------------------------------------------------------
def test_target_pmfs_come_from_tfp_and_are_normalised():
    p = target_pmf('binomial', 20)
    assert p.shape == (20,) and np.isclose(p.sum(), 1.)
    np.testing.assert_allclose(p[:13], tfd.Binomial(12., probs=0.3).prob(np.arange(13.)).numpy(), rtol=1e-5)
    assert np.all(p[13:] == 0.)
    ten = target_pmf('ten_categories', 10)
    np.testing.assert_allclose(ten, np.array([10, 1, 5, 1, 10, 10, 1, 6, 1, 1]) / 46.)
    poisson = target_pmf('poisson', 200)
    assert abs((poisson * np.arange(200)).sum() - 50.) < 1e-6
    negbin = target_pmf('negative_binomial', 200)
    assert abs((negbin * np.arange(200)).sum() - 75.) < 1e-3  # tfp convention: mean r p / (1 - p)
    with pytest.raises(ValueError, match="'gamma'.*valid choices"):
        target_pmf('gamma', 10)


def test_distance_to_nearest_vertex():
    psi = tf.constant([[1., 0., 0.], [0.5, 0.5, 0.], [1 / 3, 1 / 3, 1 / 3]])
    d = distance_to_nearest_vertex(psi, axis=1).numpy()
    np.testing.assert_allclose(d, [0., np.sqrt(0.5), np.sqrt(2 / 3)], atol=1e-6)


def test_kl_divergence_handles_zeros():
    assert float(kl_divergence([0.5, 0.5, 0.], [0.5, 0.5, 0.])) == pytest.approx(0., abs=1e-9)
    assert float(kl_divergence([0.5, 0.5], [0.25, 0.75])) == pytest.approx(
        0.5 * np.log(2.) + 0.5 * np.log(0.5 / 0.75), rel=1e-6)


def test_prior_round_trip_and_clear_errors(tmp_path):
    save_prior(tmp_path / 'p.pkl', np.zeros((1, 3, 1, 1)), np.ones((1, 3, 1, 1)))
    prior = load_prior(tmp_path / 'p.pkl')
    assert prior['mu'].dtype == np.float32 and prior['xi'].shape == (1, 3, 1, 1)
    with pytest.raises(FileNotFoundError, match='set_prior.py'):
        load_prior(tmp_path / 'missing.pkl')
    with pytest.raises(ValueError, match='shaped'):
        save_prior(tmp_path / 'bad.pkl', np.zeros((3,)), np.zeros((3,)))


# ---- the fit ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('model_type', ['GS', 'IGR_I'])
def test_fit_drives_kl_down_on_an_easy_target(model_type):
    p = tfd.Categorical(probs=[0.5, 0.2, 0.2, 0.1]).probs_parameter().numpy()
    opt = MinimizeEmpiricalLoss(p, model_type, initial_params(model_type, 4, seed=1), temp=0.3, sample_size=500,
                                learning_rate=5e-2, max_iterations=150, seed=0)
    opt.optimize()
    assert opt.loss_history.shape == (150,) and opt.n_required_history.shape == (150,)
    assert opt.loss_history[:5].mean() > 0.05
    assert opt.loss_history[-10:].mean() < 0.2 * opt.loss_history[:5].mean()
    mean_psi, _ = opt.induced_distribution(20_000)
    assert float(kl_divergence(mean_psi, p)) < 0.01


def test_fit_is_seeded_and_stops_at_tolerance():
    p = target_pmf('uniform', 5)
    run = lambda: MinimizeEmpiricalLoss(p, 'GS', initial_params('GS', 5), 0.5, sample_size=100, max_iterations=20,
                                        seed=3).optimize().loss_history
    np.testing.assert_array_equal(run(), run())
    opt = MinimizeEmpiricalLoss(p, 'GS', initial_params('GS', 5), 0.5, sample_size=100, max_iterations=50,
                                tolerance=1e3).optimize()
    assert opt.iterations_run == 1


def test_fit_records_n_required_for_truncated_stick_breaking():
    p = np.append(target_pmf('uniform', 7), 0.)
    opt = MinimizeEmpiricalLoss(p, 'IGR_SB', stick_breaking_uniform_init(7), temp=0.05, sample_size=200,
                                max_iterations=10, threshold=0.9, truncation_option='quantile', seed=0).optimize()
    assert opt.n_required_history.dtype == np.int32
    assert np.all((opt.n_required_history >= 1) & (opt.n_required_history <= 7))
    assert opt.sample_psi(50).shape == (8, 50)


def test_fit_planar_trains_the_flow_too():
    flow = dist.PlanarFlow(n_dims=3, num_of_vars=1, seed=0)
    before = [w.numpy().copy() for w in flow.trainable_variables]
    opt = MinimizeEmpiricalLoss(target_pmf('uniform', 4), 'IGR_Planar', initial_params('IGR_Planar', 4), 0.5,
                                sample_size=100, max_iterations=5, planar_flow=flow).optimize()
    assert np.isfinite(opt.loss_history).all()
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, flow.trainable_variables))


def test_fit_rejects_bad_input_with_clear_errors():
    p = target_pmf('uniform', 4)
    with pytest.raises(ValueError, match="'Softmax'.*valid choices"):
        MinimizeEmpiricalLoss(p, 'Softmax', initial_params('GS', 4), 0.5)
    with pytest.raises(ValueError, match="'l1'.*valid choices"):
        MinimizeEmpiricalLoss(p, 'GS', initial_params('GS', 4), 0.5, loss_type='l1')
    with pytest.raises(ValueError, match='4 categories'):
        MinimizeEmpiricalLoss(p, 'IGR_I', initial_params('IGR_I', 5), 0.5)
    with pytest.raises(ValueError, match='temperature'):
        MinimizeEmpiricalLoss(p, 'GS', initial_params('GS', 4), 0.)
    with pytest.raises(ValueError, match='summing to 1'):
        MinimizeEmpiricalLoss([0.5, 0.6, 0., 0.], 'GS', initial_params('GS', 4), 0.5)
    with pytest.raises(ValueError, match='planar_flow'):
        MinimizeEmpiricalLoss(p, 'IGR_Planar', initial_params('IGR_I', 4), 0.5)
    assert float(empirical_loss(tf.constant([0.5, 0.5]), tf.constant([0.5, 0.5]), 'mse')) == 0.


# ---- Figure 1 ----------------------------------------------------------------------------------------------------
def test_gs_median_distance_matches_the_known_curve_at_k50():
    from approximations.simplex_proximity import model_params, vertex_distances
    temps = sorted(GS_MEDIAN_REFERENCE)
    d = vertex_distances('GS', model_params('GS', 50), temps, samples=20_000, seed=0)
    medians = np.median(d, axis=0)
    for t, m in zip(temps, medians):
        assert abs(m - GS_MEDIAN_REFERENCE[t]) <= GS_MEDIAN_TOLERANCE, (t, m)
    assert np.all(np.diff(medians) > 0)


# ---- the shipped priors --------------------------------------------------------------------------------------------
@pytest.mark.parametrize('categories,model_type', SHIPPED_PRIORS)
def test_shipped_uniform_prior_induces_uniform_categories(categories, model_type):
    path = REPO_ROOT / 'Results' / prior_file_name(categories, model_type)
    with open(path, 'rb') as f:
        raw = pickle.load(f)
    assert set(raw) == {'mu', 'xi'}
    n = categories - 1
    assert raw['mu'].shape == raw['xi'].shape == (1, n, 1, 1) and raw['mu'].dtype == np.float32
    draws = 20_000
    cls = dist.get_sampler_class(model_type)
    kwargs = {'threshold': 0.9, 'truncation_option': 'max'} if model_type == 'IGR_SB' else {}
    sampler = cls(raw['mu'], raw['xi'], 0.01, sample_size=draws, **kwargs)
    tf.random.set_seed(0)
    sampler.generate_sample()
    psi = sampler.psi_padded if model_type == 'IGR_SB' else sampler.psi
    freq = np.bincount(np.argmax(psi.numpy()[0, :, :, 0], axis=0), minlength=categories) / draws
    # IGR-I: uniform over all K; stick-breaking: uniform over the K-1 pieces (pi > 0, so the softmax++ category
    # is unreachable as tau -> 0; see approximations/set_prior.py).
    target = target_pmf('uniform', categories) if model_type == 'IGR_I' else np.append(target_pmf('uniform', n), 0.)
    tolerance = 5 * np.sqrt(target.max() / draws)  # five binomial standard deviations
    assert np.max(np.abs(freq - target)) < tolerance, (freq, target)
    if model_type == 'IGR_I':
        exact = dist.compute_igr_probs(tf.constant(raw['mu'], tf.float64),
                                       tf.exp(tf.constant(raw['xi'], tf.float64))).numpy().ravel()
        assert float(kl_divergence(exact, target)) < 1e-3


def test_shipped_prior_report_lists_every_file_with_its_command_and_kl():
    report = json.loads((REPO_ROOT / 'Results' / 'mu_xi_unif_report.json').read_text())
    for categories, model_type in SHIPPED_PRIORS:
        entry = report[prior_file_name(categories, model_type)]
        assert entry['command'].startswith('python3 approximations/set_prior.py')
        assert entry['kl_argmax_freq_to_target'] < 1e-3


# ---- smoke runs of the scripts ---------------------------------------------------------------------------------
def test_set_prior_script_tiny(results_tmp):
    from approximations import set_prior
    reports = set_prior.main(['--tiny', '--models', 'IGR_I', 'IGR_SB'])
    assert [r['file'] for r in reports] == ['mu_xi_unif_10_IGR_I.pkl', 'mu_xi_unif_10_IGR_SB.pkl']
    prior = load_prior(results_tmp / 'mu_xi_unif_10_IGR_I.pkl')
    assert prior['mu'].shape == (1, 9, 1, 1)
    saved = json.loads((results_tmp / 'mu_xi_unif_report.json').read_text())
    assert saved['mu_xi_unif_10_IGR_SB.pkl']['command'] == \
        'python3 approximations/set_prior.py --tiny --models IGR_I IGR_SB'
    assert (results_tmp / 'mu_xi_unif_frequencies.png').stat().st_size > 0
    assert find_prior_file('mu_xi_unif_10_IGR_I.pkl') == results_tmp / 'mu_xi_unif_10_IGR_I.pkl'
    with pytest.raises(SystemExit):
        set_prior.main(['--models', 'IGR_X'])


def test_simplex_proximity_script_tiny(results_tmp):
    from approximations import simplex_proximity
    check = simplex_proximity.main(['--tiny'])
    assert set(check['model']) == {'GS', 'IGR_I'}
    for name in ('simplex_proximity_GS.png', 'simplex_proximity_IGR_I.png', 'simplex_proximity.csv',
                 'simplex_proximity_check.md'):
        assert (results_tmp / name).stat().st_size > 0


def test_discrete_dist_approximation_scripts_tiny(results_tmp):
    from approximations import discrete_dist_approximation_gs, discrete_dist_approximation_igr
    gs = discrete_dist_approximation_gs.main(['--tiny'])
    igr = discrete_dist_approximation_igr.main(['--tiny'])
    assert len(gs) == 2 and len(igr) == 1
    assert np.isfinite(gs[['kl_before', 'kl_after', 'tv_after']].to_numpy()).all()
    for name in ('discrete_dist_approximation_gs', 'discrete_dist_approximation_igr'):
        assert (results_tmp / f'{name}.png').stat().st_size > 0 and (results_tmp / f'{name}.csv').exists()
