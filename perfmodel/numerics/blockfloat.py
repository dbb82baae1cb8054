"""bfloat8_b: Tensix block floating point with one 8-bit exponent shared by 16 values, and its conversions.

Layout of one tile (1088 bytes, tensix.md §3): 64 exponent bytes, then 1024 mantissa bytes. The 1024 values
are taken in the tile's storage order (four 16 x 16 faces, each row-major, `tiles.tile_index`); each group of
16 consecutive values, one row of a face, shares one exponent, so a tile has 4 x 16 = 64 of them, stored in
the same order (face 0 rows 0-15, face 1 rows 0-15, ...). A mantissa byte is the sign (bit 7) and a 7-bit
magnitude m that includes the hidden bit: the value is (-1)^sign x m x 2^(shared - 127 - 6). The element
with the largest exponent keeps 1 + 6 fraction bits; an element 2^d smaller keeps d bits fewer.

Conversions (compute.md §7):
- unpack (bfloat8_b -> bfloat16 or fp32 in Dst) is exact (`decode`);
- the packer (`encode(..., rounding="packer")`) rounds twice, each time to nearest with ties away from zero:
  first every value to 1 + 6 significant bits (about E8M6), then to the row's shared exponent, which is the
  largest exponent after the first rounding; denormals flush to zero and a zero magnitude is stored as +0;
- the host (`encode(..., rounding="host")`, what `ttnn.from_torch` does to a float32 tensor) is modelled
  as one rounding to nearest, ties to even, at the shared exponent of the row's float32 values; a row whose
  largest value rounds up to 128 takes the next exponent. tt-metal's host packer is not in the reference:
  this is the model's choice, stated here so that every engine loads the same bytes.
Non-finite values have no bfloat8_b encoding in this model: an InputError names them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from perfmodel.errors import InputError

TILE_VALUES = 1024
GROUP_VALUES = 16  # one face row shares an exponent
GROUPS_PER_TILE = TILE_VALUES // GROUP_VALUES  # 64 exponent bytes
TILE_BYTES = GROUPS_PER_TILE + TILE_VALUES  # 1088
MANTISSA_BITS = 7  # magnitude bits of a mantissa byte, hidden bit included
_BIAS_SHIFT = 127 + MANTISSA_BITS - 1  # value = m x 2^(shared - 133)
_ROUNDINGS = ("host", "packer")


def _tiles(values: npt.ArrayLike) -> np.ndarray:
    x = np.asarray(values, dtype=np.float32)
    if x.size % TILE_VALUES:
        raise InputError(f"bfloat8_b holds whole tiles of {TILE_VALUES} values; got {x.size} values")
    if not np.all(np.isfinite(x)):
        bad = x[~np.isfinite(x)].reshape(-1)[0]
        raise InputError(f"bfloat8_b cannot encode the non-finite value {bad}")
    return x.reshape(-1, GROUPS_PER_TILE, GROUP_VALUES)


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


def encode(values: npt.ArrayLike, *, rounding: str = "packer") -> np.ndarray:
    """float values in tile storage order ([..., 1024] or any whole number of tiles) -> uint8 [tiles, 1088]."""
    if rounding not in _ROUNDINGS:
        raise InputError(f"unknown bfloat8_b rounding {rounding!r}; expected one of {', '.join(_ROUNDINGS)}")
    x = _tiles(values)
    bits = x.view(np.uint32).astype(np.int64)
    sign = (bits >> 31) & 1
    exp = (bits >> 23) & 0xFF
    significand = np.where(exp > 0, (1 << 23) | (bits & 0x7FFFFF), 0)  # denormals flush to zero
    if rounding == "packer":
        # First rounding: to 7 significant bits (ties away); a carry out moves to the next exponent.
        r = _shift_round(significand, np.full_like(significand, 23 - (MANTISSA_BITS - 1)), ties="away")
        carry = r >= (1 << MANTISSA_BITS)
        r = np.where(carry, r >> 1, r)
        exp = np.where(r > 0, exp + carry, 0)
        shared = exp.max(axis=-1, keepdims=True)
        m = _shift_round(r, shared - exp, ties="away")
    else:
        shared = exp.max(axis=-1, keepdims=True)
        m = _shift_round(significand, 23 - (MANTISSA_BITS - 1) + shared - exp, ties="even")
        over = (m >= (1 << MANTISSA_BITS)).any(axis=-1, keepdims=True)
        shared = shared + over
        m = _shift_round(significand, 23 - (MANTISSA_BITS - 1) + shared - exp, ties="even")
    if np.any(shared > 254):
        raise InputError("bfloat8_b cannot encode a value that rounds past the largest finite exponent")
    mant = np.where(m > 0, (sign << MANTISSA_BITS) | m, 0).astype(np.uint8)
    tiles = mant.shape[0]
    out = np.empty((tiles, TILE_BYTES), dtype=np.uint8)
    out[:, :GROUPS_PER_TILE] = shared.reshape(tiles, GROUPS_PER_TILE).astype(np.uint8)
    out[:, GROUPS_PER_TILE:] = mant.reshape(tiles, TILE_VALUES)
    return out


def decode(data: npt.ArrayLike) -> np.ndarray:
    """uint8 tiles ([..., 1088] or a flat whole number of tiles) -> float32 [tiles, 1024], exactly."""
    raw = np.asarray(data, dtype=np.uint8)
    if raw.size % TILE_BYTES:
        raise InputError(f"bfloat8_b data must be whole tiles of {TILE_BYTES} bytes; got {raw.size} bytes")
    tiles = raw.reshape(-1, TILE_BYTES)
    shared = tiles[:, :GROUPS_PER_TILE].astype(np.int32)[:, :, None]
    mant = tiles[:, GROUPS_PER_TILE:].reshape(-1, GROUPS_PER_TILE, GROUP_VALUES).astype(np.int32)
    magnitude = np.ldexp((mant & 0x7F).astype(np.float32), shared - _BIAS_SHIFT)
    values = np.where(mant >> MANTISSA_BITS, -magnitude, magnitude).astype(np.float32)
    return values.reshape(-1, TILE_VALUES)
