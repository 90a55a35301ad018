"""The cluster files: Singularity definition sections, the Slurm batch script and the Slurm smoke script."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from Utils.paths import REPO_ROOT

DEF_FILE = REPO_ROOT / 'igr_singularity.def'
SBATCH = REPO_ROOT / 'igr_slurm.sbatch'
SMOKE = REPO_ROOT / 'Tests' / 'slurm' / 'run_slurm_smoke.sh'


def sections(text):
    """Header lines and the body of each %section of a definition file."""
    parts, name = {'header': []}, 'header'
    for line in text.splitlines():
        match = re.match(r'^%(\w+)\s*$', line)
        if match:
            name = match.group(1)
            parts[name] = []
        else:
            parts[name].append(line)
    return {k: '\n'.join(v) for k, v in parts.items()}


@pytest.fixture(scope='module')
def definition():
    return sections(DEF_FILE.read_text())


def pinned_tensorflow():
    for line in (REPO_ROOT / 'requirements.txt').read_text().splitlines():
        match = re.fullmatch(r'tensorflow==([\d.]+)', line.strip())
        if match:
            return match.group(1)
    raise AssertionError('requirements.txt does not pin tensorflow')


def test_def_base_image_matches_pinned_tensorflow(definition):
    header = definition['header']
    assert re.search(r'^Bootstrap:\s*docker\s*$', header, re.M)
    base = re.search(r'^From:\s*(\S+)\s*$', header, re.M).group(1)
    assert base == f'tensorflow/tensorflow:{pinned_tensorflow()}-gpu'
    assert re.search(r'driver must support\s+#?\s*CUDA 12: >= \d{3}\.\d+\.\d+', header), 'host driver requirement'
    assert '--nv' in header and 'CUDA' in header


def test_def_sections(definition):
    for name in ('labels', 'help', 'files', 'environment', 'post', 'runscript', 'test'):
        assert definition.get(name, '').strip(), f'%{name} section missing or empty'
    assert re.search(r'requirements\.txt\s+/opt/igr/requirements\.txt', definition['files'])
    assert re.search(r'pip install .*-r /opt/igr/requirements\.txt', definition['post'])
    assert 'exec python3 "$@"' in definition['runscript'] and 'Utils/paths.py' in definition['runscript']
    assert 'tensorflow' in definition['test'] and 'requirements.txt' in definition['test']


def test_def_smoke_check_is_valid_python(definition):
    body = definition['test']
    snippet = body[body.index("<<'EOF'") + len("<<'EOF'"):body.rindex('EOF')]
    compile(snippet, '%test', 'exec')


def test_def_runscript_runs_from_repository_root(definition, tmp_path):
    runscript = tmp_path / 'runscript.sh'
    runscript.write_text(definition['runscript'] + '\n')
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin')}
    if not shutil.which('python3', path=env['PATH']):
        pytest.skip('no python3 on PATH')
    out = subprocess.run(['sh', str(runscript), '-c', 'import os; print(os.getcwd())'], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2 and 'not the repository root' in out.stderr
    out = subprocess.run(['sh', str(runscript), '-c', 'import os; print(os.getcwd())'], cwd=tmp_path,
                         capture_output=True, text=True, env={**env, 'IGR_REPO': str(REPO_ROOT)})
    assert out.returncode == 0 and out.stdout.strip() == str(REPO_ROOT)
    out = subprocess.run(['sh', str(runscript)], cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 2 and 'usage' in out.stderr


def test_sbatch_directives_and_syntax():
    text = SBATCH.read_text()
    assert text.startswith('#!/bin/bash')
    assert re.search(r'^#SBATCH --output=Log/slurm/%x_%A_%a\.out$', text, re.M)  # one log per array task
    assert re.search(r'^#SBATCH --gres=gpu:1$', text, re.M)
    assert 'SLURM_ARRAY_TASK_ID' in text and '--cell' in text and '--direct' in text and '--nv' in text
    assert subprocess.run(['bash', '-n', str(SBATCH)]).returncode == 0
    assert subprocess.run(['bash', '-n', str(SMOKE)]).returncode == 0


def run_sbatch(tmp_path, args, **env):
    environ = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'SLURM_SUBMIT_DIR': str(REPO_ROOT),
               'IGR_LOG_DIR': str(tmp_path / 'Log'), 'IGR_PYTHON': sys.executable, **env}
    return subprocess.run(['bash', str(SBATCH), *args], cwd=tmp_path, capture_output=True, text=True, env=environ)


def test_sbatch_direct_runs_the_array_task_cell(tmp_path):
    """Outside Slurm, with the variables Slurm would set: task 1 runs cell 1 of the stand-in grid."""
    out = run_sbatch(tmp_path, ['--direct', 'Tests/slurm/smoke_grid.py', '--smoke'], SLURM_ARRAY_TASK_ID='1',
                     SLURM_ARRAY_JOB_ID='77')
    assert out.returncode == 0, out.stderr
    assert '--cell 1 --smoke' in out.stdout and 'exit status 0' in out.stdout
    runs = list((tmp_path / 'Log').iterdir())
    assert len(runs) == 1
    config = json.loads((runs[0] / 'config.json').read_text())
    assert config['hyper']['model_type'] == 'IGR_I_Dis' and (runs[0] / 'metrics.csv').is_file()


def test_sbatch_offset_out_of_range_and_missing_image(tmp_path):
    out = run_sbatch(tmp_path, ['--direct', 'Tests/slurm/smoke_grid.py'], SLURM_ARRAY_TASK_ID='1',
                     IGR_CELL_OFFSET='4')
    assert out.returncode == 2 and 'valid cell numbers are 0..1' in out.stderr
    out = run_sbatch(tmp_path, ['Tests/slurm/smoke_grid.py'], SLURM_ARRAY_TASK_ID='0',
                     IGR_IMAGE=str(tmp_path / 'missing.sif'))
    assert out.returncode == 2 and '--direct' in out.stderr
    out = run_sbatch(tmp_path, [])
    assert out.returncode == 2 and 'usage' in out.stderr


def test_cuda_probe_line_is_dropped_only_without_a_gpu(tmp_path):
    """A fresh interpreter on this GPU-less machine: no `failed call to cuInit` line, other stderr kept."""
    import subprocess
    import sys
    from pathlib import Path
    from Utils.tf_quiet import has_nvidia_device
    repo = Path(__file__).resolve().parents[1]
    code = ('import sys; sys.path.insert(0, "."); from Utils.tf_quiet import import_tensorflow; '
            'tf = import_tensorflow(); tf.constant(1.) + 1.; print("E kept line", file=sys.stderr)')
    result = subprocess.run([sys.executable, '-c', code], cwd=repo, capture_output=True, text=True,
                            env={**__import__('os').environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
    assert result.returncode == 0, result.stderr
    assert 'E kept line' in result.stderr
    if not has_nvidia_device():
        assert 'cuInit' not in result.stderr, result.stderr


def test_start_up_lines_are_dropped_and_real_warnings_and_tracebacks_kept():
    """`--help` without TF_CPP_MIN_LOG_LEVEL prints its usage only; a warning and a traceback after the filter is on,
    and a line from TensorFlow's C++ logging at the first XLA compilation, all still reach stderr (or are dropped)."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    from Utils.tf_quiet import START_LINES
    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
    result = subprocess.run([sys.executable, 'vae_experiments/mnist_vae.py', '--help'], cwd=repo,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.startswith('usage:')
    assert result.stderr == '', result.stderr
    code = ('import sys, warnings; sys.path.insert(0, "."); from Utils.tf_quiet import import_tensorflow; '
            'tf = import_tensorflow(); tf.function(lambda x: x * 2., jit_compile=True)(tf.ones(3)); '
            'warnings.warn("a real warning"); raise RuntimeError("boom")')
    result = subprocess.run([sys.executable, '-c', code], cwd=repo, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert 'UserWarning: a real warning' in result.stderr and 'RuntimeError: boom' in result.stderr
    assert 'Traceback (most recent call last)' in result.stderr
    assert not any(marker in result.stderr for marker in START_LINES), result.stderr
