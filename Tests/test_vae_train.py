"""Training runs on a few dozen real images: every model type, run folders, save/load, resume, failures."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest

from Models import train_vae as tv
from Models.OptVAE import MODEL_TYPES, OptVAE
from Utils import paths
from Utils.runs import folders, hyper_checks

STEPS_PER_EPOCH = 8  # 40 smoke-mode training images, batch 5


@pytest.fixture(autouse=True)
def log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path))
    return tmp_path


def smoke_hyper(model_type, **overrides):
    family, mixed = MODEL_TYPES[model_type]
    hyper = {'model_type': model_type, 'n_required': 10 if family == 'GS' else 9, 'temp': 0.5, 'epochs': 2,
             'num_of_discrete_var': 10, 'save_every': 1}
    if mixed:
        hyper.update(latent_norm_n=5, num_of_discrete_var=1, run_jv=True, gamma=5.,
                     cont_c_linspace=(0., 5., 100), disc_c_linspace=(0., 2., 100))
        # the Gaussian likelihood with dense networks on one model, conv_jointvae elsewhere
        hyper.update({'dataset_name': 'fmnist', 'architecture': 'dense'} if family == 'GS'
                     else {'architecture': 'conv_jointvae'})
    hyper.update(overrides)
    return hyper


@pytest.mark.parametrize('model_type', list(MODEL_TYPES))
def test_every_model_type_trains_with_finite_decreasing_loss(model_type):
    hyper = smoke_hyper(model_type)
    final = tv.run_vae(hyper, run_with_sample=True)
    rows = folders.read_metrics(final['run_dir'])
    assert [r['epoch'] for r in rows] == [1, 2]
    for row in rows:
        assert all(np.isfinite(row[k]) for k in tv.METRIC_COLUMNS)
    assert rows[1]['TrL'] < rows[0]['TrL']
    assert rows[1]['TeELBO'] > rows[0]['TeELBO']
    assert final['epoch'] == 2 and final['TeELBO'] == rows[1]['TeELBO'] and 'run_dir' in final
    # the importance-weighted log-likelihoods at the default S, once at the end
    assert final['LL_S'] == tv.default_hyper()['log_likelihood_samples']
    assert np.isfinite(final['TeLL']) and np.isfinite(final['TeLLD']) and final['TeLLD_se'] > 0.


def test_run_folder_layout(log_dir):
    final = tv.run_vae(smoke_hyper('IGR_SB_Dis', monitor_gradients=True, epochs=2, save_every=0), True)
    run = log_dir / final['run_dir'].split('/')[-1]
    assert run.name.startswith('vae_mnist_IGR_SB_Dis_t0.5_s0_')
    config = json.loads((run / 'config.json').read_text())
    assert config['experiment'] == 'vae' and config['hyper']['batch_n'] == 5
    assert config['hyper']['iter_per_epoch'] == STEPS_PER_EPOCH and config['hyper']['latent_discrete_n'] == 10
    header = (run / 'metrics.csv').read_text().splitlines()[0]
    assert header == 'epoch,TeELBO,TeELBOC,TeELBOD,TeJV,TeJVC,N,TrL,seconds'
    lines = [l for l in (run / 'train.log').read_text().splitlines() if l.startswith('Epoch')]
    assert lines[0].startswith('Epoch    1 || TeELBO ') and lines[0].endswith(f'sec || i: {STEPS_PER_EPOCH} ||')
    assert 'TeJV' not in lines[0]  # the JointVAE objective is printed only for runs trained on it (csv keeps it)
    assert tv.shown_metrics({'run_jv': True}) == tv.METRIC_COLUMNS
    assert folders.read_status(run)['finished'] and folders.read_status(run)['epochs_done'] == 2
    assert json.loads((run / 'final_metrics.json').read_text())['epoch'] == 2
    grads = folders.read_metrics(run, 'gradients.csv')
    assert [g['epoch'] for g in grads] == [1, 2] and all(0. <= g['vanished_pct'] <= 100. for g in grads)
    assert {p.name for p in (run / 'images').iterdir()} >= {'reconstructions.png', 'samples.png',
                                                           'traversal_discrete.png'}
    assert any((run / 'checkpoints').glob('ckpt-2.index'))  # save_every 0: only the end
    assert not any((run / 'checkpoints').glob('ckpt-1.index'))
    assert any((run / 'tb').iterdir())


def test_save_load_gives_identical_test_metrics():
    final = tv.run_vae(smoke_hyper('IGR_Planar_Dis', epochs=1), run_with_sample=True)
    metrics = tv.evaluate_trained_vae(final['run_dir'], log_likelihood_samples=final['LL_S'])
    for key in ('TeELBO', 'TeELBOC', 'TeELBOD', 'TeJV', 'TeJVC', 'N', 'TeLL', 'TeLLD', 'TeLLD_prior_se'):
        assert metrics[key] == final[key], key
    # a finished run re-run with another S keeps its training and adds the estimate
    again = tv.run_vae(smoke_hyper('IGR_Planar_Dis', epochs=1, log_likelihood_samples=30), True,
                       resume_dir=final['run_dir'])
    assert again['LL_S'] == 30 and again['TeELBO'] == final['TeELBO']
    entries = json.loads((Path(final['run_dir']) / 'log_likelihood.json').read_text())['entries']
    assert [(e['S'], e['epoch']) for e in entries] == [(10, 1), (30, 1)]
    assert 'log-likelihood, S = 30' in (Path(final['run_dir']) / 'train.log').read_text()
    model, hyper = tv.load_trained_vae(final['run_dir'])
    assert hyper['model_type'] == 'IGR_Planar_Dis' and int(model.epoch.numpy()) == 1
    x = np.zeros((3, 28, 28, 1), np.float32)
    psi = model.sample_posterior_psi(x, 7).numpy()
    assert psi.shape == (3, 10, 7, 10)
    np.testing.assert_allclose(psi.sum(axis=1), 1., atol=1e-5)


@pytest.mark.parametrize('model_type, jit', [('GS_Dis', 'auto'), ('IGR_SB_Dis', True)])
def test_resume_after_interruption_continues_without_gaps(monkeypatch, model_type, jit):
    # 'auto' is no XLA in smoke runs; True is the dense networks' default in full runs
    hyper = smoke_hyper(model_type, epochs=4, save_every=2, jit_compile=jit)
    reference = tv.run_vae(hyper, run_with_sample=True)

    original = OptVAE.train_next
    calls = {'n': 0}

    def interrupted(self):
        calls['n'] += 1
        if calls['n'] > 3 * STEPS_PER_EPOCH:  # during epoch 4: epochs 1-3 logged, last checkpoint at epoch 2
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(OptVAE, 'train_next', interrupted)
    with pytest.raises(KeyboardInterrupt):
        tv.run_vae(hyper, run_with_sample=True)
    monkeypatch.setattr(OptVAE, 'train_next', original)
    run_dirs = [p for p in paths.log_dir().iterdir() if p.name != reference['run_dir'].split('/')[-1]]
    assert len(run_dirs) == 1
    run_dir = run_dirs[0]
    assert [r['epoch'] for r in folders.read_metrics(run_dir)] == [1, 2, 3]
    assert folders.read_status(run_dir) == {'epochs_done': 3, 'finished': False, 'checkpoint_epoch': 2}

    resumed = tv.run_vae(resume_dir=run_dir)
    rows = folders.read_metrics(run_dir)
    assert [r['epoch'] for r in rows] == [1, 2, 3, 4]
    assert folders.read_status(run_dir)['finished']
    assert '# resumed at the end of epoch 2' in (run_dir / 'train.log').read_text()
    # the data order and the noise are checkpointed functions of (seed, epoch): resuming is exact
    for key in ('TeELBO', 'TeELBOD', 'TrL'):
        assert resumed[key] == pytest.approx(reference[key], rel=1e-5), key
    with pytest.raises(hyper_checks.HyperError, match='temp'):
        tv.run_vae({**hyper, 'temp': 0.7}, run_with_sample=True, resume_dir=run_dir)


def test_non_finite_loss_stops_with_a_clear_error(monkeypatch):
    original = OptVAE.loss
    monkeypatch.setattr(OptVAE, 'loss', lambda self, terms: original(self, terms) * float('nan'))
    with pytest.raises(tv.NonFiniteLossError, match=r'epoch 1, step 1 .*global iteration 1'):
        tv.run_vae(smoke_hyper('IGR_I_Dis'), run_with_sample=True)
    run_dir = next(paths.log_dir().iterdir())
    assert 'Non-finite' in folders.read_status(run_dir)['error']
    assert not folders.read_status(run_dir)['finished']


def test_run_for_all_cases_leaves_the_callers_dicts_alone():
    hyper = smoke_hyper('GS_Dis', epochs=1)
    model_cases = {'GS_Dis': {'n_required': 10}, 'IGR_I_Dis': {'n_required': 9}}
    before = copy.deepcopy((hyper, model_cases))
    results = tv.run_vae_for_all_cases(hyper, model_cases, temps=[0.5], num_of_repetitions=1, run_with_sample=True)
    assert (hyper, model_cases) == before
    assert [r['model_type'] for r in results] == ['GS_Dis', 'IGR_I_Dis']
    assert len({r['run_dir'] for r in results}) == 2 and all(np.isfinite(r['TeELBO']) for r in results)
