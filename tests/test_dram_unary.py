"""dram_unary: the single-core DRAM microbenchmark reproduces the shape of the calibration curve."""

from __future__ import annotations

import csv

import pytest

from perfmodel import InputError, check, get_op, simulate
from perfmodel.calibration import shipped_data

OP = get_op("dram_unary")
CSV = shipped_data()
DEVICES = {"wormhole_b0": "wormhole_b0_n150", "blackhole": "blackhole_p150a"}


def _zone(device="wormhole_b0_n150", **kw) -> float:
    return simulate(OP.build_program(device=device, **kw)).details["zones"]["dram_unary"]


def test_program_is_one_core_one_kernel() -> None:
    program = OP.build_program(device="wormhole_b0_n150", direction="write", transaction_bytes=256, num_transactions=4)
    assert program.num_cores == 1 and [k.name for k in program.kernels] == ["writer"]
    assert check(program).ok


def test_small_transfers_are_latency_bound() -> None:
    single = _zone(direction="read", transaction_bytes=32, num_transactions=1)
    assert _zone(direction="read", transaction_bytes=512, num_transactions=1) < 1.1 * single
    # 64 small reads cost the issue of each plus one latency, far less than 64 round trips
    assert _zone(direction="read", transaction_bytes=32, num_transactions=64) < 10 * single


def test_large_transfers_reach_the_per_core_plateau() -> None:
    size, count = 65536, 64
    cycles = _zone(direction="read", transaction_bytes=size, num_transactions=count)
    assert 18 < size * count / cycles < 26  # about 22 B/cycle on Wormhole


def test_zone_excludes_kernel_setup() -> None:
    r = simulate(
        OP.build_program(device="wormhole_b0_n150", direction="read", transaction_bytes=32, num_transactions=1)
    )
    assert r.cycles - r.details["zones"]["dram_unary"] >= r.details["kernel_setup_cycles"]


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError):
        OP.build_program(device="wormhole_b0_n150", direction="sideways")
    with pytest.raises(InputError):
        OP.build_program(device="wormhole_b0_n150", transaction_bytes=0)


def test_wormhole_rows_within_a_quarter_and_bandwidth_rows_within_ten_percent() -> None:
    rows = [r for r in csv.DictReader(CSV.open()) if r["arch"] == "wormhole_b0"]
    for row in rows:
        size, count, measured = int(row["transaction_bytes"]), int(row["num_transactions"]), float(row["cycles"])
        sim = _zone(DEVICES[row["arch"]], direction=row["direction"], transaction_bytes=size, num_transactions=count)
        # The 32/64 B x 64 writes measure about 2x slower than their neighbours (a device effect no
        # per-transaction model reproduces); every other row stays close.
        tolerance = 0.6 if (row["direction"] == "write" and size <= 64 and count == 64) else 0.25
        if size * count >= 64 * 1024:
            tolerance = min(tolerance, 0.10)
        assert abs(sim - measured) / measured < tolerance, row


def test_a_tensor_shape_is_refused_not_ignored() -> None:
    with pytest.raises(InputError, match="no tensor shape"):
        OP.build_program((1, 1, 32, 32), device="wormhole_b0_n150")
