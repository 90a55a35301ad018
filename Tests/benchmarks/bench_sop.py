"""SOP rows of the speed benchmark (`bench_speed.py`): one train step of every SOP `model_type` against the floor of
the same Dense layers."""
import tensorflow as tf

from bench_floors import BATCH_N, FloorSOP, Row, epoch_order

SOP_MODEL_TYPES = ('GS', 'IGR_I', 'IGR_Planar', 'IGR_SB')


def sop_rows(args, spec):
    from Models import SOPOptimizer as so
    upper, lower = (tf.constant(half) for half in so.split_halves(spec.x_train))  # one copy shared by all models
    rows, floors = [], {}
    for jit in args.jit_settings:
        floor = FloorSOP(upper, lower, jit)
        floors[jit] = floor
        order = epoch_order(len(upper), floor.steps)
        rows.append(Row('sop', 'floor (Gaussian sigmoid)', jit, floor.train_next, BATCH_N,
                        reset=lambda f=floor, o=order: f.start_epoch(o)))
        for model_type in args.sop_models:
            tf.keras.utils.set_random_seed(0)
            model = so.SOPOptimizer(so.validate_hyper({'model_type': model_type, 'batch_n': BATCH_N,
                                                       'jit_compile': jit}))
            steps = model.attach_train_data(upper, lower)
            order = epoch_order(len(upper), steps)
            rows.append(Row('sop', model_type, jit, model.train_next, BATCH_N,
                            reset=lambda m=model, o=order: m.start_epoch(o)))
    return rows, floors
