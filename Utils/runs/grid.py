"""Experiment grids: a deterministic list of cells and a small command line to run them.

A grid is the product model x dataset x temperature x seed.  Every cell is a plain ``dict``: the grid script's
base hyper dict with the cell's overrides applied (``model_type``, ``dataset_name``, ``temp``, ``seed`` and any
model- or dataset-dependent keys).  The order is fixed by the order in which the cases are given (model-major,
then dataset, temperature, seed), so a cell number means the same run every time the script is listed or
submitted, on any machine.

Command line of every grid script (``run_grid``)::

    python3 vae_experiments/discrete_grid.py --list      # numbered cells, then nothing is run
    python3 vae_experiments/discrete_grid.py --count     # the number of cells only
    python3 vae_experiments/discrete_grid.py --cell 7    # run cell 7 only
    SLURM_ARRAY_TASK_ID=7 python3 vae_experiments/discrete_grid.py   # same (Slurm job arrays)
    python3 vae_experiments/discrete_grid.py             # run every cell, one after the other
    python3 vae_experiments/discrete_grid.py --smoke --set epochs=1 --cell 0   # seconds-long check

Grids with a run store (``run_grid(..., store=RunStore(...))``, every grid script of this repository) also know
each cell's run folder (``Utils/runs/runstore.py``): a finished cell is skipped, an unfinished one resumed in its folder,
a cell locked by a live process left alone (exit code 4), a run stopped by SIGTERM / SIGUSR1 / SIGINT exits with
code 3 after writing its checkpoint, and one whose lock another process took over while it was suspended stops at
its next write without writing (exit code 5)::

    python3 vae_experiments/discrete_grid.py --status    # one line per cell, then the counts (no TensorFlow)
    python3 vae_experiments/discrete_grid.py --cell 7 --restart   # a new run folder even if one exists
    python3 vae_experiments/discrete_grid.py --cell 7 --set epochs=200   # extends a finished 100-epoch cell

``--cell`` wins over ``SLURM_ARRAY_TASK_ID``; ``--offset K`` (or ``IGR_CELL_OFFSET``) adds K to the array index, for
clusters whose ``MaxArraySize`` is smaller than the grid.  ``--smoke`` sets ``run_with_sample=True`` in the cell (when
the cell has that key) and passes ``smoke=True`` to ``run_cell`` when it accepts a ``smoke`` argument.
``--set key=value`` overrides a hyper value in every cell (the value is read as a Python literal, else kept
as a string).
"""
import argparse
import inspect
import itertools
import os
import sys
from collections.abc import Mapping

LABEL_KEYS = ('model_type', 'dataset_name', 'temp', 'seed')
"""Keys shown first when a cell is listed."""
LABEL_UNLESS_DEFAULT = {'softmax_delta': 1}
"""Keys shown after them when a cell sets them to another value than the default (an ablation's setting)."""

ARRAY_ENV = 'SLURM_ARRAY_TASK_ID'
OFFSET_ENV = 'IGR_CELL_OFFSET'


class GridError(ValueError):
    """A grid that cannot be enumerated, or a cell number outside the grid."""


def _cases(cases, key, what):
    """Normalise a list/dict of cases to a list of override dicts.

    Args:
        cases: a list of names (``['GS_Dis', 'IGR_I_Dis']``), a list of override dicts
            (``[{'model_type': 'GS_Dis'}, ...]``), or an ordered mapping name -> overrides
            (``{'IGR_SB_Dis': {'n_required': 49}}``; the name is stored under ``key``).
        key: hyper key that names a case ('model_type' or 'dataset_name').
        what: word used in error messages.
    Returns:
        list of dicts, each containing ``key``.
    """
    if isinstance(cases, (set, frozenset)):
        raise GridError(f'{what} cases must be ordered (a list or a dict), not a set')
    if isinstance(cases, str):
        cases = [cases]
    if isinstance(cases, Mapping):
        items = [{key: name, **dict(overrides or {})} for name, overrides in cases.items()]
    else:
        items = []
        for case in cases:
            if isinstance(case, str):
                items.append({key: case})
            elif isinstance(case, Mapping) and key in case:
                items.append(dict(case))
            else:
                raise GridError(f'each {what} case must be a name or a dict with {key!r}; got {case!r}')
    if not items:
        raise GridError(f'the grid has no {what} case')
    return items


def _values(values, default, what):
    """A list of grid values; ``None`` means the single ``default``; an int n for seeds means range(n)."""
    if values is None:
        return [default]
    if isinstance(values, (set, frozenset)):
        raise GridError(f'{what} values must be ordered (a list), not a set')
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return [values]
    values = list(values)
    if not values:
        raise GridError(f'the grid has no {what} value')
    return values


def enumerate_cells(base_hyper, model_cases, dataset_cases=None, temps=None, seeds=None):
    """All cells of a grid, in a fixed order (model, then dataset, then temperature, then seed).

    Args:
        base_hyper: dict, the script's editable hyper dict; every cell starts as a copy of it.
        model_cases: model names, override dicts with 'model_type', or an ordered dict name -> overrides
            (model-dependent keys such as ``n_required``, ``prior_file``, ``threshold``).
        dataset_cases: same for 'dataset_name' (dataset-dependent keys such as ``architecture``);
            None = the base hyper's dataset.
        temps: list of temperatures, or a dict model_type -> list (per-model grids); None = base ``temp``.
        seeds: list of seeds, or an int n for seeds 0..n-1; None = ``range(num_of_repetitions)``
            (1 when the base hyper has no such key).
    Returns:
        list of dicts (full hyper dicts), len = models x datasets x temps x seeds.
    Raises:
        GridError: empty or unordered cases, or two identical cells.
    """
    base = dict(base_hyper or {})
    models = _cases(model_cases, 'model_type', 'model')
    if dataset_cases is None:
        dataset_cases = [base.get('dataset_name', 'mnist')]
    datasets = _cases(dataset_cases, 'dataset_name', 'dataset')
    if seeds is None:
        seeds = range(int(base.get('num_of_repetitions', 1)))
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = range(seeds)
    seeds = _values(seeds, base.get('seed', 0), 'seed')

    cells, seen = [], set()
    for model in models:
        model_temps = temps.get(model['model_type']) if isinstance(temps, Mapping) else temps
        model_temps = _values(model_temps, base.get('temp'), 'temperature')
        for dataset, temp, seed in itertools.product(datasets, model_temps, seeds):
            cell = {**base, **dataset, **model, 'temp': temp, 'seed': seed}
            ident = cell_label(cell)
            if ident in seen:
                raise GridError(f'duplicate cell: {ident}')
            seen.add(ident)
            cells.append(cell)
    return cells


def cell_label(cell, keys=LABEL_KEYS):
    """Short text naming a cell, e.g. 'model_type=GS_Dis dataset_name=mnist temp=0.5 seed=0'."""
    shown = [k for k in keys if k in cell]
    shown += [k for k, default in LABEL_UNLESS_DEFAULT.items() if k in cell and cell[k] != default]
    return ' '.join(f'{k}={cell[k]}' for k in shown)


def select_cell(cells, index):
    """``cells[index]`` with a clear error (the valid range) when ``index`` is outside the grid."""
    n = len(cells)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
        valid = f'0..{n - 1}' if n else 'none (the grid is empty)'
        raise GridError(f'cell {index} is out of range: this grid has {n} cells, valid cell numbers are {valid}')
    return cells[index]


def parse_value(text):
    """Read a ``--set`` value as a Python literal (1, 0.5, True, [0, 5, 25000], None), else keep the string."""
    import ast
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_set(items):
    overrides = {}
    for item in items or []:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise GridError(f'--set expects key=value, got {item!r}')
        overrides[key.strip()] = parse_value(value.strip())
    return overrides


def build_parser(description=None):
    """The argparse parser shared by all grid scripts."""
    parser = argparse.ArgumentParser(description=description)
    what = parser.add_mutually_exclusive_group()
    what.add_argument('--list', action='store_true', help='print the numbered cells and exit')
    what.add_argument('--count', action='store_true', help='print the number of cells and exit')
    what.add_argument('--cell', type=int, default=None,
                      help=f'run only cell N (default: ${ARRAY_ENV} when set, else every cell)')
    parser.add_argument('--offset', type=int, default=None,
                        help=f'added to the cell number taken from ${ARRAY_ENV} (default: ${OFFSET_ENV} or 0)')
    parser.add_argument('--smoke', action='store_true',
                        help='smoke mode: run_with_sample=True (a few dozen images, finishes in seconds)')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='override a hyper value in every cell (repeatable), e.g. --set epochs=1')
    parser.add_argument('--status', action='store_true',
                      help='one line per cell (not started / running / interrupted / finished / failed), then counts')
    parser.add_argument('--restart', action='store_true',
                        help='train the chosen cells in new run folders even when a run of them exists')
    return parser


def _wants_smoke(run_cell):
    try:
        params = inspect.signature(run_cell).parameters
    except (TypeError, ValueError):
        return False
    return 'smoke' in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def resolve_cell_index(args, environ=None):
    """Which cell to run: ``--cell``, else ``SLURM_ARRAY_TASK_ID`` + offset, else None (= all cells)."""
    environ = os.environ if environ is None else environ
    if args.cell is not None:
        return args.cell
    task = environ.get(ARRAY_ENV, '').strip()
    if not task:
        return None
    offset = args.offset if args.offset is not None else int(environ.get(OFFSET_ENV, '0') or 0)
    try:
        return int(task) + offset
    except ValueError:
        raise GridError(f'{ARRAY_ENV}={task!r} is not an integer') from None


def _final_cell(cell, overrides, smoke):
    cell = {**cell, **overrides}
    if smoke and 'run_with_sample' in cell:
        cell['run_with_sample'] = True
    return cell


def print_status(store, cells, out, chosen=None):
    """`--status`: one line per cell and the count of each state; returns the counts."""
    from Utils.runs.runstore import STATES
    counts = dict.fromkeys(STATES, 0)
    for i, cell in (chosen if chosen is not None else enumerate(cells)):
        state, text = store.state(cell, int(cell.get('epochs', 0)))
        counts[state] += 1
        print(f'{i:5d}  {cell_label(cell)}: {text}', file=out)
    print(', '.join(f'{n} {state}' for state, n in counts.items() if n) + f' ({len(cells)} cells)', file=out)
    return counts


def _run_stored(store, i, cell, call, restart, out):
    """Skip, resume or start one cell's run under its lock; returns (outcome, result)."""
    from Utils.runs import runstore
    from Utils.runs.stop_signals import Interrupted
    say = lambda text: print(text, file=out, flush=True)  # noqa: E731
    epochs = int(cell.get('epochs', 0))
    run = None if restart else store.current(cell)
    if run is not None and run.finished and run.epochs_done >= epochs:
        say(f'[cell {i}] {store.state(cell, epochs)[1]}: skipped')
        return 'skipped', _stored_final(run.path)
    # no run: the cell's folder, new, or left without config.json by a run that died before writing it (the lock
    # tells such a folder from one whose creator is starting in it now)
    folder = run.path if run is not None else store.new_folder(cell, restart)
    lock = runstore.RunLock(folder, say=say)
    try:
        lock.acquire()
    except runstore.LockHeld as err:
        say(f'[cell {i}] {err}')
        return 'locked', None
    try:
        status = _read_status(folder)
        if status.get('finished') and int(status.get('epochs_done', 0)) >= epochs:
            say(f'[cell {i}] finished meanwhile in {folder.name}: skipped')
            return 'skipped', _stored_final(folder)
        verb = 'resuming' if (folder / 'config.json').exists() else 'new run'
        say(f'[cell {i}] {verb} in {folder}')
        try:
            return 'trained', call(cell, folder)
        except Interrupted as err:
            say(f'[cell {i}] {err}')
            return 'interrupted', None
        except runstore.LockLost as err:  # another process trains the cell now: write nothing, not even the error
            say(f'[cell {i}] {err}')
            return 'lock lost', None
        except Exception as err:
            if lock.holds():
                _record_error(folder, err)
            raise
    finally:
        lock.release()


def _read_status(folder):
    from Utils.runs.runstore import read_json_or_none
    return read_json_or_none(folder / 'status.json') or {}


def _stored_final(folder):
    from Utils.runs.runstore import read_json_or_none
    return {**(read_json_or_none(folder / 'final_metrics.json') or {}), 'run_dir': str(folder)}


def _record_error(folder, err):
    """A run that raised keeps the error in its status.json (`--status` shows it; a re-run retries), naming its
    folder by name only (records stay valid wherever the folder is moved)."""
    from Utils.runs.folders import write_json
    from Utils.relocate_records import relocate_text
    status = _read_status(folder)
    if not status.get('error'):
        message = relocate_text(f'{type(err).__name__}: {err}', folder.name)
        write_json(folder / 'status.json', {**status, 'error': message})


def run_grid(cells, run_cell, argv=None, description=None, out=None, environ=None, store=None):
    """Command line of a grid script: list, count, run one cell or run all cells.

    Args:
        cells: list of cell dicts (``enumerate_cells``).
        run_cell: ``run_cell(cell)`` or ``run_cell(cell, smoke=False)``; runs one cell, returns anything
            (e.g. the final metrics dict).
        argv: arguments (default ``sys.argv[1:]``).
        description: text for ``--help``.
        out: stream for listings (default stdout).
        environ: environment mapping (default ``os.environ``), read for SLURM_ARRAY_TASK_ID / IGR_CELL_OFFSET.
        store: a ``Utils.runs.runstore.RunStore`` of the grid's experiment: cells know their run folder (skip / resume /
            lock, ``--status``, ``--restart``); ``run_cell`` then also takes ``run_dir``. None: every run is new.
    Returns:
        None for --list/--count/--status; the list of ``run_cell`` results otherwise (one item with --cell).
    Raises:
        SystemExit(2) with a message giving the valid range when the cell number is outside the grid;
        SystemExit(3) when a run was interrupted by a signal (its checkpoint is written);
        SystemExit(4) when the one chosen cell is being trained by another process;
        SystemExit(5) when a run lost its lock to another process while it ran (it stopped without writing);
        Utils.runs.runstore.LockSettingError for a bad $IGR_LOCK_STALE_SECONDS / $IGR_LOCK_REFRESH_SECONDS.
    """
    out = sys.stdout if out is None else out
    parser = build_parser(description)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        overrides = _parse_set(args.set)
        index = resolve_cell_index(args, environ)
        if index is not None:
            select_cell(cells, index)
    except GridError as err:
        parser.error(str(err))

    if args.count:
        print(len(cells), file=out)
        return None
    if args.list:
        print(f'{len(cells)} cells', file=out)
        for i, cell in enumerate(cells):
            print(f'{i:5d}  {cell_label(cell)}', file=out)
        return None

    chosen = list(enumerate(cells)) if index is None else [(index, cells[index])]
    pass_smoke = _wants_smoke(run_cell)
    if args.smoke and not pass_smoke and not any('run_with_sample' in cell for _, cell in chosen):
        parser.error('this grid has no smoke mode (run_cell takes no smoke argument, cells have no run_with_sample)')
    if (args.status or args.restart) and store is None:
        parser.error('--status and --restart need a grid with run folders (run_grid(..., store=...))')
    final_cells = [(i, _final_cell(cell, overrides, args.smoke)) for i, cell in chosen]
    if store is not None:  # a bad lock setting fails at once, before a folder is read or written
        from Utils.runs.runstore import lock_timing
        lock_timing()
    if args.status:
        print_status(store, [_final_cell(c, overrides, args.smoke) for c in cells], out, final_cells)
        return None

    def call(cell, run_dir=None):
        if store is not None:  # TensorFlow without its CUDA-probe error line, and only for a cell that trains
            from Utils.tf_quiet import import_tensorflow
            import_tensorflow()
        kwargs = {'smoke': args.smoke} if pass_smoke else {}
        return run_cell(cell, run_dir=run_dir, **kwargs) if run_dir is not None else run_cell(cell, **kwargs)

    print(f'{len(cells)} cells; running {"all" if index is None else f"cell {index}"}', file=out, flush=True)
    if store is not None:  # the project's grids: a stop signal that comes while TensorFlow starts is kept
        from Utils.runs.stop_signals import stop_early_on_signals
        stop_early_on_signals()
    results, outcomes = [], []
    for i, cell in final_cells:
        print(f'[cell {i}/{len(cells) - 1}] {cell_label(cell)}', file=out, flush=True)
        if store is None:
            results.append(call(cell))
            continue
        outcome, result = _run_stored(store, i, cell, call, args.restart, out)
        outcomes.append(outcome)
        if outcome in ('interrupted', 'lock lost'):
            raise SystemExit(_exit_code(outcome))
        if result is not None:
            results.append(result)
    if index is not None and outcomes == ['locked']:
        raise SystemExit(_exit_code('locked'))
    return results


def _exit_code(outcome):
    from Utils.runs.runstore import EXIT_INTERRUPTED, EXIT_LOCK_LOST, EXIT_LOCKED
    return {'interrupted': EXIT_INTERRUPTED, 'locked': EXIT_LOCKED, 'lock lost': EXIT_LOCK_LOST}[outcome]
