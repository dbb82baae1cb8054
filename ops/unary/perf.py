"""Which profiler rows are runs of this project's unary op, and the program each one ran.

tt-metal's own `UnaryDeviceOperation` rows are not claimed (their factory config is not recorded); the rows
read here are the ones `perfmodel simulate|estimate|sweep --perf-csv` writes: OP CODE `unary`, TILE
layout in and out, DRAM interleaved, the factory config (grid, row_wise, fn, block_tiles, buffering) in
the ATTRIBUTES cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfmodel.device import DeviceProfile
from perfmodel.io.perf_row import (
    Problem,
    Skip,
    attribute_grid,
    attributes,
    data_format,
    grid_for,
    memory_skip,
    tensor_dims,
)
from perfmodel.io.perf_row import worker_cores as row_worker_cores

OP_CODES: tuple[str, ...] = ("unary",)


def problem_from_row(
    row: Mapping[str, str], device: DeviceProfile, *, worker_cores: int | None = None
) -> Problem | Skip:
    """The unary program of `row` on `device`, or why the row is not one the model covers."""
    for prefix in ("INPUT_0", "OUTPUT_0"):
        layout = str(row.get(f"{prefix}_LAYOUT", "")).strip()
        if layout != "TILE":
            return Skip(f"{prefix} layout {layout or 'missing'}: the unary op is TILE in and out")
        skip = memory_skip(row, prefix)
        if skip is not None:
            return skip
    dtype = data_format(row.get("INPUT_0_DATATYPE", ""))
    if dtype is None:
        return Skip(f"data type {row.get('INPUT_0_DATATYPE', '')!r} is not modelled")
    padded, logical = tensor_dims(row, "INPUT_0")
    if padded != logical:
        return Skip("a padded input is not modelled: the unary op takes whole tiles")
    attrs = attributes(row)
    config: dict[str, Any] = {}
    grid = attribute_grid(attrs, device)
    cores = worker_cores or row_worker_cores(row)
    if grid is None and cores and cores != device.core.num_workers:
        grid = grid_for(cores, device.core.grid_x, device.core.grid_y)
    if grid is not None:
        config["grid"] = grid
    if "row_wise" in attrs:
        config["row_wise"] = attrs["row_wise"] == "true"
    if "fn" in attrs:
        config["fn"] = attrs["fn"]
    for name in ("block_tiles", "buffering"):
        if name in attrs:
            if not attrs[name].isdigit():
                return Skip(f"ATTRIBUTES {name} {attrs[name]!r} is not a whole number")
            config[name] = int(attrs[name])
    return Problem("unary", logical, dtype, config, "unary")
