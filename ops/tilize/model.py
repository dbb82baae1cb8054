"""What the analytic engine needs to know about tilize that only the op can say (see centralize_w_rm/model.py).

A table row is one problem: input N, C, H, W (logical), the output's padded H_out, W_out, dtype, device and
the grid. The factory choice (Interleaved or Block) depends on all of them, so the shape key is the whole
row but the order of cores; the unit of work is one tile row of a core's block, whose width is Wt
(Interleaved) or the block side (Block). Cores and units of the slowest core come from the op's own splits
(`split_counts`), not from split_work_to_cores.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.device import DeviceProfile, load_device
from perfmodel.factory_common import plan_row_errors, planned_per_row
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.tiles import TILE_HEIGHT
from perfmodel.ops.tilize import factory
from perfmodel.ops.tilize.config import Config
from perfmodel.program import CircularBuffer, Program
from perfmodel.split import block_side_for_tilize

OP_NAME = factory.OP_NAME
SHAPE_COLUMNS = ("N", "C", "H", "W", "H_out", "W_out")
CONFIG_COLUMNS = ("grid_x", "grid_y", "row_wise")
# with_val_padding: the op is tilize_with_val_padding (its factories) even where the output is not padded.
INPUT_COLUMNS = (*SHAPE_COLUMNS, "with_val_padding", "dtype", "device", *CONFIG_COLUMNS)
KEY_COLUMNS = (*SHAPE_COLUMNS, "with_val_padding", "dtype", "device", "grid_x", "grid_y")
BUFFER_COLUMNS: tuple[str, ...] = ()


def shape_of(row: Mapping[str, Any]) -> tuple[int, ...]:
    return (int(row["N"]), int(row["C"]), int(row["H"]), int(row["W"]))


def padded_of(row: Mapping[str, Any]) -> tuple[int, ...]:
    return (int(row["N"]), int(row["C"]), int(row["H_out"]), int(row["W_out"]))


def program_for_row(row: Mapping[str, Any]) -> Program:
    config = Config(
        grid=(int(row["grid_x"]), int(row["grid_y"])),
        padded_shape=padded_of(row),
        with_val_padding=bool(row["with_val_padding"]) or None,
        row_wise=bool(row["row_wise"]),
    )
    return factory.build_program(shape_of(row), device=str(row["device"]), dtype=str(row["dtype"]), config=config)


@functools.lru_cache(maxsize=65536)
def plan(key: tuple[Hashable, ...]) -> tuple[factory.Geometry, factory.Choice, int, int, int, int]:
    """(geometry, factory choice, block width in tiles, cores, units in all, units of the slowest core)."""
    n, c, h, w, h_out, w_out, with_val_padding, dtype, device, gx, gy = key
    device = load_device(str(device))
    geo = factory.geometry((int(n), int(c), int(h), int(w)), (int(n), int(c), int(h_out), int(w_out)))
    fmt = get_format(str(dtype))
    grid = factory.grid_of(Config(grid=(int(gx), int(gy))), device)
    cores_in_grid = grid[0] * grid[1]
    choice = factory.choose_factory(geo, cores_in_grid, fmt, fmt, device, bool(with_val_padding) or geo.padded)
    if choice.factory in factory.BLOCK_FACTORIES:
        side = block_side_for_tilize(geo.wt, geo.ht, cores_in_grid)
        cols, rows = -(-geo.wt // side), -(-geo.ht // side)
        units = cols * geo.ht * geo.third_dim
        return geo, choice, min(side, geo.wt), cols * rows, units, min(side, geo.ht) * geo.third_dim
    n_rows = geo.tile_rows
    per = -(-n_rows // cores_in_grid)
    return geo, choice, geo.wt, -(-n_rows // per), n_rows, per


def _key(row: Mapping[str, Any]) -> tuple[Hashable, ...]:
    return tuple(
        str(row[c]) if c in ("dtype", "device") else bool(row[c]) if c == "with_val_padding" else int(row[c])
        for c in KEY_COLUMNS
    )


def shape_key(program: Program) -> tuple[Hashable, ...]:
    dims, out = program.shape, program.attributes["padded_shape"]
    c = dims[-3] if len(dims) > 2 else 1
    n = int(np.prod(dims[:-3])) if len(dims) > 3 else 1
    gx, gy = program.split.grid
    device = program.device.path or program.device.name
    padding_op = program.attributes["factory"] in (factory.PAD_INTERLEAVED, factory.PAD_BLOCK)
    return (n, c, dims[-2], dims[-1], out[-2], out[-1], padding_op, program.dtype, device, gx, gy)


def unit_programs(device: DeviceProfile, key: tuple[Hashable, ...]) -> tuple[Program, Program]:
    """Single-core programs of one and two full tile rows of the block width, built with the chosen factory."""
    geo, choice, width, *_ = plan(key)
    fmt = get_format(str(key[7]))
    config = Config()
    # A unit is a tile row with the mean number of real rows of the input's tile rows (all 32 for aligned
    # inputs, H for decode inputs); two units are two such tile rows (two slices when it is under 32, so each
    # keeps its real rows).
    h_in = min(max(round(geo.h_in / geo.ht), 1), TILE_HEIGHT)
    w_in = min(geo.w_in, width * 32) if choice.factory in factory.BLOCK_FACTORIES else geo.w_in
    w_out = width * 32 if choice.factory in factory.BLOCK_FACTORIES else geo.wt * 32
    programs = []
    for rows in (1, 2):
        if h_in < TILE_HEIGHT:
            unit = factory.Geometry((1, rows, h_in, w_in), (1, rows, TILE_HEIGHT, w_out))
        else:
            unit = factory.Geometry((1, 1, rows * TILE_HEIGHT, w_in), (1, 1, rows * TILE_HEIGHT, w_out))
        programs.append(factory.build_with(unit, device, fmt, fmt, config, (1, 1), choice))
    return programs[0], programs[1]


@functools.lru_cache(maxsize=4096)
def _cb_table(key: tuple[Hashable, ...]) -> tuple[CircularBuffer, ...]:
    _, _, width, *_ = plan(key)
    fmt = get_format(str(key[7]))
    return factory.cb_table(width, fmt, fmt)


def cb_table_for_row(row: Mapping[str, Any]) -> tuple[CircularBuffer, ...]:
    return _cb_table(_key(row))


def _per_row(table: pd.DataFrame, index: int) -> np.ndarray:
    return planned_per_row(table, KEY_COLUMNS, _key, plan, index)


def units(table: pd.DataFrame) -> np.ndarray:
    """Units (tile rows of the cores' blocks) per row of the table."""
    return _per_row(table, 4)


def split_counts(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(cores used, units of the slowest core) per row, by the factory tt-metal picks."""
    return _per_row(table, 3), _per_row(table, 5)


def validate_rows(table: pd.DataFrame) -> np.ndarray:
    """Per row: the factory's error message for an invalid shape or grid, else ''."""
    return plan_row_errors(table, KEY_COLUMNS, _key, plan)
