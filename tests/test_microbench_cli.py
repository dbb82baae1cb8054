"""`perfmodel microbench dram_unary`: the simulated zone cycles, the bandwidth and the closed form."""

from __future__ import annotations

import json

import pytest

import perfmodel
from perfmodel.calibration.dram_unary import dram_unary_cycles
from perfmodel.cli import main


@pytest.mark.parametrize(("direction", "nbytes", "count"), [("read", 2048, 64), ("write", 32, 8)])
def test_microbench_reports_the_simulated_zone_and_the_closed_form(capsys, direction, nbytes, count) -> None:
    argv = ["microbench", "dram_unary", "--direction", direction, "--bytes", str(nbytes), "--count", str(count)]
    assert main([*argv, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    program = perfmodel.get_op("dram_unary").build_program(
        device="wormhole_b0_n150", direction=direction, transaction_bytes=nbytes, num_transactions=count
    )
    zone = perfmodel.simulate(program).details["zones"]["dram_unary"]
    assert payload["cycles"] == zone
    assert payload["bytes_per_cycle"] == pytest.approx(nbytes * count / zone)
    device = program.device
    assert payload["closed_form_cycles"] == dram_unary_cycles(device, direction, nbytes, count)
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"{zone:,.0f} cycles" in text and "B/cycle" in text and "GB/s" in text


def test_the_op_subcommands_point_a_microbenchmark_to_microbench(capsys) -> None:
    for command in ("check", "simulate", "estimate", "validate"):
        assert main([command, "dram_unary", "--shape", "1,1,64,96"]) == 2
        assert "perfmodel microbench dram_unary" in capsys.readouterr().err
