"""Program factories of untilize (reference: shared/reference/tilize_untilize.md §1, §2, §4, §10).

tt-metal picks, for a DRAM-interleaved TILE input: the Block factory when a tile row does not fit in L1 or
when the 2-D split over all tile rows uses more cores than the 1-D `split_blocks_for_tilize`; the ordinary
multi-core factory otherwise. An output smaller than the input (logical != padded) makes it
untilize_with_unpadding, whose interleaved factory writes only the real rows of each tile row. The Block
factories are recognised (the check report names them) but not built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.factory_common import swap_kernels, validate_dims
from perfmodel.numerics.formats import DataFormat, get_format
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH
from perfmodel.ops.tilize.factory import Choice, grid_of
from perfmodel.ops.untilize import kernels as uk
from perfmodel.ops.untilize.config import Config
from perfmodel.program import KERNEL_SLOTS, CircularBuffer, CoreProgram, DramBuffer, KernelSpec, Program, frozen_mapping
from perfmodel.split import prefers_block_split, split_blocks_for_tilize

OP_NAME = "untilize"
MULTI_CORE = "UntilizeMultiCoreProgramFactory"
BLOCK = "UntilizeMultiCoreBlockProgramFactory"
UNPAD_INTERLEAVED = "UntilizeWithUnpaddingMultiCoreInterleavedProgramFactory"
UNPAD_BLOCK = "UntilizeWithUnpaddingMultiCoreBlockInterleavedProgramFactory"
MODELLED = (MULTI_CORE, UNPAD_INTERLEAVED)
MAX_PACK_UNTILIZE_WIDTH = 8  # tiles per pack_untilize_block with a 16-bit Dst (half of it in SyncHalf)


@dataclass(frozen=True)
class Geometry:
    """Input (padded, tiles) and output (logical, row-major) shapes, outer dims kept as given."""

    in_dims: tuple[int, ...]
    out_dims: tuple[int, ...]

    @property
    def third_dim(self) -> int:
        return math.prod(self.in_dims[:-2])

    @property
    def wt(self) -> int:
        return self.in_dims[-1] // TILE_WIDTH

    @property
    def ht(self) -> int:
        return self.in_dims[-2] // TILE_HEIGHT

    @property
    def tile_rows(self) -> int:
        return self.third_dim * self.ht

    @property
    def unpadding(self) -> bool:
        return self.in_dims != self.out_dims


def geometry(shape: Sequence[int], output_shape: Sequence[int] | None) -> Geometry:
    """Check the tiled input (H, W multiples of 32) and the logical output (at most the input, last two dims)."""
    dims = validate_dims(shape, "shape", OP_NAME)
    if dims[-2] % TILE_HEIGHT or dims[-1] % TILE_WIDTH:
        raise InputError(f"shape {list(dims)}: a TILE input's last two dims must be multiples of 32")
    out = dims if output_shape is None else validate_dims(output_shape, "output_shape", OP_NAME)
    if len(out) != len(dims) or out[:-2] != dims[:-2]:
        raise InputError(f"output_shape {list(out)} may differ from the shape {list(dims)} only in its last two dims")
    if out[-2] > dims[-2] or out[-1] > dims[-1]:
        raise InputError(f"output_shape {list(out)} is larger than the shape {list(dims)}")
    return Geometry(dims, out)


def block_ct_dim(wt: int, fp32_dest_acc_en: bool) -> int:
    """The largest divisor of Wt that is <= 8 (<= 4 with a 32-bit Dst): tiles per pack_untilize_block."""
    limit = MAX_PACK_UNTILIZE_WIDTH // 2 if fp32_dest_acc_en else MAX_PACK_UNTILIZE_WIDTH
    return max(d for d in range(1, min(limit, wt) + 1) if wt % d == 0)


def choose_factory(geo: Geometry, grid_cores: int, fmt_in: DataFormat, device: DeviceProfile) -> Choice:
    """tt-metal's selection for an interleaved DRAM input (§1 untilize, §10 untilize_with_unpadding)."""
    interleaved, block = (UNPAD_INTERLEAVED, UNPAD_BLOCK) if geo.unpadding else (MULTI_CORE, BLOCK)
    max_l1 = device.core.l1_free_bytes
    row_bytes = geo.wt * 2 * fmt_in.tile_bytes
    if row_bytes >= max_l1:
        return Choice(block, f"L1 short: a tile row needs 2*Wt*tile = {row_bytes} B >= {max_l1} B free")
    two_d, cores_1d, cores_2d = prefers_block_split(geo.wt, geo.tile_rows, geo.tile_rows, grid_cores)
    if two_d:
        return Choice(block, f"2-D split uses {cores_2d} cores, the 1-D split of {geo.tile_rows} tile rows {cores_1d}")
    if cores_2d:
        return Choice(interleaved, f"the 1-D split of {geo.tile_rows} tile rows uses {cores_1d} cores, 2-D {cores_2d}")
    return Choice(interleaved, f"Wt = {geo.wt}: the 1-D split over {geo.tile_rows} tile rows ({cores_1d} cores)")


def cb_table(
    wt: int, per_core: int, fmt_in: DataFormat, fmt_out: DataFormat, unpadding: bool
) -> tuple[CircularBuffer, ...]:
    """c_0 and c_16: Wt pages, doubled when a core has two tile rows or more (untilize; unpadding stays single)."""
    pages = wt if (unpadding or per_core == 1) else 2 * wt
    return (
        CircularBuffer(uk.CB_IN, "cb_in_tiled", fmt_in.tile_bytes, pages, fmt_in.name),
        CircularBuffer(uk.CB_OUT, "cb_out_rm", fmt_out.tile_bytes, pages, fmt_out.name),
    )


def dram_buffers(
    geo: Geometry, fmt_in: DataFormat, fmt_out: DataFormat, device: DeviceProfile
) -> tuple[DramBuffer, ...]:
    """Input: one page per tile; output: one page per stick of the output's W; output after the input."""
    align = device.dram.alignment_bytes
    banks = device.dram.num_banks
    tiles = geo.tile_rows * geo.wt
    aligned_tile = -(-fmt_in.tile_bytes // align) * align
    sticks = math.prod(geo.out_dims[:-1])
    stick_bytes = geo.out_dims[-1] * fmt_out.element_bytes
    aligned_stick = -(-stick_bytes // align) * align
    in_bank_bytes = -(-tiles // banks) * aligned_tile
    if in_bank_bytes + -(-sticks // banks) * aligned_stick > device.dram.capacity_bytes // banks:
        raise InputError(f"shape {list(geo.in_dims)}: input and output do not fit in {device.name}'s DRAM")
    return (
        DramBuffer("input", tiles, fmt_in.tile_bytes, aligned_tile, 0, fmt_in.name),
        DramBuffer("output", sticks, stick_bytes, aligned_stick, in_bank_bytes, fmt_out.name),
    )


def build_program(
    shape: Sequence[int],
    *,
    device: str | DeviceProfile,
    dtype: str = "bfloat16",
    config: Config | Mapping[str, Any] | None = None,
    kernels: Mapping[str, Any] | None = None,
) -> Program:
    """The Program tt-metal builds for untilize (or untilize_with_unpadding) of a DRAM-interleaved input."""
    device = load_device(device)
    config = Config.coerce(config)
    geo = geometry(shape, config.output_shape)
    fmt_in = get_format(dtype)
    fmt_out = get_format(config.output_dtype or fmt_in.name)
    grid = grid_of(config, device)  # type: ignore[arg-type]
    choice = choose_factory(geo, grid[0] * grid[1], fmt_in, device)
    if choice.factory not in MODELLED:
        raise InputError(
            f"tt-metal picks {choice.factory} for shape {list(geo.in_dims)} ({choice.reason}); not modelled"
        )
    return build_with(geo, device, fmt_in, fmt_out, grid, choice, kernels, config)


def build_with(
    geo: Geometry,
    device: DeviceProfile,
    fmt_in: DataFormat,
    fmt_out: DataFormat,
    grid: tuple[int, int],
    choice: Choice,
    kernels: Mapping[str, Any] | None = None,
    config: Config | None = None,
) -> Program:
    """The Program of a given factory choice (the model builds single-core unit programs through this)."""
    buffers = dram_buffers(geo, fmt_in, fmt_out, device)
    row_wise = True if config is None or config.row_wise is None else bool(config.row_wise)
    split = split_blocks_for_tilize(grid, geo.tile_rows, row_wise=row_wise)
    unpadding = choice.factory == UNPAD_INTERLEAVED
    chosen = {"reader": uk.reader, "compute": uk.compute, "writer": uk.writer_unpad if unpadding else uk.writer}
    chosen = swap_kernels(chosen, kernels)
    fp32_dest = fmt_in.name == "float32"
    bct = block_ct_dim(geo.wt, fp32_dest)
    stick_in = geo.wt * TILE_WIDTH * fmt_out.element_bytes
    stick_out = geo.out_dims[-1] * fmt_out.element_bytes
    if unpadding:
        writer_ct = {
            "Ht_in": geo.ht,
            "H_out": geo.out_dims[-2],
            "Wt": geo.wt,
            "stick_in_bytes": stick_in,
            "stick_out_bytes": stick_out,
        }
    else:
        writer_ct = {"stick_size_bytes": stick_out, "num_tiles_per_block": geo.wt}
    cores = []
    for a in split.assignments():
        n = a.num_units
        writer_rt = (
            {"dst_addr": buffers[1].base_address, "first_tile_row": a.start_unit, "num_tile_rows": n}
            if unpadding
            else {"dst_addr": buffers[1].base_address, "num_blocks": n, "first_block": a.start_unit}
        )
        ct = {
            "reader": frozen_mapping({"tile_bytes": fmt_in.tile_bytes}),
            "compute": frozen_mapping({"per_core_block_tile_cnt": geo.wt, "block_ct_dim": bct}),
            "writer": frozen_mapping(writer_ct),
        }
        rt = {
            "reader": frozen_mapping(
                {"src_addr": buffers[0].base_address, "num_tiles": n * geo.wt, "start_id": a.start_unit * geo.wt}
            ),
            "compute": frozen_mapping({"per_core_block_cnt": n}),
            "writer": frozen_mapping(writer_rt),
        }
        cores.append(CoreProgram(a.core, a.group, a.start_unit, n, frozen_mapping(ct), frozen_mapping(rt)))
    per = split.units_per_core_group_1
    return Program(
        op_name=OP_NAME,
        device=device,
        shape=geo.in_dims,
        dtype=fmt_in.name,
        config=config or Config(output_shape=geo.out_dims),
        units=geo.tile_rows,
        cbs=cb_table(geo.wt, per, fmt_in, fmt_out, unpadding),
        buffers=buffers,
        split=split,
        kernels=tuple(KernelSpec(name, fn, *KERNEL_SLOTS[name]) for name, fn in chosen.items()),
        cores=tuple(cores),
        attributes=frozen_mapping(
            {
                "factory": choice.factory,
                "factory_reason": choice.reason,
                "op_code": "UntilizeWithUnpadding" if geo.unpadding else "Untilize",
                "input_layout": "TILE",
                "output_layout": "ROW_MAJOR",
                "output_shape": geo.out_dims,
                "output_dtype": fmt_out.name,
                "Wt": geo.wt,
                "Ht": geo.ht,
                "tile_rows": geo.tile_rows,
                "block_ct_dim": bct,
                "grid": split.grid,
            }
        ),
    )
