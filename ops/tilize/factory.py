"""Program factories of tilize (reference: shared/reference/tilize_untilize.md §1-3, §8, §9).

tt-metal picks one of four multi-core factories for a DRAM-interleaved ROW_MAJOR input (first match wins):
the Block factory when a tile row of the output does not fit in L1 or when its 2-D split uses more cores
than the 1-D `split_blocks_for_tilize` over tile rows (only for Wt > 32); the Interleaved factory
otherwise. When the output is padded (logical shape != padded shape) the op is tilize_with_val_padding,
whose factories read the input's shorter sticks and store the pad value in the rest. `choose_factory`
gives the choice and the reason; the Program carries both in its attributes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.factory_common import swap_kernels, validate_dims
from perfmodel.numerics.formats import DataFormat, get_format, to_bf16_trunc
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH
from perfmodel.ops.tilize import kernels as tk
from perfmodel.ops.tilize.config import Config
from perfmodel.program import (
    KERNEL_SLOTS,
    CircularBuffer,
    CoreProgram,
    DramBuffer,
    KernelSpec,
    Program,
    frozen_mapping,
)
from perfmodel.split import (
    BlockSplit2D,
    WorkSplit,
    _num_cores_to_ranges,
    prefers_block_split,
    split_blocks_for_tilize,
    split_blocks_for_tilize_wh,
)

OP_NAME = "tilize"
INTERLEAVED = "TilizeMultiCoreInterleavedProgramFactory"
BLOCK = "TilizeMultiCoreBlockProgramFactory"
PAD_INTERLEAVED = "TilizeWithValPaddingMultiCoreInterleavedFactory"
PAD_BLOCK = "TilizeWithValPaddingMultiCoreBlockInterleavedFactory"
BLOCK_FACTORIES = (BLOCK, PAD_BLOCK)


@dataclass(frozen=True)
class Geometry:
    """Input (logical, row-major) and output (padded, tiles) shapes, 4-D [N, C, H, W] with outer dims folded."""

    in_dims: tuple[int, ...]
    out_dims: tuple[int, ...]

    @property
    def third_dim(self) -> int:
        return math.prod(self.out_dims[:-2])

    @property
    def h_in(self) -> int:
        return self.in_dims[-2]

    @property
    def w_in(self) -> int:
        return self.in_dims[-1]

    @property
    def wt(self) -> int:
        return self.out_dims[-1] // TILE_WIDTH

    @property
    def ht(self) -> int:
        return self.out_dims[-2] // TILE_HEIGHT

    @property
    def tile_rows(self) -> int:
        return self.third_dim * self.ht

    @property
    def padded(self) -> bool:
        return self.in_dims != self.out_dims


@dataclass(frozen=True)
class Choice:
    """The program factory tt-metal picks and why."""

    factory: str
    reason: str


def geometry(shape: Sequence[int], padded_shape: Sequence[int] | None) -> Geometry:
    """Check the input shape and the output's padded shape (default: H and W rounded up to 32)."""
    dims = validate_dims(shape, "shape", OP_NAME)
    if padded_shape is None:
        out = (*dims[:-2], -(-dims[-2] // TILE_HEIGHT) * TILE_HEIGHT, -(-dims[-1] // TILE_WIDTH) * TILE_WIDTH)
    else:
        out = validate_dims(padded_shape, "padded_shape", OP_NAME)
        if len(out) != len(dims):
            raise InputError(f"padded_shape {list(out)} has rank {len(out)}, the input shape {list(dims)} {len(dims)}")
        if out[:-2] != dims[:-2]:
            raise InputError(f"padded_shape {list(out)} may pad only the last two dims of {list(dims)}")
        if out[-2] < dims[-2] or out[-1] < dims[-1]:
            raise InputError(f"padded_shape {list(out)} is smaller than the shape {list(dims)}")
        if out[-2] % TILE_HEIGHT or out[-1] % TILE_WIDTH:
            raise InputError(f"padded_shape {list(out)}: its last two dims must be multiples of 32")
    return Geometry(dims, tuple(out))


def grid_of(config: Config, device: DeviceProfile) -> tuple[int, int]:
    grid = config.grid if config.grid is not None else (device.core.grid_x, device.core.grid_y)
    if len(grid) != 2 or any(isinstance(g, bool) or not isinstance(g, int | np.integer) for g in grid):
        raise InputError(f"grid must be two integers (x, y), got {grid!r}")
    gx, gy = int(grid[0]), int(grid[1])
    if gx < 1 or gy < 1:
        raise InputError(f"grid {gx}x{gy} must be at least 1x1")
    if gx > device.core.grid_x or gy > device.core.grid_y:
        raise InputError(
            f"grid {gx}x{gy} is larger than {device.name}'s worker grid {device.core.grid_x}x{device.core.grid_y}"
        )
    return gx, gy


def choose_factory(
    geo: Geometry,
    grid_cores: int,
    fmt_in: DataFormat,
    fmt_out: DataFormat,
    device: DeviceProfile,
    with_val_padding: bool | None = None,
) -> Choice:
    """tt-metal's factory selection for an interleaved DRAM input (§1 tilize, §9 tilize_with_val_padding);
    `with_val_padding` None: the op is tilize_with_val_padding when the output is padded."""
    padding_op = geo.padded if with_val_padding is None else with_val_padding
    interleaved, block = (PAD_INTERLEAVED, PAD_BLOCK) if padding_op else (INTERLEAVED, BLOCK)
    if grid_cores < 2:
        # §1 step 1: a core grid of fewer than 2 cores runs tt-metal's single-core factory, whose reader,
        # tilize and writer loop over all tile rows of one core as the Interleaved factory's do on one core.
        return Choice(
            interleaved,
            "one core: tt-metal runs its single-core factory (sub_core_grids < 2 cores), "
            "modelled as this factory's reader, tilize and writer on that core",
        )
    tile_in, tile_out = fmt_in.tile_bytes, fmt_out.tile_bytes
    max_l1 = device.core.l1_free_bytes
    row_bytes = geo.wt * (tile_in + tile_out)
    if row_bytes >= max_l1:
        return Choice(block, f"L1 short: a tile row needs Wt*(tile_in+tile_out) = {row_bytes} B >= {max_l1} B free")
    # tilize_with_val_padding sizes the 2-D blocks from the input's padded volume in tiles.
    tiles = geo.in_dims[-2] * geo.in_dims[-1] // (TILE_HEIGHT * TILE_WIDTH) if padding_op else None
    two_d, cores_1d, cores_2d = prefers_block_split(geo.wt, geo.ht, geo.tile_rows, grid_cores, tiles)
    if two_d:
        return Choice(block, f"2-D split uses {cores_2d} cores, the 1-D split of {geo.tile_rows} tile rows {cores_1d}")
    if cores_2d:
        why = f"the 1-D split of {geo.tile_rows} tile rows uses {cores_1d} cores, the 2-D split {cores_2d}"
    else:
        why = f"Wt = {geo.wt}, Ht = {geo.ht}: no 2-D split (it needs Wt > 32 and Ht > 32 or Wt > Ht)"
        why += f"; the 1-D split of {geo.tile_rows} tile rows uses {cores_1d} cores"
    return Choice(interleaved, why)


def packed_pad_value(pad_value: float, fmt: DataFormat) -> int:
    """The pad value as the factory packs it into 32 bits: bf16 (tt-metal's bfloat16(float), truncating) twice,
    or the fp32 bits once."""
    if fmt.element_bytes == 2:
        bits = int(np.asarray(to_bf16_trunc(np.float32(pad_value))).view(np.uint16))
        return (bits << 16) | bits
    if fmt.element_bytes == 4:
        return struct.unpack("<I", struct.pack("<f", float(pad_value)))[0]
    raise InputError(f"tilize cannot pack a pad value for {fmt.name}")


def cb_table(width_tiles: int, fmt_in: DataFormat, fmt_out: DataFormat) -> tuple[CircularBuffer, ...]:
    """c_0 and c_16: one tile row of the block each, single-buffered (§3, §8)."""
    return (
        CircularBuffer(tk.CB_IN, "cb_in_rm", fmt_in.tile_bytes, width_tiles, fmt_in.name),
        CircularBuffer(tk.CB_OUT, "cb_out_tiled", fmt_out.tile_bytes, width_tiles, fmt_out.name),
    )


def dram_buffers(
    geo: Geometry, fmt_in: DataFormat, fmt_out: DataFormat, device: DeviceProfile
) -> tuple[DramBuffer, ...]:
    """Input: one page per stick of W_in values; output: one page per tile; output after the input."""
    align = device.dram.alignment_bytes
    sticks = math.prod(geo.in_dims[:-1])
    stick_bytes = geo.w_in * fmt_in.element_bytes
    aligned_stick = -(-stick_bytes // align) * align
    tiles = geo.tile_rows * geo.wt
    aligned_tile = -(-fmt_out.tile_bytes // align) * align
    banks = device.dram.num_banks
    in_bank_bytes = -(-sticks // banks) * aligned_stick
    out_bank_bytes = -(-tiles // banks) * aligned_tile
    if in_bank_bytes + out_bank_bytes > device.dram.capacity_bytes // banks:
        raise InputError(f"shape {list(geo.in_dims)}: input and output do not fit in {device.name}'s DRAM")
    return (
        DramBuffer("input", sticks, stick_bytes, aligned_stick, 0, fmt_in.name),
        DramBuffer("output", tiles, fmt_out.tile_bytes, aligned_tile, in_bank_bytes, fmt_out.name),
    )


def _spec(name: str, fn: Any) -> KernelSpec:
    return KernelSpec(name, fn, *KERNEL_SLOTS[name])


def build_program(
    shape: Sequence[int],
    *,
    device: str | DeviceProfile,
    dtype: str = "bfloat16",
    config: Config | Mapping[str, Any] | None = None,
    kernels: Mapping[str, Any] | None = None,
) -> Program:
    """The Program tt-metal builds for tilize (or tilize_with_val_padding) of a DRAM-interleaved input."""
    device = load_device(device)
    config = Config.coerce(config)
    geo = geometry(shape, config.padded_shape)
    fmt_in = get_format(dtype)
    fmt_out = get_format(config.output_dtype or fmt_in.name)
    grid = grid_of(config, device)
    if geo.padded and config.with_val_padding is False:
        raise InputError(f"shape {list(geo.in_dims)} padded to {list(geo.out_dims)} needs with_val_padding")
    choice = choose_factory(geo, grid[0] * grid[1], fmt_in, fmt_out, device, config.with_val_padding)
    return build_with(geo, device, fmt_in, fmt_out, config, grid, choice, kernels)


def build_with(
    geo: Geometry,
    device: DeviceProfile,
    fmt_in: DataFormat,
    fmt_out: DataFormat,
    config: Config,
    grid: tuple[int, int],
    choice: Choice,
    kernels: Mapping[str, Any] | None = None,
) -> Program:
    """The Program of a given factory choice (the model builds single-core unit programs through this)."""
    buffers = dram_buffers(geo, fmt_in, fmt_out, device)
    packed = packed_pad_value(config.pad_value, fmt_in)
    if choice.factory in BLOCK_FACTORIES:
        split2d = split_blocks_for_tilize_wh(grid, geo.wt, geo.ht)
        return _block_program(geo, device, fmt_in, fmt_out, config, split2d, choice, buffers, packed, kernels)
    split = split_blocks_for_tilize(grid, geo.tile_rows, row_wise=bool(config.row_wise))
    padded = choice.factory == PAD_INTERLEAVED
    chosen = {"reader": tk.reader_pad if padded else tk.reader, "compute": tk.compute, "writer": tk.writer}
    chosen = swap_kernels(chosen, kernels)
    stick_in = geo.w_in * fmt_in.element_bytes
    stick_out = geo.wt * TILE_WIDTH * fmt_in.element_bytes
    if padded:
        reader_ct = {
            "H": geo.h_in,
            "Ht_out": geo.ht,
            "Wt": geo.wt,
            "stick_in_bytes": stick_in,
            "stick_out_bytes": stick_out,
        }
    else:
        reader_ct = {"stick_size_bytes": stick_in}
    cores = []
    for a in split.assignments():
        n = a.num_units
        ct = {
            "reader": frozen_mapping(reader_ct),
            "compute": frozen_mapping({"per_core_block_cnt": n, "per_core_block_tile_cnt": geo.wt}),
            "writer": frozen_mapping({"tile_bytes": fmt_out.tile_bytes}),
        }
        if padded:
            reader_rt = {
                "src_addr": buffers[0].base_address,
                "packed_pad_value": packed,
                "first_tile_row": a.start_unit,
                "num_tile_rows": n,
            }
        else:
            reader_rt = {
                "src_addr": buffers[0].base_address,
                "num_sticks": n * TILE_HEIGHT,
                "stick_size": stick_in,
                "num_tiles_per_block": geo.wt,
                "block_width_size": stick_in,
                "num_full_blocks_in_row": 1,
                "num_leftover_tiles": 0,
                "leftover_width_in_row": 0,
                "start_stick_id": a.start_unit * TILE_HEIGHT,
            }
        rt = {
            "reader": frozen_mapping(reader_rt),
            "compute": frozen_mapping({}),
            "writer": frozen_mapping(
                {"dst_addr": buffers[1].base_address, "num_tiles": n * geo.wt, "start_id": a.start_unit * geo.wt}
            ),
        }
        cores.append(CoreProgram(a.core, a.group, a.start_unit, n, frozen_mapping(ct), frozen_mapping(rt)))
    return _program(
        geo,
        device,
        fmt_in,
        fmt_out,
        config,
        split,
        cb_table(geo.wt, fmt_in, fmt_out),
        buffers,
        chosen,
        cores,
        choice,
        geo.tile_rows,
        {"block_width_tiles": geo.wt},
    )


def _block_program(
    geo: Geometry,
    device: DeviceProfile,
    fmt_in: DataFormat,
    fmt_out: DataFormat,
    config: Config,
    split2d: BlockSplit2D,
    choice: Choice,
    buffers: tuple[DramBuffer, ...],
    packed: int,
    kernels: Mapping[str, Any] | None,
) -> Program:
    chosen = {"reader": tk.reader_block, "compute": tk.compute, "writer": tk.writer_block}
    chosen = swap_kernels(chosen, kernels)
    elem = fmt_in.element_bytes
    third = geo.third_dim
    cores = []
    start = 0
    full_w = min(split2d.side, geo.wt)
    for b in split2d.blocks:
        units = b.height * third
        region = (
            1 + (b.width < full_w) + 2 * (b.height < min(split2d.side, geo.ht))
        )  # full, cliff row, cliff col, corner
        ct = {
            "reader": frozen_mapping(
                {"H": geo.h_in, "third_dim": third, "elem_bytes": elem, "W_in_bytes": geo.w_in * elem}
            ),
            "compute": frozen_mapping({"per_core_block_cnt": units, "per_core_block_tile_cnt": b.width}),
            "writer": frozen_mapping(
                {"tile_bytes": fmt_out.tile_bytes, "tiles_per_slice": geo.wt * geo.ht, "third_dim": third, "Wt": geo.wt}
            ),
        }
        rt = {
            "reader": frozen_mapping(
                {
                    "src_addr": buffers[0].base_address,
                    "packed_pad_value": packed,
                    "block_row_bytes": b.width * TILE_WIDTH * elem,
                    "start_row": b.row,
                    "start_col_bytes": b.col * TILE_WIDTH * elem,
                    "width_tiles": b.width,
                    "height_tiles": b.height,
                }
            ),
            "compute": frozen_mapping({}),
            "writer": frozen_mapping(
                {
                    "dst_addr": buffers[1].base_address,
                    "first_tile": b.row * geo.wt + b.col,
                    "width_tiles": b.width,
                    "height_tiles": b.height,
                }
            ),
        }
        # Each region configures its CBs for its own block width (§8).
        pages = frozen_mapping({tk.CB_IN: b.width, tk.CB_OUT: b.width} if b.width < full_w else {})
        cores.append(CoreProgram(b.core, region, start, units, frozen_mapping(ct), frozen_mapping(rt), pages))
        start += units
    n = len(split2d.blocks)
    ranges = _num_cores_to_ranges((0, 0), n, split2d.grid, False)
    most = max(c.num_units for c in cores)
    split = WorkSplit(n, ranges, ranges, (), most, 0, split2d.grid, False, start)
    return _program(
        geo,
        device,
        fmt_in,
        fmt_out,
        config,
        split,
        cb_table(full_w, fmt_in, fmt_out),
        buffers,
        chosen,
        cores,
        choice,
        start,
        {"block_side_tiles": split2d.side, "block_width_tiles": full_w},
    )


def _program(
    geo: Geometry,
    device: DeviceProfile,
    fmt_in: DataFormat,
    fmt_out: DataFormat,
    config: Config,
    split: WorkSplit,
    cbs: tuple[CircularBuffer, ...],
    buffers: tuple[DramBuffer, ...],
    chosen: Mapping[str, Any],
    cores: list[CoreProgram],
    choice: Choice,
    units: int,
    extra: Mapping[str, Any],
) -> Program:
    return Program(
        op_name=OP_NAME,
        device=device,
        shape=geo.in_dims,
        dtype=fmt_in.name,
        config=config,
        units=units,
        cbs=cbs,
        buffers=buffers,
        split=split,
        kernels=tuple(_spec(name, fn) for name, fn in chosen.items()),
        cores=tuple(cores),
        attributes=frozen_mapping(
            {
                "factory": choice.factory,
                "factory_reason": choice.reason,
                "op_code": "TilizeWithValPadding" if choice.factory in (PAD_INTERLEAVED, PAD_BLOCK) else "Tilize",
                "padded_shape": geo.out_dims,
                "input_layout": "ROW_MAJOR",
                "output_layout": "TILE",
                "output_dtype": fmt_out.name,
                "Wt": geo.wt,
                "Ht": geo.ht,
                "tile_rows": geo.tile_rows,
                "grid": split.grid,
                **extra,
            }
        ),
    )
