"""Benchmark: estimate_many throughput on 100,000 random centralize_w_rm configurations (prints, never asserts).

Cold is the first call in a fresh Python process (every stage signature built, every kernel dry run
recorded), measured in a subprocess so that whatever ran before in this process cannot have warmed a
cache; warm is a repeated call on the same table here.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perfmodel
from perfmodel import estimate_many

ROWS = 100_000

_COLD = """
import sys, time
sys.path.insert(0, {here!r})
from test_bench_estimate_many import random_table
import perfmodel
table = random_table({rows})
t0 = time.perf_counter()
perfmodel.estimate_many("centralize_w_rm", table)
print(time.perf_counter() - t0)
"""


def random_table(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "N": rng.integers(1, 9, n),
            "C": rng.integers(1, 5, n),
            "H": 32 * rng.integers(1, 512, n),
            "W": 32 * rng.integers(1, 200, n),
            "dtype": rng.choice(["bfloat16", "float32"], n),
            "device": rng.choice(perfmodel.list_devices(), n),
            "grid_x": rng.integers(1, 12, n),
            "grid_y": rng.integers(1, 11, n),
            "row_wise": rng.random(n) < 0.5,
            "in_buffering": rng.integers(1, 5, n),
            "out_buffering": rng.integers(1, 5, n),
        }
    )


def cold_seconds(rows: int = ROWS) -> float:
    """Time of the first estimate_many call on `random_table(rows)` in a fresh Python process."""
    code = _COLD.format(here=str(Path(__file__).resolve().parent), rows=rows)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.benchmark
def test_estimate_many_throughput() -> None:
    table = random_table(ROWS)
    op = perfmodel.get_op("centralize_w_rm")
    cold = cold_seconds()
    estimate_many(op, table)  # builds the signatures in this process (cold again unless a test ran before)
    t0 = time.perf_counter()
    result = estimate_many(op, table)
    warm = time.perf_counter() - t0
    keys = table.groupby(["device", "W", "dtype"]).ngroups
    print(
        f"\nestimate_many on {ROWS:,} configurations ({keys:,} distinct (device, W, dtype)): "
        f"cold {cold:.2f} s ({ROWS / cold:,.0f} configs/s, fresh process), "
        f"warm {warm:.2f} s ({ROWS / warm:,.0f} configs/s); "
        f"{result['feasible'].mean():.0%} feasible, bounds {result['bound'].value_counts().to_dict()}"
    )
