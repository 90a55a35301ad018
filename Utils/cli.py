"""One exit path for every script: the project's known errors end in one line on stderr and a documented exit code.

    if __name__ == '__main__':
        run_main(main)                 # or sys.exit(run_main(main)) when main returns an exit status

Exit codes (the same for every script; docs/hpc.md, "Exit codes"):

    0  done (a finished grid cell that was skipped included)
    1  an unexpected error: Python's traceback is kept, since it is a bug to report
    2  bad input: command line, hyper value (HyperError), grid, cell or preset (GridError), lock settings
    3  stopped by SIGTERM / SIGUSR1 / SIGINT after writing a checkpoint: run again to resume (Utils.runs.runstore)
    4  the cell is in use (trained or evaluated) by another live process (Utils.runs.runstore)
    5  this process lost its cell's lock to another process and stopped without writing (Utils.runs.runstore)
    6  a dataset is missing or damaged: the message says how to repair it (`make data`)

A known error is recognised by its class; the classes are looked up only in modules already imported, so this
module imports no project module (a script that never loaded the data cannot have raised a data error).
"""
import sys
from pathlib import Path

EXIT_USAGE = 2
"""Bad input: a command-line value, a hyper value, a grid cell or preset, a lock setting."""
EXIT_DATA = 6
"""A dataset is missing or damaged (MissingDataError, DataIntegrityError); the message names the repair."""

KNOWN_ERRORS = (
    ('Utils.load_data', 'MissingDataError', EXIT_DATA, 'data error'),
    ('Utils.load_data', 'DataIntegrityError', EXIT_DATA, 'data error'),
    ('Utils.runs.hyper_checks', 'HyperError', EXIT_USAGE, 'error'),
    ('Utils.runs.grid', 'GridError', EXIT_USAGE, 'error'),
    ('Utils.runs.runstore', 'LockSettingError', EXIT_USAGE, 'error'),
    ('Utils.runs.runstore', 'LockHeld', 4, 'locked'),
    ('Utils.runs.runstore', 'LockLost', 5, 'lock lost'),
    ('Utils.runs.stop_signals', 'Interrupted', 3, 'interrupted'),
)
"""(module, class, exit code, word shown before the message), most specific first. The codes 3-5 are the ones of
`Utils.runs.runstore` (EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_LOCK_LOST), restated here to keep this module import-free;
Tests/test_cluster_faults.py checks that they agree."""


def classify(error):
    """(exit code, word) of a known project error, or None for anything else."""
    for module_name, class_name, code, word in KNOWN_ERRORS:
        module = sys.modules.get(module_name)
        known = getattr(module, class_name, None) if module is not None else None
        if known is not None and isinstance(error, known):
            return code, word
    return None


def one_line(error):
    """The error's message on one line (a message never spreads over several lines of the log)."""
    return ' '.join(str(error).split())


def run_main(main, *args, **kwargs):
    """Call a script's `main`; a known error prints `<script>: <word>: <message>` on stderr and exits with its code.

    Unexpected errors propagate with their traceback. Returns what `main` returns.
    """
    try:
        return main(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - re-raised unless it is one of the project's known errors
        known = classify(error)
        if known is None:
            raise
        code, word = known
        print(f'{Path(sys.argv[0]).name}: {word}: {one_line(error)}', file=sys.stderr, flush=True)
        raise SystemExit(code) from None
