"""Loaders on the real files: shapes, dtypes, value ranges, split sizes, label counts; integrity and error paths."""
import gzip
import pickle

import numpy as np
import pytest

from Tests.reference import make_tf_datasets
from Utils import load_data, paths

# Label counts of the standard MNIST and Fashion-MNIST splits.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope='module')
def mnist_raw():
    return load_data.load_mnist()


def test_mnist_raw_splits_and_labels(mnist_raw):
    assert mnist_raw['x_train'].shape == (60000, 28, 28) and mnist_raw['x_train'].dtype == np.uint8
    assert mnist_raw['x_test'].shape == (10000, 28, 28)
    assert np.bincount(mnist_raw['y_train']).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist_raw['y_test']).tolist() == MNIST_TEST_COUNTS


@pytest.mark.parametrize('architecture, side', [('dense', 28), ('conv_jointvae', 32)])
def test_mnist_is_binarized(architecture, side):
    spec = load_data.load_dataset('mnist', architecture)
    assert spec.x_train.shape == (60000, side, side, 1) and spec.x_test.shape == (10000, side, side, 1)
    assert spec.x_train.dtype == np.float32 and spec.likelihood == 'bernoulli'
    assert set(np.unique(spec.x_train)) == {0.0, 1.0} and set(np.unique(spec.x_test)) == {0.0, 1.0}
    # About 13% of binarized MNIST pixels are on; a wrong threshold or scale moves this a lot.
    assert 0.10 < spec.x_test.mean() < 0.16


def test_mnist_binarization_threshold_is_half(mnist_raw):
    spec = load_data.load_dataset('mnist', 'dense')
    expected = (mnist_raw['x_test'].astype(np.float64) / 256 > 0.5).astype(np.float32)
    np.testing.assert_array_equal(spec.x_test[..., 0], expected)


def test_fmnist_scaled_not_binarized():
    raw = load_data.load_fmnist()
    assert raw['x_train'].shape == (60000, 28, 28) and raw['x_test'].shape == (10000, 28, 28)
    assert np.bincount(raw['y_train']).tolist() == [6000] * 10
    assert np.bincount(raw['y_test']).tolist() == [1000] * 10
    spec = load_data.load_dataset('fmnist', 'dense')
    assert spec.likelihood == 'gaussian' and spec.x_train.dtype == np.float32
    assert spec.x_train.min() == 0.0 and spec.x_train.max() == 1.0
    assert len(np.unique(spec.x_test[:100])) > 100  # grey levels kept


def test_smoke_mode_is_small():
    spec = load_data.load_dataset('mnist', 'dense', run_with_sample=True)
    assert spec.x_train.shape[0] == load_data.SMOKE_TRAIN_N and spec.x_test.shape[0] == load_data.SMOKE_TEST_N


def _fake_mnist_pickle(path):
    images = np.full((2, 784), 128 / 256, np.float32)
    with gzip.open(path, 'wb') as handle:
        pickle.dump(((images, [0, 1]), (images, [2, 3]), (images, [4, 5])), handle)


def test_hash_check_rejects_corrupted_file(tmp_path):
    bad = tmp_path / 'mnist.pkl.gz'
    _fake_mnist_pickle(bad)
    with pytest.raises(load_data.DataIntegrityError, match=load_data.MNIST_SHA256):
        load_data.convert_mnist_pickle(bad, tmp_path / 'out.npz')
    assert not (tmp_path / 'out.npz').exists()


def test_hash_check_accepts_matching_file(tmp_path, monkeypatch):
    good = tmp_path / 'mnist.pkl.gz'
    _fake_mnist_pickle(good)
    monkeypatch.setattr(load_data, 'MNIST_SHA256', load_data.sha256_of(good))
    out = load_data.convert_mnist_pickle(good, tmp_path / 'out.npz')
    with np.load(out) as data:
        assert data['x_train'].shape == (4, 28, 28) and int(data['x_train'].max()) == 128
        assert data['y_train'].tolist() == [0, 1, 2, 3]


def test_missing_mnist_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_DATA_DIR', str(tmp_path))
    with pytest.raises(load_data.MissingDataError, match='make data'):
        load_data.load_mnist()


def test_missing_fmnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv('IGR_FMNIST_DIR', str(tmp_path))
    with pytest.raises(load_data.MissingDataError, match='dataset-fashion-mnist'):
        load_data.load_dataset('fmnist')


def test_tfds_datasets_without_data_dir_explain(monkeypatch, tmp_path):
    monkeypatch.delenv('TFDS_DATA_DIR', raising=False)
    with pytest.raises(load_data.MissingDataError, match='TFDS_DATA_DIR'):
        load_data.load_dataset('celeb_a', 'conv_jointvae')
    monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
    with pytest.raises(load_data.MissingDataError, match='tfds build omniglot'):
        load_data.load_dataset('omniglot')


@pytest.mark.parametrize('kwargs, bad', [({'dataset_name': 'cifar'}, 'cifar'),
                                         ({'dataset_name': 'mnist', 'architecture': 'resnet'}, 'resnet')])
def test_unknown_names_list_choices(kwargs, bad):
    with pytest.raises(ValueError, match=f"{bad}.*valid choices"):
        load_data.load_dataset(**kwargs)


def test_idx_reader_rejects_truncated_file(tmp_path):
    path = tmp_path / 'bad-idx3-ubyte'
    path.write_bytes(bytes([0, 0, 8, 3]) + (10).to_bytes(4, 'big') + (28).to_bytes(4, 'big') * 2 + b'\x00' * 100)
    with pytest.raises(load_data.DataIntegrityError, match='header'):
        load_data.read_idx(path)


def test_pipelines_have_static_shapes_and_cover_test_set():
    spec = load_data.load_dataset('mnist', 'dense', run_with_sample=True)
    train, test = make_tf_datasets(spec, batch_n=16, seed=0)
    assert train.element_spec.shape.as_list() == [16, 28, 28, 1]
    assert sum(int(batch.shape[0]) for batch in test) == spec.x_test.shape[0]
    assert load_data.test_batch_size(10000) == 1000


def test_paths_are_repo_relative_and_created_on_demand(tmp_path, monkeypatch):
    assert (paths.REPO_ROOT / 'Utils' / 'paths.py').exists()
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path / 'logs'))
    assert paths.log_dir() == (tmp_path / 'logs').resolve() and (tmp_path / 'logs').is_dir()
    monkeypatch.setenv('IGR_RESULTS_DIR', str(tmp_path / 'res'))
    assert paths.results_dir('tables').is_dir()


@pytest.mark.parametrize('damage', ['truncated', 'bit_flipped', 'no_record'])
def test_damaged_mnist_is_refused_and_make_data_repairs_it(tmp_path, monkeypatch, damage):
    """An interrupted copy (truncated), a flipped bit, or a file without its recorded hash: refused on load with a
    message naming the file and the repair; `Utils.fetch_data` (what `make data` runs) re-creates it."""
    import shutil
    from Utils import fetch_data
    good = load_data.mnist_path()
    monkeypatch.setenv('IGR_DATA_DIR', str(tmp_path))
    copy = load_data.mnist_path()
    shutil.copy(good, copy)
    shutil.copy(load_data.hash_record(good), load_data.hash_record(copy))
    data = bytearray(copy.read_bytes())
    if damage == 'truncated':
        copy.write_bytes(bytes(data[:len(data) // 2]))
    elif damage == 'bit_flipped':
        data[len(data) // 3] ^= 0x10
        copy.write_bytes(bytes(data))
    else:
        load_data.hash_record(copy).unlink()
    with pytest.raises(load_data.DataIntegrityError, match=r'mnist\.npz is damaged.*make data'):
        load_data.load_mnist()
    message = fetch_data.fetch_mnist()
    assert 'repaired' in message
    assert load_data.load_mnist()['x_train'].shape == (60000, 28, 28)
    assert 'present' in fetch_data.fetch_mnist()
