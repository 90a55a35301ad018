"""machine.json: one entry per training session, named in train.log, counted by the budget table."""
import json
import os

import tensorflow as tf

from Utils.runs import machine
from vae_experiments.report_budget_tables import _machines


def test_sessions_append_and_describe_this_process(tmp_path):
    first = machine.record_session(tmp_path, 1)
    second = machine.record_session(tmp_path, 7)
    sessions = json.loads((tmp_path / machine.MACHINE_FILE).read_text())['sessions']
    assert sessions == [first, second] and [s['first_epoch'] for s in sessions] == [1, 7]
    assert first['tensorflow'] == tf.__version__ and first['cpu_count'] == os.cpu_count()
    assert first['cores_usable'] == sorted(os.sched_getaffinity(0))
    assert first['gpus'] == [d.name for d in tf.config.list_physical_devices('GPU')]
    line = machine.summary(first)
    assert line.startswith(f'# machine: {machine.cpu_model()}, {len(first["cores_usable"])} of {os.cpu_count()} cores')
    assert f'TensorFlow {tf.__version__}' in line
    assert machine.run_machines(tmp_path) == [machine.cpu_model()]


def test_budget_counts_runs_per_cpu_and_the_unrecorded(tmp_path):
    recorded, older, resumed = tmp_path / 'a', tmp_path / 'b', tmp_path / 'c'
    for folder in (recorded, older, resumed):
        folder.mkdir()
    sessions = [{'first_epoch': 1, 'cpu': 'CPU X'}, {'first_epoch': 5, 'cpu': 'CPU Y'}]
    (recorded / machine.MACHINE_FILE).write_text(json.dumps({'sessions': sessions}))
    (resumed / machine.MACHINE_FILE).write_text(json.dumps({'sessions': sessions[1:]}))  # begun before the records
    assert machine.run_machines(older) == [None] and machine.run_machines(resumed) == ['CPU Y', None]
    assert _machines([recorded, older, recorded, resumed]) == 'CPU X (2); CPU Y (3); not recorded (2)'
