"""The search space of centralize_w_rm: the core grid handed to the split, the split order, the buffering, the
compute kernel's config and the design variant.

Domains follow the board: `grid_x` 1..worker grid x, `grid_y` 1..worker grid y; `in_buffering` and
`out_buffering` (pages of c_0 / c_16 as multiples of their block) 1..4; `math_fidelity` LoFi..HiFi4,
`fp32_dest_acc_en` and `dst_full_sync_en` False / True; `variant` single_pass / two_pass and, for two_pass
only, `block_wt` (tiles per block): the divisors of Wt from max(4, Wt / 32) up to min(Wt, 64) (the factory
takes blocks that divide the row). That keeps the space small while spanning the trade of L1 against
passes; blocks of 1 or 2 tiles pay the per-call setup of every helper on every block and cost the analytic
ranking the most (its work grows as 1 / block_wt); any other block size is a sweep axis or a `--block-wt`
away. Which points fit
in L1, and which the factory builds, is the models' verdict. Numbers change with `math_fidelity` (the
reduce multiplies by the scaler), `fp32_dest_acc_en`, `variant` and `block_wt`; the accuracy bound is
tt-metal's test tolerance, atol = 1e-2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfmodel.device import load_device
from perfmodel.numerics.tiles import TILE_WIDTH
from perfmodel.ops.centralize_w_rm import factory
from perfmodel.ops.centralize_w_rm.config import VARIANTS, Config
from perfmodel.space import (
    Knob,
    SearchSpace,
    compute_knobs,
    device_column,
    grid_defaults,
    grid_knobs,
    table_shape_columns,
)

MAX_BUFFERING = 4
MIN_BLOCK_WT = 4
MAX_BLOCK_WT = 64
# More blocks per row than this only repeat the per-block setup (and the analytic ranking's work grows with it).
MAX_BLOCKS = 32
# tt-metal's test of this op: assert_close(..., rtol=1e-2, atol=1e-2) (numerics.ATOL).
TOLERANCE = 1e-2


def block_wt_choices(wt: int) -> tuple[int, ...]:
    """The divisors of Wt from max(MIN_BLOCK_WT, Wt / MAX_BLOCKS) up to min(Wt, MAX_BLOCK_WT) (the factory
    takes blocks that divide the row); the largest divisor up to MAX_BLOCK_WT when none is in that range."""
    top = min(wt, MAX_BLOCK_WT)
    low = max(MIN_BLOCK_WT, -(-wt // MAX_BLOCKS))
    divisors = [b for b in range(1, top + 1) if wt % b == 0]
    return tuple(b for b in divisors if b >= low) or (divisors[-1],)


def search_space(shape: Sequence[int], *, device: Any, dtype: str = "bfloat16") -> SearchSpace:
    dims = factory.validate_shape(shape)
    board = load_device(device)
    fmt = factory.data_format(dtype)
    default = Config()
    # The table describes the problem by N, C, H, W; outer dims beyond 4-D fold into N (units are N*C*Ht).
    fixed = {**table_shape_columns(dims), "dtype": fmt.name, "device": device_column(device)}
    compute, compute_defaults = compute_knobs(fmt.name)
    buffering = tuple(range(1, MAX_BUFFERING + 1))
    knobs = (
        *grid_knobs(board),
        Knob("in_buffering", buffering, "pages of c_0 (cb_in_rm) as a multiple of its block"),
        Knob("out_buffering", buffering, "pages of c_16 (cb_out_rm) as a multiple of its block"),
        *compute,
        Knob("variant", VARIANTS, "single_pass holds a tile row in L1; two_pass streams it in blocks", numeric=True),
        Knob(
            "block_wt",
            block_wt_choices(dims[-1] // TILE_WIDTH),
            "tiles per block of two_pass",
            numeric=True,
            requires=("variant", ("two_pass",)),
        ),
    )
    defaults = {
        **grid_defaults(board, default.row_wise),
        "in_buffering": default.in_buffering,
        "out_buffering": default.out_buffering,
        **compute_defaults,
        "variant": default.variant,
        "block_wt": default.block_wt,
    }
    return SearchSpace(factory.OP_NAME, fixed, knobs, defaults, tolerance=TOLERANCE)
