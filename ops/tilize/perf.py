"""Which rows of a tt-metal profiler CSV tilize models, and the problem each one is (see perfmodel.io.perf_row).

In scope: ROW_MAJOR DRAM-interleaved input to TILE DRAM-interleaved output, multi-core, in a data format the
project has, with padding only of the last two dims (tilize_with_val_padding). The grid is the row's
`AVAILABLE WORKER CORE COUNT` (or `worker_cores`, or the board's grid when the file has neither) as a
rectangle of the board: the splits depend on the number of cores only.
"""

from __future__ import annotations

from collections.abc import Mapping

from perfmodel.device import DeviceProfile
from perfmodel.errors import InputError
from perfmodel.io.perf_row import (
    Problem,
    Skip,
    attribute_grid,
    attributes,
    data_format,
    grid_for,
    memory_skip,
    number,
    tensor_dims,
)
from perfmodel.io.perf_row import worker_cores as row_worker_cores
from perfmodel.numerics.formats import get_format
from perfmodel.ops.tilize import factory

OP_CODES = ("Tilize", "TilizeDeviceOperation", "TilizeWithValPadding", "TilizeWithValPaddingDeviceOperation")


def _format(row: Mapping[str, str], prefix: str, device: DeviceProfile) -> str | Skip:
    cell = str(row.get(f"{prefix}_DATATYPE", "")).strip()
    name = data_format(cell)
    try:
        if name is None:
            raise InputError(cell)
        get_format(name)
        device.compute_for(name)
    except InputError:
        return Skip(f"{prefix} data type {cell or 'missing'} is not modelled")
    return name


def problem_from_row(
    row: Mapping[str, str], device: DeviceProfile, *, worker_cores: int | None = None
) -> Problem | Skip:
    """The tilize problem of one CSV row, or why it is skipped."""
    code = str(row.get("OP CODE", "")).strip()
    if code not in OP_CODES:
        return Skip(f"op code {code!r} is not tilize")
    layouts = (str(row.get("INPUT_0_LAYOUT", "")).strip(), str(row.get("OUTPUT_0_LAYOUT", "")).strip())
    if layouts != ("ROW_MAJOR", "TILE"):
        return Skip(f"layouts {layouts[0]} -> {layouts[1]} are not ROW_MAJOR -> TILE")
    for prefix in ("INPUT_0", "OUTPUT_0"):
        skip = memory_skip(row, prefix)
        if skip is not None:
            return skip
    attrs = attributes(row)
    if attrs.get("use_multicore", "true") == "false" or attrs.get("use_low_perf", "false") == "true":
        return Skip("single-core factory (use_multicore false or use_low_perf) is not modelled")
    if attrs.get("sub_core_grids", "std::nullopt") != "std::nullopt":
        return Skip(f"sub_core_grids {attrs['sub_core_grids']} is not modelled")
    fmt_in = _format(row, "INPUT_0", device)
    fmt_out = _format(row, "OUTPUT_0", device)
    if isinstance(fmt_in, Skip):
        return fmt_in
    if isinstance(fmt_out, Skip):
        return fmt_out
    in_padded, in_logical = tensor_dims(row, "INPUT_0")
    out_padded, out_logical = tensor_dims(row, "OUTPUT_0")
    if in_padded != in_logical:
        return Skip(f"a padded ROW_MAJOR input {list(in_padded)}[{list(in_logical)}] is not modelled")
    if out_logical != in_logical:
        return Skip(f"output logical shape {list(out_logical)} differs from the input {list(in_logical)}")
    padded = out_padded != in_logical
    with_val_padding = "WithValPadding" in code
    if padded and not with_val_padding:
        return Skip(f"{code} with a padded output {list(out_padded)} is not modelled")
    cores = worker_cores or row_worker_cores(row) or device.core.num_workers
    try:
        grid = attribute_grid(attrs, device) or grid_for(cores, device.core.grid_x, device.core.grid_y)
        geo = factory.geometry(in_logical, out_padded)
    except InputError as exc:
        return Skip(str(exc))
    config: dict[str, object] = {"grid": grid}
    if with_val_padding:
        config["with_val_padding"] = True
        config["padded_shape"] = out_padded
        config["pad_value"] = number(attrs.get("pad_value", "0"), "pad_value")
    if fmt_out != fmt_in:
        config["output_dtype"] = fmt_out
    choice = factory.choose_factory(
        geo, grid[0] * grid[1], get_format(fmt_in), get_format(fmt_out), device, with_val_padding
    )
    return Problem(factory.OP_NAME, in_logical, fmt_in, config, choice.factory)
