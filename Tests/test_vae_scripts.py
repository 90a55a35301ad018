"""Smoke tests of the VAE experiment scripts: the real entry points at tiny size, into temporary folders.

`mnist_vae.py`, `discrete_grid.py` and `jv_grid.py` train on a few dozen real MNIST images for 1-2 epochs; the
figure scripts (Figures 3, 4, 5) then read those run folders and must write non-empty figures and CSV files.
Needs the MNIST file (`make data`); skipped without it.
"""
import shutil

import numpy as np
import pandas as pd
import pytest

from Utils import paths
from Utils.general import save_prior
from Utils.load_data import SMOKE_TEST_N, mnist_path
from vae_experiments import (discrete_grid, distance_averaging, jv_grid, mnist_vae, posterior_samples,
                             viz_grad_results, viz_results)

pytestmark = pytest.mark.filterwarnings("ignore:no runs for:UserWarning")

FIGURE_CELLS = {('IGR_I_Dis', 0), ('IGR_I_Dis', 1), ('IGR_SB_Finite_Dis', 0), ('GS_Dis', 0)}
"""(model, seed) of the `figures_20` cells trained for the figure tests."""


def _provide_priors(cells, results):
    """Copy the shipped IGR priors the cells need into the temporary Results/ (zeros when not shipped yet)."""
    from Models.train_vae import validate_hyper
    for cell in cells:
        name = validate_hyper(cell)['prior_file']
        if name is None or (results / name).exists():
            continue
        shipped = paths.REPO_ROOT / 'Results' / name
        if shipped.exists():
            shutil.copy(shipped, results / name)
        else:
            n = validate_hyper(cell)['n_required']
            save_prior(results / name, np.zeros((1, n, 1, 1)), np.zeros((1, n, 1, 1)))


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    if not mnist_path().exists():
        pytest.skip('MNIST is not on this machine (make data)')
    root = tmp_path_factory.mktemp('vae_scripts')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('IGR_LOG_DIR', str(root / 'Log'))
        mp.setenv('IGR_RESULTS_DIR', str(root / 'Results'))
        (root / 'Results').mkdir()
        cells = discrete_grid.grid_cells('figures_20') + jv_grid.grid_cells('table2_mnist') + \
            [mnist_vae.build_hyper('smoke')]
        _provide_priors(cells, root / 'Results')
        yield {'log': root / 'Log', 'results': root / 'Results'}


@pytest.fixture(scope='module')
def figure_runs(folders):
    """Smoke runs of four cells of the `figures_20` preset (with the vanished-gradient monitor)."""
    cells = discrete_grid.grid_cells('figures_20')
    chosen = [i for i, c in enumerate(cells) if (c['model_type'], c['seed']) in FIGURE_CELLS]
    results = []
    for index in chosen:
        results += discrete_grid.main(['--preset', 'figures_20', '--smoke', '--set', 'epochs=2',
                                       '--cell', str(index)])
    return results


def _check_outputs(png):
    assert png.exists() and png.stat().st_size > 1000
    table = pd.read_csv(png.with_suffix('.csv'))
    assert len(table)
    return table


def test_presets_enumerate_valid_cells(capsys):
    from Models.train_vae import validate_hyper
    assert discrete_grid.main(['--count']) is None
    assert discrete_grid.main(['--preset', 'figures', '--count']) is None
    assert jv_grid.main(['--count']) is None
    assert capsys.readouterr().out.split() == ['420', '40', '420']
    for module in (discrete_grid, jv_grid):
        for preset in module.PRESETS:
            for cell in module.grid_cells(preset):
                validate_hyper(cell)  # every key known, every value valid
    figures = discrete_grid.grid_cells('figures')
    assert all(c['dataset_name'] == 'mnist' for c in figures)
    assert all(c['monitor_gradients'] == (c['temp'] == discrete_grid.TEMPS_20[c['model_type']]) for c in figures)
    assert {(c['model_type'], c['temp']) for c in figures} == \
        {*discrete_grid.CV_TEMPS.items(), *discrete_grid.TEMPS_20.items()}
    table1 = discrete_grid.grid_cells('table1')
    models = {d: {c['model_type'] for c in table1 if c['dataset_name'] == d} for d in ('mnist', 'fmnist', 'celeb_a')}
    assert models['mnist'] == models['fmnist'] == {'GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis'}
    assert models['celeb_a'] == {'GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Dis'}
    for cell in table1:
        h = validate_hyper(cell)
        if h['model_type'] == 'IGR_SB_Finite_Dis':
            assert h['latent_discrete_n'] == 10 and h['prior_file'] == 'mu_xi_unif_10_IGR_SB_Finite.pkl'
        if h['model_type'] == 'IGR_SB_Dis':
            assert (h['n_required'], h['threshold'], h['truncation_option']) == (49, 0.9, 'quantile')
            assert h['prior_file'] == 'mu_xi_unif_50_IGR_SB.pkl'
    assert {c['dataset_name'] for c in discrete_grid.grid_cells('sb_infinite')} == {'mnist', 'fmnist'}
    evidence = discrete_grid.grid_cells('evidence')
    assert len(evidence) == 36 and {c['epochs'] for c in evidence} == {10} and {c['seed'] for c in evidence} == {0, 1, 2}
    celeb = [c for c in jv_grid.grid_cells() if c['dataset_name'] == 'celeb_a']
    assert {c['latent_norm_n'] for c in celeb} == {32} and {c['gamma'] for c in celeb} == {100}
    assert {tuple(c['disc_c_linspace']) for c in celeb} == {(0., 10., 100000)}
    assert mnist_vae.HYPER['model_type'] == 'IGR_I_Dis' and mnist_vae.HYPER['dataset_name'] == 'mnist'
    assert mnist_vae.build_hyper('smoke')['run_with_sample'] and not mnist_vae.build_hyper('quick')['run_with_sample']
    assert mnist_vae.build_hyper('quick', model='GS_Dis')['n_required'] == 10


def test_mnist_vae_smoke_prints_table(folders, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path / 'Log'))  # keep this run out of the figure tests' runs
    final = mnist_vae.main(['--preset', 'smoke'])
    out = capsys.readouterr().out
    assert 'Test metrics of IGR_I_Dis on mnist' in out and 'TeELBOD' in out
    assert final['run_dir'].startswith(str(tmp_path))
    metrics = pd.read_csv(f"{final['run_dir']}/metrics.csv")
    assert list(metrics['epoch']) == [1, 2] and np.isfinite(metrics['TeELBO']).all()


def test_discrete_grid_smoke_runs(figure_runs):
    assert len(figure_runs) == len(FIGURE_CELLS)
    for final in figure_runs:
        grads = pd.read_csv(f"{final['run_dir']}/gradients.csv")
        assert list(grads['epoch']) == [1, 2] and grads['vanished_pct'].between(0, 100).all()


def test_viz_results_figure3(folders, figure_runs):
    with pytest.raises(SystemExit):  # smoke runs are not used unless asked for
        viz_results.main(['--panels', '20'])
    png = viz_results.main(['--include-smoke'])
    assert png == folders['results'] / 'figure3_elbo_mnist.png'
    table = _check_outputs(png)
    runs = table[table['panel'].astype(str) == '20'].groupby('case')['n'].max()
    assert runs.to_dict() == {'IGR-I (tau=0.1)': 2, 'IGR-SB-Finite (tau=0.02)': 1, 'GS (tau=0.25)': 1}
    custom = viz_results.main(['--include-smoke', '--case', 'GS_Dis=0.25', '--metric', 'TeELBOD',
                               '--out', str(folders['results'] / 'custom.png')])
    assert set(_check_outputs(custom)['case']) == {'GS (tau=0.25)'}


def test_viz_grad_results_figure4(folders, figure_runs):
    png = viz_grad_results.main(['--include-smoke'])
    table = _check_outputs(png)
    assert set(table['case']) == {'IGR-I (tau=0.1)', 'IGR-SB-Finite (tau=0.02)', 'GS (tau=0.25)'}
    assert set(table['epoch']) == {1, 2}


def test_posterior_samples_figure5(folders, figure_runs, capsys):
    png = posterior_samples.main(['--include-smoke', '--panels', '20', '--samples', '10'])
    table = _check_outputs(png)
    assert set(table['case']) == {'IGR-I (tau=0.1)', 'IGR-SB-Finite (tau=0.02)', 'GS (tau=0.25)'}
    row = table.set_index('case').loc['IGR-I (tau=0.1)']
    assert row['runs'] == 2 and row['images'] == 2 * SMOKE_TEST_N  # both seeds pooled, every smoke test image
    assert table['median'].between(0, np.sqrt(2)).all()
    assert 'Figure 5' in capsys.readouterr().out
    per_run = pd.read_csv(posterior_samples.runs_csv_path(png))
    igr = per_run[per_run['case'] == 'IGR-I (tau=0.1)']
    assert sorted(igr['seed']) == [0, 1] and (igr['images'] == SMOKE_TEST_N).all() and igr['run_name'].is_unique
    # the pooled median lies between the runs' medians
    assert igr['median'].min() <= row['median'] <= igr['median'].max()


def test_jv_grid_smoke(folders):
    cells = jv_grid.grid_cells()
    index = next(i for i, c in enumerate(cells) if c['model_type'] == 'IGR_I' and c['dataset_name'] == 'mnist')
    (final,) = jv_grid.main(['--smoke', '--set', 'epochs=1', '--cell', str(index)])
    from Utils.results.results_io import load_config
    hyper = load_config(final['run_dir'])['hyper']
    assert hyper['run_jv'] and hyper['architecture'] == 'conv_jointvae' and hyper['latent_norm_n'] == 10
    assert np.isfinite(final['TeJV'])


def test_curve_legends_count_the_runs_behind_each_line():
    from matplotlib.figure import Figure
    from Utils.viz_vae import mean_curve, plot_mean_curves
    run = pd.DataFrame({'epoch': [1, 2], 'TeELBO': [-120., -110.]})
    lower = run.assign(TeELBO=run['TeELBO'] - 1.)
    curves = {'GS (tau=1)': mean_curve([run], 'TeELBO'), 'IGR-I (tau=1)': mean_curve([run, lower], 'TeELBO')}
    ax = Figure().subplots()
    plot_mean_curves(ax, curves, 'test TeELBO')
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['GS (tau=1) [1 run]', 'IGR-I (tau=1) [2 runs]']


def test_median_vertex_distance_known_values():
    from Utils.posterior_sampling_funcs import median_distance_per_image, posterior_vertex_distances
    k, s, v = 10, 4, 3
    vertex = np.zeros((1, k, s, v), np.float32)
    vertex[0, 2] = 1.
    uniform = np.full((1, k, s, v), 1. / k, np.float32)
    got = median_distance_per_image(np.concatenate([vertex, uniform], axis=0)).numpy()
    np.testing.assert_allclose(got, [0., np.sqrt(1. - 1. / k)], atol=1e-6)  # a vertex; the centre of the simplex
    calls = []

    def sample_psi(x, samples_n, seed):
        calls.append((len(x), samples_n, seed))
        return np.repeat(uniform[:, :, :1], len(x), axis=0).repeat(samples_n, axis=2)

    out = posterior_vertex_distances(sample_psi, np.zeros((5, 2, 2, 1)), samples_n=3, batch_n=2, seed=7)
    assert out.shape == (5,) and calls == [(2, 3, 7), (2, 3, 8), (1, 3, 9)]


def test_averaged_and_pooled_medians_known_values():
    """One image, 3 samples x 2 variables, distances by hand: variable 0 at a vertex, variable 1 at the centre of a
    2-category simplex (distance sqrt(1/2)) in samples 0-1 and at a vertex in sample 2. Averaged per sample:
    [sqrt(1/8), sqrt(1/8), 0] -> median sqrt(1/8); pooled: four 0s and two sqrt(1/2) -> median 0."""
    from Utils.posterior_sampling_funcs import averaged_and_pooled_medians, posterior_vertex_distances
    psi = np.zeros((1, 2, 3, 2), np.float32)
    psi[0, 0, :, 0] = 1.
    psi[0, :, :2, 1] = 0.5
    psi[0, 1, 2, 1] = 1.
    averaged, pooled = averaged_and_pooled_medians(lambda x, s, seed: psi, np.zeros((1, 2, 2, 1)), samples_n=3)
    np.testing.assert_allclose(averaged, [np.sqrt(1. / 8.)], atol=1e-6)
    np.testing.assert_allclose(pooled, [0.], atol=1e-6)
    np.testing.assert_array_equal(averaged, posterior_vertex_distances(lambda x, s, seed: psi, np.zeros((1, 2, 2, 1)),
                                                                       samples_n=3))


def test_distance_averaging_smoke(folders, figure_runs, tmp_path):
    runs = sorted(p for p in folders['log'].iterdir() if p.name.startswith('vae_mnist_IGR_I_Dis_t0.1_s0'))
    out = tmp_path / 'averaging.csv'
    rows = distance_averaging.main(['--run', f'{runs[0]}:2', '--samples', '10', '--out', str(out)])
    assert len(rows) == 1 and rows[0]['epoch'] == 2 and rows[0]['images'] == SMOKE_TEST_N
    per_run = posterior_samples.run_distances(runs[0], posterior_samples.TestImages(), 10)
    np.testing.assert_allclose(rows[0]['averaged'], np.median(per_run), rtol=1e-6)  # Figure 5's measure, same draws
    distance_averaging.main(['--run', str(runs[0]), '--samples', '10', '--out', str(out)])
    table = pd.read_csv(out)
    assert len(table) == 1 and table['pooled'].between(0, np.sqrt(2)).all()  # the same (run, epoch) replaced
    with pytest.raises(SystemExit):
        distance_averaging.main(['--run', str(tmp_path)])


def test_offset_reading_smoke(folders, figure_runs, tmp_path):
    """The script on a smoke run: its ends are the run's relaxed and one-hot reconstructions (the ELBO parts of the
    same checkpoint and test images, up to the float rounding of a sum taken in another order), and a second call
    replaces the (run, epoch) row."""
    from Models import train_vae as tv
    from Models.elbo_parts import elbo_parts
    from Utils.load_data import load_dataset
    from vae_experiments import offset_reading
    run = sorted(p for p in folders['log'].iterdir() if p.name.startswith('vae_mnist_IGR_SB_Finite_Dis'))[0]
    out = tmp_path / 'offset.csv'
    rows = offset_reading.main(['--run', f'{run}:2', '--out', str(out)])
    assert len(rows) == 1 and rows[0]['epoch'] == 2 and rows[0]['images'] == SMOKE_TEST_N
    model, h = tv.load_trained_vae(run, 2)
    parts = elbo_parts(model, tv._test_batches(load_dataset('mnist', h['architecture'], True).x_test))
    assert (rows[0]['log_px_a1'], rows[0]['log_px_a0']) == pytest.approx((parts['log_px'], parts['log_px_one_hot']),
                                                                         rel=1e-7)  # summation order apart
    offset_reading.main(['--run', f'{run}:2', '--out', str(out)])
    assert len(pd.read_csv(out)) == 1
