"""Calibration: the dram_unary model, the fit, the written profile and the `calibrate` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

import perfmodel
from perfmodel import costs
from perfmodel.calibration import calibrate, dram_unary_cycles, predict, read_measurements, shipped_data
from perfmodel.cli import main
from perfmodel.errors import InputError

DATA = shipped_data()


def brute_force(device, direction, nbytes, count) -> float:
    """The packet rules step by step: RISC-V issue, reservation of the shared resources, barrier."""
    now = free = done = 0.0
    for _ in range(count):
        for size in costs.packet_sizes(nbytes, device.noc.max_packet_bytes):
            c = costs.packet_cost(device, direction, size)
            now += c.issue_cycles
            start = max(now, free)
            free = start + c.service_cycles
            done = max(done, start + c.service_cycles + c.latency_cycles)
    return done


@pytest.mark.parametrize("device", ["wormhole_b0_n150", "blackhole_p150a"])
@pytest.mark.parametrize("direction", ["read", "write"])
@pytest.mark.parametrize(("nbytes", "count"), [(32, 1), (64, 64), (1000, 7), (8192, 3), (20000, 5), (65536, 64)])
def test_closed_form_is_the_packet_recursion(device, direction, nbytes, count) -> None:
    board = perfmodel.load_device(device)
    assert dram_unary_cycles(board, direction, nbytes, count) == pytest.approx(
        brute_force(board, direction, nbytes, count)
    )


def test_shipped_profiles_reproduce_the_calibration_rows() -> None:
    """Every shipped board is calibrated: fitted keys tagged 'fit', and the rows reproduced (median <= 10 %)."""
    print()
    for name in perfmodel.list_devices():
        board = perfmodel.load_device(name)
        rows = read_measurements(DATA, board.arch)
        err = predict(board, rows) / rows["cycles"].to_numpy() - 1
        print(f"{name}: median |error| {100 * np.median(np.abs(err)):.1f} %, max {100 * np.max(np.abs(err)):.1f} %")
        for r, e in zip(rows.itertuples(), err, strict=True):
            print(f"  {r.direction:5} {r.transaction_bytes:>6} B x {r.num_transactions:>2}: {100 * e:+6.1f} %")
        assert np.median(np.abs(err)) <= 0.10
        for key in ("noc.read_issue_cycles", "dram.read_latency_cycles", "noc.core_write_bytes_per_cycle"):
            assert board.source_of(key).tag == "fit"
            assert "dram_single_core.csv" in board.source_of(key).source
        assert board.calibration["data_file"] == "dram_single_core.csv"
        assert len(board.calibration["rel_error"]) == len(rows)


def test_fit_recovers_known_parameters(tmp_path) -> None:
    """Synthetic rows from known parameters: the fit finds them again."""
    board = perfmodel.load_device("wormhole_b0_n150")
    truth = board.evolve(
        **{
            "noc.read_issue_cycles": 31.0,
            "dram.read_latency_cycles": 250.0,
            "noc.core_read_bytes_per_cycle": 17.0,
            "noc.write_issue_cycles": 12.0,
            "dram.write_latency_cycles": 420.0,
            "noc.core_write_bytes_per_cycle": 19.5,
        }
    )
    lines = ["arch,benchmark,direction,transaction_bytes,num_transactions,cycles"]
    for direction in ("read", "write"):
        for nbytes in (32, 256, 2048, 16384, 65536):
            for count in (1, 64):
                cycles = dram_unary_cycles(truth, direction, nbytes, count)
                lines.append(f"wormhole_b0,dram_unary_packet_sizes,{direction},{nbytes},{count},{cycles:.3f}")
    data = tmp_path / "synthetic.csv"
    data.write_text("\n".join(lines) + "\n")
    result = calibrate(board, data)
    assert result.values["noc.read_issue_cycles"] == pytest.approx(31.0, rel=0.02)
    assert result.values["dram.read_latency_cycles"] == pytest.approx(250.0, rel=0.02)
    assert result.values["noc.core_write_bytes_per_cycle"] == pytest.approx(19.5, rel=0.02)
    assert result.max_abs_error < 0.01


def test_cli_writes_a_loadable_profile_with_provenance(tmp_path, capsys) -> None:
    out = tmp_path / "wh.toml"
    code = main(["calibrate", "--data", str(DATA), "--device", "wormhole_b0_n150", "--out", str(out), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(payload["rows"]) == 48
    assert payload["median_abs_rel_error"] <= 0.10
    written = perfmodel.load_device(str(out))
    original = perfmodel.load_device("wormhole_b0_n150")
    assert written.noc.read_issue_cycles == pytest.approx(payload["fitted"]["noc.read_issue_cycles"], abs=1e-3)
    assert written.source_of("noc.read_issue_cycles").tag == "fit"
    # Everything not fitted is copied through with its provenance.
    assert written.compute == original.compute
    assert written.source_of("dram.peak_bandwidth_gbps") == original.source_of("dram.peak_bandwidth_gbps")
    assert written.calibration["median_abs_rel_error"] == pytest.approx(payload["median_abs_rel_error"], abs=1e-4)


def test_cli_prints_per_row_errors_of_the_shipped_data(tmp_path, capsys) -> None:
    """No --data: the shipped measurements; one printed row per measurement, its error from its own columns."""
    code = main(["calibrate", "--device", "blackhole_p150a", "--out", str(tmp_path / "bh.toml")])
    text = capsys.readouterr().out
    assert code == 0
    measured = read_measurements(DATA, "blackhole")
    printed = [line.split() for line in text.splitlines() if line.split()[:1] in (["read"], ["write"])]
    assert len(printed) == len(measured) == 44
    for (direction, nbytes, count, cycles, model, error), row in zip(printed, measured.itertuples(), strict=True):
        assert (direction, int(nbytes), int(count)) == (row.direction, row.transaction_bytes, row.num_transactions)
        assert float(cycles) == pytest.approx(row.cycles, abs=0.5)
        assert float(error.rstrip("%")) == pytest.approx(100 * (float(model) / row.cycles - 1), abs=0.06)
    median = float(text.split("median |error| ")[1].split("%")[0])
    errors = [abs(float(p[5].rstrip("%"))) for p in printed]
    assert median == pytest.approx(float(np.median(errors)), abs=0.06)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "/no/such.csv", "--device", "wormhole_b0_n150"], "not found"),
        (["--data", str(DATA), "--device", "no_such_board"], "unknown device"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message) -> None:
    code = main(["calibrate", *argv, "--out", str(tmp_path / "x.toml")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_bad_columns_are_an_input_error(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("arch,direction,bytes\nwormhole_b0,read,32\n")
    with pytest.raises(InputError, match="missing column"):
        read_measurements(bad, "wormhole_b0")
    with pytest.raises(InputError, match="no rows for arch"):
        read_measurements(DATA, "grayskull")


@pytest.mark.parametrize("device", ["wormhole_b0_n150", "blackhole_p150a"])
@pytest.mark.parametrize("direction", ["read", "write"])
@pytest.mark.parametrize(("nbytes", "count"), [(32, 1), (64, 64), (2048, 64), (8192, 1), (65536, 64)])
def test_closed_form_is_the_simulators_dram_unary(device, direction, nbytes, count) -> None:
    """The fit models the benchmark with the simulator's own rules: it must give the simulated zone time."""
    op = perfmodel.get_op("dram_unary")
    program = op.build_program(device=device, direction=direction, transaction_bytes=nbytes, num_transactions=count)
    simulated = perfmodel.simulate(program).details["zones"]["dram_unary"]
    assert dram_unary_cycles(program.device, direction, nbytes, count) == pytest.approx(simulated, rel=1e-9)
