"""Figure 1: how close relaxed samples are to the simplex vertices, as a function of the temperature.

For each model and each of 100 temperatures in [0.05, 1.0], draw 10,000 samples of a K = 50 relaxed categorical
and measure the Euclidean distance of each sample to the one-hot vertex of its argmax
(`Utils.general.distance_to_nearest_vertex`). Models:
  GS      uniform logits log(1/50);
  IGR_I   the learned uniform prior `Results/mu_xi_unif_50_IGR_I.pkl` (approximations/set_prior.py).
The same noise is reused across temperatures (common random numbers); everything is one batched tensor per chunk
of temperatures (no per-sample loops).

Outputs (Results/):
  simplex_proximity_<model>.png   boxplots per temperature (box: 25-75%, line: median, whiskers: 10% and 90%)
  simplex_proximity.csv           model, temp, median, p10, p20, p25, p75, p90, mean, std for every temperature
  simplex_proximity_check.md/csv  the same statistics at tau = 0.2, 0.25, 0.5, 1.0 (GS reference: median about
                                  0.05, 0.10, 0.42, 0.75)
Run time: about 20 s on 2 CPU cores.  Usage: python3 approximations/simplex_proximity.py [--tiny]
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()  # first: no CUDA-probe error line on machines without a GPU

import argparse

import numpy as np
import pandas as pd
import tensorflow as tf
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt

from Utils.general import (distance_to_nearest_vertex, find_prior_file, load_prior, markdown_table, prior_file_name,
                           proximity_stats)
from Utils.paths import results_dir
from Utils.relaxed.families import get_family

SETTINGS = {
    'categories': 50,
    'temps': np.linspace(0.05, 1.0, 100),
    'check_temps': (0.2, 0.25, 0.5, 1.0),
    'samples': 10_000,
    'models': ('GS', 'IGR_I'),
    'temps_per_chunk': 10,
    'seed': 0,
}
TINY_SETTINGS = dict(SETTINGS, temps=np.linspace(0.05, 1.0, 5), samples=500)
MODELS = ('GS', 'IGR_I', 'IGR_SB_Finite')


def model_params(model_type, n_categories):
    """Parameters of the sampler measured: uniform logits for GS, the learned uniform prior for IGR."""
    if model_type not in MODELS:
        raise ValueError(f'Unknown model_type {model_type!r}; valid choices are {list(MODELS)}')
    uniform = get_family(model_type).uniform_params(n_categories)
    return uniform if uniform is not None else load_prior(find_prior_file(prior_file_name(n_categories, model_type)))


def vertex_distances(model_type, params, temps, samples, seed=0, temps_per_chunk=10):
    """Distances to the nearest vertex, numpy (samples, len(temps)).

    One noise draw (1, n, samples, 1) is shared by all temperatures; temperatures sit on the variables axis,
    so each chunk is a single (1, K, samples, chunk) tensor.
    """
    family = get_family(model_type)
    rng = tf.random.Generator.from_seed(seed)
    values = [params[name] for name in family.param_names]
    noise = family.noise(rng, (1, values[0].shape[1], samples, 1), box_muller=False)
    out = []
    for start in range(0, len(temps), temps_per_chunk):
        t = tf.constant(np.asarray(temps[start:start + temps_per_chunk], np.float32).reshape(1, 1, 1, -1))
        psi = family.relaxed(values, noise, t)['psi']
        out.append(distance_to_nearest_vertex(psi, axis=1)[0].numpy())
    return np.concatenate(out, axis=1)


def stats_frame(model_type, temps, distances):
    """One row per temperature with the distance statistics."""
    stats = proximity_stats(distances, axis=0)
    return pd.DataFrame({'model': model_type, 'temp': np.round(temps, 6), **stats})


def plot_boxplots(frame, model_type, path):
    """Boxplots drawn from the precomputed statistics (ax.bxp): box 25-75%, median, whiskers 10%/90%."""
    boxes = [{'med': r.median, 'q1': r.p25, 'q3': r.p75, 'whislo': r.p10, 'whishi': r.p90, 'fliers': [],
              'label': f'{r.temp:.2f}'} for r in frame.itertuples()]
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.bxp(boxes, showfliers=False, widths=0.6, medianprops={'color': 'tab:red'})
    labels = [b['label'] if i % 10 == 0 else '' for i, b in enumerate(boxes)]
    ax.set_xticks(np.arange(1, len(boxes) + 1), labels)
    ax.set_xlabel('temperature')
    ax.set_ylabel('distance to nearest vertex')
    ax.set_ylim(0, 1.05)
    ax.set_title(f'{model_type}, K = {SETTINGS["categories"]}: distance of samples to the nearest vertex')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=None, choices=list(MODELS))
    parser.add_argument('--tiny', action='store_true', help='smoke run: 5 temperatures, 500 samples')
    args = parser.parse_args(argv)
    s = TINY_SETTINGS if args.tiny else SETTINGS
    out = results_dir()
    frames, checks = [], []
    for model_type in args.models or s['models']:
        params = model_params(model_type, s['categories'])
        d = vertex_distances(model_type, params, s['temps'], s['samples'], s['seed'], s['temps_per_chunk'])
        frame = stats_frame(model_type, s['temps'], d)
        plot_boxplots(frame, model_type, out / f'simplex_proximity_{model_type}.png')
        frames.append(frame)
        d_check = vertex_distances(model_type, params, s['check_temps'], s['samples'], s['seed'])
        checks.append(stats_frame(model_type, np.asarray(s['check_temps']), d_check))
    pd.concat(frames).to_csv(out / 'simplex_proximity.csv', index=False, float_format='%.5f')
    check = pd.concat(checks)[['model', 'temp', 'median', 'p10', 'p20', 'std']]
    check.to_csv(out / 'simplex_proximity_check.csv', index=False, float_format='%.4f')
    (out / 'simplex_proximity_check.md').write_text(
        f'# Figure 1 check: distance to the nearest vertex, K = {s["categories"]}, {s["samples"]} samples\n\n'
        + markdown_table(check))
    print(check.to_string(index=False))
    return check


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
