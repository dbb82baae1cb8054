"""Tile numerics of the unpack -> Dst -> SFPU -> pack path of eltwise compute kernels (compute.md §6-7).

- `unpack_to_dst`: a CB page into Dst, held as float32: bfloat16 and bfloat8_b unpack exactly; float32 stays
  whole (copy_tile unpacks to Dst; with ``fp32_dest_acc_en`` Dst is 32-bit, as the unary factory sets it for
  float32);
- `SFPU_FUNCTIONS`: what each SFPU tile function does to the values in Dst;
- `pack_from_dst`: Dst into a CB page of the output format with the packer's rounding (ties away from zero
  for bfloat16, the double rounding of bfloat8_b, exact for float32).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from perfmodel.errors import InputError
from perfmodel.numerics import blockfloat
from perfmodel.numerics.formats import BFLOAT8_B, BFLOAT16, FormatLike, get_format, to_bf16_rna, to_float32


def relu(values: np.ndarray) -> np.ndarray:
    """relu_tile: x < 0 becomes +0; everything else (+-0, NaN) passes unchanged (the SFPU's `v < 0` test)."""
    v = np.asarray(values, dtype=np.float32)
    return np.where(v < 0, np.float32(0.0), v)


SFPU_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"relu_tile": relu}


def sfpu_function(name: str) -> Callable[[np.ndarray], np.ndarray]:
    try:
        return SFPU_FUNCTIONS[name]
    except KeyError:
        raise InputError(f"unknown SFPU function {name!r} (known: {', '.join(sorted(SFPU_FUNCTIONS))})") from None


def unpack_to_dst(page: np.ndarray, data_format: FormatLike) -> np.ndarray:
    """One CB page (stored values, or the encoded bytes of bfloat8_b) -> 1024 float32 Dst values, exactly."""
    return to_float32(page, data_format).reshape(-1)


def pack_from_dst(values: np.ndarray, data_format: FormatLike) -> np.ndarray:
    """Dst values (float32) -> one page of `data_format` as the packer writes it."""
    fmt = get_format(data_format)
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    if fmt is BFLOAT16:
        return to_bf16_rna(v)
    if fmt is BFLOAT8_B:
        return blockfloat.encode(v, rounding="packer").reshape(-1)
    return v.astype(fmt.dtype)
