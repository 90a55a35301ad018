"""Figure 2 (GS panels): how well a Gumbel-Softmax with K categories approximates discrete distributions.

For each target pmf (from `tfp.distributions`): a 10-category pmf proportional to [10,1,5,1,10,10,1,6,1,1],
Binomial(12, 0.3), Poisson(50) and NegativeBinomial(total_count=50, probs=0.6) (tfp convention, mean 75), and each
number of categories K in {20, 40, 100}, the GS logits are fitted by minimising KL(mean psi || p) over 1,000
samples per step (Adam, learning rate 1e-2, temperature 0.1, 200 steps, seed 0). Each target is evaluated on
{0, ..., K-1} and renormalised there (K = 20 and 40 cut most of Poisson(50) and NegBinomial: that is the point of
the panel: GS needs K fixed in advance). Histograms of the argmax of 10^4 samples before and after the fit.

Presets (--preset): 'spec' (the settings above) and 'long' (2,000 steps instead of 200: with Adam at 1e-2 the
logits move by about 0.01 per step, so 200 steps leave the fits visibly short of convergence).

Outputs: Results/discrete_dist_approximation_gs[_long].png and .csv (per panel: KL and total variation of the
sample frequencies to the target before/after the fit).
Run time (2 CPU cores): 'spec' about 35 s, 'long' about 1.5 minutes.
Usage: python3 approximations/discrete_dist_approximation_gs.py [--preset long] [--tiny]
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()  # first: no CUDA-probe error line on machines without a GPU

import argparse

from approximations.fig2_common import fit_panel, plot_panels, summary_frame
from Utils.paths import results_dir

SETTINGS = {
    'targets': ('ten_categories', 'binomial', 'poisson', 'negative_binomial'),
    'categories': (20, 40, 100),
    'temp': 0.1,
    'sample_size': 1000,
    'learning_rate': 1e-2,
    'max_iterations': 200,
    'loss_type': 'kl',
    'plot_samples': 10_000,
    'seed': 0,
}
PRESETS = {'spec': {}, 'long': {'max_iterations': 2000}}
TINY_SETTINGS = dict(SETTINGS, targets=('ten_categories', 'poisson'), categories=(20,), sample_size=100,
                     max_iterations=5, plot_samples=500)
NAME = 'discrete_dist_approximation_gs'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', default='spec', choices=list(PRESETS))
    parser.add_argument('--tiny', action='store_true', help='smoke run: two panels, 5 steps')
    args = parser.parse_args(argv)
    s = dict(TINY_SETTINGS if args.tiny else SETTINGS, **({} if args.tiny else PRESETS[args.preset]))
    name = NAME if args.preset == 'spec' else f'{NAME}_{args.preset}'
    results = [fit_panel('GS', target, k, s) for target in s['targets'] for k in s['categories']]
    out = results_dir()
    plot_panels(results, f"GS (tau {s['temp']}, {s['max_iterations']} steps) fitted to discrete targets",
                out / f'{name}.png', n_cols=len(s['categories']))
    summary = summary_frame(results)
    summary.to_csv(out / f'{name}.csv', index=False, float_format='%.5f')
    print(summary.to_string(index=False))
    return summary


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
