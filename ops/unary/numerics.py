"""Numerics of the unary op: the hardware path tile by tile, and a plain numpy reference, equal bit for bit.

Storage order: `x` is taken as the DRAM buffer holds it, flat in pages of 1024 values (one tile each), which is
also what `simulate(program, inputs=x)` loads. An elementwise function gives the same values whatever the
layout; only bfloat8_b depends on it, as each run of 16 stored values (a face row) shares one exponent.

- host: x -> the buffer's format (bfloat16: round to nearest even; bfloat8_b: `blockfloat`'s host encoding;
  float32: exact);
- hardware path (`functional`): per tile copy_tile into Dst (exact), the SFPU chain of `fn`, pack_tile into
  the output format with the packer's rounding (`perfmodel.numerics.sfpu`);
- reference: the same host values, numpy's relu (x < 0 -> 0) or identity, and the packer's conversion to
  the output format (`round_to_format(..., mode="rna")`).
With one format in and out, relu and copy produce values the format holds, so no conversion rounds anything;
the packer's rounding would matter only for an output format narrower than the input's.

The compute config (`math_fidelity`, `fp32_dest_acc_en`, `dst_full_sync_en`) does not change these numbers:
copy and relu never multiply (fidelity only affects the FPU's multiplies), copy_tile unpacks to Dst keeping
the data whole (no 19-bit source registers; shared/reference/compute.md §6), and the sync mode is timing
only. `functional` and `validate` take `config=` so that every op's functional has the same interface.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from perfmodel.compute_config import ComputeConfig
from perfmodel.errors import InputError
from perfmodel.numerics.formats import DataFormat, round_to_format, to_float32
from perfmodel.numerics.metrics import max_abs_error
from perfmodel.numerics.sfpu import pack_from_dst, sfpu_function, unpack_to_dst
from perfmodel.numerics.tiles import TILE_ELEMENTS
from perfmodel.ops.unary.config import Config
from perfmodel.ops.unary.factory import SFPU_CHAINS, validate_format

DISTRIBUTIONS = ("uniform", "normal", "offset")


def _fn(fn: str) -> tuple[str, ...]:
    if fn not in SFPU_CHAINS:
        raise InputError(f"fn = {fn!r} is not one of {', '.join(SFPU_CHAINS)}")
    return SFPU_CHAINS[fn]


def _values(pages: np.ndarray, fmt: DataFormat, shape: tuple[int, ...]) -> np.ndarray:
    """Stored pages -> the values of the tensor, in its format's numpy type (bfloat8_b: decoded float32)."""
    values = to_float32(pages, fmt) if fmt.is_block_float else np.asarray(pages).reshape(-1)
    return values.reshape(shape)


def _host_pages(x: npt.ArrayLike, fmt: DataFormat) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.size % TILE_ELEMENTS:
        raise InputError(f"input of {a.size} values is not a whole number of 32 x 32 tiles")
    return np.asarray(round_to_format(a.reshape(-1), fmt, mode="rne")).reshape(a.size // TILE_ELEMENTS, -1)


def _resolve(fn: str | None, config: Config | Mapping[str, Any] | None, fmt: DataFormat) -> tuple[str, ComputeConfig]:
    """The function (the keyword when given, else the config's) and the resolved compute config."""
    cfg = Config.coerce(config)
    return (cfg.fn if fn is None else fn), cfg.compute_config(fmt.name)


def functional(
    x: npt.ArrayLike,
    *,
    fn: str | None = None,
    dtype: str = "bfloat16",
    config: Config | Mapping[str, Any] | None = None,
) -> np.ndarray:
    """The device's output for input `x`: copy_tile, the SFPU chain and pack_tile on every tile.

    `fn` ("copy" or "relu") defaults to the config's (`Config.fn`, "relu"); the config's compute knobs are
    checked but change no value (module docstring).
    """
    fmt = validate_format(dtype)
    fn, _ = _resolve(fn, config, fmt)
    chain = _fn(fn)
    shape = np.shape(x)
    pages = _host_pages(x, fmt)
    out = []
    for page in pages:
        dst = unpack_to_dst(page, fmt)
        for op in chain:
            dst = sfpu_function(op)(dst)
        out.append(pack_from_dst(dst, fmt))
    return _values(np.stack(out), fmt, shape)


def reference(x: npt.ArrayLike, *, fn: str = "relu", dtype: str = "bfloat16") -> np.ndarray:
    """numpy: fn on the values the device holds, converted to the output format as the packer does."""
    fmt = validate_format(dtype)
    _fn(fn)
    shape = np.shape(x)
    held = to_float32(_host_pages(x, fmt), fmt).reshape(-1)
    result = np.where(held < 0, np.float32(0.0), held) if fn == "relu" else held
    return _values(round_to_format(result, fmt, mode="rna"), fmt, shape)


def make_input(shape: Sequence[int], *, seed: int = 0, distribution: str = "uniform") -> np.ndarray:
    """A float32 input: uniform on [-1, 1), standard normal, or normal around +-100 (wide exponents per row)."""
    if distribution not in DISTRIBUTIONS:
        raise InputError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
    rng = np.random.default_rng(seed)
    dims = tuple(int(d) for d in shape)
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, dims).astype(np.float32)
    if distribution == "normal":
        return rng.standard_normal(dims).astype(np.float32)
    return (rng.standard_normal(dims) * np.exp2(rng.integers(-8, 8, dims))).astype(np.float32)


@dataclass(frozen=True)
class ValidationResult:
    """The hardware path against the reference on one input: identical bits or not."""

    shape: tuple[int, ...]
    dtype: str
    fn: str
    distribution: str
    seed: int
    math_fidelity: str
    fp32_dest_acc_en: bool
    mismatches: int
    max_abs_error: float
    passed: bool
    reason: str


def validate(
    shape: Sequence[int],
    *,
    dtype: str = "bfloat16",
    fn: str | None = None,
    seed: int = 0,
    distribution: str = "uniform",
    config: Config | Mapping[str, Any] | None = None,
) -> ValidationResult:
    """`functional` against `reference` on `make_input(shape, ...)`: passed when every value is bit-identical.

    `fn` defaults to the config's; the result records the compute config validated (which changes no value).
    """
    fmt = validate_format(dtype)
    fn, cc = _resolve(fn, config, fmt)
    x = make_input(shape, seed=seed, distribution=distribution)
    if math.prod(x.shape) % TILE_ELEMENTS:
        raise InputError(f"shape {list(x.shape)} is not a whole number of 32 x 32 tiles")
    got = functional(x, fn=fn, dtype=fmt.name, config=config)
    want = reference(x, fn=fn, dtype=fmt.name)
    same = got.view(np.uint8).reshape(got.size, -1) == want.view(np.uint8).reshape(want.size, -1)
    mismatches = int(np.count_nonzero(~same.all(axis=1)))
    passed = mismatches == 0
    reason = "bit-identical to the reference" if passed else f"{mismatches} values differ from the reference"
    return ValidationResult(
        shape=tuple(x.shape),
        dtype=fmt.name,
        fn=fn,
        distribution=distribution,
        seed=seed,
        math_fidelity=cc.math_fidelity,
        fp32_dest_acc_en=cc.fp32_dest_acc_en,
        mismatches=mismatches,
        max_abs_error=max_abs_error(got.astype(np.float64), want.astype(np.float64)),
        passed=passed,
        reason=reason,
    )
