"""The speed benchmark (`make bench`, Tests/benchmarks/bench_speed.py) runs and prints its table.

A few steps of a few rows only: this checks that the script works, never how fast anything is.
"""
import importlib.util
import pathlib

import pytest

from Utils.load_data import MissingDataError, load_mnist

BENCH = pathlib.Path(__file__).resolve().parent / 'benchmarks' / 'bench_speed.py'


def _load_bench():
    spec = importlib.util.spec_from_file_location('bench_speed', BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_prints_its_table(capsys):
    try:
        load_mnist()
    except MissingDataError:
        pytest.skip('MNIST is not on this machine (make data)')
    bench = _load_bench()
    text = bench.main(['--quick', '--steps', '2', '--warmup', '1', '--rounds', '1', '--jit', 'off',
                       '--models', 'IGR_SB_Dis', '--sop-models', 'IGR_I', '--jv-models', 'IGR_Planar', '--samplers', 'IGR_I',
                       '--sample-sizes', '2', '--epoch-models', 'GS_Dis,IGR_SB_Dis', '--epoch-steps', '2', '--test-n', '100',
                       '--skip', 'memory'])
    printed = capsys.readouterr().out
    assert text in printed
    lines = [line for line in text.splitlines() if line.startswith('|')]
    assert lines[0].startswith('| section | case | XLA | median ms |')
    cases = {tuple(cell.strip() for cell in line.strip('|').split('|')[:2]) for line in lines[2:]}
    for expected in [('vae', 'floor (Gaussian softmax)'), ('vae', 'IGR_SB_Dis'), ('sop', 'floor (Gaussian sigmoid)'),
                     ('sop', 'IGR_I'), ('conv mnist', 'conv floor (Gaussian softmax)'),
                     ('conv mnist', 'JointVAE IGR_Planar'), ('conv celeb_a', 'JointVAE IGR_Planar'),
                     ('epoch', 'JointVAE IGR_Planar: 2 steps + test evaluation'), ('epoch', 'floor: 2 steps'),
                     ('epoch', 'GS_Dis: 2 steps + test evaluation'),
                     ('epoch', 'IGR_SB_Dis K=50: 2 steps + test evaluation'),
                     ('sampler', 'TFP RelaxedOneHotCategorical S=2'), ('sampler', 'IGR_I S=2'),
                     ('quadrature', 'compute_igr_probs, 100 images x 30 variables'),
                     ('monitor', 'IGR_SB_Dis K=50 + gradient monitor'),
                     ('straight_through', 'IGR_SB_Dis K=10 straight-through'),
                     ('checkpoint', 'GS_Dis: one epoch checkpoint (keep 2), vs its 937-step training epoch'),
                     ('memory', 'peak RSS of this benchmark process (every model above alive)')]:
        assert expected in cases, (expected, text)
    assert 'n/a' not in text, text

