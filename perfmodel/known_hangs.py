"""Kernel variants of the shipped ops that are known to hang, for seeing a hang diagnosed.

Hand one to a factory in place of the op's own mirror and simulate it::

    import perfmodel
    from perfmodel.known_hangs import preloaded_streaming_compute

    op = perfmodel.get_op("centralize_w_rm")
    program = op.build_program(
        (1, 1, 64, 32), device="wormhole_b0_n150", config={"grid": (1, 1)},
        kernels={"compute": preloaded_streaming_compute},
    )
    perfmodel.simulate(program)  # raises perfmodel.DeadlockError, naming the blocked calls and kernel lines

`preloaded_streaming_compute` is the reference's worked hang (shared/reference/centralize_w_rm.md §5): one
tile row runs to its end, two hang on the tilize's reserve of c_1; with W > 32 the column-broadcast
B = Streaming blocks already in the first tile row, on the row mean (c_3).

These are not an op's shipped kernels, so they live outside `perfmodel.ops`: a program that uses one stays
local (a server runs the shipped kernels only, and its client refuses kernel mirrors of a program's own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from perfmodel.kernel_api import Preloaded, Streaming
from perfmodel.ops.centralize_w_rm.kernels import (
    CB_CENTRALIZED,
    CB_IN_RM,
    CB_IN_TILED,
    CB_MEAN_TILED,
    CB_OUT_RM,
    CB_SCALER,
)

__all__ = ["preloaded_streaming_compute"]


def preloaded_streaming_compute(k: Any, *, Ht: int, Wt: int) -> Iterator[Any]:
    """centralize_w_rm's compute with the subtract's A = Preloaded (never pops c_1), B = Streaming."""
    for _ in range(Ht):
        yield from k.tilize(CB_IN_RM, Wt, CB_IN_TILED, num_blocks=1)
        yield from k.reduce(CB_IN_TILED, CB_SCALER, CB_MEAN_TILED, Wt, input_mode="persistent")
        # Preloaded never pops c_1: from the second tile row on, the tilize waits for room that never comes.
        yield from k.sub(
            CB_IN_TILED, CB_MEAN_TILED, CB_CENTRALIZED, Wt, broadcast="col", a_policy=Preloaded, b_policy=Streaming
        )
        yield from k.untilize(CB_CENTRALIZED, CB_OUT_RM, Wt)
