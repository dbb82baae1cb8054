"""Bad inputs of the files, profiles and smaller flags: each exits 2 with one line naming the value, no traceback.

A case is (argv, files to create, the text the message must contain). `{tmp}` in an argument or in the
expected text is the case's temporary folder. Files: bytes are written as they are, "DIR" makes a folder,
"FIFO" a fifo, ("LINK", target) a symbolic link to `{tmp}/target`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from perfmodel.device import load_device

HEADER = "arch,benchmark,direction,transaction_bytes,num_transactions,cycles\n"
GOOD_ROW = "wormhole_b0,dram_unary_packet_sizes,read,2048,64,6229\n"


def csv(*cells: tuple[str, str]) -> bytes:
    """The header, one good row, then a row with the given (column, text) cells changed (line 3 of the file)."""
    row = dict(zip(HEADER.strip().split(","), GOOD_ROW.strip().split(","), strict=True))
    row.update(cells)
    return (HEADER + GOOD_ROW + ",".join(row.values()) + "\n").encode()


def profile(key: str, new: str) -> bytes:
    """The shipped Wormhole profile with the value of `key` (first match) replaced by `new`."""
    text = Path(load_device("wormhole_b0_n150").path).read_text()
    out, n = re.subn(rf"^({key} = \{{ value = )([^,]+)(, tag)", rf"\g<1>{new}\g<3>", text, count=1, flags=re.M)
    assert n == 1, key
    return out.encode()


def renamed_section(old: str, new: str) -> bytes:
    return Path(load_device("wormhole_b0_n150").path).read_text().replace(old, new).encode()


NOT_UTF8 = b'name = "\xff\xfe board"\n'
CALIBRATE = ["calibrate", "--device", "wormhole_b0_n150", "--out", "{tmp}/out.toml", "--data", "{tmp}/m.csv"]
CHECK = ["check", "centralize_w_rm", "--shape", "1,1,32,64"]
SIMULATE = ["simulate", "centralize_w_rm", "--shape", "1,1,32,64"]
ESTIMATE = ["estimate", "centralize_w_rm", "--shape", "1,1,32,64"]

CASES: list[tuple[str, list[str], dict[str, Any], str]] = [
    # calibrate --data: the measurement file, row by row
    ("csv-header-only", CALIBRATE, {"m.csv": HEADER.encode()}, "no measurement rows, only the header"),
    ("csv-empty-file", CALIBRATE, {"m.csv": b""}, "{tmp}/m.csv: not a readable CSV"),
    ("csv-not-utf8", CALIBRATE, {"m.csv": HEADER.encode() + b"\xff\xfe,x\n"}, "{tmp}/m.csv: not a readable CSV"),
    ("csv-missing-column", CALIBRATE, {"m.csv": b"arch,direction\nwormhole_b0,read\n"}, "missing column(s) benchmark"),
    ("csv-other-arch", CALIBRATE, {"m.csv": csv(("arch", "grayskull")).replace(b"wormhole_b0", b"blackhole")},
     "no rows for arch 'wormhole_b0' (found: 'blackhole', 'grayskull')"),
    ("csv-direction", CALIBRATE, {"m.csv": csv(("direction", "sideways"))}, "line 3: direction 'sideways'"),
    ("csv-cycles-inf", CALIBRATE, {"m.csv": csv(("cycles", "inf"))}, "line 3: cycles = 'inf'"),
    ("csv-cycles-nan", CALIBRATE, {"m.csv": csv(("cycles", "nan"))}, "line 3: cycles = 'nan'"),
    ("csv-cycles-negative", CALIBRATE, {"m.csv": csv(("cycles", "-5"))}, "line 3: cycles = '-5'"),
    ("csv-cycles-zero", CALIBRATE, {"m.csv": csv(("cycles", "0"))}, "line 3: cycles = '0'"),
    ("csv-cycles-text", CALIBRATE, {"m.csv": csv(("cycles", "fast"))}, "line 3: cycles = 'fast' is not a number"),
    ("csv-cycles-huge", CALIBRATE, {"m.csv": csv(("cycles", "1e13"))}, "line 3: cycles = '1e13'"),
    ("csv-count-huge", CALIBRATE, {"m.csv": csv(("num_transactions", "100000000"))},
     "line 3: num_transactions = '100000000' must be an integer in [1, 1,024]"),
    ("csv-bytes-huge", CALIBRATE, {"m.csv": csv(("transaction_bytes", "99999999999"))},
     "line 3: transaction_bytes = '99999999999' must be an integer in [1, 1,048,576]"),
    ("csv-bytes-fraction", CALIBRATE, {"m.csv": csv(("transaction_bytes", "2048.5"))}, "transaction_bytes = '2048.5'"),
    ("csv-bytes-zero", CALIBRATE, {"m.csv": csv(("transaction_bytes", "0"))}, "transaction_bytes = '0'"),
    ("csv-count-negative", CALIBRATE, {"m.csv": csv(("num_transactions", "-1"))}, "num_transactions = '-1'"),
    ("csv-count-empty", CALIBRATE, {"m.csv": csv(("num_transactions", ""))}, "num_transactions = '' is not a number"),
    ("csv-count-inf", CALIBRATE, {"m.csv": csv(("num_transactions", "inf"))}, "num_transactions = 'inf'"),
    ("csv-is-a-folder", CALIBRATE, {"m.csv": "DIR"}, "calibration data '{tmp}/m.csv' is a folder"),
    ("csv-missing", CALIBRATE, {}, "calibration data file not found: {tmp}/m.csv"),
    # calibrate --out: refused before the fit
    ("out-folder", CALIBRATE, {"out.toml": "DIR"}, "--out '{tmp}/out.toml' is a folder"),
    ("out-fifo", CALIBRATE, {"out.toml": "FIFO"}, "--out '{tmp}/out.toml' is a fifo"),
    ("out-link-to-folder", CALIBRATE, {"d": "DIR", "out.toml": ("LINK", "d")}, "--out '{tmp}/out.toml -> {tmp}/d'"),
    ("out-missing-folder", ["calibrate", "--device", "wormhole_b0_n150", "--out", "{tmp}/no/out.toml"], {},
     "folder '{tmp}/no' does not exist"),
    ("out-empty", ["calibrate", "--device", "wormhole_b0_n150", "--out", ""], {}, "--out '': empty path"),
    # profiles given by path, to any subcommand
    ("device-not-utf8", [*CHECK, "--device", "{tmp}/b.toml"], {"b.toml": NOT_UTF8}, "{tmp}/b.toml: not UTF-8 text"),
    ("device-folder", [*CHECK, "--device", "{tmp}/b.toml"], {"b.toml": "DIR"}, "profile '{tmp}/b.toml' is a folder"),
    ("calibrate-device-not-utf8", ["calibrate", "--device", "{tmp}/b.toml", "--out", "{tmp}/o.toml"],
     {"b.toml": NOT_UTF8}, "{tmp}/b.toml: not UTF-8 text"),
    ("device-clock-huge", [*CHECK, "--device", "{tmp}/b.toml"], {"b.toml": profile("clock_ghz", "1e308")},
     "key 'clock_ghz': value 1e+308 is outside the accepted range"),
    ("device-bandwidth-tiny", [*ESTIMATE, "--device", "{tmp}/b.toml"],
     {"b.toml": profile("peak_bandwidth_gbps", "1e-300")}, "key 'dram.peak_bandwidth_gbps': value 1e-300"),
    ("device-alignment", [*SIMULATE, "--device", "{tmp}/b.toml"], {"b.toml": profile("alignment_bytes", "3")},
     "key 'dram.alignment_bytes': value 3 must be a power of two"),
    ("device-latency-nan", [*CHECK, "--device", "{tmp}/b.toml"], {"b.toml": profile("read_latency_cycles", "nan")},
     "key 'dram.read_latency_cycles': value nan is not finite"),
    ("device-unknown-call", [*CHECK, "--device", "{tmp}/b.toml"],
     {"b.toml": renamed_section("[compute.bfloat16.tilize]", "[compute.bfloat16.tilise]")},
     "key 'compute.bfloat16.tilise': unknown compute call 'tilise'"),
    ("device-unknown-format", [*CHECK, "--device", "{tmp}/b.toml"],
     {"b.toml": renamed_section("[compute.float32", "[compute.float16")}, "unknown data format 'float16'"),
    ("devices-not-utf8", ["devices", "{tmp}/b.toml"], {"b.toml": NOT_UTF8}, "{tmp}/b.toml: not UTF-8 text"),
    ("devices-unknown", ["devices", "no_such_board"], {}, "unknown device 'no_such_board'"),
    # simulate --trace: refused before simulating
    ("trace-folder", [*SIMULATE, "--trace", "{tmp}/t"], {"t": "DIR"}, "trace file '{tmp}/t' is a folder"),
    ("trace-fifo", [*SIMULATE, "--trace", "{tmp}/t"], {"t": "FIFO"}, "trace file '{tmp}/t' is a fifo"),
    ("trace-link-to-folder", [*SIMULATE, "--trace", "{tmp}/t"], {"d": "DIR", "t": ("LINK", "d")},
     "trace file '{tmp}/t -> {tmp}/d' is a folder"),
    ("trace-empty", [*SIMULATE, "--trace", ""], {}, "trace file '': empty path"),
    # --grid
    ("grid-empty", [*CHECK, "--grid", ""], {}, "malformed grid ''"),
    ("grid-negative", [*CHECK, "--grid", "-1x8"], {}, "grid '-1x8'"),
    ("grid-negative-y", [*ESTIMATE, "--grid", "8x-1"], {}, "grid '8x-1'"),
    ("grid-zero", [*SIMULATE, "--grid", "0x8"], {}, "grid '0x8'"),
    ("grid-three", [*CHECK, "--grid", "8x8x8"], {}, "malformed grid '8x8x8'"),
    ("grid-word", [*ESTIMATE, "--grid", "x"], {}, "malformed grid 'x'"),
    ("shape-negative-first", ["check", "centralize_w_rm", "--shape", "-1,1,32,64"], {}, "dim -1"),
    # validate's size cap
    ("validate-too-large", ["validate", "centralize_w_rm", "--shape", "1,1,8192,16384"], {},
     "shape [1, 1, 8192, 16384] has 134217728 elements; validate takes at most 16777216"),
    ("validate-just-too-large", ["validate", "centralize_w_rm", "--shape", "1,1,1024,16416"], {},
     "shape [1, 1, 1024, 16416] has 16809984 elements"),
]  # fmt: skip


def _create(tmp: Path, files: dict[str, Any]) -> None:
    for name, spec in files.items():
        path = tmp / name
        if spec == "DIR":
            path.mkdir()
        elif spec == "FIFO":
            os.mkfifo(path)
        elif isinstance(spec, tuple):
            path.symlink_to(tmp / spec[1])
        else:
            path.write_bytes(spec)


def test_enough_cases() -> None:
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("argv", "files", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_naming_the_value(tmp_path: Path, cli, argv, files, needle) -> None:
    _create(tmp_path, files)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = cli(*(a.replace("{tmp}", str(tmp_path)) for a in argv))
    assert code == 2, err
    assert needle.replace("{tmp}", str(tmp_path)) in err
    assert err.startswith("perfmodel: error: ") and len(err.splitlines()) == 1
    assert "Traceback" not in err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary left
