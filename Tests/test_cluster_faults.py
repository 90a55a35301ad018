"""Grid runs under the faults a cluster produces, through the real entry points (subprocesses, real signals).

- a lock holder suspended (SIGSTOP) past the stale age, whose lock another process took over, writes nothing when
  it comes back (SIGCONT) and exits with EXIT_LOCK_LOST; the cell's epochs are each logged once (fencing);
- a cell folder left without config.json is claimed by the next run, or reported as held by its live creator;
- known user errors (damaged data, derived hyper keys, unknown presets, lock settings) end in one line, no traceback;
- SIGKILL while a checkpoint is written: the resume uses the newest complete checkpoint and loses at most one epoch;
- shipped records name no absolute path; a failing chunk iterator leaves no temporary cache file.

Smoke-sized runs (`--smoke`, batch 5) on up to 3,000 MNIST training images ($IGR_SMOKE_TRAIN_N), so that an epoch
takes ~1-3 s and a signal sent right after an epoch is logged lands inside the next one.
"""
import hashlib
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from Utils import cli
from Utils.runs import machine, runstore
from Utils.runs.folders import read_metrics
from Utils.relocate_records import absolute_paths, relocate, relocate_text

REPO = Path(__file__).resolve().parents[1]
GRID = [sys.executable, str(REPO / 'vae_experiments' / 'discrete_grid.py'), '--smoke']
SOP = [sys.executable, str(REPO / 'structure_output_prediction' / 'sop.py'), '--smoke']
REFERENCE_EPOCHS = 4


def _env(log_dir, smoke_n='2000', **extra):
    env = {**os.environ, 'IGR_LOG_DIR': str(log_dir), 'IGR_SMOKE_TRAIN_N': smoke_n, 'TF_CPP_MIN_LOG_LEVEL': '3',
           'CUDA_VISIBLE_DEVICES': ''}
    for key in ('IGR_LOCK_STALE_SECONDS', 'IGR_LOCK_REFRESH_SECONDS', 'IGR_TEST_CHECKPOINT_PAUSE', 'IGR_SOP_PRESET'):
        env.pop(key, None)
    return {**env, **extra}


def _grid(epochs, cell=0):
    return GRID + ['--set', f'epochs={epochs}', '--cell', str(cell)]


def _run(cmd, env, timeout=600):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _folders(log_dir):
    return sorted(p for p in Path(log_dir).iterdir() if p.is_dir()) if Path(log_dir).is_dir() else []


def _status(folder):
    try:
        return json.loads((folder / 'status.json').read_text())
    except (OSError, ValueError):
        return {}


def _wait_for_epoch(log_dir, epoch, proc, timeout=300):
    """The run folder once its status.json says `epoch` epochs are done (the child goes on into the next one)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for folder in _folders(log_dir):
            if _status(folder).get('epochs_done', 0) >= epoch:
                time.sleep(0.1)
                return folder
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f'the run never finished epoch {epoch}')


def _epochs(folder):
    return [row['epoch'] for row in read_metrics(folder)]


def _numbers(folder):
    return np.array([[v for k, v in row.items() if k != 'seconds'] for row in read_metrics(folder)])


def _snapshot(folder):
    """Every file under a run folder -> (size, mtime in ns, sha256): equal snapshots mean nothing was written."""
    files = sorted(p for p in folder.rglob('*') if p.is_file())
    return {str(p.relative_to(folder)): _fingerprint(p) for p in files}


def _fingerprint(path):
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, hashlib.sha256(path.read_bytes()).digest()


def _one_line_error(result, code):
    assert result.returncode == code, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """An uninterrupted run of smoke cell 0 (2,000 images, 4 epochs) in its own log directory."""
    log_dir = tmp_path_factory.mktemp('reference')
    result = _run(_grid(REFERENCE_EPOCHS), _env(log_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = _folders(log_dir)
    return folder


# ---------------------------------------------------------------------------------------------------------------------
# Exit codes and lock settings
# ---------------------------------------------------------------------------------------------------------------------
def test_cli_exit_codes_are_those_of_the_run_store():
    codes = {name: code for _, name, code, _ in cli.KNOWN_ERRORS}
    assert codes['Interrupted'] == runstore.EXIT_INTERRUPTED == 3
    assert codes['LockHeld'] == runstore.EXIT_LOCKED == 4
    assert codes['LockLost'] == runstore.EXIT_LOCK_LOST == 5
    assert codes['HyperError'] == codes['GridError'] == codes['LockSettingError'] == cli.EXIT_USAGE == 2
    assert codes['MissingDataError'] == codes['DataIntegrityError'] == cli.EXIT_DATA == 6
    with pytest.raises(RuntimeError, match='unexpected'):  # anything else keeps its traceback
        cli.run_main(lambda: (_ for _ in ()).throw(RuntimeError('unexpected')))


def test_lock_timing_is_validated(monkeypatch, tmp_path):
    assert runstore.lock_timing() == (runstore.LOCK_REFRESH_SECONDS, runstore.LOCK_STALE_SECONDS)
    monkeypatch.setenv('IGR_LOCK_REFRESH_SECONDS', '1')
    monkeypatch.setenv('IGR_LOCK_STALE_SECONDS', '4')
    assert runstore.lock_timing() == (1., 4.)
    for stale, refresh, match in (('2', '1', r'more than twice .* \(1 s'), ('4', None, r'IGR_LOCK_STALE_SECONDS 4\b'),
                                  ('abc', '1', "'abc'"), ('-5', '1', "'-5'"), ('nan', '1', "'nan'"),
                                  ('900', '0', "IGR_LOCK_REFRESH_SECONDS '0'")):
        monkeypatch.setenv('IGR_LOCK_STALE_SECONDS', stale)
        if refresh is None:
            monkeypatch.delenv('IGR_LOCK_REFRESH_SECONDS')
        else:
            monkeypatch.setenv('IGR_LOCK_REFRESH_SECONDS', refresh)
        with pytest.raises(runstore.LockSettingError, match=match):
            runstore.lock_timing()
    # through a script: one line naming the value, exit code 2, before anything is read or written
    result = _run(GRID + ['--status'], _env(tmp_path, IGR_LOCK_STALE_SECONDS='4'))
    line = _one_line_error(result, cli.EXIT_USAGE)
    assert 'IGR_LOCK_STALE_SECONDS 4' in line and 'IGR_LOCK_REFRESH_SECONDS' in line
    assert not list(tmp_path.iterdir())


def test_refresh_and_release_never_touch_a_lock_taken_over(monkeypatch, tmp_path):
    monkeypatch.setenv('IGR_LOCK_REFRESH_SECONDS', '0.05')
    lock = runstore.RunLock(tmp_path).acquire()
    assert runstore.fence_of(tmp_path) == lock.fence and lock.holds()
    lock.fence()  # held: no error
    holder = json.loads((tmp_path / 'lock').read_text())
    assert {'host', 'pid', 'token'} <= set(holder)
    # another process takes the lock over: a new file naming it
    (tmp_path / 'lock').unlink()
    (tmp_path / 'lock').write_text(json.dumps({**holder, 'pid': 1, 'token': 'other', 'slurm_job': '9_1'}))
    old = time.time() - 100
    os.utime(tmp_path / 'lock', (old, old))
    time.sleep(0.3)  # six refresh intervals
    assert abs((tmp_path / 'lock').stat().st_mtime - old) < 1e-3, 'the refresh thread touched a lock it lost'
    with pytest.raises(runstore.LockLost, match=r'pid 1, Slurm job 9_1'):
        lock.fence()
    lock.release()
    assert json.loads((tmp_path / 'lock').read_text())['token'] == 'other'  # not removed by the old holder
    assert runstore.fence_of(tmp_path) is None  # released: a plain run of this folder has no fence
    (tmp_path / 'lock').unlink()
    with runstore.RunLock(tmp_path) as again:
        (tmp_path / 'lock').unlink()  # removed behind the holder's back: also lost
        with pytest.raises(runstore.LockLost, match='the lock file is gone'):
            again.fence()


# ---------------------------------------------------------------------------------------------------------------------
# Fencing: SIGSTOP, takeover, SIGCONT
# ---------------------------------------------------------------------------------------------------------------------
def test_a_suspended_holder_whose_lock_was_taken_over_writes_nothing(reference, tmp_path):
    """A stops after epoch 2; B takes its lock over as stale and trains; A, continued, stops at its next write."""
    epochs = 6
    env = _env(tmp_path, IGR_LOCK_STALE_SECONDS='4', IGR_LOCK_REFRESH_SECONDS='1')
    first = subprocess.Popen(_grid(epochs), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        folder = _wait_for_epoch(tmp_path, 2, first)
        os.kill(first.pid, signal.SIGSTOP)
        time.sleep(5.5)  # past the stale age: the lock is no longer refreshed
        second = subprocess.Popen(_grid(epochs), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_epoch(tmp_path, 3, second)
        os.kill(second.pid, signal.SIGSTOP)  # B holds the lock, frozen: every write from here on would be A's
        before = _snapshot(folder)
        os.kill(first.pid, signal.SIGCONT)
        out, err = first.communicate(timeout=300)
    except BaseException:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()  # a stopped process dies on SIGKILL too
        raise
    assert first.returncode == runstore.EXIT_LOCK_LOST, out + err
    assert _snapshot(folder) == before, 'the old holder wrote after losing its lock'
    lost = [line for line in out.splitlines() if 'lost the lock' in line]
    assert len(lost) == 1 and f'pid {second.pid}' in lost[0], out
    os.kill(second.pid, signal.SIGCONT)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, out + err
    assert 'taking over the stale lock' in out and 'not refreshed' in out
    assert _epochs(folder) == list(range(1, epochs + 1))  # each epoch exactly once
    log = (folder / 'train.log').read_text()
    assert all(log.count(f'Epoch {e:4d} ||') == 1 for e in range(1, epochs + 1)), log
    assert _status(folder)['finished'] and not (folder / 'lock').exists()
    np.testing.assert_allclose(_numbers(folder)[:REFERENCE_EPOCHS], _numbers(reference), rtol=1e-5, atol=1e-3)


# ---------------------------------------------------------------------------------------------------------------------
# A folder without config.json
# ---------------------------------------------------------------------------------------------------------------------
def _truncated_data(tmp_path):
    source = Path(os.environ.get('IGR_DATA_DIR') or REPO / 'data') / 'mnist.npz'
    bad = tmp_path / 'bad_data'
    bad.mkdir()
    (bad / 'mnist.npz').write_bytes(source.read_bytes()[:100_000])
    return bad


def test_a_folder_without_config_is_claimed_by_the_next_run(tmp_path):
    log_dir = tmp_path / 'Log'
    # a data error between the folder's creation and its config.json: one line, no traceback, exit 6
    result = _run(_grid(2), _env(log_dir, IGR_DATA_DIR=str(_truncated_data(tmp_path))))
    line = _one_line_error(result, cli.EXIT_DATA)
    assert 'mnist.npz is damaged or incomplete' in line and 'make data' in line
    (folder,) = _folders(log_dir)
    assert not (folder / 'config.json').exists() and not (folder / 'lock').exists()
    status = _run(GRID + ['--status', '--set', 'epochs=2', '--cell', '0'], _env(log_dir))
    assert status.returncode == 0 and 'failed: DataIntegrityError' in status.stdout, status.stdout
    assert folder.name in status.stdout and '1 failed' in status.stdout
    # its creator alive and starting (the lock names a live process): left alone, exit 4, the holder named
    (folder / 'lock').write_text(json.dumps({'host': socket.gethostname(), 'pid': os.getpid(),
                                             'slurm_job': '12_0', 'started': '2026-01-01T00:00:00', 'token': 't'}))
    result = _run(_grid(2), _env(log_dir))
    assert result.returncode == runstore.EXIT_LOCKED, result.stdout + result.stderr
    assert f'pid {os.getpid()}' in result.stdout and 'Slurm job 12_0' in result.stdout
    assert 'running' in _run(GRID + ['--status', '--set', 'epochs=2'], _env(log_dir)).stdout.splitlines()[0]
    # its creator killed: the next run claims the folder (stale lock taken over) and trains in it
    (folder / 'lock').write_text(json.dumps({'host': socket.gethostname(), 'pid': _dead_pid(),
                                             'started': '2026-01-01T00:00:00', 'token': 't'}))
    result = _run(_grid(2), _env(log_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _folders(log_dir) == [folder] and _epochs(folder) == [1, 2] and _status(folder)['finished']
    assert 'error' not in _status(folder)
    _assert_relocatable(folder)


def _dead_pid():
    process = subprocess.Popen(['true'])
    process.wait()
    return process.pid


def _assert_relocatable(folder):
    """A new run's records name their folder by its name only; the Python return value stays absolute."""
    assert f'run folder {folder.name}' in (folder / 'train.log').read_text().splitlines()[0]
    assert json.loads((folder / 'final_metrics.json').read_text())['run_dir'] == folder.name
    for path in sorted(folder.glob('*')):
        if path.is_file() and path.name != 'lock':
            assert not absolute_paths(path.read_text(errors='replace')), path


# ---------------------------------------------------------------------------------------------------------------------
# Known user errors end in one line
# ---------------------------------------------------------------------------------------------------------------------
def test_a_derived_hyper_key_set_by_the_user_is_refused(tmp_path):
    line = _one_line_error(_run(_grid(2) + ['--set', 'iter_per_epoch=5'], _env(tmp_path, smoke_n='40')),
                           cli.EXIT_USAGE)
    assert 'iter_per_epoch' in line and '= 8' in line and '5' in line
    line = _one_line_error(_run(_grid(2) + ['--set', 'num_of_discrete_param=2'], _env(tmp_path)), cli.EXIT_USAGE)
    assert 'num_of_discrete_param' in line  # GS derives 1: refused before any folder is made for it
    line = _one_line_error(_run(SOP + ['--set', 'iter_per_epoch=5', '--cell', '0'], _env(tmp_path, smoke_n='40')),
                           cli.EXIT_USAGE)
    assert 'iter_per_epoch' in line


def test_known_errors_of_the_scripts_end_in_one_line(tmp_path):
    bad = _truncated_data(tmp_path)
    line = _one_line_error(_run([sys.executable, str(REPO / 'vae_experiments' / 'mnist_vae.py'), '--preset', 'smoke'],
                                _env(tmp_path, IGR_DATA_DIR=str(bad))), cli.EXIT_DATA)
    assert 'damaged or incomplete' in line and 'make data' in line
    line = _one_line_error(_run(SOP + ['--list'], _env(tmp_path, IGR_SOP_PRESET='nope')), cli.EXIT_USAGE)
    assert "unknown preset 'nope'" in line
    result = _run(GRID + ['--cell', '100000'], _env(tmp_path))
    assert result.returncode == cli.EXIT_USAGE and 'valid cell numbers' in result.stderr
    assert 'Traceback' not in result.stderr


# ---------------------------------------------------------------------------------------------------------------------
# SIGKILL while a checkpoint is written
# ---------------------------------------------------------------------------------------------------------------------
def _kill_at_pause(cmd, env):
    """Run until the test hook stops the checkpoint writer, then SIGKILL it; returns the hook's line."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found = []

    def read():
        for line in proc.stderr:
            if line.startswith('# test pause:'):
                found.append(line)
                os.kill(proc.pid, signal.SIGKILL)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc.wait(timeout=300)
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL and found, found
    return found[0]


def test_sigkill_while_a_checkpoint_is_written_resumes_from_the_last_complete_one(reference, tmp_path):
    # killed once epoch 2's checkpoint files are written and before the state file names them
    hook = _kill_at_pause(_grid(REFERENCE_EPOCHS), _env(tmp_path, IGR_TEST_CHECKPOINT_PAUSE='written:2'))
    assert 'epoch 2' in hook
    (folder,) = _folders(tmp_path)
    assert (folder / 'checkpoints' / 'ckpt-2.index').exists() and _status(folder)['epochs_done'] == 1
    result = _run(_grid(REFERENCE_EPOCHS), _env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    log = (folder / 'train.log').read_text()
    assert 'resumed at the end of epoch 1 (epoch checkpoint)' in log  # one epoch redone, no more
    assert _epochs(folder) == list(range(1, REFERENCE_EPOCHS + 1))
    sessions = json.loads((folder / 'machine.json').read_text())['sessions']  # each session names its machine
    assert [s['first_epoch'] for s in sessions] == [1, 2] and log.count('# machine: ') == 2
    assert {s['cpu'] for s in sessions} == {machine.cpu_model()}
    assert {s['tensorflow'] for s in sessions} == {importlib.metadata.version('tensorflow')}
    np.testing.assert_allclose(_numbers(folder), _numbers(reference), rtol=1e-5, atol=1e-3)


def test_sigkill_while_an_interrupted_checkpoint_is_cleared_resumes_cleanly(reference, tmp_path):
    env = _env(tmp_path)
    proc = subprocess.Popen(_grid(REFERENCE_EPOCHS), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    folder = _wait_for_epoch(tmp_path, 1, proc)
    os.kill(proc.pid, signal.SIGTERM)  # a mid-epoch checkpoint of epoch 2
    proc.communicate(timeout=300)
    assert proc.returncode == runstore.EXIT_INTERRUPTED
    # resumed; killed while the interrupted checkpoint is deleted at the end of epoch 2
    _kill_at_pause(_grid(REFERENCE_EPOCHS), _env(tmp_path, IGR_TEST_CHECKPOINT_PAUSE='clearing:2'))
    assert (folder / 'checkpoints' / 'interrupted').is_dir()
    result = _run(_grid(REFERENCE_EPOCHS), env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'resumed at the end of epoch 2 (epoch checkpoint)' in (folder / 'train.log').read_text()
    assert _epochs(folder) == list(range(1, REFERENCE_EPOCHS + 1))
    np.testing.assert_allclose(_numbers(folder), _numbers(reference), rtol=1e-5, atol=1e-3)


def test_a_state_file_naming_torn_checkpoints_falls_back_to_the_newest_complete_one(reference, tmp_path):
    folder = tmp_path / reference.name
    subprocess.run(['cp', '-r', str(reference), str(folder)], check=True)
    ckpt = folder / 'checkpoints'
    (data,) = ckpt.glob(f'ckpt-{REFERENCE_EPOCHS}.data-*')
    data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])  # the newest one torn
    (ckpt / 'interrupted').mkdir()  # and an interrupted one whose files are gone
    (ckpt / 'interrupted' / 'checkpoint').write_text('model_checkpoint_path: "ckpt-99999"\n'
                                                     'all_model_checkpoint_paths: "ckpt-99999"\n')
    result = _run(_grid(REFERENCE_EPOCHS + 1), _env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    log = (folder / 'train.log').read_text()
    assert f'skipped an incomplete checkpoint: checkpoints/ckpt-{REFERENCE_EPOCHS} (' in log
    assert 'skipped an incomplete checkpoint: checkpoints/interrupted/ckpt-99999 (' in log
    assert f'resumed at the end of epoch {REFERENCE_EPOCHS - 1} (epoch checkpoint)' in log
    assert _epochs(folder) == list(range(1, REFERENCE_EPOCHS + 2))
    np.testing.assert_allclose(_numbers(folder)[:REFERENCE_EPOCHS], _numbers(reference), rtol=1e-5, atol=1e-3)
    assert not absolute_paths(log)


def test_restore_picks_the_newest_complete_checkpoint_of_any_kind(tmp_path):
    import tensorflow as tf
    from Utils.runs import checkpointing
    iteration, weight = tf.Variable(0, dtype=tf.int64), tf.Variable(0.)

    def checkpoints():
        return checkpointing.Checkpoints(tmp_path, max_to_keep=2, keep_epochs=(1,), iteration=iteration, weight=weight)

    def state_at(value):
        iteration.assign(value)
        weight.assign(float(value))
    saver = checkpoints()
    state_at(10)
    saver.save_epoch(1)                       # ckpt-1 and milestone 1 at iteration 10
    state_at(15)
    saver.save_interrupt(15)                  # mid-epoch 2
    state_at(0)
    assert checkpoints().restore_for_resume() == 'interrupted' and int(iteration.numpy()) == 15
    state_at(20)
    saver.epochs.save(checkpoint_number=2)    # epoch 2 saved, the interrupted one not cleared (a kill in between)
    state_at(0)
    assert checkpoints().restore_for_resume() == 'epoch' and int(iteration.numpy()) == 20
    (data,) = (tmp_path / 'checkpoints').glob('ckpt-2.data-*')
    data.write_bytes(b'')                     # epoch 2 torn: the interrupted one (15) is the newest complete
    state_at(0)
    restorer = checkpoints()
    assert restorer.restore_for_resume() == 'interrupted' and int(iteration.numpy()) == 15
    assert restorer.skipped and restorer.skipped[0].startswith('checkpoints/ckpt-2 (')
    for data in (tmp_path / 'checkpoints').rglob('*.data-*'):
        data.write_bytes(data.read_bytes()[:4])  # every one torn: an error, never a silent start from scratch
    with pytest.raises(checkpointing.CheckpointError, match='no complete checkpoint'):
        checkpoints().restore_for_resume()
    assert checkpointing.Checkpoints(tmp_path / 'new', iteration=iteration).restore_for_resume() is None


# ---------------------------------------------------------------------------------------------------------------------
# Relocatable records, the image cache
# ---------------------------------------------------------------------------------------------------------------------
def test_no_shipped_record_names_an_absolute_path():
    """Every text record (binary ones, such as a mixture's component_samples.npz, hold no paths and are shipped as
    they are, as `relocated_bytes` does)."""
    runs = sorted(REPO.glob('Results/runs*/*/*'))
    assert runs
    texts = {}
    for path in (p for p in runs if p.is_file()):
        try:
            texts[str(path.relative_to(REPO))] = path.read_bytes().decode('utf-8')
        except UnicodeDecodeError:
            continue
    assert any(name.endswith('config.json') for name in texts)
    named = {name: absolute_paths(text) for name, text in texts.items()}
    assert not {name: found for name, found in named.items() if found}


def test_relocation_rewrites_only_the_run_folder_paths(tmp_path):
    from Utils.ship_runs import ship
    name = 'vae_mnist_GS_Dis_t0.5_s0_kabc'
    folder = tmp_path / 'Log' / name
    folder.mkdir(parents=True)
    log = f'# GS_Dis ...; run folder /root/old/{name}\nEpoch    1 || TeELBO -98.7654 || 1/2 ||\n'
    final = json.dumps({'epoch': 1, 'TeELBO': -98.7654, 'run_dir': f'/root/old/{name}'}, indent=2) + '\n'
    (folder / 'train.log').write_text(log)
    (folder / 'final_metrics.json').write_text(final)
    (folder / 'config.json').write_text(json.dumps({'experiment': 'vae', 'hyper': {}}))
    (folder / 'status.json').write_text(json.dumps({'epochs_done': 1, 'finished': True}))
    # ship_runs copies relocated records, leaving the source as it is
    assert ship(tmp_path / 'Log', tmp_path / 'runs') == [name]
    shipped = tmp_path / 'runs' / name
    assert (shipped / 'train.log').read_text() == log.replace(f'/root/old/{name}', name)
    assert json.loads((shipped / 'final_metrics.json').read_text())['run_dir'] == name
    assert (folder / 'train.log').read_text() == log
    assert ship(tmp_path / 'Log', tmp_path / 'runs') == []  # the same records, relocated: nothing to ship again
    # the in-place rewrite of old records: only the paths change, a second pass changes nothing
    assert relocate(tmp_path / 'Log') == [folder / 'final_metrics.json', folder / 'train.log']
    assert (folder / 'final_metrics.json').read_text() == final.replace(f'/root/old/{name}', name)
    assert relocate(tmp_path / 'Log') == []
    assert relocate_text(f'see /x/{name}/checkpoints/ckpt-3.index and /x/{name}_r1', name) == \
        f'see {name}/checkpoints/ckpt-3.index and /x/{name}_r1'


def test_write_cache_leaves_no_temporary_file_when_the_chunks_fail(tmp_path):
    from Utils.image_store import write_cache

    def chunks():
        yield np.zeros((2, 4, 4, 3), np.uint8)
        raise OSError('read error in the source')
    path = tmp_path / 'cache' / 'train.npy'
    with pytest.raises(OSError, match='read error'):
        write_cache(chunks(), 4, (4, 4, 3), path, lambda written, final: None)
    assert sorted(p.name for p in path.parent.iterdir()) == []
    with pytest.raises(ValueError, match='expected 4 images'):
        write_cache(iter([np.zeros((2, 4, 4, 3), np.uint8)]), 4, (4, 4, 3), path, lambda written, final: None)
    assert sorted(p.name for p in path.parent.iterdir()) == []
