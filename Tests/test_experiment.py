"""Run-folder, logging, validation and seeding helpers shared by the VAE and SOP experiments."""
import io
import json
import re

import numpy as np
import pytest

from Utils.runs import checkpointing, folders, hyper_checks, logs, seeding


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path))
    return tmp_path


def test_unknown_key_lists_valid_keys():
    with pytest.raises(hyper_checks.HyperError) as err:
        hyper_checks.check_keys({'temp': 1., 'tmep': 2.}, ['temp', 'epochs'])
    message = str(err.value)
    assert "'tmep'" in message and 'temp' in message and 'epochs' in message


def test_choice_and_number_checks_name_value_and_valid_range():
    with pytest.raises(hyper_checks.HyperError, match=r"bad model_type 'XYZ'.*GS_Dis, IGR_I_Dis"):
        hyper_checks.check_choice('model_type', 'XYZ', ('GS_Dis', 'IGR_I_Dis'))
    with pytest.raises(hyper_checks.HyperError, match=r'bad temp 0.*> 0'):
        hyper_checks.check_number('temp', 0., low=0., low_open=True)
    with pytest.raises(hyper_checks.HyperError, match='integer'):
        hyper_checks.check_number('epochs', 2.5, low=1, integer=True)
    with pytest.raises(hyper_checks.HyperError, match='True or False'):
        hyper_checks.check_bool('run_jv', 'yes')
    with pytest.raises(hyper_checks.HyperError, match='start, stop, n_iterations'):
        hyper_checks.check_linspace('cont_c_linspace', (0., 5.))
    hyper_checks.check_number('temp', np.float32(0.5), low=0., low_open=True)
    hyper_checks.check_linspace('cont_c_linspace', [0., 5., 25000])


def test_run_dirs_are_never_reused(log_dir):
    first = folders.make_run_dir('vae', 'mnist', 'GS_Dis', 0.5, 0)
    second = folders.make_run_dir('vae', 'mnist', 'GS_Dis', 0.5, 0)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.parent == log_dir
    assert re.fullmatch(r'vae_mnist_GS_Dis_t0\.5_s0_\d{8}-\d{6}', first.name)
    assert second.name.startswith(first.name) or re.search(r'_\d+$', second.name)


def test_csv_log_truncates_after_an_epoch(tmp_path):
    log = logs.CsvLog(tmp_path / 'm.csv', ['epoch', 'a'])
    for epoch in (1, 2, 3):
        log.append({'epoch': epoch, 'a': epoch / 3})
    log.truncate_after(2)
    log.append({'epoch': 3, 'a': 9.})
    rows = folders.read_metrics(tmp_path, 'm.csv')
    assert [r['epoch'] for r in rows] == [1, 2, 3] and rows[-1]['a'] == 9.
    assert rows[0]['a'] == pytest.approx(1 / 3, rel=1e-15)  # full float precision


def test_log_line_has_the_original_format():
    line = logs.format_log_line(1, {'TeELBO': -98.7654, 'N': 10, 'TrL': 99.1}, 12.34, 937)
    assert line == 'Epoch    1 || TeELBO -98.7654 || N 10 || TrL 99.1000 || 12.3 sec || i: 937 ||'


def test_run_log_files(tmp_path):
    log = logs.RunLog(tmp_path, ['TeELBO', 'N'], echo=False)
    log.log_epoch(1, {'TeELBO': -100., 'N': 10}, 1.5, 8)
    log.status(epochs_done=1, finished=False)
    log.finish({'TeELBO': -100.})
    log.close()
    assert folders.read_metrics(tmp_path) == [{'epoch': 1, 'TeELBO': -100., 'N': 10., 'seconds': 1.5}]
    assert folders.read_status(tmp_path) == {'epochs_done': 1, 'finished': True}
    assert json.loads((tmp_path / 'final_metrics.json').read_text()) == {'TeELBO': -100.}
    assert (tmp_path / 'train.log').read_text().startswith('Epoch    1 || TeELBO -100.0000 || N 10 ||')
    assert any((tmp_path / 'tb').iterdir())


def test_config_round_trip(tmp_path):
    folders.save_config(tmp_path, 'vae', {'temp': np.float32(0.5), 'c': (0., 5., 10)})
    config = folders.read_config(tmp_path)
    assert config['experiment'] == 'vae' and config['hyper'] == {'temp': 0.5, 'c': [0., 5., 10]}
    assert 'created' in config


def test_seed_makes_weights_and_noise_reproducible():
    import tensorflow as tf
    draws = []
    for _ in range(2):
        rng = seeding.set_seed(3)
        layer = tf.keras.layers.Dense(3)
        layer.build((None, 2))
        draws.append((layer.kernel.numpy(), rng.normal((4,)).numpy(), np.random.rand()))
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)


def test_progress_bar_is_silent_off_a_terminal_and_draws_on_one():
    quiet = io.StringIO()
    bar = logs.ProgressBar(10, 'Epoch 1', stream=quiet, enabled=False)
    for step in range(1, 11):
        bar.update(step)
    bar.close()
    assert quiet.getvalue() == ''
    loud = io.StringIO()
    bar = logs.ProgressBar(10, 'Epoch 1', stream=loud, enabled=True, interval=0.)
    bar.update(10)
    assert '10/10' in loud.getvalue()


def test_restore_epoch_restores_that_epoch_and_names_kept_ones(tmp_path):
    import tensorflow as tf
    value = tf.Variable(0.)
    manager = checkpointing.checkpoint_manager(tmp_path, value=value)
    for epoch in (1, 2):
        value.assign(10. * epoch)
        manager.save(checkpoint_number=epoch)
    checkpointing.restore_epoch(manager, 1)
    assert float(value.numpy()) == 10.
    checkpointing.restore_epoch(manager)
    assert float(value.numpy()) == 20.
    with pytest.raises(FileNotFoundError, match='epoch 7.*kept'):
        checkpointing.restore_epoch(manager, 7)
