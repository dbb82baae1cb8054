"""Which profiler rows are centralize_w_rm runs, and the program each one ran.

The op exists in this project only, so its rows are the ones `perfmodel simulate|estimate --perf-csv`
writes: OP CODE `centralize_w_rm`, row-major DRAM-interleaved input and output, the factory config in the
ATTRIBUTES cell. Reading them back is how `compare` and `calibrate --perf-csv` are tested end to end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfmodel.device import DeviceProfile
from perfmodel.errors import InputError
from perfmodel.io.perf_row import Problem, Skip, attributes, grid_for, tensor_dims
from perfmodel.io.perf_row import worker_cores as row_worker_cores
from perfmodel.ops.centralize_w_rm.factory import OP_NAME

OP_CODES: tuple[str, ...] = (OP_NAME,)
_DTYPES = {"BFLOAT16": "bfloat16", "FLOAT32": "float32"}


def _config(attributes: Mapping[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if attributes.get("grid", "none") != "none":
        gx, _, gy = attributes["grid"].partition("x")
        config["grid"] = (int(gx), int(gy))
    if "row_wise" in attributes:
        config["row_wise"] = attributes["row_wise"].lower() == "true"
    for name in ("in_buffering", "out_buffering"):
        if name in attributes:
            config[name] = int(attributes[name])
    for name in ("variant", "math_fidelity"):
        if name in attributes:
            config[name] = attributes[name]
    if attributes.get("block_wt", "none") != "none":
        config["block_wt"] = int(attributes["block_wt"])
    for name in ("fp32_dest_acc_en", "dst_full_sync_en"):
        if attributes.get(name, "none") != "none":
            config[name] = attributes[name].lower() == "true"
    return config


def problem_from_row(
    row: Mapping[str, str], device: DeviceProfile, *, worker_cores: int | None = None
) -> Problem | Skip:
    """The centralize_w_rm program of `row` on `device`, or why the row is not one the model covers."""
    for prefix in ("INPUT_0", "OUTPUT_0"):
        layout = row.get(f"{prefix}_LAYOUT", "").strip()
        if layout != "ROW_MAJOR":
            return Skip(f"{prefix} layout {layout or 'missing'}: centralize_w_rm is row-major in and out")
        memory = row.get(f"{prefix}_MEMORY", "").strip()
        if not memory.endswith("DRAM_INTERLEAVED"):
            return Skip(f"{prefix} memory {memory or 'missing'}: only DRAM-interleaved tensors are modelled")
    dtype = _DTYPES.get(row.get("INPUT_0_DATATYPE", "").strip())
    if dtype is None:
        return Skip(f"data type {row.get('INPUT_0_DATATYPE', '')!r}: centralize_w_rm models bfloat16 and float32")
    padded, shape = tensor_dims(row, "INPUT_0")
    if padded != shape:
        return Skip("padded input: centralize_w_rm takes tile-aligned rows only")
    if shape[-1] % 32 or shape[-2] % 32:
        return Skip("H or W not a multiple of 32")
    try:
        config = _config(attributes(row))
    except ValueError:
        return Skip(f"unreadable ATTRIBUTES {row.get('ATTRIBUTES', '')!r}")
    cores = worker_cores or row_worker_cores(row)
    if "grid" not in config and cores and cores != device.core.num_workers:
        try:
            config["grid"] = grid_for(cores, device.core.grid_x, device.core.grid_y)
        except InputError as exc:
            return Skip(str(exc))
    grid = config.get("grid")
    if grid is not None and (grid[0] > device.core.grid_x or grid[1] > device.core.grid_y):
        return Skip(f"grid {grid[0]}x{grid[1]} is larger than the worker grid the row could use")
    return Problem(OP_NAME, shape, dtype, config, OP_NAME)
