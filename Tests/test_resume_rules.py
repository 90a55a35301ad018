"""Utils/runs/resume.py: which hyper a run starts or is taken up with (the VAE and SOP drivers share it)."""
import pytest

from Utils.runs import folders
from Utils.runs.hyper_checks import HyperError
from Utils.runs.resume import ResumeRules, hyper_to_run

DEFAULTS = {'epochs': 10, 'temp': 1.0, 'log_likelihood_samples': 0, 'iter_per_epoch': 5}


def _validate(hyper, run_with_sample=None):
    return {**DEFAULTS, **hyper, 'smoke': bool(run_with_sample)}


RULES = ResumeRules('run_toy', _validate, tuple(DEFAULTS), ('epochs', 'log_likelihood_samples'), ('iter_per_epoch',))


def _saved_run(tmp_path, **hyper):
    folders.write_json(tmp_path / 'config.json', {'hyper': _validate(hyper)})
    return tmp_path


def test_a_new_run_takes_the_validated_hyper_and_needs_one():
    assert hyper_to_run({'temp': 0.5}, True, None, None, RULES) == ({**DEFAULTS, 'temp': 0.5, 'smoke': True}, None)
    with pytest.raises(HyperError, match='run_toy needs a hyper dict'):
        hyper_to_run(None, None, None, None, RULES)


def test_a_folder_with_a_config_is_resumed_with_its_saved_hyper(tmp_path):
    run = _saved_run(tmp_path, temp=0.5, epochs=4)
    assert hyper_to_run(None, None, None, run, RULES) == (_validate({'temp': 0.5, 'epochs': 4}), run)
    assert hyper_to_run({'temp': 9.0}, None, None, tmp_path / 'new', RULES)[1] is None  # no config.json: a new run


def test_a_resume_may_grow_epochs_and_reset_the_listed_keys_only(tmp_path):
    run = _saved_run(tmp_path, temp=0.5, epochs=4, iter_per_epoch=7)
    h, _ = hyper_to_run({'temp': 0.5, 'epochs': 8, 'log_likelihood_samples': 100}, None, run, None, RULES)
    assert (h['epochs'], h['log_likelihood_samples'], h['iter_per_epoch']) == (8, 100, 7)
    assert hyper_to_run({'temp': 0.5, 'epochs': 2}, None, run, None, RULES)[0]['epochs'] == 4   # never shrinks
    with pytest.raises(HyperError, match=r"\['temp'\] differ \(only epochs, log_likelihood_samples may change\)"):
        hyper_to_run({'temp': 0.7, 'epochs': 4}, None, run, None, RULES)
