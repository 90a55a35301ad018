"""The speed benchmark's table (`bench_speed.py`): its header, the target ratios, the line of a train-step row against
its floor, the machine line, and the log that shows each section as soon as it is done."""
import os
import platform
import sys

import tensorflow as tf

from bench_floors import fmt_ratio, xla_name

HEADER = ('| section | case | XLA | median ms | rate | vs reference | target |',
          '|---|---|---|---:|---:|---:|---|')
TARGETS = {'discrete': 1.25, 'IGR_SB_Dis': 1.5, 'epoch': 1.3, 'epoch_own': 1.3, 'monitor': 1.3, 'sampler_IGR_I': 1.5,
           'straight_through': 1.1}
"""The largest ratio to its reference that each kind of row should reach (the table's target column)."""


def step_lines(rows, floor_name, target_of):
    lines = []
    floors = {r.jit: r for r in rows if r.name == floor_name}
    for row in rows:
        if row.error:
            lines.append(f'| {row.section} | {row.name} | {xla_name(row.jit)} | n/a | {row.error} | | |')
            continue
        floor = floors.get(row.jit)
        ratio = row.median_ms / floor.median_ms if floor and row is not floor and floor.times else None
        target = '' if row is floor else target_of(row.name)
        ok = '' if ratio is None or not target else (' (met)' if ratio <= float(target[2:-1]) else ' (missed)')
        lines.append(f'| {row.section} | {row.name} | {xla_name(row.jit)} | {row.median_ms:.2f} | '
                     f'{row.rate:,.0f} img/s | {fmt_ratio(ratio)} | {target}{ok} |')
    return lines


def machine_line(args):
    load = os.getloadavg() if hasattr(os, 'getloadavg') else (float('nan'),) * 3
    return (f'# {platform.node()} {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; '
            f'TF {tf.__version__}, Python {platform.python_version()}; steps {args.steps} (median), warm-up '
            f'{args.warmup}, rounds {args.rounds}, epoch steps {args.epoch_steps}')


class SectionLog(list):
    """The table's lines; each section's lines also go to stderr as soon as they are added (a full run takes most of
    an hour on 2 cores)."""

    def __iadd__(self, new_lines):
        print('\n'.join(new_lines), file=sys.stderr, flush=True)
        return super().__iadd__(new_lines)
