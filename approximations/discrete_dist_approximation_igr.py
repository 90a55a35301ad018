"""Figure 2 (IGR panels): how well IGR-SB, with countably infinite support, approximates discrete distributions.

Same targets as the GS panels (`tfp.distributions`): a 10-category pmf proportional to [10,1,5,1,10,10,1,6,1,1],
Binomial(12, 0.3), Poisson(50) and NegativeBinomial(total_count=50, probs=0.6) (tfp convention, mean 75), all on
{0, ..., 199}. IGR-SB with up to 200 categories (199 Gaussian dims), temperature 0.01, stick truncated at precision
0.9 ('max' over the draws: the recorded n_required is the number of pieces the fitted distribution needs), fitted by
minimising KL(mean psi || p) over 1,000 samples per step (Adam, learning rate 1e-2, 500 steps, seed 0), starting from
`Utils.general.stick_breaking_uniform_init` (every piece about equally likely; a start near mu = 0 puts all the mass
on the first pieces and 1e-2 steps cannot move it to category 50). Histograms of the argmax of 10^4 samples before
and after the fit.

Presets (--preset): 'spec' (the settings above) and 'long' (2,000 steps, as the GS 'long' preset).

Outputs: Results/discrete_dist_approximation_igr[_long].png and .csv (per panel: KL and total variation of the
sample frequencies to the target before/after the fit, n_required of the last step).
Run time (2 CPU cores): 'spec' about 1 minute, 'long' about 3 minutes.
Usage: python3 approximations/discrete_dist_approximation_igr.py [--preset long] [--tiny]
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
    'model_type': 'IGR_SB',
    'targets': ('ten_categories', 'binomial', 'poisson', 'negative_binomial'),
    'categories': 200,
    'temp': 0.01,
    'threshold': 0.9,
    'truncation_option': 'max',
    'init': 'stick_uniform',
    'sample_size': 1000,
    'learning_rate': 1e-2,
    'max_iterations': 500,
    'loss_type': 'kl',
    'plot_samples': 10_000,
    'seed': 0,
}
PRESETS = {'spec': {}, 'long': {'max_iterations': 2000}}
TINY_SETTINGS = dict(SETTINGS, targets=('poisson',), categories=60, sample_size=100, max_iterations=5,
                     plot_samples=500)
NAME = 'discrete_dist_approximation_igr'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', default='spec', choices=list(PRESETS))
    parser.add_argument('--tiny', action='store_true', help='smoke run: one panel, 5 steps')
    args = parser.parse_args(argv)
    s = dict(TINY_SETTINGS if args.tiny else SETTINGS, **({} if args.tiny else PRESETS[args.preset]))
    name = NAME if args.preset == 'spec' else f'{NAME}_{args.preset}'
    results = [fit_panel(s['model_type'], target, s['categories'], s) for target in s['targets']]
    out = results_dir()
    plot_panels(results, f"{s['model_type']} (tau {s['temp']}, threshold {s['threshold']}, {s['max_iterations']} steps) "
                         f"fitted to discrete targets",
                out / f'{name}.png', n_cols=2)
    summary = summary_frame(results)
    summary.to_csv(out / f'{name}.csv', index=False, float_format='%.5f')
    print(summary.to_string(index=False))
    return summary


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
