"""Simulation speed and memory of the DES on a 64-core Wormhole run of centralize_w_rm [1, 1, 8192, 2048] bf16.

Each configuration runs in a fresh interpreter so that its peak RSS (getrusage maxrss) is its own. Prints
wall time, events/s and peak memory for functional data off and on; a benchmark reports, it does not assert
timings. Run with `pytest -m benchmark -s tests/benchmarks/test_bench_des.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SHAPE = (1, 1, 8192, 2048)

SCRIPT = """
import json, resource, time
import numpy as np
from perfmodel import get_op, simulate
shape = {shape!r}
program = get_op("centralize_w_rm").build_program(shape, device="wormhole_b0_n150")
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) if {functional!r} else None
t0 = time.perf_counter()
result = simulate(program, inputs=x)
wall = time.perf_counter() - t0
print(json.dumps({{
    "cores": result.num_cores,
    "wall_s": wall,
    "events": result.details["events"],
    "kernel_calls": result.details["kernel_calls"],
    "events_per_s": result.details["events"] / wall,
    "calls_per_s": result.details["kernel_calls"] / wall,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "kernel_duration_ns": result.kernel_duration_ns,
}}))
"""


@pytest.mark.benchmark
@pytest.mark.parametrize("functional", [False, True], ids=["timing-only", "functional"])
def test_bench_des_64_core_wormhole(functional: bool) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(shape=SHAPE, functional=functional)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    print(
        f"\nDES centralize_w_rm {list(SHAPE)} bf16 on wormhole_b0_n150, {figures['cores']} cores, "
        f"functional={'on' if functional else 'off'}: wall {figures['wall_s']:.2f} s, "
        f"{figures['events']} simpy events ({figures['events_per_s']:,.0f}/s), "
        f"{figures['kernel_calls']} kernel calls ({figures['calls_per_s']:,.0f}/s), "
        f"peak RSS {figures['peak_rss_mib']:.0f} MiB, simulated {figures['kernel_duration_ns']:,.0f} ns"
    )
    assert figures["cores"] == 64
