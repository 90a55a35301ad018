"""Run keys of the shipped records: a code change must never re-key a shipped folder, and a changed model must get a
key of its own (so an old folder is never resumed or tabulated as the new model's run)."""
import json
import re

import pytest

from Utils.paths import REPO_ROOT
from Utils.runs.runstore import key_of_config

SHIPPED = sorted(p for p in (REPO_ROOT / 'Results').glob('runs*/*') if (p / 'config.json').is_file())
UNCHANGED_BY_SETUP = ('GS', 'IGR_SB_Finite')
"""Families whose model the original's priors and decoder output left as they were (MNIST, and every SOP model)."""


def _key_in_name(folder):
    match = re.search(r'_k([0-9a-f]+)(?:_r\d+)?$', folder.name)
    assert match, f'{folder} has no run key in its name'
    return match.group(1)


def test_there_are_shipped_records():
    assert len(SHIPPED) >= 48


@pytest.mark.parametrize('folder', SHIPPED, ids=lambda p: f'{p.parent.name}/{p.name}')
def test_every_shipped_folder_keeps_its_run_key(folder):
    config = json.loads((folder / 'config.json').read_text())
    assert key_of_config(config) == _key_in_name(folder)


def _evidence_cells():
    from structure_output_prediction import sop
    from Utils.runs.grid import enumerate_cells
    from vae_experiments import discrete_grid, jv_grid
    vae = [c for p in ('evidence_mnist_cv', 'evidence_mnist_20', 'evidence_fmnist_cv')
           for c in discrete_grid.grid_cells(p)] + jv_grid.grid_cells('evidence_mnist')
    hyper, models, temps, seeds = sop.settings('evidence')
    return vae, enumerate_cells(hyper, models, None, temps, seeds)


def test_cells_the_setup_left_alone_find_their_shipped_runs_and_changed_ones_do_not():
    from structure_output_prediction import sop
    from vae_experiments import discrete_grid
    vae_cells, sop_cells = _evidence_cells()
    runs = discrete_grid.run_store(REPO_ROOT / 'Results' / 'runs')
    ablation = discrete_grid.run_store(REPO_ROOT / 'Results' / 'runs_ablation_learned_prior')
    for cell in vae_cells:
        family = cell['model_type'].replace('_Dis', '')
        if cell['dataset_name'] == 'mnist' and family in UNCHANGED_BY_SETUP:
            assert runs.current(cell) is not None, cell
        else:
            assert ablation.current(cell) is None, cell   # the learned-prior / linear-output runs keep other keys
    sop_runs = sop.run_store(REPO_ROOT / 'Results' / 'runs')
    assert all(sop_runs.current(cell) is not None for cell in sop_cells)


def test_a_learned_prior_cell_is_the_ablation_run():
    from vae_experiments import discrete_grid
    ablation = discrete_grid.run_store(REPO_ROOT / 'Results' / 'runs_ablation_learned_prior')
    cells = [c for c in discrete_grid.grid_cells('evidence_mnist_20') if c['model_type'] == 'IGR_I_Dis']
    assert cells and all(ablation.current({**c, 'prior_file': 'learned'}) is not None for c in cells)


def test_old_fashion_mnist_configs_read_as_the_linear_decoder():
    from Models.vae_hyper import saved_hyper, validate_hyper
    from Utils.runs.runstore import run_key
    old = {'dataset_name': 'fmnist', 'model_type': 'GS_Dis', 'n_required': 10}
    assert validate_hyper(saved_hyper(old))['decoder_output'] == 'linear'
    assert run_key(validate_hyper(saved_hyper(old))) != run_key(validate_hyper(old))
    mnist = {'dataset_name': 'mnist', 'model_type': 'GS_Dis', 'n_required': 10}
    assert run_key(validate_hyper(saved_hyper(mnist))) == run_key(validate_hyper(mnist))


def test_the_delta_ablation_cells_are_its_shipped_runs_and_delta_one_keeps_the_evidence_keys():
    from vae_experiments import discrete_grid
    shipped = discrete_grid.run_store(REPO_ROOT / 'Results' / 'runs_ablation_delta')
    cells = discrete_grid.grid_cells('ablation_delta')
    assert len(cells) == 8 and all(shipped.current(c) is not None for c in cells)
    evidence = discrete_grid.run_store(REPO_ROOT / 'Results' / 'runs')
    for cell in cells:   # the delta-1 side is the evidence cell of seed 0, delta 0.1 a cell of its own
        assert (evidence.current(cell) is not None) == (cell.get('softmax_delta', 1) == 1), cell


def test_the_paper_budget_delta_ablation_has_the_ten_epoch_ablation_keys_and_not_the_paper_runs_keys():
    """Epochs stay out of the run key: delta 0.1 at 100 epochs is the 10-epoch ablation's cell extended, and differs
    from the delta-1 paper-budget run it is compared with in delta only."""
    from Models.vae_hyper import validate_hyper
    from Utils.runs.runstore import run_key
    from vae_experiments import discrete_grid
    paper = discrete_grid.grid_cells('paper_ablation_delta_cv')
    short = discrete_grid.grid_cells('ablation_delta_cv')
    base = [c for c in discrete_grid.grid_cells('paper_mnist_cv') if c['seed'] == 0]
    keys = [run_key(validate_hyper(c)) for c in paper]
    assert keys == [run_key(validate_hyper(c)) for c in short]
    for cell in paper:
        twin = [b for b in base if b['model_type'] == cell['model_type']]
        assert len(twin) == 1 and {k for k in cell if cell[k] != twin[0].get(k)} == {'softmax_delta'}
        assert run_key(validate_hyper(cell)) != run_key(validate_hyper(twin[0]))
