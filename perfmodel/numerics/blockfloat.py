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


def _round_away(v: np.ndarray, shift: np.ndarray | int) -> np.ndarray:
    """round(v / 2^shift), ties away from zero, for non-negative int32 v < 2^24 and 0 <= shift <= 30."""
    return (v + ((np.int32(1) << shift) >> 1)) >> shift


def _round_even(v: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """round(v / 2^shift), ties to even, for non-negative int32 v < 2^24 and 0 <= shift <= 30."""
    q = v >> shift
    rem = v - (q << shift)
    half = (np.int32(1) << shift) >> 1
    return q + ((rem > half) | ((rem == half) & (half > 0) & ((q & 1) == 1)))


def encode(values: npt.ArrayLike, *, rounding: str = "packer") -> np.ndarray:
    """float values in tile storage order ([..., 1024] or any whole number of tiles) -> uint8 [tiles, 1088].

    Works in int32: a significand has 24 bits, and a shift of 25 or more rounds any of them to 0, so
    shifts are capped there (the reference, `perfmodel.numerics.reference.encode_bfp8`, caps at 40 in int64).
    """
    if rounding not in _ROUNDINGS:
        raise InputError(f"unknown bfloat8_b rounding {rounding!r}; expected one of {', '.join(_ROUNDINGS)}")
    x = _tiles(values)
    bits = x.view(np.int32)
    exp = (bits >> 23) & 0xFF
    significand = (bits & 0x7FFFFF) | (1 << 23)
    significand[exp == 0] = 0  # denormals flush to zero
    first = 23 - (MANTISSA_BITS - 1)  # a significand to 1 + 6 bits
    if rounding == "packer":
        # First rounding: to 7 significant bits (ties away); a carry out moves to the next exponent.
        r = _round_away(significand, first)
        carry = r >> MANTISSA_BITS  # 1 when r == 2^7
        r >>= carry
        exp += carry  # a zero significand has exponent 0 and no carry: it stays 0, as the reference wants
        shared = exp.max(axis=-1, keepdims=True)
        m = _round_away(r, np.minimum(shared - exp, 25))
    else:
        shared = exp.max(axis=-1, keepdims=True)
        m = _round_even(significand, np.minimum(first + shared - exp, 25))
        over = (m >= (1 << MANTISSA_BITS)).any(axis=-1, keepdims=True)
        if over.any():
            shared = shared + over
            m = _round_even(significand, np.minimum(first + shared - exp, 25))
    if np.any(shared > 254):
        raise InputError("bfloat8_b cannot encode a value that rounds past the largest finite exponent")
    sign = (bits >> 31) & 1  # arithmetic shift: -1 for negatives, so mask
    mant = np.where(m > 0, (sign << MANTISSA_BITS) | m, 0).astype(np.uint8)
    tiles = mant.shape[0]
    out = np.empty((tiles, TILE_BYTES), dtype=np.uint8)
    out[:, :GROUPS_PER_TILE] = shared.reshape(tiles, GROUPS_PER_TILE).astype(np.uint8)
    out[:, GROUPS_PER_TILE:] = mant.reshape(tiles, TILE_VALUES)
    return out


# Decoding by lookup: the signed magnitude of every mantissa byte, and 2^(shared - 133) for every exponent
# byte, whose product is exact (a 7-bit integer times a power of two that float32 holds, down to 2^-133).
_MANTISSA_VALUES = np.where(
    np.arange(256) >> MANTISSA_BITS, -(np.arange(256) & 0x7F).astype(np.float32), (np.arange(256) & 0x7F)
).astype(np.float32)
_EXPONENT_SCALES = np.ldexp(np.float32(1.0), np.arange(256) - _BIAS_SHIFT).astype(np.float32)


def decode(data: npt.ArrayLike) -> np.ndarray:
    """uint8 tiles ([..., 1088] or a flat whole number of tiles) -> float32 [tiles, 1024], exactly."""
    raw = np.asarray(data, dtype=np.uint8)
    if raw.size % TILE_BYTES:
        raise InputError(f"bfloat8_b data must be whole tiles of {TILE_BYTES} bytes; got {raw.size} bytes")
    tiles = raw.reshape(-1, TILE_BYTES)
    scale = _EXPONENT_SCALES[tiles[:, :GROUPS_PER_TILE]][:, :, None]
    values = _MANTISSA_VALUES[tiles[:, GROUPS_PER_TILE:]].reshape(-1, GROUPS_PER_TILE, GROUP_VALUES) * scale
    return values.reshape(-1, TILE_VALUES)
