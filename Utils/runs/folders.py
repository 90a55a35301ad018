"""Run folders: names, creation (never reused), config.json, status.json, metrics.csv, JSON written atomically.

Run folder layout (one folder per run, never reused)::

    Log/<experiment>_<dataset>_<model_type>_t<temp>_s<seed>_<YYYYmmdd-HHMMSS>[_<k>]/
        config.json         {"experiment": ..., "hyper": {...validated hyper...}, "created": iso-time}
        metrics.csv         one row per evaluated epoch (columns fixed by the experiment)
        train.log           readable lines `Epoch    1 || TeELBO -98.765 || ... || 12.3 sec || i: 937 ||`
        status.json         {"epochs_done": int, "finished": bool, "checkpoint_epoch": int, ...}
        final_metrics.json  last row of metrics.csv (+ run_dir: the folder's name) once the run finished
        checkpoints/        tf.train.CheckpointManager files
        tb/                 TensorBoard summaries
        images/             figures written by the experiment

Experiments read results back from these files only (`read_config`, `read_metrics`, `read_status`).
"""
import csv
import datetime
import io
import json
import os
from pathlib import Path

from Utils import paths
from Utils.runs.hyper_checks import jsonable


def model_label(hyper):
    """The model part of run names and table rows: model_type, with `_ST` for straight-through training."""
    return f'{hyper["model_type"]}_ST' if hyper.get('straight_through') else hyper['model_type']


def run_name(experiment, dataset_name, model_type, temp, seed, stamp=None):
    """`<experiment>_<dataset>_<model_type>_t<temp>_s<seed>_<YYYYmmdd-HHMMSS>`."""
    stamp = stamp or datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    return f'{experiment}_{dataset_name}_{model_type}_t{float(temp):g}_s{seed}_{stamp}'


def make_run_dir(experiment, dataset_name, model_type, temp, seed):
    """Create a fresh run folder under `Log/` (a numeric suffix is added when the name is taken)."""
    base = paths.log_dir() / run_name(experiment, dataset_name, model_type, temp, seed)
    candidate, k = base, 0
    while True:
        try:
            candidate.mkdir(parents=False, exist_ok=False)  # atomic: two runs never share a folder
            return candidate
        except FileExistsError:
            k += 1
            candidate = base.with_name(f'{base.name}_{k}')


def run_folder(experiment, hyper, resume_dir=None, run_dir=None):
    """The folder a run writes: `resume_dir` (continued), else `run_dir` (a grid cell's, created if needed), else a
    fresh `make_run_dir` folder."""
    if resume_dir is not None:
        return Path(resume_dir)
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return Path(run_dir)
    return make_run_dir(experiment, hyper['dataset_name'], model_label(hyper), hyper['temp'], hyper['seed'])


def no_fence():
    """The fence of a run without a grid lock: every write may go ahead."""


def write_bytes(path, data, fence=None):
    """Write `data` atomically (a crash never leaves half a file); `fence()` first (see `Utils.runs.runstore.RunLock`)."""
    (fence or no_fence)()
    path = Path(path)
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_csv(path, rows, fence=None, fieldnames=None):
    """Write CSV atomically, as `write_bytes`: `rows` are lists (the header among them), or with `fieldnames` dicts
    under that header (a key outside it raises)."""
    buffer = io.StringIO()
    if fieldnames is None:
        csv.writer(buffer).writerows(rows)
    else:
        writer = csv.DictWriter(buffer, fieldnames=list(fieldnames))
        writer.writeheader()
        writer.writerows(rows)
    write_bytes(path, buffer.getvalue().encode(), fence)


def write_json(path, payload, fence=None):
    """Write JSON atomically, as `write_bytes`."""
    write_bytes(path, (json.dumps(jsonable(payload), indent=2, sort_keys=False) + '\n').encode(), fence)


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def save_config(run_dir, experiment, hyper):
    write_json(Path(run_dir) / 'config.json', {'experiment': experiment, 'hyper': dict(hyper),
                                               'created': datetime.datetime.now().isoformat(timespec='seconds')})


def read_config(run_dir):
    """The `config.json` of a run: {'experiment', 'hyper', 'created'}."""
    return read_json(Path(run_dir) / 'config.json')


def read_status(run_dir):
    path = Path(run_dir) / 'status.json'
    return read_json(path) if path.exists() else {'epochs_done': 0, 'finished': False}


def whole_row(row, width):
    if len(row) != width:
        return False
    try:
        float(row[0])
    except ValueError:
        return False
    return all(cell != '' for cell in row)


def read_metrics(run_dir, name='metrics.csv'):
    """Rows of a run's metrics file as a list of dicts with float values ('epoch' as int)."""
    path = Path(run_dir) / name
    if not path.exists():
        return []
    with open(path, newline='') as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return []
    header = rows[0]
    return [{k: (int(float(v)) if k == 'epoch' else float(v)) for k, v in zip(header, row)}
            for row in rows[1:] if whole_row(row, len(header))]
