"""Error metrics for comparing a functional result with a reference, defined so that none returns NaN.

Everything is computed in float64 on flattened arrays of the same shape (InputError otherwise). Positions
where both sides hold the same non-finite value (both NaN, or the same infinity) agree and are left out;
a non-finite value on one side only is a total mismatch (see each function for the value that encodes it).

PCC conventions, chosen because PCC is blind to a constant shift and a constant array has no variance to
correlate (tt-metal's comp_pcc has the same pitfall: a constant input centralizes to all zeros):
- both sides constant (e.g. both all zeros): 1.0, they differ at most by a shift that PCC cannot see by
  construction; `max_abs_error` and `allclose` are the checks that see it;
- exactly one side constant: 0.0, no linear relation can be measured;
- a non-finite mismatch: 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from perfmodel.errors import InputError
from perfmodel.numerics.formats import BFLOAT16, FormatLike, get_format, to_bf16_rne


def _pair(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    if np.shape(a) != np.shape(b):
        raise InputError(f"cannot compare arrays of shapes {np.shape(a)} and {np.shape(b)}")
    return np.asarray(a).astype(np.float64).ravel(), np.asarray(b).astype(np.float64).ravel()


def _split_finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return the jointly finite values and whether the non-finite positions disagree."""
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.all():
        return x, y, False
    rest_x, rest_y = x[~finite], y[~finite]
    agree = (rest_x == rest_y) | (np.isnan(rest_x) & np.isnan(rest_y))
    return x[finite], y[finite], not bool(np.all(agree))


def pcc(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Pearson correlation of `a` and `b`, in [-1, 1]; never NaN (conventions in the module docstring)."""
    return _pcc(*_split_finite(*_pair(a, b)))


def _pcc(x: np.ndarray, y: np.ndarray, mismatch: bool) -> float:
    if mismatch:
        return 0.0
    if x.size == 0:
        return 1.0
    dx = x - x.mean()
    dy = y - y.mean()
    # Rounding can leave a tiny non-zero spread in a constant array; a spread at float64 noise level of the
    # values counts as constant.
    tol_x = 1e-14 * max(float(np.max(np.abs(x))), np.finfo(np.float64).tiny)
    tol_y = 1e-14 * max(float(np.max(np.abs(y))), np.finfo(np.float64).tiny)
    const_x = float(np.max(np.abs(dx))) <= tol_x
    const_y = float(np.max(np.abs(dy))) <= tol_y
    if const_x and const_y:
        return 1.0
    if const_x or const_y:
        return 0.0
    # Scale to max 1 before taking norms so huge or tiny values cannot overflow or underflow the sums.
    dx /= np.max(np.abs(dx))
    dy /= np.max(np.abs(dy))
    dx /= np.linalg.norm(dx)
    dy /= np.linalg.norm(dy)
    return float(np.clip(np.dot(dx, dy), -1.0, 1.0))


def max_abs_error(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """max |a - b|; 0.0 for empty arrays, inf if the non-finite positions disagree."""
    return _max_abs_error(*_split_finite(*_pair(a, b)))


def _max_abs_error(x: np.ndarray, y: np.ndarray, mismatch: bool) -> float:
    if mismatch:
        return float("inf")
    return float(np.max(np.abs(x - y))) if x.size else 0.0


def max_rel_error(actual: npt.ArrayLike, expected: npt.ArrayLike, *, floor: float | None = None) -> float:
    """max |actual - expected| / max(|expected|, floor).

    The floor keeps values of `expected` near zero (centralized outputs are full of them) from turning a tiny
    absolute error into a huge relative one. Default floor: 1e-3 x max |expected|, and at least the smallest
    normal float64, so an all-zero `expected` gives a huge but finite value when `actual` differs.
    inf if the non-finite positions disagree.
    """
    return _max_rel_error(*_split_finite(*_pair(actual, expected)), floor=floor)


def _max_rel_error(x: np.ndarray, y: np.ndarray, mismatch: bool, *, floor: float | None = None) -> float:
    if mismatch:
        return float("inf")
    if x.size == 0:
        return 0.0
    scale = float(np.max(np.abs(y)))
    lo = 1e-3 * scale if floor is None else float(floor)
    lo = max(lo, np.finfo(np.float64).tiny)
    with np.errstate(over="ignore"):
        return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), lo)))


def _ordered_ints(values: np.ndarray, data_format: FormatLike) -> np.ndarray:
    """Map floats (rounded to the format, ties to even) to integers whose difference counts ulps.

    The encodings are sign-magnitude, so -mag for negative values makes the integers monotonic in the value,
    with +0 and -0 both at 0.
    """
    fmt = get_format(data_format)
    if fmt is BFLOAT16:
        bits = to_bf16_rne(values.astype(np.float32)).view(np.uint16).astype(np.int64)
        sign, mag = bits >> 15, bits & 0x7FFF
    else:
        bits = values.astype(np.float32).view(np.uint32).astype(np.int64)
        sign, mag = bits >> 31, bits & 0x7FFFFFFF
    return np.where(sign == 1, -mag, mag)


def ulp_distance(a: npt.ArrayLike, b: npt.ArrayLike, data_format: FormatLike) -> int:
    """Largest distance between `a` and `b` in units in the last place of `data_format`.

    Both sides are first rounded to the format (ties to even), so this is 0 when they round alike; 1 means
    adjacent representable values. A non-finite mismatch returns the span of the format from -inf to +inf,
    plus one (larger than any finite distance).
    """
    return _ulp_distance(*_split_finite(*_pair(a, b)), data_format)


def _ulp_distance(x: np.ndarray, y: np.ndarray, mismatch: bool, data_format: FormatLike) -> int:
    fmt = get_format(data_format)
    inf_code = int(_ordered_ints(np.array([np.inf]), fmt)[0])
    if mismatch:
        return 2 * inf_code + 1
    if x.size == 0:
        return 0
    return int(np.max(np.abs(_ordered_ints(x, fmt) - _ordered_ints(y, fmt))))


def allclose(actual: npt.ArrayLike, expected: npt.ArrayLike, rtol: float = 1e-2, atol: float = 1e-2) -> bool:
    """|actual - expected| <= atol + rtol * |expected| everywhere (torch.testing.assert_close's rule).

    NaN never equals NaN, as in assert_close's default; equal infinities are close.
    """
    x, y = _pair(actual, expected)
    return bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=False))


@dataclass(frozen=True)
class Comparison:
    """All metrics of one actual-vs-expected comparison."""

    pcc: float
    max_abs_error: float
    max_rel_error: float
    max_ulp: int
    allclose: bool


def compare(
    actual: npt.ArrayLike,
    expected: npt.ArrayLike,
    data_format: FormatLike,
    *,
    rtol: float = 1e-2,
    atol: float = 1e-2,
) -> Comparison:
    """Compare `actual` with `expected`; ulps are counted in `data_format`. (Each metric is its function's
    value: the arrays are converted and split into finite and non-finite positions once for all of them.)"""
    x, y = _pair(actual, expected)
    split = _split_finite(x, y)
    return Comparison(
        pcc=_pcc(*split),
        max_abs_error=_max_abs_error(*split),
        max_rel_error=_max_rel_error(*split),
        max_ulp=_ulp_distance(*split, data_format),
        allclose=bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=False)),
    )
