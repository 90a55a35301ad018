"""Table 3: structured output prediction (predict the lower half of a binarized MNIST digit from its upper half).

Model (Models/SOP.py): upper 14x28 half -> Dense -> 200 relaxed Bernoulli units -> Dense -> 200 relaxed Bernoulli
units -> Dense -> 392 logits; loss = summed sigmoid cross-entropy of the lower half; batch 64, Adam 3e-4, 50 epochs.
Models: GS (Binary Concrete), IGR_I, IGR_Planar, IGR_SB (see Models/SOP.py for the Bernoulli constructions).
Each run writes `Log/sop_mnist_<model>_t<temp>_s<seed>_<time>/` with `metrics.csv`
(`epoch,TeNLL,TeNLLD,TeNLLMS,TrL,seconds`, nats per image) and `images/lower_half.png`.

Edit HYPER / MODEL_CASES / TEMPS / SEEDS below, or pick a preset with IGR_SOP_PRESET=<name> (PRESETS).
Command line (Utils/runs/grid.py):
    python3 structure_output_prediction/sop.py --list          # numbered cells
    python3 structure_output_prediction/sop.py --cell 0        # one run (or SLURM_ARRAY_TASK_ID=0)
    python3 structure_output_prediction/sop.py                 # every cell, one after the other
    python3 structure_output_prediction/sop.py --smoke         # every cell on a few dozen images (seconds)
    python3 structure_output_prediction/sop.py --table         # Results/tables/table3.{md,csv} from Log/
Run time (measured on a shared 2-core CPU): 6-20 s per training epoch and 20-30 s per evaluation (100 samples per
test image for TeNLLMS), so 10-20 minutes per 50-epoch run with check_every 5.
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import os

from Models.sop_hyper import default_hyper, validate_hyper
from Utils.runs.grid import GridError, enumerate_cells, run_grid

HYPER = {**default_hyper(), 'epochs': 50, 'batch_n': 64, 'learning_rate': 3e-4, 'units': 200,
         'stochastic_layers': 2, 'sample_size': 1, 'test_sample_size': 100, 'check_every': 5, 'seed': 0,
         'num_of_repetitions': 1}
MODEL_CASES = ['GS', 'IGR_I', 'IGR_Planar', 'IGR_SB']
# Temperature of each model (the paper cross-validated them; these are the values of the 'table3' preset).
TEMPS = {'GS': [0.5], 'IGR_I': [0.5], 'IGR_Planar': [0.5], 'IGR_SB': [0.5]}
SEEDS = None  # None: range(HYPER['num_of_repetitions'])

PRESETS = {
    'table3': {},
    # temperature search: every model at three temperatures
    'temps': {'TEMPS': {m: [0.1, 0.25, 0.5, 1.0] for m in MODEL_CASES}},
    # five seeds per cell, for error bars
    'repeat5': {'SEEDS': 5},
    # the reduced-budget runs of Results/runs (the budget of vae_experiments/discrete_grid.py's EVIDENCE)
    'evidence': {'HYPER': {**HYPER, 'epochs': 10}, 'SEEDS': [0, 1, 2]},
    # the paper's budget (Results/runs_paper): 50 epochs, 5 seeds, one intra-op thread (one run per core)
    'paper': {'HYPER': {**HYPER, 'epochs': 50, 'intra_op_threads': 1}, 'SEEDS': [0, 1, 2, 3, 4]},
}


def settings(preset=None):
    """(hyper, model_cases, temps, seeds) of a preset (default: IGR_SOP_PRESET or 'table3')."""
    preset = preset or os.environ.get('IGR_SOP_PRESET', 'table3')
    if preset not in PRESETS:
        raise GridError(f'unknown preset {preset!r} (IGR_SOP_PRESET); valid choices are: {", ".join(PRESETS)}')
    chosen = {'HYPER': HYPER, 'MODEL_CASES': MODEL_CASES, 'TEMPS': TEMPS, 'SEEDS': SEEDS, **PRESETS[preset]}
    return chosen['HYPER'], chosen['MODEL_CASES'], chosen['TEMPS'], chosen['SEEDS']


def run_cell(cell, smoke=False, run_dir=None):
    """Train one cell (a full hyper dict; in `run_dir` when given); smoke=True runs on a few dozen images."""
    from Models.SOPOptimizer import run_sop
    return run_sop(cell, run_with_sample=True if smoke else None, run_dir=run_dir)


def run_store(log_dir=None):
    """The SOP run folders under the log directory, by cell (Utils/runs/runstore.py)."""
    from Utils.runs.runstore import RunStore
    return RunStore('sop', validate_hyper, 'TeNLL', log_dir)


def make_table(log_dir=None, out_dir=None, include_unfinished=False, include_smoke=False):
    """Table 3 from the SOP run folders -> (summary DataFrame, csv path, md path)."""
    from Utils.results import results_io
    return results_io.build_table(
        'table3', 'Table 3: structured output prediction on binarized MNIST, test NLL (nats per image)',
        ('TeNLL', 'TeNLLD', 'TeNLLMS'), experiment='sop', log_dir=log_dir, out_dir=out_dir,
        include_unfinished=include_unfinished, include_smoke=include_smoke, best=('TeNLLMS', False),
        notes=('TeNLL: one relaxed sample; TeNLLD: one discretized sample; '
               'TeNLLMS: -log mean over 100 discretized samples of p(lower | sample).',))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if '--table' in argv:
        summary, csv_path, md_path = make_table(include_unfinished='--include-unfinished' in argv,
                                                include_smoke='--include-smoke' in argv)
        print(f'table 3: {len(summary)} rows -> {md_path}, {csv_path}')
        return summary
    hyper, models, temps, seeds = settings()
    cells = enumerate_cells(hyper, models, None, temps, seeds)
    return run_grid(cells, run_cell, argv, description=__doc__.split('\n')[0], store=run_store())


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
