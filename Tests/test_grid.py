"""Grid cells: stable, complete enumeration; --list / --count / --cell / SLURM_ARRAY_TASK_ID / --smoke / --set."""
import io
import itertools
import subprocess
import sys

import pytest

from Utils.runs import grid
from Utils.paths import REPO_ROOT

BASE = {'dataset_name': 'mnist', 'model_type': 'GS_Dis', 'temp': 0.5, 'epochs': 100, 'seed': 0,
        'num_of_repetitions': 2, 'run_with_sample': False, 'architecture': 'dense', 'n_required': 10}
MODELS = {'GS_Dis': {}, 'IGR_I_Dis': {'n_required': 9}, 'IGR_SB_Dis': {'n_required': 49, 'threshold': 0.9}}
DATASETS = {'mnist': {'architecture': 'dense'}, 'celeb_a': {'architecture': 'conv_jointvae'}}
TEMPS = [0.1, 0.5, 0.67]
SEEDS = [0, 1]


def make_cells():
    return grid.enumerate_cells(BASE, MODELS, DATASETS, TEMPS, SEEDS)


def test_enumeration_complete_and_ordered():
    cells = make_cells()
    assert len(cells) == 3 * 2 * 3 * 2
    keys = [(c['model_type'], c['dataset_name'], c['temp'], c['seed']) for c in cells]
    assert keys == list(itertools.product(MODELS, DATASETS, TEMPS, SEEDS))  # model-major order, complete
    assert len(set(keys)) == len(keys)
    sb = cells[keys.index(('IGR_SB_Dis', 'celeb_a', 0.1, 1))]
    assert sb['n_required'] == 49 and sb['threshold'] == 0.9 and sb['architecture'] == 'conv_jointvae'
    assert sb['epochs'] == 100  # base hyper values reach every cell
    assert cells[0]['n_required'] == 10


def test_enumeration_stable_and_base_untouched():
    before = dict(BASE)
    first, second = make_cells(), make_cells()
    assert first == second
    assert BASE == before
    first[0]['temp'] = 99.0
    assert make_cells()[0]['temp'] == 0.1  # cells are independent copies


def test_defaults_from_hyper_and_per_model_temps():
    cells = grid.enumerate_cells(BASE, ['IGR_I_Dis', 'GS_Dis'])
    assert [(c['model_type'], c['dataset_name'], c['temp'], c['seed']) for c in cells] == [
        ('IGR_I_Dis', 'mnist', 0.5, 0), ('IGR_I_Dis', 'mnist', 0.5, 1),
        ('GS_Dis', 'mnist', 0.5, 0), ('GS_Dis', 'mnist', 0.5, 1)]  # seeds = range(num_of_repetitions)
    cells = grid.enumerate_cells(BASE, ['GS_Dis', 'IGR_I_Dis'], temps={'GS_Dis': [1.0, 0.25]}, seeds=1)
    assert [(c['model_type'], c['temp']) for c in cells] == [('GS_Dis', 1.0), ('GS_Dis', 0.25), ('IGR_I_Dis', 0.5)]


@pytest.mark.parametrize('bad', [dict(model_cases={'GS_Dis', 'IGR_I_Dis'}), dict(model_cases=[]),
                                 dict(model_cases=['GS_Dis', 'GS_Dis']), dict(model_cases=['GS_Dis'], temps=[])])
def test_bad_grids_rejected(bad):
    with pytest.raises(grid.GridError):
        grid.enumerate_cells(BASE, **bad)


def run(argv, environ=None):
    calls, out = [], io.StringIO()
    result = grid.run_grid(make_cells(), lambda cell: calls.append(cell) or cell['seed'], argv=argv,
                           out=out, environ=environ or {})
    return calls, out.getvalue(), result


def test_list_and_count_run_nothing():
    calls, text, result = run(['--list'])
    lines = text.splitlines()
    assert calls == [] and result is None
    assert lines[0] == '36 cells' and len(lines) == 37
    assert lines[1].split() == ['0', 'model_type=GS_Dis', 'dataset_name=mnist', 'temp=0.1', 'seed=0']
    assert lines[-1].split()[0] == '35'
    assert run(['--count'])[1].strip() == '36'


def test_cell_runs_exactly_that_cell():
    cells = make_cells()
    for index in (0, 7, 35):
        calls, _, result = run(['--cell', str(index)])
        assert calls == [cells[index]] and result == [cells[index]['seed']]


def test_slurm_array_task_id_and_offset():
    cells = make_cells()
    calls, _, _ = run([], environ={'SLURM_ARRAY_TASK_ID': '5'})
    assert calls == [cells[5]]
    calls, _, _ = run(['--offset', '30'], environ={'SLURM_ARRAY_TASK_ID': '5'})
    assert calls == [cells[35]]
    calls, _, _ = run([], environ={'SLURM_ARRAY_TASK_ID': '1', 'IGR_CELL_OFFSET': '2'})
    assert calls == [cells[3]]
    calls, _, _ = run(['--cell', '2'], environ={'SLURM_ARRAY_TASK_ID': '5'})  # --cell wins
    assert calls == [cells[2]]


def test_no_flag_runs_all_in_order():
    calls, _, result = run([])
    assert calls == make_cells() and len(result) == 36


@pytest.mark.parametrize('argv, env', [(['--cell', '36'], {}), (['--cell', '-1'], {}),
                                       ([], {'SLURM_ARRAY_TASK_ID': '40'})])
def test_out_of_range_is_a_clear_error(argv, env, capsys):
    with pytest.raises(SystemExit) as exc:
        run(argv, environ=env)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert 'out of range' in err and '36 cells' in err and '0..35' in err


def test_smoke_and_set_overrides():
    seen = []

    def run_cell(cell, smoke=False):
        seen.append((cell, smoke))

    grid.run_grid(make_cells(), run_cell, argv=['--cell', '1', '--smoke', '--set', 'epochs=2',
                                                '--set', 'cont_c_linspace=[0, 5, 25000]', '--set', 'prior_file=x.pkl'],
                  out=io.StringIO(), environ={})
    (cell, smoke), = seen
    assert smoke is True and cell['run_with_sample'] is True and cell['epochs'] == 2
    assert cell['cont_c_linspace'] == [0, 5, 25000] and cell['prior_file'] == 'x.pkl'
    assert cell['seed'] == 1 and make_cells()[1]['epochs'] == 100  # the stored cells are untouched


def test_smoke_without_smoke_mode_is_an_error():
    cells = grid.enumerate_cells({'temp': 0.1}, ['GS'], seeds=1)
    with pytest.raises(SystemExit):
        grid.run_grid(cells, lambda cell: None, argv=['--smoke'], out=io.StringIO(), environ={})


def test_script_command_line(tmp_path):
    """A grid script run as a process: --list prints the cells, --cell runs that one only."""
    script = tmp_path / 'toy_grid.py'
    script.write_text(
        'import sys\n'
        f'sys.path.insert(0, {str(REPO_ROOT)!r})\n'
        'from Utils.runs.grid import enumerate_cells, run_grid\n'
        "hyper = {'temp': 1.0, 'seed': 0, 'epochs': 3}\n"
        "def run_cell(cell):\n"
        "    print('RAN', cell['model_type'], cell['temp'], cell['seed'])\n"
        "if __name__ == '__main__':\n"
        "    run_grid(enumerate_cells(hyper, ['A', 'B'], ['d'], [0.1, 0.2], [0, 1]), run_cell)\n")
    env = {'PATH': '/usr/bin:/bin', 'SLURM_ARRAY_TASK_ID': '6'}
    out = subprocess.run([sys.executable, str(script), '--list'], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.splitlines()[0] == '8 cells' and 'RAN' not in out.stdout
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert [l for l in out.stdout.splitlines() if l.startswith('RAN')] == ['RAN B 0.2 0']
    out = subprocess.run([sys.executable, str(script), '--cell', '9'], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and 'valid cell numbers are 0..7' in out.stderr
