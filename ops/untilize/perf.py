"""Which rows of a tt-metal profiler CSV untilize models, and the problem each one is (see perfmodel.io.perf_row).

In scope: TILE DRAM-interleaved input to ROW_MAJOR DRAM-interleaved output, multi-core, pack_untilize, in a
data format the project has; an output smaller than the padded input is untilize_with_unpadding. The
untilize Block factories are recognised and skipped (not modelled).
"""

from __future__ import annotations

from collections.abc import Mapping

from perfmodel.device import DeviceProfile
from perfmodel.errors import InputError
from perfmodel.io.perf_row import Problem, Skip, attribute_grid, attributes, grid_for, memory_skip, tensor_dims
from perfmodel.io.perf_row import worker_cores as row_worker_cores
from perfmodel.numerics.formats import get_format
from perfmodel.ops.tilize.perf import _format
from perfmodel.ops.untilize import factory

OP_CODES = ("Untilize", "UntilizeDeviceOperation", "UntilizeWithUnpadding", "UntilizeWithUnpaddingDeviceOperation")


def problem_from_row(
    row: Mapping[str, str], device: DeviceProfile, *, worker_cores: int | None = None
) -> Problem | Skip:
    """The untilize problem of one CSV row, or why it is skipped."""
    code = str(row.get("OP CODE", "")).strip()
    if code not in OP_CODES:
        return Skip(f"op code {code!r} is not untilize")
    layouts = (str(row.get("INPUT_0_LAYOUT", "")).strip(), str(row.get("OUTPUT_0_LAYOUT", "")).strip())
    if layouts != ("TILE", "ROW_MAJOR"):
        return Skip(f"layouts {layouts[0]} -> {layouts[1]} are not TILE -> ROW_MAJOR")
    for prefix in ("INPUT_0", "OUTPUT_0"):
        skip = memory_skip(row, prefix)
        if skip is not None:
            return skip
    attrs = attributes(row)
    if attrs.get("use_multicore", "true") == "false":
        return Skip("single-core factory (use_multicore false) is not modelled")
    if attrs.get("use_pack_untilize", "true") == "false":
        return Skip("the slow untilize kernel (use_pack_untilize false) is not modelled")
    if attrs.get("sub_core_grids", "std::nullopt") != "std::nullopt":
        return Skip(f"sub_core_grids {attrs['sub_core_grids']} is not modelled")
    fmt_in = _format(row, "INPUT_0", device)
    fmt_out = _format(row, "OUTPUT_0", device)
    if isinstance(fmt_in, Skip):
        return fmt_in
    if isinstance(fmt_out, Skip):
        return fmt_out
    in_padded, _ = tensor_dims(row, "INPUT_0")
    _, out_logical = tensor_dims(row, "OUTPUT_0")
    unpadding = out_logical != in_padded
    if unpadding and "WithUnpadding" not in code:
        return Skip(f"{code} of a padded input {list(in_padded)} to {list(out_logical)} is not modelled")
    cores = worker_cores or row_worker_cores(row) or device.core.num_workers
    try:
        grid = attribute_grid(attrs, device) or grid_for(cores, device.core.grid_x, device.core.grid_y)
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
