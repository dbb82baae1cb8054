"""The conformance suite every shippable op passes, with no special case.

Shippable = the op declares a search space (`ops/<name>/space.py`), so tune, recommend and sweeps offer it;
microbenchmarks without one (dram_unary) are not table ops. For a few shapes and configurations drawn from
the op's own space, per op: the factory builds and the static checks pass; the simulator and the analytic
model agree (one core within 2 %, several within 10 %); the functional output matches the op's reference
(bit for bit when the op says `bit_exact`, else within tt-metal's 1e-2 tolerance) and the simulator's data
mode equals the functional output bit for bit; every page pushed to a CB that is read is popped; no run beats
the DRAM roofline; the ops_perf_results row `simulate --perf-csv` writes is read back by `compare` as a row
of the op (its `ops/<name>/perf.py`), rebuilt on the cores it ran on, at the simulated time.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest

import perfmodel
from perfmodel import check, estimate, simulate
from perfmodel.analytic.engine import op_model
from perfmodel.numerics import allclose
from perfmodel.op import list_ops
from perfmodel.space import search_space

DEVICE = "wormhole_b0_n150"
SHAPES = [(1, 1, 64, 64), (1, 2, 96, 128), (2, 1, 32, 256)]
POINTS = [{}, {"grid_x": 1, "grid_y": 1}, {"grid_x": 2, "grid_y": 3, "row_wise": True}]


def _declares_space(name: str) -> bool:
    try:
        importlib.import_module(f"perfmodel.ops.{name}.space")
    except ModuleNotFoundError:
        return False
    return True


SHIPPABLE = [name for name in list_ops() if _declares_space(name)]


def test_the_suite_covers_the_shippable_ops() -> None:
    assert {"centralize_w_rm", "unary"} <= set(SHIPPABLE)
    assert "dram_unary" not in SHIPPABLE


def _program(name: str, shape: tuple[int, ...], point: dict, dtype: str = "bfloat16"):
    row = search_space(name, shape, device=DEVICE, dtype=dtype).row(point)
    return op_model(name).program_for_row(row)


def _input(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


def _reference(op, x: np.ndarray, dtype: str) -> np.ndarray:
    takes_dtype = "dtype" in inspect.signature(op.reference).parameters
    return op.reference(x, dtype=dtype) if takes_dtype else op.reference(x)


@pytest.mark.parametrize("name", SHIPPABLE)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("point", POINTS, ids=["default", "one-core", "2x3-row-wise"])
def test_timing_conformance(name, shape, point) -> None:
    program = _program(name, shape, point)
    report = check(program)
    assert report.ok, [v.message for v in report.violations]
    des, ana = simulate(program), estimate(program)
    tolerance = 0.02 if program.num_cores == 1 else 0.10
    assert ana.cycles == pytest.approx(des.cycles, rel=tolerance)
    for cb in des.per_cb:
        # A streaming CB ends empty; a CB never popped (a constant such as a scaler) holds at most its pages.
        left = cb["pages_pushed"] - cb["pages_popped"]
        assert left == 0 if cb["pages_popped"] else 0 <= left <= cb["capacity_pages"] * program.num_cores, cb
    for result in (des, ana):
        assert result.kernel_duration_ns >= result.dram_roofline_ns


@pytest.mark.parametrize("name", SHIPPABLE)
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_numerics_conformance(name, dtype) -> None:
    op = perfmodel.get_op(name)
    shape = (1, 1, 64, 96)
    x = _input(shape, seed=1)
    got = op.functional(x, dtype=dtype)
    want = _reference(op, x, dtype)
    if getattr(op, "bit_exact", False):
        assert np.array_equal(np.asarray(got).view(np.uint8), np.asarray(want).view(np.uint8))
    else:
        assert allclose(got, want, rtol=1e-2, atol=1e-2)
    program = _program(name, shape, {"grid_x": 2, "grid_y": 2}, dtype)
    simulated = simulate(program, inputs=x).output
    assert simulated.shape == got.shape
    assert np.array_equal(np.asarray(simulated).view(np.uint8), np.asarray(got).view(np.uint8))


@pytest.mark.parametrize("name", SHIPPABLE)
def test_compare_reads_the_ops_own_rows(name, tmp_path) -> None:
    from perfmodel.io.compare import compare
    from perfmodel.io.perf_out import result_row, write_perf_csv

    program = _program(name, (1, 2, 96, 128), {"grid_x": 2, "grid_y": 3})
    out = tmp_path / "rows.csv"
    write_perf_csv(out, [result_row(simulate(program), program)])
    result = compare(out)
    assert not result.skipped, result.skipped
    (row,) = result.rows
    assert row.group.op_name == name
    assert row.core_count_model == program.num_cores
    assert abs(row.error("des")) < 1e-3  # the CSV holds whole nanoseconds
