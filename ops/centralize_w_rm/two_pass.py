"""Numerics of the two-pass centralize_w_rm design: what its compute kernel computes, tile row by tile row.

The design (`kernels_two_pass.py`) sums a row in blocks of `block_wt` tiles: each block is reduced with the
scaler (1/W) into a partial row-sum tile, packed to the data format, and the partials are added one by one
into the accumulator (also packed after every add). The mean therefore differs from the single pass, which
accumulates the whole row in Dst and packs once: with a 16-bit data format every packed partial and every
packed running sum is rounded to bfloat16 (and with fp32 Dst accumulation off the single pass rounds too,
but at other points). With block_wt = Wt there is one block and the two designs compute the same bits.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from perfmodel.compute_config import ComputeConfig
from perfmodel.errors import InputError
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    add_tiles,
    reduce_row_sum,
    scaler_tile,
    sub_bcast_col,
    tilize_block,
    untilize_block,
)


def process_tile_row(rows: npt.ArrayLike, *, dtype: str, compute_config: ComputeConfig, block_wt: int) -> np.ndarray:
    """The two-pass compute kernel on tile rows: [..., 32, W] sticks in `dtype` -> [..., 32, W] centralized.

    Pass one: per block of `block_wt` tiles, tilize and `reduce_row_sum` with scaler_tile(W) into a partial;
    the first partial is the accumulator, each later one is added to it (`add_tiles(acc, partial)`, the
    order of the kernel's compute_tiles inputs). Pass two: per block, tilize, `sub_bcast_col` against the
    accumulated mean, untilize. Leading axes are independent tile rows. `block_wt` must divide Wt.
    """
    fmt = get_format(dtype)
    sticks = np.asarray(rows)
    if sticks.ndim < 2 or sticks.shape[-2] != TILE_HEIGHT or sticks.shape[-1] % TILE_WIDTH or not sticks.shape[-1]:
        raise InputError(f"rows of shape {list(sticks.shape)}: a tile row is [..., 32, W] with W a multiple of 32")
    wt = sticks.shape[-1] // TILE_WIDTH
    if isinstance(block_wt, bool) or not isinstance(block_wt, int | np.integer) or block_wt < 1 or wt % block_wt:
        raise InputError(f"block_wt = {block_wt!r} must be a positive integer dividing Wt = {wt}")
    fp32 = compute_config.fp32_dest_acc_en
    tiles = tilize_block(sticks)  # [..., Wt, 1024]
    scaler = scaler_tile(sticks.shape[-1])

    mean = None
    for first in range(0, wt, block_wt):
        partial = reduce_row_sum(
            tiles[..., first : first + block_wt, :],
            scaler,
            data_format=fmt,
            fp32_dest_acc_en=fp32,
            math_fidelity=compute_config.math_fidelity,
        )
        mean = partial if mean is None else add_tiles(mean, partial, data_format=fmt, fp32_dest_acc_en=fp32)

    # The subtract is element-wise against the same mean tile: block by block or all at once, the same bits.
    centered = sub_bcast_col(tiles, mean[..., None, :], data_format=fmt, fp32_dest_acc_en=fp32)
    return untilize_block(centered)
