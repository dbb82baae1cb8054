"""Calibration from profiler rows: known constants recovered from rows the tool wrote with a perturbed profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import perfmodel
from perfmodel.calibration.params import get_param, set_params
from perfmodel.calibration.perf_fit import fit_perf_rows
from perfmodel.cli import main
from perfmodel.io.perf_out import result_row, write_perf_csv

BOARD = "wormhole_b0_n150"
# What the "real" board has: three costs off the shipped profile by -20 % to +30 %.
TRUE = {
    "noc.read_issue_cycles": 1.3,
    "dram.write_latency_cycles": 0.8,
    "dispatch.kernel_setup_cycles": 1.25,
}
CASES = [
    ((1, 1, 64, 64), (1, 1)),
    ((1, 1, 128, 256), (1, 1)),
    ((1, 1, 256, 1024), (2, 2)),
    ((1, 1, 512, 128), (4, 2)),
    ((1, 1, 64, 2048), (1, 1)),
    ((2, 1, 256, 256), (2, 4)),
]
TILIZE = "compute.bfloat16.tilize.cycles_per_tile"
REDUCE = "compute.bfloat16.reduce_row.cycles_per_tile"
FP32 = "compute.float32.tilize.cycles_per_tile"


@pytest.fixture(scope="module")
def rows_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """centralize_w_rm rows timed on the perturbed board, written as a profiler CSV."""
    board = perfmodel.load_device(BOARD)
    real = set_params(board, {k: get_param(board, k) * f for k, f in TRUE.items()})
    op = perfmodel.get_op("centralize_w_rm")
    rows = []
    for i, (shape, grid) in enumerate(CASES):
        program = op.build_program(shape, device=real, dtype="bfloat16", config={"grid": grid})
        rows.append(result_row(perfmodel.estimate(program), program, call_count=i + 1))
    return write_perf_csv(tmp_path_factory.mktemp("rows") / "real.csv", rows)


def test_recovers_known_constants_within_2_percent(rows_csv: Path) -> None:
    board = perfmodel.load_device(BOARD)
    keys = [*TRUE, TILIZE, REDUCE, FP32]
    result = fit_perf_rows(rows_csv, board, keys=keys)
    # The rows run bf16 only: an fp32 cost is not exercised.
    assert FP32 in result.not_exercised
    # Tilize and reduce load different compute threads (tilize's pack, reduce's unpack): the rows may tell
    # them apart; whichever is kept (not refused as unidentifiable) recovers its true value.
    for key in TRUE:
        assert key in result.values
    read = "noc.read_issue_cycles"
    assert result.values[read] == pytest.approx(get_param(board, read) * TRUE[read], rel=0.02)
    # The kernel setup and the last write's latency both add once to almost every row (the three compute
    # threads hide the other writes' latency): the rows fix their sum, not each.
    tail = ("dispatch.kernel_setup_cycles", "dram.write_latency_cycles")
    assert sum(result.values[k] for k in tail) == pytest.approx(
        sum(get_param(board, k) * TRUE[k] for k in tail), rel=0.02
    )
    kept = {TILIZE, REDUCE} - set(result.refused)
    assert kept
    for key in kept:
        assert result.values[key] == pytest.approx(get_param(board, key), rel=0.02)
    assert result.summary(held_out=False)["max_abs_error"] < 0.005
    assert result.summary(held_out=False, after=False)["max_abs_error"] > 0.02


def test_calibrate_command_writes_a_valid_tagged_profile(
    rows_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fitted.toml"
    args = ["calibrate", "--perf-csv", str(rows_csv), "--device", BOARD, "--out", str(out)]
    code = main([*args, "--keys", "dispatch.kernel_setup_cycles", "--holdout", "0.34", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    held = payload["held_out"]
    assert held["after"]["problems"] == 2 and held["before"]["problems"] == 2
    assert payload["fit"]["after"]["median_abs_error"] < payload["fit"]["before"]["median_abs_error"]
    fitted = perfmodel.load_device(out)
    assert fitted.dispatch.kernel_setup_cycles == pytest.approx(
        payload["fitted"]["dispatch.kernel_setup_cycles"], rel=1e-3
    )
    assert fitted.source_of("dispatch.kernel_setup_cycles").tag == "fit"
    assert "real.csv" in fitted.source_of("dispatch.kernel_setup_cycles").source
    assert fitted.source_of("noc.read_issue_cycles").tag == "fit"  # untouched: the dram_unary fit stays
    record = fitted.calibration["perf_csv"]
    assert record["data_file"] == "real.csv" and len(record["rel_error"]) == len(CASES)
    assert fitted.calibration["data_file"] == "dram_single_core.csv"


def test_no_modelled_rows_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = Path(__file__).parent / "data" / "profiler_csv" / "wh_clip_encoder_2.csv"
    out = tmp_path / "x.toml"
    code = main(
        ["calibrate", "--perf-csv", str(data), "--device", BOARD, "--out", str(out), "--keys", "noc.read_issue_cycles"]
    )
    err = capsys.readouterr().err
    if code == 0:  # an op that models these rows has joined: the fit must then have written a profile
        assert out.exists()
    else:
        assert code == 2 and "nothing to fit" in err and not out.exists()
