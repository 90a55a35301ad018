"""Quick single VAE run: IGR-I with 30 discrete variables x 10 categories on binarized MNIST (the default model).

What it reproduces
    One run of Table 1 / Figure 3 (discrete-only VAE, `dense` networks, SPEC section 3), trained on the ELBO with
    the closed-form IGR KL, at the "20" temperature 0.1 (75% of posterior samples within 0.2 of a vertex); it
    prints the test table at the end: TeELBO (relaxed), TeELBOC (closed-form KL) and TeELBOD (the discrete model:
    one-hot samples decoded, categorical KL), in nats per image.  The run folder
    `Log/vae_mnist_IGR_I_Dis_t0.1_s0_<time>/` keeps config.json, metrics.csv, checkpoints and images.

Presets (`--preset`; values are applied over HYPER below)
    smoke  a few dozen images, batch 5, 2 epochs: checks the installation in seconds.
    quick  real MNIST, 5 epochs (QUICK_EPOCHS), test metrics at the first and last epoch (what `make run` calls).
    paper  real MNIST, 100 epochs, test metrics every epoch (one Table 1 / Figure 3 run).
Other models/datasets/temperatures: `--model GS_Dis --temp 1.0`, `--dataset fmnist`, `--set key=value`.

Expected run time (measured on this machine, 2 shared CPU cores): smoke ~15 s; quick ~2 min (5 epochs of ~11-15 s
    of training, ~20 s per test evaluation, ~10 s to start TensorFlow; it ends near TeELBO -144, TeELBOD -140);
    paper ~40 min (100 epochs of training and evaluation).  At the cross-validated temperature (`--temp 1.0`) the
    relaxed TeELBO is a little better but TeELBOD (decoding one-hot samples) falls far behind it, since the decoder
    learns from points inside the simplex.

Usage (from the repository root)
    python3 vae_experiments/mnist_vae.py                    # quick
    python3 vae_experiments/mnist_vae.py --preset smoke
    python3 vae_experiments/mnist_vae.py --preset paper --model IGR_Planar_Dis --temp 0.85   # its CV temperature
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402

from Utils.runs.grid import parse_value  # noqa: E402
from vae_experiments.discrete_grid import BASE_HYPER, DATASET_CASES, MODEL_CASES, TEMPS_20  # noqa: E402

QUICK_EPOCHS = 5

HYPER = {**BASE_HYPER, **MODEL_CASES['IGR_I_Dis'], 'model_type': 'IGR_I_Dis', 'dataset_name': 'mnist',
         'architecture': 'dense', 'temp': TEMPS_20['IGR_I_Dis'], 'seed': 0, 'num_of_repetitions': 1}
"""The run's hyper dict: Table 1 settings, IGR-I at its "20" temperature 0.1 (Figure 3)."""

PRESETS = {
    'smoke': {'run_with_sample': True, 'epochs': 2, 'check_every': 1},
    'quick': {'run_with_sample': False, 'epochs': QUICK_EPOCHS, 'check_every': QUICK_EPOCHS},
    'paper': {'run_with_sample': False, 'epochs': 100, 'check_every': 1},
}
DEFAULT_PRESET = 'quick'
TABLE_COLUMNS = ('epoch', 'TeELBO', 'TeELBOC', 'TeELBOD', 'N', 'TrL', 'seconds')


def build_hyper(preset=DEFAULT_PRESET, model=None, dataset=None, temp=None, epochs=None, seed=None, overrides=None):
    """HYPER with a preset and the command-line choices applied (a new dict; HYPER is not modified).

    Changing the model brings its model-dependent keys (MODEL_CASES), changing the dataset its architecture.
    """
    hyper = {**HYPER, **PRESETS[preset]}
    if model is not None:
        hyper = {**hyper, **MODEL_CASES.get(model, {}), 'model_type': model}
        if temp is None and model in TEMPS_20:
            hyper['temp'] = TEMPS_20[model]
    if dataset is not None:
        hyper = {**hyper, **DATASET_CASES.get(dataset, {}), 'dataset_name': dataset}
    for key, value in (('temp', temp), ('epochs', epochs), ('seed', seed)):
        if value is not None:
            hyper[key] = value
    if epochs is not None and preset == 'quick':
        hyper['check_every'] = epochs
    return {**hyper, **(overrides or {})}


def format_table(metrics):
    """Text table of the evaluated epochs (DataFrame from `load_metrics`)."""
    columns = [c for c in TABLE_COLUMNS if c in metrics.columns]
    fmt = {c: (lambda v: f'{int(v)}') if c in ('epoch', 'N') else (lambda v: f'{v:.2f}') for c in columns}
    return metrics[columns].to_string(index=False, formatters=fmt)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=list(PRESETS), default=DEFAULT_PRESET)
    parser.add_argument('--model', default=None, help='model_type, e.g. GS_Dis, IGR_Planar_Dis (default IGR_I_Dis)')
    parser.add_argument('--dataset', default=None, help='mnist (default), fmnist, celeb_a, omniglot')
    parser.add_argument('--temp', type=float, default=None,
                        help='temperature (default: the model\'s "20" temperature, 0.1 for IGR-I)')
    parser.add_argument('--epochs', type=int, default=None)
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='any other hyper value, e.g. --set learning_rate=3e-4 (repeatable)')
    return parser.parse_args(argv)


def main(argv=None):
    from Utils.tf_quiet import import_tensorflow
    import_tensorflow()
    from Models.train_vae import run_vae
    from Utils.runs.grid import GridError
    from Utils.results.results_io import load_metrics
    args = parse_args(argv)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition('=')
        if not sep:
            raise GridError(f'--set expects key=value, got {item!r}')
        overrides[key.strip()] = parse_value(value.strip())
    hyper = build_hyper(args.preset, args.model, args.dataset, args.temp, args.epochs, args.seed, overrides)
    final = run_vae(hyper, run_with_sample=hyper['run_with_sample'])
    print(f'\nTest metrics of {hyper["model_type"]} on {hyper["dataset_name"]} (temp {hyper["temp"]:g}, preset '
          f'{args.preset}), nats per image:')
    print(format_table(load_metrics(final['run_dir'])))
    print(f'Run folder: {final["run_dir"]}')
    return final


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
