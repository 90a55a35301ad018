"""Gradient variance and signal-to-noise of GS and the IGR families (tests the paper's lower-variance claim).

What it computes
    For a fixed batch of test images and fixed weights, M independent noise draws give M gradients of the training
    objective with respect to (a) the encoder's discrete parameters and (b) every encoder weight
    (`Models/gradient_variance.py`). Per model, temperature and checkpoint: the mean per-coordinate variance, the
    trace of the covariance, the norm of the mean gradient and the quantiles of the per-coordinate signal-to-noise
    ratio |mean| / std.

Modes
    --init                models at initialisation (seed 0) on one batch, for every model and temperature asked
                          (default: GS_Dis, IGR_I_Dis, IGR_Planar_Dis, IGR_SB_Finite_Dis over the paper's grid);
                          needs no run folder.
    --run-dir DIR ...     trained runs at the checkpoints in --epochs (default: every kept one; a run keeps its last
                          `keep_checkpoints`, 2 unless the hyper asked for more before training).
    --straight-through    also the straight-through variant of each model (init mode; runs carry their own setting).

Output
    Results/gradient_variance_<dataset>.csv (one row per model, temperature, epoch, target) and .png (mean variance
    and median SNR against temperature; one line per model and epoch).

Usage
    python3 vae_experiments/gradient_variance.py --init --draws 100             # ~5 min on 2 CPU cores
    python3 vae_experiments/gradient_variance.py --run-dir Log/vae_mnist_GS_Dis_t1_s0_k... --draws 200
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()

import argparse  # noqa: E402

import pandas as pd  # noqa: E402

from Utils import paths  # noqa: E402
from Utils.results.results_io import GRADIENT_COLUMNS  # noqa: E402

INIT_MODELS = ('GS_Dis', 'IGR_I_Dis', 'IGR_Planar_Dis', 'IGR_SB_Finite_Dis')
TEMPS = (0.01, 0.03, 0.07, 0.1, 0.25, 0.4, 0.5, 0.67, 0.85, 1.0)
COLUMNS = GRADIENT_COLUMNS


def _batch(hyper, size, smoke):
    from Utils.load_data import load_dataset
    spec = load_dataset(hyper['dataset_name'], hyper['architecture'], smoke or hyper['run_with_sample'])
    return spec, spec.x_test[:size]


def _rows(model, hyper, x, args, epoch, run):
    from Models.gradient_variance import vae_gradient_statistics
    from Utils.runs.folders import model_label
    stats = vae_gradient_statistics(model, x, args.draws, seed=args.seed, chunk=args.chunk)
    return [{'model': model_label(hyper), 'temp': hyper['temp'], 'epoch': epoch, 'target': target, **values,
             'batch': len(x), 'run': run} for target, values in stats.items()]


def init_rows(args):
    from Models import train_vae as tv
    from Utils.relaxed.families import FAMILIES
    rows = []
    for model_type in args.model or INIT_MODELS:
        # 10 categories (a model type outside the table is refused by validate_hyper, with the valid ones)
        n_required = FAMILIES[tv.MODEL_TYPES[model_type][0]].params_n(10) if model_type in tv.MODEL_TYPES else 9
        for temp in args.temp or TEMPS:
            for straight_through in ((False, True) if args.straight_through else (False,)):
                hyper = tv.validate_hyper({'model_type': model_type, 'temp': temp, 'dataset_name': args.dataset,
                                           'n_required': n_required,
                                           'num_of_discrete_var': 20, 'straight_through': straight_through,
                                           'seed': args.seed}, run_with_sample=args.smoke)
                spec, x = _batch(hyper, args.batch, args.smoke)
                rows += _rows(tv._build(hyper, spec), hyper, x, args, 0, '')
                print(f'{rows[-1]["model"]} temp {temp:g}: done', flush=True)
    return rows


def run_rows(args):
    from Models import train_vae as tv
    from Utils.runs import checkpointing
    rows = []
    for run_dir in args.run_dir:
        run_dir = pathlib.Path(run_dir)
        if not (run_dir / 'config.json').is_file():
            raise SystemExit(f'no run folder {run_dir} (no config.json there)')
        for epoch in args.epochs or checkpointing.checkpoint_epochs(run_dir):
            try:
                model, hyper = tv.load_trained_vae(run_dir, epoch)
            except FileNotFoundError as err:
                raise SystemExit(f'{run_dir.name}: {err}') from None
            _, x = _batch(hyper, args.batch, False)
            rows += _rows(model, hyper, x, args, epoch, run_dir.name)
            print(f'{run_dir.name} epoch {epoch}: done', flush=True)
    return rows


def plot(frame, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    for col, target in enumerate(('discrete', 'encoder')):
        part = frame[frame['target'] == target]
        for (model, epoch), group in part.groupby(['model', 'epoch'], sort=False):
            group = group.groupby('temp', as_index=False)[['mean_variance', 'snr_median']].mean()
            label = f'{model}' + (f' (epoch {epoch})' if epoch else '')
            axes[0, col].plot(group['temp'], group['mean_variance'], marker='o', label=label)
            axes[1, col].plot(group['temp'], group['snr_median'], marker='o', label=label)
        what = 'discrete parameters' if target == 'discrete' else 'encoder weights'
        axes[0, col].set(yscale='log', title=f'gradient w.r.t. the {what}', ylabel='mean per-coordinate variance')
        axes[1, col].set(xscale='log', yscale='log', xlabel='temperature', ylabel='median |mean| / std')
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--init', action='store_true', help='models at initialisation (no run folder needed)')
    parser.add_argument('--run-dir', action='append', default=[], help='a trained run folder (repeatable)')
    parser.add_argument('--epochs', type=int, nargs='+', default=None, help='checkpoint epochs (default: all kept)')
    parser.add_argument('--model', action='append', help=f'init mode: model types (default {", ".join(INIT_MODELS)})')
    parser.add_argument('--temp', type=float, action='append', help='init mode: temperatures (default the grid)')
    parser.add_argument('--straight-through', action='store_true', help='init mode: also straight-through')
    parser.add_argument('--dataset', default='mnist', help='init mode: dataset (default mnist)')
    parser.add_argument('--draws', type=int, default=100, help='M noise draws (>= 2; default 100)')
    parser.add_argument('--batch', type=int, default=64, help='test images in the fixed batch (default 64)')
    parser.add_argument('--chunk', type=int, default=10, help='draws per compiled step (memory; default 10)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--smoke', action='store_true', help='smoke data (a few dozen images)')
    parser.add_argument('--out', default=None, help='csv path (default Results/gradient_variance_<dataset>.csv)')
    args = parser.parse_args(argv)
    if args.draws < 2:
        parser.error(f'bad --draws {args.draws}: need at least 2 (a variance needs two draws)')
    if not args.init and not args.run_dir:
        parser.error('give --init or at least one --run-dir')
    rows = (init_rows(args) if args.init else []) + (run_rows(args) if args.run_dir else [])
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    out = pathlib.Path(args.out) if args.out else paths.results_dir() / f'gradient_variance_{args.dataset}.csv'
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    plot(frame, out.with_suffix('.png'))
    print(f'{len(frame)} rows -> {out}, {out.with_suffix(".png")}')
    return frame


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
