"""The speed table: each case's figure, measured as the README's performance section quotes it (prints, never asserts).

Every case runs in fresh Python processes (so nothing warmed by an earlier test helps it, and its peak RSS is
its own) three times; the median is printed with the best and the target. Board wormhole_b0_n150, bfloat16,
op centralize_w_rm. Tiles are the input tensor's 32x32 tiles. Run with
`pytest -m benchmark -s tests/benchmarks/test_bench_speed.py`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RUNS = 3

_DES = """
import json, resource, time
import numpy as np
from perfmodel import get_op, simulate
shape = {shape!r}
program = get_op("centralize_w_rm").build_program(shape, device="wormhole_b0_n150", config={config!r})
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) if {functional!r} else None
t0 = time.perf_counter()
result = simulate(program, inputs=x)
wall = time.perf_counter() - t0
print(json.dumps({{"wall_s": wall, "cores": result.num_cores, "ns": result.kernel_duration_ns,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

_MANY = """
import json, sys, time
sys.path.insert(0, {here!r})
from test_bench_estimate_many import random_table
import perfmodel
table = random_table({rows})
t0 = time.perf_counter()
perfmodel.estimate_many("centralize_w_rm", table)
cold = time.perf_counter() - t0
t0 = time.perf_counter()
perfmodel.estimate_many("centralize_w_rm", table)
print(json.dumps({{"cold_s": cold, "warm_s": time.perf_counter() - t0}}))
"""

_IMPORT = """
import json, time
t0 = time.perf_counter()
import perfmodel
print(json.dumps({"wall_s": time.perf_counter() - t0}))
"""


def _fresh(code: str, cache: str = "off") -> dict:
    """Run `code` in a fresh interpreter; `cache` is its PERFMODEL_CACHE_DIR (off: estimate_many derives all)."""
    return _fresh_env(code, cache, {})


def _report(case: str, values: list[float], unit: str, target: str) -> None:
    fmt = "{:.3f}".format if unit == "s" else "{:,.0f}".format
    runs = ", ".join(fmt(v) for v in values)
    print(f"\n{case}: median {fmt(statistics.median(values))} {unit} (runs {runs}); target {target}")


@pytest.mark.benchmark
@pytest.mark.parametrize(
    ("shape", "grid", "functional", "target"),
    [
        ((1, 1, 2048, 1024), (1, 1), True, ">= 200,000 tiles/s"),
        ((1, 1, 2048, 1024), (1, 1), False, ">= 400,000 tiles/s"),
        ((1, 1, 8192, 2048), None, True, "<= 0.5 s"),
    ],
    ids=["single-core-functional", "single-core-timing", "64-core-functional"],
)
def test_bench_des(shape: tuple[int, ...], grid: tuple[int, int] | None, functional: bool, target: str) -> None:
    runs = [_fresh(_DES.format(shape=shape, config={"grid": grid}, functional=functional)) for _ in range(RUNS)]
    tiles = shape[0] * shape[1] * shape[2] * shape[3] // 1024
    case = f"DES {list(shape)} on {runs[0]['cores']} cores, {'functional' if functional else 'timing only'}"
    if grid is None:
        _report(case + " (s, fresh process)", [r["wall_s"] for r in runs], "s", target)
    else:
        _report(case, [tiles / r["wall_s"] for r in runs], "tiles/s", target)
    print(f"  peak RSS {statistics.median(r['rss_mib'] for r in runs):.0f} MiB, simulated {runs[0]['ns']:,.0f} ns")
    assert len({r["ns"] for r in runs}) == 1  # the same program simulates to the same time every run


@pytest.mark.benchmark
@pytest.mark.parametrize("rows", [100_000, 1_000_000], ids=["100k", "1M"])
def test_bench_estimate_many(rows: int) -> None:
    # A random table takes tens of seconds per 100k rows today (README, performance): one run of each.
    runs = 1
    code = _MANY.format(here=str(HERE), rows=rows)
    if rows <= 100_000:  # cold again with the persistent cache filled by a first process
        with tempfile.TemporaryDirectory() as folder:
            _fresh(code, cache=folder)
            cached = [_fresh(code, cache=folder) for _ in range(runs)]
        _report(
            f"estimate_many {rows:,} random rows, cold with the disk cache filled",
            [rows / r["cold_s"] for r in cached],
            "rows/s",
            ">= 500,000 rows/s at 100k",
        )
    results = [_fresh(code) for _ in range(runs)]
    _report(
        f"estimate_many {rows:,} random rows, cold (first call, fresh process, no disk cache)",
        [rows / r["cold_s"] for r in results],
        "rows/s",
        ">= 500,000 rows/s at 100k",
    )
    _report(
        f"estimate_many {rows:,} random rows, warm",
        [rows / r["warm_s"] for r in results],
        "rows/s",
        ">= 1,000,000 rows/s at 1M",
    )


@pytest.mark.benchmark
def test_bench_import() -> None:
    runs = [_fresh(_IMPORT) for _ in range(5)]
    _report("import perfmodel", [r["wall_s"] for r in runs], "s", "<= 0.3 s")


_COMPILE = """
import json, time
import numpy as np
import perfmodel
from perfmodel.analytic import pipeline_kernels  # imports numba: not part of the figure
from perfmodel.space import search_space
space = search_space("centralize_w_rm", (1, 1, 256, 1024), device="wormhole_b0_n150")
table = space.only("grid_x", "grid_y").table()
t0 = time.perf_counter()
perfmodel.estimate_many("centralize_w_rm", table)
first = time.perf_counter() - t0
t0 = time.perf_counter()
perfmodel.estimate_many("centralize_w_rm", table)
print(json.dumps({"first_s": first, "second_s": time.perf_counter() - t0}))
"""


@pytest.mark.benchmark
def test_bench_compile() -> None:
    """The compiled pipeline kernels' first-call cost: compiled from nothing (an empty numba cache), loaded
    from numba's disk cache (the usual case after the first run), and the same call warm, for comparison."""
    with tempfile.TemporaryDirectory() as numba_cache, tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": numba_cache}
        compiled = _fresh_env(_COMPILE, cache, env)
        loaded = [_fresh_env(_COMPILE, cache, env) for _ in range(RUNS)]
    _report("estimate_many first call, kernels compiled (empty numba cache)", [compiled["first_s"]], "s", "reported")
    _report(
        "estimate_many first call, kernels loaded from numba's cache", [r["first_s"] for r in loaded], "s", "reported"
    )
    _report("the same call again in the process", [r["second_s"] for r in loaded], "s", "reported")


def _fresh_env(code: str, cache: str, env: dict[str, str]) -> dict:
    """`_fresh` with extra environment variables."""
    full = {**os.environ, "PERFMODEL_CACHE_DIR": cache, **env}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=full).stdout
    return json.loads(out.strip().splitlines()[-1])
