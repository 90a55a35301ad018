"""Learn the IGR priors whose induced category distribution is uniform (the priors of the VAE experiments).

Reproduces `Results/mu_xi_unif_{10,50}_{IGR_I,IGR_SB_Finite,IGR_SB}.pkl`: pickled dicts
{'mu': float32 (1, n, 1, 1), 'xi': float32 (1, n, 1, 1)} with n = K - 1 Gaussian dims for K categories.
The VAEs use them in the closed-form Gaussian KL. Each prior is fitted with `Utils/MinimizeEmpiricalLoss.py`
(KL(mean psi || target) over Monte Carlo batches, Adam) and then checked on 10^6 fresh draws; the achieved
KLs go to `Results/mu_xi_unif_report.json` (with the command) and the induced frequencies are plotted in
`Results/mu_xi_unif_frequencies.png`.

Settings (SETTINGS / MODEL_SETTINGS below):
- IGR-I: target uniform over the K categories; temperature annealed geometrically 0.5 -> 0.01 during the fit
  (gradients through nearly one-hot samples vanish, so a fit started at 0.01 stalls); small random start.
- IGR-SB-Finite and IGR-SB: psi = softmax++(pi / tau) with pi > 0, so as tau -> 0 the softmax++ (last) category
  is never selected: only the K-1 stick pieces are reachable. The target is therefore uniform over the K-1 pieces
  (the KL to uniform over all K is then at least log(K / (K-1))). tau = 0.01 throughout, starting from
  `Utils.general.stick_breaking_uniform_init` (a fit started elsewhere or annealed from a warm temperature ends
  with samples at the centre of the simplex, whose mean is uniform but whose categories are not).
  IGR-SB truncates with threshold 0.9 and the 'max' statistic (with 'quantile' the truncation would cut the
  uniform prior's later pieces by construction).
- 2,000 Adam steps of 2,000 draws, learning rate cosine-decayed from 1e-2 to 5e-4, seed 0.

Usage (from the repository root):
    python3 approximations/set_prior.py                    # all six priors, about 1.5 minutes on 2 CPU cores
    python3 approximations/set_prior.py --models IGR_I --categories 10
    python3 approximations/set_prior.py --tiny             # smoke run (seconds)
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
import_tensorflow()  # first: no CUDA-probe error line on machines without a GPU

import argparse
import json
import time

import numpy as np
import tensorflow as tf
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt

from Utils.MinimizeEmpiricalLoss import MinimizeEmpiricalLoss
from Utils.general import (initial_params, kl_divergence, prior_file_name, save_prior,
                           stick_breaking_uniform_init, target_pmf)
from Utils.paths import results_dir
from Utils.runs.folders import read_json
from Utils.relaxed.families import get_family

SETTINGS = {
    'categories': (10, 50),
    'models': ('IGR_I', 'IGR_SB_Finite', 'IGR_SB'),
    'sample_size': 2000,
    'max_iterations': 2000,
    'learning_rate': 1e-2,
    'final_learning_rate': 5e-4,
    'seed': 0,
    'eval_samples': 1_000_000,
}
TINY_SETTINGS = dict(SETTINGS, categories=(10,), sample_size=200, max_iterations=20, eval_samples=20_000)
MODEL_SETTINGS = {
    'IGR_I': {'temp': (0.5, 0.01), 'init': 'random', 'target': 'all_categories'},
    'IGR_SB_Finite': {'temp': 0.01, 'init': 'stick_uniform', 'target': 'stick_pieces'},
    'IGR_SB': {'temp': 0.01, 'init': 'stick_uniform', 'target': 'stick_pieces', 'threshold': 0.9,
               'truncation_option': 'max'},
}
REPORT_NAME = 'mu_xi_unif_report.json'
FIGURE_NAME = 'mu_xi_unif_frequencies.png'


def prior_target(model_type, n_categories):
    """The pmf the prior is fitted to: uniform over K, or over the K-1 reachable stick pieces for IGR-SB."""
    if MODEL_SETTINGS[model_type]['target'] == 'all_categories':
        return target_pmf('uniform', n_categories)
    return np.append(target_pmf('uniform', n_categories - 1), 0.)


def fit_uniform_prior(model_type, n_categories, settings=SETTINGS):
    """Fit one prior; returns (optimizer, report dict with the achieved KLs)."""
    if model_type not in MODEL_SETTINGS:
        raise ValueError(f'Unknown model_type {model_type!r}; valid choices are {list(MODEL_SETTINGS)}')
    ms = MODEL_SETTINGS[model_type]
    n = n_categories - 1
    if ms['init'] == 'stick_uniform':
        params = stick_breaking_uniform_init(n)
    else:
        params = initial_params(model_type, n_categories, seed=settings['seed'])
    iters = settings['max_iterations']
    lr = tf.keras.optimizers.schedules.CosineDecay(
        settings['learning_rate'], iters, alpha=settings['final_learning_rate'] / settings['learning_rate'])
    target = prior_target(model_type, n_categories)
    opt = MinimizeEmpiricalLoss(target, model_type, params, ms['temp'], sample_size=settings['sample_size'],
                                learning_rate=lr, max_iterations=iters, threshold=ms.get('threshold', 0.9),
                                truncation_option=ms.get('truncation_option', 'max'), seed=settings['seed'],
                                print_every=max(iters // 4, 1))
    opt.optimize()
    mean_psi, freq = opt.induced_distribution(settings['eval_samples'])
    uniform = target_pmf('uniform', n_categories)
    report = {
        'file': prior_file_name(n_categories, model_type), 'model_type': model_type, 'categories': n_categories,
        'gaussian_dims': n, 'temp': round(opt.temp, 6), 'fit_temp': ms['temp'], 'target': ms['target'],
        'iterations': opt.iterations_run, 'sample_size': settings['sample_size'], 'seconds': round(opt.seconds, 1),
        'final_step_loss': float(opt.loss_history[-1]), 'eval_samples': settings['eval_samples'],
        'kl_mean_psi_to_uniform': float(kl_divergence(mean_psi, uniform)),
        'kl_argmax_freq_to_uniform': float(kl_divergence(freq, uniform)),
        'kl_argmax_freq_to_target': float(kl_divergence(freq, target)),
        'max_abs_freq_error_vs_target': float(np.max(np.abs(freq - target))),
        'argmax_freq': np.round(freq, 5).tolist(),
    }
    p0 = get_family(model_type).exact_probs([tf.constant(opt.params[k], tf.float64) for k in ('mu', 'xi')])
    if p0 is not None:  # the zero-temperature category probabilities have a closed form (IGR-I)
        p0 = p0.numpy().ravel()
        report['kl_zero_temp_exact_to_uniform'] = float(kl_divergence(p0 / p0.sum(), uniform))
    return opt, report


def plot_frequencies(reports, path):
    """Bar chart of the induced category frequencies of each fitted prior."""
    fig, axes = plt.subplots(1, len(reports), figsize=(4 * len(reports), 3), squeeze=False)
    for ax, rep in zip(axes[0], reports):
        freq = np.asarray(rep['argmax_freq'])
        ax.bar(np.arange(freq.size), freq, color='tab:blue', alpha=0.7, label='argmax freq.')
        ax.axhline(1. / freq.size, color='k', ls='--', lw=1, label='1/K')
        ax.set_title(f"{rep['model_type']} K={rep['categories']}\nKL to unif {rep['kl_argmax_freq_to_uniform']:.4f}",
                     fontsize=9)
        ax.set_xlabel('category')
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=None, choices=list(MODEL_SETTINGS))
    parser.add_argument('--categories', nargs='+', type=int, default=None)
    parser.add_argument('--tiny', action='store_true', help='smoke run: few steps and draws')
    args = parser.parse_args(argv)
    settings = TINY_SETTINGS if args.tiny else SETTINGS
    models = args.models or settings['models']
    categories = args.categories or settings['categories']
    for k in categories:
        if k < 2:
            parser.error(f'--categories must be >= 2, got {k}')
    command = ' '.join(['python3', 'approximations/set_prior.py'] + list(argv if argv is not None else sys.argv[1:]))
    out = results_dir()
    report_path = out / REPORT_NAME
    all_reports = read_json(report_path) if report_path.exists() else {}
    new_reports = []
    for k in categories:
        for model_type in models:
            start = time.time()
            opt, rep = fit_uniform_prior(model_type, k, settings)
            save_prior(out / rep['file'], opt.params['mu'], opt.params['xi'])
            rep.update(command=command, wall_seconds=round(time.time() - start, 1),
                       created=time.strftime('%Y-%m-%dT%H:%M:%S'))
            all_reports[rep['file']] = rep
            new_reports.append(rep)
            print(f"{rep['file']}: KL(argmax freq || uniform) {rep['kl_argmax_freq_to_uniform']:.5f}, "
                  f"KL(mean psi || uniform) {rep['kl_mean_psi_to_uniform']:.5f}, "
                  f"KL(argmax freq || target) {rep['kl_argmax_freq_to_target']:.5f}", flush=True)
    report_path.write_text(json.dumps(all_reports, indent=1))
    plot_frequencies(new_reports, out / FIGURE_NAME)
    return new_reports


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
