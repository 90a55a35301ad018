"""How discrete a trained SOP network's stochastic units are: the per-run record `unit_values.json`.

A relaxed unit b in (0, 1) that sits near 0 or 1 loses little when it is rounded (TeNLLD); one the network keeps in
between is read by the next layer as a continuous value. For each stochastic layer, over the test images and one
seeded noise draw (relaxed units, as in TeNLL):
    undecided        the share of unit values in (0.1, 0.9)
    mean_distance    the mean of min(b, 1 - b), the distance to the nearer of 0 and 1
    median_sigma     IGR with a learned scale: the median over units and images of sigma = exp(xi) of the unit's
                     Gaussian dims (with a fixed scale: that value; GS: none)
    median_abs_mu    IGR: the median of |mu|
written to `<run>/unit_values.json` with the checkpoint's epoch.

Usage
    python3 structure_output_prediction/unit_values.py --run-dir Log/sop_mnist_IGR_I_t0.5_s0_... [--run-dir ...]
        [--images 10000] [--seed 0]
Run time: about 5 s per run on one core.
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
tf = import_tensorflow()  # first: no CUDA-probe error line on machines without a GPU

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from Utils.runs import folders  # noqa: E402

RECORD = 'unit_values.json'
UNDECIDED = (0.1, 0.9)


def layer_values(net, x_upper, seed=0):
    """Per stochastic layer of `net` (Models.SOP.SOPNet): (relaxed unit values (rows, units), mu, sigma) with mu and
    sigma (rows, noise_dims, units) for IGR units (sigma broadcastable) and None for GS."""
    noise = net.noise(tf.random.Generator.from_seed(seed), int(x_upper.shape[0]))
    h, out = x_upper, []
    for layer, units, eps in zip(net.param_layers, net.unit_layers, noise):
        params = layer(h)
        h = units.sample(params, eps)
        gaussian = units.relaxation.location_scale(params, units.units)
        mu, sigma = (None, None) if gaussian is None else (gaussian[0].numpy(), np.asarray(gaussian[1]))
        out.append((h.numpy(), mu, sigma))
    return out


def unit_values(net, x_upper, seed=0):
    """The statistics of the module docstring, one dict per stochastic layer."""
    rows = []
    for b, mu, sigma in layer_values(net, x_upper, seed):
        row = {'undecided': float(np.mean((b > UNDECIDED[0]) & (b < UNDECIDED[1]))),
               'mean_distance': float(np.mean(np.minimum(b, 1. - b)))}
        if mu is not None:
            row.update({'median_sigma': float(np.median(np.broadcast_to(sigma, mu.shape))),
                        'median_abs_mu': float(np.median(np.abs(mu)))})
        rows.append(row)
    return rows


def write_unit_values(run_dir, images=10_000, seed=0):
    from Models.SOPOptimizer import load_sop_data, load_trained_sop
    model, hyper = load_trained_sop(run_dir)
    x_upper = tf.constant(load_sop_data(bool(hyper['run_with_sample']))['x_test_upper'][:images])
    record = {'epoch': int(model.epoch.numpy()),
              'images': int(x_upper.shape[0]), 'seed': int(seed), 'undecided_interval': list(UNDECIDED),
              'layers': unit_values(model.net, x_upper, seed)}
    folders.write_json(pathlib.Path(run_dir) / RECORD, record)
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run-dir', action='append', required=True, help='a finished SOP run folder (repeatable)')
    parser.add_argument('--images', type=int, default=10_000, help='test images (default: all 10,000)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the noise draw')
    args = parser.parse_args(argv)
    for run_dir in args.run_dir:
        if not (pathlib.Path(run_dir) / 'config.json').is_file():
            parser.error(f'no run folder {run_dir} (it needs config.json and a checkpoint)')
        record = write_unit_values(run_dir, args.images, args.seed)
        layers = ', '.join(f'layer {i}: {row["undecided"]:.3f} undecided' + (
            f', median sigma {row["median_sigma"]:.3g}' if 'median_sigma' in row else '')
            for i, row in enumerate(record['layers']))
        print(f'{pathlib.Path(run_dir).name}: epoch {record["epoch"]}, {layers}')
    return 0


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(run_main(main))
