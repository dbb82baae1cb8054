"""The command line: JSON fields, exit codes, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from perfmodel.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_devices_json(capsys) -> None:
    code, out, _ = run(capsys, "devices", "--json")
    rows = json.loads(out)
    assert code == 0
    names = {r["name"] for r in rows}
    assert {"wormhole_b0_n150", "wormhole_b0_n300", "blackhole_p150a", "blackhole_p100a"} <= names
    for r in rows:
        assert {
            "name",
            "arch",
            "grid",
            "clock_ghz",
            "l1_bytes",
            "l1_free_bytes",
            "num_cbs",
            "dram_banks",
            "dram_bw_gbps",
        } <= set(r)


def test_devices_table(capsys) -> None:
    code, out, _ = run(capsys, "devices")
    assert code == 0 and "blackhole_p150a" in out and "11x10" in out


def test_check_overflow_exits_1_with_l1_overflow(capsys) -> None:
    code, out, _ = run(
        capsys, "check", "centralize_w_rm", "--shape", "1,1,32,8192", "--device", "wormhole_b0_n150", "--json"
    )
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert "l1_overflow" in [v["kind"] for v in report["violations"]]


def test_check_ok_at_the_design_point(capsys) -> None:
    code, out, _ = run(
        capsys, "check", "centralize_w_rm", "--shape", "1,1,2048,1024", "--device", "wormhole_b0_n150", "--json"
    )
    report = json.loads(out)
    assert code == 0 and report["ok"]
    assert report["l1_bytes_per_core"] == 397_312
    assert report["num_cores"] == 64
    assert report["core_groups"] == [{"cores": [[[0, 0], [7, 7]]], "units_per_core": 1}]
    assert [cb["index"] for cb in report["cbs"]] == [0, 1, 2, 3, 4, 16]


def test_check_flags_reach_the_factory(capsys) -> None:
    code, out, _ = run(
        capsys,
        "check",
        "centralize_w_rm",
        "--shape",
        "1,1,3200,64",
        "--grid",
        "4x4",
        "--row-wise",
        "--in-buffering",
        "3",
        "--out-buffering",
        "1",
        "--json",
    )
    report = json.loads(out)
    assert code == 0 and report["num_cores"] == 16
    assert report["core_groups"][0] == {"cores": [[[0, 0], [3, 0]]], "units_per_core": 7}
    pages = {cb["index"]: cb["num_pages"] for cb in report["cbs"]}
    assert pages[0] == 6 and pages[16] == 2


def test_check_text_output(capsys) -> None:
    code, out, _ = run(capsys, "check", "centralize_w_rm", "--shape", "1,1,32,8192")
    assert code == 1 and "FAILED" in out and "l1_overflow" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["check", "centralize_w_rm", "--shape", "1,1,48,64"], "H = 48"),
        (["check", "centralize_w_rm", "--shape", "1,1,64,40"], "W = 40"),
        (["check", "centralize_w_rm", "--shape", "64"], "rank 1"),
        (["check", "centralize_w_rm", "--shape", "1,0,32,64"], "dim 0"),
        (["check", "centralize_w_rm", "--shape", "1,-1,32,64"], "dim -1"),
        (["check", "centralize_w_rm", "--shape", "1,x,32,64"], "'1,x,32,64'"),
        (["check", "nosuchop", "--shape", "1,1,32,64"], "'nosuchop'"),
        (["check", "centralize_w_rm", "--shape", "1,1,32,64", "--device", "nosuchboard"], "'nosuchboard'"),
        (["check", "centralize_w_rm", "--shape", "1,1,32,64", "--grid", "9x8"], "grid 9x8"),
        (["check", "centralize_w_rm", "--shape", "1,1,32,64", "--grid", "eight"], "'eight'"),
        (["check", "centralize_w_rm", "--shape", "1,1,32,64", "--in-buffering", "0"], "in_buffering = 0"),
        (["check", "centralize_w_rm", "--shape", "1,1,32,64", "--dtype", "float16"], "'float16'"),
        (["check", "centralize_w_rm", "--shape", "65536,4096,32,1024"], "bytes of DRAM"),
        (["check", "centralize_w_rm", "--shape", "1,1,32,64", "--in-buffering", "two"], "'two'"),
        (["validate", "centralize_w_rm", "--shape", "1,1,30,64"], "H = 30"),
        (["validate", "centralize_w_rm", "--shape", "1,1,32,64", "--dtype", "int8"], "'int8'"),
        (["validate", "centralize_w_rm", "--shape", "1,1,64,96", "--seed", "-1"], "seed -1"),
        (["validate", "centralize_w_rm", "--shape", "1,1,32,3200000000"], "102400000000 elements"),
        (["simulate", "centralize_w_rm", "--shape", "1,1,64,96", "--trace", "/nonexistent/dir/t.json"], "/nonexistent"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, needle) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and out == ""


def test_unknown_op_and_board_list_the_known_ones(capsys) -> None:
    _, _, err = run(capsys, "check", "nosuchop", "--shape", "1,1,32,64")
    assert "centralize_w_rm" in err
    _, _, err = run(capsys, "check", "centralize_w_rm", "--shape", "1,1,32,64", "--device", "x")
    assert "wormhole_b0_n150" in err and "blackhole_p150a" in err


def test_console_script_and_module_entry_point(tmp_path) -> None:
    # Run outside the checkout so the installed package is imported, not the source folder.
    exe = shutil.which("perfmodel") or str(__import__("pathlib").Path(sys.executable).with_name("perfmodel"))
    done = subprocess.run(
        [exe, "check", "centralize_w_rm", "--shape", "1,1,48,64"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 2 and "H = 48" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "perfmodel", "devices", "--json"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and json.loads(done.stdout)
