"""The one place that knows where things live.

Every path is resolved from the repository root (the parent of this file's folder), so scripts behave the
same whatever the working directory.  Folders are created on first use, never at import time.

Environment overrides:
  IGR_DATA_DIR     where datasets are stored (default: <repo>/data, ignored by git)
  IGR_LOG_DIR      where runs are written (default: <repo>/Log)
  IGR_RESULTS_DIR  where figures, tables and learned priors go (default: <repo>/Results)
"""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _resolve(env_var, default):
    value = os.environ.get(env_var)
    return Path(value).expanduser().resolve() if value else default


def _ensure(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir():
    """Folder holding the datasets (created on demand)."""
    return _ensure(_resolve('IGR_DATA_DIR', REPO_ROOT / 'data'))


def log_dir():
    """Folder holding one sub-folder per run (created on demand)."""
    return _ensure(_resolve('IGR_LOG_DIR', REPO_ROOT / 'Log'))


def results_dir(*parts):
    """`Results/` or a sub-folder of it (created on demand)."""
    return _ensure(_resolve('IGR_RESULTS_DIR', REPO_ROOT / 'Results').joinpath(*parts))


def results_file(name):
    """Path of a file shipped in `Results/` (e.g. a learned prior); the folder is not created."""
    return _resolve('IGR_RESULTS_DIR', REPO_ROOT / 'Results') / name


def prior_file_name(n_categories, model_type):
    """`mu_xi_unif_<K>_<model>.pkl`, the name of a learned uniform prior in Results/."""
    return f'mu_xi_unif_{n_categories}_{model_type}.pkl'
