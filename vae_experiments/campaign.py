"""The paper-budget campaign: every run behind Results/runs_paper, one run per CPU core, pinned, resumable.

    IGR_LOG_DIR=/scratch/igr_paper python3 vae_experiments/campaign.py --cores 0          # one core (develop on the other)
    IGR_LOG_DIR=/scratch/igr_paper python3 vae_experiments/campaign.py --cores 0 1        # both cores
    python3 vae_experiments/campaign.py --plan [part ...]                                   # the ordered cells, their state

Parts, in the default order: `mnist` (Table 1's MNIST column and Figures 3-5: the 8 cells of
`discrete_grid.py --preset paper_mnist_cv / paper_mnist_20`, 100 epochs, seeds 0-4, visited seed-major so that every
model has 3 seeds before any has 5), `sop` (Table 3: 4 models x 5 seeds x 50 epochs), `fmnist` (Table 1's
Fashion-MNIST column, 100 epochs, seeds 0-4) and `jv` (Table 2, MNIST: 4 models x 3 seeds x 50 epochs). Two more
parts are run only when named (EXTRA_PARTS), the same under either `--budget`: `dlgmm`, the nonparametric
experiment's evidence (`dlgmm_grid.py --preset evidence`: 4 stick variants x 3 seeds at one reduced budget), each
finished run's mixture records written (`vae_experiments/dlgmm_records.py`) and shipped to Results/runs_dlgmm; and
`delta`, softmax++'s delta 0.1 at the paper's budget (`discrete_grid.py --preset paper_ablation_delta_cv`: IGR-I and
IGR-Planar at the cross-validated temperatures, seed 0), evaluated at its milestones as the MNIST runs and shipped
to Results/runs_ablation_delta_paper.
`--models GS_Dis,IGR_SB_Finite_Dis` keeps only those models.

Each core runs one cell at a time as `taskset -c <core> python <grid script> --preset ... --cell N`: one process per
run, one intra-op thread each (the presets' `intra_op_threads`, recorded in config.json). Two runs pinned to the two
cores of a 2-core machine measured 97 s where the same two runs one after the other took 128 s. A cell that is
finished is passed over (so is one whose finished records are already in Results/, whatever the log directory
holds), an unfinished one resumes from its checkpoint, a cell locked by another live process is
left to it. After a VAE run finishes, its kept checkpoints are evaluated under the run's lock
(`vae_experiments/milestones.py`: TeLL / TeLLD at S = 100, Figure 5's vertex distances and the gradient variance at
epochs 10, 25, 50 and 100, and the test ELBOs' parts at those epochs and epoch 1; a Fashion-MNIST run only the
log-likelihoods and the ELBO parts; not started when its records hold them all) and its records are copied to
`Results/runs_paper/` (`Utils/ship_runs.py`; no weights).
SIGTERM or SIGINT to this driver stops its runs at the end of their current step, with a checkpoint (exit code 3); run
it again to resume.
`--budget evidence` runs the 10-epoch cells of Results/runs the same way (their MNIST runs evaluated at epochs 1 and
10), for instance to re-make the cells a change of the model gave new run keys.
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from Utils import paths  # noqa: E402
from Utils.runs.runstore import EXIT_INTERRUPTED, EXIT_LOCK_LOST, EXIT_LOCKED  # noqa: E402
from vae_experiments.milestone_records import EVALUATIONS, missing_epochs  # noqa: E402

PARTS = ('mnist', 'sop', 'fmnist', 'jv')
"""The default parts, in their order."""
BUDGETS = {
    'paper': {'mnist': ('paper_mnist_cv', 'paper_mnist_20'), 'fmnist': ('paper_fmnist_cv',), 'jv': 'paper_mnist',
              'sop': 'paper', 'ship_to': 'runs_paper', 'evaluate_epochs': None},
    'evidence': {'mnist': ('evidence_mnist_cv', 'evidence_mnist_20'), 'fmnist': ('evidence_fmnist_cv',),
                 'jv': 'evidence_mnist', 'sop': 'evidence', 'ship_to': 'runs', 'evaluate_epochs': (1, 10)},
}
"""Budget -> the presets of each part, where the records go in Results/, and the checkpoint epochs evaluated after a
MNIST run (None: its milestones, `keep_epochs`)."""
MILESTONES = 'vae_experiments/milestones.py'
FMNIST_EVALUATIONS = ('log_likelihood', 'elbo_parts')
"""What a Fashion-MNIST run's kept checkpoints are evaluated for: Figures 4 and 5 are MNIST's, while the verdicts on
TeLLD and the cause of the TeELBOD ones are read at every milestone of both datasets."""
MIXTURE_RECORDS = 'vae_experiments/dlgmm_records.py'
THREADS = 1
"""Intra-op threads of every run (`--set intra_op_threads=1`, recorded in config.json): one run is pinned to a core."""


@dataclass(frozen=True)
class ExtraPart:
    """A part run only when named, the same under either budget: its grid script and preset, the folder of Results/
    its records go to, and the script run on each finished run before it is shipped."""
    script: str
    preset: str
    folder: str
    evaluator: str


EXTRA_PARTS = {
    'dlgmm': ExtraPart('vae_experiments/dlgmm_grid.py', 'evidence', 'runs_dlgmm', MIXTURE_RECORDS),
    'delta': ExtraPart('vae_experiments/discrete_grid.py', 'paper_ablation_delta_cv', 'runs_ablation_delta_paper',
                       MILESTONES),
}
"""Parts run only when named."""


@dataclass(frozen=True)
class Task:
    """One cell of a grid script: how to run it and how to find its run."""
    part: str
    script: str
    preset: str
    index: int
    cell: dict
    evaluator: str = None     # script run on the finished run's folder (`--run-dir`) before it is shipped
    ship_to: str = 'runs_paper'
    extra: tuple = ()
    evaluations: tuple = EVALUATIONS   # what MILESTONES computes for this run

    @property
    def args(self):
        preset = [] if self.script.endswith('sop.py') else ['--preset', self.preset]
        return preset + ['--cell', str(self.index), '--set', f'intra_op_threads={THREADS}', *self.extra]

    @property
    def env(self):
        return {'IGR_SOP_PRESET': self.preset} if self.script.endswith('sop.py') else {}

    @property
    def label(self):
        return (f'{self.part} {self.cell["model_type"]} t{self.cell["temp"]:g} s{self.cell["seed"]} '
                f'({self.script.split("/")[-1]} {" ".join(self.args)})')


def _discrete_tasks(part, presets, models, evaluator, ship_to, evaluations=EVALUATIONS):
    from vae_experiments import discrete_grid as grid
    cells = {preset: grid.grid_cells(preset) for preset in presets}
    seeds = sorted({c['seed'] for cs in cells.values() for c in cs})
    tasks = []
    for seed in seeds:  # seed-major: every model's seed s before any model's seed s + 1
        for preset in presets:
            for i, cell in enumerate(cells[preset]):
                if cell['seed'] == seed and (not models or cell['model_type'] in models):
                    tasks.append(Task(part, 'vae_experiments/discrete_grid.py', preset, i, cell, evaluator, ship_to,
                                      evaluations=evaluations))
    return tasks


def _seed_major(part, script, preset, cells, models, evaluator, ship_to):
    order = sorted(range(len(cells)), key=lambda i: (cells[i]['seed'], i))
    return [Task(part, script, preset, i, cells[i], evaluator, ship_to) for i in order
            if not models or cells[i]['model_type'] in models]


def plan(parts=PARTS, models=(), budget='paper'):
    """The campaign's tasks in the order they are run."""
    presets, ship_to = BUDGETS[budget], BUDGETS[budget]['ship_to']
    tasks = []
    for part in parts:
        if part == 'mnist':
            tasks += _discrete_tasks(part, presets['mnist'], models, MILESTONES, ship_to)
        elif part == 'fmnist':
            tasks += _discrete_tasks(part, presets['fmnist'], models, MILESTONES, ship_to, FMNIST_EVALUATIONS)
        elif part == 'jv':
            from vae_experiments import jv_grid
            tasks += _seed_major(part, 'vae_experiments/jv_grid.py', presets['jv'],
                                 jv_grid.grid_cells(presets['jv']), models, None, ship_to)
        elif part == 'sop':
            from structure_output_prediction import sop
            from Utils.runs.grid import enumerate_cells
            hyper, model_cases, temps, seeds = sop.settings(presets['sop'])
            tasks += _seed_major(part, 'structure_output_prediction/sop.py', presets['sop'],
                                 enumerate_cells(hyper, model_cases, None, temps, seeds), models, None, ship_to)
        elif part in EXTRA_PARTS:
            extra = EXTRA_PARTS[part]
            grid = importlib.import_module('vae_experiments.' + Path(extra.script).stem)
            tasks += _seed_major(part, extra.script, extra.preset, grid.grid_cells(extra.preset), models,
                                 extra.evaluator, extra.folder)
        else:
            raise SystemExit(f'campaign: unknown part {part!r}; valid parts are: '
                             f'{", ".join(PARTS + tuple(EXTRA_PARTS))}')
    return tasks


def _store(task, log_dir):
    if task.script.endswith('sop.py'):
        from structure_output_prediction import sop
        return sop.run_store(log_dir)
    from vae_experiments import discrete_grid
    return discrete_grid.run_store(log_dir)


def with_options(tasks, overrides=None, smoke=False):
    """The tasks with `--set` overrides (a dict) and smoke mode applied to their cells and command lines."""
    from dataclasses import replace
    from Utils.runs.grid import _final_cell
    extra = tuple(a for key, value in (overrides or {}).items() for a in ('--set', f'{key}={value!r}'))
    extra += ('--smoke',) if smoke else ()
    return [replace(t, cell=_final_cell(t.cell, overrides or {}, smoke), extra=extra) for t in tasks]


def state_of(task, log_dir):
    """(state, text, run folder or None) of a task's cell in `log_dir` (Utils/runs/runstore.py), or 'shipped' when
    the log directory holds no finished or running run of it and its part's Results folder holds a finished one:
    a driver on a new machine, or on a scratch directory that was emptied, does not train shipped runs again."""
    store = _store(task, log_dir)
    run = store.current(task.cell)
    state, text = store.state(task.cell, int(task.cell['epochs']))
    if state not in ('finished', 'running'):
        results = paths.results_dir(task.ship_to)
        shipped = _store(task, results)
        if shipped.state(task.cell, int(task.cell['epochs']))[0] == 'finished':
            name = shipped.current(task.cell).path.name
            return 'shipped', f'shipped: Results/{task.ship_to}/{name} (not trained again)', None
    return state, text, (run.path if run is not None else None)


class Campaign:
    """Workers, one per core, taking the next cell that is neither finished nor taken."""

    def __init__(self, tasks, cores, log_dir, python, say=print, budget='paper'):
        self.tasks, self.cores, self.log_dir, self.python = tasks, cores, log_dir, python
        self.evaluate_epochs = BUDGETS[budget]['evaluate_epochs']
        self.say = say
        self.lock = threading.Lock()
        self.taken = set()
        self.children = {}
        self.stopping = False
        self.failed = []

    def _next(self):
        with self.lock:
            for n, task in enumerate(self.tasks):
                if n in self.taken or self.stopping:
                    continue
                state, _, folder = state_of(task, self.log_dir)
                if state in ('running', 'shipped'):
                    continue
                self.taken.add(n)
                if state == 'finished':
                    return task, folder, True
                return task, folder, False
        return None

    def _run(self, core, command, env=None):
        full = ['taskset', '-c', str(core), self.python] + command
        process = subprocess.Popen(full, cwd=paths.REPO_ROOT, env={**os.environ, 'IGR_LOG_DIR': str(self.log_dir),
                                                                    **(env or {})},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        with self.lock:
            self.children[core] = process
        _, err = process.communicate()
        with self.lock:
            self.children.pop(core, None)
        return process.returncode, (err or '').strip().splitlines()[-3:]

    def _after(self, core, task, folder):
        """Evaluate a finished run's kept checkpoints (VAE) and ship its records to its part's Results folder."""
        if folder is None or self.stopping:
            return
        chosen = [e for e in self.evaluate_epochs or () if e <= int(task.cell['epochs'])]
        milestones = task.evaluator == MILESTONES
        # a run whose milestone records hold every evaluation needs no process (one costs ~10 s of TF import)
        if task.evaluator and not (milestones and not missing_epochs(folder, chosen or None, task.evaluations)):
            options = ['--epochs', *map(str, chosen)] if chosen and milestones else []
            if milestones and task.evaluations != EVALUATIONS:
                options += ['--evaluations', *task.evaluations]
            code, err = self._run(core, [task.evaluator, '--run-dir', str(folder)] + options)
            if code == EXIT_LOCKED:  # another driver evaluates it, and ships it when done
                self.say(f'core {core}: {folder.name} is being evaluated by another process; left to it')
                return
            if code != 0:  # records incomplete (or the driver is stopping): shipped by a later driver
                if not self.stopping:
                    self.say(f'core {core}: {task.evaluator} on {folder.name} exited {code}: {" | ".join(err)}')
                    self.failed.append(task)
                return
        if self.stopping:
            return
        from Utils.ship_runs import ship
        with self.lock:
            shipped = ship(self.log_dir, paths.results_dir(task.ship_to), only=(folder.name,))
        for name in shipped:
            self.say(f'core {core}: shipped {name} to Results/{task.ship_to}')

    def worker(self, core):
        while not self.stopping:
            chosen = self._next()
            if chosen is None:
                return
            task, folder, finished = chosen
            if not finished:
                tic = time.time()
                self.say(f'core {core}: start {task.label}')
                code, err = self._run(core, [task.script] + task.args, task.env)
                self.say(f'core {core}: {task.label} exited {code} after {time.time() - tic:.0f} s')
                if code == EXIT_INTERRUPTED or self.stopping:
                    return
                if code in (EXIT_LOCKED, EXIT_LOCK_LOST):  # another process trains that cell
                    continue
                if code != 0:
                    self.say(f'core {core}: {" | ".join(err)}')
                    self.failed.append(task)
                    continue
                folder = state_of(task, self.log_dir)[2]
                if folder is None:  # e.g. its config.json has a hyper key this driver's code does not know yet
                    self.say(f'core {core}: {task.label} finished, but its run folder does not match the cell in '
                             f'this driver; restart the driver (it reads folders with the code it started with)')
                    self.failed.append(task)
                    continue
            self._after(core, task, folder)

    def stop(self, signum, _frame):
        self.say(f'campaign: {signal.Signals(signum).name}: stopping the runs at the end of their current step')
        with self.lock:
            self.stopping = True
            for process in self.children.values():
                process.send_signal(signal.SIGTERM)

    def run(self):
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        threads = [threading.Thread(target=self.worker, args=(core,)) for core in self.cores]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(1.)
        return EXIT_INTERRUPTED if self.stopping else (1 if self.failed else 0)


def _say(text):
    print(f'{time.strftime("%Y-%m-%d %H:%M:%S")} {text}', flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('parts', nargs='*', default=list(PARTS),
                        help=f'parts to run, in order (default: {PARTS}; also {", ".join(EXTRA_PARTS)})')
    parser.add_argument('--cores', type=int, nargs='+', default=[0], help='CPU cores, one run pinned to each')
    parser.add_argument('--models', default='', help='comma-separated model types to keep (default: all)')
    parser.add_argument('--plan', action='store_true', help='print the ordered cells and their state; run nothing')
    parser.add_argument('--budget', default='paper', choices=list(BUDGETS),
                        help='paper (Results/runs_paper, default) or evidence (the 10-epoch runs of Results/runs)')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='override a hyper value in every cell (as the grid scripts; not for real campaigns)')
    parser.add_argument('--smoke', action='store_true', help='smoke runs (a few dozen images): a check of the driver')
    parser.add_argument('--limit', type=int, default=None, help='only the first N cells of the plan')
    args = parser.parse_args(argv)
    models = tuple(m for m in args.models.split(',') if m)
    from Utils.runs.grid import GridError, _parse_set
    try:
        overrides = _parse_set(args.set)
    except GridError as err:
        parser.error(str(err))
    tasks = with_options(plan(args.parts, models, args.budget), overrides, args.smoke)[:args.limit]
    log_dir = paths.log_dir()
    if args.plan:
        for n, task in enumerate(tasks):
            print(f'{n:4d}  {task.label}: {state_of(task, log_dir)[1]}')
        return 0
    available = os.sched_getaffinity(0)
    bad = [core for core in args.cores if core not in available]
    if bad:
        raise SystemExit(f'campaign: bad --cores {bad}; valid cores are: {sorted(available)}')
    _say(f'campaign: {len(tasks)} cells, cores {args.cores}, log directory {log_dir}')
    code = Campaign(tasks, args.cores, log_dir, sys.executable, _say, args.budget).run()
    _say(f'campaign: done (exit {code})')
    return code


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(run_main(main))
