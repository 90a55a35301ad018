"""Tables from hand-made run folders: means, sample stds, run counts, epochs, finished-only selection."""
import json

import numpy as np
import pandas as pd
import pytest

from Utils.results import results_io
from structure_output_prediction import make_tables as sop_tables
from vae_experiments import make_tables as vae_tables

VAE_COLUMNS = ['epoch', 'TeELBO', 'TeELBOC', 'TeELBOD', 'TeJV', 'TeJVC', 'N', 'TrL', 'seconds']


def make_run(log_dir, name, hyper, rows, finished=True, experiment='vae', columns=VAE_COLUMNS, status=True):
    """Write a run folder in the documented format; ``rows`` are dicts keyed by metric name (epoch first)."""
    run = log_dir / name
    run.mkdir(parents=True)
    (run / 'config.json').write_text(json.dumps({'experiment': experiment, 'hyper': hyper,
                                                 'created': '2024-01-01T00:00:00'}))
    pd.DataFrame([{c: r.get(c, np.nan) for c in columns} for r in rows], columns=columns).to_csv(
        run / 'metrics.csv', index=False)
    if status:
        (run / 'status.json').write_text(json.dumps({'epochs_done': rows[-1]['epoch'] if rows else 0,
                                                     'finished': finished}))
    return run


def vae_hyper(model, dataset, temp, seed, run_jv=False, epochs=3):
    return {'model_type': model, 'dataset_name': dataset, 'temp': temp, 'seed': seed, 'run_jv': run_jv,
            'epochs': epochs, 'cont_c_linspace': [0, 5, 25000]}


def rows(final, epochs=3, jv=None):
    """Metric rows for epochs 1..epochs; only the last carries ``final`` (earlier rows are decoys)."""
    out = [{'epoch': e, 'TeELBO': -1000.0, 'TeELBOC': -1000.0, 'TeELBOD': -1000.0, 'TrL': 1.0, 'N': 10}
           for e in range(1, epochs)]
    last = {'epoch': epochs, 'TeELBO': final, 'TeELBOC': final - 1, 'TeELBOD': final - 2, 'TrL': 1.0, 'N': 10}
    if jv is not None:
        last.update(TeJV=jv, TeJVC=jv + 0.5)
    return out + [last]


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    log = tmp_path / 'Log'
    log.mkdir()
    monkeypatch.setenv('IGR_LOG_DIR', str(log))
    monkeypatch.setenv('IGR_RESULTS_DIR', str(tmp_path / 'Results'))
    # Table 1: GS_Dis mnist 0.5 -> 3 seeds; IGR_I_Dis mnist 0.1 -> 1 seed; one unfinished run; one run of 5 epochs
    for seed, value in enumerate([-100.0, -102.0, -104.0]):
        make_run(log, f'vae_mnist_GS_Dis_t0.5_s{seed}', vae_hyper('GS_Dis', 'mnist', 0.5, seed), rows(value))
    make_run(log, 'vae_mnist_GS_Dis_t0.5_s9', vae_hyper('GS_Dis', 'mnist', 0.5, 9), rows(-50.0), finished=False)
    make_run(log, 'vae_mnist_GS_Dis_t1.0_s0', vae_hyper('GS_Dis', 'mnist', 1.0, 0), rows(-98.0, epochs=5))
    make_run(log, 'vae_mnist_GS_Dis_t1.0_s1', vae_hyper('GS_Dis', 'mnist', 1.0, 1), rows(-99.0))
    make_run(log, 'vae_mnist_IGR_I_Dis_t0.1_s0', vae_hyper('IGR_I_Dis', 'mnist', 0.1, 0), rows(-90.0))
    make_run(log, 'vae_fmnist_IGR_I_Dis_t0.1_s0', vae_hyper('IGR_I_Dis', 'fmnist', 0.1, 0), rows(-200.0))
    # Table 2: JointVAE runs
    for seed, value in enumerate([10.0, 14.0]):
        make_run(log, f'vae_mnist_IGR_I_t0.5_s{seed}', vae_hyper('IGR_I', 'mnist', 0.5, seed, run_jv=True),
                 rows(-80.0 - seed, jv=value))
    # Table 3: SOP runs
    for seed, value in enumerate([60.0, 62.0, 67.0]):
        make_run(log, f'sop_mnist_GS_t0.25_s{seed}', {'model_type': 'GS', 'temp': 0.25, 'seed': seed},
                 [{'epoch': 1, 'TeNLL': 99.0}, {'epoch': 2, 'TeNLL': value, 'TeNLLD': value + 3, 'TeNLLMS': value - 1}],
                 experiment='sop', columns=['epoch', 'TeNLL', 'TeNLLD', 'TeNLLMS', 'TrL', 'seconds'])
    smoke = {**vae_hyper('GS_Dis', 'mnist', 0.5, 3), 'run_with_sample': True}  # left out unless asked for
    make_run(log, 'vae_mnist_GS_Dis_t0.5_s3_smoke', smoke, rows(-900.0))
    (log / 'not_a_run').mkdir()  # ignored: no config.json
    return log


def test_collect_runs(log_dir):
    runs = results_io.collect_runs()
    assert len(runs) == 13
    assert set(results_io.collect_runs(experiment='sop')['run_name']) == {f'sop_mnist_GS_t0.25_s{s}' for s in range(3)}
    assert len(results_io.collect_runs(experiment='vae', finished_only=True)) == 9
    one = results_io.collect_runs(model_type='GS_Dis', temp=1.0).set_index('run_name')
    assert one.loc['vae_mnist_GS_Dis_t1.0_s0', 'TeELBO'] == -98.0  # final epoch, not the decoys
    assert one.loc['vae_mnist_GS_Dis_t1.0_s0', 'epochs_done'] == 5
    assert one.loc['vae_mnist_GS_Dis_t1.0_s0', 'cont_c_linspace'] == (0, 5, 25000)


def test_collect_metrics_long_format(log_dir):
    curves = results_io.collect_metrics(experiment='vae', model_type='GS_Dis', temp=0.5, finished_only=True)
    assert len(curves) == 9 and set(curves['seed']) == {0, 1, 2}
    assert list(curves.columns[:6]) == ['run_name', 'model_type', 'dataset_name', 'temp', 'seed', 'run_jv']
    assert curves.groupby('run_name')['epoch'].apply(list).tolist() == [[1, 2, 3]] * 3


def test_table1_means_counts_and_files(log_dir, tmp_path):
    summary, csv_path, md_path = vae_tables.make_table(1)
    assert csv_path == tmp_path / 'Results' / 'tables' / 'table1.csv' and md_path.name == 'table1.md'
    assert [tuple(r) for r in summary[['dataset_name', 'model_type', 'temp']].itertuples(index=False)] == [
        ('mnist', 'GS_Dis', 0.5), ('mnist', 'GS_Dis', 1.0), ('mnist', 'IGR_I_Dis', 0.1), ('fmnist', 'IGR_I_Dis', 0.1)]
    gs = summary.iloc[0]
    assert gs['n_runs'] == 3  # the unfinished seed 9 is left out
    assert gs['TeELBO_mean'] == pytest.approx(-102.0) and gs['TeELBO_std'] == pytest.approx(2.0)  # ddof=1
    assert gs['TeELBOC_mean'] == pytest.approx(-103.0) and gs['TeELBOD_mean'] == pytest.approx(-104.0)
    assert (gs['epochs_min'], gs['epochs_max']) == (3, 3)
    gs1 = summary.iloc[1]
    assert gs1['TeELBO_mean'] == pytest.approx(-98.5) and gs1['TeELBO_std'] == pytest.approx(np.std([-98, -99], ddof=1))
    assert (gs1['epochs_min'], gs1['epochs_max']) == (3, 5)
    igr = summary.iloc[2]
    assert igr['n_runs'] == 1 and np.isnan(igr['TeELBO_std'])

    back = pd.read_csv(csv_path)
    assert len(back) == 4 and back['n_runs'].tolist() == [3, 2, 1, 1]
    assert back.loc[0, 'TeELBO_mean'] == pytest.approx(-102.0)
    md = md_path.read_text()
    assert '| mnist | GS_Dis | 0.5 | -102.00 ± 2.00 | -103.00 ± 2.00 | -104.00 ± 2.00 | 10.00 ± 0.00 | 3 | 3 |' in md
    assert '| mnist | GS_Dis | 1.0 | -98.50 ± 0.71 | -99.50 ± 0.71 | -100.50 ± 0.71 | 10.00 ± 0.00 | 2 | 3-5 |' in md
    assert '| mnist | IGR_I_Dis | 0.1 | -90.00 ± - |' in md
    best = md.split('## All temperatures')[0]
    assert '| mnist | GS_Dis | 1.0 |' in best and '| mnist | GS_Dis | 0.5 |' not in best  # best mean TeELBO


def test_include_unfinished_and_smoke(log_dir):
    summary, _, _ = vae_tables.make_table(1, include_unfinished=True)
    gs = summary.iloc[0]
    assert gs['n_runs'] == 4 and gs['TeELBO_mean'] == pytest.approx(np.mean([-100, -102, -104, -50]))
    summary, _, md_path = vae_tables.make_table(1, include_smoke=True)
    gs = summary.iloc[0]
    assert gs['n_runs'] == 4 and gs['TeELBO_mean'] == pytest.approx(np.mean([-100, -102, -104, -900]))
    assert 'smoke runs included' in md_path.read_text()
    assert len(results_io.collect_runs(include_smoke=True)) == 14


def test_table2_selects_jointvae_runs(log_dir):
    summary, _, md_path = vae_tables.make_table(2)
    assert len(summary) == 1
    row = summary.iloc[0]
    assert (row['model_type'], row['n_runs']) == ('IGR_I', 2)
    assert row['TeJV_mean'] == pytest.approx(12.0) and row['TeJV_std'] == pytest.approx(np.sqrt(8.0))
    assert row['TeJVC_mean'] == pytest.approx(12.5) and row['TeELBO_mean'] == pytest.approx(-80.5)
    assert '| mnist | IGR_I | 0.5 | 12.00 ± 2.83 | 12.50 ± 2.83 | -80.50 ± 0.71 | 10.00 ± 0.00 | 2 | 3 |' in md_path.read_text()


def test_table3_from_sop_runs(log_dir, tmp_path):
    out = tmp_path / 'elsewhere'
    summary, csv_path, md_path = sop_tables.make_table(out_dir=out)
    assert csv_path.parent == out
    row = summary.iloc[0]
    assert len(summary) == 1 and row['n_runs'] == 3 and (row['epochs_min'], row['epochs_max']) == (2, 2)
    assert row['TeNLL_mean'] == pytest.approx(63.0) and row['TeNLL_std'] == pytest.approx(np.std([60, 62, 67], ddof=1))
    assert row['TeNLLD_mean'] == pytest.approx(66.0) and row['TeNLLMS_mean'] == pytest.approx(62.0)
    assert '| GS | 0.25 | 63.00 ± 3.61 | 66.00 ± 3.61 | 62.00 ± 3.61 | 3 | 2 |' in md_path.read_text()


def test_command_lines_and_empty_log(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path / 'empty'))
    monkeypatch.setenv('IGR_RESULTS_DIR', str(tmp_path / 'Results'))
    vae_tables.main([])
    sop_tables.main(['--include-unfinished'])
    tables = tmp_path / 'Results' / 'tables'
    assert sorted(p.name for p in tables.iterdir()) == [f'table{i}.{e}' for i in (1, 2, 3) for e in ('csv', 'md')]
    assert 'No runs found.' in (tables / 'table1.md').read_text()
    assert 'table 1: 0 rows' in capsys.readouterr().out


def test_unreadable_and_partial_runs(tmp_path):
    log = tmp_path / 'Log'
    log.mkdir()
    bad = log / 'broken'
    bad.mkdir()
    (bad / 'config.json').write_text('{not json')
    make_run(log, 'killed', vae_hyper('GS_Dis', 'mnist', 0.5, 0), rows(-1.0), status=False)
    empty = make_run(log, 'just_started', vae_hyper('GS_Dis', 'mnist', 0.5, 1), [], finished=False)
    (empty / 'metrics.csv').write_text('')
    with pytest.warns(UserWarning, match='broken'):
        runs = results_io.collect_runs(log).set_index('run_name')
    assert list(runs.index) == ['just_started', 'killed']
    assert not runs.loc['killed', 'finished'] and runs.loc['killed', 'epochs_done'] == 3
    assert runs.loc['just_started', 'epochs_done'] == 0
    assert results_io.load_metrics(empty).empty and results_io.final_metrics(empty) == {}


def test_duplicate_runs_of_a_cell_count_once(tmp_path):
    """Folders of one cell made before cells found their run: the finished one with the most epochs is used."""
    log = tmp_path / 'dup'
    make_run(log, 'vae_mnist_GS_Dis_t0.5_s0_a', vae_hyper('GS_Dis', 'mnist', 0.5, 0, epochs=3), rows(-100.0))
    make_run(log, 'vae_mnist_GS_Dis_t0.5_s0_b', vae_hyper('GS_Dis', 'mnist', 0.5, 0, epochs=5),
             rows(-90.0, epochs=5))
    make_run(log, 'vae_mnist_GS_Dis_t0.5_s0_c', vae_hyper('GS_Dis', 'mnist', 0.5, 0, epochs=9),
             rows(-80.0, epochs=7), finished=False)
    make_run(log, 'vae_mnist_GS_Dis_t0.5_s1', vae_hyper('GS_Dis', 'mnist', 0.5, 1), rows(-110.0))
    with pytest.warns(UserWarning, match='3 runs of one cell.*using vae_mnist_GS_Dis_t0.5_s0_b'):
        runs = results_io.collect_runs(log, include_smoke=True)
    assert sorted(runs['run_name']) == ['vae_mnist_GS_Dis_t0.5_s0_b', 'vae_mnist_GS_Dis_t0.5_s1']
    summary = results_io.summarize_runs(runs, ('TeELBO',))
    assert summary['n_runs'].tolist() == [2] and summary['TeELBO_mean'].tolist() == [-100.0]


def test_ship_runs_copies_the_records_of_finished_runs_only(tmp_path):
    from Utils.ship_runs import RECORD_FILES, ship
    log = tmp_path / 'log'
    done = make_run(log, 'vae_mnist_GS_Dis_t0.5_s0', vae_hyper('GS_Dis', 'mnist', 0.5, 0), rows(-100.0))
    (done / 'checkpoints').mkdir()
    (done / 'checkpoints' / 'ckpt-3.index').write_text('weights')
    (done / 'train.log').write_text('Epoch 1 ||\n')
    make_run(log, 'vae_mnist_GS_Dis_t0.5_s1', vae_hyper('GS_Dis', 'mnist', 0.5, 1), rows(-90.0), finished=False)
    assert ship(log, tmp_path / 'runs') == ['vae_mnist_GS_Dis_t0.5_s0']
    shipped = tmp_path / 'runs' / 'vae_mnist_GS_Dis_t0.5_s0'
    assert sorted(p.name for p in shipped.iterdir()) == sorted(
        name for name in RECORD_FILES if (done / name).exists())
    assert ship(log, tmp_path / 'runs') == []  # already there with as many epochs
    runs = results_io.collect_runs(tmp_path / 'runs')
    assert runs['TeELBO'].tolist() == [-100.0]


def _write_ll(run, entries):
    (run / 'log_likelihood.json').write_text(json.dumps({'entries': entries}))


def test_log_likelihood_columns_appear_when_runs_have_them(log_dir, tmp_path):
    summary, _, md = vae_tables.make_table(1, out_dir=tmp_path / 'plain')
    assert 'TeLL_mean' not in summary.columns and 'TeLL' not in md.read_text()
    entry = lambda s, epoch, value: {'S': s, 'epoch': epoch, 'TeLL': value, 'TeLL_se': 0.1, 'TeLLD': value - 1,
                                     'TeLLD_se': 0.1, 'TeLLD_prior_se': 0., 'seconds': 1.}
    # the largest S at the last epoch counts; an entry of an earlier epoch never does
    _write_ll(log_dir / 'vae_mnist_GS_Dis_t0.5_s0', [entry(10, 3, -95.), entry(100, 3, -94.), entry(1000, 2, -1.)])
    _write_ll(log_dir / 'vae_mnist_GS_Dis_t0.5_s1', [entry(100, 3, -96.)])
    summary, _, md = vae_tables.make_table(1, out_dir=tmp_path / 'll')
    row = summary[(summary.model_type == 'GS_Dis') & (summary.temp == 0.5)].iloc[0]
    assert row['TeLL_mean'] == pytest.approx(-95.) and row['TeLLD_mean'] == pytest.approx(-96.)
    assert row['TeLL_std'] == pytest.approx(np.std([-94., -96.], ddof=1))
    assert 'TeLL' in md.read_text()
    runs = results_io.collect_runs(log_dir)
    first = runs[runs.run_name == 'vae_mnist_GS_Dis_t0.5_s0'].iloc[0]
    assert first['LL_S'] == 100


def test_log_likelihood_table_script(log_dir, tmp_path, capsys):
    from vae_experiments import log_likelihood as ll_script
    entry = {'S': 50, 'epoch': 3, 'TeLL': -97., 'TeLL_se': 0.2, 'TeLLD': -99., 'TeLLD_se': 0.3,
             'TeLLD_prior_se': 0.01, 'seconds': 2.}
    _write_ll(log_dir / 'vae_mnist_IGR_I_Dis_t0.1_s0', [entry])
    summary = ll_script.main(['--out-dir', str(tmp_path), '--samples', '5'])  # no checkpoints: table only
    assert len(summary) == 1 and summary.iloc[0]['TeLLD_mean'] == -99.
    assert 'no checkpoints' in capsys.readouterr().out
    assert (tmp_path / 'log_likelihood.md').read_text().count('IGR_I_Dis') == 1
    with pytest.raises(SystemExit):
        ll_script.main(['--samples', '0'])


def test_ship_runs_replaces_a_run_whose_records_grew(tmp_path):
    from Utils.ship_runs import ship
    log = tmp_path / 'log'
    done = make_run(log, 'vae_mnist_GS_Dis_t0.5_s0', vae_hyper('GS_Dis', 'mnist', 0.5, 0), rows(-100.0))
    assert ship(log, tmp_path / 'runs') == ['vae_mnist_GS_Dis_t0.5_s0']
    _write_ll(done, [{'S': 10, 'epoch': 3, 'TeLL': -1., 'TeLL_se': 0., 'TeLLD': -2., 'TeLLD_se': 0.,
                      'TeLLD_prior_se': 0., 'seconds': 1.}])
    assert ship(log, tmp_path / 'runs') == ['vae_mnist_GS_Dis_t0.5_s0']
    assert (tmp_path / 'runs' / done.name / 'log_likelihood.json').is_file()
    assert ship(log, tmp_path / 'runs') == []
