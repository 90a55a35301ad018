"""Copy the records of finished runs into the repository (`Results/runs/<run folder>/`), without their weights.

    python3 -m Utils.ship_runs --from /scratch/igr_log            # default destination Results/runs
    python3 -m Utils.ship_runs --from Log --to Results/runs --experiment vae

What is copied: config.json, metrics.csv, gradients.csv, status.json, final_metrics.json, train.log,
log_likelihood.json, the evaluations at kept checkpoints vertex_distance.json and gradient_variance.csv
(`vae_experiments/milestones.py`), and a mixture's mixture_weights.json, component_samples.npz and
log_likelihood_subset.json (`vae_experiments/dlgmm_records.py`) (the files the table and figure scripts read, plus the
readable log). Checkpoints, TensorBoard files and images stay behind. Only finished runs are copied, and not while a
live process holds their lock (being evaluated); a folder already shipped is replaced when the source has at least as
many epochs and its records differ (e.g. a log-likelihood estimate added later).
Records are copied relocatable: an absolute path of the run folder in them (written by older code) becomes the
folder's name (`Utils/relocate_records.py`).
"""
import argparse
import shutil
import sys
from pathlib import Path

from Utils.relocate_records import relocated_bytes
from Utils.runs.folders import read_json
from Utils.runs.runstore import read_json_or_none

RECORD_FILES = ('config.json', 'metrics.csv', 'gradients.csv', 'status.json', 'final_metrics.json', 'train.log',
                'log_likelihood.json', 'vertex_distance.json', 'gradient_variance.csv', 'mixture_weights.json',
                'component_samples.npz', 'log_likelihood_subset.json', 'machine.json', 'unit_values.json',
                'elbo_parts.json')


def _status(folder):
    return read_json_or_none(Path(folder) / 'status.json') or {}


def _in_use(folder):
    """True while a live process holds the folder's lock (a milestone evaluation still writing records)."""
    from Utils.runs.runstore import lock_state
    state = lock_state(folder)
    return state is not None and not state[1]


def _same_records(folder, target):
    shipped = lambda path: relocated_bytes(path, folder.name) if path.is_file() else None  # noqa: E731
    return all(shipped(folder / name) == shipped(target / name) for name in RECORD_FILES)


def _copy_record(source, target, folder_name):
    """Copy one record with its run folder's absolute paths cut to the folder's name; times kept as in copy2."""
    target.write_bytes(relocated_bytes(source, folder_name))
    shutil.copystat(source, target)


def ship(source, destination, experiment=None, only=None):
    """Copy the records of every finished run folder under `source` (or of the folders named in `only`) to
    `destination`; returns the shipped names."""
    source, destination = Path(source), Path(destination)
    shipped = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and (p / 'config.json').is_file()
                         and (only is None or p.name in only)):
        status = _status(folder)
        if not status.get('finished') or _in_use(folder):
            continue
        if experiment and read_json(folder / 'config.json').get('experiment') != experiment:
            continue
        target = destination / folder.name
        if target.exists() and (_status(target).get('epochs_done', 0) > status.get('epochs_done', 0)
                                or _same_records(folder, target)):
            continue
        tmp = destination / f'.{folder.name}.tmp'
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in RECORD_FILES:
            if (folder / name).is_file():
                _copy_record(folder / name, tmp / name, folder.name)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        shipped.append(folder.name)
    return shipped


def main(argv=None):
    from Utils import paths
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--from', dest='source', default=None, help='log directory (default Log/ or $IGR_LOG_DIR)')
    parser.add_argument('--to', dest='destination', default=None, help='default Results/runs')
    parser.add_argument('--experiment', default=None, help="only runs of this experiment ('vae' or 'sop')")
    args = parser.parse_args(argv)
    source = Path(args.source) if args.source else paths.log_dir()
    destination = Path(args.destination) if args.destination else paths.results_dir('runs')
    if not source.is_dir():
        parser.error(f'no log directory {source}')
    names = ship(source, destination, args.experiment)
    print(f'{len(names)} run(s) shipped to {destination}' + ''.join(f'\n  {n}' for n in names))
    return names


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(0 if run_main(main) is not None else 1)
