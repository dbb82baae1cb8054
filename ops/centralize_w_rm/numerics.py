"""Numerics of centralize_w_rm: float64 reference, bit-level functional model of the device, error budget.

`functional` runs the kernels' four compute steps with the tile primitives of `perfmodel.numerics.tiles`,
for every tile row at once; `process_tile_row` is the same pipeline for one tile row, the unit the
discrete-event simulator works on. Both are bit-identical by construction (the primitives treat leading axes
as independent tile rows) and by test.

`error_bound` is a worst-case analysis of the functional path against the float64 reference; `validate`
uses it to tell a format limit from a defect when the tt-metal tolerance (rtol = atol = 1e-2) is missed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from perfmodel.errors import InputError
from perfmodel.numerics.formats import BFLOAT16, FLOAT32, FORMATS, DataFormat, get_format, round_to_format
from perfmodel.numerics.metrics import compare
from perfmodel.numerics.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    reduce_row_sum,
    scaler_tile,
    scaler_value,
    sub_bcast_col,
    tilize_block,
    untilize_block,
)
from perfmodel.ops.centralize_w_rm.config import Config
from perfmodel.ops.centralize_w_rm.factory import validate_shape

DISTRIBUTIONS = ("uniform", "normal", "offset")
# The offset distribution: a large common value plus noise. The noise is wider than the bfloat16 ulp at the
# offset (4 at 1000) so that the input stays non-constant after conversion to bfloat16.
OFFSET = 1000.0
OFFSET_NOISE = 10.0
# tt-metal's test of this op family: assert_close(out, x - x.mean(-1, keepdim=True), rtol=1e-2, atol=1e-2).
RTOL = 1e-2
ATOL = 1e-2

# The numpy path holds a few float64 copies of the tensor: 2**27 elements is about 1 GiB each.
MAX_HOST_ELEMENTS = 2**27
# `validate` also runs the reference and the error budget: about 90 bytes and 1 us per element, so 2**24
# elements (e.g. 1 x 1 x 512 x 32768) take about 10 s and 1.5 GB; larger shapes are refused up front.
MAX_VALIDATE_ELEMENTS = 2**24

_U_FP32 = 2.0**-24  # unit roundoff of one fp32 operation (round to nearest)


def _format(dtype: str | DataFormat) -> DataFormat:
    from perfmodel.ops.centralize_w_rm.factory import DTYPES

    if (isinstance(dtype, DataFormat) or dtype in FORMATS) and get_format(dtype).name in DTYPES:
        return get_format(dtype)
    raise InputError(f"dtype {dtype!r} is not supported by centralize_w_rm; expected {' or '.join(DTYPES)}")


def _dst_fp32(fmt: DataFormat, fp32_dest_acc_en: bool | None) -> bool:
    return fmt is FLOAT32 if fp32_dest_acc_en is None else bool(fp32_dest_acc_en)


def reference(x: npt.ArrayLike) -> np.ndarray:
    """x - mean(x, last axis), in float64 (the values of `x` are taken as given, in any float dtype)."""
    x64 = np.asarray(x).astype(np.float64)
    return x64 - x64.mean(axis=-1, keepdims=True)


def to_device(x: npt.ArrayLike, *, dtype: str = "bfloat16") -> np.ndarray:
    """Host conversion of the input to the device dtype: via float32, then round to nearest even."""
    return round_to_format(np.asarray(x).astype(np.float32), _format(dtype), mode="rne")


def process_tile_row(
    rows: npt.ArrayLike, *, dtype: str = "bfloat16", fp32_dest_acc_en: bool | None = None
) -> np.ndarray:
    """The compute kernel on one tile row: [..., 32, W] sticks in `dtype` -> [..., 32, W] centralized sticks.

    tilize (c_0 -> c_1), reduce_row_sum with scaler_tile(W) (c_1, c_2 -> c_3), sub_bcast_col of every tile
    against the mean tile (c_1, c_3 -> c_4), untilize (c_4 -> c_16). Leading axes are independent tile rows.
    """
    fmt = _format(dtype)
    sticks = np.asarray(rows)
    tiles = tilize_block(sticks)
    mean = reduce_row_sum(tiles, scaler_tile(sticks.shape[-1]), data_format=fmt, fp32_dest_acc_en=fp32_dest_acc_en)
    centered = sub_bcast_col(tiles, mean[..., None, :], data_format=fmt, fp32_dest_acc_en=fp32_dest_acc_en)
    return untilize_block(centered)


def _fp32_acc(config: Config | Mapping[str, Any] | None, fp32_dest_acc_en: bool | None) -> bool | None:
    """The Dst width asked for: `config`'s fp32_dest_acc_en when a config is given, else the keyword."""
    if config is None:
        return fp32_dest_acc_en
    return Config.coerce(config).fp32_dest_acc_en


def functional(
    x: npt.ArrayLike,
    *,
    dtype: str = "bfloat16",
    config: Config | Mapping[str, Any] | None = None,
    fp32_dest_acc_en: bool | None = None,
) -> np.ndarray:
    """The device result of centralize_w_rm(x), bit for bit under the tile-primitive model.

    `x` has shape [..., H, W] (rank >= 2, H and W positive multiples of 32); it is converted to `dtype`
    ("bfloat16" with round-to-nearest-even, or "float32") as the host does, split into the N*C*Ht tile rows
    of 32 consecutive rows, and each runs through `process_tile_row`. `fp32_dest_acc_en` defaults to the
    op's default compute config (on for float32, off for bfloat16). Returns an array of `x`'s shape in
    `dtype` (ml_dtypes.bfloat16 or float32).
    """
    fmt = _format(dtype)
    shape = validate_shape(np.shape(x))
    host = to_device(x, dtype=fmt.name)
    rows = host.reshape(-1, TILE_HEIGHT, shape[-1])  # tile row k = rows 32k .. 32k+31 of the flattened tensor
    fp32 = _fp32_acc(config, fp32_dest_acc_en)
    return process_tile_row(rows, dtype=fmt.name, fp32_dest_acc_en=fp32).reshape(shape)


def make_input(
    shape: Sequence[int], *, seed: int = 0, distribution: str = "uniform", dtype: str = "bfloat16"
) -> np.ndarray:
    """A reproducible test input in `dtype` (already host-converted, like a torch bfloat16 tensor).

    uniform: U[-1, 1); normal: N(0, 1); offset: OFFSET + U[-OFFSET_NOISE, OFFSET_NOISE), which makes bfloat16
    lose the fine structure of x - mean (see `validate`).
    """
    fmt = _format(dtype)
    dims = validate_shape(shape)
    elements = math.prod(dims)
    if elements > MAX_HOST_ELEMENTS:
        raise InputError(
            f"shape {list(dims)} has {elements} elements; the host-side numerics take at most {MAX_HOST_ELEMENTS}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed {seed!r} must be an integer >= 0")
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        values = rng.uniform(-1.0, 1.0, size=dims)
    elif distribution == "normal":
        values = rng.standard_normal(size=dims)
    elif distribution == "offset":
        values = OFFSET + rng.uniform(-OFFSET_NOISE, OFFSET_NOISE, size=dims)
    else:
        raise InputError(f"unknown distribution {distribution!r}; expected one of {', '.join(DISTRIBUTIONS)}")
    return to_device(values, dtype=fmt.name)


@dataclass(frozen=True)
class ErrorBudget:
    """Worst-case |functional - reference| per element, and its three parts (float64 arrays).

    scaler: |mean| x |1 - s W|, the bias of the truncated scaler s (per row, shape [..., H, 1]);
    accumulation: the fp32 face sums plus the 2 Wt roundings of the running sum in Dst (per row);
    mean_pack: rounding of an fp32 Dst mean to bfloat16 when it is packed into c_3 (per row);
    output: rounding of x - mean' to the data format (per element);
    total: the sum of the four (+ float64 slack of the reference), shape of x.
    """

    scaler: np.ndarray
    accumulation: np.ndarray
    mean_pack: np.ndarray
    output: np.ndarray
    total: np.ndarray


def error_bound(x: npt.ArrayLike, *, dtype: str = "bfloat16", fp32_dest_acc_en: bool | None = None) -> ErrorBudget:
    """Bound on |functional(x) - reference(to_device(x))| for normal-range (no under/overflow) inputs.

    With s the scaler, m the exact row mean, A = s * sum_w |x_w|, k = 2 Wt Dst writes per row, u = 2^-24
    (fp32), d = 2^-8 if Dst is bfloat16 else 0 (half a bfloat16 ulp, relative), p = 2^-8 if the data format
    is bfloat16 else 0, g = (1 + u)(1 + d) - 1:

        |m' - m| <= |m| |1 - s W|                          scaler truncation
                  + (5u + k g (1 + g)^k) (1 + 5u) A        products + face trees (5u), k Dst roundings
                  + p' (1 + g)^k A                         mean packed to c_3: p' = p if Dst is fp32, else 0
        |out - (x - m)| <= |m' - m| + ((1 + u)(1 + d)(1 + p) - 1) (|x - m| + |m' - m|)

    Each rounding step errs by at most its unit roundoff times its result, and every partial sum is at most A
    grown by the earlier roundings, hence the (1 + g)^k factors. The bound on a row mean of the output is the
    row mean of `total`, since the exact row mean of x - m is zero.
    """
    fmt = _format(dtype)
    dst_fp32 = _dst_fp32(fmt, fp32_dest_acc_en)
    width = validate_shape(np.shape(x))[-1]
    x64 = to_device(x, dtype=fmt.name).astype(np.float64)
    s = scaler_value(width)
    k = 2 * (width // TILE_WIDTH)
    d = 0.0 if dst_fp32 else BFLOAT16.unit_roundoff
    p = BFLOAT16.unit_roundoff if fmt is BFLOAT16 else 0.0
    g = (1 + _U_FP32) * (1 + d) - 1
    growth = (1 + g) ** k

    mean = x64.mean(axis=-1, keepdims=True)
    a_sum = s * np.abs(x64).sum(axis=-1, keepdims=True)
    scaler_term = np.abs(mean) * abs(1.0 - s * width)
    pack_mean = p if dst_fp32 else 0.0  # a bfloat16 Dst already holds a bfloat16 mean; an fp32 one is packed
    acc_term = (5 * _U_FP32 + k * g * growth) * (1 + 5 * _U_FP32) * a_sum
    pack_term = pack_mean * growth * a_sum
    mean_err = scaler_term + acc_term + pack_term
    out_rel = (1 + _U_FP32) * (1 + d) * (1 + p) - 1
    output_term = out_rel * (np.abs(x64 - mean) + mean_err)
    # float64 slack: the reference's own mean is not exact.
    slack = 1e-13 * (np.abs(x64) + np.abs(x64).mean(axis=-1, keepdims=True))
    return ErrorBudget(scaler_term, acc_term, pack_term, output_term, mean_err + output_term + slack)


@dataclass(frozen=True)
class ValidationResult:
    """functional vs reference on one generated input, with a verdict and the reason for it.

    passed: allclose at rtol = atol = 1e-2 (tt-metal's own test of this op); PCC is reported but not part
    of the verdict, since it is undefined for the all-constant outputs of constant rows.
    within_budget: every error is inside `error_bound`; when passed is False but within_budget is True, the
    miss is the precision of the format and configuration (e.g. bfloat16 at a large offset), not a defect.
    """

    shape: tuple[int, ...]
    dtype: str
    distribution: str
    seed: int
    fp32_dest_acc_en: bool
    pcc: float
    max_abs_error: float
    max_rel_error: float
    max_ulp: int
    allclose: bool
    scaler_bf16: float
    error_budget: float
    within_budget: bool
    passed: bool
    reason: str


def _explain(
    fmt: DataFormat, dst_fp32: bool, width: int, err: float, budget: ErrorBudget, passed: bool, within: bool
) -> str:
    tol = f"rtol=atol={RTOL:g}"
    if not within:
        return (
            f"{'passed' if passed else 'failed'}: max abs error {err:.3g} exceeds the derived rounding budget "
            f"{float(np.max(budget.total)):.3g}; the functional model disagrees with its own error analysis"
        )
    if passed:
        return f"passed: matches float64 x - mean(x) within {tol}; max abs error {err:.3g}, within budget"
    terms = {
        "scaler": float(np.max(budget.scaler)),
        "accumulation": float(np.max(budget.accumulation)),
        "mean_pack": float(np.max(budget.mean_pack)),
        "output": float(np.max(budget.output)),
    }
    worst = max(terms, key=terms.__getitem__)
    s = scaler_value(width)
    if worst == "scaler":
        cause = (
            f"the bfloat16 scaler truncates 1/{width} to {s:.8g} ({100 * (1 - s * width):.2f}% low), biasing "
            f"every row mean by that fraction (up to {terms['scaler']:.3g}); a power-of-two W avoids it"
        )
    elif worst == "accumulation":
        where = "the 16-bit Dst" if not dst_fp32 else "fp32 Dst"
        hint = "; fp32_dest_acc_en=True removes it" if not dst_fp32 else ""
        cause = f"rounding of the running row sum in {where} (up to {terms['accumulation']:.3g}){hint}"
    elif worst == "mean_pack":
        cause = (
            f"rounding of the row mean to bfloat16 in the mean tile c_3 (up to {terms['mean_pack']:.3g}); "
            "only dtype float32 avoids it"
        )
    else:
        cause = f"{fmt.name} cannot hold x - mean more finely (output rounding up to {terms['output']:.3g})"
    return (
        f"failed: max abs error {err:.3g} exceeds {tol}, but is within the derived rounding budget "
        f"{float(np.max(budget.total)):.3g}, so it is a precision limit, not a defect; largest budget term: {cause}"
    )


def validate(
    shape: Sequence[int],
    *,
    dtype: str = "bfloat16",
    seed: int = 0,
    distribution: str = "uniform",
    config: Config | Mapping[str, Any] | None = None,
    fp32_dest_acc_en: bool | None = None,
) -> ValidationResult:
    """Run `functional` against `reference` on `make_input(shape, ...)` and give an honest verdict.

    The input is generated directly in `dtype`, as tt-metal's tests build a bfloat16 torch tensor, so the
    reference sees the same values and the errors are the device's arithmetic only.
    """
    fmt = _format(dtype)
    dims = validate_shape(shape)
    if math.prod(dims) > MAX_VALIDATE_ELEMENTS:
        raise InputError(
            f"shape {list(dims)} has {math.prod(dims)} elements; validate takes at most {MAX_VALIDATE_ELEMENTS} "
            f"(2^24, about 10 s and 1.5 GB)"
        )
    x = make_input(dims, seed=seed, distribution=distribution, dtype=fmt.name)
    fp32_dest_acc_en = _fp32_acc(config, fp32_dest_acc_en)
    got = functional(x, dtype=fmt.name, fp32_dest_acc_en=fp32_dest_acc_en)
    want = reference(x)
    cmp = compare(got, want, fmt, rtol=RTOL, atol=ATOL)
    budget = error_bound(x, dtype=fmt.name, fp32_dest_acc_en=fp32_dest_acc_en)
    within = bool(np.all(np.abs(got.astype(np.float64) - want) <= budget.total))
    dst_fp32 = _dst_fp32(fmt, fp32_dest_acc_en)
    return ValidationResult(
        shape=tuple(x.shape),
        dtype=fmt.name,
        distribution=distribution,
        seed=seed,
        fp32_dest_acc_en=dst_fp32,
        pcc=cmp.pcc,
        max_abs_error=cmp.max_abs_error,
        max_rel_error=cmp.max_rel_error,
        max_ulp=cmp.max_ulp,
        allclose=cmp.allclose,
        scaler_bf16=scaler_value(x.shape[-1]),
        error_budget=float(np.max(budget.total)),
        within_budget=within,
        passed=cmp.allclose,
        reason=_explain(fmt, dst_fp32, x.shape[-1], cmp.max_abs_error, budget, cmp.allclose, within),
    )
