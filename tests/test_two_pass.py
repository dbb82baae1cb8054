"""The two-pass centralize_w_rm design: factory, kernels, numerics, both engines, checks and its physics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perfmodel
from perfmodel import InputError, check, estimate, estimate_many, simulate
from perfmodel.io.perf_out import result_row
from perfmodel.ops.centralize_w_rm import numerics, perf, two_pass
from perfmodel.ops.centralize_w_rm.config import Config, default_block_wt

OP = perfmodel.get_op("centralize_w_rm")
WH = "wormhole_b0_n150"
BH = "blackhole_p150a"


def _program(shape, *, device=WH, dtype="bfloat16", **config):
    return OP.build_program(shape, device=device, dtype=dtype, config={"variant": "two_pass", **config})


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16 if a.dtype.itemsize == 2 else np.uint32)


def _tile_rows(x: np.ndarray, dtype: str) -> np.ndarray:
    return numerics.to_device(x, dtype=dtype).reshape(-1, 32, x.shape[-1])


# ---- factory --------------------------------------------------------------------------------------------


def test_a_row_too_wide_for_the_single_pass_fits_in_two_passes() -> None:
    single = OP.build_program((1, 1, 32, 8192), device=WH)
    assert [v.kind for v in check(single).violations] == ["l1_overflow"]
    program = _program((1, 1, 32, 8192))
    assert check(program).ok
    assert program.attributes["block_wt"] == 8
    assert {cb.index: cb.num_pages for cb in program.cbs} == {0: 16, 1: 8, 2: 1, 3: 2, 4: 8, 5: 2, 16: 16}
    assert simulate(program).cycles > 0


def test_a_single_tile_row_of_65536_values_fits_and_runs() -> None:
    program = _program((1, 1, 32, 65536))
    assert check(program).ok
    result = simulate(program)
    assert result.cycles >= perfmodel.costs.dram_roofline_cycles(program.device, program.dram_bytes)


@pytest.mark.parametrize("device", [WH, BH])
def test_l1_footprint_does_not_grow_with_w(device: str) -> None:
    l1 = {w: _program((1, 1, 32, w), device=device, block_wt=4).l1_bytes_per_core for w in (128, 1024, 8192, 65536)}
    assert len(set(l1.values())) == 1
    # 2 x 4 (c_0) + 4 (c_1) + 1 (c_2) + 2 (c_3) + 4 (c_4) + 2 (c_5) + 2 x 4 (c_16) bf16 tiles.
    assert l1[65536] == 29 * 2048


def test_buffering_scales_the_block_cbs_only() -> None:
    pages = {cb.index: cb.num_pages for cb in _program((1, 1, 32, 1024), block_wt=4, in_buffering=3).cbs}
    assert pages[0] == 12 and pages[16] == 8 and pages[1] == pages[4] == 4


@pytest.mark.parametrize(("wt", "block"), [(1, 1), (7, 7), (11, 1), (12, 6), (16, 8), (256, 8), (2048, 8)])
def test_default_block_is_the_largest_divisor_up_to_8(wt: int, block: int) -> None:
    assert default_block_wt(wt) == block
    assert _program((1, 1, 32, 32 * wt)).attributes["block_wt"] == block


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"block_wt": 0}, "block_wt = 0"),
        ({"block_wt": -2}, "block_wt = -2"),
        ({"block_wt": True}, "block_wt = True"),
        ({"block_wt": 2.0}, "block_wt = 2.0"),
        ({"block_wt": "4"}, "block_wt = '4'"),
        ({"block_wt": 64}, "block_wt = 64 is wider than the row: Wt = 32"),
        ({"block_wt": 5}, "block_wt = 5 does not divide Wt = 32"),
        ({"variant": "single_pass", "block_wt": 4}, "block_wt = 4 is a knob of variant 'two_pass'"),
        ({"variant": "three_pass"}, "variant = 'three_pass'"),
    ],
)
def test_bad_configs_are_one_line_input_errors(config: dict, needle: str) -> None:
    with pytest.raises(InputError) as err:
        _program((1, 1, 64, 1024), **config)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_work_split_is_the_single_pass_split() -> None:
    single = OP.build_program((2, 3, 320, 512), device=WH, config={"grid": (4, 3)})
    double = _program((2, 3, 320, 512), grid=(4, 3))
    assert double.split == single.split
    assert [(c.core, c.start_unit, c.num_units) for c in double.cores] == [
        (c.core, c.start_unit, c.num_units) for c in single.cores
    ]


@pytest.mark.parametrize(
    ("shape", "dtype", "config"),
    [
        ((1, 1, 64, 1024), "bfloat16", {}),
        ((1, 1, 64, 320), "float32", {"block_wt": 5, "in_buffering": 1, "out_buffering": 3}),
        ((2, 1, 96, 96), "bfloat16", {"block_wt": 1, "grid": (2, 2)}),
        ((1, 1, 32, 32), "bfloat16", {}),
        ((1, 1, 32, 16384), "float32", {"block_wt": 4, "fp32_dest_acc_en": False}),
    ],
)
def test_static_checks_pass(shape, dtype, config) -> None:
    report = check(_program(shape, dtype=dtype, **config))
    assert report.ok, [v.message for v in report.violations]


# ---- numerics -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "dtype", "config"),
    [
        ((1, 1, 64, 256), "bfloat16", {"block_wt": 2, "grid": (2, 1)}),
        ((1, 1, 96, 384), "float32", {"block_wt": 3, "grid": (2, 2)}),
        ((2, 1, 64, 320), "bfloat16", {"grid": (8, 8)}),  # default block 5 of Wt 10, N > 1
        ((1, 1, 7 * 32, 192), "bfloat16", {"block_wt": 6, "grid": (3, 2)}),  # one block per row, uneven split
        ((1, 1, 64, 512), "bfloat16", {"block_wt": 4, "fp32_dest_acc_en": True, "grid": (2, 1)}),
        ((1, 3, 32, 256), "float32", {"block_wt": 1, "fp32_dest_acc_en": False, "grid": (3, 1)}),
    ],
)
def test_simulated_output_equals_process_tile_row_bit_for_bit(shape, dtype, config) -> None:
    x = np.random.default_rng(sum(shape)).normal(3.0, 2.0, size=shape).astype(np.float32)
    program = _program(shape, dtype=dtype, **config)
    out = simulate(program, inputs=x).output
    expected = two_pass.process_tile_row(
        _tile_rows(x, dtype),
        dtype=dtype,
        compute_config=program.compute_config,
        block_wt=program.attributes["block_wt"],
    ).reshape(shape)
    assert out is not None and out.dtype == expected.dtype
    assert np.array_equal(_bits(out), _bits(expected))


def _single_pass(rows: np.ndarray, dtype: str, fp32: bool | None) -> np.ndarray:
    return numerics.process_tile_row(rows, dtype=dtype, fp32_dest_acc_en=fp32)


@pytest.mark.parametrize(("dtype", "fp32"), [("bfloat16", None), ("bfloat16", True), ("float32", None)])
def test_one_block_per_row_computes_the_single_pass_bits(dtype: str, fp32: bool | None) -> None:
    x = np.random.default_rng(7).normal(-2.0, 3.0, size=(4, 32, 384)).astype(np.float32)
    rows = _tile_rows(x, dtype)
    cc = Config(variant="two_pass", fp32_dest_acc_en=fp32).compute_config(dtype)
    got = two_pass.process_tile_row(rows, dtype=dtype, compute_config=cc, block_wt=12)
    assert np.array_equal(_bits(got), _bits(_single_pass(rows, dtype, fp32)))


def test_packed_partials_change_the_mean() -> None:
    """bf16 data, fp32 Dst, W = 64. Row 0 holds 1 and 2^-9 in tile 0 and 2^-9 in tile 1.

    Single pass: (1 + 2^-9 + 2^-9) / 64 in fp32, packed once: a tie, rounded away to (1 + 2^-7) / 64.
    Two passes of one tile: the first partial (1 + 2^-9) / 64 is packed to 1/64, and 1/64 + 2^-15 packs to
    1/64 again. The two designs centralize row 0 against different means.
    """
    rows = np.zeros((32, 64), dtype=np.float32)
    rows[0, 0], rows[0, 1], rows[0, 32] = 1.0, 2.0**-9, 2.0**-9
    rows = numerics.to_device(rows, dtype="bfloat16")
    cc = Config(variant="two_pass", fp32_dest_acc_en=True).compute_config("bfloat16")
    single = _single_pass(rows, "bfloat16", True)
    double = two_pass.process_tile_row(rows, dtype="bfloat16", compute_config=cc, block_wt=1)
    assert not np.array_equal(_bits(single), _bits(double))
    # Column 2 holds 0: the output is minus the mean, rounded to bf16.
    assert float(single[0, 2]) == -(1 + 2.0**-7) / 64
    assert float(double[0, 2]) == -1 / 64
    # Rows without the crafted values agree.
    assert np.array_equal(_bits(single[1:]), _bits(double[1:]))
    # The whole-row block is the single pass.
    assert np.array_equal(
        _bits(two_pass.process_tile_row(rows, dtype="bfloat16", compute_config=cc, block_wt=2)), _bits(single)
    )


def test_process_tile_row_refuses_a_block_that_does_not_divide_the_row() -> None:
    cc = Config().compute_config("bfloat16")
    rows = np.zeros((32, 96), dtype=np.float32)
    with pytest.raises(InputError, match="block_wt = 2"):
        two_pass.process_tile_row(rows, dtype="bfloat16", compute_config=cc, block_wt=2)


def test_two_pass_results_stay_within_the_op_tolerance() -> None:
    x = np.random.default_rng(3).uniform(-1.0, 1.0, size=(2, 32, 8192)).astype(np.float32)
    cc = Config(variant="two_pass").compute_config("bfloat16")
    got = two_pass.process_tile_row(_tile_rows(x, "bfloat16"), dtype="bfloat16", compute_config=cc, block_wt=8)
    ref = numerics.reference(numerics.to_device(x, dtype="bfloat16").astype(np.float64))
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=numerics.RTOL, atol=numerics.ATOL)


# ---- engines --------------------------------------------------------------------------------------------

AGREEMENT = [
    (WH, "bfloat16", (1, 1, 32, 8192), {"grid": (1, 1)}),
    (WH, "bfloat16", (1, 1, 64, 2048), {"grid": (8, 8)}),
    (WH, "bfloat16", (1, 1, 2048, 1024), {"grid": (8, 8)}),
    (WH, "bfloat16", (1, 1, 256, 1024), {"grid": (1, 1), "block_wt": 4}),
    (WH, "float32", (1, 1, 128, 2048), {"grid": (4, 2), "block_wt": 2}),
    (BH, "bfloat16", (1, 1, 512, 4096), {"grid": (4, 4)}),
    (BH, "float32", (1, 2, 96, 640), {"grid": (2, 3), "out_buffering": 3}),
    (BH, "bfloat16", (1, 1, 8192, 512), {"grid": (8, 8)}),
]


def _difference(device, dtype, shape, config) -> float:
    program = _program(shape, device=device, dtype=dtype, **config)
    return abs(estimate(program).cycles / simulate(program).cycles - 1)


def test_analytic_agrees_with_the_simulator() -> None:
    """Tolerances of tests/test_agreement.py: median |relative difference| <= 3 %, none above 10 %."""
    diffs = [_difference(*case) for case in AGREEMENT]
    assert np.median(diffs) <= 0.03
    assert max(diffs) <= 0.10


def test_analytic_agrees_with_single_buffered_blocks() -> None:
    assert _difference(WH, "bfloat16", (1, 1, 256, 1024), {"grid": (1, 1), "block_wt": 4, "in_buffering": 1}) <= 0.10


def _table(**columns) -> pd.DataFrame:
    base = {"N": 1, "C": 1, "H": 2048, "W": 1024, "dtype": "bfloat16", "device": WH, "grid_x": 8, "grid_y": 8}
    base.update({"row_wise": False, "in_buffering": 2, "out_buffering": 2})
    base.update(columns)
    n = max((len(v) for v in base.values() if isinstance(v, list)), default=1)
    return pd.DataFrame({k: v if isinstance(v, list) else [v] * n for k, v in base.items()})


def test_estimate_many_reads_the_design_and_compute_columns() -> None:
    t = _table(variant=["single_pass", "two_pass", "two_pass"], block_wt=[None, None, 4], W=[1024, 1024, 1024])
    out = estimate_many(OP, t)
    single = OP.build_program((1, 1, 2048, 1024), device=WH, config={"grid": (8, 8)})
    default = _program((1, 1, 2048, 1024), grid=(8, 8))
    blocks4 = _program((1, 1, 2048, 1024), grid=(8, 8), block_wt=4)
    assert list(out["l1_bytes_per_core"]) == [p.l1_bytes_per_core for p in (single, default, blocks4)]
    assert list(out["dram_bytes"]) == [p.dram_bytes for p in (single, default, blocks4)]
    # Without the optional columns: the single pass, as before they existed.
    plain = estimate_many(OP, _table())
    assert plain["cycles"].iloc[0] == out["cycles"].iloc[0] == estimate(single).cycles


def test_estimate_many_times_the_two_pass_rows() -> None:
    out = estimate_many(OP, _table(variant="two_pass"))
    assert out["feasible"].iloc[0]
    assert out["cycles"].iloc[0] == pytest.approx(estimate(_program((1, 1, 2048, 1024), grid=(8, 8))).cycles)


@pytest.mark.parametrize(
    ("columns", "needle"),
    [
        ({"variant": "three_pass"}, "variant = 'three_pass' is not one of"),
        ({"variant": None}, "is not a non-empty string"),
        ({"variant": "two_pass", "block_wt": 3}, "block_wt = 3 does not divide Wt = 32"),
        ({"variant": "two_pass", "block_wt": 64}, "block_wt = 64 is wider than the row: Wt = 32"),
        ({"variant": "two_pass", "block_wt": "8"}, "block_wt = '8' is not a positive integer or empty"),
        ({"variant": "two_pass", "block_wt": 0}, "block_wt = 0 is not a positive integer or empty"),
        ({"block_wt": 4}, "block_wt = 4 is a knob of variant 'two_pass'"),
        ({"math_fidelity": "HiFi5"}, "math_fidelity = 'HiFi5' is not one of"),
        ({"fp32_dest_acc_en": "yes"}, "fp32_dest_acc_en = 'yes' is not a boolean or empty"),
        ({"dst_full_sync_en": 2}, "dst_full_sync_en = 2 is not a boolean"),
    ],
)
def test_estimate_many_gives_each_bad_cell_a_reason(columns: dict, needle: str) -> None:
    good = {"variant": "single_pass", "block_wt": None, "math_fidelity": "HiFi4", "fp32_dest_acc_en": None}
    t = _table(**{k: [v, good.get(k, False)] for k, v in columns.items()})
    out = estimate_many(OP, t)
    assert not out["feasible"].iloc[0] and needle in out["infeasible_reason"].iloc[0]
    assert out["feasible"].iloc[1], out["infeasible_reason"].iloc[1]


def test_compute_config_columns_are_in_the_shape_key() -> None:
    t = _table(H=[64, 64], W=[256, 256], dtype=["float32", "float32"], fp32_dest_acc_en=[None, False])
    out = estimate_many(OP, t)
    on = OP.build_program((1, 1, 64, 256), device=WH, dtype="float32", config={"grid": (8, 8)})
    off = OP.build_program(
        (1, 1, 64, 256), device=WH, dtype="float32", config={"grid": (8, 8), "fp32_dest_acc_en": False}
    )
    assert list(out["cycles"]) == [estimate(on).cycles, estimate(off).cycles]


def test_perf_rows_carry_the_design() -> None:
    program = _program((1, 1, 256, 2048), grid=(4, 2), block_wt=4, math_fidelity="LoFi")
    row = result_row(estimate(program), program)
    problem = perf.problem_from_row({k: str(v) for k, v in row.items()}, program.device)
    assert problem.config["variant"] == "two_pass" and problem.config["block_wt"] == 4
    assert problem.config["math_fidelity"] == "LoFi" and "fp32_dest_acc_en" not in problem.config


# ---- physics --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_two_pass_moves_one_and_a_half_times_the_bytes(dtype: str) -> None:
    """Per tile row the single pass reads it once and writes it once; the two-pass design reads it twice."""
    shape = (1, 2, 128, 1024)
    single = OP.build_program(shape, device=WH, dtype=dtype)
    double = _program(shape, dtype=dtype)
    row_bytes = 2 * 128 * 1024 * (2 if dtype == "bfloat16" else 4)
    assert single.dram_bytes == 2 * row_bytes
    assert double.dram_bytes == 3 * row_bytes == 1.5 * single.dram_bytes
    assert simulate(double).dram_roofline_ns == pytest.approx(1.5 * simulate(single).dram_roofline_ns)


@pytest.mark.parametrize(
    ("device", "shape"),
    [(WH, (1, 1, 4096, 1024)), (WH, (1, 1, 8192, 512)), (BH, (1, 1, 8192, 512)), (BH, (1, 1, 16384, 256))],
)
def test_never_faster_than_the_single_pass_when_dram_bound(device: str, shape) -> None:
    """Several tile rows per core, the single pass at the shared-DRAM floor: the third transfer costs its share.

    (With one tile row per core neither design reaches the floor, and the two-pass pipeline, which overlaps
    a row's reads with its writes, can be the faster one.)
    """
    single = simulate(OP.build_program(shape, device=device, config={"grid": (8, 8)}))
    assert single.bound == "dram" and single.kernel_duration_ns < 2 * single.dram_roofline_ns
    double = simulate(_program(shape, device=device, grid=(8, 8)))
    assert double.cycles >= 1.4 * single.cycles
    assert double.kernel_duration_ns >= double.dram_roofline_ns
