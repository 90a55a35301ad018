"""What a run writes as it goes: metrics.csv rows, the readable train.log, the progress bar."""
import csv
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

from Utils.runs.folders import no_fence, read_status, whole_row, write_csv, write_json


class CsvLog:
    """An append-only CSV file keyed by epoch; `truncate_after(e)` drops rows of epochs > e (used on resume).

    The header is written atomically and every row with one `write` on an O_APPEND descriptor, so a kill leaves
    whole rows; a torn last row (a kill inside that write) is dropped by `truncate_after` and by `read_metrics`.
    `fence()` is called before each write (a grid run's lock check; see `Utils.runs.runstore.RunLock.fence`).
    """

    def __init__(self, path, columns, fence=None):
        self.path, self.columns = Path(path), list(columns)
        self.fence = fence or no_fence
        if not self.path.exists():
            write_csv(self.path, [self.columns], self.fence)

    def append(self, row):
        buffer = io.StringIO()
        csv.writer(buffer).writerow([_csv_value(row[c]) for c in self.columns])
        self.fence()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, buffer.getvalue().encode())
        finally:
            os.close(fd)

    def truncate_after(self, epoch):
        with open(self.path, newline='') as handle:
            rows = list(csv.reader(handle))
        width = len(rows[0])
        kept = [rows[0]] + [r for r in rows[1:] if whole_row(r, width) and int(float(r[0])) <= epoch]
        write_csv(self.path, kept, self.fence)



def _csv_value(value):
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value


def format_log_line(epoch, metrics, seconds, iteration, integer_keys=('N',)):
    """The original log line: `Epoch    1 || TeELBO -98.765 || ... || N 10 || TrL 99.1 || 12.3 sec || i: 937 ||`."""
    parts = [f'Epoch {epoch:4d}']
    for key, value in metrics.items():
        parts.append(f'{key} {int(value)}' if key in integer_keys else f'{key} {float(value):.4f}')
    parts.append(f'{seconds:.1f} sec')
    parts.append(f'i: {int(iteration)}')
    return ' || '.join(parts) + ' ||'


class RunLog:
    """metrics.csv + train.log + status.json (+ final_metrics.json, TensorBoard) of one run folder.

    `fence`: called before every write into the folder (a grid run's lock check, `Utils.runs.runstore.RunLock.fence`:
    it raises when another process took the run over); None for a run without a lock. The experiment's other
    writers in the folder (checkpoints, images, log-likelihoods) call the same `log.fence`.
    """

    def __init__(self, run_dir, metric_columns, echo=True, fence=None):
        self.run_dir = Path(run_dir)
        self.fence = fence or no_fence
        self.metrics = CsvLog(self.run_dir / 'metrics.csv', ['epoch'] + list(metric_columns) + ['seconds'],
                              fence=self.fence)
        self.echo = echo
        self._writer = None

    def line(self, text):
        """Append a line to train.log (and print it)."""
        self.fence()
        with open(self.run_dir / 'train.log', 'a') as handle:
            handle.write(text + '\n')
        if self.echo:
            print(text, flush=True)

    def session(self, first_epoch):
        """Record the machine of the training session that starts at `first_epoch` (`Utils.runs.machine`: the run's
        machine.json) and name it in train.log."""
        from Utils.runs.machine import record_session, summary
        self.line(summary(record_session(self.run_dir, first_epoch, self.fence)))

    def log_epoch(self, epoch, metrics, seconds, iteration, integer_keys=('N',), shown=None):
        """metrics.csv gets every metric; the train.log line only the `shown` ones (default all)."""
        self.metrics.append({'epoch': epoch, **metrics, 'seconds': seconds})
        visible = metrics if shown is None else {k: v for k, v in metrics.items() if k in shown}
        self.line(format_log_line(epoch, visible, seconds, iteration, integer_keys))
        self.scalars(epoch, metrics)

    def scalars(self, step, values, prefix=''):
        import tensorflow as tf
        self.fence()
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.run_dir / 'tb'))
        with self._writer.as_default():
            for key, value in values.items():
                tf.summary.scalar(prefix + key, float(value), step=int(step))
        self._writer.flush()

    def images(self, step, name, images):
        """images: float array (n, H, W, C) in [0, 1]."""
        import tensorflow as tf
        self.fence()
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.run_dir / 'tb'))
        with self._writer.as_default():
            tf.summary.image(name, images, step=int(step), max_outputs=len(images))
        self._writer.flush()

    def status(self, **fields):
        """Update status.json; a field given as None is removed."""
        current = read_status(self.run_dir)
        current.update(fields)
        current = {k: v for k, v in current.items() if v is not None}
        write_json(self.run_dir / 'status.json', current, self.fence)

    def finish(self, final_metrics):
        """final_metrics.json and status.json finished. A `run_dir` in the metrics is recorded as the folder's name
        (records stay valid wherever the folder is moved; the caller keeps its absolute path)."""
        record = {**final_metrics, 'run_dir': self.run_dir.name} if 'run_dir' in final_metrics else final_metrics
        write_json(self.run_dir / 'final_metrics.json', record, self.fence)
        self.status(finished=True)

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most every `interval` seconds (silent when not a terminal).

    `update(step)` costs a clock read; it never reads tensors, so it does not synchronise with the device.
    """

    def __init__(self, total, label='', width=30, interval=0.25, stream=None, enabled=None):
        self.total, self.label, self.width, self.interval = max(int(total), 1), label, width, interval
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = self._last = time.perf_counter()
        self._drawn = False

    def update(self, step, suffix=''):
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < self.interval and step < self.total:
            return
        self._last = now
        done = int(self.width * min(step, self.total) / self.total)
        rate = step / max(now - self.start, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else 0.
        bar = '=' * done + ('>' if done < self.width else '') + '.' * max(self.width - done - 1, 0)
        self.stream.write(f'\r{self.label} {step}/{self.total} [{bar}] {rate:.0f} it/s eta {eta:.0f}s {suffix}')
        self.stream.flush()
        self._drawn = True

    def close(self):
        if self.enabled and self._drawn:
            self.stream.write('\r' + ' ' * (len(self.label) + self.width + 60) + '\r')
            self.stream.flush()
