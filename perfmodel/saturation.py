"""DRAM saturation curve: the DRAM throughput a copy-like program reaches against the number of cores.

The program is centralize_w_rm (one read and one write of every byte, light compute) on an N-core
rectangle of the board's grid, with the same work per core at every N, so the curve shows where the cores'
own data movement stops scaling and the shared DRAM takes over. Throughput is the bytes the program moves
to and from DRAM over its kernel duration (bytes per ns = GB/s).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.io.perf_row import grid_for
from perfmodel.op import get_op

DEFAULT_CORES = (1, 2, 4, 8, 16, 32, 64)


def dram_saturation_curve(
    device: str | DeviceProfile,
    cores: Sequence[int] = DEFAULT_CORES,
    *,
    engine: str = "analytic",
    units_per_core: int = 4,
    width: int = 1024,
    dtype: str = "bfloat16",
) -> pd.DataFrame:
    """One row per core count: grid, kernel duration, DRAM bytes and GB/s, by `engine` ('analytic' or 'des')."""
    from perfmodel.analytic import estimate
    from perfmodel.des import simulate

    if engine not in ("analytic", "des"):
        raise InputError(f"engine must be 'analytic' or 'des', got {engine!r}")
    board = load_device(device)
    op = get_op("centralize_w_rm")
    rows = []
    for n in cores:
        grid = grid_for(int(n), board.core.grid_x, board.core.grid_y)
        shape = (1, 1, 32 * units_per_core * int(n), width)
        program = op.build_program(shape, device=board, dtype=dtype, config={"grid": grid})
        result = simulate(program) if engine == "des" else estimate(program)
        rows.append(
            {
                "device": board.name,
                "engine": engine,
                "cores": program.num_cores,
                "grid_x": grid[0],
                "grid_y": grid[1],
                "kernel_duration_ns": result.kernel_duration_ns,
                "dram_bytes": result.dram_bytes,
                "gbps": result.dram_bytes / result.kernel_duration_ns,
                "bound": result.bound,
            }
        )
    return pd.DataFrame(rows)
