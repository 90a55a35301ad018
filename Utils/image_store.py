"""Image sets too large to hold as float32 arrays: a uint8 cache on disk, read batch by batch.

CelebA's training split is 162,770 images: 19 GB as the 218x178x3 uint8 originals, 8 GB as float32 64x64x3. It is
preprocessed once (central 178x178 crop, antialiased resize to 64x64, rounded to uint8) into
`<data dir>/celeb_a_64/{train,test}.npy`, streaming the TFDS split in chunks, and then read batch by batch:

    StoredImages(path)    float32 images in [0, 1] on indexing (`x[idx]`, `x[:8]`), uint8 on disk, len/shape
    HostBatches(x, tb)    the test set as (n_batches, tb, H, W, C) batches converted one at a time

A cache file is written to a temporary name and renamed once complete; its sha256 is recorded beside it
(`<file>.sha256`) and its size checked against its header on every load (a truncated copy is refused at once);
`python -m Utils.fetch_data celeb_a` (and `make data` when TFDS_DATA_DIR is set) verifies the full hash.
"""
import os
from pathlib import Path

import numpy as np

CACHE_CHUNK = 512
"""Images per chunk while building a cache: bounds the builder's memory (~0.24 GB of 218x178x3 float32)."""


class StoredImages:
    """uint8 images `(N, H, W, C)` in a .npy file (or an array), float32 in [0, 1] when indexed.

    A file is read with `os.pread` per image (or per contiguous slice), not memory-mapped: read pages stay in the
    kernel's page cache and are not counted in the process's memory, so a run's resident memory does not grow with
    the dataset (a memory map's touched pages would add ~12 KB per 64x64x3 image to its RSS).
    """

    def __init__(self, source, scale=255.):
        if isinstance(source, (str, Path)):
            self.path = Path(source)
            header = np.load(self.path, mmap_mode='r')
            dtype, shape, self._offset = header.dtype, header.shape, header.offset
            del header
            self._fd = os.open(self.path, os.O_RDONLY)
        else:
            self.path, self._fd, array = None, None, np.asarray(source)
            dtype, shape, self._array = array.dtype, array.shape, array
        if dtype != np.uint8 or len(shape) != 4:
            raise ValueError(f'expected uint8 images (N, H, W, C), got {dtype} {shape}')
        self.scale = float(scale)
        self.shape = tuple(shape)
        self.dtype = np.dtype(np.float32)
        self._item = int(np.prod(self.shape[1:]))

    def __len__(self):
        return self.shape[0]

    def _read(self, index):
        if self.path is None:
            return np.asarray(self._array[index])
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                count = max(stop - start, 0)
                raw = os.pread(self._fd, count * self._item, self._offset + start * self._item)
                return np.frombuffer(raw, np.uint8).reshape((count,) + self.shape[1:])
            index = np.arange(start, stop, step)
        rows = np.asarray(index)
        if rows.ndim == 0:
            row = int(rows) + (len(self) if int(rows) < 0 else 0)
            if not 0 <= row < len(self):
                raise IndexError(f'image index {int(rows)} out of range for {len(self)} images')
            return self._read(slice(row, row + 1))[0]
        rows = np.where(rows < 0, rows + len(self), rows)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f'image index out of range for {len(self)} images')
        out = np.empty((rows.size,) + self.shape[1:], np.uint8)
        for k, row in enumerate(rows.ravel()):
            out[k] = np.frombuffer(os.pread(self._fd, self._item, self._offset + int(row) * self._item),
                                   np.uint8).reshape(self.shape[1:])
        return out.reshape(rows.shape + self.shape[1:])

    def __getitem__(self, index):
        return self._read(index).astype(np.float32) / np.float32(self.scale)

    def __array__(self, dtype=None, copy=None):
        return self[:].astype(dtype or np.float32, copy=False)

    def __del__(self):
        if getattr(self, '_fd', None) is not None:
            os.close(self._fd)
            self._fd = None


class HostBatches:
    """A test set split into `n // tb` batches of `tb` images, each converted to a float32 tensor when taken."""

    def __init__(self, images, tb):
        if len(images) % tb:
            raise ValueError(f'the batch size {tb} does not divide the {len(images)} test images')
        self.images, self.tb = images, int(tb)
        self.shape = (len(images) // tb, tb) + tuple(images.shape[1:])

    def __getitem__(self, i):
        import tensorflow as tf
        return tf.constant(self.images[i * self.tb:(i + 1) * self.tb])


def crop_resize_uint8(images, size):
    """218x178 faces (N, H, W, 3) uint8 -> the central W x W square resized to size x size, uint8 (rounded)."""
    import tensorflow as tf
    top = (images.shape[1] - images.shape[2]) // 2
    square = images[:, top:top + images.shape[2]]
    resized = tf.image.resize(square.astype(np.float32) / 255., (size, size), antialias=True).numpy()
    return np.round(np.clip(resized, 0., 1.) * 255.).astype(np.uint8)


def write_cache(chunks, count, image_shape, path, record_sha256):
    """Write `count` images from an iterator of uint8 chunks to `path` (.npy) atomically; returns the path.

    Args:
        chunks: iterator of uint8 arrays (n_i, *image_shape) with sum n_i == count.
        record_sha256: `f(written, final_path)` that records the written file's hash beside `final_path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp.npy')
    header = {'descr': np.lib.format.dtype_to_descr(np.dtype(np.uint8)), 'fortran_order': False,
              'shape': (count,) + tuple(image_shape)}
    done = 0
    try:  # a chunk iterator that raises (a read error, an interrupt) must not leave the temporary file behind
        with open(tmp, 'wb') as handle:  # plain writes, not a memory map: written pages never count in our memory
            np.lib.format.write_array_header_1_0(handle, header)
            for chunk in chunks:
                chunk = np.ascontiguousarray(chunk, np.uint8)
                if chunk.shape[1:] != tuple(image_shape):
                    raise ValueError(f'chunk of shape {chunk.shape} for images of shape {tuple(image_shape)}')
                handle.write(chunk.tobytes())
                done += len(chunk)
        if done != count:
            raise ValueError(f'expected {count} images for {path}, got {done}')
        record_sha256(tmp, path)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def cache_is_whole(path):
    """True when the .npy file's size equals what its header announces (a cheap check against truncation)."""
    try:
        with open(path, 'rb') as handle:
            fmt = np.lib.format
            version = fmt.read_magic(handle)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            offset = handle.tell()
    except (OSError, ValueError):
        return False
    return os.path.getsize(path) == offset + int(np.prod(shape)) * np.dtype(dtype).itemsize
