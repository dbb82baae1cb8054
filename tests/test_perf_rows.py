"""Real tt-metal profiler rows: every in-scope tilize / untilize row of the shipped CSVs is recognised, gets the
factory tt-metal picked and runs on the `CORE COUNT` the profiler recorded; the rest is skipped with a reason."""

from __future__ import annotations

import collections
import csv
import functools
from pathlib import Path

import pytest

import perfmodel
from perfmodel import InputError
from perfmodel.io.perf_row import Problem, Skip, attributes, grid_for, parse_dim, tensor_dims
from perfmodel.ops.tilize import perf as tilize_perf
from perfmodel.ops.untilize import perf as untilize_perf

DATA = Path(__file__).parent / "data" / "profiler_csv"
MODULES = (tilize_perf, untilize_perf)
# file -> (board, worker cores when the file does not record them, rows per op, skip reasons and counts)
FILES = {
    "bh20_oft.csv": ("blackhole_p150a", None, {"tilize": 29, "untilize": 23}, {"in L1": 4, "sharded": 234}),
    "bh_p100_dlv3.csv": ("blackhole_p100a", None, {"tilize": 7, "untilize": 5}, {"in L1": 2}),
    "bh_64_clip_encoder_1.csv": ("blackhole_p150a", None, {"tilize": 4}, {}),
    "wh_clip_encoder_2.csv": ("wormhole_b0_n150", None, {"tilize": 4}, {}),
    "wh_seg_encoder_ttnn_visualizer.csv": ("wormhole_b0_n150", None, {}, {"in L1": 20}),
    # The older file has no AVAILABLE WORKER CORE COUNT: the same model and shapes as bh20_oft, 20 cores.
    "ops_perf_results_2025_09_18_11_39_20.csv": (
        "blackhole_p150a",
        20,
        {"tilize": 65, "untilize": 23},
        {"sharded": 58},
    ),
}


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _built(problem: Problem, device: str) -> tuple[int, str]:
    return _build(problem.op, problem.shape, problem.dtype, tuple(sorted(problem.config.items())), device)


@functools.lru_cache(maxsize=512)
def _build(op: str, shape: tuple, dtype: str, config: tuple, device: str) -> tuple[int, str]:
    program = perfmodel.get_op(op).build_program(shape, device=device, dtype=dtype, config=dict(config))
    return program.num_cores, str(program.attributes["factory"])


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_in_scope_row_reproduced(name: str) -> None:
    board, cores, expected_ops, expected_skips = FILES[name]
    device = perfmodel.load_device(board)
    recognised: collections.Counter[str] = collections.Counter()
    skipped: collections.Counter[str] = collections.Counter()
    for row in _rows(name):
        for module in MODULES:
            if row["OP CODE"] not in module.OP_CODES:
                continue
            result = module.problem_from_row(row, device, worker_cores=cores)
            if isinstance(result, Skip):
                key = next((k for k in expected_skips if k in result.reason), result.reason)
                skipped[key] += 1
                continue
            recognised[result.op] += 1
            num_cores, factory = _built(result, board)
            assert factory == result.factory, (name, row["OP CODE"], result)
            assert num_cores == int(row["CORE COUNT"]), (name, row["OP CODE"], result.shape, result.config)
    assert dict(recognised) == expected_ops
    assert dict(skipped) == expected_skips


def test_factories_of_the_shipped_rows() -> None:
    device = perfmodel.load_device("wormhole_b0_n150")
    # wh_clip_encoder_2 [1, 1, 19, 1280] on 64 cores: the Block factory, s = 1, 40 cores.
    row = next(r for r in _rows("wh_clip_encoder_2.csv") if r["OP CODE"] in tilize_perf.OP_CODES)
    problem = tilize_perf.problem_from_row(row, device)
    assert isinstance(problem, Problem)
    assert problem.factory == "TilizeWithValPaddingMultiCoreBlockInterleavedFactory"
    assert problem.shape == (1, 1, 19, 1280) and problem.config["padded_shape"] == (1, 1, 32, 1280)
    assert problem.config["grid"] == (8, 8)


def test_cell_parsing() -> None:
    assert parse_dim("32[19]") == (32, 19)
    assert parse_dim(" 7 ") == (7, 7)
    with pytest.raises(InputError, match="'32\\[x\\]'"):
        parse_dim("32[x]")
    old = {"INPUT_0_W": "1", "INPUT_0_Z": "2", "INPUT_0_Y": "64", "INPUT_0_X": "96"}
    assert tensor_dims(old, "INPUT_0") == ((1, 2, 64, 96), (1, 2, 64, 96))
    with pytest.raises(InputError, match="INPUT_0_X"):
        tensor_dims({k: v for k, v in old.items() if k != "INPUT_0_X"}, "INPUT_0")
    assert attributes({"ATTRIBUTES": "{'pad_value': '0'; 'use_multicore': 'true'}"}) == {
        "pad_value": "0",
        "use_multicore": "true",
    }
    assert grid_for(20, 11, 10) == (5, 4) and grid_for(110, 11, 10) == (11, 10)
    with pytest.raises(InputError):
        grid_for(13, 11, 10)


def test_other_op_codes_and_layouts_are_skipped() -> None:
    device = perfmodel.load_device("blackhole_p150a")
    row = {"OP CODE": "Untilize", "INPUT_0_LAYOUT": "ROW_MAJOR", "OUTPUT_0_LAYOUT": "ROW_MAJOR"}
    assert isinstance(untilize_perf.problem_from_row(row, device), Skip)
    assert "not tilize" in tilize_perf.problem_from_row({"OP CODE": "Matmul"}, device).reason
