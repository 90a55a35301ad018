"""Discrete-only VAE grid: the runs behind Table 1 and Figures 3, 4 and 5.

What it reproduces
    Table 1  test ELBO of discrete VAEs (30 variables x 10 categories) for GS, IGR-I, IGR-Planar and IGR-SB on
             MNIST and Fashion-MNIST (`dense` networks) and CelebA (`conv_jointvae`), over the temperature grid
             [0.03, 0.07, 0.10, 0.15, 0.25, 0.50, 0.67], 100 epochs, 5 repetitions (seeds 0-4).  As the original
             ran it (TABLE1_MODELS), the IGR-SB row is the finite variant with exactly 10 categories on MNIST and
             FMNIST (prior `Results/mu_xi_unif_10_IGR_SB_Finite.pkl`) and the countably infinite one on CelebA only:
             up to 49 Gaussian dimensions (50 categories), prior `Results/mu_xi_unif_50_IGR_SB.pkl`, threshold 0.9,
             quantile truncation.  Preset `sb_infinite` runs the infinite variant on MNIST and FMNIST.  The table
             itself is written by `vae_experiments/make_tables.py` from the run folders.
    Figures 3-5 (preset `figures`): MNIST, Table 1's MNIST models at their cross-validated temperature (IGR-I 1.0,
             IGR-Planar 0.85, IGR-SB 0.15, GS 1.0) and at their "20" temperature, the one that puts 75% of posterior
             samples within 0.2 of a vertex (IGR-I 0.1, IGR-Planar 0.3, IGR-SB 0.02, GS 0.25), 5 seeds; the "20"
             runs (preset `figures_20`) have the vanished-gradient monitor on (hyper `monitor_gradients`, which
             writes `gradients.csv`), the cross-validated ones (`figures_cv`) do not.  Then
             `viz_results.py` (Figure 3), `viz_grad_results.py` (Figure 4) and `posterior_samples.py` (Figure 5)
             read the run folders.  Presets `evidence*`: the same cells at the reduced budget of Results/runs.

Settings
    Edit BASE_HYPER, MODEL_CASES, DATASET_CASES, TEMPS, SEEDS below, or pick a preset (`--preset`); every cell
    writes its own folder `Log/vae_<dataset>_<model>_t<temp>_s<seed>_k<run key>/` (config.json, metrics.csv, ...);
    running a cell again skips it when finished and resumes it when not (`--status`, `--restart`: Utils/runs/grid.py).

Usage (from the repository root)
    python3 vae_experiments/discrete_grid.py --list                      # numbered cells of Table 1
    python3 vae_experiments/discrete_grid.py --cell 17                   # one cell (or SLURM_ARRAY_TASK_ID=17)
    python3 vae_experiments/discrete_grid.py                             # every cell, one after the other
    python3 vae_experiments/discrete_grid.py --preset figures            # the 40 runs of Figures 3-5
    python3 vae_experiments/make_tables.py --tables 1                    # Results/tables/table1.md
    python3 vae_experiments/discrete_grid.py --smoke --set epochs=1 --cell 0   # seconds-long check

Expected run time (measured on this machine: 2 shared CPU cores, MNIST, `dense` networks; one epoch = training +
    test evaluation): GS ~7 s, IGR-I ~9 s, IGR-Planar ~9 s, IGR-SB ~35 s (50 categories; ~22 s of it is the Monte
    Carlo evaluation), so 100 epochs take ~12 min (GS) to ~1 h (IGR-SB) per run.  Table 1 is 4 models x 3 datasets x
    7 temperatures x 5 seeds = 420 runs (CelebA's 64x64x3 conv network is much slower): run it as a cluster job
    array (`--cell` / SLURM_ARRAY_TASK_ID) or on a GPU.  The `figures` preset is 40 MNIST runs; its 20
    gradient-monitored runs pay a closed-form Jacobian per step: +~1 s/epoch for IGR-Planar and +~14 s/epoch for
    IGR-SB (`--preset figures --cell 10 --set epochs=2`: 27 s of training per epoch, 105 s wall for the run).
    A `--smoke` cell takes ~5 s (plus ~10 s to start Python and TensorFlow).
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402

from Utils.runs.grid import GridError, enumerate_cells, run_grid  # noqa: E402

# ---------------------------------------------------------------------------------------------------------------------
# Editable settings
# ---------------------------------------------------------------------------------------------------------------------
BASE_HYPER = {
    'dataset_name': 'mnist', 'architecture': 'dense', 'model_type': 'IGR_I_Dis', 'temp': 0.25,
    'sample_size': 1, 'n_required': 9, 'num_of_discrete_param': 2, 'num_of_discrete_var': 30,
    'num_of_norm_param': 0, 'num_of_norm_var': 0, 'latent_norm_n': 0,
    'learning_rate': 0.001, 'batch_n': 64, 'epochs': 100, 'check_every': 1,
    'run_jv': False, 'gamma': 100, 'cont_c_linspace': (0., 5., 25000), 'disc_c_linspace': (0., 5., 25000),
    'truncation_option': 'quantile', 'threshold': 0.99, 'run_closed_form_kl': True,
    'num_of_repetitions': 5, 'run_with_sample': False, 'monitor_gradients': False, 'seed': 0,
}
"""Shared hyper values (SPEC section 3-4): 30 discrete variables of 10 categories, Adam 1e-3, batch 64, 100 epochs."""

MODEL_CASES = {
    'GS_Dis': {'n_required': 10, 'num_of_discrete_param': 1},
    'IGR_I_Dis': {'n_required': 9, 'num_of_discrete_param': 2},
    'IGR_Planar_Dis': {'n_required': 9, 'num_of_discrete_param': 2},
    'IGR_SB_Dis': {'n_required': 49, 'num_of_discrete_param': 2, 'threshold': 0.9, 'truncation_option': 'quantile'},
    'IGR_SB_Finite_Dis': {'n_required': 9, 'num_of_discrete_param': 2},
}
"""Model-dependent keys. For IGR `n_required` counts Gaussian dimensions (9 -> 10 categories), for GS categories.
`prior_file` is left to `Models.train_vae.complete_hyper`: the learned uniform prior of the model's family and size,
`Results/mu_xi_unif_<K>_<family>.pkl` (IGR-Planar uses IGR-I's); set it here to use another one."""

DATASET_CASES = {
    'mnist': {'architecture': 'dense'},
    'fmnist': {'architecture': 'dense'},
    'celeb_a': {'architecture': 'conv_jointvae'},
}

TEMPS = [0.03, 0.07, 0.10, 0.15, 0.25, 0.50, 0.67]
SEEDS = [0, 1, 2, 3, 4]

CV_TEMPS = {'IGR_I_Dis': 1.0, 'IGR_Planar_Dis': 0.85, 'IGR_SB_Finite_Dis': 0.15, 'GS_Dis': 1.0}
"""Cross-validated temperature per model (Figure 3, "cv" panel)."""
TEMPS_20 = {'IGR_I_Dis': 0.1, 'IGR_Planar_Dis': 0.3, 'IGR_SB_Finite_Dis': 0.02, 'GS_Dis': 0.25}
"""Temperature that puts 75% of posterior samples within 0.2 of a vertex (Figure 3 "20" panel, Figures 4-5)."""
FIGURE_MODELS = ['IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis', 'GS_Dis']
"""The MNIST models of Figures 3-5: Table 1's MNIST set, whose IGR-SB is the finite 10-category variant."""
FIGURE_PANELS = {
    'cv': ('cross-validated temperature', {m: CV_TEMPS[m] for m in FIGURE_MODELS}),
    '20': ('"20" temperature (75% of samples within 0.2 of a vertex)', {m: TEMPS_20[m] for m in FIGURE_MODELS}),
}
"""Panels of Figures 3-5: title and the (model_type -> temp) cases drawn in it."""

TABLE1_MODELS = {
    'mnist': ['GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis'],
    'fmnist': ['GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis'],
    'celeb_a': ['GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Dis'],
}
"""Table 1's models per dataset, as the original ran them: the IGR-SB row is the finite variant with exactly 10
categories on MNIST and FMNIST, and the countably infinite one (at most 50 categories, threshold 0.9, quantile
truncation) on CelebA only."""
EVIDENCE = {'epochs': 10, 'seeds': [0, 1, 2]}
"""Budget of the runs shipped in Results/runs (Results/REPLICATION.md): the same for every model of a table."""
EVIDENCE_HYPER = {'epochs': EVIDENCE['epochs'], 'log_likelihood_samples': 100,
                  'keep_checkpoints': EVIDENCE['epochs']}
"""Hyper values of the evidence runs: TeLL/TeLLD at S = 100 at the end of each run, and every epoch's checkpoint
kept for the gradient-variance diagnostic at the first and the last epoch.  Neither of the last two enters the
run key, so runs made before they were set resume and compare as the same cells."""

PAPER = {'epochs': 100, 'seeds': [0, 1, 2, 3, 4], 'keep_epochs': (1, 10, 25, 50, 100)}
"""Budget of the paper (Table 1, Figures 3-5): 100 epochs, 5 repetitions; the runs shipped in Results/runs_paper."""
PAPER_HYPER = {'epochs': PAPER['epochs'], 'log_likelihood_samples': 100, 'keep_epochs': PAPER['keep_epochs'],
               'intra_op_threads': 1}
"""Hyper values of the paper-budget runs: the checkpoints of `keep_epochs` kept for the evaluations along training
(vae_experiments/milestones.py), TeLL/TeLLD at S = 100 at the end, one intra-op thread per run (the campaign pins one
run per core: vae_experiments/campaign.py).  None of these enters the run key, so a paper-budget cell has the run key
of the evidence cell it extends."""

ABLATION_DELTA = 0.1
ABLATION_MODELS = ['IGR_I_Dis', 'IGR_Planar_Dis']
ABLATION_HYPER = {**EVIDENCE_HYPER, 'softmax_delta': ABLATION_DELTA}
"""The softmax++ delta ablation: IGR-I and IGR-Planar with the ICML-era original's delta 0.1 (5eaac6f,
`project_to_vertices_via_softmax_pp`) instead of 1, at the evidence budget, seed 0 (a single-seed check of a setup
difference), beside the same cells with delta 1 made on the same machine (`ablation_delta_base*`: the evidence cells
of seed 0, so the two sides differ in delta only)."""
PAPER_ABLATION_HYPER = {**PAPER_HYPER, 'softmax_delta': ABLATION_DELTA}
"""The same ablation at the paper's budget, at the cross-validated temperatures only (where delta moved IGR-I at 10
epochs): its base is seed 0 of the paper-budget runs, whose milestone checkpoints it is compared with."""


def _at_temperatures(temps, seeds, hyper, models=FIGURE_MODELS, dataset='mnist'):
    """A preset running each of `models` at its one temperature `temps[model]` (CV_TEMPS or TEMPS_20)."""
    return {'models': models, 'datasets': [dataset], 'temps': {m: [temps[m]] for m in models}, 'seeds': seeds,
            'hyper': hyper}


def _figure_panels(prefix, seeds, hyper, models=FIGURE_MODELS):
    """Presets `<prefix>_20` and `<prefix>_cv`: the two panels of Figures 3-5 on MNIST, with the vanished-gradient
    monitor on at the "20" temperatures only."""
    return {f'{prefix}_20': _at_temperatures(TEMPS_20, seeds, {**hyper, 'monitor_gradients': True}, models),
            f'{prefix}_cv': _at_temperatures(CV_TEMPS, seeds, hyper, models)}


PRESETS = {
    'table1': {'parts': ['table1_mnist', 'table1_fmnist', 'table1_celeb_a']},
    **{f'table1_{d}': {'models': TABLE1_MODELS[d], 'datasets': [d], 'temps': TEMPS, 'seeds': SEEDS, 'hyper': {}}
       for d in ('mnist', 'fmnist', 'celeb_a')},
    'sb_infinite': {'models': ['IGR_SB_Dis'], 'datasets': ['mnist', 'fmnist'], 'temps': TEMPS, 'seeds': SEEDS,
                    'hyper': {}},
    **_figure_panels('figures', SEEDS, {}),
    'figures': {'parts': ['figures_20', 'figures_cv']},
    **_figure_panels('evidence_mnist', EVIDENCE['seeds'], EVIDENCE_HYPER),
    'evidence_fmnist_cv': _at_temperatures(CV_TEMPS, EVIDENCE['seeds'], EVIDENCE_HYPER, dataset='fmnist'),
    'evidence': {'parts': ['evidence_mnist_20', 'evidence_mnist_cv', 'evidence_fmnist_cv']},
    'straight_through': _at_temperatures(TEMPS_20, [0], {'epochs': 5, 'keep_checkpoints': 5},
                                         models=['GS_Dis', 'IGR_I_Dis']),
    **_figure_panels('paper_mnist', PAPER['seeds'], PAPER_HYPER),
    'paper_fmnist_cv': _at_temperatures(CV_TEMPS, PAPER['seeds'], PAPER_HYPER, dataset='fmnist'),
    **_figure_panels('ablation_delta', [0], ABLATION_HYPER, ABLATION_MODELS),
    **_figure_panels('ablation_delta_base', [0], EVIDENCE_HYPER, ABLATION_MODELS),
    'ablation_delta': {'parts': ['ablation_delta_20', 'ablation_delta_cv', 'ablation_delta_base_20',
                                 'ablation_delta_base_cv']},
    'paper_ablation_delta_cv': _at_temperatures(CV_TEMPS, [0], PAPER_ABLATION_HYPER, ABLATION_MODELS),
}
"""Named grids: models, datasets, temperatures (a list, or a dict model -> list), seeds and extra hyper values; or
'parts', a list of presets whose cells are concatenated.  The vanished-gradient monitor (Figure 4) is switched on
only for the "20" temperatures, where Figure 4 is drawn: it costs a closed-form Jacobian per step.  `evidence*` are
the reduced-budget runs behind Results/REPLICATION.md (EVIDENCE: 10 epochs, seeds 0-2), `paper*` the same cells at
the paper's budget (PAPER: 100 epochs, seeds 0-4), `ablation_delta*` the softmax++ delta ablation (ABLATION_HYPER),
`paper_ablation_delta_cv` the same at the paper's budget (PAPER_ABLATION_HYPER)."""
DEFAULT_PRESET = 'table1'


# ---------------------------------------------------------------------------------------------------------------------
def grid_cells(preset=DEFAULT_PRESET, base_hyper=None):
    """The cells (full hyper dicts) of a preset, in the fixed grid order."""
    if preset not in PRESETS:
        raise GridError(f'unknown preset {preset!r}; valid choices are: {", ".join(PRESETS)}')
    spec = PRESETS[preset]
    if 'parts' in spec:
        return [cell for part in spec['parts'] for cell in grid_cells(part, base_hyper)]
    base = {**(BASE_HYPER if base_hyper is None else base_hyper), **spec['hyper']}
    models = {m: MODEL_CASES[m] for m in spec['models']}
    datasets = {d: DATASET_CASES[d] for d in spec['datasets']}
    return enumerate_cells(base, models, datasets, spec['temps'], spec['seeds'])


def run_cell(cell, smoke=False, run_dir=None):
    """Train one VAE (in `run_dir` when given: new there, or resumed); returns its final test metrics."""
    from Models.train_vae import run_vae
    hyper = {**cell, 'run_with_sample': bool(smoke or cell.get('run_with_sample', False))}
    return run_vae(hyper, run_with_sample=hyper['run_with_sample'], run_dir=run_dir)


def run_store(log_dir=None):
    """The VAE run folders under the log directory, by cell (Utils/runs/runstore.py)."""
    from Models.vae_hyper import saved_hyper, validate_hyper
    from Utils.runs.runstore import RunStore
    return RunStore('vae', validate_hyper, 'TeELBO', log_dir, saved=saved_hyper)


def parse_preset(argv, presets, default, description):
    """Split `--preset NAME` off the command line; the rest goes to `Utils.runs.grid.run_grid`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--preset', default=default, choices=list(presets))
    args, rest = parser.parse_known_args(argv)
    if '-h' in rest or '--help' in rest:
        print(f'{description.strip()}\n\nScript option: --preset {{{",".join(presets)}}} (default {default})\n'
              f'Grid options follow.\n')
    return args.preset, rest


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    preset, rest = parse_preset(argv, PRESETS, DEFAULT_PRESET, __doc__.split('\n')[0])
    return run_grid(grid_cells(preset), run_cell, argv=rest, description=f'discrete VAE grid, preset {preset}',
                    store=run_store())


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
