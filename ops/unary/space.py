"""The search space of the unary op: the core grid, the split order, the block size, the CB depth and the
compute kernel's config.

`fn` and `dtype` are part of the problem (fixed columns), not knobs. Domains: `grid_x` 1..worker grid x,
`grid_y` 1..worker grid y; `block_tiles` the powers of two 1..32 (block sizes that divide the usual tile
counts, so no core ends on a short block); `buffering` 1..4 blocks per CB (1 single, 2 double buffered);
`math_fidelity` LoFi..HiFi4, `fp32_dest_acc_en` and `dst_full_sync_en` False / True. Which points fit in L1
is the models' verdict. copy and relu run on the SFPU and multiply nothing, so the fidelity never changes
the numbers; the Dst width can (a float32 value in a 16-bit Dst). The op is bit-exact against its
reference, so its accuracy bound is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfmodel.device import load_device
from perfmodel.ops.unary import factory
from perfmodel.ops.unary.config import Config
from perfmodel.space import (
    Knob,
    SearchSpace,
    compute_knobs,
    device_column,
    grid_defaults,
    grid_knobs,
    table_shape_columns,
)

BLOCK_TILES = (1, 2, 4, 8, 16, 32)
MAX_BUFFERING = 4
# The hardware path equals the reference bit for bit (numerics.validate passes on no mismatch at all).
TOLERANCE = 0.0


def search_space(shape: Sequence[int], *, device: Any, dtype: str = "bfloat16", fn: str = Config.fn) -> SearchSpace:
    dims = factory.validate_shape(shape)
    board = load_device(device)
    fmt = factory.validate_format(dtype)
    if fn not in factory.SFPU_CHAINS:
        from perfmodel.errors import InputError

        raise InputError(f"fn = {fn!r} is not one of {', '.join(factory.SFPU_CHAINS)}")
    default = Config()
    # The table describes the problem by N, C, H, W; outer dims beyond 4-D fold into N.
    fixed = {**table_shape_columns(dims), "dtype": fmt.name, "fn": fn, "device": device_column(device)}
    compute, compute_defaults = compute_knobs(fmt.name, fidelity_changes_numbers=False)
    knobs = (
        *grid_knobs(board),
        Knob("block_tiles", BLOCK_TILES, "tiles per CB transaction of the reader and the writer"),
        Knob("buffering", tuple(range(1, MAX_BUFFERING + 1)), "CB depth in blocks (1 single, 2 double buffered)"),
        *compute,
    )
    defaults = {
        **grid_defaults(board, default.row_wise),
        "block_tiles": default.block_tiles,
        "buffering": default.buffering,
        **compute_defaults,
    }
    return SearchSpace(factory.OP_NAME, fixed, knobs, defaults, tolerance=TOLERANCE)
