"""CelebA and Omniglot through the real loaders and scripts, on `tfds.testing.mock_data` (random examples with the
real feature shapes and dtypes: CelebA 218x178x3 uint8, Omniglot 105x105x3 uint8), since neither can be downloaded
here. Also the CelebA cache: its layout, crop and resize, and a damaged cache refused and rebuilt."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from Models import train_vae as tv
from Models.vae_hyper import MODEL_TYPES
from Utils import load_data
from Utils.image_store import StoredImages, cache_is_whole

MOCK_N = 64


@pytest.fixture
def mocked(tmp_path, monkeypatch):
    monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'tfds'))
    monkeypatch.setenv('IGR_DATA_DIR', str(tmp_path / 'data'))
    monkeypatch.setenv('IGR_LOG_DIR', str(tmp_path / 'Log'))
    with tfds.testing.mock_data(num_examples=MOCK_N, policy=tfds.testing.MockPolicy.USE_CODE):
        yield tmp_path


def _raw(name, split):
    return load_data._tfds_images(name, split, None)


def test_celeb_a_cache_shapes_ranges_and_the_crop_resize(mocked):
    spec = load_data.load_dataset('celeb_a', 'conv_jointvae')
    assert spec.likelihood == 'gaussian' and spec.streamed and spec.image_shape == (64, 64, 3)
    assert len(spec.x_train) == len(spec.x_test) == MOCK_N
    for split in ('train', 'test'):
        path = load_data.celeb_a_cache_path(split)
        stored = np.load(path, mmap_mode='r')
        assert stored.dtype == np.uint8 and stored.shape == (MOCK_N, 64, 64, 3) and cache_is_whole(path)
        load_data.check_written_file(path)
    batch = spec.x_train[np.array([5, 0, 3])]
    assert batch.dtype == np.float32 and batch.shape == (3, 64, 64, 3) and 0. <= batch.min() and batch.max() <= 1.
    raw = _raw('celeb_a', 'train')  # the mock yields the same examples on every read
    assert raw.shape == (MOCK_N, 218, 178, 3) and raw.dtype == np.uint8
    square = raw[:, 20:198].astype(np.float32) / 255.  # central 178x178 of the 218 rows
    expected = tf.image.resize(square, (64, 64), antialias=True).numpy()
    np.testing.assert_allclose(spec.x_train[:], expected, atol=0.5 / 255 + 1e-6)  # uint8 rounding only


def test_celeb_a_smoke_mode_is_small_and_needs_no_cache(mocked):
    spec = load_data.load_dataset('celeb_a', 'conv_jointvae', run_with_sample=True)
    assert len(spec.x_train) == min(MOCK_N, load_data.SMOKE_TRAIN_N) and len(spec.x_test) == load_data.SMOKE_TEST_N
    assert not load_data.celeb_a_cache_path('train').exists()


def test_damaged_celeb_a_cache_is_refused_and_rebuilt(mocked):
    from Utils import fetch_data
    load_data.load_dataset('celeb_a', 'conv_jointvae')
    path = load_data.celeb_a_cache_path('train')
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 1000])  # an interrupted copy
    assert not cache_is_whole(path)
    spec = load_data.load_dataset('celeb_a', 'conv_jointvae')  # rebuilt on use
    assert cache_is_whole(path) and len(spec.x_train) == MOCK_N
    flipped = bytearray(path.read_bytes())
    flipped[-5] ^= 0x01
    path.write_bytes(bytes(flipped))
    with pytest.raises(load_data.DataIntegrityError, match='celeb_a_64/train.npy is damaged'):
        load_data.check_written_file(path)
    assert 'CelebA: cache' in fetch_data.fetch_celeb_a()  # verifies the hash and rebuilds
    load_data.check_written_file(path)


def test_omniglot_is_binarized_28x28(mocked):
    for architecture, size in (('dense', 28), ('conv_jointvae', 32)):
        spec = load_data.load_dataset('omniglot', architecture)
        assert spec.likelihood == 'bernoulli' and spec.x_train.shape == (MOCK_N, size, size, 1)
        assert set(np.unique(spec.x_train)) <= {0., 1.} and spec.x_train.dtype == np.float32


def test_missing_tfds_data_says_how_to_prepare_it(tmp_path, monkeypatch):
    monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
    with pytest.raises(load_data.MissingDataError, match='tfds build celeb_a'):
        load_data.load_dataset('celeb_a', 'conv_jointvae')


def _smoke(model_type, **extra):
    family_gs = model_type.startswith('GS')
    hyper = {'model_type': model_type, 'dataset_name': 'celeb_a', 'architecture': 'conv_jointvae', 'epochs': 1,
             'n_required': 10 if family_gs else 9, 'num_of_discrete_var': 3, **extra}
    if not model_type.endswith('_Dis'):
        hyper.update(latent_norm_n=4, num_of_norm_var=1, run_jv=True, num_of_discrete_var=1)
    return tv.run_vae(hyper, run_with_sample=True)


@pytest.mark.parametrize('model_type', list(MODEL_TYPES))
def test_every_model_type_trains_on_celeb_a(mocked, model_type):
    final = _smoke(model_type, **({'n_required': 49, 'threshold': 0.9} if model_type.startswith('IGR_SB') and
                                  'Finite' not in model_type else {}))
    assert np.isfinite(final['TeELBO']) and np.isfinite(final['TrL'])


def test_celeb_a_full_size_path_trains_from_the_cache(mocked):
    """Not smoke mode: the memory-mapped cache feeds the steps batch by batch, and resuming gives the same numbers."""
    hyper = {'model_type': 'GS_Dis', 'dataset_name': 'celeb_a', 'architecture': 'conv_jointvae', 'epochs': 2,
             'batch_n': 16, 'n_required': 10, 'num_of_discrete_var': 3}
    first = tv.run_vae({**hyper, 'epochs': 1})
    resumed = tv.run_vae(hyper, resume_dir=first['run_dir'])
    straight = tv.run_vae(hyper)
    for key in ('TeELBO', 'TeELBOD', 'TrL'):
        assert resumed[key] == pytest.approx(straight[key], rel=1e-5)


def test_grid_scripts_run_their_celeb_a_cells(mocked):
    from vae_experiments import discrete_grid, jv_grid
    cells = discrete_grid.grid_cells('table1')
    index = next(i for i, c in enumerate(cells) if c['dataset_name'] == 'celeb_a' and c['model_type'] == 'IGR_SB_Dis')
    (final,) = discrete_grid.main(['--smoke', '--set', 'epochs=1', '--cell', str(index)])
    assert np.isfinite(final['TeELBO'])
    cells = jv_grid.grid_cells('table2')
    index = next(i for i, c in enumerate(cells) if c['dataset_name'] == 'celeb_a')
    (final,) = jv_grid.main(['--smoke', '--set', 'epochs=1', '--cell', str(index)])
    assert np.isfinite(final['TeJV'])


def test_omniglot_trains(mocked):
    final = tv.run_vae({'model_type': 'IGR_I_Dis', 'dataset_name': 'omniglot', 'epochs': 1}, run_with_sample=True)
    assert np.isfinite(final['TeELBO'])


def test_stored_images_index_like_an_array():
    raw = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    images = StoredImages(raw)
    assert len(images) == 2 and images.shape == raw.shape
    np.testing.assert_array_equal(images[[1, 0]], raw[[1, 0]].astype(np.float32) / 255.)
    np.testing.assert_array_equal(np.asarray(images), raw / np.float32(255.))
    with pytest.raises(ValueError, match='uint8'):
        StoredImages(raw.astype(np.float32))


def test_stored_images_read_from_a_file_like_the_array(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(9, 4, 3, 3), dtype=np.uint8)
    path = tmp_path / 'images.npy'
    np.save(path, raw)
    images = StoredImages(path)
    expected = raw.astype(np.float32) / 255.
    for index in ([8, 0, 3, 3], np.array([[1, 2], [7, 0]]), slice(2, 7), slice(None, None, 3), 4, -1, slice(5, 2)):
        np.testing.assert_array_equal(images[index], expected[index])
    with pytest.raises(IndexError):
        images[[9]]
