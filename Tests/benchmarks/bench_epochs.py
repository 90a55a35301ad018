"""Epoch rows of the speed benchmark (`bench_speed.py`): whole MNIST epochs as `run_vae` runs them (train steps,
statistics, test evaluation) against floor epochs, an epoch fed by tf.data, and the every-epoch checkpoint against
its training epoch. `time_epoch` is also the body of the conv epoch and the memory children."""
import time

import numpy as np

from bench_floors import BATCH_N, FloorVAE, epoch_order, fmt_ratio, xla_name
from bench_table import TARGETS
from bench_vae import build_vae

EPOCH_MODEL_TYPES = ('IGR_I_Dis', 'GS_Dis', 'IGR_SB_Dis')
SB50_SETTINGS = {'n_required': 49, 'threshold': 0.9}
"""IGR-SB with 50 categories (Table 1's CelebA cells, the infinite-SB preset, Figures 3-5)."""


def time_epoch(model, spec, steps, test_n):
    """One epoch the way `run_vae` runs it: (train seconds, evaluation seconds)."""
    from Models import train_vae as tv
    from Utils.runs import logs
    x_test = spec.x_test[:test_n] if test_n else spec.x_test
    test_batches = tv._test_batches(x_test)
    all_steps = len(spec.x_train) // BATCH_N
    model.start_epoch(epoch_order(len(spec.x_train), all_steps, epoch=2))
    model.train_next()  # trace/compile both steps outside the timed epoch
    model.test_step(test_batches[0])
    model.start_epoch(epoch_order(len(spec.x_train), all_steps, epoch=2))
    bar = logs.ProgressBar(steps, 'bench', enabled=False)
    tic = time.perf_counter()
    for step in range(1, steps + 1):
        model.train_next()
        bar.update(step)
    model.epoch_stats()
    bar.close()
    train_s = time.perf_counter() - tic
    tic = time.perf_counter()
    model.evaluate(test_batches)
    return train_s, time.perf_counter() - tic


def time_tf_data_epoch(model, spec, steps):
    """`steps` train steps fed by the cached, shuffled, prefetched `make_tf_datasets` pipeline (seconds)."""
    from Tests.reference import make_tf_datasets
    train, _ = make_tf_datasets(spec, BATCH_N, seed=0)
    batches = iter(train.repeat())
    model.train_step(next(batches))  # trace outside the timed loop
    tic = time.perf_counter()
    for _ in range(steps):
        model.train_step(next(batches))
    np.asarray(model.loss_sum)
    return time.perf_counter() - tic


def time_floor_epoch(floor, n_train, steps):
    """`steps` floor steps called in a Python loop, as an epoch calls them (seconds)."""
    floor.start_epoch(epoch_order(n_train, floor.steps, epoch=2))
    floor.train_next()
    floor.start_epoch(epoch_order(n_train, floor.steps, epoch=2))
    tic = time.perf_counter()
    for _ in range(steps):
        floor.train_next()
    np.asarray(floor.net.trainable_variables[0][0, 0])
    return time.perf_counter() - tic


def epoch_cases(args, spec, models, jit, x_train):
    """[(label, model)] of the epoch section for one XLA setting (models of the vae section are reused)."""
    from Models import train_vae as tv
    cases = [(model_type, {}, '') for model_type in args.epoch_models]
    if 'IGR_I_Dis' in args.epoch_models and 'discrete_probs' in tv.HYPER_KEYS:
        cases.append(('IGR_I_Dis', {'discrete_probs': 'monte_carlo'}, ', discrete_probs=monte_carlo'))
    if 'IGR_SB_Dis' in args.epoch_models:
        cases.append(('IGR_SB_Dis', SB50_SETTINGS, ' K=50'))
    built = []
    for model_type, overrides, suffix in cases:
        model = None if overrides else models.get((model_type, jit))
        if model is None:
            model, _ = build_vae(model_type, jit, spec, **overrides)
            model.attach_train_data(x_train)
        built.append((model_type + suffix, model))
    return built


def epoch_lines(args, spec, models, floors, x_train):
    """Every repeat times the floor epoch and then each case's epoch; the ratio of a case is the median over the
    repeats of its epoch over the floor epoch of the same repeat (neighbours in time share the machine's load)."""
    lines = []
    for jit in args.jit_settings:
        floor = floors.get(jit) or FloorVAE(x_train, jit)
        cases = epoch_cases(args, spec, models, jit, x_train)
        floor_s, timings = [], {label: [] for label, _ in cases}
        for _ in range(args.epoch_repeats):
            floor_s.append(time_floor_epoch(floor, len(spec.x_train), args.epoch_steps))
            for label, model in cases:
                timings[label].append(time_epoch(model, spec, args.epoch_steps, args.test_n))
        lines.append(f'| epoch | floor: {args.epoch_steps} steps | {xla_name(jit)} | {1e3 * np.median(floor_s):.0f} | '
                     f'{args.epoch_steps * BATCH_N / np.median(floor_s):,.0f} img/s | | |')
        for label, _ in cases:
            train_s, eval_s = (np.median(column) for column in zip(*timings[label]))
            ratio = float(np.median([(t + e) / f for (t, e), f in zip(timings[label], floor_s)]))
            own = float(np.median([(t + e) / t for t, e in timings[label]]))
            if label.endswith(' K=50'):    # 50 categories: a larger network than the floor's; its own train epoch
                versus, goal = f'{fmt_ratio(own)} of its train-only epoch', TARGETS['epoch_own']
                met = own <= goal
            else:
                versus, goal = f'{fmt_ratio(ratio)} of floor epoch ({fmt_ratio(own)} of its train-only)', \
                    TARGETS['epoch']
                met = ratio <= goal
            lines.append(f'| epoch | {label}: {args.epoch_steps} steps + test evaluation | {xla_name(jit)} | '
                         f'{1e3 * (train_s + eval_s):.0f} | train {train_s:.2f} s, eval {eval_s:.2f} s | '
                         f'{versus} | <= {goal}x ({"met" if met else "missed"}) |')
        if args.epoch_models and not jit:
            model_type = 'GS_Dis' if 'GS_Dis' in args.epoch_models else args.epoch_models[-1]
            model = models.get((model_type, jit)) or build_vae(model_type, jit, spec)[0]
            data_s = time_tf_data_epoch(model, spec, args.epoch_steps)
            lines.append(f'| epoch | {model_type}: {args.epoch_steps} steps fed by tf.data (make_tf_datasets), no '
                         f'evaluation | {xla_name(jit)} | {1e3 * data_s:.0f} | '
                         f'{args.epoch_steps * BATCH_N / data_s:,.0f} img/s | {fmt_ratio(data_s / floor_s[-1])} of '
                         f'the last floor epoch | |')
    return lines


def checkpoint_lines(args, spec):
    """Cost of the every-epoch checkpoint (weights, Adam state, counters; the last 2 kept) against a training epoch
    of the same model (the goal in docs/hpc.md, "Wall time, preemption, resubmission": under 2% of an MNIST epoch)."""
    import statistics
    import tempfile
    from Utils.runs import checkpointing
    model_type = args.epoch_models[0] if args.epoch_models else 'IGR_I_Dis'
    model, _ = build_vae(model_type, False, spec)
    model.attach_train_data(spec.x_train)
    train_s, _ = time_epoch(model, spec, args.epoch_steps, 1)
    saves = []
    with tempfile.TemporaryDirectory() as folder:
        checkpoints = checkpointing.Checkpoints(folder, **model.trackables())
        for epoch in range(1, 4 if args.quick else 8):
            tic = time.perf_counter()
            checkpoints.save_epoch(epoch)
            saves.append(time.perf_counter() - tic)
    save = statistics.median(saves[1:] if len(saves) > 2 else saves)
    share = 100. * save / (train_s * (60000 // BATCH_N) / args.epoch_steps)
    return [f'| checkpoint | {model_type}: one epoch checkpoint (keep 2), vs its 937-step training epoch | off | '
            f'{1000 * save:.1f} | {share:.2f}% of the epoch | | < 2% {"met" if share < 2 else "MISSED"} |']
