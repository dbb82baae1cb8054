"""DRAM under many cores: interleaved streams share every bank, so many-core copies reach the published band."""

from __future__ import annotations

import numpy as np
import pytest

import perfmodel
from perfmodel import costs
from perfmodel.saturation import dram_saturation_curve


def test_bank_fraction_runs_from_best_placement_to_interleaved() -> None:
    board = perfmodel.load_device("wormhole_b0_n150")
    dram = board.dram
    assert costs.dram_bank_fraction(dram.sustained_fraction, dram.interleaved_fraction, 1) == dram.sustained_fraction
    many = costs.dram_bank_fraction(dram.sustained_fraction, dram.interleaved_fraction, np.array([2, 8, 64, 10**9]))
    assert np.all(np.diff(many) < 0)
    assert many[-1] == pytest.approx(dram.interleaved_fraction)
    # One core keeps the best-placement rate: the single-core (dram_unary) calibration is untouched.
    one = costs.packet_cost(board, "read", 2048)
    assert one.bank_cycles == pytest.approx(2048 / board.dram_bank_bytes_per_cycle)
    assert costs.dram_bank_recovery_cycles(board, 2048, 1) == 0.0
    assert costs.dram_bank_recovery_cycles(board, 2048, 64) > 0.3 * one.bank_cycles


@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_many_core_copy_lands_in_the_published_wormhole_band(engine: str) -> None:
    """tt-isa-documentation: 190-200 GB/s on Wormhole with cores paired to banks at random (interleaved)."""
    curve = dram_saturation_curve("wormhole_b0_n150", (8, 64), engine=engine)
    at64 = float(curve.loc[curve["cores"] == 64, "gbps"].iloc[0])
    assert 190.0 <= at64 <= 200.0
    assert curve["bound"].iloc[-1] == "dram"
    # Below the knee the cores' own data movement sets the pace, not the DRAM.
    assert float(curve["gbps"].iloc[0]) < at64


def test_curve_never_beats_the_shared_banks() -> None:
    board = perfmodel.load_device("blackhole_p150a")
    curve = dram_saturation_curve(board, (1, 2, 4, 8, 16, 32, 64, 110))
    assert np.all(np.diff(curve["gbps"]) >= -1e-6)
    cap = board.dram.peak_bandwidth_gbps * costs.dram_bank_fraction(
        board.dram.sustained_fraction, board.dram.interleaved_fraction, curve["cores"].to_numpy()
    )
    assert np.all(curve["gbps"].to_numpy() <= cap * (1 + 1e-9))
