"""Numerics of untilize: a bit move that drops the padding.

The input is the tiled padded tensor: `device_input(x)` gives its DRAM pages ([tiles, 1024], slice, tile
row, tile column) from a padded row-major `x`. `reference` is `x[..., :H, :W]` in the device's format;
`functional` untilizes tile row by tile row in sub-blocks as pack_untilize does. With fp32 unpacked to Dst
at full precision, both are pure permutations and agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perfmodel.numerics import blockfloat
from perfmodel.numerics.formats import get_format, round_to_format
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH, tilize_block, untilize_block
from perfmodel.ops.untilize.factory import Geometry, block_ct_dim, geometry


def device_values(x: np.ndarray, dtype: str) -> np.ndarray:
    """The padded row-major tensor in the device's format (host conversion: round to nearest even; bfloat8_b:
    `blockfloat`'s host encoding of each tile, whose face rows share an exponent, as decoded float32)."""
    fmt = get_format(dtype)
    if fmt.is_block_float:
        x = np.asarray(x, dtype=np.float32)
        return _untilized(device_input(x, dtype=dtype), geometry(x.shape, None)).reshape(x.shape)
    return round_to_format(np.asarray(x, dtype=np.float32), fmt, mode="rne")


def device_input(x: np.ndarray, *, dtype: str = "bfloat16") -> np.ndarray:
    """The input's DRAM pages: the padded tensor tilized, [tiles, 1024] (bfloat8_b: decoded float32 values)."""
    fmt = get_format(dtype)
    data = np.asarray(x, dtype=np.float32) if fmt.is_block_float else device_values(x, dtype)
    geo = geometry(data.shape, None)
    rows = data.reshape(geo.tile_rows, TILE_HEIGHT, geo.wt * TILE_WIDTH)
    tiles = tilize_block(rows).reshape(-1, TILE_HEIGHT * TILE_WIDTH)
    if fmt.is_block_float:
        return blockfloat.decode(blockfloat.encode(tiles, rounding="host")).reshape(tiles.shape)
    return tiles


def _untilized(tiles: np.ndarray, geo: Geometry) -> np.ndarray:
    per_row = tiles.reshape(geo.tile_rows, geo.wt, TILE_HEIGHT * TILE_WIDTH)
    return untilize_block(per_row)


def _out(values: np.ndarray, output_dtype: str | None) -> np.ndarray:
    """The packer's output format: bfloat8_b and bf16 values are exact in bf16, fp32 in fp32."""
    return (
        values if output_dtype is None else np.asarray(values, dtype=np.float32).astype(get_format(output_dtype).dtype)
    )


def reference(
    x: np.ndarray,
    *,
    dtype: str = "bfloat16",
    output_shape: Sequence[int] | None = None,
    output_dtype: str | None = None,
) -> np.ndarray:
    """The logical output: the padded input cropped to `output_shape` (default: all of it), in `output_dtype`."""
    data = device_values(x, dtype)
    geo = geometry(data.shape, output_shape)
    crop = tuple(slice(0, d) for d in geo.out_dims)
    return _out(np.ascontiguousarray(data[crop]), output_dtype)


def functional(
    x: np.ndarray,
    *,
    dtype: str = "bfloat16",
    output_shape: Sequence[int] | None = None,
    output_dtype: str | None = None,
) -> np.ndarray:
    """The device path from the tiled pages: pack_untilize in sub-blocks of block_ct_dim tiles, real rows kept."""
    tiles = device_input(x, dtype=dtype)
    geo = geometry(np.shape(x), output_shape)
    bct = block_ct_dim(geo.wt, get_format(dtype).name == "float32")
    if get_format(dtype).is_block_float:
        tiles = tiles.astype(np.float32)
    per_row = tiles.reshape(geo.tile_rows, geo.wt, TILE_HEIGHT * TILE_WIDTH)
    rows = np.empty((geo.tile_rows, TILE_HEIGHT, geo.wt * TILE_WIDTH), dtype=tiles.dtype)
    for b in range(geo.wt // bct):
        cols = slice(b * bct * TILE_WIDTH, (b + 1) * bct * TILE_WIDTH)
        rows[:, :, cols] = untilize_block(per_row[:, b * bct : (b + 1) * bct])
    full = rows.reshape(*geo.in_dims)
    crop = tuple(slice(0, d) for d in geo.out_dims)
    return _out(np.ascontiguousarray(full[crop]), output_dtype)
