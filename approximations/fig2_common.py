"""Shared machinery of Figure 2 (fit a relaxed categorical to a target pmf, then plot histograms before/after).

Used by `approximations/discrete_dist_approximation_gs.py` and `approximations/discrete_dist_approximation_igr.py`.
A panel is one (target, number of categories K) pair; for each panel the sampler is fitted with
`Utils.MinimizeEmpiricalLoss.MinimizeEmpiricalLoss` and 10^4 samples are drawn before and after the fit; the
histogram is the frequency of each sample's argmax category.
"""
import numpy as np
import pandas as pd
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt

from Utils.MinimizeEmpiricalLoss import MinimizeEmpiricalLoss
from Utils.general import initial_params, kl_divergence, stick_breaking_uniform_init, target_pmf

TARGET_LABELS = {'ten_categories': '10-category pmf', 'binomial': 'Binomial(12, 0.3)', 'poisson': 'Poisson(50)',
                 'negative_binomial': 'NegBinomial(50, 0.6)'}


def argmax_frequencies(psi):
    """Frequencies of argmax over the categories of samples psi (K, S) -> (K,)."""
    return np.bincount(psi.argmax(axis=0), minlength=psi.shape[0]) / psi.shape[1]


def fit_panel(model_type, target, n_categories, s):
    """Fit one panel. s: settings dict (temp, sample_size, learning_rate, max_iterations, threshold,
    truncation_option, plot_samples, seed, init). Returns a dict with the pmf, histograms, history and KLs."""
    p = target_pmf(target, n_categories)
    if s.get('init') == 'stick_uniform':
        params = stick_breaking_uniform_init(n_categories - 1)
    else:
        params = initial_params(model_type, n_categories, seed=s['seed'])
    opt = MinimizeEmpiricalLoss(p, model_type, params, s['temp'], sample_size=s['sample_size'],
                                learning_rate=s['learning_rate'], max_iterations=s['max_iterations'],
                                loss_type=s.get('loss_type', 'kl'), threshold=s.get('threshold', 0.9),
                                truncation_option=s.get('truncation_option', 'max'), seed=s['seed'])
    before = argmax_frequencies(opt.sample_psi(s['plot_samples']))
    opt.optimize()
    psi_after = opt.sample_psi(s['plot_samples'])
    after = argmax_frequencies(psi_after)
    return {'target': target, 'K': n_categories, 'pmf': p, 'before': before, 'after': after,
            'loss_history': opt.loss_history, 'n_required_history': opt.n_required_history,
            'kl_before': float(kl_divergence(before, p)), 'kl_after': float(kl_divergence(after, p)),
            'kl_mean_psi_after': float(kl_divergence(psi_after.mean(axis=1), p)),
            'tv_before': 0.5 * float(np.abs(before - p).sum()), 'tv_after': 0.5 * float(np.abs(after - p).sum()),
            'final_step_loss': float(opt.loss_history[-1]), 'n_required_last': int(opt.n_required_history[-1]),
            'seconds': round(opt.seconds, 1)}


def plot_panels(results, title, path, n_cols):
    """Grid of histograms: target pmf (black line), samples before (grey) and after (blue) the fit."""
    n_rows = int(np.ceil(len(results) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.0 * n_rows), squeeze=False)
    for ax, r in zip(axes.ravel(), results):
        k = np.arange(r['K'])
        last = max(int(np.nonzero((r['pmf'] > 1e-4) | (r['after'] > 2e-3))[0].max()) + 2, 10)
        last = min(last, r['K'])
        ax.bar(k[:last], r['before'][:last], width=1.0, color='0.75', alpha=0.8, label='before')
        ax.bar(k[:last], r['after'][:last], width=1.0, color='tab:blue', alpha=0.6, label='after')
        ax.plot(k[:last], r['pmf'][:last], 'k.-', lw=1, ms=3, label='target')
        ax.set_title(f"{TARGET_LABELS.get(r['target'], r['target'])}, K={r['K']}\n"
                     f"TV {r['tv_before']:.2f} -> {r['tv_after']:.2f}, KL {r['kl_before']:.2f} -> {r['kl_after']:.2f}",
                     fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(results):]:
        ax.axis('off')
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_frame(results):
    """One row per panel: target, K, KL and total variation (TV) of the sample frequencies to the target before/after
    the fit, KL of mean psi after, last step loss, n_required at the last step, seconds.

    Target categories with probability 0 (e.g. the padding of the 10-category pmf, or Binomial(12, .) beyond 12)
    enter the KL through the floor p >= 1e-10, so a small leak of mass there costs about 23 nats per unit of mass;
    the TV distance is the easier number to read.
    """
    keys = ('target', 'K', 'kl_before', 'kl_after', 'kl_mean_psi_after', 'tv_before', 'tv_after', 'final_step_loss',
            'n_required_last', 'seconds')
    return pd.DataFrame([{k: r[k] for k in keys} for r in results])
