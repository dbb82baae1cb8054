"""Bad input on the command line: exit 2 and one line on stderr naming the value, never a traceback.

A model verdict (does not fit, numbers out of tolerance) is not bad input: exit 1 with the report (second
table). Every case runs in-process and is refused in milliseconds, before any engine loops on a bad size.
"""

from __future__ import annotations

import time

import pytest

OP = "centralize_w_rm"
TIMED = ("check", "simulate", "estimate")


# (arguments, text the one-line message must contain)
_SHAPES = [
    ("abc", "'abc'"),
    ("1,1,32", "H = 1"),
    ("1,1,-32,32", "-32"),
    ("1,1,0,32", " 0"),
    ("1,1,33,32", "H = 33"),
    ("1,1,32,33", "W = 33"),
    ("1,1,32.5,32", "32.5"),
    ("1,1,inf,32", "inf"),
    ("1,1,nan,32", "nan"),
    ("32", "[32]"),
    # 2^40 x 2^40 x 2^20 x 32 elements: a Python int, never wrapped; the DRAM check names the shape.
    ("1099511627776,1099511627776,1048576,32", "1099511627776"),
    ("1,1,67108864,1024", "67108864"),
]
_CONFIG = [
    (["--dtype", "int8"], "int8"),
    (["--dtype", "bf16"], "bf16"),
    (["--device", "no_such_board"], "no_such_board"),
    (["--device", "/nonexistent/board.toml"], "/nonexistent/board.toml"),
    (["--grid", "9x9"], "9x9"),
    (["--grid", "0x8"], "0x8"),
    (["--grid", "axb"], "axb"),
    (["--grid", "8x8x8"], "8x8x8"),
    (["--in-buffering", "0"], "in_buffering = 0"),
    (["--in-buffering", "-1"], "in_buffering = -1"),
    (["--in-buffering", "abc"], "'abc'"),
    (["--out-buffering", "0"], "out_buffering = 0"),
    (["--out-buffering", "1.5"], "'1.5'"),
    (["--math-fidelity", "HiFi5"], "'HiFi5'"),
    (["--math-fidelity", "lofi"], "'lofi'"),
    (["--variant", "three_pass"], "'three_pass'"),
    (["--block-wt", "8"], "block_wt = 8"),  # a knob of two_pass only
    (["--block-wt", "x"], "'x'"),
    (["--fp32-dest-acc-en", "yes"], "yes"),
]
CASES: list[tuple[list[str], str]] = []
for command in TIMED:
    CASES += [([command, OP, "--shape", shape], named) for shape, named in _SHAPES]
    CASES += [([command, OP, "--shape", "1,1,64,64", *flags], named) for flags, named in _CONFIG]
    CASES += [
        ([command, "no_such_op", "--shape", "1,1,32,32"], "no_such_op"),
        ([command, "dram_unary", "--shape", "1,1,32,32"], "dram_unary"),
    ]
CASES += [
    (["simulate", OP, "--shape", "1,1,64,64", "--max-events", "0"], "'0'"),
    (["simulate", OP, "--shape", "1,1,64,64", "--max-events", "many"], "'many'"),
    (["simulate", OP, "--shape", "1,1,64,64", "--timeout", "-1"], "'-1'"),
    (["simulate", OP, "--shape", "1,1,64,64", "--timeout", "nan"], "'nan'"),
    (["simulate", OP, "--shape", "1,1,64,64", "--timeout", "inf"], "'inf'"),
    # A bound reached is said with the figure reached and how to raise it.
    (["simulate", OP, "--shape", "1,1,64,64", "--max-events", "100"], "100 kernel calls"),
    (["validate", OP, "--shape", "1,1,33,32"], "33"),
    (["validate", OP, "--shape", "x"], "'x'"),
    (["validate", OP, "--shape", "1,1,64,64", "--dtype", "int8"], "int8"),
    (["validate", OP, "--shape", "1,1,64,64", "--seed", "abc"], "'abc'"),
    (["validate", OP, "--shape", "1,1,64,64", "--distribution", "cauchy"], "'cauchy'"),
    (["validate", "dram_unary", "--shape", "1,1,64,96"], "dram_unary"),
    (["validate", OP, "--shape", "1,1,64,64", "--math-fidelity", "HiFi5"], "'HiFi5'"),
    (["validate", OP, "--shape", "1,1,64,64", "--block-wt", "2"], "block_wt = 2"),
    (["recommend", OP, "--shape", "1,1,64,64", "--max-error", "-1"], "'-1'"),
    (["recommend", OP, "--shape", "1,1,64,64", "--max-error", "tight"], "'tight'"),
    (["recommend", OP, "--shape", "1,1,64,64", "--restrict", "grid_z=1"], "grid_z"),
    (["recommend", OP, "--shape", "1,1,64,64", "--restrict", "math_fidelity=HiFi5"], "'HiFi5'"),
    (["tune", OP, "--shape", "1,1,64,64", "--trials", "2", "--restrict", "variant"], "'variant'"),
    (["tune", OP, "--shape", "1,1,64,64", "--trials", "2", "--objectives", "time,accuracy"], "'accuracy'"),
    (["tune", "tilize", "--shape", "1,1,64,64", "--trials", "2", "--objectives", "time,error"], "tilize"),
    (["validate", "no_such_op", "--shape", "1,1,64,96"], "no_such_op"),
    (["microbench", "dram_unary", "--bytes", "0"], "'0'"),
    (["microbench", "dram_unary", "--bytes", "abc"], "'abc'"),
    (["microbench", "dram_unary", "--bytes", "99999999999"], "99999999999"),
    (["microbench", "dram_unary", "--count", "0"], "'0'"),
    (["microbench", "dram_unary", "--count", "99999999999"], "99999999999"),
    (["microbench", "dram_unary", "--direction", "sideways"], "'sideways'"),
    (["microbench", "dram_unary", "--bank", "99"], "99"),
    (["microbench", "dram_unary", "--bank", "-1"], "-1"),
    (["microbench", "dram_unary", "--bank", "zero"], "'zero'"),
    (["microbench", "dram_unary", "--core", "99,0"], "99"),
    (["microbench", "dram_unary", "--core", "a,b"], "'a,b'"),
    (["microbench", "dram_unary", "--device", "no_such_board"], "no_such_board"),
    (["microbench", "dram_unary", "--timeout", "0"], "'0'"),
    (["microbench", "dram_unary", "--count", "100000", "--max-events", "1000"], "1,000 kernel calls"),
    (["microbench", OP], OP),
    (["microbench", "no_such_op"], "no_such_op"),
    (["no_such_command"], "no_such_command"),
]


@pytest.mark.parametrize(("argv", "named"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_exits_2_with_one_line_naming_it(cli, argv, named) -> None:
    started = time.perf_counter()
    code, _, err = cli(*argv)
    assert code == 2, err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert named in err, err
    assert time.perf_counter() - started < 2.0  # refused before any long work


VERDICTS: list[tuple[list[str], str]] = [
    (["check", OP, "--shape", "1,1,32,8192"], "l1_overflow"),
    (["simulate", OP, "--shape", "1,1,32,8192"], "l1_overflow"),
    (["estimate", OP, "--shape", "1,1,32,8192"], "l1_overflow"),
    (["simulate", OP, "--shape", "1,1,32,8192", "--json"], '"feasible": false'),
    (["estimate", OP, "--shape", "1,1,32,8192", "--json"], '"feasible": false'),
    # A buffering a million times too deep overflows L1; the verdict comes at once, not after minutes.
    (["estimate", OP, "--shape", "1,1,2048,1024", "--in-buffering", "1000000"], "l1_overflow"),
    (["estimate", OP, "--shape", "1,1,64,64", "--in-buffering", "1000000000000000"], "l1_overflow"),
    (["check", OP, "--shape", "1,1,64,64", "--out-buffering", "1000000000000000"], "l1_overflow"),
    (["validate", OP, "--shape", "1,1,32,64", "--distribution", "offset"], "FAILED"),
]


@pytest.mark.parametrize(("argv", "verdict"), VERDICTS, ids=[" ".join(a) for a, _ in VERDICTS])
def test_verdict_exits_1_with_its_report(cli, argv, verdict) -> None:
    started = time.perf_counter()
    code, out, err = cli(*argv)
    assert code == 1, err
    assert verdict in out
    assert "Traceback" not in err
    assert time.perf_counter() - started < 5.0


def test_case_table_is_large() -> None:
    assert len(CASES) >= 70
