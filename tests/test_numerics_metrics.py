"""Error metrics: definitions, the degenerate cases, and 'never NaN'."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from perfmodel.errors import InputError
from perfmodel.numerics import Comparison, allclose, compare, max_abs_error, max_rel_error, pcc, ulp_distance


def test_pcc_of_linear_relations() -> None:
    x = np.linspace(-1, 1, 50)
    assert pcc(x, 3 * x + 7) == pytest.approx(1.0)
    assert pcc(x, -x) == pytest.approx(-1.0)
    assert abs(pcc(x, x**2)) < 1e-12


def test_pcc_degenerate_cases_are_defined() -> None:
    zeros = np.zeros((4, 32))
    assert pcc(zeros, zeros) == 1.0  # a constant input centralizes to all zeros on both sides
    assert pcc(np.full(8, 0.0039), np.zeros(8)) == 1.0  # two constants differ only by a shift
    assert pcc(np.arange(8.0), np.zeros(8)) == 0.0  # exactly one side constant
    assert pcc(np.zeros(8), np.arange(8.0)) == 0.0
    assert pcc([], []) == 1.0
    assert pcc([1.0, 2.0, np.nan], [1.0, 2.0, 3.0]) == 0.0
    assert pcc([1.0, 2.0, 3.0, np.nan], [1.0, 2.0, 4.0, np.nan]) > 0.9  # shared NaN positions are left out


def test_pcc_does_not_overflow_on_huge_values() -> None:
    x = np.array([1e300, -1e300, 5e299])
    assert pcc(x, x) == 1.0
    assert pcc(x, 2 * x[::-1]) == pytest.approx(float(np.corrcoef(x / 1e300, x[::-1] / 1e300)[0, 1]))


_BIG = float(np.float32(1e30))
finite = st.floats(-_BIG, _BIG, allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 20).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float32, n, elements=finite | st.just(np.float32(0.0))),
            hnp.arrays(np.float32, n, elements=finite | st.sampled_from([np.nan, np.inf])),
        )
    )
)
def test_metrics_never_return_nan(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    r = pcc(a, b)
    assert math.isfinite(r) and -1.0 <= r <= 1.0
    assert not math.isnan(max_abs_error(a, b))
    assert not math.isnan(max_rel_error(a, b))
    assert ulp_distance(a, b, "bfloat16") >= 0 and ulp_distance(a, b, "float32") >= 0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 20).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float32, n, elements=finite | st.sampled_from([np.nan, np.inf, -np.inf])),
            hnp.arrays(np.float32, n, elements=finite | st.sampled_from([np.nan, np.inf, -np.inf])),
        )
    ),
    st.sampled_from(["bfloat16", "float32"]),
)
def test_compare_gives_each_metric_its_own_value(pair: tuple[np.ndarray, np.ndarray], fmt: str) -> None:
    """`compare` converts and splits the arrays once for all its metrics: each equals its function's value."""
    a, b = pair
    c = compare(a, b, fmt, rtol=0.05, atol=0.01)
    want = (pcc(a, b), max_abs_error(a, b), max_rel_error(a, b), ulp_distance(a, b, fmt))
    assert (c.pcc, c.max_abs_error, c.max_rel_error, c.max_ulp) == want
    assert c.allclose == allclose(a, b, rtol=0.05, atol=0.01)


def test_max_abs_error_and_non_finite_values() -> None:
    assert max_abs_error([1.0, 2.0], [1.5, 2.0]) == 0.5
    assert max_abs_error([np.nan, 1.0], [np.nan, 1.0]) == 0.0
    assert max_abs_error([np.inf], [np.inf]) == 0.0
    assert max_abs_error([np.nan], [1.0]) == math.inf
    assert max_abs_error([np.inf], [-np.inf]) == math.inf
    assert max_abs_error([], []) == 0.0


def test_max_rel_error_has_a_safe_denominator() -> None:
    assert max_rel_error([1.1, 2.0], [1.0, 2.0]) == pytest.approx(0.1)
    # expected value 0 next to 100: the floor is 1e-3 * 100 = 0.1, so an error of 0.01 is 0.1, not inf
    assert max_rel_error([0.01, 100.0], [0.0, 100.0]) == pytest.approx(0.1)
    assert max_rel_error([0.01, 100.0], [0.0, 100.0], floor=1.0) == pytest.approx(0.01)
    all_zero = max_rel_error([1e-9], [0.0])
    assert math.isfinite(all_zero) and all_zero > 1e100
    assert max_rel_error([0.0], [0.0]) == 0.0


def test_ulp_distance_counts_representable_steps() -> None:
    one_up_bf16 = 1.0 + 2**-7
    assert ulp_distance([1.0], [one_up_bf16], "bfloat16") == 1
    assert ulp_distance([1.0], [1.0 + 2**-10], "bfloat16") == 0  # both round to 1.0 in bfloat16
    assert ulp_distance([1.0], [float(np.nextafter(np.float32(1), np.float32(2)))], "float32") == 1
    assert ulp_distance([0.0], [-0.0], "float32") == 0
    tiny = float(np.float32(1e-45))  # smallest fp32 subnormal: -tiny, -0/+0, +tiny are 2 steps apart
    assert ulp_distance([-tiny], [tiny], "float32") == 2
    assert ulp_distance([-1.0], [1.0], "bfloat16") == 2 * 0x3F80
    assert ulp_distance([np.nan], [1.0], "bfloat16") == 2 * 0x7F80 + 1
    assert ulp_distance([np.nan], [np.nan], "bfloat16") == 0


def test_allclose_is_torch_assert_close_rule() -> None:
    assert allclose([1.0], [1.009], rtol=1e-2, atol=0.0)  # |d| = 0.009 <= 0.01 * 1.009
    assert not allclose([1.0], [1.02], rtol=1e-2, atol=0.0)
    assert allclose([0.0], [0.01])  # atol
    assert not allclose([np.nan], [np.nan])
    assert allclose([np.inf], [np.inf])


def test_compare_bundles_the_metrics() -> None:
    a = np.array([0.0, 1.0, 2.0])
    b = np.array([0.0, 1.0, 2.015625])  # one bfloat16 ulp above 2
    c = compare(a, b, "bfloat16")
    assert isinstance(c, Comparison)
    assert c == Comparison(pcc(a, b), 0.015625, max_rel_error(a, b), 1, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.pcc = 0.0  # type: ignore[misc]


def test_shape_mismatch_is_an_input_error() -> None:
    with pytest.raises(InputError, match="shapes"):
        pcc(np.zeros(3), np.zeros(4))
    with pytest.raises(InputError, match="float16"):
        ulp_distance([1.0], [1.0], "float16")
