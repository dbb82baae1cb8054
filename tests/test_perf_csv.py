"""The ops_perf_results CSV: reading the shipped real files, writing predictions, reading them back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

import perfmodel
from perfmodel.cli import main
from perfmodel.errors import InputError
from perfmodel.io.compare import compare
from perfmodel.io.perf_csv import board_for_row, read_perf_csv
from perfmodel.io.perf_out import COLUMNS, result_row, write_perf_csv
from perfmodel.io.perf_row import Skip, grid_for, parse_dim
from perfmodel.io.rows import perf_modules, select

DATA = Path(__file__).parent / "data" / "profiler_csv"
SHIPPED = {
    "bh20_oft.csv": ("v2.1", 1621),
    "bh_64_clip_encoder_1.csv": ("v2.1", 660),
    "bh_p100_dlv3.csv": ("v2.1", 387),
    "ops_perf_results_2025_09_18_11_39_20.csv": ("v2", 671),
    "wh_clip_encoder_2.csv": ("v2.1", 1872),
    "wh_seg_encoder_ttnn_visualizer.csv": ("v1", 1179),
}
SHAPE = (1, 1, 256, 512)


def test_parse_dim() -> None:
    assert parse_dim("32[19]") == (32, 19)
    assert parse_dim("64") == (64, 64)
    assert parse_dim(" 1280[1280] ") == (1280, 1280)
    with pytest.raises(InputError, match="'x\\[3\\]'"):
        parse_dim("x[3]")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_reads_every_shipped_file(name: str) -> None:
    file = read_perf_csv(DATA / name)
    column_set, rows = SHIPPED[name]
    assert file.column_set == column_set
    assert len(file.rows) == rows
    # Every row lands in exactly one place: a modelled group, a skip reason, or an unmodelled op code.
    # The files without DEVICE ARCH need the board named (README of the data: Blackhole OFT, Wormhole segformer).
    board = {"v2": "blackhole_p150a", "v1": "wormhole_b0_n150"}.get(column_set)
    selection = select(file, device=board)
    counted = sum(len(g.lines) for g in selection.groups)
    counted += sum(len(v) for v in selection.skipped.values()) + sum(selection.unmodelled.values())
    assert counted == rows
    codes = {r["OP CODE"] for r in file.rows}
    assert all(code in perf_modules() or code in selection.unmodelled for code in codes)


def test_compare_counts_the_op_codes_it_does_not_model() -> None:
    result = compare(DATA / "bh20_oft.csv", engines=("analytic",))
    # Counted straight from the file, per op code no op models.
    rows = list(csv.DictReader((DATA / "bh20_oft.csv").open(newline="")))
    codes = {r["OP CODE"] for r in rows} - set(perf_modules())
    assert len(codes) > 10
    for code in codes:
        assert result.unmodelled[code] == sum(r["OP CODE"] == code for r in rows)


def test_worker_grid_of_a_core_count() -> None:
    assert grid_for(110, 11, 10) == (11, 10)
    assert grid_for(20, 11, 10) == (5, 4)
    assert grid_for(64, 11, 10) == (8, 8)
    assert grid_for(40, 8, 8) == (8, 5)
    with pytest.raises(InputError, match="13 worker cores"):
        grid_for(13, 11, 10)


def test_board_of_a_row() -> None:
    row = {"DEVICE ARCH": "blackhole", "AVAILABLE WORKER CORE COUNT": "20"}
    board = board_for_row(row, None, "f.csv")
    assert board.name == "blackhole_p150a"
    p100 = perfmodel.load_device("blackhole_p100a")
    assert board_for_row(row, p100, "f.csv") is p100  # --device names the board the file cannot
    with pytest.raises(InputError, match="wormhole_b0_n150"):
        board_for_row(row, perfmodel.load_device("wormhole_b0_n150"), "f.csv")
    with pytest.raises(InputError, match="'grayskull'"):
        board_for_row({"DEVICE ARCH": "grayskull"}, None, "f.csv")
    assert isinstance(board_for_row({}, None, "f.csv"), Skip)


def test_the_worker_count_reaches_the_op_as_its_grid() -> None:
    """The row's AVAILABLE WORKER CORE COUNT becomes the op's `grid` config on the whole board."""
    from perfmodel.ops.tilize import perf as tilize_perf

    rows = read_perf_csv(DATA / "bh20_oft.csv").rows
    row = next(r for r in rows if r["OP CODE"] in tilize_perf.OP_CODES and "DRAM" in r["INPUT_0_MEMORY"])
    problem = tilize_perf.problem_from_row(row, perfmodel.load_device("blackhole_p150a"))
    assert problem.config["grid"] == (5, 4)
    odd = {**row, "AVAILABLE WORKER CORE COUNT": "13"}
    assert isinstance(tilize_perf.problem_from_row(odd, perfmodel.load_device("blackhole_p150a")), Skip)


def _program(device: str = "wormhole_b0_n150", shape=SHAPE, grid=(2, 4)):
    op = perfmodel.get_op("centralize_w_rm")
    return op.build_program(shape, device=device, dtype="bfloat16", config={"grid": grid})


def test_simulated_row_reads_back_with_zero_error(tmp_path: Path) -> None:
    """simulate -> CSV -> compare: the simulator agrees with itself exactly; the analytic model nearly."""
    out = tmp_path / "sim.csv"
    assert main(["simulate", "centralize_w_rm", "--shape", "1,1,256,512", "--grid", "2x4", "--perf-csv", str(out)]) == 0
    result = compare(out)
    assert len(result.rows) == 1
    row = result.rows[0]
    # The whole 8x8 board; the op's grid config is the grid it ran on.
    assert row.group.device.core.grid_x == 8 and row.group.grid == (2, 4) == row.group.problem.config["grid"]
    assert row.core_count_model == 8
    assert abs(row.error("des")) < 1e-4  # the CSV holds whole nanoseconds
    assert abs(row.error("analytic")) < 0.05
    # pandas reads the exact column names tt-metal writes.
    table = pd.read_csv(out)
    assert tuple(table.columns) == COLUMNS
    assert table["OP CODE"].iloc[0] == "centralize_w_rm"
    assert table["INPUT_0_Y_PAD[LOGICAL]"].iloc[0] == "256[256]"
    per_riscv = [table[f"DEVICE {r} KERNEL DURATION [ns]"].iloc[0] for r in ("BRISC", "NCRISC", "TRISC1")]
    assert max(per_riscv) == table["DEVICE KERNEL DURATION [ns]"].iloc[0]
    assert table["PM IDEAL [ns]"].iloc[0] < table["DEVICE KERNEL DURATION [ns]"].iloc[0]


def test_estimate_writes_the_stage_end_times(tmp_path: Path) -> None:
    program = _program()
    result = perfmodel.estimate(program)
    row = result_row(result, program)
    ends = [float(row[f"DEVICE {r} KERNEL DURATION [ns]"]) for r in ("BRISC", "NCRISC", "TRISC0")]
    assert all(e > 0 for e in ends)
    assert max(ends) <= float(row["DEVICE KERNEL DURATION [ns]"]) + 1
    assert row["DEVICE ARCH"] == "wormhole_b0" and row["CORE COUNT"] == "8"


def test_repeats_are_grouped_and_skips_have_reasons(tmp_path: Path) -> None:
    program = _program()
    base = result_row(perfmodel.estimate(program), program)
    rows = [{**base, "DEVICE KERNEL DURATION [ns]": str(v)} for v in (1000, 3000, 2000)]
    rows.append({**base, "INPUT_0_MEMORY": "DEV_0_L1_INTERLEAVED"})
    rows.append({**base, "INPUT_0_Y_PAD[LOGICAL]": "256[250]"})
    rows.append({**base, "OP CODE": "SoftmaxDeviceOperation"})
    rows.append({**base, "DEVICE KERNEL DURATION [ns]": "0"})
    out = write_perf_csv(tmp_path / "rows.csv", rows)
    result = compare(out, engines=("analytic",))
    assert len(result.rows) == 1
    assert result.rows[0].group.measured_ns == (1000.0, 3000.0, 2000.0)
    assert result.rows[0].group.median_ns == 2000.0
    reasons = " | ".join(result.skipped)
    assert "DEV_0_L1_INTERLEAVED" in reasons and "padded" in reasons and "not positive" in reasons
    assert result.unmodelled == {"SoftmaxDeviceOperation": 1}
    assert result.summaries[0].kendall_tau is None  # one problem: no ranking to judge


def test_compare_json_and_kendall_tau(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = []
    for i, h in enumerate((64, 128, 256)):
        program = _program(shape=(1, 1, h, 256), grid=(1, 1))
        rows.append(result_row(perfmodel.estimate(program), program, call_count=i + 1))
    out = write_perf_csv(tmp_path / "three.csv", rows)
    assert main(["compare", "--perf-csv", str(out), "--engine", "analytic", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["rows"]) == 3
    (summary,) = payload["per_op"]
    assert summary["kendall_tau"] == pytest.approx(1.0)
    assert summary["max_abs_error"] < 1e-3


def test_written_csv_is_atomic_and_tt_perf_report_reads_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    program = _program()
    out = write_perf_csv(tmp_path / "est.csv", [result_row(perfmodel.estimate(program), program)])
    assert [p.name for p in tmp_path.iterdir()] == ["est.csv"]  # no temporary file left behind
    perf_report = pytest.importorskip("tt_perf_report.perf_report")
    monkey = pytest.MonkeyPatch()
    monkey.setattr("sys.argv", ["tt-perf-report", str(out), "--no-advice", "--no-summary"])
    try:
        perf_report.main()
    finally:
        monkey.undo()
    assert "centralize_w_rm" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\x00\x01\x02binary", "not a CSV"),
        (b"", "empty"),
        (b"a,b,c\n1,2,3\n", "missing column 'OP CODE'"),
        (None, "'fast'"),
        (None, "'grayskull'"),
    ],
)
def test_malformed_files_exit_2_with_one_line(tmp_path: Path, capsys, content, needle) -> None:
    path = tmp_path / "bad.csv"
    if content is None:
        program = _program()
        row = result_row(perfmodel.estimate(program), program)
        if needle == "'fast'":
            row["DEVICE KERNEL DURATION [ns]"] = "fast"
        else:
            row["DEVICE ARCH"] = "grayskull"
        write_perf_csv(path, [row])
    else:
        path.write_bytes(content)
    assert main(["compare", "--perf-csv", str(path), "--engine", "analytic"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "bad.csv" in err
