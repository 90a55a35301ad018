"""Seeded fingerprint of every model type: the numbers a refactoring must leave bit-identical.

Runs short seeded runs of every experiment through their user-facing scripts, each in a fresh temporary log folder,
and writes everything they record (minus wall-clock times) into one JSON file:

    vae     the discrete VAEs: `discrete_grid.py` presets evidence_mnist_20 (vanished-gradient monitor on, TeLL at a
            few samples) and evidence_mnist_cv (seed 0 of each model), and IGR_SB_Dis (preset sb_infinite)
    jv      the JointVAE types: `jv_grid.py` preset evidence_mnist (seed 0 of each model), IGR_SB (table2_sb_infinite)
    sop     the four SOP types: `sop.py` with IGR_SOP_PRESET=evidence (seed 0)
    dlgmm   the four DLGMM types: `dlgmm_grid.py` preset evidence (first seed)
    approx  the approximation scripts' `--tiny` runs (Figure 1, Figure 2 GS and IGR, set_prior)
    api     the public samplers called directly: `Utils.Distributions` classes and `generate_sample`, the TFP classes
            of `Utils.igr_distributions`, `MinimizeEmpiricalLoss` of every family, the SOP units (seeded draws)

Every training run gets `--set epochs=2 --set intra_op_threads=1` (and `log_likelihood_samples=0` where that key
exists, except where TeLL is part of the fingerprint). Pin the process to one core from the outside; the runs
inherit it:

    taskset -c 1 python Tests/benchmarks/seeded_fingerprint.py --out /tmp/fp_base.json
    taskset -c 1 python Tests/benchmarks/seeded_fingerprint.py --out /tmp/fp_new.json --only vae sop
    python Tests/benchmarks/seeded_fingerprint.py --compare /tmp/fp_base.json /tmp/fp_new.json
    python Tests/benchmarks/seeded_fingerprint.py --compare /tmp/fp_new.json /tmp/fp_base.json   # a subset: its
                                                                                  # entries must all be in the base

`--compare` prints one line per differing entry (or the count of identical ones) and exits with 1 on any
difference, 0 when every entry of the first file is in the second with the same value (entries only in the second
file, from a larger selection, are listed but are not a difference).
"""
import argparse
import csv
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 2
TIME_KEYS = {'seconds', 'LL_seconds', 'wall_seconds', 'created', 'command', 'run_dir'}
"""Entries that vary from run to run whatever the code (wall-clock times, dates, paths)."""

COMMON = ['--set', f'epochs={EPOCHS}', '--set', 'intra_op_threads=1']
NO_LL = ['--set', 'log_likelihood_samples=0']
FEW_LL = ['--set', 'log_likelihood_samples=3']

RUNS = {
    'vae': [(f'{preset}_{cell}', 'vae_experiments/discrete_grid.py', ['--preset', preset, '--cell', str(cell)]
             + (FEW_LL if preset.endswith('20') else NO_LL), {})
            for preset in ('evidence_mnist_20', 'evidence_mnist_cv') for cell in (0, 3, 6, 9)]
    + [('sb_infinite_0', 'vae_experiments/discrete_grid.py', ['--preset', 'sb_infinite', '--cell', '0'] + NO_LL, {})],
    'jv': [(f'evidence_mnist_{cell}', 'vae_experiments/jv_grid.py', ['--preset', 'evidence_mnist', '--cell', str(cell)]
            + NO_LL, {}) for cell in (0, 3, 6, 9)]
    + [('table2_sb_infinite_0', 'vae_experiments/jv_grid.py', ['--preset', 'table2_sb_infinite', '--cell', '0'] + NO_LL,
        {})],
    'sop': [(f'evidence_{cell}', 'structure_output_prediction/sop.py', ['--cell', str(cell)],
             {'IGR_SOP_PRESET': 'evidence'}) for cell in (0, 3, 6, 9)],
    'dlgmm': [(f'evidence_{cell}', 'vae_experiments/dlgmm_grid.py', ['--preset', 'evidence', '--cell', str(cell)]
               + NO_LL, {}) for cell in (0, 3, 6, 9)],
}
RUNS['vae_cv'] = [run for run in RUNS['vae'] if run[0].startswith('evidence_mnist_cv')]
"""group -> [(name, script, arguments, environment)]: seed 0 (the first seed) of every model type of a preset;
'vae_cv' is the quick subset of 'vae' (the four discrete VAEs without the monitor, recorded under 'vae')."""

APPROX = [
    ('simplex_proximity', 'approximations/simplex_proximity.py', ['--tiny', '--models', 'GS', 'IGR_I', 'IGR_SB_Finite']),
    ('fig2_gs', 'approximations/discrete_dist_approximation_gs.py', ['--tiny']),
    ('fig2_igr', 'approximations/discrete_dist_approximation_igr.py', ['--tiny']),
    ('set_prior', 'approximations/set_prior.py', ['--tiny']),
]
GROUPS = tuple(RUNS) + ('approx', 'api')


def _env(extra):
    env = dict(os.environ, PYTHONPATH=str(REPO), **extra)
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    return env


def _run(argv, env, log):
    start = time.perf_counter()
    done = subprocess.run([sys.executable] + argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-5000:])
        raise SystemExit(f'{" ".join(argv)} failed with exit code {done.returncode}')
    print(f'  {" ".join(argv)}: {seconds:.0f} s', file=log, flush=True)
    return seconds


def _csv_rows(path):
    with open(path, newline='') as handle:
        return [{k: v for k, v in row.items() if k not in TIME_KEYS} for row in csv.DictReader(handle)]


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in TIME_KEYS}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def run_records(folder):
    """What a run folder records, minus wall-clock times: metrics.csv rows, gradients.csv, final_metrics.json,
    log_likelihood.json."""
    out = {}
    for name in ('metrics.csv', 'gradients.csv'):
        if (folder / name).is_file():
            out[name] = _csv_rows(folder / name)
    for name in ('final_metrics.json', 'log_likelihood.json'):
        if (folder / name).is_file():
            out[name] = _without_times(json.loads((folder / name).read_text()))
    return out


def training_group(group, tmp, log):
    records = {}
    for name, script, args, extra in RUNS[group]:
        log_dir = Path(tmp) / f'{group}_{name}'   # a fresh log folder per run: its one run folder is the run's
        _run([script] + args + COMMON, _env({'IGR_LOG_DIR': str(log_dir), **extra}), log)
        folders = [p for p in log_dir.iterdir() if p.is_dir()]
        if len(folders) != 1:
            raise SystemExit(f'{group} {name}: expected one run folder in {log_dir}, found {len(folders)}')
        records[f'{name}/{folders[0].name}'] = run_records(folders[0])
    return records


def approx_group(tmp, log):
    records = {}
    for name, script, args in APPROX:
        out = Path(tmp) / f'approx_{name}'
        out.mkdir()
        _run([script] + args, _env({'IGR_RESULTS_DIR': str(out)}), log)
        files = {}
        for path in sorted(out.iterdir()):
            if path.suffix == '.csv':
                files[path.name] = _csv_rows(path)
            elif path.suffix == '.json':
                files[path.name] = _without_times(json.loads(path.read_text()))
            elif path.suffix == '.pkl':
                with open(path, 'rb') as handle:
                    files[path.name] = {k: _array(v) for k, v in sorted(pickle.load(handle).items())}
        records[name] = files
    return records


def api_group(tmp, log):
    path = Path(tmp) / 'api.json'
    _run([str(Path(__file__).relative_to(REPO)), '--api-probe', str(path)], _env({}), log)
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------------------------------------
# The public samplers, called directly (run in a fresh interpreter by `api_group`)
# ---------------------------------------------------------------------------------------------------------------------
def _array(value):
    """sha256 of the bytes, dtype, shape and the first values of an array (the hash decides equality)."""
    import numpy as np
    a = np.ascontiguousarray(np.asarray(value))
    return {'sha256': hashlib.sha256(a.tobytes()).hexdigest(), 'dtype': str(a.dtype), 'shape': list(a.shape),
            'head': [float(x) for x in a.ravel()[:4]]}


def api_probe(out):
    import numpy as np
    import tensorflow as tf
    from Models.SOP import BernoulliUnits
    from Utils import Distributions as D
    from Utils import igr_distributions as igr
    from Utils.MinimizeEmpiricalLoss import MinimizeEmpiricalLoss
    from Utils.general import initial_params, target_pmf

    rec = {}
    rng = np.random.default_rng(0)
    mu = tf.constant(rng.normal(size=(3, 4, 1, 2)), tf.float32)
    xi = tf.constant(0.3 * rng.normal(size=(3, 4, 1, 2)), tf.float32)
    log_pi = tf.constant(rng.normal(size=(3, 5, 1, 2)), tf.float32)
    flow = D.PlanarFlow(4, 2, seed=3)

    tf.random.set_seed(1)
    samplers = {'GS': D.GS(log_pi, 0.5, sample_size=3), 'IGR_I': D.IGR_I(mu, xi, 0.5, sample_size=3),
                'IGR_Planar': D.IGR_Planar(mu, xi, 0.5, flow, sample_size=3),
                'IGR_SB_Finite': D.IGR_SB_Finite(mu, xi, 0.5, sample_size=3),
                'IGR_SB': D.IGR_SB(mu, xi, 0.5, sample_size=3, threshold=0.9)}
    for name, sampler in samplers.items():
        sampler.generate_sample()
        for attr in ('psi', 'log_psi', 'lam', 'kappa', 'psi_padded'):
            if getattr(sampler, attr, None) is not None:
                rec[f'class/{name}/{attr}'] = _array(getattr(sampler, attr))
        rec[f'class/{name}/n_required'] = int(sampler.n_required)
    for name in ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite', 'IGR_SB'):
        tf.random.set_seed(2)
        params = [log_pi] if name == 'GS' else [mu, xi]
        rec[f'generate_sample/{name}'] = _array(D.generate_sample(2, params, name, 0.3, threshold=0.9,
                                                                  output_one_hot=True, planar_flow=flow))
    rec['noise/gumbel'] = _array(D.sample_gumbel((3, 4), seed=5))
    rec['noise/normal'] = _array(D.sample_normal((3, 5), seed=5))
    rec['noise/generator_normal'] = _array(D.generator_normal(tf.random.Generator.from_seed(5), (3, 5)))
    u = D.sample_uniform((4, 3), seed=6)
    rec['bernoulli/binary_concrete'] = _array(D.binary_concrete(log_pi[0, :4, 0, :1], 0.4, u[:, :1]))
    rec['bernoulli/igr_bernoulli'] = _array(D.igr_bernoulli(mu[0, :, 0, :1], xi[0, :, 0, :1], 0.4, u[:, :1]))
    rec['compute_igr_probs'] = _array(D.compute_igr_probs(mu, tf.exp(xi)))

    loc, scale = mu[:, :, 0, 0], tf.exp(xi[:, :, 0, 0])
    w, uu, b = igr.planar_params_from_layer(flow)
    tfp_dists = {'IGR': igr.IGR(loc, scale, 0.5), 'IGRStickBreaking': igr.IGRStickBreaking(loc, scale, 0.5),
                 'IGRPlanar': igr.IGRPlanar(tf.transpose(mu[0, :, 0]), tf.transpose(tf.exp(xi[0, :, 0])), 0.5, w, uu,
                                            b),
                 'IGRBernoulli': igr.IGRBernoulli(loc, scale, 0.5)}
    for name, d in tfp_dists.items():
        rec[f'tfp/{name}/sample'] = _array(d.sample(2, seed=(7, 8)))
    rec['tfp/IGRStickBreaking/pieces_needed'] = [int(x) for x in
                                                 tfp_dists['IGRStickBreaking'].pieces_needed(20, 0.9, seed=(1, 2))]

    for name in ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB_Finite', 'IGR_SB'):
        flow_n = D.PlanarFlow(5, 1, seed=4) if name == 'IGR_Planar' else None
        opt = MinimizeEmpiricalLoss(target_pmf('binomial', 6), name, initial_params(name, 6, seed=0), 0.3,
                                    sample_size=50, max_iterations=4, planar_flow=flow_n, seed=1).optimize()
        rec[f'fit/{name}/loss'] = [float(x) for x in opt.loss_history]
        rec[f'fit/{name}/n_required'] = [int(x) for x in opt.n_required_history]
        rec[f'fit/{name}/params'] = {k: _array(v) for k, v in sorted(opt.params.items())}
        rec[f'fit/{name}/sample_psi'] = _array(opt.sample_psi(30))

    for name, params_per_unit in (('GS', 1), ('IGR_I', 2), ('IGR_Planar', 2), ('IGR_SB', 4)):
        flow_s = D.PlanarFlow(n_dims=1, num_of_vars=6, seed=9) if name == 'IGR_Planar' else None
        units = BernoulliUnits(name, 6, 0.4, flow_s)
        gen = tf.random.Generator.from_seed(11)
        params = tf.constant(rng.normal(size=(5, params_per_unit * 6)), tf.float32)
        noise = units.noise(gen, 5)
        rec[f'sop/{name}/noise'] = _array(noise)
        rec[f'sop/{name}/relaxed'] = _array(units.sample(params, noise))
        rec[f'sop/{name}/hard'] = _array(units.sample(params, noise, hard=True))
        rec[f'sop/{name}/categories'] = _array(units.categories(params, noise))
    Path(out).write_text(json.dumps(rec, indent=1))


# ---------------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------------
def flatten(value, prefix=''):
    """{'a/b/0/c': leaf} of nested dicts and lists."""
    if isinstance(value, dict) and value and not {'sha256', 'dtype'} <= set(value):
        return {k: v for key, item in value.items() for k, v in flatten(item, f'{prefix}{key}/').items()}
    if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, f'{prefix}{i}/').items()}
    return {prefix.rstrip('/'): value}


def _short(value, width=60):
    text = json.dumps(value)
    return text if len(text) <= width else text[:width - 3] + '...'


def compare(path_a, path_b, out=sys.stdout):
    """Print the differences of two fingerprints; 0 when every entry of A is in B with the same value, else 1."""
    a, b = (json.loads(Path(p).read_text()) for p in (path_a, path_b))
    fa, fb = flatten(a.get('records', a)), flatten(b.get('records', b))
    missing = sorted(set(fa) - set(fb))
    extra = sorted(set(fb) - set(fa))
    differ = sorted(k for k in set(fa) & set(fb) if fa[k] != fb[k])
    print(f'{path_a} ({len(fa)} entries) vs {path_b} ({len(fb)} entries)', file=out)
    if differ:
        print(f'| entry | {Path(path_a).name} | {Path(path_b).name} |\n|---|---|---|', file=out)
        for k in differ:
            print(f'| {k} | {_short(fa[k])} | {_short(fb[k])} |', file=out)
    for k in missing:
        print(f'missing from {path_b}: {k}', file=out)
    if extra:
        print(f'{len(extra)} entries only in {path_b} (not compared), e.g. {extra[0]}', file=out)
    same = len(fa) - len(differ) - len(missing)
    print(f'{same} identical, {len(differ)} different, {len(missing)} missing', file=out)
    return 1 if differ or missing else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', help='write the fingerprint here (JSON)')
    parser.add_argument('--only', nargs='+', choices=GROUPS, default=[g for g in GROUPS if g != 'vae_cv'],
                        help='groups to run (default: all but vae_cv, a subset of vae)')
    parser.add_argument('--compare', nargs=2, metavar=('A', 'B'), help='compare two fingerprints')
    parser.add_argument('--api-probe', metavar='OUT', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.api_probe:
        return api_probe(args.api_probe)
    if not args.out:
        parser.error('--out is required (or --compare)')
    start, records, timing = time.perf_counter(), {}, {}
    with tempfile.TemporaryDirectory(prefix='igr_fingerprint_') as tmp:
        for group in args.only:
            print(f'{group}:', flush=True)
            group_start = time.perf_counter()
            if group in RUNS:
                key = 'vae' if group == 'vae_cv' else group
                records.setdefault(key, {}).update(training_group(group, tmp, sys.stdout))
            elif group == 'approx':
                records[group] = approx_group(tmp, sys.stdout)
            else:
                records[group] = api_group(tmp, sys.stdout)
            timing[group] = round(time.perf_counter() - group_start, 1)
    total = round(time.perf_counter() - start, 1)
    Path(args.out).write_text(json.dumps({'groups': args.only, 'seconds': timing, 'total_seconds': total,
                                          'records': records}, indent=1))
    print(f'fingerprint of {", ".join(args.only)} in {total:.0f} s -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
