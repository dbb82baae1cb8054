"""Which rows of a tt-metal profiler CSV untilize models, and the problem each one is (see perfmodel.io.perf_row).

In scope: TILE DRAM-interleaved input to ROW_MAJOR DRAM-interleaved output, multi-core, pack_untilize, in a
data format the project has; an output smaller than the padded input is untilize_with_unpadding. The
untilize Block factories are recognised and skipped (not modelled).
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
    row_formats,
    row_grid,
    sub_core_grids_skip,
    tensor_dims,
)
from perfmodel.numerics.formats import get_format
from perfmodel.ops.untilize import factory

OP_CODES = ("Untilize", "UntilizeDeviceOperation", "UntilizeWithUnpadding", "UntilizeWithUnpaddingDeviceOperation")


def problem_from_row(
    row: Mapping[str, str], device: DeviceProfile, *, worker_cores: int | None = None
) -> Problem | Skip:
    """The untilize problem of one CSV row, or why it is skipped."""
    code = layout_row_code(row, OP_CODES, "untilize", ("TILE", "ROW_MAJOR"))
    if isinstance(code, Skip):
        return code
    attrs = attributes(row)
    if attrs.get("use_multicore", "true") == "false":
        return Skip("single-core factory (use_multicore false) is not modelled")
    if attrs.get("use_pack_untilize", "true") == "false":
        return Skip("the slow untilize kernel (use_pack_untilize false) is not modelled")
    skip = sub_core_grids_skip(attrs)
    if skip is not None:
        return skip
    formats = row_formats(row, device)
    if isinstance(formats, Skip):
        return formats
    fmt_in, fmt_out = formats
    in_padded, _ = tensor_dims(row, "INPUT_0")
    _, out_logical = tensor_dims(row, "OUTPUT_0")
    unpadding = out_logical != in_padded
    if unpadding and "WithUnpadding" not in code:
        return Skip(f"{code} of a padded input {list(in_padded)} to {list(out_logical)} is not modelled")
    grid = row_grid(row, attrs, device, worker_cores)
    if isinstance(grid, Skip):
        return grid
    try:
        geo = factory.geometry(in_padded, out_logical)
    except InputError as exc:
        return Skip(str(exc))
    choice = factory.choose_factory(geo, grid[0] * grid[1], get_format(fmt_in), device)
    if choice.factory not in factory.MODELLED:
        return Skip(f"{choice.factory} ({choice.reason}) is not modelled")
    config: dict[str, object] = {"grid": grid}
    if unpadding:
        config["output_shape"] = out_logical
    if fmt_out != fmt_in:
        config["output_dtype"] = fmt_out
    return Problem(factory.OP_NAME, in_padded, fmt_in, config, choice.factory)
