"""A centralize_w_rm compute kernel that hangs: the subtract takes A as Preloaded, B as Streaming.

Run it: `python examples/hang/my_kernels.py` simulates it on one core of a 64 x 32 input and prints the
simulator's report of the hang (exit code 1), the same report `perfmodel.DeadlockError` carries in Python.
"""

from perfmodel.kernel_api import Preloaded, Streaming
from perfmodel.ops.centralize_w_rm.kernels import (
    CB_CENTRALIZED,
    CB_IN_RM,
    CB_IN_TILED,
    CB_MEAN_TILED,
    CB_OUT_RM,
    CB_SCALER,
)


def compute(k, *, Ht, Wt):
    for _ in range(Ht):
        yield from k.tilize(CB_IN_RM, Wt, CB_IN_TILED, num_blocks=1)
        yield from k.reduce(CB_IN_TILED, CB_SCALER, CB_MEAN_TILED, Wt, input_mode="persistent")
        # Preloaded never pops c_1: the second tile row's tilize waits for room that never comes.
        yield from k.sub(
            CB_IN_TILED, CB_MEAN_TILED, CB_CENTRALIZED, Wt, broadcast="col", a_policy=Preloaded, b_policy=Streaming
        )
        yield from k.untilize(CB_CENTRALIZED, CB_OUT_RM, Wt)


if __name__ == "__main__":
    import perfmodel

    op = perfmodel.get_op("centralize_w_rm")
    program = op.build_program(
        (1, 1, 64, 32), device="wormhole_b0_n150", config=op.Config(grid=(1, 1)), kernels={"compute": compute}
    )
    try:
        perfmodel.simulate(program)
    except perfmodel.DeadlockError as hang:
        print(hang)
        raise SystemExit(1) from None
    print("no hang")
