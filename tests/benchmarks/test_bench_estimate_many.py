"""Benchmark: estimate_many throughput on 100,000 random centralize_w_rm configurations (prints, never asserts)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import perfmodel
from perfmodel import estimate_many

ROWS = 100_000


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


@pytest.mark.benchmark
def test_estimate_many_throughput() -> None:
    table = random_table(ROWS)
    op = perfmodel.get_op("centralize_w_rm")
    t0 = time.perf_counter()
    estimate_many(op, table)  # cold: builds one stage signature per distinct (device, W, dtype)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = estimate_many(op, table)
    warm = time.perf_counter() - t0
    print(
        f"\nestimate_many on {ROWS:,} configurations: cold {cold:.2f} s ({ROWS / cold:,.0f} configs/s), "
        f"warm {warm:.2f} s ({ROWS / warm:,.0f} configs/s); "
        f"{result['feasible'].mean():.0%} feasible, bounds {result['bound'].value_counts().to_dict()}"
    )
