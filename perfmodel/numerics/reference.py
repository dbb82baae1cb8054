"""Readable definitions of the numerics that `formats`, `tiles` and `blockfloat` compute fast.

Each function here states one conversion or tile primitive in the plainest numpy: element-wise, in the
documented order, one bfloat16 rounding per Dst write. The public functions of `formats`, `tiles` and
`blockfloat` compute the same bits faster (bit patterns, batched passes, dropped zero additions); the tests in
tests/test_numerics_fast_equals_reference.py hold them to these, bit for bit. The docstrings of the public
functions are the specification; the ones here say only what differs.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import numpy.typing as npt

from perfmodel.errors import InputError
from perfmodel.numerics import blockfloat as _bfp
from perfmodel.numerics.formats import BFLOAT16, DataFormat, FormatLike, get_format
from perfmodel.numerics.tiles import (
    _FACE_GRID,
    FACE_HEIGHT,
    FACE_WIDTH,
    REDUCE_ROW_SRCA,
    TILE_ELEMENTS,
    TILE_HEIGHT,
    TILE_WIDTH,
    _check_srca,
    _check_tiles,
    _dst_fp32,
    fidelity_parts,
    fidelity_phases_of,
    unpack_operand,
)

_BF16_QUIET_BIT = np.uint16(0x0040)


# ---- fp32 -> bfloat16 ------------------------------------------------------------------------------------
def _f32_bits(x: npt.ArrayLike) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint32]]:
    f = np.asarray(x, dtype=np.float32)
    return f, f.view(np.uint32)


def _finish(f: npt.NDArray[np.float32], bits: npt.NDArray[np.uint32], high: npt.NDArray[np.uint32]) -> np.ndarray:
    # A NaN whose payload sits only in the dropped low half would turn into inf; force the quiet bit instead.
    nan_bits = (bits >> np.uint32(16)).astype(np.uint16) | _BF16_QUIET_BIT
    out = np.where(np.isnan(f), nan_bits, high.astype(np.uint16))
    return out.view(ml_dtypes.bfloat16)


def to_bf16_rna(x: npt.ArrayLike) -> np.ndarray:
    """`formats.to_bf16_rna`: add half a bfloat16 ulp to the raw bits, drop the low half; NaN keeps NaN."""
    f, bits = _f32_bits(x)
    with np.errstate(over="ignore"):
        high = (bits + np.uint32(0x8000)) >> np.uint32(16)
    return _finish(f, bits, high)


def to_bf16_trunc(x: npt.ArrayLike) -> np.ndarray:
    """`formats.to_bf16_trunc`: drop the low 16 bits; NaN keeps NaN."""
    f, bits = _f32_bits(x)
    return _finish(f, bits, bits >> np.uint32(16))


def to_float32(data: npt.ArrayLike, data_format: FormatLike) -> np.ndarray:
    """`formats.to_float32`: the ml_dtypes cast (bfloat16 widens exactly), bfloat8_b decoded."""
    fmt = get_format(data_format)
    if fmt.is_block_float:
        return decode_bfp8(data).reshape(-1)
    return np.asarray(data).astype(np.float32)


# ---- Dst and packer ----------------------------------------------------------------------------------------
def _to_dst(values: np.ndarray, dst_fp32: bool) -> np.ndarray:
    if dst_fp32:
        return values
    return to_bf16_rna(values).astype(np.float32)


def _pack(values: np.ndarray, fmt: DataFormat) -> np.ndarray:
    if fmt is BFLOAT16:
        return to_bf16_rna(values)
    return values.astype(np.float32)


# ---- tile layout -------------------------------------------------------------------------------------------
def tilize_block(rows: npt.ArrayLike) -> np.ndarray:
    """`tiles.tilize_block` on the array's own dtype."""
    a = np.asarray(rows)
    if a.ndim < 2 or a.shape[-2] != TILE_HEIGHT or a.shape[-1] == 0 or a.shape[-1] % TILE_WIDTH:
        raise InputError(f"tilize_block expects [..., 32, W] with W a multiple of 32, got shape {a.shape}")
    lead = a.shape[:-2]
    wt = a.shape[-1] // TILE_WIDTH
    n = len(lead)
    split = a.reshape((*lead, 2, FACE_HEIGHT, wt, 2, FACE_WIDTH))
    order = (*range(n), n + 2, n, n + 3, n + 1, n + 4)
    return np.ascontiguousarray(split.transpose(order)).reshape((*lead, wt, TILE_ELEMENTS))


def untilize_block(tiles: npt.ArrayLike) -> np.ndarray:
    """`tiles.untilize_block` on the array's own dtype."""
    a = np.asarray(tiles)
    if a.ndim < 2 or a.shape[-1] != TILE_ELEMENTS or a.shape[-2] == 0:
        raise InputError(f"untilize_block expects [..., Wt, 1024] with Wt >= 1, got shape {a.shape}")
    lead = a.shape[:-2]
    wt = a.shape[-2]
    n = len(lead)
    split = a.reshape((*lead, wt, *_FACE_GRID))
    order = (*range(n), n + 1, n + 3, n, n + 2, n + 4)
    return np.ascontiguousarray(split.transpose(order)).reshape((*lead, TILE_HEIGHT, wt * TILE_WIDTH))


# ---- FPU primitives ----------------------------------------------------------------------------------------
def _face_row_sums(products: np.ndarray) -> np.ndarray:
    """Sum the 16 columns of each face row in fp32 with a fixed binary tree: ((c0+c1)+(c2+c3))+..."""
    v = products
    while v.shape[-1] > 1:
        v = v[..., 0::2] + v[..., 1::2]
    return v[..., 0]


def reduce_row_sum(
    tiles: npt.ArrayLike,
    scaler: npt.ArrayLike,
    *,
    data_format: FormatLike,
    fp32_dest_acc_en: bool | None = None,
    math_fidelity: str = "HiFi4",
    srca: str = REDUCE_ROW_SRCA,
) -> np.ndarray:
    """`tiles.reduce_row_sum`, one Dst write per tile, face and phase, every phase computed."""
    fmt = get_format(data_format)
    x = _check_tiles(tiles, fmt, "tiles", min_ndim=2)
    s = _check_tiles(scaler, BFLOAT16, "scaler", min_ndim=1)
    if s.ndim != 1:
        raise InputError(f"scaler must be one [1024] tile, got shape {s.shape}")
    phases = fidelity_phases_of(math_fidelity)
    data_in_srca = _check_srca(srca) == "data"
    dst_fp32 = _dst_fp32(fmt, fp32_dest_acc_en)
    lead = x.shape[:-2]
    wt = x.shape[-2]

    data = unpack_operand(x, fmt, dst_fp32).reshape((*lead, wt, *_FACE_GRID))
    scale = s.astype(np.float32).reshape(_FACE_GRID)[:, :, 0, :][:, :, None, :]
    data_parts = fidelity_parts(data, "srca" if data_in_srca else "srcb")
    scale_parts = fidelity_parts(scale, "srcb" if data_in_srca else "srca")
    sums = []  # per phase: [..., Wt, face row, face column, row]
    for a_part, b_part in phases:
        d_part, s_part = (
            (data_parts[a_part], scale_parts[b_part]) if data_in_srca else (data_parts[b_part], scale_parts[a_part])
        )
        sums.append(_face_row_sums(d_part * s_part))

    acc = np.zeros((*lead, 2, FACE_HEIGHT), dtype=np.float32)
    for t in range(wt):
        for face_col in range(2):
            for phase_sums in sums:
                acc = _to_dst(acc + phase_sums[..., t, :, face_col, :], dst_fp32)

    mean = np.zeros((*lead, *_FACE_GRID), dtype=np.float32)
    mean[..., :, 0, :, 0] = acc
    return _pack(mean.reshape((*lead, TILE_ELEMENTS)), fmt)


def sub_bcast_col(
    a_tile: npt.ArrayLike,
    b_tile: npt.ArrayLike,
    *,
    data_format: FormatLike,
    fp32_dest_acc_en: bool | None = None,
) -> np.ndarray:
    """`tiles.sub_bcast_col`: unpack, subtract in fp32, store to Dst, pack."""
    fmt = get_format(data_format)
    a = _check_tiles(a_tile, fmt, "a_tile", min_ndim=1)
    b = _check_tiles(b_tile, fmt, "b_tile", min_ndim=1)
    dst_fp32 = _dst_fp32(fmt, fp32_dest_acc_en)
    a_faces = unpack_operand(a, fmt, dst_fp32).reshape((*a.shape[:-1], *_FACE_GRID))
    b_col = unpack_operand(b, fmt, dst_fp32).reshape((*b.shape[:-1], *_FACE_GRID))[..., :, 0, :, 0]
    diff = a_faces - b_col[..., :, None, :, None]
    out = _pack(_to_dst(diff, dst_fp32), fmt)
    return out.reshape((*diff.shape[:-4], TILE_ELEMENTS))


def add_tiles(
    a_tile: npt.ArrayLike,
    b_tile: npt.ArrayLike,
    *,
    data_format: FormatLike,
    fp32_dest_acc_en: bool | None = None,
) -> np.ndarray:
    """`tiles.add_tiles`: unpack, add in fp32, store to Dst, pack."""
    fmt = get_format(data_format)
    a = _check_tiles(a_tile, fmt, "a_tile", min_ndim=1)
    b = _check_tiles(b_tile, fmt, "b_tile", min_ndim=1)
    dst_fp32 = _dst_fp32(fmt, fp32_dest_acc_en)
    total = unpack_operand(a, fmt, dst_fp32) + unpack_operand(b, fmt, dst_fp32)
    return _pack(_to_dst(total, dst_fp32), fmt)


# ---- bfloat8_b ---------------------------------------------------------------------------------------------
def _shift_round(v: np.ndarray, shift: np.ndarray, *, ties: str) -> np.ndarray:
    """round(v / 2^shift) for non-negative integers v (int64) and shifts >= 0, ties even or away from zero."""
    shift = np.minimum(shift, 40)
    q = v >> shift
    rem = v - (q << shift)
    half = np.where(shift > 0, np.int64(1) << np.maximum(shift - 1, 0), 0)
    up = rem > half
    tie = (rem == half) & (shift > 0)
    up |= tie & ((q & 1) == 1) if ties == "even" else tie
    return q + up


def encode_bfp8(values: npt.ArrayLike, *, rounding: str = "packer") -> np.ndarray:
    """`blockfloat.encode` in int64 arithmetic, step by step."""
    if rounding not in _bfp._ROUNDINGS:
        raise InputError(f"unknown bfloat8_b rounding {rounding!r}; expected one of {', '.join(_bfp._ROUNDINGS)}")
    x = _bfp._tiles(values)
    m_bits = _bfp.MANTISSA_BITS
    bits = x.view(np.uint32).astype(np.int64)
    sign = (bits >> 31) & 1
    exp = (bits >> 23) & 0xFF
    significand = np.where(exp > 0, (1 << 23) | (bits & 0x7FFFFF), 0)
    if rounding == "packer":
        r = _shift_round(significand, np.full_like(significand, 23 - (m_bits - 1)), ties="away")
        carry = r >= (1 << m_bits)
        r = np.where(carry, r >> 1, r)
        exp = np.where(r > 0, exp + carry, 0)
        shared = exp.max(axis=-1, keepdims=True)
        m = _shift_round(r, shared - exp, ties="away")
    else:
        shared = exp.max(axis=-1, keepdims=True)
        m = _shift_round(significand, 23 - (m_bits - 1) + shared - exp, ties="even")
        over = (m >= (1 << m_bits)).any(axis=-1, keepdims=True)
        shared = shared + over
        m = _shift_round(significand, 23 - (m_bits - 1) + shared - exp, ties="even")
    if np.any(shared > 254):
        raise InputError("bfloat8_b cannot encode a value that rounds past the largest finite exponent")
    mant = np.where(m > 0, (sign << m_bits) | m, 0).astype(np.uint8)
    tiles = mant.shape[0]
    out = np.empty((tiles, _bfp.TILE_BYTES), dtype=np.uint8)
    out[:, : _bfp.GROUPS_PER_TILE] = shared.reshape(tiles, _bfp.GROUPS_PER_TILE).astype(np.uint8)
    out[:, _bfp.GROUPS_PER_TILE :] = mant.reshape(tiles, _bfp.TILE_VALUES)
    return out


def decode_bfp8(data: npt.ArrayLike) -> np.ndarray:
    """`blockfloat.decode` with np.ldexp."""
    raw = np.asarray(data, dtype=np.uint8)
    if raw.size % _bfp.TILE_BYTES:
        raise InputError(f"bfloat8_b data must be whole tiles of {_bfp.TILE_BYTES} bytes; got {raw.size} bytes")
    tiles = raw.reshape(-1, _bfp.TILE_BYTES)
    groups = _bfp.GROUPS_PER_TILE
    shared = tiles[:, :groups].astype(np.int32)[:, :, None]
    mant = tiles[:, groups:].reshape(-1, groups, _bfp.GROUP_VALUES).astype(np.int32)
    magnitude = np.ldexp((mant & 0x7F).astype(np.float32), shared - _bfp._BIAS_SHIFT)
    values = np.where(mant >> _bfp.MANTISSA_BITS, -magnitude, magnitude).astype(np.float32)
    return values.reshape(-1, _bfp.TILE_VALUES)


__all__ = [
    "add_tiles",
    "decode_bfp8",
    "encode_bfp8",
    "reduce_row_sum",
    "sub_bcast_col",
    "tilize_block",
    "to_bf16_rna",
    "to_bf16_trunc",
    "to_float32",
    "untilize_block",
]
