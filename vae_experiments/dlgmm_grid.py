"""Deep latent Gaussian mixture grid: IGR's Gaussian sticks against Kumaraswamy sticks (the nonparametric experiment).

What it runs
    The DLGMM of Models/dlgmm.py (Nalisnick, Hertel and Smyth 2016): per-image stick-breaking weights over at most 20
    components, a 50-dimensional Gaussian latent per component with prior N(m_k, I), Bernoulli decoder, `dlgmm_dense`
    networks, trained on a lower bound of log p(x) with stick-the-landing.  Four model types, sticks x truncation:
      DLGMM_Kumaraswamy      Kumaraswamy sticks, 20 components          (the original's `DLGMM`)
      DLGMM_Kumaraswamy_SB   the same, threshold truncation             (`DLGMM_Var`)
      DLGMM_IGR              logit-normal (IGR) sticks, 20 components   (`DLGMM_IGR`)
      DLGMM_IGR_SB           the same, threshold truncation             (`DLGMM_IGR_SB`)
    The truncation keeps, per batch, the 75th percentile over draws of the components needed to pass 0.9999 of the
    stick.  Each run writes TeELBO, N (truncation level), Kused, NMI and ACC (clustering of the test labels by the
    most probable component) to metrics.csv every `check_every` epochs, and TeLL at `log_likelihood_samples` to
    log_likelihood.json at the end (`vae_experiments/log_likelihood.py --samples 100 1000` adds other S).

Settings
    Edit BASE_HYPER, MODEL_CASES, DATASET_CASES, SEEDS, EVIDENCE_EPOCHS below, or pick a preset (`--preset`):
      paper     the original's settings: 300 epochs, seeds [5328, 5945, 8965, 49, 9337], MNIST and Omniglot (40 runs)
      evidence  MNIST, the four types, 3 seeds, EVIDENCE_EPOCHS epochs each (12 runs)
      smoke     a tiny model (5 components of 4 dimensions), 2 epochs, for checks with `--smoke`

Usage (from the repository root)
    python3 vae_experiments/dlgmm_grid.py --list                    # numbered cells of the default preset (paper)
    python3 vae_experiments/dlgmm_grid.py --preset evidence --cell 3   # one cell (or SLURM_ARRAY_TASK_ID=3)
    python3 vae_experiments/dlgmm_grid.py --preset evidence --status   # what each cell's run folder holds
    python3 vae_experiments/dlgmm_grid.py --preset smoke --smoke --cell 0   # seconds-long check

Expected run time (one core pinned, one intra-op thread): a training epoch of MNIST takes ~20 s (DLGMM_IGR, seed
    5328: 22.2 s and 20.3 s for epochs 1 and 2, `--preset evidence --cell 6 --set epochs=2`, the other core running
    one campaign run) and 33-45 s while the other core is fully busy; so a 300-epoch run takes ~1.7-3.7 h: run the
    paper preset as a cluster job array. TeLL at S = 100 takes ~4 min per run (237 s,
    `vae_experiments/log_likelihood.py --samples 100`; S = 1000: ten times that).
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from Utils.runs.grid import GridError, enumerate_cells, run_grid  # noqa: E402
from vae_experiments.discrete_grid import parse_preset, run_cell, run_store  # noqa: E402

# ---------------------------------------------------------------------------------------------------------------------
# Editable settings
# ---------------------------------------------------------------------------------------------------------------------
BASE_HYPER = {
    'dataset_name': 'mnist', 'architecture': 'dlgmm_dense', 'model_type': 'DLGMM_IGR', 'temp': 1.0,
    'sample_size': 1, 'n_required': 20, 'latent_norm_n': 50,
    'learning_rate': 3e-4, 'batch_n': 100, 'epochs': 300, 'check_every': 10, 'save_every': 10,
    'threshold': 0.9999, 'truncation_option': 'quantile',
    'run_with_sample': False, 'seed': 0, 'log_likelihood_samples': 100,
}
"""The original's settings (seed 002, vae_experiments/dlgmm.py of the later code): at most 20 components
(`n_required`), 50 dimensions each (`latent_norm_n`), Adam 3e-4, batch 100, 300 epochs, one sample per image.
The temperature is not used by the mixture (kept at the original's 1.0)."""

MODEL_CASES = {
    'DLGMM_Kumaraswamy': {},
    'DLGMM_Kumaraswamy_SB': {},
    'DLGMM_IGR': {},
    'DLGMM_IGR_SB': {},
}
"""Model-dependent keys (none: the stick distribution and the truncation come from the model type,
Models/vae_hyper.MIXTURE_TYPES)."""

DATASET_CASES = {'mnist': {}, 'omniglot': {}}
SEEDS = [5328, 5945, 8965, 49, 9337]
"""The original's seeds."""

EVIDENCE_EPOCHS = 30
"""Epoch budget of the evidence preset, the same for every model type: a tenth of the original's 300 epochs, as the
10-epoch VAE evidence is a tenth of the paper's 100 (an epoch takes ~20 s on one pinned core, so a run with its TeLL at
S = 100 and its mixture records takes ~15 min and the 12 runs ~3 h of one core)."""

PRESETS = {
    'paper': {'models': list(MODEL_CASES), 'datasets': ['mnist', 'omniglot'], 'seeds': SEEDS,
              'hyper': {'epochs': 300, 'log_likelihood_samples': 100, 'intra_op_threads': 1}},
    'evidence': {'models': list(MODEL_CASES), 'datasets': ['mnist'], 'seeds': SEEDS[:3],
                 'hyper': {'epochs': EVIDENCE_EPOCHS, 'check_every': 1, 'log_likelihood_samples': 100,
                           'keep_checkpoints': 2, 'intra_op_threads': 1}},
    'smoke': {'models': list(MODEL_CASES), 'datasets': ['mnist'], 'seeds': SEEDS[:1],
              'hyper': {'epochs': 2, 'check_every': 1, 'n_required': 5, 'latent_norm_n': 4,
                        'learning_rate': 1e-3, 'log_likelihood_samples': 10}},
}
"""Named grids: models, datasets, seeds and extra hyper values (intra_op_threads, log_likelihood_samples and
keep_checkpoints do not enter the run key)."""
DEFAULT_PRESET = 'paper'


# ---------------------------------------------------------------------------------------------------------------------
def grid_cells(preset=DEFAULT_PRESET, base_hyper=None):
    """The cells (full hyper dicts) of a preset, in the fixed grid order (model, dataset, seed)."""
    if preset not in PRESETS:
        raise GridError(f'unknown preset {preset!r}; valid choices are: {", ".join(PRESETS)}')
    spec = PRESETS[preset]
    base = {**(BASE_HYPER if base_hyper is None else base_hyper), **spec['hyper']}
    models = {m: MODEL_CASES[m] for m in spec['models']}
    datasets = {d: DATASET_CASES[d] for d in spec['datasets']}
    return enumerate_cells(base, models, datasets, None, spec['seeds'])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    preset, rest = parse_preset(argv, PRESETS, DEFAULT_PRESET, __doc__.split('\n')[0])
    return run_grid(grid_cells(preset), run_cell, argv=rest, description=f'DLGMM grid, preset {preset}',
                    store=run_store())


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
