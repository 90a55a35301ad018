"""Starting a run or taking up an interrupted one, the same for every experiment (VAE, SOP).

    h, resume_dir = hyper_to_run(hyper, run_with_sample, resume_dir, run_dir, rules)
    start_epoch, start_step = take_up(model, checkpoints, steps, log, *other_csv_logs)   # when resume_dir is set

A run folder that already holds config.json is resumed with the hyper it was made with: a new hyper may only differ
in `rules.may_change` (`epochs` may grow, to extend a finished run; the others, which do not change the numbers of
the run, take the new value).
"""
import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from Utils.runs import folders, hyper_checks
from Utils.runs.training_loop import resume_point


@dataclass(frozen=True)
class ResumeRules:
    """How an experiment's hyper dicts are completed and which keys a resume may change."""
    caller: str             # named in the error of a call with neither a hyper nor a run to resume
    validate: Callable      # validate(hyper, run_with_sample=None) -> the completed, checked hyper
    valid_keys: tuple       # keys compared between the saved and the new hyper
    may_change: tuple       # keys the new hyper may change ('epochs' first: it only grows)
    derived: tuple = ()     # keys computed from the others, not compared
    saved: Callable = dict  # a saved config.json hyper -> a hyper `validate` accepts (older folders' defaults)


def hyper_to_run(hyper, run_with_sample, resume_dir, run_dir, rules):
    """(the hyper to run with, the folder to resume or None).

    `run_dir` holding a config.json is resumed as `resume_dir`. A resumed run keeps its saved hyper, except the keys
    of `rules.may_change` (epochs: the larger of the two); any other difference raises HyperError."""
    if run_dir is not None and (Path(run_dir) / 'config.json').exists():
        resume_dir = run_dir
    if resume_dir is None:
        if hyper is None:
            raise hyper_checks.HyperError(f'{rules.caller} needs a hyper dict (or resume_dir)')
        return rules.validate(hyper, run_with_sample), None
    h = rules.validate(rules.saved(folders.read_config(resume_dir)['hyper']))
    if hyper is None:
        return h, resume_dir
    wanted = rules.validate(hyper, run_with_sample)
    differ = sorted(k for k in rules.valid_keys if k not in rules.may_change + rules.derived
                    and hyper_checks.jsonable(wanted[k]) != hyper_checks.jsonable(h[k]))
    if differ:
        raise hyper_checks.HyperError(f'cannot resume {resume_dir} with a different hyper: {differ} differ '
                                      f'(only {", ".join(rules.may_change)} may change)')
    for key in rules.may_change:
        h[key] = max(h[key], wanted[key]) if key == 'epochs' else wanted[key]
    return h, resume_dir


def take_up(model, checkpoints, steps, log, *csv_logs):
    """Restore the newest complete checkpoint, drop the epochs logged after it (metrics.csv and `csv_logs`, e.g.
    gradients.csv) and say in train.log where training takes up; returns (epochs completed, steps done in the next
    epoch)."""
    start_epoch, start_step, source = resume_point(model, checkpoints, steps, log)
    for csv_log in (log.metrics, *csv_logs):
        csv_log.truncate_after(start_epoch)
    point = f'epoch {start_epoch + 1}, step {start_step}' if start_step else f'the end of epoch {start_epoch}'
    log.line(f'# resumed at {point} ({source or "no"} checkpoint) on '
             f'{datetime.datetime.now().isoformat(timespec="seconds")}')
    return start_epoch, start_step
