"""Hyper validation and the model-dependent settings of the VAE runs (no training)."""
import copy

import pytest

from Models import train_vae as tv
from Models.OptVAE import MODEL_TYPES
from Utils.runs.hyper_checks import HyperError


def test_defaults_are_valid_and_fresh():
    a, b = tv.default_hyper(), tv.default_hyper()
    assert a == b and a is not b
    assert set(a) == set(tv.VALID_KEYS)
    h = tv.validate_hyper(a)
    assert h['latent_discrete_n'] == 10 and h['num_of_discrete_param'] == 2


def test_unknown_key_raises_with_the_valid_keys():
    with pytest.raises(HyperError) as err:
        tv.validate_hyper({'model_type': 'GS_Dis', 'learning_rat': 1e-3})
    assert "'learning_rat'" in str(err.value)
    for key in ('learning_rate', 'model_type', 'monitor_gradients', 'save_every', 'seed'):
        assert key in str(err.value)


@pytest.mark.parametrize('key, value, words', [
    ('model_type', 'ExpGSDis', ['ExpGSDis', 'GS_Dis', 'IGR_SB_Finite']),
    ('dataset_name', 'cifar', ['cifar', 'mnist', 'fmnist', 'celeb_a']),
    ('architecture', 'resnet', ['resnet', 'dense', 'conv_jointvae']),
    ('truncation_option', 'median', ['median', 'quantile', 'max']),
    ('temp', 0., ['temp', '0']),
    ('temp', -0.5, ['temp', '-0.5']),
    ('threshold', 1.0, ['threshold']),
    ('batch_n', 0, ['batch_n']),
    ('epochs', 1.5, ['epochs', 'integer']),
    ('run_jv', 'no', ['run_jv']),
    ('cont_c_linspace', (0., 5.), ['cont_c_linspace']),
])
def test_bad_values_raise_naming_value_and_choices(key, value, words):
    with pytest.raises(HyperError) as err:
        tv.validate_hyper({key: value})
    for word in words:
        assert word in str(err.value)


def test_hyper_is_never_mutated():
    hyper = {'model_type': 'IGR_SB', 'latent_norm_n': 10, 'cont_c_linspace': [0., 5., 100], 'run_with_sample': False}
    before = copy.deepcopy(hyper)
    h = tv.validate_hyper(hyper, run_with_sample=True)
    assert hyper == before
    assert h['run_with_sample'] is True and h['batch_n'] == tv.SMOKE_BATCH_N
    assert h['cont_c_linspace'] == (0., 5., 100)


@pytest.mark.parametrize('model_type', list(MODEL_TYPES))
def test_model_dependent_settings(model_type):
    family, mixed = MODEL_TYPES[model_type]
    n = 10 if family == 'GS' else 9
    hyper = {'model_type': model_type, 'n_required': n, 'latent_norm_n': 10, 'num_of_norm_var': 0}
    for key in ('num_of_discrete_param', 'num_of_norm_param', 'latent_discrete_n'):  # derived: set, they must agree
        with pytest.raises(HyperError, match=key):
            tv.validate_hyper({**hyper, key: 7})
    h = tv.validate_hyper(hyper)
    assert tv.validate_hyper({**hyper, **{k: h[k] for k in ('num_of_discrete_param', 'num_of_norm_param',
                                                              'latent_discrete_n')}}) == h
    assert h['num_of_discrete_param'] == (1 if family == 'GS' else 2)
    assert h['latent_discrete_n'] == 10
    if mixed:
        assert (h['num_of_norm_param'], h['num_of_norm_var'], h['latent_norm_n']) == (2, 1, 10)
    else:
        assert (h['num_of_norm_param'], h['num_of_norm_var'], h['latent_norm_n']) == (0, 0, 0)
    original = 'standard_normal' if mixed else 'original_logistic'   # the original's priors (DEFAULT_PRIORS)
    expected_prior = {'GS': None, 'IGR_I': original, 'IGR_Planar': original,
                      'IGR_SB_Finite': 'mu_xi_unif_10_IGR_SB_Finite.pkl', 'IGR_SB': 'mu_xi_unif_10_IGR_SB.pkl'}
    assert h['prior_file'] == expected_prior[family]


def test_explicit_prior_file_and_mixed_model_without_gaussian_dims():
    h = tv.validate_hyper({'model_type': 'IGR_SB_Dis', 'n_required': 49,
                           'prior_file': 'mu_xi_unif_50_IGR_SB_Finite.pkl'})
    assert h['prior_file'] == 'mu_xi_unif_50_IGR_SB_Finite.pkl' and h['latent_discrete_n'] == 50
    assert tv.resolve_prior_path(h['prior_file']).name == 'mu_xi_unif_50_IGR_SB_Finite.pkl'
    with pytest.raises(HyperError, match='latent_norm_n'):
        tv.validate_hyper({'model_type': 'IGR_I', 'latent_norm_n': 0})
    with pytest.raises(HyperError, match='GS needs at least 2'):
        tv.validate_hyper({'model_type': 'GS_Dis', 'n_required': 1})


def test_shipped_priors_match_their_dimensions():
    for family in ('IGR_I', 'IGR_SB_Finite', 'IGR_SB'):
        for categories in (10, 50):
            h = tv.validate_hyper({'model_type': f'{family}_Dis', 'n_required': categories - 1})
            prior = tv.load_prior_for(h)
            assert prior['mu'].shape == prior['xi'].shape == (1, categories - 1, 1, 1)
    assert tv.load_prior_for(tv.validate_hyper({'model_type': 'GS_Dis', 'n_required': 10})) is None


def test_the_hyper_checks_truncation_options_are_the_samplers():
    """Models/vae_hyper.py keeps its own copy (it must not import TensorFlow, which the stick-breaking maths does)."""
    from Models import vae_hyper
    from Utils.relaxed import stick_breaking
    assert vae_hyper.TRUNCATION_OPTIONS == stick_breaking.TRUNCATION_OPTIONS
