"""The VAE experiments' hyper dict: valid keys, defaults, validation and completion.

No TensorFlow import: the grid scripts' `--status` and the run keys of `Utils/runs/runstore.py` use it on a login node.

    default_hyper()            a fresh dict of defaults
    validate_hyper(hyper)      checked, completed copy (unknown keys and bad values raise HyperError)
    complete_hyper(hyper)      the model-dependent settings (the only function that fills them)
"""
from pathlib import Path

from Utils.runs import hyper_checks
from Utils.load_data import ARCHITECTURES, DATASETS, LIKELIHOODS
from Utils.paths import prior_file_name
from Utils.relaxed.families import FAMILIES

LEARNED_PRIOR = 'learned'
PRIOR_NAMES = ('original_logistic', 'standard_normal', LEARNED_PRIOR)
"""Named values of `prior_file` (Utils.general.NAMED_PRIORS, plus 'learned': the learned uniform prior file)."""
DEFAULT_PRIORS = {('IGR_I', False): 'original_logistic', ('IGR_Planar', False): 'original_logistic',
                  ('IGR_I', True): 'standard_normal', ('IGR_Planar', True): 'standard_normal',
                  ('IGR_SB_Finite', False): LEARNED_PRIOR, ('IGR_SB_Finite', True): LEARNED_PRIOR,
                  ('IGR_SB', False): LEARNED_PRIOR, ('IGR_SB', True): LEARNED_PRIOR}
"""(family, has Gaussian latents) -> the prior the original code gave that model (5eaac6f, Models/OptVAE.py): the
discrete IGR-I / IGR-Planar VAEs `initialize_mu_and_xi_for_logistic`, the JointVAE ones N(0, 1) (never set), the
stick-breaking ones a learned file."""
DECODER_OUTPUTS = ('elu', 'linear')
SAVED_WITHOUT = {'decoder_output': 'linear'}
"""Keys added after runs were made -> the setting a saved config without them was trained with."""

MODEL_TYPES = {
    'GS_Dis': ('GS', False), 'IGR_I_Dis': ('IGR_I', False), 'IGR_Planar_Dis': ('IGR_Planar', False),
    'IGR_SB_Finite_Dis': ('IGR_SB_Finite', False), 'IGR_SB_Dis': ('IGR_SB', False),
    'GS': ('GS', True), 'IGR_I': ('IGR_I', True), 'IGR_Planar': ('IGR_Planar', True),
    'IGR_SB_Finite': ('IGR_SB_Finite', True), 'IGR_SB': ('IGR_SB', True),
}
"""model_type -> (discrete family, has Gaussian latents)."""
MIXTURE_TYPES = {
    'DLGMM_Kumaraswamy': ('kumaraswamy', False), 'DLGMM_Kumaraswamy_SB': ('kumaraswamy', True),
    'DLGMM_IGR': ('logit_normal', False), 'DLGMM_IGR_SB': ('logit_normal', True),
}
"""model_type -> (stick distribution, threshold truncation) of the deep latent Gaussian mixtures (Models/dlgmm.py):
`n_required` components of `latent_norm_n` dimensions each."""
MIXTURE_EXCLUDED = ('monitor_gradients', 'run_jv', 'straight_through')
"""Options of the relaxed-categorical VAEs a mixture does not have (an error when set)."""

SMOKE_BATCH_N = 5
XLA_WINS = {'dense': True, 'conv_jointvae': False, 'dlgmm_dense': True}
"""architecture -> whether XLA made its steps faster (`make bench` on 2 CPU cores: dense floor epoch 19.5 s with XLA
against 23.0 s without; conv floor step at 64x64x3 290 ms against 260 ms, and the JointVAE MNIST evaluation 7.2 s
against 3.1 s); read by jit_compile='auto'."""
DEFAULT_LL_SAMPLES = 10
TRUNCATION_OPTIONS = ('quantile', 'max')  # the stick-breaking maths' choices, kept here TensorFlow-free (tested equal)
DISCRETE_PROBS = ('exact', 'monte_carlo')

HYPER_KEYS = {
    # keys of the original code (SPEC section 2)
    'dataset_name': "dataset: 'mnist' (Bernoulli), 'fmnist', 'celeb_a' (Gaussian), 'omniglot' (Bernoulli)",
    'model_type': 'one of MODEL_TYPES (GS_Dis, IGR_I_Dis, ..., GS, IGR_I, ...) or MIXTURE_TYPES (DLGMM_*)',
    'temp': 'temperature tau > 0',
    'sample_size': 'posterior samples per example and step',
    'n_required': 'per discrete variable: categories for GS, Gaussian dimensions for IGR (9 -> 10 categories); '
                  'for IGR-SB the allocated maximum; for the DLGMM the components allocated (T)',
    'num_of_discrete_param': 'derived: 1 for GS (log_pi), 2 for IGR (mu, xi)',
    'num_of_discrete_var': 'number of discrete variables',
    'num_of_norm_param': 'derived: 2 (mu, xi) for models with Gaussian latents, 0 for *_Dis',
    'num_of_norm_var': 'number of Gaussian latent vectors (models with Gaussian latents; at least 1)',
    'latent_norm_n': 'dimension of each Gaussian latent vector (set to 0 for *_Dis; per component for the DLGMM)',
    'architecture': "'dense' (28x28), 'conv_jointvae' (32x32; 64x64 for celeb_a) or 'dlgmm_dense' (28x28)",
    'learning_rate': 'Adam learning rate',
    'batch_n': 'training batch size (5 in smoke mode)',
    'epochs': 'training epochs',
    'run_jv': 'train on the JointVAE objective instead of the ELBO',
    'gamma': 'JointVAE penalty coefficient',
    'cont_c_linspace': 'JointVAE continuous capacity (start, stop, iterations)',
    'disc_c_linspace': 'JointVAE discrete capacity (start, stop, iterations)',
    'check_every': 'evaluate the test metrics every this many epochs (and at the first and last)',
    'run_with_sample': 'smoke mode: a few dozen images, batch 5',
    'num_of_repetitions': 'runs per case in run_vae_for_all_cases (seeds seed, seed+1, ...)',
    'truncation_option': "IGR-SB truncation statistic: 'quantile' or 'max'",
    'threshold': 'IGR-SB stick precision in (0, 1)',
    'prior_file': "IGR prior: None = the original's for the model (DEFAULT_PRIORS); 'original_logistic' (mu0 = "
                  "log(1/(n-1)), sigma0 = exp(0.5413)), 'standard_normal', 'learned' (Results/mu_xi_unif_<K>_<family>"
                  ".pkl, IGR_Planar uses IGR_I's), or a pickle: a bare file name is looked up in Results/, a path is "
                  'used as is',
    'run_closed_form_kl': 'IGR: closed-form Gaussian KL (True) or the sampled one (False); GS always samples',
    'width_height': 'SOP only (accepted and ignored here)',
    'decoder_output': "activation of the decoder's last layer: None = 'elu' for the Gaussian likelihood (fmnist, "
                      "celeb_a; the original's, which bounds the per-pixel log-density by 0.242 nats), 'linear' for "
                      "the Bernoulli one; 'linear' or 'elu' to choose",
    'iter_per_epoch': 'derived: training steps per epoch (len(train) // batch_n)',
    # keys added by this implementation
    'seed': 'seed of the weights, the data order and the noise',
    'save_every': 'checkpoint every this many epochs (0: only at the end; default 1, the last 2 kept); always at the end',
    'monitor_gradients': 'write the % of vanished gradients d psi / d theta per epoch to gradients.csv',
    'jit_compile': "compile the train and test steps with XLA: True, False or 'auto' (default: XLA for the dense "
                   "networks, where `make bench` measured it faster, not for conv_jointvae, where it was slower, "
                   "nor in smoke runs); config.json records the setting used",
    'discrete_probs': "IGR-I category probabilities for TeELBOD: 'exact' (Gauss quadrature) or 'monte_carlo' "
                      "(frequencies of 100 draws, as for the other IGR families); both take ~3 s per 10,000 test "
                      "images on a 2-core CPU",
    'latent_discrete_n': 'derived: categories per discrete variable seen by the decoder (K; IGR: n_required + 1)',
    'keep_checkpoints': 'epoch checkpoints kept (the last ones; default 2): more for gradient statistics over '
                        'training (vae_experiments/gradient_variance.py)',
    'straight_through': 'decode the one-hot zero-temperature sample in the forward pass and use the relaxed '
                        "sample's gradient (straight-through); GS then trains with the categorical KL",
    'keep_epochs': 'epochs whose checkpoints are kept for good under checkpoints/milestones/ (evaluations at points '
                   'of a long run: posterior_samples.py, gradient_variance.py, log_likelihood.py --epochs)',
    'intra_op_threads': "TensorFlow's intra-op threads (0: its default); a run resumes only with the same setting, "
                        'since it changes the order of float reductions',
    'softmax_delta': "IGR: softmax++'s delta > 0, psi = softmax([lam / tau, log delta]) (default 1, TFP's "
                     "SoftmaxCentered; the ICML-era original used 0.1), an ablation; the discrete model is the "
                     'vertex nearest psi, argmax(lam - tau log delta, 0); GS and the mixtures have none',
    'log_likelihood_samples': 'S of the importance-weighted log-likelihoods TeLL / TeLLD computed once at the end '
                              'of a run (Models/log_likelihood.py); 0: none',
}
VALID_KEYS = tuple(HYPER_KEYS)
DERIVED_KEYS = ('num_of_discrete_param', 'num_of_norm_param', 'latent_discrete_n', 'iter_per_epoch')
"""Keys computed by the code, never taken from the user: a value that differs from the derived one raises HyperError
(the original's tables pass e.g. num_of_discrete_param=1 for GS, which agrees and is accepted)."""
CHECKED_DERIVED_KEYS = DERIVED_KEYS[:3]
"""Checked by `validate_hyper`; `iter_per_epoch` depends on the data and is checked where it is computed
(`Utils.runs.hyper_checks.steps_per_epoch`)."""


def default_hyper():
    """A fresh dict of defaults: IGR-I, 30 variables x 10 categories, binarized MNIST, dense networks."""
    return {
        'dataset_name': 'mnist', 'model_type': 'IGR_I_Dis', 'temp': 0.25, 'sample_size': 1, 'n_required': 9,
        'num_of_discrete_param': 2, 'num_of_discrete_var': 30, 'num_of_norm_param': 0, 'num_of_norm_var': 0,
        'latent_norm_n': 0, 'architecture': 'dense', 'learning_rate': 1e-3, 'batch_n': 64, 'epochs': 100,
        'run_jv': False, 'gamma': 30., 'cont_c_linspace': (0., 5., 25000), 'disc_c_linspace': (0., 5., 25000),
        'check_every': 1, 'run_with_sample': False, 'num_of_repetitions': 1, 'truncation_option': 'quantile',
        'threshold': 0.99, 'prior_file': None, 'run_closed_form_kl': True, 'width_height': (14, 28, 1),
        'iter_per_epoch': None, 'seed': 0, 'save_every': 1, 'monitor_gradients': False, 'jit_compile': hyper_checks.JIT_AUTO,
        'discrete_probs': 'exact', 'latent_discrete_n': None, 'log_likelihood_samples': DEFAULT_LL_SAMPLES,
        'straight_through': False, 'keep_checkpoints': 2, 'keep_epochs': (), 'intra_op_threads': 0,
        'decoder_output': None, 'softmax_delta': 1.0,
    }


def _check_values(h):
    hyper_checks.check_choice('model_type', h['model_type'], tuple(MODEL_TYPES) + tuple(MIXTURE_TYPES))
    hyper_checks.check_choice('dataset_name', h['dataset_name'], DATASETS)
    hyper_checks.check_choice('architecture', h['architecture'], ARCHITECTURES)
    hyper_checks.check_choice('truncation_option', h['truncation_option'], TRUNCATION_OPTIONS)
    hyper_checks.check_choice('discrete_probs', h['discrete_probs'], DISCRETE_PROBS)
    hyper_checks.check_number('temp', h['temp'], low=0., low_open=True)
    for key in ('sample_size', 'n_required', 'num_of_discrete_var', 'batch_n', 'epochs', 'check_every',
                'num_of_repetitions', 'keep_checkpoints'):
        hyper_checks.check_number(key, h[key], low=1, integer=True)
    for key in ('num_of_norm_var', 'latent_norm_n', 'save_every', 'seed', 'log_likelihood_samples'):
        hyper_checks.check_number(key, h[key], low=0, integer=True)
    hyper_checks.check_number('learning_rate', h['learning_rate'], low=0., low_open=True)
    hyper_checks.check_number('softmax_delta', h['softmax_delta'], low=0., low_open=True)
    hyper_checks.check_number('gamma', h['gamma'], low=0.)
    hyper_checks.check_number('threshold', h['threshold'], low=0., low_open=True, high=1.)
    if h['threshold'] >= 1.:
        raise hyper_checks.HyperError(f'bad threshold {h["threshold"]!r}: must be < 1')
    for key in ('run_jv', 'run_with_sample', 'run_closed_form_kl', 'monitor_gradients', 'straight_through'):
        hyper_checks.check_bool(key, h[key])
    hyper_checks.check_jit_compile(h['jit_compile'])
    hyper_checks.check_intra_op_threads(h['intra_op_threads'])
    hyper_checks.check_epoch_list('keep_epochs', h['keep_epochs'])
    for key in ('cont_c_linspace', 'disc_c_linspace'):
        hyper_checks.check_linspace(key, h[key])
    if h['prior_file'] is not None and not isinstance(h['prior_file'], (str, Path)):
        raise hyper_checks.HyperError(f'bad prior_file {h["prior_file"]!r}: expected None, one of {", ".join(PRIOR_NAMES)} or '
                            f'a path')
    if h['decoder_output'] is not None:
        hyper_checks.check_choice('decoder_output', h['decoder_output'], DECODER_OUTPUTS)
    if h['model_type'] in MIXTURE_TYPES:
        _check_mixture(h)
        return
    family = FAMILIES[MODEL_TYPES[h['model_type']][0]]
    if h['softmax_delta'] != 1 and not family.gaussian:
        raise hyper_checks.HyperError(f'bad softmax_delta {h["softmax_delta"]!r}: model_type {h["model_type"]!r} has no '
                                      'softmax++ (only 1 is valid)')
    if family.categories(h['n_required']) < 2:
        raise hyper_checks.HyperError(f'bad n_required {h["n_required"]!r}: {family.name} needs at least 2 categories')


def _check_mixture(h):
    if h['softmax_delta'] != 1:
        raise hyper_checks.HyperError(f'bad softmax_delta {h["softmax_delta"]!r}: model_type {h["model_type"]!r} (a '
                                      'mixture) has no softmax++ (only 1 is valid)')
    if h['n_required'] < 2:
        raise hyper_checks.HyperError(f'bad n_required {h["n_required"]!r}: a mixture needs at least 2 components')
    if h['latent_norm_n'] < 1:
        raise hyper_checks.HyperError(f'bad latent_norm_n {h["latent_norm_n"]!r}: the components need at least 1 dimension')
    for key in MIXTURE_EXCLUDED:
        if h[key]:
            raise hyper_checks.HyperError(f'bad {key} {h[key]!r}: model_type {h["model_type"]!r} (a mixture) has no such option')


def _complete_mixture(h):
    """The DLGMM: one mixture indicator, a Gaussian vector per component, two stick parameters, no IGR prior file."""
    h['num_of_discrete_param'], h['num_of_discrete_var'] = 2, 1
    h['num_of_norm_param'], h['num_of_norm_var'] = 2, int(h['n_required'])
    h['latent_discrete_n'], h['prior_file'] = int(h['n_required']), None
    return h


def complete_hyper(hyper):
    """Fill the model-dependent settings (the only function that does). Returns a new dict.

    - num_of_discrete_param: 1 for GS (log_pi), 2 for IGR (mu, xi);
    - Gaussian latents: num_of_norm_param 2 and num_of_norm_var >= 1 for mixed models (latent_norm_n must be >= 1);
      all three set to 0 for *_Dis models;
    - latent_discrete_n: categories per variable, n_required (GS) or n_required + 1 (IGR);
    - prior_file: the original's prior of the model when not given (DEFAULT_PRIORS); 'learned' becomes the learned
      uniform prior's file name (IGR_Planar uses IGR_I's); None for GS;
    - decoder_output: 'elu' for the Gaussian likelihood, 'linear' for the Bernoulli one, when not given;
    - batch_n: 5 in smoke mode (run_with_sample);
    - jit_compile: 'auto' resolved to True or False (`XLA_WINS`);
    - the mixtures (MIXTURE_TYPES): num_of_discrete_var 1, num_of_norm_var and latent_discrete_n the components.
    """
    h = dict(hyper)
    h = _complete_mixture(h) if h['model_type'] in MIXTURE_TYPES else _complete_relaxed(h)
    if h['decoder_output'] is None:
        h['decoder_output'] = 'elu' if LIKELIHOODS[h['dataset_name']] == 'gaussian' else 'linear'
    if h['run_with_sample']:
        h['batch_n'] = SMOKE_BATCH_N
    h['jit_compile'] = hyper_checks.resolve_jit_compile(h['jit_compile'], XLA_WINS[h['architecture']], h['run_with_sample'])
    for key in ('cont_c_linspace', 'disc_c_linspace', 'width_height'):
        if isinstance(h[key], list):
            h[key] = tuple(h[key])
    h['keep_epochs'] = tuple(sorted(int(e) for e in h['keep_epochs']))
    return h


def _complete_relaxed(h):
    """The relaxed-categorical VAEs (MODEL_TYPES): parameters, Gaussian latents, categories and prior file."""
    name, mixed = MODEL_TYPES[h['model_type']]
    family = FAMILIES[name]
    h['num_of_discrete_param'] = len(family.param_names)
    if mixed:
        if h['latent_norm_n'] < 1:
            raise hyper_checks.HyperError(f'model_type {h["model_type"]!r} has Gaussian latents: latent_norm_n must be >= 1, '
                                f'got {h["latent_norm_n"]!r} (use {h["model_type"]}_Dis for discrete latents only)')
        h['num_of_norm_param'], h['num_of_norm_var'] = 2, max(1, int(h['num_of_norm_var']))
    else:
        h['num_of_norm_param'] = h['num_of_norm_var'] = h['latent_norm_n'] = 0
    h['latent_discrete_n'] = family.categories(h['n_required'])
    if not family.gaussian:
        h['prior_file'] = None
    else:
        prior = DEFAULT_PRIORS[name, mixed] if h['prior_file'] is None else str(h['prior_file'])
        if prior == LEARNED_PRIOR:
            prior = prior_file_name(h['latent_discrete_n'], family.prior_family)
        h['prior_file'] = prior
    return h


def saved_hyper(hyper):
    """The hyper of a saved config.json, with the settings it was trained with for keys added since
    (SAVED_WITHOUT): a Fashion-MNIST run made before `decoder_output` existed had a linear decoder output."""
    return {**SAVED_WITHOUT, **hyper}


def validate_hyper(hyper, run_with_sample=None):
    """Check a hyper dict and return a completed copy (defaults for missing keys, derived keys filled).

    Raises `Utils.runs.hyper_checks.HyperError` (a ValueError) for an unknown key (listing the valid ones), a bad value
    (naming it and the valid choices or range) or a derived key set to another value than the derived one. The
    argument is never modified.
    """
    h = hyper_checks.merged_hyper(hyper, VALID_KEYS, default_hyper(), run_with_sample)
    _check_values(h)
    completed = complete_hyper(h)
    hyper_checks.check_derived(hyper, completed, CHECKED_DERIVED_KEYS)
    return completed
