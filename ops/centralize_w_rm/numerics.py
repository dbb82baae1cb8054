"""Numerics of centralize_w_rm: float64 reference, bit-level functional model of the device, error budget.

`functional` runs the kernels' four compute steps with the tile primitives of `perfmodel.numerics.tiles`,
for every tile row at once; `process_tile_row` is the same pipeline for one tile row, the unit the
discrete-event simulator works on. Both are bit-identical by construction (the primitives treat leading axes
as independent tile rows) and by test.

The compute kernel configuration is emulated: `math_fidelity` (the multiplier's operand slices and one Dst
add per phase in the reduce), `fp32_dest_acc_en` (fp32 or bfloat16 Dst; float32 operands are unpacked to
TF32 or bfloat16) and the variant (single_pass here, two_pass in `two_pass.process_tile_row`).
`dst_full_sync_en` changes only time, not numbers.

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

from perfmodel.compute_config import ComputeConfig
from perfmodel.errors import InputError
from perfmodel.numerics.formats import BFLOAT16, FLOAT32, FORMATS, DataFormat, get_format, round_to_format
from perfmodel.numerics.metrics import compare, max_abs_error, ulp_distance
from perfmodel.numerics.tiles import (
    BF16_FRACTION_BITS,
    REDUCE_ROW_SRCA,
    SRCA_PHASE_BITS,
    SRCB_PHASE_BITS,
    TF32_FRACTION_BITS,
    TILE_HEIGHT,
    TILE_WIDTH,
    fidelity_parts,
    fidelity_phases_of,
    reduce_row_sum,
    scaler_tile,
    scaler_value,
    sub_bcast_col,
    tilize_block,
    untilize_block,
)
from perfmodel.ops.centralize_w_rm.config import Config
from perfmodel.ops.centralize_w_rm.factory import resolve_block_wt, validate_shape

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


def reference(x: npt.ArrayLike) -> np.ndarray:
    """x - mean(x, last axis), in float64 (the values of `x` are taken as given, in any float dtype)."""
    x64 = np.asarray(x).astype(np.float64)
    return x64 - x64.mean(axis=-1, keepdims=True)


def to_device(x: npt.ArrayLike, *, dtype: str = "bfloat16") -> np.ndarray:
    """Host conversion of the input to the device dtype: via float32, then round to nearest even."""
    return round_to_format(np.asarray(x).astype(np.float32), _format(dtype), mode="rne")


def process_tile_row(
    rows: npt.ArrayLike,
    *,
    dtype: str = "bfloat16",
    fp32_dest_acc_en: bool | None = None,
    math_fidelity: str = "HiFi4",
) -> np.ndarray:
    """The single-pass compute kernel on one tile row: [..., 32, W] sticks in `dtype` -> centralized sticks.

    tilize (c_0 -> c_1), reduce_row_sum with scaler_tile(W) at `math_fidelity` (c_1, c_2 -> c_3),
    sub_bcast_col of every tile against the mean tile (c_1, c_3 -> c_4), untilize (c_4 -> c_16). Leading
    axes are independent tile rows.
    """
    fmt = _format(dtype)
    sticks = np.asarray(rows)
    tiles = tilize_block(sticks)
    mean = reduce_row_sum(
        tiles,
        scaler_tile(sticks.shape[-1]),
        data_format=fmt,
        fp32_dest_acc_en=fp32_dest_acc_en,
        math_fidelity=math_fidelity,
    )
    centered = sub_bcast_col(tiles, mean[..., None, :], data_format=fmt, fp32_dest_acc_en=fp32_dest_acc_en)
    return untilize_block(centered)


def _resolve(
    config: Config | Mapping[str, Any] | None, fp32_dest_acc_en: bool | None, fmt: DataFormat
) -> tuple[Config, ComputeConfig]:
    """The op config and its resolved ComputeConfig; the keyword fp32_dest_acc_en counts only without a config."""
    cfg = Config(fp32_dest_acc_en=fp32_dest_acc_en) if config is None else Config.coerce(config)
    return cfg, cfg.compute_config(fmt.name)


def functional(
    x: npt.ArrayLike,
    *,
    dtype: str = "bfloat16",
    config: Config | Mapping[str, Any] | None = None,
    fp32_dest_acc_en: bool | None = None,
) -> np.ndarray:
    """The device result of centralize_w_rm(x) built with `config`, bit for bit under the tile-primitive model.

    `x` has shape [..., H, W] (rank >= 2, H and W positive multiples of 32); it is converted to `dtype`
    ("bfloat16" with round-to-nearest-even, or "float32") as the host does, split into the N*C*Ht tile rows
    of 32 consecutive rows, and each runs through the variant's pipeline: `process_tile_row` for
    "single_pass", `two_pass.process_tile_row` for "two_pass". The config's `math_fidelity` and
    `fp32_dest_acc_en` (None: on for float32, off for bfloat16) are emulated; the keyword `fp32_dest_acc_en`
    is used only when no config is given. Returns an array of `x`'s shape in `dtype`.
    """
    fmt = _format(dtype)
    shape = validate_shape(np.shape(x))
    cfg, cc = _resolve(config, fp32_dest_acc_en, fmt)
    host = to_device(x, dtype=fmt.name)
    rows = host.reshape(-1, TILE_HEIGHT, shape[-1])  # tile row k = rows 32k .. 32k+31 of the flattened tensor
    if cfg.variant == "two_pass":
        from perfmodel.ops.centralize_w_rm import two_pass

        block_wt = resolve_block_wt(cfg, shape[-1] // TILE_WIDTH)
        out = two_pass.process_tile_row(rows, dtype=fmt.name, compute_config=cc, block_wt=block_wt)
    else:
        out = process_tile_row(
            rows, dtype=fmt.name, fp32_dest_acc_en=cc.fp32_dest_acc_en, math_fidelity=cc.math_fidelity
        )
    return np.asarray(out).reshape(shape)


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
    """Worst-case |functional - reference| per element, and its parts (float64 arrays).

    scaler: |mean| x |1 - s W|, the bias of the truncated scaler s (per row, shape [..., H, 1]);
    fidelity: the operand bits the math fidelity's phases leave out of each reduce product (per row);
    operands: truncation of float32 operands to TF32 / bfloat16 in the source registers, in the reduce and
        in the subtract (per element; zero for bfloat16 data);
    accumulation: the fp32 face sums plus the k Dst writes of the running row sum (per row);
    mean_pack: rounding of an fp32 Dst mean to bfloat16 when it is packed into c_3 (per row);
    output: rounding of x - mean' to the data format (per element);
    total: the sum of the parts (+ float64 slack of the reference), shape of x.
    """

    scaler: np.ndarray
    fidelity: np.ndarray
    operands: np.ndarray
    accumulation: np.ndarray
    mean_pack: np.ndarray
    output: np.ndarray
    total: np.ndarray


def _rel_truncation(value: float, position: str) -> tuple[float, float]:
    """Relative size of the (low part, dropped bits) of one exact operand value in `position`."""
    v = np.float32(value)
    if v == 0:
        return 0.0, 0.0
    high, low = fidelity_parts(v, position)
    return abs(float(low)) / abs(float(v)), abs(float(v) - float(high) - float(low)) / abs(float(v))


def _fidelity_terms(math_fidelity: str, srca: str, data_fraction_bits: int, s: float) -> tuple[float, int]:
    """(relative product error bound f, phases that can add a non-zero sum) of the reduce at `math_fidelity`.

    With eA1, eB1 bounds on |low part| / |operand| in SrcA and SrcB and eA2 on the bits SrcA never uses
    (a TF32 operand's 10th fraction bit), the sum of the phases run differs from the product AB by at most
    LoFi: 1 - (1 - eA1)(1 - eB1); HiFi2: 1 - (1 - eA2)(1 - eB1); HiFi3: eA2 + eA1 eB1 (the phases sum to
    A2 B - loA loB); HiFi4: eA2; each times |AB|. The data's bounds come from its fraction bits, the scaler's
    from its value.
    """
    kept = {"srca": SRCA_PHASE_BITS - 1, "srcb": SRCB_PHASE_BITS - 1}
    used = {"srca": 2 * SRCA_PHASE_BITS - 1, "srcb": data_fraction_bits}
    data_pos, scale_pos = ("srca", "srcb") if srca == "data" else ("srcb", "srca")
    data_low = 2.0 ** -kept[data_pos] if data_fraction_bits > kept[data_pos] else 0.0
    data_unused = 2.0 ** -used[data_pos] if data_fraction_bits > used[data_pos] else 0.0
    scale_low, scale_unused = _rel_truncation(s, scale_pos)
    lows = {data_pos: data_low, scale_pos: scale_low}
    e_a1, e_b1 = lows["srca"], lows["srcb"]
    e_a2 = data_unused if data_pos == "srca" else scale_unused
    f = {
        "LoFi": 1 - (1 - e_a1) * (1 - e_b1),
        "HiFi2": 1 - (1 - e_a2) * (1 - e_b1),
        "HiFi3": e_a2 + e_a1 * e_b1,
        "HiFi4": e_a2,
    }[math_fidelity]
    live = sum(1 for a, b in fidelity_phases_of(math_fidelity) if (a == 0 or e_a1 > 0) and (b == 0 or e_b1 > 0))
    return f, live


def error_bound(
    x: npt.ArrayLike,
    *,
    dtype: str = "bfloat16",
    fp32_dest_acc_en: bool | None = None,
    config: Config | Mapping[str, Any] | None = None,
    srca: str = REDUCE_ROW_SRCA,
) -> ErrorBudget:
    """Bound on |functional(x, config) - reference(to_device(x))| for normal-range (no under/overflow) inputs.

    With s the scaler, m the exact row mean, A = s * sum_w |x_w|, u = 2^-24 (fp32), d = 2^-8 if Dst is
    bfloat16 else 0 (half a bfloat16 ulp, relative), p = 2^-8 if the data format is bfloat16 else 0,
    q = 2^-10 / 2^-7 for float32 data unpacked to TF32 / bfloat16 (else 0), f the fidelity's relative product
    error (`_fidelity_terms`), n the phases that can add a non-zero sum, k = 2 Wt n Dst writes per row,
    P_f = s * sum |x_w| over the faces up to face f in accumulation order (P_last = A), g = (1 + u)(1 + d) - 1:

        |m' - m| <= |m| |1 - s W|                          scaler truncation
                  + f A + q A                              fidelity, float32 operand truncation
                  + (5u A + n g (1 + g)^k sum_f P_f) (1 + 5u)   face trees (5u), k Dst roundings
                  + p' (1 + g)^k A                         mean packed to c_3: p' = p if Dst is fp32, else 0
        |out - (x - m)| <= |m' - m| + q (|x| + |m| + |m' - m|)                  sub operands
                           + ((1 + u)(1 + d)(1 + p) - 1) (|x - m| + |m' - m| + q (|x| + |m| + |m' - m|))

    Each rounding step errs by at most its unit roundoff times its result; truncation toward zero only
    shrinks operands and fidelity parts keep the operand's sign, so every partial sum is at most A grown by
    the earlier roundings, hence the (1 + g)^k factors. For two_pass each of the nb blocks' partial sums is
    packed, unpacked and added with add_tiles (nb = Wt / block_wt, block_wt resolved as the factory does): it
    adds nb roundings of relative size (1 + p)^2 (1 + q)^2 (1 + g) - 1 to the accumulation term.
    The bound on a row mean of the output is the row mean of `total`, since the exact row mean of x - m is 0.
    """
    fmt = _format(dtype)
    cfg, cc = _resolve(config, fp32_dest_acc_en, fmt)
    dst_fp32 = cc.fp32_dest_acc_en
    width = validate_shape(np.shape(x))[-1]
    wt = width // TILE_WIDTH
    x64 = to_device(x, dtype=fmt.name).astype(np.float64)
    s = scaler_value(width)
    d = 0.0 if dst_fp32 else BFLOAT16.unit_roundoff
    p = BFLOAT16.unit_roundoff if fmt is BFLOAT16 else 0.0
    if fmt is FLOAT32:
        fraction_bits = TF32_FRACTION_BITS if dst_fp32 else BF16_FRACTION_BITS
        q = 2.0**-fraction_bits
    else:
        fraction_bits, q = BF16_FRACTION_BITS, 0.0
    f, live_phases = _fidelity_terms(cc.math_fidelity, srca, fraction_bits, s)
    k = 2 * wt * live_phases
    g = (1 + _U_FP32) * (1 + d) - 1
    growth = (1 + g) ** k
    block_term = 0.0
    if cfg.variant == "two_pass":
        blocks = wt // resolve_block_wt(cfg, wt)
        r2 = (1 + p) ** 2 * (1 + q) ** 2 * (1 + g) - 1
        block_term = blocks * r2 * (1 + r2) ** blocks
        growth *= (1 + r2) ** blocks

    mean = x64.mean(axis=-1, keepdims=True)
    a_sum = s * np.abs(x64).sum(axis=-1, keepdims=True)
    scaler_term = np.abs(mean) * abs(1.0 - s * width)
    fidelity_term = f * a_sum
    reduce_operands = q * a_sum
    pack_mean = p if dst_fp32 else 0.0  # a bfloat16 Dst already holds a bfloat16 mean; an fp32 one is packed
    # Dst roundings: each of the live phases of face f errs by at most g times the partial sum, which is at
    # most the prefix P_f = s * sum |x| over the faces up to f (tile by tile, left face then right), grown.
    face_abs = np.abs(x64).reshape((*x64.shape[:-1], 2 * wt, TILE_WIDTH // 2)).sum(axis=-1)
    prefix_sum = s * np.cumsum(face_abs, axis=-1).sum(axis=-1, keepdims=True)
    acc_term = ((5 * _U_FP32 + block_term * growth) * a_sum + live_phases * g * growth * prefix_sum) * (1 + 5 * _U_FP32)
    pack_term = pack_mean * growth * a_sum
    mean_err = scaler_term + fidelity_term + reduce_operands + acc_term + pack_term
    sub_operands = q * (np.abs(x64) + np.abs(mean) + mean_err)
    out_rel = (1 + _U_FP32) * (1 + d) * (1 + p) - 1
    output_term = out_rel * (np.abs(x64 - mean) + mean_err + sub_operands)
    # float64 slack: the reference's own mean is not exact.
    slack = 1e-13 * (np.abs(x64) + np.abs(x64).mean(axis=-1, keepdims=True))
    return ErrorBudget(
        scaler=scaler_term,
        fidelity=fidelity_term,
        operands=reduce_operands + sub_operands,
        accumulation=acc_term,
        mean_pack=pack_term,
        output=output_term,
        total=mean_err + sub_operands + output_term + slack,
    )


@dataclass(frozen=True)
class ValidationResult:
    """functional vs reference on one generated input, with a verdict and the reason for it.

    math_fidelity, fp32_dest_acc_en, variant: the configuration validated (resolved).
    passed: allclose at rtol = atol = 1e-2 (tt-metal's own test of this op); PCC is reported but not part
    of the verdict, since it is undefined for the all-constant outputs of constant rows.
    within_budget: every error is inside `error_bound`; when passed is False but within_budget is True, the
    miss is the precision of the format and configuration (e.g. bfloat16 at a large offset), not a defect.
    """

    shape: tuple[int, ...]
    dtype: str
    distribution: str
    seed: int
    math_fidelity: str
    fp32_dest_acc_en: bool
    variant: str
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
    fmt: DataFormat, cc: ComputeConfig, width: int, err: float, budget: ErrorBudget, passed: bool, within: bool
) -> str:
    tol = f"rtol=atol={RTOL:g}"
    setting = f"{cc.math_fidelity}, {'fp32' if cc.fp32_dest_acc_en else '16-bit'} Dst"
    if not within:
        return (
            f"{'passed' if passed else 'failed'}: max abs error {err:.3g} exceeds the derived rounding budget "
            f"{float(np.max(budget.total)):.3g} ({setting}); the functional model disagrees with its own error "
            "analysis"
        )
    if passed:
        return f"passed: matches float64 x - mean(x) within {tol} ({setting}); max abs error {err:.3g}, within budget"
    terms = {
        "scaler": float(np.max(budget.scaler)),
        "fidelity": float(np.max(budget.fidelity)),
        "operands": float(np.max(budget.operands)),
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
    elif worst == "fidelity":
        cause = (
            f"math_fidelity {cc.math_fidelity} multiplies only the high parts of the reduce operands "
            f"({cc.fidelity_phases} of 4 phases; up to {terms['fidelity']:.3g}); a higher fidelity removes it"
        )
    elif worst == "operands":
        to = "TF32" if cc.fp32_dest_acc_en else "bfloat16"
        hint = "" if cc.fp32_dest_acc_en else "; fp32_dest_acc_en=True unpacks to TF32 instead"
        cause = (
            f"float32 operands are truncated to {to} in the source registers of the reduce and the subtract "
            f"(up to {terms['operands']:.3g}){hint}"
        )
    elif worst == "accumulation":
        where = "the 16-bit Dst" if not cc.fp32_dest_acc_en else "fp32 Dst"
        hint = "; fp32_dest_acc_en=True removes it" if not cc.fp32_dest_acc_en else ""
        cause = (
            f"rounding of the running row sum in {where}, once per face and {cc.math_fidelity} phase "
            f"(up to {terms['accumulation']:.3g}){hint}"
        )
    elif worst == "mean_pack":
        cause = (
            f"rounding of the row mean to bfloat16 in the mean tile c_3 (up to {terms['mean_pack']:.3g}); "
            "only dtype float32 avoids it"
        )
    else:
        cause = f"{fmt.name} cannot hold x - mean more finely (output rounding up to {terms['output']:.3g})"
    return (
        f"failed: max abs error {err:.3g} exceeds {tol}, but is within the derived rounding budget "
        f"{float(np.max(budget.total)):.3g} ({setting}), so it is a precision limit, not a defect; largest "
        f"budget term: {cause}"
    )


def error_figures(
    shape: Sequence[int],
    *,
    dtype: str = "bfloat16",
    seed: int = 0,
    distribution: str = "uniform",
    config: Config | Mapping[str, Any] | None = None,
) -> tuple[float, int]:
    """(max abs error, max ULP distance) of `validate` with the same arguments, without its other metrics and
    its error budget: what a search's error objective reads, for many configurations."""
    fmt = _format(dtype)
    dims = _validate_dims(shape)
    cfg, _ = _resolve(config, None, fmt)
    x = make_input(dims, seed=seed, distribution=distribution, dtype=fmt.name)
    got, want = functional(x, dtype=fmt.name, config=cfg), reference(x)
    return max_abs_error(got, want), ulp_distance(got, want, fmt)


def _validate_dims(shape: Sequence[int]) -> tuple[int, ...]:
    dims = validate_shape(shape)
    if math.prod(dims) > MAX_VALIDATE_ELEMENTS:
        raise InputError(
            f"shape {list(dims)} has {math.prod(dims)} elements; validate takes at most {MAX_VALIDATE_ELEMENTS} "
            f"(2^24, about 10 s and 1.5 GB)"
        )
    return dims


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
    reference sees the same values and the errors are the device's arithmetic only. `config` (or, without
    one, the keyword `fp32_dest_acc_en`) sets the compute configuration emulated and budgeted.
    """
    fmt = _format(dtype)
    dims = _validate_dims(shape)
    cfg, cc = _resolve(config, fp32_dest_acc_en, fmt)
    x = make_input(dims, seed=seed, distribution=distribution, dtype=fmt.name)
    got = functional(x, dtype=fmt.name, config=cfg)
    want = reference(x)
    cmp = compare(got, want, fmt, rtol=RTOL, atol=ATOL)
    budget = error_bound(x, dtype=fmt.name, config=cfg)
    within = bool(np.all(np.abs(got.astype(np.float64) - want) <= budget.total))
    return ValidationResult(
        shape=tuple(x.shape),
        dtype=fmt.name,
        distribution=distribution,
        seed=seed,
        math_fidelity=cc.math_fidelity,
        fp32_dest_acc_en=cc.fp32_dest_acc_en,
        variant=cfg.variant,
        pcc=cmp.pcc,
        max_abs_error=cmp.max_abs_error,
        max_rel_error=cmp.max_rel_error,
        max_ulp=cmp.max_ulp,
        allclose=cmp.allclose,
        scaler_bf16=scaler_value(x.shape[-1]),
        error_budget=float(np.max(budget.total)),
        within_budget=within,
        passed=cmp.allclose,
        reason=_explain(fmt, cc, x.shape[-1], cmp.max_abs_error, budget, cmp.allclose, within),
    )
