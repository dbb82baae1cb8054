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
    attributes,
    layout_row_code,
    number,
    row_formats,
    row_grid,
    sub_core_grids_skip,
    tensor_dims,
)
from perfmodel.numerics.formats import get_format
from perfmodel.ops.tilize import factory

OP_CODES = ("Tilize", "TilizeDeviceOperation", "TilizeWithValPadding", "TilizeWithValPaddingDeviceOperation")


def problem_from_row(
    row: Mapping[str, str], device: DeviceProfile, *, worker_cores: int | None = None
) -> Problem | Skip:
    """The tilize problem of one CSV row, or why it is skipped."""
    code = layout_row_code(row, OP_CODES, "tilize", ("ROW_MAJOR", "TILE"))
    if isinstance(code, Skip):
        return code
    attrs = attributes(row)
    if attrs.get("use_multicore", "true") == "false" or attrs.get("use_low_perf", "false") == "true":
        return Skip("single-core factory (use_multicore false or use_low_perf) is not modelled")
    skip = sub_core_grids_skip(attrs)
    if skip is not None:
        return skip
    formats = row_formats(row, device)
    if isinstance(formats, Skip):
        return formats
    fmt_in, fmt_out = formats
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
    grid = row_grid(row, attrs, device, worker_cores)
    if isinstance(grid, Skip):
        return grid
    try:
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
