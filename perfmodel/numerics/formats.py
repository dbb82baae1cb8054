"""Tensix data formats and the three fp32 -> bfloat16 conversions that matter for the functional path.

The device and the host convert fp32 to bfloat16 differently, and the numerics model has to keep them
apart to say where an error comes from:

- the host (torch, ``ttnn.from_torch``) rounds to nearest, ties to even (`to_bf16_rne`, = the ml_dtypes cast);
- the packer (Dst -> circular buffer) rounds to nearest, ties away from zero (`to_bf16_rna`);
- the program factory builds the reduce scaler with tt-metal's ``bfloat16(float)`` constructor, which drops
  the low 16 bits (`to_bf16_trunc`).

All three take anything array-like, read it as float32 (a float64 input is rounded to float32 first, as the
host tensor would be) and return an array of ``ml_dtypes.bfloat16``. NaN stays NaN (quiet, sign kept), +-inf
stays +-inf, and a finite value that rounds past the largest bfloat16 becomes inf, as round-to-nearest
demands (the hardware may saturate instead; that is not documented, so we follow IEEE).

bfloat8_b (block floating point, 1088-byte tiles) is a byte format: its pages hold the encoded bytes
(dtype uint8) and `perfmodel.numerics.blockfloat` converts them; `round_to_format` gives the host's encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np
import numpy.typing as npt

from perfmodel.errors import InputError

_TILE_ELEMENTS = 32 * 32  # values per tile; the layout lives in tiles.py

_BF16_QUIET_BIT = np.uint16(0x0040)
# Arrays of at least this many bfloat16 values widen faster by an integer shift than by the ml_dtypes cast.
_SHIFT_WIDENS_FROM = 16384


@dataclass(frozen=True)
class DataFormat:
    """One tile data format as the numerics path needs it.

    `mantissa_bits` counts the stored fraction bits (7 for bfloat16, 23 for float32, 6 for the largest value
    of a bfloat8_b row), so the unit roundoff of round-to-nearest is ``2 ** -(mantissa_bits + 1)``.
    `exponent_bytes_per_tile`: shared exponents a block-float tile stores besides one byte per value.
    """

    name: str
    tt_name: str
    element_bytes: int
    mantissa_bits: int
    dtype: np.dtype
    exponent_bytes_per_tile: int = 0

    @property
    def tile_bytes(self) -> int:
        return self.element_bytes * _TILE_ELEMENTS + self.exponent_bytes_per_tile

    @property
    def is_block_float(self) -> bool:
        return self.exponent_bytes_per_tile > 0

    @property
    def unit_roundoff(self) -> float:
        return 2.0 ** -(self.mantissa_bits + 1)


BFLOAT16 = DataFormat("bfloat16", "Float16_b", 2, 7, np.dtype(ml_dtypes.bfloat16))
FLOAT32 = DataFormat("float32", "Float32", 4, 23, np.dtype(np.float32))
BFLOAT8_B = DataFormat("bfloat8_b", "Bfp8_b", 1, 6, np.dtype(np.uint8), exponent_bytes_per_tile=64)

FORMATS: dict[str, DataFormat] = {fmt.name: fmt for fmt in (BFLOAT16, FLOAT32, BFLOAT8_B)}

FormatLike = str | DataFormat


def get_format(data_format: FormatLike) -> DataFormat:
    """Return the `DataFormat` named `data_format` (or the format itself); InputError if unknown."""
    if isinstance(data_format, DataFormat):
        return data_format
    fmt = FORMATS.get(data_format) if isinstance(data_format, str) else None
    if fmt is None:
        raise InputError(f"unknown data format {data_format!r}; expected one of {sorted(FORMATS)}")
    return fmt


def _bf16_bits(x: npt.ArrayLike, round_half: int) -> np.ndarray:
    """The bfloat16 bit patterns of float32(x): the high half of ``bits + round_half``, NaN kept NaN.

    Works on the raw bits in place of a float round trip: bfloat16 is the high half of float32 and the
    encoding is sign-magnitude, so adding 0x8000 before dropping the low half rounds the magnitude half-up
    (ties away from zero) and a carry out of the fraction bumps the exponent, up to inf past the largest
    value; adding 0 truncates. Only NaN bit patterns can carry into the sign or lose their payload, so
    NaNs are redone afterwards, and only when there are any: they keep their high half with the quiet bit.
    """
    f = np.asarray(x, dtype=np.float32)
    flat = f.reshape(-1)  # 1-d, so a 0-d input does not take numpy's scalar path
    bits = flat.view(np.uint32)
    high = np.add(bits, np.uint32(round_half)) if round_half else bits.copy()
    np.right_shift(high, np.uint32(16), out=high)
    out = high.astype(np.uint16)
    nan = np.isnan(flat)
    if nan.any():
        out[nan] = (bits[nan] >> np.uint32(16)).astype(np.uint16) | _BF16_QUIET_BIT
    return out.reshape(f.shape)


def to_bf16_rne(x: npt.ArrayLike) -> np.ndarray:
    """Host conversion fp32 -> bfloat16: round to nearest, ties to even (the ml_dtypes cast)."""
    with np.errstate(invalid="ignore"):  # ml_dtypes flags NaN inputs, which convert to NaN as they should
        return np.asarray(x, dtype=np.float32).astype(ml_dtypes.bfloat16)


def to_bf16_rna(x: npt.ArrayLike) -> np.ndarray:
    """Packer conversion fp32 -> bfloat16: round to nearest, ties away from zero.

    bfloat16 is the high half of float32 and the encoding is sign-magnitude, so adding half a bfloat16 ulp
    (0x8000) to the raw bits and dropping the low half rounds the magnitude half-up, i.e. away from zero;
    a carry out of the fraction correctly bumps the exponent (and reaches inf past the largest value).
    """
    return _bf16_bits(x, 0x8000).view(ml_dtypes.bfloat16)


def to_bf16_trunc(x: npt.ArrayLike) -> np.ndarray:
    """fp32 -> bfloat16 by dropping the low 16 bits (round toward zero), as tt-metal's ``bfloat16(float)``."""
    return _bf16_bits(x, 0).view(ml_dtypes.bfloat16)


def bf16_to_float32(x: np.ndarray) -> np.ndarray:
    """The float32 values of a bfloat16 array, exactly, in a new C-contiguous array.

    Both ways below put the bfloat16 bits in the high half (NaN payloads included): the ml_dtypes cast
    costs less per call, the integer shift less per value, so large arrays take the shift.
    """
    a = np.asarray(x)
    if a.size < _SHIFT_WIDENS_FROM or a.ndim == 0:
        return a.astype(np.float32, order="C")
    return np.left_shift(a.view(np.uint16), np.uint32(16), dtype=np.uint32, order="C").view(np.float32)


def round_to_format(x: npt.ArrayLike, data_format: FormatLike, *, mode: str = "rne") -> np.ndarray:
    """Round float32 values to `data_format`; `mode` ("rne", "rna", "trunc") applies to bfloat16 only.

    bfloat8_b returns the encoded tiles (uint8, [tiles, 1088]) of values taken in tile storage order: the
    host's encoding for "rne", the packer's for "rna" (`blockfloat.encode`).
    """
    fmt = get_format(data_format)
    if fmt is FLOAT32:
        return np.asarray(x, dtype=np.float32)
    if fmt is BFLOAT8_B:
        from perfmodel.numerics import blockfloat

        roundings = {"rne": "host", "rna": "packer"}
        if mode not in roundings:
            raise InputError(f"bfloat8_b rounding mode must be one of {sorted(roundings)}, got {mode!r}")
        return blockfloat.encode(x, rounding=roundings[mode])
    converters = {"rne": to_bf16_rne, "rna": to_bf16_rna, "trunc": to_bf16_trunc}
    if mode not in converters:
        raise InputError(f"unknown rounding mode {mode!r}; expected one of {sorted(converters)}")
    return converters[mode](x)


def to_float32(data: npt.ArrayLike, data_format: FormatLike) -> np.ndarray:
    """The float32 values of data stored in `data_format` (bfloat8_b: the decoded tiles, flat), exactly."""
    fmt = get_format(data_format)
    if fmt is BFLOAT8_B:
        from perfmodel.numerics import blockfloat

        return blockfloat.decode(data).reshape(-1)
    a = np.asarray(data)
    if a.dtype == BFLOAT16.dtype:
        return bf16_to_float32(a)
    return a.astype(np.float32)
