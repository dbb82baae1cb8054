"""Numerics of tilize: a bit move plus padding.

`reference` builds the output tile by tile with explicit index arithmetic (row r, column c of a tile sits in
face (r // 16, c // 16) at r % 16 * 16 + c % 16); `functional` follows the device path (host cast of the
input, pad rows and columns with the factory's packed pad value, `tilize_block` per tile row). Both return
the output's pages in DRAM order: [tiles, 1024] for slice, tile row, tile column. Unpacking to Dst at full
precision (UnpackToDestFp32 for fp32), tilize moves bits unchanged, so the two agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perfmodel.numerics import blockfloat
from perfmodel.numerics.formats import get_format, round_to_format
from perfmodel.numerics.sfpu import pack_from_dst
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH, tilize_block
from perfmodel.ops.tilize.factory import geometry, packed_pad_value


def device_input(x: np.ndarray, dtype: str) -> np.ndarray:
    """The host tensor as the device holds it (host conversion: round to nearest even)."""
    return round_to_format(np.asarray(x, dtype=np.float32), get_format(dtype), mode="rne")


def pad_element(pad_value: float, dtype: str) -> np.ndarray:
    """The pad value as one element of `dtype`, from the 32-bit word the factory packs."""
    fmt = get_format(dtype)
    word = np.array([packed_pad_value(pad_value, fmt)], dtype=np.uint32)
    return word.view(fmt.dtype)[:1].copy()


def packed(tiles: np.ndarray, output_dtype: str | None) -> np.ndarray:
    """Tiles as the packer writes them in `output_dtype` (None: unchanged). Dst holds the input values exactly;
    bfloat8_b gets the packer's rounding (`blockfloat.encode(..., rounding="packer")`), returned decoded."""
    if output_dtype is None:
        return tiles
    fmt = get_format(output_dtype)
    values = np.asarray(tiles, dtype=np.float32)
    if fmt.is_block_float:
        return blockfloat.decode(blockfloat.encode(values, rounding="packer")).reshape(values.shape)
    return pack_from_dst(values, fmt).reshape(values.shape)


def reference(
    x: np.ndarray,
    *,
    dtype: str = "bfloat16",
    padded_shape: Sequence[int] | None = None,
    pad_value: float = 0.0,
    output_dtype: str | None = None,
) -> np.ndarray:
    """Pad and tilize with explicit index arithmetic: [tiles, 1024] in the output's page order."""
    data = device_input(x, dtype)
    geo = geometry(data.shape, padded_shape)
    ht, wt = geo.ht, geo.wt
    h, w = geo.h_in, geo.w_in
    rows = data.reshape(geo.third_dim, h, w)
    pad = pad_element(pad_value, dtype)[0]
    out = np.empty((geo.third_dim, ht, wt, TILE_HEIGHT * TILE_WIDTH), dtype=data.dtype)
    r = np.arange(TILE_HEIGHT)[:, None]
    c = np.arange(TILE_WIDTH)[None, :]
    flat = ((r // 16) * 2 + c // 16) * 256 + (r % 16) * 16 + c % 16
    for s in range(geo.third_dim):
        for i in range(ht):
            for j in range(wt):
                gr, gc = i * TILE_HEIGHT + r, j * TILE_WIDTH + c
                inside = (gr < h) & (gc < w)
                tile = np.full((TILE_HEIGHT, TILE_WIDTH), pad, dtype=data.dtype)
                tile[inside] = rows[s][np.minimum(gr, h - 1), np.minimum(gc, w - 1)][inside]
                out[s, i, j, flat] = tile
    return packed(out.reshape(-1, TILE_HEIGHT * TILE_WIDTH), output_dtype)


def functional(
    x: np.ndarray,
    *,
    dtype: str = "bfloat16",
    padded_shape: Sequence[int] | None = None,
    pad_value: float = 0.0,
    output_dtype: str | None = None,
) -> np.ndarray:
    """The device path: pad to the output's padded shape with the packed pad value, tilize tile row by tile row."""
    data = device_input(x, dtype)
    geo = geometry(data.shape, padded_shape)
    full = np.full((geo.third_dim, geo.ht * TILE_HEIGHT, geo.wt * TILE_WIDTH), pad_element(pad_value, dtype)[0])
    full[:, : geo.h_in, : geo.w_in] = data.reshape(geo.third_dim, geo.h_in, geo.w_in)
    sticks = full.reshape(geo.third_dim * geo.ht, TILE_HEIGHT, geo.wt * TILE_WIDTH)
    return packed(tilize_block(sticks).reshape(-1, TILE_HEIGHT * TILE_WIDTH), output_dtype)
