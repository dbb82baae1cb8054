"""Sweep jobs: the spec form, rows equal to the engines', outputs, checkpoint identity, and bad input (exit 2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfmodel import InputError, estimate_many, get_op, run_sweep, simulate
from perfmodel.cli import main
from perfmodel.known_hangs import preloaded_streaming_compute
from perfmodel.ops.centralize_w_rm import model
from perfmodel.sweep import PROVENANCE_COLUMNS, RESULT_COLUMNS, SweepSpec, checkpoint_path, read_table
from perfmodel.sweep.evaluate import DEADLOCK_REASON, des_point
from perfmodel.sweep.output import profile_sha256, tool_version

ROOT = Path(__file__).parents[1]
WH = "wormhole_b0_n150"
BH = "blackhole_p150a"

# Both boards; W = 8192 overflows L1 at every buffering, grid_x = 11 is wider than Wormhole's 8 columns;
# grid_y and row_wise have no axis and take the op's defaults on each board.
ANALYTIC_SPEC = """
op = "centralize_w_rm"
[axes]
N = [1]
C = [1, 2]
H = [256, 1024]
W = [512, 8192]
dtype = ["bfloat16"]
device = ["wormhole_b0_n150", "blackhole_p150a"]
grid_x = [2, 11]
in_buffering = [1, 3]
out_buffering = [2]
"""

DES_SPEC = """
op = "centralize_w_rm"
backend = ["analytic", "des"]
[axes]
N = [1]
C = [1]
H = [64, 256]
W = [256, 2048]
dtype = ["bfloat16"]
device = ["wormhole_b0_n150", "blackhole_p150a"]
grid_x = [1, 4]
in_buffering = [1]
"""


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_sweeps_load_and_cover_both_architectures() -> None:
    archs = set()
    for path in sorted((ROOT / "sweeps").glob("*.toml")):
        spec = SweepSpec.from_toml(path)
        points = spec.points()
        assert list(points.columns) == list(model.INPUT_COLUMNS)
        archs |= {d.split("_")[0] for d in points["device"]}
    assert archs == {"wormhole", "blackhole"}


def test_points_are_the_cartesian_product_in_axis_order_with_defaults(tmp_path: Path) -> None:
    spec = SweepSpec.from_toml(write(tmp_path, ANALYTIC_SPEC))
    points = spec.points()
    assert len(points) == spec.num_points == 2 * 2 * 2 * 2 * 2 * 2
    # The last axis varies fastest.
    assert list(points["in_buffering"][:2]) == [1, 3]
    assert list(points["C"][: spec.num_points // 2].unique()) == [1]
    # Knobs without an axis take the op's defaults on the point's board.
    assert set(points.loc[points["device"] == WH, "grid_y"]) == {8}
    assert set(points.loc[points["device"] == BH, "grid_y"]) == {10}
    assert not points["row_wise"].any()


def test_spec_hash_follows_content_not_file(tmp_path: Path) -> None:
    a = SweepSpec.from_toml(write(tmp_path, ANALYTIC_SPEC, "a.toml"))
    b = SweepSpec.from_toml(write(tmp_path, "# a comment\n" + ANALYTIC_SPEC, "b.toml"))
    c = SweepSpec.from_toml(write(tmp_path, ANALYTIC_SPEC.replace("C = [1, 2]", "C = [2, 1]"), "c.toml"))
    assert a.sha256 == b.sha256 != c.sha256


def test_analytic_rows_equal_estimate_many(tmp_path: Path) -> None:
    out = tmp_path / "a.parquet"
    spec = SweepSpec.from_toml(write(tmp_path, ANALYTIC_SPEC))
    summary = run_sweep(spec, out)
    table = read_table(out)
    expected = estimate_many("centralize_w_rm", spec.points())
    assert summary.rows == len(table) == len(expected)
    assert (table["backend"] == "analytic").all()
    pd.testing.assert_frame_equal(table[list(model.INPUT_COLUMNS)], expected[list(model.INPUT_COLUMNS)])
    for col in ("kernel_duration_ns", "cycles", "num_cores", "l1_bytes_per_core", "feasible"):
        np.testing.assert_array_equal(table[col].to_numpy(), expected[col].to_numpy(), err_msg=col)
    assert list(table["reason"]) == list(expected["infeasible_reason"])

    def names(col: pd.Series) -> list:
        return [b if isinstance(b, str) else None for b in col]

    assert names(table["bound"]) == names(expected["bound"])
    assert table["bound"].notna().sum() > 0
    # The spec has every kind of row: feasible, over L1, and a grid the board does not have (NaN time).
    assert table["feasible"].any() and (table["reason"] == "l1_overflow").any()
    assert table["kernel_duration_ns"].isna().any()
    assert summary.infeasible_rows == int((~table["feasible"]).sum())
    # Provenance: the board profile's content hash and the tool version on every row.
    assert set(table["profile_sha256"]) == {profile_sha256(WH), profile_sha256(BH)}
    assert table.loc[table["device"] == BH, "profile_sha256"].nunique() == 1
    assert set(table["perfmodel_version"]) == {tool_version()}


def test_des_rows_equal_simulate_of_the_same_program(tmp_path: Path) -> None:
    out = tmp_path / "d.parquet"
    spec = SweepSpec.from_toml(write(tmp_path, DES_SPEC))
    run_sweep(spec, out, workers=2)
    table = read_table(out)
    points = spec.points()
    assert len(table) == 2 * len(points)
    # Point order, then backend order.
    assert list(table["backend"][:4]) == ["analytic", "des", "analytic", "des"]
    des = table[table["backend"] == "des"].reset_index(drop=True)
    pd.testing.assert_frame_equal(des[list(model.INPUT_COLUMNS)], points)
    for i, row in points.iterrows():
        result = simulate(model.program_for_row(row.to_dict()))
        assert des.loc[i, "cycles"] == result.cycles
        assert des.loc[i, "kernel_duration_ns"] == result.kernel_duration_ns
        assert des.loc[i, "bound"] == result.bound
        assert des.loc[i, "num_cores"] == result.num_cores
        assert des.loc[i, "l1_bytes_per_core"] == result.l1_bytes_per_core
        assert des.loc[i, "feasible"] and des.loc[i, "reason"] == ""


def test_des_point_records_a_hang_and_an_unbuildable_config(monkeypatch: pytest.MonkeyPatch) -> None:
    def hanging(row):
        return get_op("centralize_w_rm").build_program(
            (64, 32), device=WH, config={"grid": (1, 1)}, kernels={"compute": preloaded_streaming_compute}
        )

    row = {"N": 1, "C": 1, "H": 64, "W": 32, "dtype": "bfloat16", "device": WH, "grid_x": 1, "grid_y": 1}
    row |= {"row_wise": False, "in_buffering": 2, "out_buffering": 2}
    bad = des_point("centralize_w_rm", {**row, "grid_x": 11})
    assert not bad["feasible"] and "11" in bad["reason"] and math.isnan(bad["cycles"])
    monkeypatch.setattr(model, "program_for_row", hanging)
    hung = des_point("centralize_w_rm", row)
    # The static kernel checks see it too; the simulator's verdict comes last.
    assert not hung["feasible"] and hung["reason"].split("; ")[-1] == DEADLOCK_REASON
    assert math.isnan(hung["kernel_duration_ns"]) and hung["num_cores"] == 1 and hung["l1_bytes_per_core"] > 0


def test_csv_output_has_the_parquet_table(tmp_path: Path) -> None:
    spec = write(tmp_path, ANALYTIC_SPEC)
    run_sweep(spec, tmp_path / "t.parquet")
    run_sweep(spec, tmp_path / "t.csv")
    parquet, csv = read_table(tmp_path / "t.parquet"), read_table(tmp_path / "t.csv")
    assert list(csv.columns) == [*model.INPUT_COLUMNS, "backend", *RESULT_COLUMNS, *PROVENANCE_COLUMNS]
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)


def test_rerun_of_a_finished_sweep_reproduces_the_same_file(tmp_path: Path) -> None:
    spec, out = write(tmp_path, ANALYTIC_SPEC), tmp_path / "t.parquet"
    first = run_sweep(spec, out)
    data = out.read_bytes()
    again = run_sweep(spec, out)
    assert first.computed_rows == first.rows and again.computed_rows == 0 and again.resumed_rows == first.rows
    assert out.read_bytes() == data


def test_a_different_spec_is_refused_unless_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "t.parquet"
    run_sweep(write(tmp_path, ANALYTIC_SPEC, "a.toml"), out)
    other = write(tmp_path, ANALYTIC_SPEC.replace("H = [256, 1024]", "H = [512]"), "b.toml")
    before = out.read_bytes()
    code = main(["sweep", str(other), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "different spec" in err and "--overwrite" in err and str(out) in err
    assert out.read_bytes() == before  # nothing the user kept is touched
    assert main(["sweep", str(other), "--out", str(out), "--overwrite"]) == 0
    fresh = tmp_path / "fresh.parquet"
    run_sweep(other, fresh)
    pd.testing.assert_frame_equal(read_table(out), read_table(fresh))


def test_an_output_without_checkpoint_is_not_replaced_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "mine.csv"
    out.write_text("keep me\n")
    spec = write(tmp_path, ANALYTIC_SPEC)
    with pytest.raises(InputError, match="--overwrite"):
        run_sweep(spec, out)
    assert out.read_text() == "keep me\n"
    run_sweep(spec, out, overwrite=True)
    assert len(read_table(out)) == SweepSpec.from_toml(spec).num_points
    assert checkpoint_path(out).exists()


GOOD = """
op = "centralize_w_rm"
[axes]
N = [1]
C = [1]
H = [256]
W = [512]
dtype = ["bfloat16"]
device = ["wormhole_b0_n150"]
"""

BAD_SPECS = [
    ("unknown op", GOOD.replace('"centralize_w_rm"', '"centralise_w"'), "centralise_w"),
    ("unknown axis", GOOD + "grid_z = [1]\n", "grid_z"),
    ("unknown backend", GOOD.replace("[axes]", 'backend = ["des", "fpga"]\n[axes]'), "fpga"),
    ("empty backend list", GOOD.replace("[axes]", "backend = []\n[axes]"), "backend"),
    ("empty axis", GOOD.replace("H = [256]", "H = []"), "'H'"),
    ("wrong type", GOOD.replace("H = [256]", 'H = ["256"]'), "'256'"),
    ("bool for an int", GOOD + "in_buffering = [true]\n", "in_buffering"),
    ("int for a bool", GOOD + "row_wise = [1]\n", "row_wise"),
    ("axis not a list", GOOD.replace("H = [256]", "H = 256"), "'H'"),
    ("nested value", GOOD.replace("H = [256]", "H = [[256]]"), "'H'"),
    ("unknown key", "colour = 'red'\n" + GOOD, "colour"),
    ("missing problem column", GOOD.replace("H = [256]\n", ""), "'H'"),
    ("unknown device", GOOD.replace('"wormhole_b0_n150"', '"grayskull_e150"'), "grayskull_e150"),
    ("unknown dtype", GOOD.replace('"bfloat16"', '"int3"'), "int3"),
    ("repeated value", GOOD.replace("H = [256]", "H = [256, 256]"), "256"),
    ("not TOML", "op = \nthis is not toml", "line 1"),
]


@pytest.mark.parametrize(("case", "text", "named"), BAD_SPECS, ids=[c for c, _, _ in BAD_SPECS])
def test_bad_spec_exits_2_naming_the_value(
    case: str, text: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    spec = write(tmp_path, text, "bad_spec.toml")
    code = main(["sweep", str(spec), "--out", str(tmp_path / "o.parquet")])
    err = capsys.readouterr().err
    assert code == 2, case
    assert err.count("\n") == 1 and "Traceback" not in err
    assert named in err
    if case == "not TOML":
        assert "bad_spec.toml" in err
    assert not (tmp_path / "o.parquet").exists()


def test_bad_command_line_exits_2_naming_the_value(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = str(write(tmp_path, GOOD))
    (tmp_path / "folder.parquet").mkdir()
    cases = [
        (["sweep", spec, "--out", str(tmp_path / "nope" / "o.parquet")], str(tmp_path / "nope")),
        (["sweep", spec, "--out", str(tmp_path / "folder.parquet")], "folder.parquet"),
        (["sweep", str(tmp_path / "absent.toml"), "--out", str(tmp_path / "o.parquet")], "absent.toml"),
        (["sweep", spec, "--out", str(tmp_path / "o.parquet"), "--workers", "0"], "0"),
    ]
    for argv, named in cases:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and named in err, (argv, err)


def test_unreachable_scheduler_exits_2_naming_the_address(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    spec = str(write(tmp_path, GOOD.replace("[axes]", 'backend = "des"\n[axes]')))
    code = main(["sweep", spec, "--out", str(tmp_path / "o.parquet"), "--scheduler", address])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and address in err
    assert not (tmp_path / "o.parquet").exists()


def test_an_l1_overflow_is_a_timed_infeasible_row_for_both_engines(tmp_path: Path) -> None:
    spec = GOOD.replace("[axes]", 'backend = ["analytic", "des"]\n[axes]').replace("W = [512]", "W = [8192]")
    spec = spec.replace("H = [256]", "H = [64]") + "grid_x = [1]\ngrid_y = [1]\n"
    out = tmp_path / "o.parquet"
    run_sweep(write(tmp_path, spec), out, workers=1)
    table = read_table(out)
    assert list(table["backend"]) == ["analytic", "des"]
    assert not table["feasible"].any()
    assert all(r.split("; ")[0] == "l1_overflow" for r in table["reason"])
    assert (table["cycles"] > 0).all() and (table["l1_bytes_per_core"] > 1_000_000).all()


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = write(tmp_path, GOOD)
    run_sweep(spec, tmp_path / "a.parquet")  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    run_sweep(spec, tmp_path / "b.parquet", progress=True)
    assert "1/1" in capsys.readouterr().err


def test_a_shape_the_factory_rejects_is_a_row_unless_knobs_need_its_defaults(tmp_path: Path) -> None:
    knobs = "grid_x = [2]\ngrid_y = [2]\nrow_wise = [false]\nin_buffering = [2]\nout_buffering = [2]\n"
    text = GOOD.replace("[axes]", 'backend = ["analytic", "des"]\n[axes]').replace("H = [256]", "H = [100, 256]")
    out = tmp_path / "o.parquet"
    run_sweep(write(tmp_path, text + knobs), out, workers=1)
    table = read_table(out)
    bad = table[table["H"] == 100]
    assert len(bad) == 2 and not bad["feasible"].any() and bad["kernel_duration_ns"].isna().all()
    assert all("multiple of 32" in r for r in bad["reason"])
    assert table[table["H"] == 256]["feasible"].all()
    with pytest.raises(InputError, match="H = 100"):
        SweepSpec.from_toml(write(tmp_path, text, "defaults.toml")).points()
