"""A tiny grid without TensorFlow, for checking the Slurm path (``Tests/slurm/run_slurm_smoke.sh``).

It enumerates its cells with ``Utils.runs.grid`` like the real grid scripts and each cell writes a run folder in the
documented format (``config.json``, ``metrics.csv``, ``status.json``, ``final_metrics.json``, ``train.log``) with
made-up numbers, in a fraction of a second.

    python3 Tests/slurm/smoke_grid.py --list
    python3 Tests/slurm/smoke_grid.py --cell 1
"""
import sys, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import csv
import json
import os
import socket
import time
from datetime import datetime

from Utils.runs.grid import enumerate_cells, run_grid
from Utils.paths import log_dir

hyper = {'dataset_name': 'mnist', 'model_type': 'GS_Dis', 'temp': 0.5, 'epochs': 2, 'seed': 0,
         'run_with_sample': True, 'run_jv': False, 'num_of_repetitions': 1}
model_cases = ['GS_Dis', 'IGR_I_Dis']
dataset_cases = ['mnist']
temps = [0.5]
seeds = [0]

COLUMNS = ['epoch', 'TeELBO', 'TeELBOC', 'TeELBOD', 'TeJV', 'TeJVC', 'N', 'TrL', 'seconds']


def run_cell(cell, smoke=False):
    """Write one run folder for ``cell``; returns the final metrics with 'run_dir'."""
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    base = f"smoke_{cell['dataset_name']}_{cell['model_type']}_t{cell['temp']}_s{cell['seed']}_{stamp}"
    root = log_dir()
    run_dir, suffix = root / base, 1
    while True:
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            run_dir, suffix = root / f'{base}_{suffix}', suffix + 1
    config = {'experiment': 'vae', 'hyper': cell, 'created': datetime.now().isoformat(timespec='seconds')}
    (run_dir / 'config.json').write_text(json.dumps(config, indent=2))
    rows = []
    for epoch in range(1, int(cell['epochs']) + 1):
        elbo = -200.0 + 10 * epoch - 5 * cell['seed']
        rows.append({'epoch': epoch, 'TeELBO': elbo, 'TeELBOC': elbo - 1, 'TeELBOD': elbo - 2, 'TeJV': '', 'TeJVC': '',
                     'N': 10, 'TrL': -elbo, 'seconds': 0.01})
    with open(run_dir / 'metrics.csv', 'w', newline='') as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with open(run_dir / 'train.log', 'w') as handle:
        handle.write(f"host {socket.gethostname()} pid {os.getpid()} smoke={smoke} "
                     f"task {os.environ.get('SLURM_ARRAY_TASK_ID', '-')}\n")
        for r in rows:
            handle.write(f"Epoch {r['epoch']:4d} || TeELBO {r['TeELBO']:.2f} || N {r['N']} || TrL {r['TrL']:.1f} || "
                         f"{r['seconds']:.1f} sec ||\n")
    (run_dir / 'status.json').write_text(json.dumps({'epochs_done': len(rows), 'finished': True}))
    final = {**rows[-1], 'run_dir': str(run_dir)}
    (run_dir / 'final_metrics.json').write_text(json.dumps(final))
    print(f'wrote {run_dir}', flush=True)
    time.sleep(0.5)
    return final


if __name__ == '__main__':
    run_grid(enumerate_cells(hyper, model_cases, dataset_cases, temps, seeds), run_cell,
             description='Slurm smoke grid (no TensorFlow)')
