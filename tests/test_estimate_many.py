"""estimate_many: one vectorised pass over a table, equal to estimate() row by row, infeasible rows kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perfmodel
from perfmodel import estimate, estimate_many
from perfmodel.analytic.many import RESULT_COLUMNS
from perfmodel.errors import InputError
from perfmodel.ops.centralize_w_rm.model import program_for_row

OP = perfmodel.get_op("centralize_w_rm")
DEVICES = ["wormhole_b0_n150", "wormhole_b0_n300", "blackhole_p150a", "blackhole_p100a"]


def random_table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "N": rng.integers(1, 4, n),
            "C": rng.integers(1, 3, n),
            "H": 32 * rng.integers(1, 120, n),
            "W": 32 * rng.choice([1, 2, 3, 8, 9, 16, 33, 64, 110, 165, 200], n),
            "dtype": rng.choice(["bfloat16", "float32"], n),
            "device": rng.choice(DEVICES, n),
            "grid_x": rng.integers(1, 9, n),
            "grid_y": rng.integers(1, 8, n),
            "row_wise": rng.random(n) < 0.5,
            "in_buffering": rng.integers(1, 5, n),
            "out_buffering": rng.integers(1, 5, n),
        }
    )


def test_matches_estimate_and_the_static_checks_row_by_row() -> None:
    table = random_table(150)
    result = estimate_many(OP, table)
    assert list(result.columns[: len(table.columns)]) == list(table.columns)
    assert set(RESULT_COLUMNS) <= set(result.columns)
    assert len(result) == len(table)
    for row in result.itertuples():
        program = program_for_row(row._asdict())
        single = estimate(program)
        assert row.cycles == pytest.approx(single.cycles, rel=1e-9)
        assert row.kernel_duration_ns == pytest.approx(single.kernel_duration_ns, rel=1e-9)
        assert row.bound == single.bound
        assert row.num_cores == program.num_cores
        assert row.l1_bytes_per_core == program.l1_bytes_per_core
        assert row.dram_bytes == program.dram_bytes
        assert row.dram_roofline_ns == pytest.approx(single.dram_roofline_ns)
        fits = program.l1_bytes_per_core <= program.device.core.l1_free_bytes
        assert row.feasible == fits, row.infeasible_reason


def test_infeasible_rows_are_reported_not_dropped() -> None:
    table = pd.DataFrame(
        {
            "N": [1, 1, 1, 1, 1],
            "C": [1, 1, 1, 1, 1],
            "H": [64, 64, 64, 48, 64],
            "W": [32, 32 * 200, 64, 64, 64],
            "dtype": ["bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16"],
            "device": ["wormhole_b0_n150", "wormhole_b0_n150", "no_such_board", "wormhole_b0_n150", "blackhole_p150a"],
            "grid_x": [1, 1, 1, 1, 20],
            "grid_y": [1, 1, 1, 1, 1],
            "row_wise": [False] * 5,
            "in_buffering": [2, 2, 2, 2, 2],
            "out_buffering": [2, 2, 2, 2, 2],
        }
    )
    result = estimate_many(OP, table)
    assert len(result) == 5
    assert list(result["feasible"]) == [True, False, False, False, False]
    assert "l1_overflow" in result.loc[1, "infeasible_reason"]
    assert result.loc[1, "cycles"] > 0  # what it would take, although it does not fit
    assert "unknown device" in result.loc[2, "infeasible_reason"]
    assert "multiple of 32" in result.loc[3, "infeasible_reason"]
    assert "grid" in result.loc[4, "infeasible_reason"]
    assert np.isnan(result.loc[2, "cycles"]) and np.isnan(result.loc[3, "cycles"])


def test_missing_columns_are_an_input_error() -> None:
    with pytest.raises(InputError, match="missing column"):
        estimate_many(OP, random_table(3).drop(columns=["out_buffering"]))


def test_accepts_the_op_by_name_and_keeps_the_index() -> None:
    table = random_table(20).set_index(pd.Index(range(100, 120)))
    by_object = estimate_many(OP, table)
    by_name = estimate_many("centralize_w_rm", table)
    pd.testing.assert_frame_equal(by_object, by_name)
    assert list(by_name.index) == list(range(100, 120))


@pytest.mark.parametrize("w,dtype", [(32, "bfloat16"), (32 * 9, "float32"), (32 * 165, "bfloat16")])
def test_one_deferred_dry_run_serves_every_board(w: int, dtype: str) -> None:
    """The deferred trace prices to the concrete one on every board, and all boards share one recording."""
    from perfmodel.analytic import signature as sig_module
    from perfmodel.analytic.engine import unit_programs
    from perfmodel.analytic.trace import Resolver, record_core, trace_core

    recordings = set()
    for name in DEVICES:
        one, two = unit_programs("centralize_w_rm", perfmodel.load_device(name), (w, dtype))
        for program in (one, two):
            deferred, _ = record_core(program)
            resolver = Resolver(program)
            concrete = trace_core(program)
            assert {k: tuple(resolver.event(e) for e in v) for k, v in deferred.items()} == concrete
        recordings.add(id(sig_module._recording(one, two)))
    assert len(recordings) == 1


def test_signature_from_a_shared_recording_equals_a_concrete_dry_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pricing a recording made on another board gives the signature of this board's own concrete dry run."""
    from perfmodel.analytic import signature as sig_module
    from perfmodel.analytic.engine import unit_programs

    key = (32 * 33, "float32")
    for name in DEVICES:
        one, two = unit_programs("centralize_w_rm", perfmodel.load_device(name), key)
        shared = sig_module.build_signature(one, two)

        def no_deferral(*args: object) -> None:
            raise TypeError("deferral disabled for this test")

        with monkeypatch.context() as m:
            m.setattr(sig_module, "_RECORDINGS", {})
            m.setattr(sig_module, "record_core", no_deferral)
            concrete = sig_module.build_signature(one, two)
        assert shared == concrete


def test_deferred_values_refuse_what_would_need_the_board() -> None:
    """A deferred price or an opaque DRAM address used as a number raises, so the dry run falls back."""
    from perfmodel.analytic.trace import Cycles, _Address, _AddressUsed

    cost = Cycles("cost", (0, "tilize", 4)) - Cycles("setup", (0, "tilize"))
    assert cost - 0.0 == Cycles("-", (cost, 0.0))
    for use in (lambda: cost < 1.0, lambda: bool(cost), lambda: cost * 2, lambda: float(cost)):
        with pytest.raises(TypeError):
            use()
    address = _Address(("writer", "dst_addr"))
    for use in (lambda: address + 1, lambda: range(address), lambda: hash(address), lambda: f"{address}"):
        with pytest.raises(_AddressUsed):
            use()
