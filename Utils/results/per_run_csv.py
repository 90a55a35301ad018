"""Per-run csv files computed from checkpoints (one row per run and epoch), which the report reads as inputs:
`vae_experiments/distance_averaging.py` and `vae_experiments/offset_reading.py` share their command line and merge.

    add_run_arguments(parser, runs_file)          # --run DIR[:EPOCH] (repeatable), --out, --test-images
    parse_run('DIR:EPOCH')                        -> (Path, epoch or None), the type of --run
    merge_rows(path, rows, columns, order)        -> the csv's rows, `rows` replacing those of the same (run, epoch)
"""
import argparse
from pathlib import Path

import pandas as pd


def parse_run(text):
    """'DIR' or 'DIR:EPOCH' -> (Path, epoch or None); a clear error when DIR is not a run folder."""
    folder, _, epoch = text.rpartition(':') if ':' in text else (text, '', '')
    path = Path(folder)
    if not (path / 'config.json').is_file():
        raise argparse.ArgumentTypeError(f'{text!r}: {path} is not a run folder (no config.json); give DIR or '
                                         f'DIR:EPOCH')
    if epoch and not epoch.isdigit():
        raise argparse.ArgumentTypeError(f'{text!r}: the epoch after ":" must be a whole number')
    return path, int(epoch) if epoch else None


def merge_rows(path, rows, columns, order):
    """The csv at `path` (if any) with `rows` (dicts with `columns`) replacing its rows of the same (run_name, epoch),
    sorted by the columns `order`; floats are read back exactly (round-trip parsing)."""
    old = pd.read_csv(path, float_precision='round_trip') if Path(path).is_file() else pd.DataFrame(columns=columns)
    new = pd.DataFrame(rows, columns=columns)
    keys = set(zip(new['run_name'], new['epoch']))
    old = old[[(r, e) not in keys for r, e in zip(old['run_name'], old['epoch'])]]
    table = pd.concat([old, new], ignore_index=True) if len(old) else new
    return table.sort_values(list(order), ignore_index=True)


def add_run_arguments(parser, runs_file):
    """The options of a per-run csv script: --run (repeatable), --out (default Results/`runs_file`), --test-images."""
    parser.add_argument('--run', action='append', required=True, type=parse_run,
                        help='a run folder, or FOLDER:EPOCH (repeatable; default epoch: the latest checkpoint)')
    parser.add_argument('--out', help=f'per-run csv (default Results/{runs_file})')
    parser.add_argument('--test-images', type=int, help='use only the first N test images')
