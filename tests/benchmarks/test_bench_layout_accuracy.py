"""Benchmark: tilize and untilize predicted against the shipped profiler rows (prints, never asserts).

Per in-scope row shape (rows of one shape grouped by their median): the measured `DEVICE KERNEL DURATION`,
the simulator's and the analytic model's prediction and their errors; then per op and board the median and
max absolute error. The simulator is skipped above `DES_MAX_UNITS` tile rows (minutes per run); the Blackhole
files with 20 worker cores run on the p150a profile, the older file (no worker count) on 20 cores.
"""

from __future__ import annotations

import collections
import csv
import math
import statistics
from pathlib import Path

import pytest

import perfmodel
from perfmodel.io.perf_row import Skip
from perfmodel.ops.tilize import perf as tilize_perf
from perfmodel.ops.untilize import perf as untilize_perf

DATA = Path(__file__).parent.parent / "data" / "profiler_csv"
FILES = {
    "bh20_oft.csv": ("blackhole_p150a", None),
    "bh_p100_dlv3.csv": ("blackhole_p100a", None),
    "bh_64_clip_encoder_1.csv": ("blackhole_p150a", None),
    "wh_clip_encoder_2.csv": ("wormhole_b0_n150", None),
    "ops_perf_results_2025_09_18_11_39_20.csv": ("blackhole_p150a", 20),
}
DES_MAX_UNITS = 6000


def _groups() -> dict[tuple, list[float]]:
    groups: dict[tuple, list[float]] = collections.defaultdict(list)
    for name, (board, cores) in FILES.items():
        device = perfmodel.load_device(board)
        with open(DATA / name, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for module in (tilize_perf, untilize_perf):
                    if row["OP CODE"] not in module.OP_CODES:
                        continue
                    problem = module.problem_from_row(row, device, worker_cores=cores)
                    if isinstance(problem, Skip):
                        continue
                    code = row["OP CODE"].replace("DeviceOperation", "")
                    key = (code, board, problem.op, problem.shape, problem.dtype, tuple(sorted(problem.config.items())))
                    groups[key].append(float(row["DEVICE KERNEL DURATION [ns]"]))
    return groups


@pytest.mark.benchmark
def test_layout_ops_against_profiler_rows() -> None:
    errors: dict[tuple[str, str], list[tuple[float, float]]] = collections.defaultdict(list)
    for (code, board, op, shape, dtype, config), measured in sorted(_groups().items()):
        program = perfmodel.get_op(op).build_program(shape, device=board, dtype=dtype, config=dict(config))
        ana = perfmodel.estimate(program).kernel_duration_ns
        des = perfmodel.simulate(program).kernel_duration_ns if program.units <= DES_MAX_UNITS else math.nan
        m = statistics.median(measured)
        errors[(code, board)].append(((des - m) / m, (ana - m) / m))
        print(
            f"{code:24s} {board:17s} {shape!s:22s} {program.attributes['factory'][:40]:40s} "
            f"cores {program.num_cores:3d} measured {m / 1e3:9.1f} us  des {des / 1e3:9.1f}  ana {ana / 1e3:9.1f}"
        )
    for (code, board), errs in sorted(errors.items()):
        des = [abs(d) for d, _ in errs if not math.isnan(d)] or [math.nan]
        ana = [abs(a) for _, a in errs]
        print(
            f"{code:24s} {board:17s} shapes {len(errs):2d}  des median {statistics.median(des):.0%} max {max(des):.0%}"
            f"  analytic median {statistics.median(ana):.0%} max {max(ana):.0%}"
        )
