"""Table 3 (structured output prediction) from the SOP run folders in ``Log/``.

    python3 structure_output_prediction/make_tables.py [--include-unfinished] [--log-dir DIR] [--out-dir DIR]

Writes ``Results/tables/table3.{md,csv}``: per (dataset, model, temperature), mean ± sample std over seeds of the
final-epoch test NLL with relaxed samples (TeNLL), discretized samples (TeNLLD) and the multi-sample estimate
(TeNLLMS), the number of runs and the epochs they trained.
"""
import sys, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import argparse

from Utils.results import results_io

METRICS = ('TeNLL', 'TeNLLD', 'TeNLLMS')


def make_table(log_dir=None, out_dir=None, include_unfinished=False, include_smoke=False):
    """Write Table 3; returns (summary DataFrame, csv path, md path)."""
    return results_io.build_table(
        'table3', 'Table 3: structured output prediction on binarized MNIST, test NLL (nats per image)',
        METRICS, experiment='sop', log_dir=log_dir, out_dir=out_dir, include_unfinished=include_unfinished,
        include_smoke=include_smoke,
        best=('TeNLL', False),
        notes=('TeNLL: relaxed samples; TeNLLD: discretized (rounded) samples; TeNLLMS: multi-sample estimate.',))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--log-dir', default=None, help='run folders (default Log/ or $IGR_LOG_DIR)')
    parser.add_argument('--out-dir', default=None, help='output folder (default Results/tables)')
    parser.add_argument('--include-unfinished', action='store_true',
                        help='also count runs whose status.json is not finished (at their last evaluated epoch)')
    parser.add_argument('--include-smoke', action='store_true',
                        help='also count smoke runs (run_with_sample=True; left out by default)')
    args = parser.parse_args(argv)
    summary, csv_path, md_path = make_table(args.log_dir, args.out_dir, args.include_unfinished, args.include_smoke)
    print(f'table 3: {len(summary)} rows, {int(summary["n_runs"].sum()) if len(summary) else 0} runs '
          f'-> {md_path}, {csv_path}')


if __name__ == '__main__':
    from Utils.cli import run_main
    run_main(main)
