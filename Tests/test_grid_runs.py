"""Grid cells know their run: skip, resume after a signal or a kill, locks, --status (real subprocesses and signals).

Smoke-sized runs (`--smoke`, batch 5) on 2,000 MNIST training images ($IGR_SMOKE_TRAIN_N), so that an epoch takes
~1-3 s and a signal sent right after epoch 1 is checkpointed lands inside epoch 2.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from Models.vae_hyper import validate_hyper
from Utils.runs import runstore
from Utils.runs.folders import read_metrics
from vae_experiments import discrete_grid

REPO = Path(__file__).resolve().parents[1]
GRID = [sys.executable, str(REPO / 'vae_experiments' / 'discrete_grid.py'), '--smoke', '--set', 'epochs=4',
        '--cell', '0']
SOP = [sys.executable, str(REPO / 'structure_output_prediction' / 'sop.py'), '--smoke', '--set', 'epochs=3',
       '--set', 'check_every=1', '--cell', '1']
SMOKE_N = '2000'


def _env(log_dir):
    return {**os.environ, 'IGR_LOG_DIR': str(log_dir), 'IGR_SMOKE_TRAIN_N': SMOKE_N, 'TF_CPP_MIN_LOG_LEVEL': '3',
            'CUDA_VISIBLE_DEVICES': ''}


def _run(cmd, log_dir, extra=()):
    return subprocess.run(list(cmd) + list(extra), env=_env(log_dir), capture_output=True, text=True, timeout=600)


def _folders(log_dir):
    return sorted(p for p in Path(log_dir).iterdir() if p.is_dir()) if Path(log_dir).is_dir() else []


def _wait_for_epoch(log_dir, epoch, proc, timeout=300):
    """Poll until a run folder's status.json says `epoch` epochs are done and checkpointed (the child goes on)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for folder in _folders(log_dir):
            try:
                status = json.loads((folder / 'status.json').read_text())
            except (OSError, ValueError):
                continue
            if status.get('epochs_done', 0) >= epoch:
                time.sleep(0.1)  # into the next epoch's steps (400 steps, ~1-3 s)
                return folder
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError('the run never logged its first epoch')


def _interrupt_after_epoch_1(cmd, log_dir, sig):
    proc = subprocess.Popen(cmd, env=_env(log_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    folder = _wait_for_epoch(log_dir, 1, proc)
    os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out, folder


def _numbers(folder):
    rows = read_metrics(folder)
    return [row['epoch'] for row in rows], np.array([[v for k, v in row.items() if k != 'seconds'] for row in rows])


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """An uninterrupted 4-epoch run of cell 0 in its own log directory."""
    log_dir = tmp_path_factory.mktemp('reference')
    result = _run(GRID, log_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = _folders(log_dir)
    return log_dir, folder


def test_finished_cell_is_skipped_without_a_new_folder(reference):
    log_dir, folder = reference
    before = _folders(log_dir)
    result = _run(GRID, log_dir)
    assert result.returncode == 0, result.stderr
    assert _folders(log_dir) == before
    assert 'skipped' in result.stdout and folder.name in result.stdout and 'TeELBO' in result.stdout
    assert folder.name.endswith('_k' + runstore.run_key(validate_hyper(_cell0())))


def _cell0():
    return {**discrete_grid.grid_cells()[0], 'epochs': 4, 'run_with_sample': True}


def test_sigterm_mid_epoch_resumes_to_the_uninterrupted_numbers(reference, tmp_path):
    code, out, folder = _interrupt_after_epoch_1(GRID, tmp_path, signal.SIGTERM)
    assert code == runstore.EXIT_INTERRUPTED, out
    status = json.loads((folder / 'status.json').read_text())
    assert status['interrupted']['signal'] == 'SIGTERM' and status['interrupted']['epoch'] == 2
    assert 0 < status['interrupted']['step'] < status['interrupted']['steps'], status
    assert status['epochs_done'] == 1 and not status['finished']
    assert any((folder / 'checkpoints' / 'interrupted').glob('*.index'))

    result = _run(GRID, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _folders(tmp_path) == [folder]
    epochs, values = _numbers(folder)
    ref_epochs, ref_values = _numbers(reference[1])
    assert epochs == ref_epochs == [1, 2, 3, 4]
    np.testing.assert_allclose(values, ref_values, rtol=1e-5, atol=1e-3)
    assert not (folder / 'checkpoints' / 'interrupted').exists()
    assert 'continuing epoch 2 at step' in (folder / 'train.log').read_text()


def test_sigkill_mid_epoch_loses_at_most_that_epoch(reference, tmp_path):
    code, out, folder = _interrupt_after_epoch_1(GRID, tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    status = json.loads((folder / 'status.json').read_text())
    assert status['epochs_done'] == 1 and status['checkpoint_epoch'] == 1
    result = _run(GRID, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'resumed at the end of epoch 1' in (folder / 'train.log').read_text()
    epochs, values = _numbers(folder)
    assert epochs == [1, 2, 3, 4]
    np.testing.assert_allclose(values, _numbers(reference[1])[1], rtol=1e-5, atol=1e-3)


def test_extending_a_finished_cell_continues_its_folder(reference, tmp_path):
    log_dir, folder = reference
    copy = tmp_path / folder.name
    subprocess.run(['cp', '-r', str(folder), str(copy)], check=True)
    result = _run(GRID[:-2] + ['--set', 'epochs=5', '--cell', '0'], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _folders(tmp_path) == [copy]
    assert [row['epoch'] for row in read_metrics(copy)] == [1, 2, 3, 4, 5]


def _lock(folder, pid, host=None):
    (folder / 'lock').write_text(json.dumps({'host': host or socket.gethostname(), 'pid': pid, 'slurm_job': '77_3',
                                             'started': '2026-01-01T00:00:00'}))


def test_a_locked_cell_is_not_trained_and_the_holder_is_named(reference, tmp_path):
    folder = tmp_path / reference[1].name
    subprocess.run(['cp', '-r', str(reference[1]), str(folder)], check=True)
    (folder / 'status.json').write_text(json.dumps({'epochs_done': 2, 'finished': False}))
    _lock(folder, os.getpid())  # this test process: alive, on this host
    result = _run(GRID, tmp_path)
    assert result.returncode == runstore.EXIT_LOCKED, result.stdout + result.stderr
    assert f'pid {os.getpid()}' in result.stdout and 'Slurm job 77_3' in result.stdout
    assert json.loads((folder / 'status.json').read_text())['epochs_done'] == 2  # untouched


def test_a_stale_lock_is_taken_over(tmp_path):
    folder = tmp_path / 'run'
    folder.mkdir()
    dead = subprocess.Popen(['true'])
    dead.wait()
    _lock(folder, dead.pid)
    messages = []
    with runstore.RunLock(folder, say=messages.append):
        holder = json.loads((folder / 'lock').read_text())
        assert holder['pid'] == os.getpid()
    assert not (folder / 'lock').exists()
    assert messages and 'stale' in messages[0] and str(dead.pid) in messages[0]
    # a lock of another host is stale only once it is older than the stated age
    _lock(folder, 1, host='elsewhere')
    with pytest.raises(runstore.LockHeld, match='host elsewhere'):
        runstore.RunLock(folder).acquire()
    old = time.time() - runstore.LOCK_STALE_SECONDS - 10
    os.utime(folder / 'lock', (old, old))
    with runstore.RunLock(folder, say=messages.append):
        pass
    assert 'not refreshed' in messages[-1]


def test_status_shows_every_state(reference, tmp_path):
    store_dir = tmp_path / 'Log'
    store_dir.mkdir()
    cells = discrete_grid.grid_cells()
    finished = store_dir / reference[1].name
    subprocess.run(['cp', '-r', str(reference[1]), str(finished)], check=True)

    def copy_as(seed, status, lock_pid=None):
        cell = {**cells[seed], 'epochs': 4, 'run_with_sample': True}
        folder = store_dir / f'run_seed{seed}'
        subprocess.run(['cp', '-r', str(reference[1]), str(folder)], check=True)
        config = json.loads((folder / 'config.json').read_text())
        config['hyper'] = {**config['hyper'], 'seed': cell['seed']}
        (folder / 'config.json').write_text(json.dumps(config))
        (folder / 'status.json').write_text(json.dumps(status))
        if lock_pid:
            _lock(folder, lock_pid)
    copy_as(1, {'epochs_done': 1, 'finished': False}, lock_pid=os.getpid())
    copy_as(2, {'epochs_done': 1, 'finished': False, 'interrupted': {'epoch': 2, 'step': 5, 'steps': 600}})
    copy_as(3, {'epochs_done': 2, 'finished': False, 'error': 'NonFiniteLossError: boom'})
    copy_as(4, {'epochs_done': 3, 'finished': False})
    tic = time.perf_counter()
    result = subprocess.run([sys.executable, str(REPO / 'vae_experiments' / 'discrete_grid.py'), '--status',
                             '--smoke', '--set', 'epochs=4'], env=_env(store_dir), capture_output=True, text=True)
    seconds = time.perf_counter() - tic
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert 'finished: TeELBO' in lines[0]
    assert 'running: host' in lines[1] and f'pid {os.getpid()}' in lines[1]
    assert 'interrupted at epoch 2 of 4 (step 5 of 600)' in lines[2]
    assert 'failed: NonFiniteLossError: boom' in lines[3]
    assert 'stopped at epoch 3 of 4' in lines[4]
    assert 'not started' in lines[5]
    assert f'{len(cells) - 5} not started' in lines[-1]
    assert '1 running, 1 interrupted, 1 stopped, 1 failed, 1 finished' in lines[-1]
    assert seconds < 20  # no TensorFlow import (TensorFlow alone takes ~5-10 s to import here)


def test_status_imports_no_tensorflow(tmp_path):
    code = ('import sys; sys.argv = ["x", "--status"]; from vae_experiments import discrete_grid; '
            'discrete_grid.main(); assert "tensorflow" not in sys.modules, "tensorflow imported"')
    result = subprocess.run([sys.executable, '-c', code], env=_env(tmp_path), capture_output=True, text=True,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_sop_sigterm_mid_epoch_resumes_exactly(tmp_path):
    reference_dir, interrupted_dir = tmp_path / 'ref', tmp_path / 'int'
    result = _run(SOP, reference_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    code, out, folder = _interrupt_after_epoch_1(SOP, interrupted_dir, signal.SIGTERM)
    assert code == runstore.EXIT_INTERRUPTED, out
    assert json.loads((folder / 'status.json').read_text())['interrupted']['epoch'] == 2
    result = _run(SOP, interrupted_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    epochs, values = _numbers(folder)
    assert epochs == [1, 2, 3]
    np.testing.assert_allclose(values, _numbers(_folders(reference_dir)[0])[1], rtol=1e-5, atol=1e-3)
    again = _run(SOP, interrupted_dir)
    assert again.returncode == 0 and 'skipped' in again.stdout and _folders(interrupted_dir) == [folder]
