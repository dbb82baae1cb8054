"""Sweep throughput: DES points per second on 1 and 2 local workers, and analytic rows per second.

Each figure is the wall time of `run_sweep` from a fresh output (checkpoint writes and the final Parquet
included), after one warm-up run so that imports and the engines' caches are not counted. The DES figure
depends on the points (a 64-core point simulates far longer than a 2-core one); the spec is printed with it.
Run with `pytest -m benchmark -s tests/benchmarks/test_bench_sweep.py`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from perfmodel import estimate_many
from perfmodel.sweep import SweepSpec, run_sweep

DES_SPEC = {
    "op": "centralize_w_rm",
    "backend": "des",
    "axes": {
        "N": [1],
        "C": [1],
        "H": [256, 1024],
        "W": [512, 1024, 2048],
        "dtype": ["bfloat16"],
        "device": ["wormhole_b0_n150", "blackhole_p150a"],
        "grid_x": [2, 4, 8],
        "grid_y": [2, 4],
        "in_buffering": [1, 2],
    },
}

ANALYTIC_SPEC = {
    "op": "centralize_w_rm",
    "backend": "analytic",
    "axes": {
        "N": [1],
        "C": [1, 2],
        "H": [1024, 2048, 4096, 8192],
        "W": [256, 512, 1024, 2048, 4096],
        "dtype": ["bfloat16", "float32"],
        "device": ["wormhole_b0_n150", "blackhole_p150a"],
        "grid_x": [1, 2, 4, 6, 8],
        "grid_y": [1, 2, 4, 6, 8],
        "row_wise": [False, True],
        "in_buffering": [1, 2, 3, 4],
        "out_buffering": [1, 2, 3, 4],
    },
}


def _rate(spec: SweepSpec, out: Path, **kwargs: object) -> tuple[float, float]:
    summary = run_sweep(spec, out, overwrite=True, progress=False, **kwargs)
    assert summary.computed_rows == summary.rows
    return summary.rows / summary.wall_s, summary.wall_s


@pytest.mark.benchmark
def test_bench_sweep_throughput(tmp_path: Path) -> None:
    des = SweepSpec.from_dict(DES_SPEC)
    analytic = SweepSpec.from_dict(ANALYTIC_SPEC)
    run_sweep(des, tmp_path / "warm.parquet", workers=1, progress=False)
    run_sweep(SweepSpec.from_dict({**ANALYTIC_SPEC, "axes": {**ANALYTIC_SPEC["axes"], "C": [3]}}), tmp_path / "w.csv")
    print(f"\nDES sweep: {des.num_points} points of centralize_w_rm (W 512..2048, 4..32 cores, both boards)")
    for workers in (1, 2):
        rate, wall = _rate(des, tmp_path / f"des{workers}.parquet", workers=workers)
        print(f"  {workers} worker(s): {rate:,.1f} points/s ({wall:.2f} s)")
    rate, wall = _rate(analytic, tmp_path / "analytic.parquet")
    print(f"analytic sweep: {analytic.num_points:,} rows: {rate:,.0f} rows/s ({wall:.2f} s)")
    # The engine alone on the same table, for the share of the sweep's own work (checkpoint, table, file).
    points = analytic.points()
    t0 = time.perf_counter()
    estimate_many(analytic.op, points)
    engine_s = time.perf_counter() - t0
    print(f"  estimate_many alone on the same table: {len(points) / engine_s:,.0f} rows/s ({engine_s:.2f} s)")
