"""What a VAE run's milestone evaluations have recorded, read without TensorFlow.

`vae_experiments/milestones.py` computes, at each kept checkpoint, whatever these records still lack; the campaign
(`vae_experiments/campaign.py`) asks `missing_epochs` first and starts no evaluation process for a run that lacks
nothing (a process that only imports TensorFlow to find that out costs about 10 s per run).

    missing(run_dir, epoch)          -> the evaluations still to compute at `epoch`: a tuple of EVALUATIONS
    missing_epochs(run_dir, epochs)  -> {epoch: missing(...)} for the epochs that lack something
Both take `evaluations`, a subset of EVALUATIONS, to ask about those only (a Fashion-MNIST run is evaluated for
its log-likelihoods and ELBO parts).
"""
import csv
from pathlib import Path

from Utils.results.results_io import ELBO_PARTS_FILE, GRADIENT_FILE, VERTEX_FILE, has_log_likelihood
from Utils.runs import folders

LL_SAMPLES = 100
LL_FROM_EPOCH = 10
VERTEX_SAMPLES = 100
RADIUS = 0.2
EVALUATIONS = ('log_likelihood', 'vertex', 'gradient', 'elbo_parts')


def read_epoch_record(run_dir, name, **header):
    """A record {..., 'epochs': {epoch: ...}} of the run (`name`: its file), or an empty one with `header`."""
    path = Path(run_dir) / name
    return folders.read_json(path) if path.is_file() else {**header, 'epochs': {}}


def read_vertex_record(run_dir):
    """`vertex_distance.json` of a run, or an empty record of the same form."""
    return read_epoch_record(run_dir, VERTEX_FILE, samples=VERTEX_SAMPLES, radius=RADIUS,
                             histogram_edges=[0., 1.5, 300])


def gradient_epochs(run_dir):
    """Epochs with rows in the run's `gradient_variance.csv`."""
    path = Path(run_dir) / GRADIENT_FILE
    if not path.is_file():
        return set()
    with open(path, newline='') as handle:
        return {int(row['epoch']) for row in csv.DictReader(handle)}


def check_evaluations(evaluations):
    """`evaluations` as a tuple in EVALUATIONS' order; an unknown name is a one-line error."""
    unknown = sorted(set(evaluations) - set(EVALUATIONS))
    if unknown or not evaluations:
        raise ValueError(f'unknown milestone evaluation(s) {unknown or list(evaluations)}; '
                         f'valid ones are: {", ".join(EVALUATIONS)}')
    return tuple(name for name in EVALUATIONS if name in evaluations)


def missing(run_dir, epoch, evaluations=EVALUATIONS):
    """The evaluations of `evaluations` (default EVALUATIONS) not yet recorded at `epoch` (the log-likelihoods from
    LL_FROM_EPOCH on)."""
    evaluations, epoch = check_evaluations(evaluations), int(epoch)
    lacking = {'log_likelihood': lambda: epoch >= LL_FROM_EPOCH and not has_log_likelihood(run_dir, LL_SAMPLES, epoch),
               'vertex': lambda: str(epoch) not in read_vertex_record(run_dir)['epochs'],
               'gradient': lambda: epoch not in gradient_epochs(run_dir),
               'elbo_parts': lambda: str(epoch) not in read_epoch_record(run_dir, ELBO_PARTS_FILE)['epochs']}
    return tuple(name for name in evaluations if lacking[name]())  # only the records asked about are read


def missing_epochs(run_dir, epochs=None, evaluations=EVALUATIONS):
    """{epoch: missing evaluations} over `epochs` (default: the run's milestone checkpoints), lacking ones only."""
    from Utils.runs.checkpointing import milestone_epochs
    chosen = milestone_epochs(run_dir) if epochs is None else epochs
    return {int(e): m for e in chosen if (m := missing(run_dir, e, evaluations))}
