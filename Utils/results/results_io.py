"""Reading run folders back: one place for tables and figures.

Every run writes ``Log/<run_name>/`` with ``config.json`` (``{"experiment", "hyper", "created"}``),
``metrics.csv`` (one row per evaluated epoch), ``status.json`` (``{"epochs_done", "finished"}``) and, once finished,
``final_metrics.json``.  Nothing here parses ``train.log``.

Main entry points:
  ``collect_runs(log_dir=None, experiment=None, finished_only=False, **filters)``  one row per run
  ``collect_metrics(...)``  one row per (run, evaluated epoch), for curves (Figure 3)
  ``load_metrics(run_dir)``, ``load_config(run_dir)``, ``load_status(run_dir)``
  ``summarize_runs(runs, metrics, group_keys)``  mean, sample std (ddof=1), run count and epochs per group
  ``write_table(summary, ...)``  ``<name>.csv`` and ``<name>.md``
"""
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from Utils import paths
from Utils.runs.folders import read_json

CONFIG_FILE = 'config.json'
METRICS_FILE = 'metrics.csv'
STATUS_FILE = 'status.json'
FINAL_FILE = 'final_metrics.json'
LL_FILE = 'log_likelihood.json'
LL_METRICS = ('TeLL', 'TeLL_se', 'TeLLD', 'TeLLD_se', 'TeLLD_prior_se', 'LL_S')

VERTEX_FILE = 'vertex_distance.json'
"""Figure 5's measure at kept checkpoints (`vae_experiments/milestones.py`): {'epochs': {epoch: summary}}."""
GRADIENT_FILE = 'gradient_variance.csv'
"""The gradient variance at kept checkpoints (`vae_experiments/milestones.py`), one row per epoch and target."""
ELBO_PARTS_FILE = 'elbo_parts.json'
"""The parts of TeELBO and TeELBOD at kept checkpoints (`Models/elbo_parts.py` via `vae_experiments/milestones.py`):
{'epochs': {epoch: {part: value}}}."""
GRADIENT_COLUMNS = ('model', 'temp', 'epoch', 'target', 'mean_variance', 'trace_covariance', 'mean_norm', 'snr_q10',
                    'snr_median', 'snr_q90', 'zero_variance', 'coordinates', 'draws', 'batch', 'run')
"""Columns of every gradient-variance csv (`vae_experiments/gradient_variance.py`, `milestones.py`)."""

VAE_METRICS = ('TeELBO', 'TeELBOC', 'TeELBOD', 'TeJV', 'TeJVC', 'N', 'TrL', 'seconds')
SOP_METRICS = ('TeNLL', 'TeNLLD', 'TeNLLMS', 'TrL', 'seconds')
GROUP_KEYS = ('dataset_name', 'model_type', 'temp')
CURVE_KEYS = ('model_type', 'dataset_name', 'temp', 'seed', 'run_jv')

MODEL_ORDER = ('GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis', 'IGR_SB_Dis',
               'GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite', 'IGR_SB')
DATASET_ORDER = ('mnist', 'fmnist', 'celeb_a', 'omniglot')


class RunFolderError(ValueError):
    """A run folder whose files cannot be read."""


def _read_json(path):
    try:
        return read_json(path)
    except json.JSONDecodeError as err:
        raise RunFolderError(f'{path}: not valid JSON ({err})') from None


def is_run_dir(path):
    """True when ``path`` is a folder holding a ``config.json``."""
    return (Path(path) / CONFIG_FILE).is_file()


def load_config(run_dir):
    """``config.json`` of a run as a dict with keys 'experiment', 'hyper', 'created'."""
    config = _read_json(Path(run_dir) / CONFIG_FILE)
    if not isinstance(config, dict) or not isinstance(config.get('hyper'), dict):
        raise RunFolderError(f'{Path(run_dir) / CONFIG_FILE}: expected {{"experiment", "hyper": {{...}}}}')
    return config


def load_metrics(run_dir):
    """``metrics.csv`` as a DataFrame sorted by epoch (empty, with an 'epoch' column, when absent or empty)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame({'epoch': pd.Series(dtype='int64')})
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame({'epoch': pd.Series(dtype='int64')})
    if 'epoch' not in frame.columns:
        raise RunFolderError(f'{path}: no "epoch" column')
    return frame.sort_values('epoch', kind='stable').reset_index(drop=True)


def load_status(run_dir, metrics=None):
    """``status.json`` as ``{'epochs_done': int, 'finished': bool}``.

    A run without ``status.json`` (killed before writing it) counts as unfinished, with ``epochs_done`` taken
    from the last epoch in ``metrics.csv`` (0 when there is none).
    """
    path = Path(run_dir) / STATUS_FILE
    if path.is_file():
        status = _read_json(path)
        return {'epochs_done': int(status.get('epochs_done', 0)), 'finished': bool(status.get('finished', False))}
    metrics = load_metrics(run_dir) if metrics is None else metrics
    done = int(metrics['epoch'].max()) if len(metrics) else 0
    return {'epochs_done': done, 'finished': False}


def final_metrics(run_dir, metrics=None):
    """Metrics of the last evaluated epoch as a dict (empty when the run has no metrics yet)."""
    metrics = load_metrics(run_dir) if metrics is None else metrics
    if not len(metrics):
        return {}
    return {k: _plain(v) for k, v in metrics.iloc[-1].items()}


def load_log_likelihoods(run_dir):
    """The entries of ``log_likelihood.json`` (``Models/log_likelihood.py``): a list of dicts with 'S', 'epoch',
    TeLL, TeLL_se, TeLLD, TeLLD_se, TeLLD_prior_se, seconds; [] when the run has none."""
    path = Path(run_dir) / LL_FILE
    if not path.is_file():
        return []
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get('entries'), list):
        raise RunFolderError(f'{path}: expected {{"entries": [...]}}')
    return data['entries']


def has_log_likelihood(run_dir, samples, epoch):
    """A ``log_likelihood.json`` entry at this S and epoch exists."""
    return any(e.get('S') == int(samples) and e.get('epoch') == int(epoch) for e in load_log_likelihoods(run_dir))


def log_likelihood_at(run_dir, epoch):
    """The log-likelihood metrics (LL_METRICS) with the most samples computed at ``epoch``; {} when none."""
    entries = [e for e in load_log_likelihoods(run_dir) if e.get('epoch') == epoch]
    if not entries:
        return {}
    best = max(entries, key=lambda e: e['S'])
    return {'LL_S' if k == 'S' else k: best[k] for k in ('S',) + LL_METRICS[:-1] if k in best}


def load_vertex_distances(run_dir):
    """{epoch: summary} of a run's `vertex_distance.json` (median, p25, p75, images_within_0.2, samples_within_0.2,
    variables_within_0.2, images, histogram); {} when the run has none."""
    path = Path(run_dir) / VERTEX_FILE
    if not path.is_file():
        return {}
    return {int(epoch): summary for epoch, summary in _read_json(path)['epochs'].items()}


def load_gradient_variance(run_dir):
    """A run's `gradient_variance.csv` as a DataFrame (empty when the run has none)."""
    path = Path(run_dir) / GRADIENT_FILE
    return pd.read_csv(path, float_precision='round_trip') if path.is_file() else pd.DataFrame()


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def iter_run_dirs(log_dir=None):
    """Run folders directly under ``log_dir`` (default ``Utils.paths.log_dir()``), sorted by name."""
    root = Path(log_dir) if log_dir is not None else paths.log_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and is_run_dir(p))


def _cell_value(value):
    """Hyper values as DataFrame cells: lists become tuples (hashable, comparable)."""
    return tuple(value) if isinstance(value, list) else value


def _matches(row, filters):
    for key, wanted in filters.items():
        value = row.get(key)
        if isinstance(wanted, (list, tuple, set)) and not isinstance(value, tuple):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def _run_record(run_dir):
    config = load_config(run_dir)
    metrics = load_metrics(run_dir)
    status = load_status(run_dir, metrics)
    record = {k: _cell_value(v) for k, v in config['hyper'].items()}
    if record.get('straight_through'):  # its own rows in tables, never averaged with relaxed training
        record['model_type'] = f'{record["model_type"]}_ST'
    record.update(final_metrics(run_dir, metrics))
    if len(metrics):
        record.update(log_likelihood_at(run_dir, int(metrics['epoch'].iloc[-1])))
    record.pop('epoch', None)
    record.update({
        '_hyper': config['hyper'], 'run_name': Path(run_dir).name, 'run_dir': str(run_dir), 'experiment': config.get('experiment'),
        'created': config.get('created'), 'finished': status['finished'], 'epochs_done': status['epochs_done'],
        'last_epoch': int(metrics['epoch'].iloc[-1]) if len(metrics) else None, 'n_evals': len(metrics),
    })
    return record, metrics


def _collect(log_dir, experiment, finished_only, include_smoke, filters):
    records = []
    for run_dir in iter_run_dirs(log_dir):
        try:
            record, metrics = _run_record(run_dir)
        except RunFolderError as err:
            warnings.warn(f'skipping unreadable run folder: {err}')
            continue
        if experiment is not None and record['experiment'] != experiment:
            continue
        if finished_only and not record['finished']:
            continue
        if not include_smoke and record.get('run_with_sample') is True:
            continue
        if not _matches(record, filters):
            continue
        records.append((record, metrics))
    return _one_run_per_cell(records)


def _one_run_per_cell(records):
    """Keep one run per run key (cell and seed): the finished one with the most epochs (then the newest).

    Duplicates come from folders made before grid cells found their own run (or `--restart`); each dropped folder
    is named in a warning so that it is never averaged in as if it were another seed.
    """
    from Utils.runs.runstore import key_of_config
    by_key, order = {}, []
    for record, metrics in records:
        key = key_of_config({'experiment': record['experiment'], 'hyper': record['_hyper']}) or record['run_dir']
        if key not in by_key:
            order.append(key)
        by_key.setdefault(key, []).append((record, metrics))
    kept = []
    for key in order:
        group = by_key[key]
        best = max(group, key=lambda rm: (bool(rm[0]['finished']), rm[0]['epochs_done'], str(rm[0]['created'])))
        others = [rm[0]['run_name'] for rm in group if rm is not best]
        if others:
            warnings.warn(f'{len(group)} runs of one cell (key {key}): using {best[0]["run_name"]}, leaving out '
                          f'{", ".join(others)}')
        kept.append(best)
    for record, _ in kept:
        record.pop('_hyper', None)
    return kept


def select_runs(runs, temp_rtol=1e-6, **filters):
    """Rows of the run table whose hyper values equal `filters` (temperatures compared with a tolerance).

    Args:
        runs: DataFrame from `collect_runs`, one row per run, hyper keys as columns.
        temp_rtol: relative tolerance for float comparisons (temp).
        **filters: column=value pairs, e.g. model_type='IGR_I_Dis', dataset_name='mnist', temp=0.1.
            A value of None means "any".
    Returns:
        the filtered DataFrame (possibly empty).
    """
    mask = pd.Series(True, index=runs.index)
    for key, value in filters.items():
        if value is None:
            continue
        if key not in runs.columns:
            return runs.iloc[0:0]
        column = runs[key]
        if isinstance(value, float):
            numeric = pd.to_numeric(column, errors='coerce').astype(float)
            mask &= np.isclose(numeric, value, rtol=temp_rtol, atol=0.0)
        else:
            mask &= column == value
    return runs[mask]


FRONT_COLUMNS = ('run_name', 'run_dir', 'experiment', 'model_type', 'dataset_name', 'temp', 'seed', 'finished',
                 'epochs_done', 'last_epoch')


def collect_runs(log_dir=None, experiment=None, finished_only=False, include_smoke=False, **filters):
    """One row per run folder: hyper values, final-epoch metrics and status.

    Args:
        log_dir: folder holding the run folders (default ``Utils.paths.log_dir()``, i.e. ``Log/`` or IGR_LOG_DIR).
        experiment: keep only runs whose config says this experiment ('vae' or 'sop'); None = all.
        finished_only: keep only runs whose ``status.json`` says finished.
        include_smoke: also keep smoke runs (hyper ``run_with_sample=True``: a few dozen images); they are left
            out by default so that they never mix with real runs in tables and figures.
        **filters: hyper values to match, e.g. ``model_type='GS_Dis'``, ``temp=[0.1, 0.5]`` (a list = any of).
    Returns:
        DataFrame with columns run_name, run_dir, experiment, created, finished, epochs_done, last_epoch,
        n_evals, every hyper key (lists as tuples) and the metrics of the last evaluated epoch.
        Folders without a readable ``config.json`` are skipped (with a warning when it is malformed).
    """
    records = [r for r, _ in _collect(log_dir, experiment, finished_only, include_smoke, filters)]
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=list(FRONT_COLUMNS))
    front = [c for c in FRONT_COLUMNS if c in frame.columns]
    return frame[front + [c for c in frame.columns if c not in front]]


def collect_metrics(log_dir=None, experiment=None, finished_only=False, include_smoke=False, keys=CURVE_KEYS,
                    **filters):
    """Every evaluated epoch of every selected run (long format, for curves such as test ELBO vs epoch).

    Args: as ``collect_runs``; ``keys`` = hyper keys copied onto each row.
    Returns:
        DataFrame with run_name, the ``keys`` present in the hyper dicts, 'epoch' and the metric columns.
    """
    frames = []
    for record, metrics in _collect(log_dir, experiment, finished_only, include_smoke, filters):
        if not len(metrics):
            continue
        frame = metrics.copy()
        for key in reversed(keys):
            if key in record:
                frame.insert(0, key, [record[key]] * len(frame))
        frame.insert(0, 'run_name', record['run_name'])
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=['run_name', *keys, 'epoch'])
    return pd.concat(frames, ignore_index=True)


def _order_key(values, order):
    rank = {name: i for i, name in enumerate(order)}
    return values.map(lambda v: (rank.get(v, len(rank)), str(v)))


def sort_summary(frame):
    """Sort by dataset, model (paper order: GS, IGR-I, IGR-Planar, IGR-SB-Finite, IGR-SB), temperature."""
    frame = frame.copy()
    sort_cols = []
    for col, order in (('dataset_name', DATASET_ORDER), ('model_type', MODEL_ORDER)):
        if col in frame.columns:
            frame[f'_{col}'] = _order_key(frame[col], order)
            sort_cols.append(f'_{col}')
    if 'temp' in frame.columns:
        sort_cols.append('temp')
    if sort_cols:
        frame = frame.sort_values(sort_cols, kind='stable')
    return frame.drop(columns=[c for c in sort_cols if c.startswith('_')]).reset_index(drop=True)


def summarize_runs(runs, metrics, group_keys=GROUP_KEYS):
    """Mean and sample standard deviation over runs (seeds) of the final-epoch metrics, per group.

    Args:
        runs: DataFrame from ``collect_runs`` (one row per run).
        metrics: metric column names, e.g. ('TeELBO', 'TeELBOC', 'TeELBOD').
        group_keys: columns defining a group (default dataset, model, temperature); missing columns count as
            one group.
    Returns:
        DataFrame: group keys, ``n_runs``, ``epochs_min``, ``epochs_max`` and for each metric ``<m>_mean`` and
        ``<m>_std`` (ddof=1; NaN when the group has a single run or the metric is missing). Sorted in paper order.
    """
    keys = [k for k in group_keys if k in runs.columns]
    columns = keys + ['n_runs', 'epochs_min', 'epochs_max'] + [f'{m}_{s}' for m in metrics for s in ('mean', 'std')]
    if runs is None or not len(runs):
        return pd.DataFrame(columns=columns)
    runs = runs.copy()
    for m in metrics:
        runs[m] = pd.to_numeric(runs[m], errors='coerce') if m in runs.columns else np.nan
    grouped = runs.groupby(keys, dropna=False, sort=False) if keys else [((), runs)]
    rows = []
    for group, part in grouped:
        group = group if isinstance(group, tuple) else (group,)
        row = dict(zip(keys, group))
        row['n_runs'] = len(part)
        row['epochs_min'] = int(part['epochs_done'].min())
        row['epochs_max'] = int(part['epochs_done'].max())
        for m in metrics:
            values = part[m].dropna()
            row[f'{m}_mean'] = float(values.mean()) if len(values) else np.nan
            row[f'{m}_std'] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
        rows.append(row)
    return sort_summary(pd.DataFrame(rows, columns=columns))


def format_mean_std(mean, std, digits=2):
    """'mean ± std' with ``digits`` decimals; std '-' when undefined (one run); '-' when there is no value."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return '-'
    spread = '-' if std is None or (isinstance(std, float) and math.isnan(std)) else f'{std:.{digits}f}'
    return f'{mean:.{digits}f} ± {spread}'


def format_epochs(low, high):
    return f'{low}' if low == high else f'{low}-{high}'


def best_rows(summary, metric, maximize=True, keys=('dataset_name', 'model_type')):
    """Per (dataset, model), the row whose ``<metric>_mean`` is best over temperatures."""
    col = f'{metric}_mean'
    keys = [k for k in keys if k in summary.columns]
    valid = summary.dropna(subset=[col])
    if not len(valid):
        return summary.iloc[0:0]
    pick = valid.groupby(keys, dropna=False, sort=False)[col].idxmax() if maximize else \
        valid.groupby(keys, dropna=False, sort=False)[col].idxmin()
    return sort_summary(valid.loc[list(pick.values)])


def markdown_table(summary, metrics, key_labels=None, digits=2):
    """Markdown table of a summary: keys, 'mean ± std' per metric, runs, epochs."""
    key_labels = key_labels or {'dataset_name': 'dataset', 'model_type': 'model', 'temp': 'temp'}
    keys = [k for k in key_labels if k in summary.columns]
    header = [key_labels[k] for k in keys] + list(metrics) + ['runs', 'epochs']
    rows = []
    for _, row in summary.iterrows():
        cells = ['-' if pd.isna(row[k]) else str(row[k]) for k in keys]
        cells += [format_mean_std(row[f'{m}_mean'], row[f'{m}_std'], digits) for m in metrics]
        cells += [str(int(row['n_runs'])), format_epochs(int(row['epochs_min']), int(row['epochs_max']))]
        rows.append(cells)
    return markdown_lines(header, rows)


def markdown_lines(header, rows):
    """A GitHub markdown table of cells already formatted as text: header (names), rows (lists of strings)."""
    lines = ['| ' + ' | '.join(map(str, header)) + ' |', '|' + '|'.join(['---'] * len(header)) + '|']
    return '\n'.join(lines + ['| ' + ' | '.join(row) + ' |' for row in rows]) + '\n'


def write_table(summary, name, title, metrics, out_dir=None, notes=(), best=None, digits=2):
    """Write ``<out_dir>/<name>.csv`` (numbers) and ``<out_dir>/<name>.md`` (formatted).

    Args:
        summary: DataFrame from ``summarize_runs``.
        name: file stem, e.g. 'table1'.
        title: Markdown heading.
        metrics: metric names shown (in order).
        out_dir: folder (default ``Results/tables``, or IGR_RESULTS_DIR/tables).
        notes: lines printed under the title.
        best: optional (metric, maximize) adding a section with the best temperature per dataset/model.
    Returns:
        (csv_path, md_path).
    """
    out_dir = Path(out_dir) if out_dir is not None else paths.results_dir('tables')
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / f'{name}.csv', out_dir / f'{name}.md'
    summary.to_csv(csv_path, index=False)
    parts = [f'# {title}\n\n', *[f'{line}  \n' for line in notes], '\n']
    if not len(summary):
        parts.append('No runs found.\n')
    else:
        if best is not None:
            metric, maximize = best
            chosen = best_rows(summary, metric, maximize)
            word = 'highest' if maximize else 'lowest'
            parts += [f'## Best temperature per dataset and model ({word} mean {metric})\n\n',
                      markdown_table(chosen, metrics, digits=digits), '\n', '## All temperatures\n\n']
        parts.append(markdown_table(summary, metrics, digits=digits))
    md_path.write_text(''.join(parts))
    return csv_path, md_path


def display_path(path):
    """``path`` relative to the repository root when inside it (for notes written into shipped tables)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(paths.REPO_ROOT))
    except ValueError:
        return str(path)


def build_table(name, title, metrics, experiment, where=None, log_dir=None, out_dir=None,
                include_unfinished=False, include_smoke=False, best=None, group_keys=GROUP_KEYS, notes=(),
                digits=2, optional_metrics=()):
    """Collect runs, summarise them per group and write ``<name>.csv`` / ``<name>.md``.

    Args:
        name, title, metrics, best, notes, digits: as ``write_table``.
        experiment: 'vae' or 'sop' (``config.json``).
        where: optional function DataFrame -> boolean Series selecting runs (e.g. JointVAE runs only).
        log_dir: run folders (default ``Log/`` or IGR_LOG_DIR); out_dir: default ``Results/tables``.
        include_unfinished: also count runs whose ``status.json`` is not finished (their last evaluated epoch).
        include_smoke: also count smoke runs (``run_with_sample=True``).
        group_keys: grouping columns (default dataset, model, temperature).
        optional_metrics: columns shown only when some selected run has them (e.g. TeLL, TeLLD).
    Returns:
        (summary DataFrame, csv_path, md_path).
    """
    runs = collect_runs(log_dir, experiment=experiment, finished_only=not include_unfinished,
                        include_smoke=include_smoke)
    if where is not None and len(runs):
        runs = runs[where(runs).astype(bool).to_numpy()]
    metrics = tuple(metrics) + tuple(m for m in optional_metrics if m in runs.columns and runs[m].notna().any())
    summary = summarize_runs(runs, metrics, group_keys)
    source = display_path(log_dir if log_dir is not None else paths.log_dir())
    notes = [*notes,
             f'Mean ± sample standard deviation (ddof=1) over runs (seeds) of the value at the last evaluated epoch; '
             f'"± -" means a single run. '
             f'{"Finished and unfinished runs" if include_unfinished else "Finished runs only"}'
             f'{", smoke runs included" if include_smoke else ""}: '
             f'{len(runs)} run folder{"" if len(runs) == 1 else "s"} from `{source}`.']
    csv_path, md_path = write_table(summary, name, title, metrics, out_dir, notes, best, digits)
    return summary, csv_path, md_path
