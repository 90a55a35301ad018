"""Memory rows of the speed benchmark (`bench_speed.py`), measured in fresh child processes: one MNIST epoch with its
evaluation, and CelebA's full-size path on mock data of two sizes (projected to the real split).

The children run the entry point (`ENTRY_POINT`) again with a hidden option, `--memory-child` or `--celeb-a-child`,
which its `main` hands to `memory_child` / `celeb_a_child`: a fresh process's peak is that of one epoch, while the
benchmark's own process holds every model of the table."""
import os
import pathlib
import sys
import time

from bench_epochs import time_epoch
from bench_floors import BATCH_N, peak_rss_mb
from bench_vae import build_vae

ENTRY_POINT = pathlib.Path(__file__).resolve().with_name('bench_speed.py')
CELEB_A_TRAIN_N = 162_770


def memory_child(args):
    """Body of the child process that measures the memory of one training epoch (train + evaluation)."""
    from Utils.load_data import load_dataset
    spec = load_dataset('mnist', 'dense')
    model, _ = build_vae(args.memory_child, False, spec)
    model.attach_train_data(spec.x_train)
    time_epoch(model, spec, args.epoch_steps, args.test_n)
    print(f'peak_rss_mb {peak_rss_mb():.1f}')


def child_peak_rss_mb(args, model_type):
    """Peak RSS of a fresh process that loads MNIST, builds `model_type` and runs one epoch with its evaluation."""
    import subprocess
    command = [sys.executable, str(ENTRY_POINT), '--memory-child', model_type,
               '--epoch-steps', str(args.epoch_steps)] + (['--test-n', str(args.test_n)] if args.test_n else [])
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return float(out.split('peak_rss_mb')[-1].split()[0])


def celeb_a_child(n_images):
    """Child body: on mock CelebA of `n_images` per split (the real 218x178x3 uint8 features), build the cache, load
    the full-size path and train one GS_Dis epoch (conv_jointvae 64x64x3, batch 64) with its test evaluation."""
    import tempfile
    import tensorflow_datasets as tfds
    from Utils import load_data
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(TFDS_DATA_DIR=f'{folder}/tfds', IGR_DATA_DIR=f'{folder}/data')
        with tfds.testing.mock_data(num_examples=n_images, policy=tfds.testing.MockPolicy.USE_CODE):
            tic = time.perf_counter()
            spec = load_data.load_dataset('celeb_a', 'conv_jointvae')
            prepare_s = time.perf_counter() - tic
            load_rss = peak_rss_mb()
            cache_mb = sum(load_data.celeb_a_cache_path(s).stat().st_size for s in ('train', 'test')) / 2 ** 20
            model, _ = build_vae('GS_Dis', False, spec, dataset_name='celeb_a', architecture='conv_jointvae')
            model.attach_train_data(spec.x_train)
            train_s, eval_s = time_epoch(model, spec, len(spec.x_train) // BATCH_N, None)
    print(f'celeb_a {prepare_s:.3f} {load_rss:.1f} {peak_rss_mb():.1f} {cache_mb:.2f} {train_s:.3f} {eval_s:.3f}')


def celeb_a_lines(args):
    """Peak RSS of CelebA's full-size path for two sizes, the growth per image and the projection to the real split."""
    import subprocess
    sizes = (128, 256) if args.quick else (2048, 6144)
    results = {}
    for n in sizes:
        command = [sys.executable, str(ENTRY_POINT), '--celeb-a-child', str(n)]
        out = subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        results[n] = [float(v) for v in out.split('celeb_a')[-1].split()]
    (n1, r1), (n2, r2) = sorted(results.items())
    lines = []
    for n, (prepare_s, load_rss, epoch_rss, cache_mb, train_s, eval_s) in sorted(results.items()):
        lines.append(f'| celeb_a memory | mock CelebA, {n} images per split: cache built + loaded (full-size path) | '
                     f'off | {1000 * prepare_s / (2 * n):.2f} per image | {load_rss:,.0f} MB | cache '
                     f'{cache_mb:,.1f} MB | |')
        lines.append(f'| celeb_a memory | ... + one GS_Dis epoch ({n // BATCH_N} steps, 64x64x3) + evaluation | off | '
                     f'{1000 * train_s / (n // BATCH_N):.1f} per step | {epoch_rss:,.0f} MB | | |')
    per_image_kb = 1024 * (r2[2] - r1[2]) / (n2 - n1)
    projected = r2[2] + (CELEB_A_TRAIN_N - n2) * per_image_kb / 1024
    lines.append(f'| celeb_a memory | growth of the epoch peak per training image; projection to {CELEB_A_TRAIN_N:,} '
                 f'| | {per_image_kb:.2f} KB per image | {projected:,.0f} MB projected | | < 3 GB '
                 f'{"met" if projected < 3072 else "MISSED"} |')
    prepare_per_image = r2[0] / (2 * n2)
    lines.append(f'| celeb_a cache | preprocessing time and size projected to the real splits (162,770 + 19,962) | | '
                 f'{prepare_per_image * 182_732 / 60:.1f} min | {182_732 * 64 * 64 * 3 / 2 ** 30:.2f} GiB on disk '
                 f'| | |')
    return lines
