"""Program factory of centralize_w_rm: validation (reference §1), CB table (§2), work split and kernel args.

Units of work are tile rows, N*C*Ht of them (all outer dims, unlike the upstream single-core factory that
counts only Ht). Cores take consecutive tile rows in split_work_to_cores' fill order.

`Config.variant` selects the design: "single_pass" (the upstream kernels, `kernels.py`: CBs of whole tile
rows) or "two_pass" (`kernels_two_pass.py`: CBs of `block_wt` tiles, each row read twice), whose L1 does not
grow with W.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from perfmodel.compute_config import ComputeConfig
from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.factory_common import interleaved_in_out, positive_int, validate_grid, validate_tile_shape
from perfmodel.numerics.formats import DataFormat, get_format
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH, scaler_value
from perfmodel.ops.centralize_w_rm import kernels as default_kernels
from perfmodel.ops.centralize_w_rm import kernels_two_pass
from perfmodel.ops.centralize_w_rm.config import VARIANTS, Config, default_block_wt
from perfmodel.program import (
    CircularBuffer,
    CoreProgram,
    DramBuffer,
    KernelFn,
    Program,
    frozen_mapping,
    kernel_specs,
)
from perfmodel.split import split_work_to_cores

OP_NAME = "centralize_w_rm"
SCALER_FORMAT = "bfloat16"  # cb_scaler is always a Float16_b tile
# Row-major sticks are whole elements: the block-float formats (a shared exponent per 16 values of a tile's
# face row) exist only in TILE layout, so the op takes the formats a row-major tensor can hold.
DTYPES = ("bfloat16", "float32")


def data_format(dtype: Any) -> DataFormat:
    """The format of `dtype` if a row-major centralize_w_rm tensor can hold it, else an InputError naming it."""
    fmt = get_format(dtype)
    if fmt.name not in DTYPES:
        raise InputError(f"dtype {fmt.name!r}: centralize_w_rm is row-major in and out and takes {', '.join(DTYPES)}")
    return fmt


def validate_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Shape [..., H, W] with rank >= 2, positive dims, H and W multiples of 32."""
    return validate_tile_shape(shape, OP_NAME)


def validate_config(config: Config, device: DeviceProfile) -> tuple[int, int]:
    """The grid to split over (the board's when None), checked against the board; buffering >= 1."""
    gx, gy = validate_grid(config.grid, device)
    if not isinstance(config.row_wise, bool | np.bool_):
        raise InputError(f"row_wise = {config.row_wise!r} must be True or False")
    for name in ("in_buffering", "out_buffering"):
        positive_int(name, getattr(config, name))
    if config.variant not in VARIANTS:
        raise InputError(f"variant = {config.variant!r} is not one of {', '.join(VARIANTS)}")
    if config.variant == "single_pass" and config.block_wt is not None:
        raise InputError(f"block_wt = {config.block_wt!r} is a knob of variant 'two_pass' (variant is 'single_pass')")
    return gx, gy


def resolve_block_wt(config: Config, wt: int) -> int:
    """The two-pass block width for a row of `wt` tiles: `config.block_wt` checked, or the default."""
    b = config.block_wt
    if b is None:
        return default_block_wt(wt)
    if isinstance(b, bool | np.bool_) or not isinstance(b, int | np.integer) or b < 1:
        raise InputError(f"block_wt = {b!r} must be a positive integer (tiles per block) or None")
    if b > wt:
        raise InputError(f"block_wt = {b} is wider than the row: Wt = {wt}")
    if wt % b:
        raise InputError(
            f"block_wt = {b} does not divide Wt = {wt}: a narrower last block would overrun the block CBs' rings"
        )
    return int(b)


def packed_scaler(w: int) -> int:
    """bf16(1/W) by truncation (drop the low 16 bits of the fp32), packed twice into 32 bits as the factory does."""
    bits = int(np.array(scaler_value(w), dtype=np.float32).view(np.uint32)) >> 16
    return (bits << 16) | bits


def cb_table(wt: int, fmt: DataFormat, config: Config) -> tuple[CircularBuffer, ...]:
    """The CBs of one core: reference §2's six for single_pass, `cb_table_two_pass` for two_pass."""
    if config.variant == "two_pass":
        return cb_table_two_pass(resolve_block_wt(config, wt), fmt, config)
    tile = fmt.tile_bytes
    scaler_tile = get_format(SCALER_FORMAT).tile_bytes
    return (
        CircularBuffer(0, "cb_in_rm", tile, config.in_buffering * wt, fmt.name),
        CircularBuffer(1, "cb_in_tiled", tile, wt, fmt.name),
        CircularBuffer(2, "cb_scaler", scaler_tile, 1, SCALER_FORMAT),
        CircularBuffer(3, "cb_mean_tiled", tile, 1, fmt.name),
        CircularBuffer(4, "cb_centralized", tile, wt, fmt.name),
        CircularBuffer(16, "cb_out_rm", tile, config.out_buffering * wt, fmt.name),
    )


def cb_table_two_pass(block_wt: int, fmt: DataFormat, config: Config) -> tuple[CircularBuffer, ...]:
    """The seven CBs of the two-pass design: blocks of `block_wt` tiles, nothing as wide as the row.

    c_3 (the running row sum, then the mean) holds 2 pages so that a partial can be added to it in place
    (the old sum is read while the new one is packed); c_5 holds 2 partials so that the next block's reduce
    can pack while the add runs.
    """
    tile = fmt.tile_bytes
    scaler_tile = get_format(SCALER_FORMAT).tile_bytes
    return (
        CircularBuffer(0, "cb_in_rm", tile, config.in_buffering * block_wt, fmt.name),
        CircularBuffer(1, "cb_in_tiled", tile, block_wt, fmt.name),
        CircularBuffer(2, "cb_scaler", scaler_tile, 1, SCALER_FORMAT),
        CircularBuffer(3, "cb_row_sum", tile, 2, fmt.name),
        CircularBuffer(4, "cb_centralized", tile, block_wt, fmt.name),
        CircularBuffer(5, "cb_partial", tile, 2, fmt.name),
        CircularBuffer(16, "cb_out_rm", tile, config.out_buffering * block_wt, fmt.name),
    )


def dram_buffers(dims: tuple[int, ...], fmt: DataFormat, device: DeviceProfile) -> tuple[DramBuffer, ...]:
    """Input and output, row-major interleaved: one page per stick of W values; output after input."""
    sticks = math.prod(dims[:-1])
    stick_bytes = dims[-1] * fmt.element_bytes
    return interleaved_in_out(sticks, stick_bytes, fmt, device, f"shape {list(dims)} {fmt.name}")


def build_program(
    shape: Sequence[int],
    *,
    device: str | DeviceProfile,
    dtype: str = "bfloat16",
    config: Config | Mapping[str, Any] | None = None,
    kernels: Mapping[str, KernelFn] | None = None,
) -> Program:
    """The Program of centralize_w_rm for `shape` on `device` with `config`; `kernels` swaps in mirrors."""
    device = load_device(device)
    dims = validate_shape(shape)
    fmt = data_format(dtype)
    config = Config.coerce(config)
    grid = validate_config(config, device)
    compute_config = config.compute_config(fmt.name)
    wt = dims[-1] // TILE_WIDTH
    units = math.prod(dims[:-2]) * (dims[-2] // TILE_HEIGHT)
    buffers = dram_buffers(dims, fmt, device)
    two_pass = config.variant == "two_pass"
    block_wt = resolve_block_wt(config, wt) if two_pass else wt
    if two_pass:
        # The reader streams every input row twice (kernels_two_pass.PASSES).
        buffers = (dataclasses.replace(buffers[0], passes=kernels_two_pass.PASSES), *buffers[1:])
    split = split_work_to_cores(grid, units, row_wise=config.row_wise)

    source = kernels_two_pass if two_pass else default_kernels
    defaults = {"reader": source.reader, "compute": source.compute, "writer": source.writer}
    specs = kernel_specs(OP_NAME, defaults, kernels)

    stick_bytes = dims[-1] * fmt.element_bytes
    block_bytes = block_wt * TILE_WIDTH * fmt.element_bytes
    scaler = packed_scaler(dims[-1])
    cores = []
    for a in split.assignments():
        ht = a.num_units
        start_stick = a.start_unit * TILE_HEIGHT
        if two_pass:
            ct = _two_pass_args(stick_bytes, block_bytes, scaler, ht, wt, block_wt, fmt.name, compute_config)
        else:
            ct = {
                "reader": frozen_mapping(
                    {"stick_size_bytes": stick_bytes, "packed_scaler": scaler, "Ht": ht, "Wt": wt}
                ),
                "compute": frozen_mapping({"Ht": ht, "Wt": wt}),
                "writer": frozen_mapping({"stick_size_bytes": stick_bytes, "Ht": ht, "Wt": wt}),
            }
        rt = {
            "reader": frozen_mapping({"src_addr": buffers[0].base_address, "start_stick": start_stick}),
            "compute": frozen_mapping({}),
            "writer": frozen_mapping({"dst_addr": buffers[1].base_address, "start_stick": start_stick}),
        }
        cores.append(CoreProgram(a.core, a.group, a.start_unit, a.num_units, frozen_mapping(ct), frozen_mapping(rt)))

    return Program(
        op_name=OP_NAME,
        device=device,
        shape=dims,
        dtype=fmt.name,
        config=config,
        units=units,
        cbs=cb_table(wt, fmt, config),
        buffers=buffers,
        split=split,
        kernels=specs,
        cores=tuple(cores),
        attributes=frozen_mapping(_attributes(wt, units, stick_bytes, grid, two_pass, block_wt)),
        compute_config=compute_config,
    )


def _two_pass_args(
    stick_bytes: int,
    block_bytes: int,
    scaler: int,
    ht: int,
    wt: int,
    block_wt: int,
    data_format: str,
    compute_config: ComputeConfig,
) -> dict[str, Any]:
    """Compile-time arguments of the two-pass kernels (kernels_two_pass.py) of a core with `ht` tile rows."""
    blocks = {"block_size_bytes": block_bytes, "Ht": ht, "Wt": wt, "block_wt": block_wt}
    return {
        "reader": frozen_mapping({"stick_size_bytes": stick_bytes, "packed_scaler": scaler, **blocks}),
        "compute": frozen_mapping(
            {
                "Ht": ht,
                "Wt": wt,
                "block_wt": block_wt,
                "data_format": data_format,
                "fp32_dest_acc_en": compute_config.fp32_dest_acc_en,
            }
        ),
        "writer": frozen_mapping({"stick_size_bytes": stick_bytes, **blocks}),
    }


def _attributes(wt: int, units: int, stick_bytes: int, grid: tuple[int, int], two_pass: bool, block_wt: int) -> dict:
    attributes: dict[str, Any] = {"Wt": wt, "Ht_total": units, "stick_size_bytes": stick_bytes, "grid": grid}
    if two_pass:
        attributes.update(variant="two_pass", block_wt=block_wt)
    return attributes
