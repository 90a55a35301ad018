"""The campaign driver run for real at smoke size: a pinned cell with one intra-op thread, its checkpoints evaluated
and its records shipped; the plan's order and the driver's errors."""
import json
import os
import subprocess
import sys

from Utils.paths import REPO_ROOT

SCRIPT = 'vae_experiments/campaign.py'


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
    assert 'mean_variance' in (folder / 'gradient_variance.csv').read_text()
    assert not (folder / 'checkpoints').exists()                      # records only, no weights
    again = _run(['--budget', 'evidence', 'mnist', '--models', 'GS_Dis', '--cores', str(core), '--smoke',
                  '--set', 'epochs=2', '--limit', '1'], tmp_path)
    assert again.returncode == 0 and 'start' not in again.stdout      # finished: passed over


def test_the_plan_goes_seed_major_and_bad_input_is_one_line(tmp_path):
    result = _run(['--plan', 'mnist', '--models', 'GS_Dis,IGR_SB_Finite_Dis'], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 20 and all('not started' in line for line in lines)
    seeds = [int(line.split(' s')[1].split(' ')[0]) for line in lines]
    assert seeds == sorted(seeds)                                      # every model's seed s before seed s + 1
    bad = _run(['--plan', 'cifar'], tmp_path)
    assert bad.returncode != 0 and "unknown part 'cifar'" in bad.stderr and 'Traceback' not in bad.stderr
    cores = _run(['mnist', '--cores', '99'], tmp_path)
    assert cores.returncode != 0 and 'bad --cores [99]' in cores.stderr and 'Traceback' not in cores.stderr
