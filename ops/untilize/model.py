"""What the analytic engine needs to know about untilize that only the op can say (see centralize_w_rm/model.py).

A table row is one problem: the tiled input N, C, H, W (padded), the logical output H_out, W_out, dtype,
device and the grid. The unit of work is one tile row; cores and the slowest core's tile rows come from
`split_blocks_for_tilize` (`split_counts`). c_0 and c_16 double when a core has two tile rows or more, so
the key carries the grid.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.factory_common import plan_row_errors, planned_per_row
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.tiles import TILE_HEIGHT
from perfmodel.ops.tilize.factory import grid_of
from perfmodel.ops.untilize import factory
from perfmodel.ops.untilize.config import Config
from perfmodel.program import CircularBuffer, Program

OP_NAME = factory.OP_NAME
SHAPE_COLUMNS = ("N", "C", "H", "W", "H_out", "W_out")
CONFIG_COLUMNS = ("grid_x", "grid_y", "row_wise")
INPUT_COLUMNS = (*SHAPE_COLUMNS, "dtype", "device", *CONFIG_COLUMNS)
KEY_COLUMNS = (*SHAPE_COLUMNS, "dtype", "device", "grid_x", "grid_y")
BUFFER_COLUMNS: tuple[str, ...] = ()


def shape_of(row: Mapping[str, Any]) -> tuple[int, ...]:
    return (int(row["N"]), int(row["C"]), int(row["H"]), int(row["W"]))


def output_of(row: Mapping[str, Any]) -> tuple[int, ...]:
    return (int(row["N"]), int(row["C"]), int(row["H_out"]), int(row["W_out"]))


def program_for_row(row: Mapping[str, Any]) -> Program:
    config = Config(
        grid=(int(row["grid_x"]), int(row["grid_y"])), output_shape=output_of(row), row_wise=bool(row["row_wise"])
    )
    return factory.build_program(shape_of(row), device=str(row["device"]), dtype=str(row["dtype"]), config=config)


@functools.lru_cache(maxsize=65536)
def plan(key: tuple[Hashable, ...]) -> tuple[factory.Geometry, Any, int, int, int]:
    """(geometry, factory choice, cores, tile rows, tile rows of the slowest core)."""
    n, c, h, w, h_out, w_out, dtype, device, gx, gy = key
    device = load_device(str(device))
    geo = factory.geometry((int(n), int(c), int(h), int(w)), (int(n), int(c), int(h_out), int(w_out)))
    grid = grid_of(Config(grid=(int(gx), int(gy))), device)  # type: ignore[arg-type]
    cores_in_grid = grid[0] * grid[1]
    choice = factory.choose_factory(geo, cores_in_grid, get_format(str(dtype)), device)
    if choice.factory not in factory.MODELLED:
        raise InputError(f"tt-metal picks {choice.factory} ({choice.reason}); not modelled")
    per = -(-geo.tile_rows // cores_in_grid)
    return geo, choice, -(-geo.tile_rows // per), geo.tile_rows, per


def _key(row: Mapping[str, Any]) -> tuple[Hashable, ...]:
    return tuple(str(row[c]) if c in ("dtype", "device") else int(row[c]) for c in KEY_COLUMNS)


def shape_key(program: Program) -> tuple[Hashable, ...]:
    dims, out = program.shape, program.attributes["output_shape"]
    c = dims[-3] if len(dims) > 2 else 1
    n = int(np.prod(dims[:-3])) if len(dims) > 3 else 1
    gx, gy = program.split.grid
    device = program.device.path or program.device.name
    return (n, c, dims[-2], dims[-1], out[-2], out[-1], program.dtype, device, gx, gy)


def unit_programs(device: DeviceProfile, key: tuple[Hashable, ...]) -> tuple[Program, Program]:
    """Single-core programs of one and two tile rows with the mean real rows of a tile row, by the real factory."""
    geo, choice, *_ = plan(key)
    fmt = get_format(str(key[6]))
    # The mean number of real (written) rows per tile row: 32 unless the output drops padding rows.
    h_out = min(max(round(geo.out_dims[-2] / geo.ht), 1), TILE_HEIGHT)
    programs = []
    for rows in (1, 2):
        unit = factory.Geometry((1, rows, TILE_HEIGHT, geo.in_dims[-1]), (1, rows, h_out, geo.out_dims[-1]))
        programs.append(factory.build_with(unit, device, fmt, fmt, (1, 1), choice))
    return programs[0], programs[1]


@functools.lru_cache(maxsize=4096)
def _cb_table(key: tuple[Hashable, ...]) -> tuple[CircularBuffer, ...]:
    geo, choice, _, _, per = plan(key)
    fmt = get_format(str(key[6]))
    return factory.cb_table(geo.wt, per, fmt, fmt, choice.factory == factory.UNPAD_INTERLEAVED)


def cb_table_for_row(row: Mapping[str, Any]) -> tuple[CircularBuffer, ...]:
    return _cb_table(_key(row))


def _per_row(table: pd.DataFrame, index: int) -> np.ndarray:
    return planned_per_row(table, KEY_COLUMNS, _key, plan, index)


def units(table: pd.DataFrame) -> np.ndarray:
    """Tile rows per row of the table."""
    return _per_row(table, 3)


def split_counts(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(cores used, tile rows of the slowest core) per row: split_blocks_for_tilize."""
    return _per_row(table, 2), _per_row(table, 4)


def validate_rows(table: pd.DataFrame) -> np.ndarray:
    """Per row: the factory's error message for an invalid shape or grid (or an unmodelled factory), else ''."""
    return plan_row_errors(table, KEY_COLUMNS, _key, plan)
