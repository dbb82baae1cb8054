"""The command line: JSON fields, exit codes, and one-line errors without tracebacks."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from perfmodel.device import list_devices, load_device


def test_devices_json(cli) -> None:
    code, out, _ = cli("devices", "--json")
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


def test_devices_table(cli) -> None:
    code, out, _ = cli("devices")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.split()[0] in list_devices()}
    assert set(rows) == set(list_devices())
    for name, cells in rows.items():
        p = load_device(name)
        assert cells[1:8] == [
            p.arch,
            f"{p.core.grid_x}x{p.core.grid_y}",
            str(p.clock_ghz),
            str(p.core.l1_free_bytes),
            str(p.core.num_cbs),
            str(p.dram.num_banks),
            str(p.dram.peak_bandwidth_gbps),
        ]
        # then the count of numbers per tag: "code 10 est 30 ..."
        tags = dict(zip(cells[8::2], map(int, cells[9::2]), strict=True))
        assert tags == dict(Counter(prov.tag for prov in p.provenance.values()))


def test_devices_of_one_board_lists_every_number_with_tag_and_source(cli) -> None:
    p = load_device("blackhole_p150a")
    code, out, _ = cli("devices", "blackhole_p150a", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["name"] == "blackhole_p150a"
    assert [r["key"] for r in payload["numbers"]] == list(p.provenance)
    for r in payload["numbers"]:
        assert (r["tag"], r["source"]) == (p.provenance[r["key"]].tag, p.provenance[r["key"]].source)
    by_key = {r["key"]: r["value"] for r in payload["numbers"]}
    assert by_key["dram.peak_bandwidth_gbps"] == p.dram.peak_bandwidth_gbps
    assert by_key["compute.bfloat16.tilize.cycles_per_tile"] == p.compute_for("bfloat16").cost("tilize").cycles_per_tile
    code, out, _ = cli("devices", "blackhole_p150a")
    lines = out.splitlines()[1:]
    assert code == 0 and len(lines) == len(p.provenance)
    for line, (key, prov) in zip(lines, p.provenance.items(), strict=True):
        cells = line.split(maxsplit=3)
        assert (cells[0], cells[2], cells[3]) == (key, prov.tag, prov.source)


def test_version_is_the_package_metadata(cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out == f"perfmodel {importlib.metadata.version('tensix-perfmodel')}\n"


def test_check_overflow_exits_1_with_l1_overflow(cli) -> None:
    code, out, _ = cli("check", "centralize_w_rm", "--shape", "1,1,32,8192", "--device", "wormhole_b0_n150", "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert "l1_overflow" in [v["kind"] for v in report["violations"]]


def test_check_ok_at_the_design_point(cli) -> None:
    code, out, _ = cli("check", "centralize_w_rm", "--shape", "1,1,2048,1024", "--device", "wormhole_b0_n150", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"]
    assert report["l1_bytes_per_core"] == 397_312
    assert report["num_cores"] == 64
    assert report["core_groups"] == [{"cores": [[[0, 0], [7, 7]]], "units_per_core": 1}]
    assert [cb["index"] for cb in report["cbs"]] == [0, 1, 2, 3, 4, 16]


def test_check_flags_reach_the_factory(cli) -> None:
    code, out, _ = cli(
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


def test_check_text_output(cli) -> None:
    code, out, _ = cli("check", "centralize_w_rm", "--shape", "1,1,32,8192")
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
def test_bad_input_exits_2_with_one_line(cli, argv, needle) -> None:
    code, out, err = cli(*argv)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and out == ""


def test_unknown_op_and_board_list_the_known_ones(cli) -> None:
    _, _, err = cli("check", "nosuchop", "--shape", "1,1,32,64")
    assert "centralize_w_rm" in err
    _, _, err = cli("check", "centralize_w_rm", "--shape", "1,1,32,64", "--device", "x")
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
