"""Speed benchmark of the VAE and SOP train steps, MNIST epochs and the relaxed samplers (`make bench`).

Prints one markdown table; every row is measured in this one process. Sections:

- vae: one train step of every `model_type` on binarized MNIST (dense networks, batch 64, 30 variables x 10
  categories; mixed types add 10 Gaussian latents), through the path `run_vae` uses (`OptVAE.train_next`: the batch
  is gathered from the device-resident training set inside the compiled step). The reference is the *floor*: the
  same `VAENet` encoder/decoder (encoder head 30 x 9 x 2, decoder input 30 x 10), Gaussian noise through a softmax
  over the 9 dimensions and a 0 (10 categories), closed-form Gaussian KL, Bernoulli likelihood, Adam, one compiled
  `tf.function` fed the same way. Rows are compared with the floor of the same XLA setting.
- monitor: train steps of the Figure 4 models (10 categories, and IGR-SB also with 50) without and with the
  vanished-gradient monitor (`monitor_gradients`), XLA on (the dense default); the ratio is to the same model
  without it (target <= 1.3x).
- straight_through: train steps of every discrete family with and without `straight_through` (one-hot forward,
  relaxed gradient), XLA on (the dense default); the ratio is to the relaxed step (target <= 1.1x).
- sop: one train step of every SOP `model_type` (batch 64, two layers of 200 units) through `SOPOptimizer.train_next`;
  floor: the same Dense layers (sized as IGR-I's: 2 parameters per unit) with Gaussian noise through a sigmoid.
- conv: one train step of every JointVAE model of Table 2 (`jv_grid.py`'s cells: `conv_jointvae`, one 10-category
  variable + Gaussian latents, the JointVAE objective) on MNIST at 32x32 (real images, resized) and at CelebA's
  64x64x3 (generated pixels of the real shape, Gaussian likelihood), against a conv floor: the same network with the
  discrete part a Gaussian through a softmax over (z, 0), closed-form Gaussian KLs and the dataset's likelihood;
  then one JointVAE MNIST epoch (937 steps + test evaluation) against 937 conv-floor steps. Conv steps are slow, so
  a quarter of `--steps` calls are timed.
- epoch: one MNIST epoch as `run_vae` runs it (937 steps with the progress bar, the epoch statistics and the
  non-finite check, then the test evaluation of all 10,000 test images), against 937 floor steps called in the
  same kind of Python loop; `--epoch-repeats` interleaved repeats, medians reported. IGR-SB with 50 categories (its
  Table 1 / Figure 3-5 setting, a larger network than the floor's) is compared with its own train-only epoch.
- sampler: `generate_sample()` of the `Utils.Distributions` samplers (batch 64, 50 categories, 30 variables) against
  `tfp.distributions.RelaxedOneHotCategorical(temp, logits).sample(S)` on the same sizes, both as compiled
  `tf.function`s; the rate counts relaxed one-hot vectors (batch x variables x samples) per second. Draws of more
  than 10 samples take ~0.1 s, so they are timed over a quarter of `--steps` calls.
- quadrature: `compute_igr_probs` (the exact IGR-I category probabilities behind `TeELBOD`) for the 10,000 x 30
  (image, variable) pairs of one MNIST evaluation (9 Gaussians each), in graph mode and under XLA (the evaluation
  always compiles it); `--quick` uses 500 images.
- memory: peak resident set size of a fresh process running one epoch and its evaluation (measured in a child
  process, since this one holds every model of the table), and of this process.

Times are the median over `--steps` timed calls per row after `--warmup` calls; the timed calls of all rows of a
section are interleaved in `--rounds` rounds, so that a change in the machine's load affects every row alike.
Run from the repository root: `python3 Tests/benchmarks/bench_speed.py [--quick]`. This file holds the command line
and the order of the sections; the sections are in `bench_vae.py` (vae, monitor, straight_through), `bench_sop.py`,
`bench_conv.py`, `bench_epochs.py` (epoch, checkpoint), `bench_samplers.py` (sampler, quadrature) and
`bench_memory.py` (memory, celeb_a), the table's header, targets and shared line format in `bench_table.py`, the
timing machinery and the floors in `bench_floors.py`.
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))    # the bench_* modules, also when loaded by path

import argparse
import os
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # noqa: E402

from bench_conv import JV_MODEL_TYPES, conv_lines  # noqa: E402
from bench_epochs import EPOCH_MODEL_TYPES, checkpoint_lines, epoch_lines  # noqa: E402
from bench_floors import BATCH_N, peak_rss_mb, time_rows  # noqa: E402
from bench_memory import celeb_a_child, celeb_a_lines, child_peak_rss_mb, memory_child  # noqa: E402
from bench_samplers import SAMPLERS, quadrature_lines, quadrature_rows, sampler_lines, sampler_rows  # noqa: E402
from bench_sop import SOP_MODEL_TYPES, sop_rows  # noqa: E402
from bench_table import HEADER, TARGETS, SectionLog, machine_line, step_lines  # noqa: E402
from bench_vae import (MONITOR_CASES, MONITOR_SUFFIX, ST_SUFFIX, STRAIGHT_THROUGH_CASES, VAE_MODEL_TYPES,  # noqa: E402
                       variant_lines, variant_rows, vae_rows, vae_target)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='a seconds-long check: few steps, short epochs')
    parser.add_argument('--steps', type=int, help='timed calls per row (default 200; --quick 20)')
    parser.add_argument('--warmup', type=int, help='untimed calls per row before timing (default 20; --quick 3)')
    parser.add_argument('--rounds', type=int, help='interleaved rounds per section (default 10; --quick 1)')
    parser.add_argument('--jit', choices=('off', 'on', 'both'),
                        help='XLA setting of the rows (floors are measured for each setting used; default both, '
                             '--quick off)')
    parser.add_argument('--models', default=','.join(VAE_MODEL_TYPES), help='comma-separated VAE model types')
    parser.add_argument('--sop-models', default=','.join(SOP_MODEL_TYPES), help='comma-separated SOP model types')
    parser.add_argument('--jv-models', default=','.join(JV_MODEL_TYPES),
                        help='comma-separated JointVAE model types of the conv rows')
    parser.add_argument('--samplers', default=','.join(SAMPLERS), help='comma-separated samplers')
    parser.add_argument('--sample-sizes', default='1,100', help='comma-separated sample sizes of the samplers')
    parser.add_argument('--epoch-models', default=','.join(EPOCH_MODEL_TYPES), help='model types timed per epoch')
    parser.add_argument('--epoch-steps', type=int, help='train steps of the timed epoch (default 937; --quick 50)')
    parser.add_argument('--epoch-repeats', type=int, help='timed epochs per case, interleaved with the floor epoch '
                                                          '(median reported; default 3, --quick 1)')
    parser.add_argument('--test-n', type=int, help='test images evaluated in the timed epoch (default all 10,000; '
                                                   '--quick 500, the proportion of its 50 steps to 937)')
    parser.add_argument('--skip', default='',
                        help='comma-separated sections to skip: vae,monitor,straight_through,sop,conv,epoch,sampler,'
                             'quadrature,checkpoint,'
                             'celeb_a,memory')
    parser.add_argument('--out', help='also write the table to this file')
    parser.add_argument('--memory-child', help=argparse.SUPPRESS)  # internal: the memory-measuring child process
    parser.add_argument('--celeb-a-child', type=int, help=argparse.SUPPRESS)  # internal: CelebA memory child
    args = parser.parse_args(argv)
    defaults = dict(steps=(20, 200), warmup=(3, 20), rounds=(1, 10), epoch_steps=(50, 937), epoch_repeats=(1, 3),
                    test_n=(500, None), jit=('off', 'both'))
    for key, (quick, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    split = lambda text: [t for t in text.split(',') if t]
    for key in ('models', 'sop_models', 'jv_models', 'samplers', 'epoch_models', 'skip'):
        setattr(args, key, split(getattr(args, key)))
    args.sample_sizes = [int(s) for s in split(args.sample_sizes)]
    args.jit_settings = {'off': [False], 'on': [True], 'both': [False, True]}[args.jit]
    epoch_n = 60000 // BATCH_N
    if args.epoch_repeats < 1:
        parser.error(f'--epoch-repeats must be at least 1, got {args.epoch_repeats}')
    if args.steps + args.warmup > epoch_n or args.epoch_steps > epoch_n:
        parser.error(f'--steps + --warmup and --epoch-steps must fit in one epoch ({epoch_n} steps)')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.memory_child:
        return memory_child(args)
    if args.celeb_a_child:
        return celeb_a_child(args.celeb_a_child)
    from Utils.load_data import load_dataset
    tic_all = time.perf_counter()
    spec = load_dataset('mnist', 'dense')
    x_train = tf.constant(spec.x_train)  # the training images as one tensor, read by every section's models
    lines = SectionLog([machine_line(args), *HEADER])
    vae_floors, models = {}, {}
    if 'vae' not in args.skip:
        rows, vae_floors, models = vae_rows(args, spec, x_train)
        time_rows(rows, args.steps, args.warmup, args.rounds)
        lines += step_lines(rows, 'floor (Gaussian softmax)', vae_target)
    if 'monitor' not in args.skip:
        rows = variant_rows('monitor', MONITOR_CASES, MONITOR_SUFFIX, 'monitor_gradients', args, spec, x_train)
        time_rows(rows, args.steps, args.warmup, args.rounds)
        lines += variant_lines('monitor', rows, MONITOR_SUFFIX, TARGETS['monitor'])
    if 'straight_through' not in args.skip:
        rows = variant_rows('straight_through', STRAIGHT_THROUGH_CASES, ST_SUFFIX, 'straight_through', args, spec,
                            x_train)
        time_rows(rows, args.steps, args.warmup, args.rounds)
        lines += variant_lines('straight_through', rows, ST_SUFFIX, TARGETS['straight_through'])
    if 'sop' not in args.skip:
        rows, _ = sop_rows(args, spec)
        time_rows(rows, args.steps, args.warmup, args.rounds)
        lines += step_lines(rows, 'floor (Gaussian sigmoid)', lambda name: '')
    if 'conv' not in args.skip:
        lines += conv_lines(args)
    if 'epoch' not in args.skip:
        lines += epoch_lines(args, spec, models, vae_floors, x_train)
    if 'sampler' not in args.skip:
        rows = sampler_rows(args)
        for size in args.sample_sizes:  # large draws take ~0.1 s a call: fewer calls suffice for a stable median
            sized = [r for r in rows if r.name.endswith(f'S={size}')]
            steps = args.steps if size <= 10 else max(args.steps // 4, 2)
            time_rows(sized, steps, min(args.warmup, max(steps // 4, 1)), args.rounds)
        lines += sampler_lines(rows)
    if 'quadrature' not in args.skip:
        rows = quadrature_rows(args)  # ~1 s a call: a few calls give a stable median
        time_rows(rows, 5 if args.steps >= 50 else 1, 1, min(args.rounds, 5))
        lines += quadrature_lines(rows)
    if 'checkpoint' not in args.skip:
        lines += checkpoint_lines(args, spec)
    if 'celeb_a' not in args.skip:
        lines += celeb_a_lines(args)
    if 'memory' not in args.skip:
        model_type = args.epoch_models[0] if args.epoch_models else 'IGR_I_Dis'
        lines.append(f'| memory | peak RSS, one {model_type} epoch + evaluation in a fresh process | off | | '
                     f'{child_peak_rss_mb(args, model_type):,.0f} MB | | |')
    lines.append(f'| memory | peak RSS of this benchmark process (every model above alive) | | | '
                 f'{peak_rss_mb():,.0f} MB | | |')
    lines.append(f'# total benchmark time {time.perf_counter() - tic_all:.0f} s')
    text = '\n'.join(lines)
    print(text, flush=True)
    if args.out:
        pathlib.Path(args.out).write_text(text + '\n')
    return text


if __name__ == '__main__':
    main()
