"""Records of a trained deep latent Gaussian mixture for the nonparametric experiment's table and figure.

From a DLGMM run's last checkpoint (or `--epoch`), over the 10,000 test images, written into the run folder:
    mixture_weights.json   per component k: the mean over images of E[pi_k | x], the share of images that use it
                           (E[pi_k | x] > USED_WEIGHT, `Models/dlgmm.py`) and the share for which it is the most
                           probable; the histogram of the number of components in use per image; the table of the most
                           probable component against the test label (the clustering behind NMI and ACC).
    component_samples.npz  `samples` (T, SAMPLES, H, W) uint8: per component, SAMPLES decoded draws z ~ N(m_k, I)
                           (pixel means x 255, rounded), seeded; the figure's "decoded samples per component".
    log_likelihood_subset.json  TeLL at S = 100 and S = 1000 on the first SUBSET_IMAGES test images (the same images,
                           the project's estimator, `Models/dlgmm.MixtureLogLikelihood`): how far the S = 100 values
                           of the table are from S = 1000, at a tenth of the cost of S = 1000 on the whole test set.
E[pi_k | x] is exact (`MixtureLatent.expected_log_weights`), over the components of the evaluated model: the test
set's truncation level N of the run's last metrics row (all T for the untruncated types), as the run's TeLL is.
What is recorded already is not computed again. The run's lock is held while writing (as `milestones.py`).

    python3 vae_experiments/dlgmm_records.py --run-dir /scratch/igr_log/vae_mnist_DLGMM_IGR_t1_s5328_k...
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from Utils.tf_quiet import import_tensorflow  # noqa: E402
tf = import_tensorflow()

import argparse  # noqa: E402
import io  # noqa: E402

import numpy as np  # noqa: E402

from Utils.runs import folders  # noqa: E402

WEIGHTS_FILE = 'mixture_weights.json'
SAMPLES_FILE = 'component_samples.npz'
SUBSET_FILE = 'log_likelihood_subset.json'
SAMPLES = 6
SAMPLES_SEED = 0
SUBSET_IMAGES = 1000
SUBSET_S = (100, 1000)


def weight_summary(expected, labels, used_weight):
    """The record of per-image expected weights `expected` (n, T), E[pi_k | x], and labels (n,) (or None)."""
    n, components = expected.shape
    used = expected > used_weight
    best = np.argmax(expected, axis=1)
    record = {'images': int(n), 'components': int(components), 'used_weight': float(used_weight),
              'mean_weight': expected.mean(axis=0).tolist(), 'share_using': used.mean(axis=0).tolist(),
              'share_most_probable': (np.bincount(best, minlength=components) / n).tolist(),
              'components_in_use': {str(k): int(c) for k, c in
                                    enumerate(np.bincount(used.sum(axis=1), minlength=components + 1)) if c}}
    if labels is not None:
        classes = int(labels.max()) + 1
        table = np.zeros((components, classes), np.int64)
        np.add.at(table, (best, labels), 1)
        record['most_probable_by_label'] = table.tolist()
    return record


def expected_weights(model, batches, categories):
    """E[pi_k | x] (n, T) of every test image, with the kept components of the model of `categories` components."""
    latent = model.latent
    mask = latent.fixed_mask(categories)

    @tf.function(autograph=False)
    def batch(x):
        return tf.exp(latent.expected_log_weights(latent.encode(x), mask))
    return np.concatenate([batch(batches[i]).numpy() for i in range(int(batches.shape[0]))])


def component_samples(model, samples=SAMPLES, seed=SAMPLES_SEED):
    """(T, samples, H, W) uint8: decoded z ~ N(m_k, I) for every component k."""
    latent = model.latent
    rng = tf.random.Generator.from_seed(int(seed))
    eps = rng.normal((latent.T, samples, latent.d))
    z = tf.reshape(latent.prior_means[:, None, :] + eps, (-1, latent.d))
    images = latent._pixel_means(z).numpy()
    images = images.reshape((latent.T, samples) + images.shape[1:])[..., 0]
    return np.round(np.clip(images, 0., 1.) * 255.).astype(np.uint8)


def write_records(run_dir, epoch=None, say=print):
    """Every missing record of a DLGMM run folder; returns the names written."""
    from Models import train_vae as tv
    from Models.dlgmm import USED_WEIGHT
    from Utils.load_data import load_dataset
    run_dir = pathlib.Path(run_dir)
    todo = [name for name in (WEIGHTS_FILE, SAMPLES_FILE, SUBSET_FILE) if not (run_dir / name).is_file()]
    if not todo:
        return []
    model, h = tv.load_trained_vae(run_dir, epoch)
    if not getattr(model.latent, 'owns_objective', False):
        raise SystemExit(f'dlgmm_records: {run_dir.name} is not a mixture run (model_type {h["model_type"]!r})')
    rows = {int(r['epoch']): r for r in folders.read_metrics(run_dir)}
    epoch = max(rows) if epoch is None else int(epoch)
    categories = int(rows[epoch]['N'])
    spec = load_dataset(h['dataset_name'], h['architecture'], h['run_with_sample'])
    if WEIGHTS_FILE in todo:
        expected = expected_weights(model, tv._test_batches(spec.x_test), categories)
        labels = None if spec.y_test is None else np.asarray(spec.y_test[:len(expected)], np.int64)
        record = {'epoch': epoch, 'N': categories,
                  **weight_summary(expected, labels, USED_WEIGHT)}
        folders.write_json(run_dir / WEIGHTS_FILE, record)
        say(f'{run_dir.name}: {WEIGHTS_FILE} ({sum(w > USED_WEIGHT for w in record["mean_weight"])} components with '
            f'mean weight > {USED_WEIGHT:g})')
    if SAMPLES_FILE in todo:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, samples=component_samples(model))
        folders.write_bytes(run_dir / SAMPLES_FILE, buffer.getvalue())
        say(f'{run_dir.name}: {SAMPLES_FILE}')
    if SUBSET_FILE in todo:
        record = subset_log_likelihoods(model, spec.x_test[:SUBSET_IMAGES], categories)
        folders.write_json(run_dir / SUBSET_FILE, {'epoch': epoch, 'N': categories, **record})
        say(f'{run_dir.name}: {SUBSET_FILE} (' + ', '.join(f'S = {s}: TeLL {record[str(s)]["TeLL"]:.3f}'
                                                          for s in SUBSET_S) + ')')
    return todo


def subset_log_likelihoods(model, x, categories, samples=SUBSET_S):
    """{'images': n, '<S>': {'TeLL', 'TeLL_se', 'LL_seconds'}} on the images x, for each S in `samples`."""
    from Models import train_vae as tv
    batches = tv._test_batches(x)
    record = {'images': int(len(x))}
    for s in samples:
        result = model.latent.log_likelihood_estimator(model, s, categories=categories)(batches)
        record[str(s)] = {k: result[k] for k in ('TeLL', 'TeLL_se', 'LL_seconds')}
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run-dir', required=True, help='a DLGMM run folder (Log/<run> or $IGR_LOG_DIR/<run>)')
    parser.add_argument('--epoch', type=int, default=None, help='checkpoint epoch (default: the latest)')
    args = parser.parse_args(argv)
    run_dir = pathlib.Path(args.run_dir)
    if not (run_dir / 'config.json').is_file():
        raise SystemExit(f'dlgmm_records: no run folder {run_dir} (no config.json there)')
    from Utils.runs.runstore import RunLock
    with RunLock(run_dir, say=print):
        write_records(run_dir, args.epoch)
    return 0


if __name__ == '__main__':
    from Utils.cli import run_main
    sys.exit(run_main(main))
