"""The campaign driver run for real at smoke size: a pinned cell with one intra-op thread, its checkpoints evaluated
and its records shipped; the plan's order and the driver's errors."""
import json
import os
import subprocess
import sys

import pytest

from Utils.paths import REPO_ROOT

SCRIPT = 'vae_experiments/campaign.py'


def _metrics_at(folder, epoch):
    import csv
    with open(folder / 'metrics.csv', newline='') as handle:
        return {k: float(v) for k, v in next(r for r in csv.DictReader(handle) if int(r['epoch']) == epoch).items()}


def _run(args, tmp_path, **env):
    environ = {**os.environ, 'IGR_LOG_DIR': str(tmp_path / 'log'), 'IGR_RESULTS_DIR': str(tmp_path / 'results'),
               **env}
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=environ, timeout=600)


def test_a_smoke_cell_is_pinned_evaluated_and_shipped(tmp_path):
    core = max(os.sched_getaffinity(0))
    result = _run(['--budget', 'evidence', 'mnist', '--models', 'GS_Dis', '--cores', str(core), '--smoke',
                   '--set', 'epochs=2', '--limit', '1'], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'exited 0' in result.stdout and 'shipped vae_mnist_GS_Dis_t1_s0_k' in result.stdout
    shipped = list((tmp_path / 'results' / 'runs').iterdir())
    assert len(shipped) == 1
    folder = shipped[0]
    hyper = json.loads((folder / 'config.json').read_text())['hyper']
    assert hyper['intra_op_threads'] == 1 and hyper['epochs'] == 2 and hyper['run_with_sample'] is True
    assert list(json.loads((folder / 'vertex_distance.json').read_text())['epochs']) == ['1']
    parts = json.loads((folder / 'elbo_parts.json').read_text())['epochs']['1']
    assert parts['TeELBOD'] == pytest.approx(_metrics_at(folder, 1)['TeELBOD'], rel=1e-5)
    assert 'mean_variance' in (folder / 'gradient_variance.csv').read_text()
    assert not (folder / 'checkpoints').exists()                      # records only, no weights
    again = _run(['--budget', 'evidence', 'mnist', '--models', 'GS_Dis', '--cores', str(core), '--smoke',
                  '--set', 'epochs=2', '--limit', '1'], tmp_path)
    assert again.returncode == 0 and 'start' not in again.stdout      # finished: passed over
    _a_run_in_use_is_neither_evaluated_nor_shipped(tmp_path, tmp_path / 'log' / folder.name)


def _a_run_in_use_is_neither_evaluated_nor_shipped(tmp_path, run_dir):
    """Two drivers finding one finished run: the one that holds its lock evaluates it; the other neither
    evaluates it (exit 4) nor ships it while the records may still change."""
    from Utils.runs.runstore import EXIT_LOCKED, RunLock
    from Utils.ship_runs import ship
    with RunLock(run_dir, say=lambda _: None):
        other = subprocess.run([sys.executable, 'vae_experiments/milestones.py', '--run-dir', str(run_dir)],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        assert other.returncode == EXIT_LOCKED, other.stdout + other.stderr
        assert 'in use by another process' in other.stderr and 'Traceback' not in other.stderr
        assert ship(run_dir.parent, tmp_path / 'other_results') == []
    assert ship(run_dir.parent, tmp_path / 'other_results') == [run_dir.name]


def test_the_plan_goes_seed_major_and_bad_input_is_one_line(tmp_path):
    result = _run(['--plan', 'mnist', '--models', 'GS_Dis,IGR_SB_Finite_Dis'], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 20 and all('not started' in line for line in lines)
    seeds = [int(line.split(' s')[1].split(' ')[0]) for line in lines]
    assert seeds == sorted(seeds)                                      # every model's seed s before seed s + 1
    mixtures = _run(['--plan', 'dlgmm'], tmp_path).stdout.splitlines()
    assert len(mixtures) == 12 and all('dlgmm_grid.py --preset evidence' in line for line in mixtures)
    delta = _run(['--plan', 'delta'], tmp_path).stdout.splitlines()
    assert len(delta) == 2 and all('discrete_grid.py --preset paper_ablation_delta_cv' in line for line in delta)
    bad = _run(['--plan', 'cifar'], tmp_path)
    assert bad.returncode != 0 and "unknown part 'cifar'" in bad.stderr and 'dlgmm, delta' in bad.stderr and 'Traceback' not in bad.stderr
    cores = _run(['mnist', '--cores', '99'], tmp_path)
    assert cores.returncode != 0 and 'bad --cores [99]' in cores.stderr and 'Traceback' not in cores.stderr


def test_a_finished_run_the_driver_cannot_find_is_reported_not_passed_over(tmp_path, monkeypatch):
    """A run that exits 0 but whose folder the driver does not match to its cell (a config.json written by newer code
    than the driver's) is reported with the remedy, and counted as failed, instead of staying silently unshipped."""
    from vae_experiments import campaign
    task = campaign.plan(('mnist',), ('GS_Dis',))[0]
    said = []
    driver = campaign.Campaign([task], [0], tmp_path, sys.executable, say=said.append)
    monkeypatch.setattr(campaign, 'state_of', lambda *_: ('not started', '', None))
    monkeypatch.setattr(driver, '_run', lambda *_a, **_k: (0, []))
    driver.worker(0)
    assert driver.failed == [task]
    assert any('finished, but its run folder does not match' in line and 'restart the driver' in line for line in said)


def test_the_evaluator_starts_only_for_a_run_whose_milestones_lack_a_record(tmp_path, monkeypatch):
    """A finished run with kept checkpoints at epochs 1 and 10: the driver starts milestones.py while a record is
    missing (here all, then the epoch-10 log-likelihood only) and no process once every one is written; it ships the
    records after an evaluation that succeeded, never after one that failed."""
    from Utils.runs import folders
    from vae_experiments import campaign
    from vae_experiments.milestone_records import missing_epochs
    monkeypatch.setenv('IGR_RESULTS_DIR', str(tmp_path / 'results'))
    run = tmp_path / 'log' / 'vae_mnist_GS_Dis_t1_s0_kabc'
    (run / 'checkpoints' / 'milestones').mkdir(parents=True)
    for epoch in (1, 10):
        (run / 'checkpoints' / 'milestones' / f'ckpt-{epoch}.index').write_text('')
    task = campaign.plan(('mnist',), ('GS_Dis',))[0]
    driver = campaign.Campaign([task], [0], tmp_path / 'log', sys.executable, say=lambda _: None)
    started, shipped, codes = [], [], [1, 0, 0]
    monkeypatch.setattr(driver, '_run', lambda core, command, env=None: started.append(command) or (codes.pop(0), []))
    monkeypatch.setattr('Utils.ship_runs.ship', lambda *_a, **_k: shipped.append(run.name) or [])
    assert missing_epochs(run) == {1: ('vertex', 'gradient', 'elbo_parts'),
                                   10: ('log_likelihood', 'vertex', 'gradient', 'elbo_parts')}
    driver._after(0, task, run)  # the evaluation fails: reported, and the incomplete records are not shipped
    assert started == [[campaign.MILESTONES, '--run-dir', str(run)]] and shipped == [] and driver.failed == [task]
    driver._after(0, task, run)
    assert len(started) == 2 and shipped == [run.name]
    for name in ('vertex_distance.json', 'elbo_parts.json'):
        folders.write_json(run / name, {'epochs': {'1': {}, '10': {}}})
    (run / 'gradient_variance.csv').write_text('epoch,target\n1,encoder\n10,encoder\n')
    driver._after(0, task, run)
    assert len(started) == 3 and missing_epochs(run) == {10: ('log_likelihood',)}
    folders.write_json(run / 'log_likelihood.json', {'entries': [{'S': 100, 'epoch': 10}, {'S': 5, 'epoch': 1}]})
    driver._after(0, task, run)
    assert len(started) == 3 and missing_epochs(run) == {} and len(shipped) == 3


def test_a_fashion_mnist_run_is_evaluated_for_its_log_likelihoods_and_elbo_parts_only(tmp_path, monkeypatch):
    """A finished Fashion-MNIST run with a kept checkpoint at epoch 10: the driver asks milestones.py for the
    log-likelihoods and the ELBO parts only (Figures 4 and 5 are MNIST's), and starts nothing once both are recorded
    though the vertex and gradient records stay absent; an unknown evaluation name is a one-line error."""
    from Utils.runs import folders
    from vae_experiments import campaign
    from vae_experiments.milestone_records import missing_epochs
    monkeypatch.setenv('IGR_RESULTS_DIR', str(tmp_path / 'results'))
    run = tmp_path / 'log' / 'vae_fmnist_GS_Dis_t1_s0_kabc'
    (run / 'checkpoints' / 'milestones').mkdir(parents=True)
    (run / 'checkpoints' / 'milestones' / 'ckpt-10.index').write_text('')
    task = campaign.plan(('fmnist',), ('GS_Dis',))[0]
    assert task.evaluator == campaign.MILESTONES and task.evaluations == ('log_likelihood', 'elbo_parts')
    driver = campaign.Campaign([task], [0], tmp_path / 'log', sys.executable, say=lambda _: None)
    started = []
    monkeypatch.setattr(driver, '_run', lambda core, command, env=None: started.append(command) or (0, []))
    monkeypatch.setattr('Utils.ship_runs.ship', lambda *_a, **_k: [])
    driver._after(0, task, run)
    assert started == [[campaign.MILESTONES, '--run-dir', str(run), '--evaluations', 'log_likelihood', 'elbo_parts']]
    folders.write_json(run / 'elbo_parts.json', {'epochs': {'10': {}}})
    folders.write_json(run / 'log_likelihood.json', {'entries': [{'S': 100, 'epoch': 10}]})
    driver._after(0, task, run)
    assert len(started) == 1 and missing_epochs(run) == {10: ('vertex', 'gradient')}
    bad = subprocess.run([sys.executable, 'vae_experiments/milestones.py', '--run-dir', str(run), '--evaluations',
                          'vertex', 'elbo'], cwd=REPO_ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown milestone evaluation(s) ['elbo']" in bad.stderr
    assert 'elbo_parts' in bad.stderr and 'Traceback' not in bad.stderr


def test_a_cell_whose_finished_records_are_shipped_is_not_trained_again(tmp_path):
    """A driver on a new machine (an empty log directory) passes over the cells whose finished records are in its
    part's Results folder, and a shipped folder that is not finished does not count."""
    import shutil
    shipped = REPO_ROOT / 'Results' / 'runs_paper'
    name = next(p.name for p in sorted(shipped.iterdir()) if p.name.startswith('vae_mnist_GS_Dis_t1_s0_'))
    results = tmp_path / 'results' / 'runs_paper'
    shutil.copytree(shipped / name, results / name)
    plan = _run(['--plan', 'mnist', '--models', 'GS_Dis', '--limit', '2'], tmp_path).stdout.splitlines()
    assert f'shipped: Results/runs_paper/{name}' in plan[0] and plan[1].endswith('not started')
    driver = _run(['mnist', '--models', 'GS_Dis', '--limit', '1', '--cores', str(max(os.sched_getaffinity(0)))],
                  tmp_path)
    assert driver.returncode == 0 and 'start' not in driver.stdout, driver.stdout + driver.stderr
    status = json.loads((results / name / 'status.json').read_text())
    (results / name / 'status.json').write_text(json.dumps({**status, 'finished': False}))
    again = _run(['--plan', 'mnist', '--models', 'GS_Dis', '--limit', '1'], tmp_path).stdout
    assert again.strip().endswith('not started')
