"""Tables 1 and 2 from the run folders in ``Log/``.

    python3 vae_experiments/make_tables.py                 # both tables
    python3 vae_experiments/make_tables.py --tables 1      # Table 1 only
    python3 vae_experiments/make_tables.py --include-unfinished --log-dir /scratch/igr/Log

Writes ``Results/tables/table1.{md,csv}`` (discrete-only VAEs, ``vae_experiments/discrete_grid.py``:
TeELBO, TeELBOC, TeELBOD) and ``Results/tables/table2.{md,csv}`` (JointVAE runs, ``run_jv=True``,
``vae_experiments/jv_grid.py``: TeJV, TeJVC, TeELBO), with the importance-weighted log-likelihoods TeLL / TeLLD
as extra columns when the runs have them (``vae_experiments/log_likelihood.py``).  Each row is a (dataset, model, temperature) group:
mean ± sample std over seeds of the final-epoch value, the number of runs and the epochs they trained.
"""
import sys, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse

import pandas as pd

from Utils.results import results_io


def _run_jv(runs):
    """Boolean Series: the run trained the JointVAE objective (hyper ``run_jv``; absent = False)."""
    if 'run_jv' not in runs.columns:
        return pd.Series(False, index=runs.index)
    return runs['run_jv'].map(lambda v: bool(v) if v == v and v is not None else False)


LL_COLUMNS = ('TeLL', 'TeLLD')
"""Shown when the runs have them (`log_likelihood.json`, see vae_experiments/log_likelihood.py)."""

TABLES = {
    1: dict(name='table1', title='Table 1: discrete-latent VAEs, test ELBO (nats per image)',
            metrics=('TeELBO', 'TeELBOC', 'TeELBOD', 'N'), where=lambda runs: ~_run_jv(runs), best=('TeELBO', True),
            notes=('TeELBO: relaxed ELBO (sampled KL for GS); TeELBOC: closed-form KL; '
                   'TeELBOD: ELBO of the discrete model (one-hot decoding, categorical KL).',
                   'N: categories in use (IGR_SB_Finite: the fixed 10; IGR_SB: the stick truncation at the last '
                   'evaluation, at most 50).',)),
    2: dict(name='table2', title='Table 2: JointVAE (continuous + discrete latents), test objectives (nats per image)',
            metrics=('TeJV', 'TeJVC', 'TeELBO', 'N'), where=_run_jv, best=('TeELBO', True),
            notes=('TeJV / TeJVC: JointVAE objective with sampled / closed-form KL; TeELBO: relaxed test ELBO.',
                   'N: categories in use (IGR_SB_Finite: the fixed 10; IGR_SB: the stick truncation, at most 50).',)),
}


def make_table(number, log_dir=None, out_dir=None, include_unfinished=False, include_smoke=False):
    """Write table ``number`` (1 or 2); returns (summary DataFrame, csv path, md path)."""
    spec = TABLES[number]
    return results_io.build_table(spec['name'], spec['title'], spec['metrics'], experiment='vae',
                                  where=spec['where'], log_dir=log_dir, out_dir=out_dir,
                                  include_unfinished=include_unfinished, include_smoke=include_smoke,
                                  best=spec['best'], notes=spec['notes'], optional_metrics=LL_COLUMNS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tables', type=int, nargs='+', choices=sorted(TABLES), default=sorted(TABLES))
    parser.add_argument('--log-dir', default=None, help='run folders (default Log/ or $IGR_LOG_DIR)')
    parser.add_argument('--out-dir', default=None, help='output folder (default Results/tables)')
    parser.add_argument('--include-unfinished', action='store_true',
                        help='also count runs whose status.json is not finished (at their last evaluated epoch)')
    parser.add_argument('--include-smoke', action='store_true',
                        help='also count smoke runs (run_with_sample=True; left out by default)')
    args = parser.parse_args(argv)
    for number in args.tables:
        summary, csv_path, md_path = make_table(number, args.log_dir, args.out_dir, args.include_unfinished,
                                                   args.include_smoke)
        print(f'table {number}: {len(summary)} rows, {int(summary["n_runs"].sum()) if len(summary) else 0} runs '
              f'-> {md_path}, {csv_path}')


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
