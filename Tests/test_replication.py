"""The claims report: the paired test against TFP's Student t, the verdict rule, and the real report script run on
real (short) MNIST runs, regenerated exactly by `--check` and caught when a shipped table is edited."""
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from Utils import paths
from Utils.results import replication
from Utils.load_data import mnist_path
from Utils.results.replication import Case, Comparison, Records


@pytest.mark.parametrize('df', [1, 2, 3, 4, 5, 8, 11, 30])
def test_t_pvalue_matches_tfp_student_t(df):
    import tensorflow_probability as tfp
    t = np.array([0., 0.3, 1., 2.2, 4.303, 9., 40.])
    reference = 2. * tfp.distributions.StudentT(np.float64(df), 0., 1.).survival_function(t).numpy()
    mine = np.array([replication.two_sided_t_pvalue(v, df) for v in t])
    np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-12)
    assert replication.two_sided_t_pvalue(-2.2, df) == replication.two_sided_t_pvalue(2.2, df)


def test_t_pvalue_refuses_bad_degrees_of_freedom():
    with pytest.raises(ValueError, match='bad degrees of freedom 0'):
        replication.two_sided_t_pvalue(1., 0)


def test_paired_comparison_by_hand():
    a = pd.Series({0: -100., 1: -102., 2: -101., 5: -90.})
    b = pd.Series({0: -110., 1: -111., 2: -113.})  # seed 5 has no pair: left out
    row = replication.paired_comparison(a, b)
    d = np.array([10., 9., 12.])
    assert row['n'] == 3 and row['seeds'] == '0 1 2' and row['wins'] == 3
    assert row['diff_mean'] == pytest.approx(d.mean()) and row['diff_std'] == pytest.approx(d.std(ddof=1))
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    assert row['t'] == pytest.approx(t) and row['p'] == pytest.approx(1. - t / math.sqrt(2. + t * t))
    assert row['verdict'] == replication.SUPPORTED
    lower = replication.paired_comparison(a, b, higher_is_better=False)  # a is higher: worse when lower is better
    assert lower['diff_mean'] == pytest.approx(-d.mean()) and lower['verdict'] == replication.NOT_SUPPORTED
    mixed = replication.paired_comparison(pd.Series({0: 1., 1: -1., 2: 0.5}), pd.Series({0: 0., 1: 0., 2: 0.}))
    assert mixed['verdict'] == replication.UNDECIDED and mixed['wins'] == 2
    single = replication.paired_comparison(pd.Series({0: 1.}), pd.Series({0: 0.}))
    assert single['n'] == 1 and math.isnan(single['p']) and single['verdict'] == replication.UNDECIDED
    constant = replication.paired_comparison(pd.Series({0: 2., 1: 3.}), pd.Series({0: 1., 1: 2.}))
    assert constant['p'] == 0. and constant['verdict'] == replication.SUPPORTED


def test_claim_verdict_rule():
    S, N, U = replication.SUPPORTED, replication.NOT_SUPPORTED, replication.UNDECIDED
    assert replication.claim_verdict([S, S, U]) == S
    assert replication.claim_verdict([S, U]) == U  # half is not more than half
    assert replication.claim_verdict([S, S, N]) == N
    assert replication.claim_verdict([]) == U


def _runs():
    rows = [{'run_name': f'{m}_{s}', 'run_dir': f'/nowhere/{m}_{s}', 'experiment': 'vae', 'dataset_name': 'mnist',
             'model_type': m, 'temp': t, 'seed': s, 'TeELBO': v + s}
            for m, t, v in (('GS_Dis', 1.0, -150.), ('IGR_I_Dis', 1.0, -120.), ('GS_Dis', 0.25, -170.),
                            ('IGR_I_Dis', 0.1, -125.)) for s in (0, 1, 2)]
    return pd.DataFrame(rows)


def test_sources_read_final_values_and_temperature_drops():
    records = Records(_runs())
    igr = Case('IGR-I', {'experiment': 'vae', 'model_type': 'IGR_I_Dis', 'temp': 1.0})
    gs = Case('GS', {'experiment': 'vae', 'model_type': 'GS_Dis', 'temp': 1.0})
    drop = lambda case, low: Case(case.label, {**case.where, 'low_temp': low})
    table = replication.evaluate([Comparison('elbo', 'cv', 'final', 'TeELBO', igr, gs),
                                  Comparison('temperature', 'drop', 'drop', 'TeELBO', drop(igr, 0.1), drop(gs, 0.25),
                                             higher_is_better=False)], records)
    assert table['a_mean'].tolist() == [-119., 5.] and table['b_mean'].tolist() == [-149., 20.]
    assert table['verdict'].tolist() == [replication.SUPPORTED] * 2  # constant differences: p = 0
    md = replication.claims_markdown(table, {'elbo': 'better ELBO', 'temperature': 'drop', 'other': 'none'})
    assert '**Verdict: supported** (1 supported, 0 not supported, 0 not decidable of 1 comparisons)' in md
    assert 'No runs for this claim.' in md and '| -119.00 ± 1.00 | -149.00 ± 1.00 | 30.00 ± 0.00 | 3/3 |' in md
    twice = Records(pd.concat([_runs(), _runs().iloc[:1]]))
    with pytest.raises(ValueError, match='several runs per seed'):
        replication.evaluate([Comparison('elbo', 'cv', 'final', 'TeELBO', Case('GS', {'model_type': 'GS_Dis',
                                                                                     'temp': 1.0}), igr)], twice)
    with pytest.raises(ValueError, match="unknown source 'bogus'"):
        replication.evaluate([Comparison('elbo', 'cv', 'bogus', 'TeELBO', igr, gs)], records)


def test_decided_lists_only_the_decided_comparisons_with_each_sides_seeds(tmp_path):
    """Welch's rule on hand-made records: IGR-I beats GS at tau 1 by 30.5 nats over seeds 0-2 against
    GS's 0-1; at the low temperatures one seed each cannot decide. decided.md lists the first row only."""
    from vae_experiments.report_claims import write_decided
    runs = _runs()
    runs = runs[~((runs['model_type'] == 'GS_Dis') & (runs['temp'] == 1.0) & (runs['seed'] == 2))]
    runs = runs[~((runs['temp'] < 1.0) & (runs['seed'] > 0))]
    case = lambda label, model, temp: Case(label, {'experiment': 'vae', 'model_type': model, 'temp': temp})
    table = replication.evaluate(
        [Comparison('elbo', 'cv', 'final', 'TeELBO', case('IGR-I (tau=1)', 'IGR_I_Dis', 1.0),
                    case('GS', 'GS_Dis', 1.0)),
         Comparison('vertices', 'low', 'final', 'TeELBO', case('IGR-I (tau=0.1)', 'IGR_I_Dis', 0.1),
                    case('GS', 'GS_Dis', 0.25))], Records(runs), 'welch')
    assert table['verdict'].tolist() == [replication.SUPPORTED, replication.UNDECIDED]
    assert (table['n_a'].tolist(), table['n_b'].tolist(), table['n'].tolist()) == ([3, 1], [2, 1], [2, 1])
    write_decided(table, tmp_path)
    md = (tmp_path / 'decided.md').read_text()
    assert '1 of 2 comparisons are decided at the runs\' last epoch (1 supported, 0 not supported)' in md
    assert '| IGR-I (tau=1) against GS, TeELBO, cv | +30.50 [' in md and '| 3 / 2 | supported |' in md
    assert 'tau=0.1' not in md
    assert pd.read_csv(tmp_path / 'decided.csv')['a'].tolist() == ['IGR-I (tau=1)']


@pytest.fixture(scope='module')
def shipped(tmp_path_factory):
    """Four short real MNIST runs (IGR-I and GS at the cross-validated temperature, seeds 0 and 1), shipped."""
    if not mnist_path().exists():
        pytest.skip('MNIST is not on this machine (make data)')
    from Utils.ship_runs import ship
    from vae_experiments import discrete_grid
    root = tmp_path_factory.mktemp('replication')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('IGR_LOG_DIR', str(root / 'Log'))
        mp.setenv('IGR_RESULTS_DIR', str(root / 'Results'))
        (root / 'Results').mkdir()
        shutil.copy(paths.REPO_ROOT / 'Results' / 'mu_xi_unif_10_IGR_I.pkl', root / 'Results')  # IGR-I's prior
        cells = discrete_grid.grid_cells('evidence_mnist_cv')
        for index, cell in enumerate(cells):
            if cell['model_type'] in ('GS_Dis', 'IGR_I_Dis') and cell['seed'] in (0, 1):
                discrete_grid.main(['--preset', 'evidence_mnist_cv', '--cell', str(index), '--set', 'epochs=1',
                                    '--set', 'log_likelihood_samples=2'])
        assert len(ship(root / 'Log', root / 'Results' / 'runs')) == 4
        yield root / 'Results', mp


def test_report_regenerates_and_check_catches_edits(shipped, capsys):
    from vae_experiments import replication_report as report
    results, _ = shipped
    (results / report.REPORT).write_text('# Report\n\n<!-- generated:table1 -->\nSTALE-BLOCK\n<!-- /generated:table1 -->\n'
                                         'hand-written text\n<!-- generated:claims -->\n<!-- /generated:claims -->\n')
    assert report.main([]) == 0
    text = (results / report.REPORT).read_text()
    assert 'STALE-BLOCK' not in text and 'hand-written text' in text and '| mnist | IGR_I_Dis | 1.0 |' in text
    claims = pd.read_csv(results / 'tables' / 'claims.csv')
    elbo = claims[(claims['claim'] == 'elbo') & (claims['a'] == 'IGR-I (tau=1)') &
                  (claims['context'] == 'mnist, cross-validated temperatures')]
    table1 = pd.read_csv(results / 'tables' / 'table1.csv').set_index('model_type')
    assert elbo['n'].item() == 2 and elbo['a_mean'].item() == pytest.approx(table1.loc['IGR_I_Dis', 'TeELBO_mean'])
    assert elbo['b_mean'].item() == pytest.approx(table1.loc['GS_Dis', 'TeELBO_mean'])
    assert '### IGR variants reach a better test ELBO than GS' in text and (results / 'figure3_elbo_mnist.csv').is_file()
    capsys.readouterr()
    code, out = report.main(['--check']), capsys.readouterr().out
    assert code == 0 and 'regenerates exactly' in out, out
    table = results / 'tables' / 'table1.md'
    table.write_text(table.read_text().replace('IGR_I_Dis', 'IGR_X'))
    (results / report.REPORT).write_text(text.replace('hand-written text', 'edited by hand, allowed'))
    assert report.main(['--check']) == 1
    out = capsys.readouterr().out
    assert 'tables/table1.md: differs' in out and 'REPLICATION.md' not in out
    report.main([])
    (results / report.REPORT).write_text((results / report.REPORT).read_text().replace('| mnist |', '| MNIST |', 1))
    assert report.main(['--check']) == 1 and 'REPLICATION.md: a generated block of the evidence budget differs' in \
        capsys.readouterr().out


@pytest.mark.parametrize('budget', ['evidence', 'paper'])
def test_every_shipped_budget_regenerates_exactly(budget):
    """`make replicate-check` inside `make test`: a code change can never silently change a shipped table."""
    from vae_experiments import replication_report as report
    results = paths.REPO_ROOT / 'Results'
    if report.BUDGETS[budget] not in report.shipped_budgets(results):
        pytest.skip(f'no {budget} records shipped yet')
    assert report.check(report.BUDGETS[budget], results) == []


def test_the_shipped_mixture_tables_regenerate_exactly():
    """The nonparametric experiment's tables and report blocks (`vae_experiments/dlgmm_report.py --check`)."""
    from vae_experiments import dlgmm_report
    assert dlgmm_report.check(paths.REPO_ROOT / 'Results') == []


def test_ablation_cells_show_a_single_run_without_a_spread():
    from vae_experiments.report_ablations import _cell
    assert _cell(-123.456, np.nan, 2, 1) == '-123.46'
    assert _cell(0.12345, 0.5, 3, 3) == '0.123 ± 0.500'
    assert _cell(np.nan, np.nan, 2, 0) == '-'


def test_progress_counts_the_campaigns_finished_cells_and_names_the_rest(tmp_path):
    """With no records every cell of the paper campaign is still to run (40 MNIST, 20 SOP, 20 Fashion-MNIST,
    12 JointVAE); one shipped SOP record (GS, seed 0) takes exactly that cell off SOP's list."""
    from vae_experiments.report_budget_tables import progress, write_progress
    empty = progress(tmp_path)
    assert empty['cells'].tolist() == [40, 20, 20, 12] and empty['finished'].tolist() == [0, 0, 0, 0]
    assert 'GS (tau=0.5): seeds 0-4' in empty['to_run'][1]
    shipped = paths.REPO_ROOT / 'Results' / 'runs_paper' / 'sop_mnist_GS_t0.5_s0_kf22efd5aec'
    shutil.copytree(shipped, tmp_path / shipped.name)
    one = write_progress(tmp_path, tmp_path)
    assert one['finished'].tolist() == [0, 1, 0, 0]
    assert one['to_run'][1].split('; ') == ['IGR-I (tau=0.5): seeds 0-4', 'IGR-Planar (tau=0.5): seeds 0-4',
                                            'IGR-SB (tau=0.5): seeds 0-4', 'GS (tau=0.5): seeds 1-4']
    md = (tmp_path / 'progress.md').read_text()
    assert 'Complete: no part yet. 1 of 92 runs are finished and shipped.' in md
    assert '| Table 3 (SOP) | 1 of 20 | IGR-I (tau=0.5): seeds 0-4; ' in md


def test_verdict_by_training_reads_each_epoch_and_marks_claims_without_runs(tmp_path):
    """On the shipped Table 3 records (50 epochs, seeds 0-4): IGR-I's TeNLL effect at epoch 10 is Welch's interval
    computed here by hand from the runs' metrics.csv (t quantile from TFP), lower NLL counted as better; the SOP
    claim has no runs at epoch 100 and the JointVAE claim none at all, so their claim cells are '-'."""
    import tensorflow_probability as tfp
    from vae_experiments.replication_report import BUDGETS
    from vae_experiments.report_claims import write_verdict_by_training
    from vae_experiments.report_records import finished_runs
    runs = finished_runs(paths.REPO_ROOT / 'Results' / 'runs_paper')
    runs = runs[runs['experiment'] == 'sop']
    table = write_verdict_by_training(runs, tmp_path, BUDGETS['paper'])
    at10 = lambda model: np.array([float(pd.read_csv(f'{d}/metrics.csv').set_index('epoch').loc[10, 'TeNLL'])
                                   for d in runs[runs['model_type'] == model]['run_dir']])
    igr, gs = at10('IGR_I'), at10('GS')
    va, vb = igr.var(ddof=1) / len(igr), gs.var(ddof=1) / len(gs)
    df = (va + vb) ** 2 / (va ** 2 / (len(igr) - 1) + vb ** 2 / (len(gs) - 1))
    half = float(tfp.distributions.StudentT(np.float64(df), 0., 1.).quantile(0.975)) * math.sqrt(va + vb)
    effect = gs.mean() - igr.mean()
    row = table[(table['epoch'] == 10) & (table['a'] == 'IGR-I (tau=0.5)') & (table['metric'] == 'TeNLL')].iloc[0]
    assert (row['diff_mean'], row['ci_low'], row['ci_high']) == pytest.approx((effect, effect - half, effect + half))
    md = (tmp_path / 'verdict_by_training.md').read_text()
    sop = md[md.index('### IGR does better in structured output prediction'):]
    assert '| **claim** | not supported | not supported | not supported | - |' in sop
    assert f'| IGR-I (tau=0.5), TeNLL, binarized MNIST, lower half from the upper half | {effect:.2f} [' in sop
    jointvae = md[md.index('### IGR does better in the JointVAE'):]
    assert '| **claim** | - | - | - | - |' in jointvae


def test_elbo_parts_table_averages_each_cell_and_epoch_over_its_seeds(tmp_path):
    """Two seeds of one MNIST cell with hand-made `elbo_parts.json` records (seed 1 without epoch 10) and one
    Fashion-MNIST run: the means per dataset and epoch, the seeds behind each row, MNIST before Fashion-MNIST and GS
    before IGR, and a JointVAE run left out."""
    from Utils.runs import folders
    from vae_experiments.report_budget_tables import ELBO_PART_COLUMNS, write_elbo_parts
    rows = []
    for name, data, model, seed, jv, epochs in (('e', 'fmnist', 'IGR_I_Dis', 2, False, (1,)),
                                                ('a', 'mnist', 'IGR_I_Dis', 0, False, (1, 10)),
                                                ('b', 'mnist', 'IGR_I_Dis', 1, False, (1,)),
                                                ('c', 'mnist', 'GS_Dis', 0, False, (1,)),
                                                ('d', 'mnist', 'IGR_I', 0, True, (1,))):
        (tmp_path / name).mkdir()
        folders.write_json(tmp_path / name / 'elbo_parts.json', {'epochs': {
            str(e): {k: float(seed + e + i) for i, k in enumerate(ELBO_PART_COLUMNS)} for e in epochs}})
        rows.append({'run_dir': str(tmp_path / name), 'experiment': 'vae', 'dataset_name': data, 'run_jv': jv,
                     'model_type': model, 'temp': 1.0, 'seed': seed})
    table = write_elbo_parts(pd.DataFrame(rows), tmp_path)
    assert table[['dataset', 'model', 'epoch', 'seeds']].values.tolist() == [
        ['mnist', 'GS_Dis', 1, '0'], ['mnist', 'IGR_I_Dis', 1, '0-1'], ['mnist', 'IGR_I_Dis', 10, '0'],
        ['fmnist', 'IGR_I_Dis', 1, '2']]
    assert table['TeELBO'].tolist() == [1., 1.5, 10., 3.] and table['kl_categorical'].tolist() == [6., 6.5, 15., 8.]
    md = (tmp_path / 'elbo_parts.md').read_text()
    assert '| mnist | IGR_I_Dis | 1 | 1 | 0-1 | 1.50 | 2.50 | 3.50 | 4.50 | 5.50 | 6.50 |' in md
    assert '| fmnist | IGR_I_Dis | 1 | 1 | 2 | 3.00 | 4.00 | 5.00 | 6.00 | 7.00 | 8.00 |' in md


def test_the_trajectory_table_gives_each_cells_mean_and_range_over_seeds(tmp_path):
    """Two shipped seeds of IGR-Planar at 0.85 (100 epochs): each epoch's row is the mean, min and max of the two
    runs' own vertex_distance.json and metrics.csv values; a run without Figure 5's records adds no row."""
    import json
    from vae_experiments.report_budget_tables import write_trajectories
    from vae_experiments.report_records import finished_runs
    paper = paths.REPO_ROOT / 'Results' / 'runs_paper'
    names = [next(paper.glob(f'vae_mnist_IGR_Planar_Dis_t0.85_s{s}_k*')).name for s in (0, 1)]
    names.append(next(paper.glob('vae_mnist_GS_Dis_t1_s0_k*')).name)
    for name in names:
        shutil.copytree(paper / name, tmp_path / 'runs' / name)
    (tmp_path / 'runs' / names[2] / 'vertex_distance.json').unlink()
    table = write_trajectories(finished_runs(tmp_path / 'runs'), tmp_path)
    assert table['model'].unique().tolist() == ['IGR_Planar_Dis'] and table['epoch'].tolist() == [1, 10, 25, 50, 100]
    for epoch in (1, 100):
        distance = [json.loads((tmp_path / 'runs' / n / 'vertex_distance.json').read_text())['epochs'][str(epoch)]
                    ['median'] for n in names[:2]]
        teelbod = [pd.read_csv(tmp_path / 'runs' / n / 'metrics.csv').set_index('epoch').at[epoch, 'TeELBOD']
                   for n in names[:2]]
        row = table[table['epoch'] == epoch].iloc[0]
        assert row['seeds'] == '0-1' and row['median_mean'] == pytest.approx(np.mean(distance), abs=1e-12)
        assert (row['TeELBOD_min'], row['TeELBOD_max']) == (min(teelbod), max(teelbod))
    text = (tmp_path / 'trajectories.md').read_text()
    assert f'| IGR_Planar_Dis | 0.85 | 100 | 0-1 | {np.mean(distance):.3f} [{min(distance):.3f}, {max(distance):.3f}]' in text


def test_the_paper_delta_ablation_reads_both_deltas_at_each_milestone(tmp_path):
    """The shipped seed-0 IGR-I run (tau 1, 100 epochs) copied as the delta-0.1 side (its config's delta changed):
    both rows of each epoch carry the run's own metrics.csv, log_likelihood.json and vertex_distance.json values;
    IGR-Planar, with no delta-0.1 run, has no rows; without the ablation's folder there is no table."""
    import json
    from Utils.results.results_io import load_metrics
    from vae_experiments.report_ablations import PAPER_DELTA_FOLDER, write_paper_delta_ablation
    from vae_experiments.report_records import finished_runs
    paper = paths.REPO_ROOT / 'Results' / 'runs_paper'
    runs = finished_runs(paper)
    assert not len(write_paper_delta_ablation(runs, tmp_path, tmp_path, (10, 100)))
    source = next(paper.glob('vae_mnist_IGR_I_Dis_t1_s0_k*'))
    copy = tmp_path / PAPER_DELTA_FOLDER / source.name
    shutil.copytree(source, copy)
    config = json.loads((copy / 'config.json').read_text())
    config['hyper']['softmax_delta'] = 0.1
    (copy / 'config.json').write_text(json.dumps(config))
    table = write_paper_delta_ablation(runs, tmp_path, tmp_path, (10, 100))
    assert table[['model', 'epoch', 'softmax_delta']].values.tolist() == [
        ['IGR_I_Dis', 10, '0.1 (ICML-era original)'], ['IGR_I_Dis', 10, '1'],
        ['IGR_I_Dis', 100, '0.1 (ICML-era original)'], ['IGR_I_Dis', 100, '1']]
    metrics = load_metrics(source).set_index('epoch')
    vertex = json.loads((source / 'vertex_distance.json').read_text())['epochs']
    ll = {e['epoch']: e for e in json.loads((source / 'log_likelihood.json').read_text())['entries']}
    for epoch in (10, 100):
        rows = table[table['epoch'] == epoch]
        assert rows['TeELBOD'].tolist() == [metrics.loc[epoch, 'TeELBOD']] * 2
        assert rows['TeLLD'].tolist() == [pytest.approx(ll[epoch]['TeLLD'])] * 2
        assert rows['median'].tolist() == [pytest.approx(vertex[str(epoch)]['median'])] * 2
    assert '| IGR_I_Dis | 1 | 100 | 1 | ' in (tmp_path / 'delta_ablation.md').read_text()


def test_the_offset_reading_table_averages_each_cell_over_its_seeds(tmp_path):
    """A hand-made per-run csv: means per cell and epoch over the seeds listed, a from 1 down to 0, GS first; no csv,
    no table."""
    from vae_experiments.report_ablations import OFFSET_RUNS, write_offset_reading
    assert not len(write_offset_reading(tmp_path, tmp_path))
    rows = pd.DataFrame([
        {'run_name': n, 'model_type': m, 'temp': t, 'seed': s, 'epoch': e, 'log_px_a0': -v * 4, 'log_px_a0.5': -v * 2,
         'log_px_a1': -v, 'images': 10}
        for n, m, t, s, e, v in (('a', 'IGR_Planar_Dis', 0.85, 0, 100, 10.), ('b', 'IGR_Planar_Dis', 0.85, 1, 100, 20.),
                                 ('c', 'GS_Dis', 1.0, 0, 100, 5.), ('d', 'IGR_Planar_Dis', 0.85, 0, 10, 1.))])
    rows.to_csv(tmp_path / OFFSET_RUNS, index=False)
    table = write_offset_reading(tmp_path, tmp_path)
    assert table[['model_type', 'epoch', 'seeds']].values.tolist() == [['GS_Dis', 100, '0'], ['IGR_Planar_Dis', 10, '0'],
                                                                      ['IGR_Planar_Dis', 100, '0-1']]
    assert table['log_px_a0'].tolist() == [-20., -4., -60.]
    md = (tmp_path / 'offset_reading.md').read_text()
    assert '| model | temp | epoch | seeds | a = 1 | a = 0.5 | a = 0 |' in md
    assert '| IGR_Planar_Dis | 0.85 | 100 | 0-1 | -15.00 | -30.00 | -60.00 |' in md
