"""Benchmark: `recommend` wall time on [1, 1, 4096, 2048] per board, and recommended vs default across shapes.

Prints figures, never asserts them. Cold is the first call in a fresh Python process (imports excluded; the
analytic model's per-shape signatures and the kernel dry runs built), measured in a subprocess; warm is a
repeated call here. Each is given as wall time and as the process's CPU time: on a shared machine the wall
time grows with the load, the CPU time is what the call costs on an idle core.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytest

from perfmodel import recommend

BOARDS = ("wormhole_b0_n150", "blackhole_p150a")
SHAPE = (1, 1, 4096, 2048)
SHAPES = ((1, 1, 256, 512), (1, 1, 2048, 1024), (1, 1, 4096, 2048), (1, 8, 1024, 4096), (1, 1, 32, 16384))

_COLD = """
import time
import optuna, perfmodel
from perfmodel import checks, numerics
from perfmodel.analytic import many, pipeline_fast
from perfmodel.des import engine
from perfmodel.tune import error, recommendation, simulations
# Imports excluded (`import perfmodel` alone loads none of these); numba's first call (loading the compiled
# kernels, about 0.4 s) is not an import and counts.
t0, c0 = time.perf_counter(), time.process_time()
perfmodel.recommend("centralize_w_rm", {shape!r}, device={device!r}, workers={workers!r})
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def cold_seconds(device: str, workers: int | None = None) -> tuple[float, float]:
    """(wall, this process's CPU) seconds of the first recommend call in a fresh process (`workers` None: the
    default, a helper process beside it on a machine with two cores)."""
    code = _COLD.format(shape=SHAPE, device=device, workers=workers)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


@pytest.mark.benchmark
def test_recommend_wall_time() -> None:
    """Cold: the median of 5 fresh processes after one that fills the disk caches (the analytic model's and
    numba's), with the default helper process and with none; warm: a repeated call in this process."""
    print()
    for device in BOARDS:
        cold_seconds(device)  # fills the caches, as any earlier run on the machine has
        shared = [cold_seconds(device) for _ in range(5)]
        alone = [cold_seconds(device, workers=1) for _ in range(5)]
        recommend("centralize_w_rm", SHAPE, device=device)
        t0, c0 = time.perf_counter(), time.process_time()
        rec = recommend("centralize_w_rm", SHAPE, device=device)
        warm, warm_cpu = time.perf_counter() - t0, time.process_time() - c0
        for label, runs in (("cold", shared), ("cold, one process (workers=1)", alone)):
            walls = sorted(w for w, _ in runs)
            print(
                f"recommend centralize_w_rm {list(SHAPE)} on {device}, {label}: median {statistics.median(walls):.2f} s"
                f" (runs {', '.join(f'{w:.2f}' for w in walls)}; CPU of the calling process"
                f" {statistics.median(c for _, c in runs):.2f} s); target <= 3 s"
            )
        print(
            f"  warm {warm:.2f} s ({warm_cpu:.2f} s CPU); {rec.space_size} points ranked,"
            f" {len(rec.alternatives) + 1} configurations simulated (the default included)"
        )


def _knobs(config) -> str:
    c = dict(config)
    order = "col" if not c["row_wise"] else "row"
    return f"{c['grid_x']}x{c['grid_y']} {order} in{c['in_buffering']} out{c['out_buffering']} ({c['num_cores']} cores)"


@pytest.mark.benchmark
def test_recommended_against_default_table() -> None:
    print("\n| board | shape | recommended | default | analytic speedup | simulated speedup |")
    print("|---|---|---|---|---|---|")
    for device in BOARDS:
        for shape in SHAPES:
            rec = recommend("centralize_w_rm", shape, device=device)
            base = rec.baseline
            if not rec.ok:
                print(f"| {device} | {list(shape)} | none fits | {base.reason} | - | - |")
                continue
            default = _knobs(base.config) if base.confirmed else f"does not run: {base.reason}"
            analytic = (
                f"{base.kernel_duration_ns / rec.kernel_duration_ns:.2f}x"
                f" ({base.kernel_duration_ns / 1000:,.1f} -> {rec.kernel_duration_ns / 1000:,.1f} us)"
                if base.confirmed
                else f"- (-> {rec.kernel_duration_ns / 1000:,.1f} us)"
            )
            simulated = (
                f"{rec.speedup:.2f}x ({base.des_kernel_duration_ns / 1000:,.1f} -> "
                f"{rec.des_kernel_duration_ns / 1000:,.1f} us)"
                if rec.speedup
                else f"- (-> {rec.des_kernel_duration_ns / 1000:,.1f} us)"
            )
            print(f"| {device} | {list(shape)} | {_knobs(rec.config)} | {default} | {analytic} | {simulated} |")
