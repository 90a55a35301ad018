"""Make run records relocatable: absolute paths of a run folder become the folder's name.

    python3 -m Utils.relocate_records Results/runs*            # rewrite the shipped records in place
    python3 -m Utils.relocate_records --check Results/runs*    # list the records that still name absolute paths

Records written before runs named their folder by its name only held the absolute path of the machine that made
them (train.log's header `run folder /root/igr_evidence/<run>`, final_metrics.json's `run_dir`). Every absolute path
whose last component is the run folder's name (or that continues inside the folder) is rewritten to start at that
name; nothing else in a record changes (numbers, formatting and line order stay byte for byte), so the tables and
figures regenerate exactly as before. `Utils/ship_runs.py` applies the same rewriting when it copies records.
"""
import argparse
import re
import sys
from pathlib import Path

from Utils.runs.folders import write_bytes

ABSOLUTE_PATH = re.compile(r'(?<![\w./~-])/(?:[\w.~+-]+/)*[\w.~+-]+')
"""An absolute POSIX path in a record's text (a slash not preceded by a name character, then its components)."""


def relocate_text(text, folder_name):
    """`text` with each absolute path that ends in, or runs through, `/<folder_name>` cut to start at that name."""
    marker = '/' + folder_name

    def cut(match):
        path = match.group(0)
        at = path.rfind(marker + '/')
        at = at if at >= 0 else (len(path) - len(marker) if path.endswith(marker) else -1)
        return path[at + 1:] if at >= 0 else path
    return ABSOLUTE_PATH.sub(cut, text)


def absolute_paths(text):
    """The absolute paths a record's text names (for checks: a shipped record should name none)."""
    return ABSOLUTE_PATH.findall(text)


def relocated_bytes(path, folder_name):
    """A record file's content with its run folder's absolute paths cut to the folder's name (bytes)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        return raw  # not a text record: left as it is
    return relocate_text(text, folder_name).encode('utf-8')


def record_files(runs_dir):
    """(run folder, record file) of every file in the run folders directly under `runs_dir`."""
    folders = sorted(p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith('.'))
    return [(folder, f) for folder in folders for f in sorted(folder.iterdir()) if f.is_file()]


def relocate(runs_dir):
    """Rewrite, in place, the records under `runs_dir` that name their folder by an absolute path; returns them."""
    changed = []
    for folder, path in record_files(runs_dir):
        new = relocated_bytes(path, folder.name)
        if new != path.read_bytes():
            write_bytes(path, new)  # atomic: an interrupted rewrite leaves the old record or the new one
            changed.append(path)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs_dirs', nargs='+', help='folders holding run folders, e.g. Results/runs*')
    parser.add_argument('--check', action='store_true', help='only list records naming absolute paths; exit 1 if any')
    args = parser.parse_args(argv)
    missing = [d for d in args.runs_dirs if not Path(d).is_dir()]
    if missing:
        parser.error(f'not a folder: {", ".join(missing)}')
    if args.check:
        named = [(path, absolute_paths(path.read_text(errors='replace')))
                 for runs_dir in args.runs_dirs for _, path in record_files(runs_dir)]
        named = [(path, found) for path, found in named if found]
        for path, found in named:
            print(f'{path}: {", ".join(sorted(set(found)))}')
        print(f'{len(named)} record(s) name absolute paths')
        return 1 if named else 0
    changed = [path for runs_dir in args.runs_dirs for path in relocate(runs_dir)]
    print(f'{len(changed)} record(s) rewritten' + ''.join(f'\n  {path}' for path in changed))
    return 0


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(run_main(main))
