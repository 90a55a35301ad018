"""JointVAE grid: the runs behind Table 2 (continuous Gaussian + one discrete latent variable).

What it reproduces
    Table 2: VAEs with one discrete variable of 10 categories and Gaussian latents, trained on the JointVAE
    objective (Dupont 2018)  -log p(x|z) + gamma |KL_cont - C_cont| + gamma |KL_disc - C_disc|, with the
    capacities C rising linearly, `conv_jointvae` networks, 50 epochs, 5 repetitions (seeds 0-4):
      mnist, fmnist  latent_norm_n 10, gamma 30,  C_cont 0 -> 5,  C_disc 0 -> 5  over 25,000 iterations;
      celeb_a        latent_norm_n 32, gamma 100, C_cont 0 -> 50, C_disc 0 -> 10 over 100,000 iterations.
    Models GS, IGR-I, IGR-Planar and IGR-SB.  With a single discrete variable of 10 categories, IGR-SB is the
    finite stick-breaking variant (`IGR_SB_Finite`, 9 Gaussian dimensions, prior learned for a uniform target
    over 10 categories); the countably infinite `IGR_SB` (up to 50 categories, threshold 0.9) is preset
    `table2_sb_infinite`.  The temperature is cross-validated over the same grid as Table 1.
    The table is written by `vae_experiments/make_tables.py` (Results/tables/table2.md) from the run folders.

Settings
    Edit BASE_HYPER, MODEL_CASES, DATASET_CASES, TEMPS, SEEDS below or pick a preset with `--preset`.

Usage (from the repository root)
    python3 vae_experiments/jv_grid.py --list            # numbered cells
    python3 vae_experiments/jv_grid.py --cell 3          # one cell (or SLURM_ARRAY_TASK_ID=3)
    python3 vae_experiments/jv_grid.py                   # every cell, one after the other
    python3 vae_experiments/jv_grid.py --smoke --set epochs=1 --cell 0   # seconds-long check
    python3 vae_experiments/make_tables.py --tables 2                    # Results/tables/table2.md

Expected run time (measured on this machine, 2 shared CPU cores): an MNIST epoch of the conv network takes ~21 s
    of training plus a few seconds of evaluation, so a 50-epoch MNIST/FMNIST run takes ~20-25 min; CelebA (162,770
    images of 64x64x3) is far slower.  The default preset is 4 models x 3 datasets x 7 temperatures x 5 seeds = 420
    runs: run it as a cluster job array (`--cell` / SLURM_ARRAY_TASK_ID) or on a GPU.  `--smoke` cells take seconds.
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from Utils.runs.grid import GridError, enumerate_cells, run_grid  # noqa: E402
from vae_experiments.discrete_grid import EVIDENCE, EVIDENCE_HYPER, PAPER_HYPER, SEEDS, TEMPS, parse_preset, run_cell, run_store  # noqa: E402

# ---------------------------------------------------------------------------------------------------------------------
# Editable settings
# ---------------------------------------------------------------------------------------------------------------------
BASE_HYPER = {
    'dataset_name': 'mnist', 'architecture': 'conv_jointvae', 'model_type': 'IGR_I', 'temp': 0.25,
    'sample_size': 1, 'n_required': 9, 'num_of_discrete_param': 2, 'num_of_discrete_var': 1,
    'num_of_norm_param': 2, 'num_of_norm_var': 1, 'latent_norm_n': 10,
    'learning_rate': 0.001, 'batch_n': 64, 'epochs': 50, 'check_every': 1,
    'run_jv': True, 'gamma': 30, 'cont_c_linspace': (0., 5., 25000), 'disc_c_linspace': (0., 5., 25000),
    'truncation_option': 'quantile', 'threshold': 0.99, 'run_closed_form_kl': True,
    'num_of_repetitions': 5, 'run_with_sample': False, 'monitor_gradients': False, 'seed': 0,
}

MODEL_CASES = {
    'GS': {'n_required': 10, 'num_of_discrete_param': 1},
    'IGR_I': {'n_required': 9, 'num_of_discrete_param': 2},
    'IGR_Planar': {'n_required': 9, 'num_of_discrete_param': 2},
    'IGR_SB_Finite': {'n_required': 9, 'num_of_discrete_param': 2},
    'IGR_SB': {'n_required': 49, 'num_of_discrete_param': 2, 'threshold': 0.9, 'truncation_option': 'quantile'},
}

DATASET_CASES = {
    'mnist': {'architecture': 'conv_jointvae', 'latent_norm_n': 10, 'gamma': 30,
              'cont_c_linspace': (0., 5., 25000), 'disc_c_linspace': (0., 5., 25000)},
    'fmnist': {'architecture': 'conv_jointvae', 'latent_norm_n': 10, 'gamma': 30,
               'cont_c_linspace': (0., 5., 25000), 'disc_c_linspace': (0., 5., 25000)},
    'celeb_a': {'architecture': 'conv_jointvae', 'latent_norm_n': 32, 'gamma': 100,
                'cont_c_linspace': (0., 50., 100000), 'disc_c_linspace': (0., 10., 100000)},
}

PRESETS = {
    'table2': {'models': ['GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite'], 'datasets': ['mnist', 'fmnist', 'celeb_a'],
               'temps': TEMPS, 'seeds': SEEDS},
    'table2_mnist': {'models': ['GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite'], 'datasets': ['mnist'],
                     'temps': TEMPS, 'seeds': SEEDS},
    'table2_sb_infinite': {'models': ['IGR_SB'], 'datasets': ['mnist', 'fmnist', 'celeb_a'], 'temps': TEMPS,
                           'seeds': SEEDS},
    # the reduced-budget runs of Results/runs: Table 2's MNIST models at JointVAE's own temperature 0.67 (Dupont 2018)
    'evidence_mnist': {'models': ['GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite'], 'datasets': ['mnist'],
                       'temps': [0.67], 'seeds': EVIDENCE['seeds'], 'hyper': EVIDENCE_HYPER},
    # the same cells at the budget of the original jv_grid.py: 50 epochs, 3 repetitions
    'paper_mnist': {'models': ['GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite'], 'datasets': ['mnist'],
                    'temps': [0.67], 'seeds': [0, 1, 2],
                    'hyper': {**PAPER_HYPER, 'epochs': 50, 'keep_epochs': (10, 25, 50)}},
}
DEFAULT_PRESET = 'table2'


# ---------------------------------------------------------------------------------------------------------------------
def grid_cells(preset=DEFAULT_PRESET, base_hyper=None):
    """The cells (full hyper dicts) of a preset, in the fixed grid order."""
    if preset not in PRESETS:
        raise GridError(f'unknown preset {preset!r}; valid choices are: {", ".join(PRESETS)}')
    spec = PRESETS[preset]
    models = {m: MODEL_CASES[m] for m in spec['models']}
    datasets = {d: DATASET_CASES[d] for d in spec['datasets']}
    base = {**(BASE_HYPER if base_hyper is None else base_hyper), **spec.get('hyper', {})}
    return enumerate_cells(base, models, datasets, spec['temps'], spec['seeds'])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    preset, rest = parse_preset(argv, PRESETS, DEFAULT_PRESET, __doc__.split('\n')[0])
    return run_grid(grid_cells(preset), run_cell, argv=rest, description=f'JointVAE grid, preset {preset}',
                    store=run_store())


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
