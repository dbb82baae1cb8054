"""Program factory of the unary op: ttnn's UnaryProgramFactory for DRAM-interleaved tiles (eltwise_unary.md §1,
G1) with the block and buffering knobs of tt-metal's double_buffer example (§2).

Units of work are blocks of `block_tiles` tiles, handed to `split_work_to_cores` in its fill order; a core
takes consecutive tiles. At `block_tiles` = 1 (the default) a unit is a tile and this is ttnn's split. With
larger blocks every core's CB transactions are whole blocks and only the tensor's last block can be short
(tt-metal's example splits tiles instead, so every core may end on a short block; the split of whole blocks
keeps the per-block pipeline the same on every core).

CBs (§1): c_0 input and c_2 output, `block_tiles x buffering` pages of one tile each (ttnn: 2 and 2).
Reader, compute and writer: `kernels.py`. `fp32_dest_acc_en` is on for float32 (Dst keeps fp32 whole).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.factory_common import interleaved_in_out, positive_int, validate_grid, validate_tile_shape
from perfmodel.numerics.formats import DataFormat, get_format
from perfmodel.numerics.tiles import TILE_ELEMENTS
from perfmodel.ops.unary import kernels as default_kernels
from perfmodel.ops.unary.config import Config
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

OP_NAME = "unary"
# fn -> the SFPU calls the factory puts in SFPU_OP_CHAIN_0 (copy: none, the tile goes through Dst unchanged).
SFPU_CHAINS: Mapping[str, tuple[str, ...]] = {"copy": (), "relu": ("relu_tile",)}
DTYPES = ("bfloat16", "float32", "bfloat8_b")


def validate_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Shape [..., H, W] with rank >= 2, positive dims, H and W multiples of 32 (TILE layout)."""
    return validate_tile_shape(shape, OP_NAME)


def validate_format(dtype: str) -> DataFormat:
    fmt = get_format(dtype)
    if fmt.name not in DTYPES:
        raise InputError(f"unary supports dtype {', '.join(DTYPES)}, got {fmt.name!r}")
    return fmt


def validate_config(config: Config, device: DeviceProfile) -> tuple[int, int]:
    """The grid to split over (the board's when None), checked against the board; fn, block and depth checked."""
    gx, gy = validate_grid(config.grid, device)
    if config.fn not in SFPU_CHAINS:
        raise InputError(f"fn = {config.fn!r} is not one of {', '.join(SFPU_CHAINS)}")
    positive_int("block_tiles", config.block_tiles)
    positive_int("buffering", config.buffering)
    return gx, gy


def cb_table(fmt: DataFormat, config: Config) -> tuple[CircularBuffer, ...]:
    """c_0 and c_2: block_tiles x buffering pages of one tile each."""
    pages = config.block_tiles * config.buffering
    return (
        CircularBuffer(0, "cb_input", fmt.tile_bytes, pages, fmt.name),
        CircularBuffer(2, "cb_output", fmt.tile_bytes, pages, fmt.name),
    )


def dram_buffers(num_tiles: int, fmt: DataFormat, device: DeviceProfile) -> tuple[DramBuffer, ...]:
    """Input and output, TILE layout interleaved: one page per tile; the output after the input in each bank."""
    return interleaved_in_out(num_tiles, fmt.tile_bytes, fmt, device, f"{num_tiles} tiles of {fmt.name}")


def num_tiles_of(dims: Sequence[int]) -> int:
    return math.prod(dims) // TILE_ELEMENTS


def build_program(
    shape: Sequence[int],
    *,
    device: str | DeviceProfile,
    dtype: str = "bfloat16",
    config: Config | Mapping[str, Any] | None = None,
    kernels: Mapping[str, KernelFn] | None = None,
) -> Program:
    """The Program of the unary op for `shape` on `device` with `config`; `kernels` swaps in mirrors."""
    device = load_device(device)
    dims = validate_shape(shape)
    fmt = validate_format(dtype)
    config = Config.coerce(config)
    grid = validate_config(config, device)
    compute_config = config.compute_config(fmt.name)
    tiles = num_tiles_of(dims)
    block = int(config.block_tiles)
    blocks = -(-tiles // block)
    buffers = dram_buffers(tiles, fmt, device)
    split = split_work_to_cores(grid, blocks, row_wise=config.row_wise)

    defaults = {"reader": default_kernels.reader, "compute": default_kernels.compute, "writer": default_kernels.writer}
    specs = kernel_specs(OP_NAME, defaults, kernels)

    chain = SFPU_CHAINS[config.fn]
    dm_args = frozen_mapping({"block_tiles": block, "page_bytes": fmt.tile_bytes})
    cores = []
    for a in split.assignments():
        start_id = a.start_unit * block
        n = min(a.num_units * block, tiles - start_id)
        ct = {
            "reader": dm_args,
            "compute": frozen_mapping(
                {
                    "per_core_block_cnt": n,
                    "per_core_block_dim": 1,
                    "sfpu_op_chain": chain,
                    "fp32_dest_acc_en": compute_config.fp32_dest_acc_en,
                }
            ),
            "writer": dm_args,
        }
        rt = {
            "reader": frozen_mapping({"src_addr": buffers[0].base_address, "num_tiles": n, "start_id": start_id}),
            "compute": frozen_mapping({}),
            "writer": frozen_mapping({"dst_addr": buffers[1].base_address, "num_tiles": n, "start_id": start_id}),
        }
        cores.append(CoreProgram(a.core, a.group, a.start_unit, a.num_units, frozen_mapping(ct), frozen_mapping(rt)))

    return Program(
        op_name=OP_NAME,
        device=device,
        shape=dims,
        dtype=fmt.name,
        config=config,
        units=blocks,
        cbs=cb_table(fmt, config),
        buffers=buffers,
        split=split,
        kernels=specs,
        cores=tuple(cores),
        attributes=frozen_mapping({"num_tiles": tiles, "block_tiles": block, "fn": config.fn, "grid": grid}),
        compute_config=compute_config,
    )
