"""Numerics of untilize: a bit move that drops the padding.

The input is the tiled padded tensor: `device_input(x)` gives its DRAM pages ([tiles, 1024], slice, tile
row, tile column) from a padded row-major `x`. `reference` is `x[..., :H, :W]` in the device's format;
`functional` untilizes tile row by tile row in sub-blocks as pack_untilize does. With fp32 unpacked to Dst
at full precision, both are pure permutations and agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perfmodel.numerics.formats import get_format, round_to_format
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH, tilize_block, untilize_block
from perfmodel.ops.untilize.factory import block_ct_dim, geometry


def device_values(x: np.ndarray, dtype: str) -> np.ndarray:
    """The padded row-major tensor in the device's format (host conversion: round to nearest even)."""
    return round_to_format(np.asarray(x, dtype=np.float32), get_format(dtype), mode="rne")


def device_input(x: np.ndarray, *, dtype: str = "bfloat16") -> np.ndarray:
    """The input's DRAM pages: the padded tensor tilized, [tiles, 1024]."""
    data = device_values(x, dtype)
    geo = geometry(data.shape, None)
    rows = data.reshape(geo.tile_rows, TILE_HEIGHT, geo.wt * TILE_WIDTH)
    return tilize_block(rows).reshape(-1, TILE_HEIGHT * TILE_WIDTH)


def reference(x: np.ndarray, *, dtype: str = "bfloat16", output_shape: Sequence[int] | None = None) -> np.ndarray:
    """The logical output: the padded input cropped to `output_shape` (default: all of it)."""
    data = device_values(x, dtype)
    geo = geometry(data.shape, output_shape)
    crop = tuple(slice(0, d) for d in geo.out_dims)
    return np.ascontiguousarray(data[crop])


def functional(x: np.ndarray, *, dtype: str = "bfloat16", output_shape: Sequence[int] | None = None) -> np.ndarray:
    """The device path from the tiled pages: pack_untilize in sub-blocks of block_ct_dim tiles, real rows kept."""
    tiles = device_input(x, dtype=dtype)
    geo = geometry(np.shape(x), output_shape)
    bct = block_ct_dim(geo.wt, get_format(dtype).name == "float32")
    per_row = tiles.reshape(geo.tile_rows, geo.wt, TILE_HEIGHT * TILE_WIDTH)
    rows = np.empty((geo.tile_rows, TILE_HEIGHT, geo.wt * TILE_WIDTH), dtype=tiles.dtype)
    for b in range(geo.wt // bct):
        cols = slice(b * bct * TILE_WIDTH, (b + 1) * bct * TILE_WIDTH)
        rows[:, :, cols] = untilize_block(per_row[:, b * bct : (b + 1) * bct])
    full = rows.reshape(*geo.in_dims)
    crop = tuple(slice(0, d) for d in geo.out_dims)
    return np.ascontiguousarray(full[crop])
