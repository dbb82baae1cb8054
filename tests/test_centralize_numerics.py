"""centralize_w_rm numerics: functional vs float64 reference, error budget, per-tile-row equivalence.

Error budget (derived in `numerics.error_bound`): the truncated scaler's bias, the fidelity's dropped operand
parts, float32 operands truncated to TF32 / bfloat16, the face trees and the Dst roundings of the running
sum (one per face and live fidelity phase), the mean packed to bfloat16 and the output rounding. Because the
exact row mean of x - m is 0, |row mean of out| <= row mean of the per-element bound.
"""

from __future__ import annotations

import dataclasses

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.errors import InputError
from perfmodel.numerics import (
    allclose,
    compare,
    max_abs_error,
    pcc,
    reduce_row_sum,
    scaler_tile,
    sub_bcast_col,
    tilize_block,
    untilize_block,
)
from perfmodel.ops.centralize_w_rm import numerics as cn

BF16 = ml_dtypes.bfloat16
DTYPES = ["bfloat16", "float32"]
FIDELITIES = ["LoFi", "HiFi2", "HiFi3", "HiFi4"]


def bits(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.view(np.uint16 if a.dtype.itemsize == 2 else np.uint32)


def per_tile_row(x: np.ndarray, dtype: str, fp32_dest_acc_en: bool | None = None) -> np.ndarray:
    """The path a simulator takes: one tile row and one tile at a time, straight from the primitives."""
    w = x.shape[-1]
    host = cn.to_device(x, dtype=dtype)
    rows = host.reshape(-1, 32, w)
    out = np.empty_like(rows)
    scaler = scaler_tile(w)
    for r in range(rows.shape[0]):
        tiles = tilize_block(rows[r])
        mean = reduce_row_sum(tiles, scaler, data_format=dtype, fp32_dest_acc_en=fp32_dest_acc_en)
        centered = np.stack(
            [
                sub_bcast_col(tiles[t], mean, data_format=dtype, fp32_dest_acc_en=fp32_dest_acc_en)
                for t in range(len(tiles))
            ]
        )
        out[r] = untilize_block(centered)
    return out.reshape(x.shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fp32_acc", [None, True, False])
@pytest.mark.parametrize("distribution", cn.DISTRIBUTIONS)
def test_vectorised_path_equals_per_tile_row_path_bit_for_bit(
    dtype: str, fp32_acc: bool | None, distribution: str
) -> None:
    x = cn.make_input((2, 1, 64, 96), seed=5, distribution=distribution, dtype=dtype)
    fast = cn.functional(x, dtype=dtype, fp32_dest_acc_en=fp32_acc)
    slow = per_tile_row(x, dtype, fp32_acc)
    assert fast.dtype == slow.dtype == np.dtype(BF16 if dtype == "bfloat16" else np.float32)
    assert np.array_equal(bits(fast), bits(slow))
    one_row = cn.process_tile_row(cn.to_device(x, dtype=dtype)[1, 0, 32:], dtype=dtype, fp32_dest_acc_en=fp32_acc)
    assert np.array_equal(bits(one_row), bits(fast[1, 0, 32:]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distribution", ["uniform", "normal"])
@pytest.mark.parametrize("shape", [(1, 1, 64, 96), (2, 3, 32, 64), (64, 256)])
def test_functional_matches_reference_at_tt_metal_tolerance(
    dtype: str, distribution: str, shape: tuple[int, ...]
) -> None:
    x = cn.make_input(shape, seed=11, distribution=distribution, dtype=dtype)
    out = cn.functional(x, dtype=dtype)
    assert out.shape == x.shape
    c = compare(out, cn.reference(x), dtype)
    assert c.allclose and c.pcc > 0.9999


def test_w_96_bf16_figures() -> None:
    x = cn.make_input((1, 1, 64, 96), seed=0, dtype="bfloat16")
    err = max_abs_error(cn.functional(x), cn.reference(x))
    assert 1e-3 < err < 1e-2  # about 0.0039 with seed 0; bfloat16 output ulp near 1 is 0.0078


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("w", [64, 96])
def test_constant_input_does_not_trip_pcc(dtype: str, w: int) -> None:
    x = np.full((2, 32, w), 1.5, np.float32)
    # fp32 Dst: with a 16-bit Dst at HiFi4 the per-phase roundings of the running sum happen to land on 1.5
    # exactly for W = 96, which would hide the scaler bias this test looks at.
    out = cn.functional(x, dtype=dtype, config={"fp32_dest_acc_en": True})
    want = cn.reference(x)
    assert not want.any()
    # W = 64: the mean is exact and the output all zeros; W = 96: the truncated scaler leaves a constant
    # 1.5 * 0.39% on every element. Either way PCC is defined (1.0) and the tolerance check passes.
    assert np.unique(out.astype(np.float32)).size == 1
    assert (not out.astype(np.float32).any()) == (w == 64)
    c = compare(out, want, dtype)
    assert c.pcc == 1.0 and c.allclose


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_input_gives_exact_zeros(dtype: str) -> None:
    out = cn.functional(np.zeros((1, 64, 96)), dtype=dtype)
    assert not out.astype(np.float32).any()
    assert pcc(out, cn.reference(np.zeros((1, 64, 96)))) == 1.0


def test_large_offset_bf16_fails_honestly() -> None:
    r = cn.validate((1, 1, 64, 64), dtype="bfloat16", distribution="offset")
    assert not r.passed and not r.allclose
    assert r.within_budget  # a precision limit, not a defect
    assert r.max_abs_error > 1.0  # bf16 ulp at 1000 is 4: x - mean cannot be resolved to 1e-2
    assert "precision limit" in r.reason and "fp32_dest_acc_en" in r.reason
    better = cn.validate((1, 1, 64, 64), dtype="bfloat16", distribution="offset", fp32_dest_acc_en=True)
    assert better.within_budget and better.max_abs_error < r.max_abs_error


def test_large_offset_float32_is_limited_by_tf32_operands_and_the_scaler() -> None:
    # The source registers hold TF32 (10 fraction bits): at 1000 that is a step of 0.5, so float32 data at a
    # large offset misses 1e-2 even with fp32 Dst; the budget names the operand truncation.
    r = cn.validate((1, 1, 64, 64), dtype="float32", distribution="offset")
    assert not r.passed and r.within_budget and "TF32" in r.reason
    assert 0.1 < r.max_abs_error < 1.0
    r = cn.validate((1, 1, 64, 96), dtype="float32", distribution="offset")
    # 1/96 truncated to bf16 is 0.39% low, so a mean of 1000 comes out about 3.9 low even with fp32 data.
    assert not r.passed and r.within_budget and "scaler" in r.reason
    assert r.max_abs_error == pytest.approx(1000 * (1 - 96 * r.scaler_bf16), rel=0.3)


def test_validate_result_is_a_frozen_record() -> None:
    r = cn.validate((1, 1, 32, 96), seed=3)
    assert r.passed and r.within_budget and r.reason.startswith("passed")
    assert (r.shape, r.dtype, r.distribution, r.seed, r.fp32_dest_acc_en) == (
        (1, 1, 32, 96),
        "bfloat16",
        "uniform",
        3,
        False,
    )
    assert r.scaler_bf16 == 0.0103759765625
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.passed = False  # type: ignore[misc]


@settings(max_examples=25, deadline=None)
@given(
    outer=st.integers(1, 2),
    ht=st.integers(1, 2),
    wt=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    distribution=st.sampled_from(cn.DISTRIBUTIONS),
    dtype=st.sampled_from(DTYPES),
    fp32_acc=st.sampled_from([None, True, False]),
    fidelity=st.sampled_from(FIDELITIES),
)
def test_output_row_means_are_near_zero_within_the_budget(
    outer: int, ht: int, wt: int, seed: int, distribution: str, dtype: str, fp32_acc: bool | None, fidelity: str
) -> None:
    x = cn.make_input((outer, 32 * ht, 32 * wt), seed=seed, distribution=distribution, dtype=dtype)
    config = {"math_fidelity": fidelity, "fp32_dest_acc_en": fp32_acc}
    out = cn.functional(x, dtype=dtype, config=config).astype(np.float64)
    budget = cn.error_bound(x, dtype=dtype, config=config)
    assert np.all(np.abs(out - cn.reference(x)) <= budget.total)
    row_means = np.abs(out.mean(axis=-1))
    assert np.all(row_means <= budget.total.mean(axis=-1) + 1e-12 * np.abs(x.astype(np.float64)).max())


def test_budget_is_not_vacuous() -> None:
    # The bound is worst case, but should stay within a small factor of what bf16 actually does.
    x = cn.make_input((1, 64, 128), seed=2, distribution="normal")
    err = np.abs(cn.functional(x).astype(np.float64) - cn.reference(x))
    assert err.max() > 0.1 * cn.error_bound(x).total.max()


def test_float32_path_is_closer_than_bf16() -> None:
    # float32 data is unpacked to TF32 (fp32 Dst, the default) for the reduce and the subtract, so it is not
    # exact to float32 precision: about 2^-11 relative, several times better than bfloat16 end to end.
    x32 = cn.make_input((1, 1, 64, 128), seed=7, dtype="float32")
    x16 = cn.to_device(x32, dtype="bfloat16")
    err32 = max_abs_error(cn.functional(x32, dtype="float32"), cn.reference(x32))
    err16 = max_abs_error(cn.functional(x16, dtype="bfloat16"), cn.reference(x16))
    assert 1e-5 < err32 < err16 / 4
    assert allclose(cn.functional(x32, dtype="float32"), cn.reference(x32), rtol=1e-3, atol=1e-3)


def test_host_conversion_rounds_to_nearest_even() -> None:
    x = np.full((32, 32), 1 + 2**-8, np.float32)  # tie between bf16 1.0 and 1.0078125
    assert set(cn.to_device(x).astype(np.float32).ravel().tolist()) == {1.0}


@pytest.mark.parametrize(
    ("shape", "match"),
    [((32,), "rank"), ((48, 32), "H = 48"), ((32, 40), "W = 40"), ((0, 32, 32), "non-positive")],
)
def test_bad_shapes_raise_input_error(shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(InputError, match=match):
        cn.functional(np.zeros(shape, np.float32))


def test_bad_dtype_and_distribution_raise_input_error() -> None:
    with pytest.raises(InputError, match="'float16'"):
        cn.functional(np.zeros((32, 32)), dtype="float16")
    with pytest.raises(InputError, match="'bogus'"):
        cn.make_input((32, 32), distribution="bogus")
    with pytest.raises(ValueError):  # InputError is a ValueError for callers that catch that
        cn.validate((32, 33))


@pytest.mark.parametrize("shape", [(1, 1, 32, 96), (1, 1, 32, 1024), (2, 1, 32, 64)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distribution", cn.DISTRIBUTIONS)
def test_every_fidelity_and_dst_width_stays_within_its_budget(
    shape: tuple[int, ...], dtype: str, distribution: str
) -> None:
    for fidelity in FIDELITIES:
        for fp32_acc in (False, True):
            config = {"math_fidelity": fidelity, "fp32_dest_acc_en": fp32_acc}
            r = cn.validate(shape, dtype=dtype, distribution=distribution, seed=1, config=config)
            assert r.within_budget, (fidelity, fp32_acc, r.reason)
            assert (r.math_fidelity, r.fp32_dest_acc_en, r.variant) == (fidelity, fp32_acc, "single_pass")


def test_config_fidelity_reaches_the_functional_path() -> None:
    x = cn.make_input((1, 1, 64, 96), seed=3, dtype="bfloat16")
    outs = {f: bits(cn.functional(x, config={"math_fidelity": f})) for f in FIDELITIES}
    assert not np.array_equal(outs["LoFi"], outs["HiFi4"])
    assert np.array_equal(outs["HiFi4"], bits(cn.functional(x)))  # HiFi4 is the default
    one_row = cn.process_tile_row(x[0, 0, :32], dtype="bfloat16", math_fidelity="LoFi")
    assert np.array_equal(bits(one_row), outs["LoFi"][0, 0, :32])


def test_reason_names_the_fidelity_when_it_dominates() -> None:
    r = cn.validate((1, 1, 64, 1024), distribution="offset", config={"math_fidelity": "LoFi", "fp32_dest_acc_en": True})
    assert not r.passed and r.within_budget
    assert "math_fidelity LoFi" in r.reason
    better = cn.validate(
        (1, 1, 64, 1024), distribution="offset", config={"math_fidelity": "HiFi4", "fp32_dest_acc_en": True}
    )
    assert better.max_abs_error < r.max_abs_error and "math_fidelity" not in better.reason


def test_lofi_fidelity_term_is_zero_for_power_of_two_scaler_in_srcb_only_when_data_is_short() -> None:
    # Data with <= 6 fraction bits in SrcB and a power-of-two scaler in SrcA lose nothing at LoFi.
    x = (np.random.default_rng(0).integers(-64, 64, (1, 32, 64)) / 32.0).astype(np.float32)
    budget = cn.error_bound(x, config={"math_fidelity": "LoFi"})
    assert budget.fidelity.max() > 0  # the bound assumes any bfloat16 data, 7 fraction bits
    exact = cn.functional(x, config={"math_fidelity": "HiFi4"})
    assert np.array_equal(bits(cn.functional(x, config={"math_fidelity": "LoFi"})), bits(exact))


def test_two_pass_variant_uses_its_own_pipeline() -> None:
    two_pass = pytest.importorskip("perfmodel.ops.centralize_w_rm.two_pass")
    assert callable(two_pass.process_tile_row)
    for dtype in DTYPES:
        r = cn.validate((1, 1, 32, 1024), dtype=dtype, config={"variant": "two_pass", "block_wt": 4})
        assert r.variant == "two_pass" and r.within_budget, r.reason


def _centralize_with_srca(x: np.ndarray, dtype: str, fidelity: str, fp32_acc: bool, srca: str) -> np.ndarray:
    """The single-pass pipeline from the primitives, with the REDUCE_ROW operand placement given."""
    rows = cn.to_device(x, dtype=dtype).reshape(-1, 32, x.shape[-1])
    tiles = tilize_block(rows)
    mean = reduce_row_sum(
        tiles,
        scaler_tile(x.shape[-1]),
        data_format=dtype,
        fp32_dest_acc_en=fp32_acc,
        math_fidelity=fidelity,
        srca=srca,
    )
    out = sub_bcast_col(tiles, mean[..., None, :], data_format=dtype, fp32_dest_acc_en=fp32_acc)
    return untilize_block(out).reshape(x.shape)


@pytest.mark.parametrize("w", [96, 1024])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distribution", ["uniform", "offset"])
def test_budget_holds_with_the_data_in_srca_too(w: int, dtype: str, distribution: str) -> None:
    # The older GAPOOL path: data cut to hidden + 4 bits per phase, the scaler to hidden + 6.
    x = cn.make_input((1, 1, 32, w), seed=4, distribution=distribution, dtype=dtype)
    for fidelity in FIDELITIES:
        for fp32_acc in (False, True):
            got = _centralize_with_srca(x, dtype, fidelity, fp32_acc, "data").astype(np.float64)
            config = {"math_fidelity": fidelity, "fp32_dest_acc_en": fp32_acc}
            budget = cn.error_bound(x, dtype=dtype, config=config, srca="data")
            assert np.all(np.abs(got - cn.reference(x)) <= budget.total), (fidelity, fp32_acc)


@pytest.mark.parametrize(("dtype", "shape"), [("bfloat16", (1, 1, 32, 512)), ("float32", (1, 1, 32, 256))])
def test_error_figures_are_validates_figures(dtype: str, shape: tuple[int, ...]) -> None:
    """The two figures a search reads, without validate's other metrics: the same numbers, for every
    fidelity, Dst width and design, and the same refusal of a bad shape."""
    import perfmodel

    op = perfmodel.get_op("centralize_w_rm")
    configs = [
        {"math_fidelity": f, "fp32_dest_acc_en": d, "variant": v, **({"block_wt": b} if b else {})}
        for f in ("LoFi", "HiFi2", "HiFi3", "HiFi4")
        for d in (False, True)
        for v, b in (("single_pass", None), ("two_pass", 2), ("two_pass", None))
    ]
    seen = set()
    for config in configs:
        for seed, distribution in ((0, "uniform"), (3, "normal")):
            v = op.validate(shape, dtype=dtype, seed=seed, distribution=distribution, config=config)
            figures = op.error_figures(shape, dtype=dtype, seed=seed, distribution=distribution, config=config)
            assert figures == (v.max_abs_error, v.max_ulp)
            seen.add(figures)
    assert len(seen) > 4  # the configurations do move the figures
    with pytest.raises(InputError, match="elements"):
        op.error_figures((1, 1, 2**13, 2**12), dtype=dtype)
