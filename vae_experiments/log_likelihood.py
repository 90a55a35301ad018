"""Marginal log-likelihoods of trained VAEs: importance-weighted TeLL (relaxed model) and TeLLD (discrete model).

What it computes
    For every selected VAE run folder and every S in --samples, the estimates of `Models/log_likelihood.py` at the
    run's last epoch (from its final checkpoint), kept in `<run>/log_likelihood.json` (computed once per S and
    epoch; runs without weights, e.g. the shipped `Results/runs`, keep what they have). Then the table
    `Results/tables/log_likelihood.{md,csv}`: per (dataset, model, temperature), mean ± std over seeds of TeELBO,
    TeELBOD, TeLL, TeLLD at the largest S of each run.

Usage
    python3 vae_experiments/log_likelihood.py --samples 100 1000           # runs in Log/ (or $IGR_LOG_DIR)
    python3 vae_experiments/log_likelihood.py --log-dir Results/runs --table-only
    python3 vae_experiments/log_likelihood.py --samples 5000 --model IGR_I_Dis --dataset mnist

Expected run time: per 10,000 MNIST test images about (S / 100) x 30 s on a 2-core CPU (see docs/vae.md, "Marginal
log-likelihood"); the table alone takes seconds.
"""
import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import resource  # noqa: E402

from Utils.results import results_io  # noqa: E402

TABLE = dict(name='log_likelihood', title='Marginal log-likelihood: importance-weighted estimates (nats per image)',
             metrics=('TeELBO', 'TeELBOD', 'TeLL', 'TeLLD', 'TeLLD_prior_se', 'LL_S'),
             notes=('TeLL: relaxed model (latents on the simplex); TeLLD: discrete model (one-hot latents); '
                    'log-mean-exp of S importance weights, a lower bound in expectation that tightens with S '
                    '(Models/log_likelihood.py). TeELBO / TeELBOD: the bounds of the same runs (S = 1 analogues).',
                    'TeLLD_prior_se: error of TeLLD from the Monte Carlo prior probabilities (IGR-Planar, IGR-SB; '
                    '0 where exact). LL_S: importance samples per image.'))


def select_runs(args):
    filters = {}
    if args.model:
        filters['model_type'] = list(args.model)
    if args.dataset:
        filters['dataset_name'] = list(args.dataset)
    if args.temp:
        filters['temp'] = list(args.temp)
    runs = results_io.collect_runs(args.log_dir, experiment='vae', finished_only=not args.include_unfinished,
                                   include_smoke=args.include_smoke, **filters)
    if args.run:
        missing = sorted(set(args.run) - set(runs['run_name']))
        if missing:
            raise SystemExit(f'no such finished run folder(s) in the selection: {", ".join(missing)}')
        runs = runs[runs['run_name'].isin(args.run)]
    return runs


def _selected(runs, args):
    """Runs with a log-likelihood estimate, of the chosen models and datasets."""
    keep = runs['TeLLD'].notna() if 'TeLLD' in runs.columns else runs['run_name'].isna()
    if args.model:
        keep &= runs['model_type'].isin(args.model)
    if args.dataset:
        keep &= runs['dataset_name'].isin(args.dataset)
    return keep


def compute_missing(runs, samples, chunk=None):
    """Estimate and record every S not yet in a run's log_likelihood.json (at its last epoch)."""
    from Models import log_likelihood as ll
    from Models.train_vae import evaluate_trained_vae
    for _, run in runs.iterrows():
        epoch = run['last_epoch']
        todo = [s for s in samples if not ll.has_result(run['run_dir'], s, epoch)]
        if not todo:
            continue
        if not (pathlib.Path(run['run_dir']) / 'checkpoints').is_dir():
            print(f'{run["run_name"]}: no checkpoints (weights not kept); S = {todo} left out')
            continue
        for s in todo:
            result = evaluate_trained_vae(run['run_dir'], epoch=epoch, log_likelihood_samples=s, chunk=chunk)
            ll.record_result(run['run_dir'], epoch, result)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
            print(f'{run["run_name"]}: {ll.describe(result)[2:]}; peak RSS {peak:.2f} GB')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--samples', type=int, nargs='+', default=[], help='S values to compute (none: table only)')
    parser.add_argument('--table-only', action='store_true', help='compute nothing, only write the table')
    parser.add_argument('--chunk', type=int, default=None, help='samples per image per compiled step (memory)')
    parser.add_argument('--model', action='append', help='only this model_type (repeatable)')
    parser.add_argument('--dataset', action='append', help='only this dataset (repeatable)')
    parser.add_argument('--temp', type=float, action='append', help='only this temperature (repeatable)')
    parser.add_argument('--run', action='append', help='only the run folder of this name (repeatable; computing only)')
    parser.add_argument('--log-dir', default=None, help='run folders (default Log/ or $IGR_LOG_DIR)')
    parser.add_argument('--out-dir', default=None, help='table folder (default Results/tables)')
    parser.add_argument('--include-unfinished', action='store_true', help='also runs that have not finished')
    parser.add_argument('--include-smoke', action='store_true', help='also smoke runs (run_with_sample=True)')
    args = parser.parse_args(argv)
    bad = [s for s in args.samples if s < 1]
    if bad:
        parser.error(f'bad --samples {bad}: each S must be >= 1')
    if args.samples and not args.table_only:
        compute_missing(select_runs(args), args.samples, args.chunk)
    summary, csv_path, md_path = results_io.build_table(
        TABLE['name'], TABLE['title'], TABLE['metrics'][:2], experiment='vae', log_dir=args.log_dir,
        out_dir=args.out_dir, include_unfinished=args.include_unfinished, include_smoke=args.include_smoke,
        notes=TABLE['notes'], optional_metrics=TABLE['metrics'][2:],
        where=lambda runs: _selected(runs, args))
    print(f'log-likelihood table: {len(summary)} rows -> {md_path}, {csv_path}')
    return summary


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
