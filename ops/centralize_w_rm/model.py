"""What the analytic engine needs to know about centralize_w_rm that only the op can say.

- which table columns describe a shape, a board and a configuration (`INPUT_COLUMNS`);
- the *shape key*: the columns the per-unit work depends on (W and dtype; H, N, C only set how many units);
- representative single-core programs with one and two units, built by the real factory, whose traced
  kernels give the per-unit stage work (`unit_programs`);
- the CB table of a configuration, straight from the factory (`cb_table`), for capacities and L1;
- the number of units of each row, vectorised (`units`).

The generic engine in `perfmodel.analytic` does the rest; the next op writes its own `model.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.device import DeviceProfile
from perfmodel.factory_common import build_row_program, split_config_of_row, tile_shape_row_errors
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH
from perfmodel.ops.centralize_w_rm import factory
from perfmodel.ops.centralize_w_rm.config import Config
from perfmodel.program import CircularBuffer, Program

OP_NAME = factory.OP_NAME
SHAPE_COLUMNS = ("N", "C", "H", "W")
CONFIG_COLUMNS = ("grid_x", "grid_y", "row_wise", "in_buffering", "out_buffering")
INPUT_COLUMNS = (*SHAPE_COLUMNS, "dtype", "device", *CONFIG_COLUMNS)
# Column types, for the generic per-row validation of `estimate_many` (perfmodel/analytic/columns.py).
INTEGER_COLUMNS = (*SHAPE_COLUMNS, "grid_x", "grid_y", "in_buffering", "out_buffering")
BOOLEAN_COLUMNS = ("row_wise",)
STRING_COLUMNS = ("dtype", "device")
# The per-unit work depends only on these (plus the device): a tile row of W values in dtype.
KEY_COLUMNS = ("W", "dtype")
# Columns that scale CB capacities (pages of c_0 and c_16 as multiples of Wt).
BUFFER_COLUMNS = ("in_buffering", "out_buffering")


def config_of(row: Mapping[str, Any]) -> Config:
    return Config(
        **split_config_of_row(row),
        in_buffering=int(row["in_buffering"]),
        out_buffering=int(row["out_buffering"]),
    )


def program_for_row(row: Mapping[str, Any]) -> Program:
    """The Program of one table row (the columns of `INPUT_COLUMNS`), built by the real factory."""
    return build_row_program(factory.build_program, row, SHAPE_COLUMNS, config_of(row))


def shape_key(program: Program) -> tuple[Hashable, ...]:
    """The shape key of a built program (W, dtype)."""
    return (program.shape[-1], program.dtype)


def unit_programs(device: DeviceProfile, key: tuple[Hashable, ...]) -> tuple[Program, Program]:
    """Single-core programs of one and two tile rows for shape key (W, dtype), by the real factory."""
    w, dtype = key
    config = Config(grid=(1, 1))
    one = factory.build_program((1, 1, TILE_HEIGHT, int(w)), device=device, dtype=str(dtype), config=config)
    two = factory.build_program((1, 1, 2 * TILE_HEIGHT, int(w)), device=device, dtype=str(dtype), config=config)
    return one, two


@functools.lru_cache(maxsize=4096)
def cb_table(w: int, dtype: str, in_buffering: int, out_buffering: int) -> tuple[CircularBuffer, ...]:
    """The factory's CB table for one (W, dtype, buffering) combination."""
    config = Config(in_buffering=int(in_buffering), out_buffering=int(out_buffering))
    return factory.cb_table(int(w) // TILE_WIDTH, get_format(dtype), config)


def cb_table_for_row(row: Mapping[str, Any]) -> tuple[CircularBuffer, ...]:
    return cb_table(int(row["W"]), str(row["dtype"]), int(row["in_buffering"]), int(row["out_buffering"]))


def units(table: pd.DataFrame) -> np.ndarray:
    """Tile rows per row of the table: N * C * H / 32 (all outer dims, like the factory)."""
    return (
        table["N"].to_numpy(np.int64) * table["C"].to_numpy(np.int64) * (table["H"].to_numpy(np.int64) // TILE_HEIGHT)
    )


def validate_rows(table: pd.DataFrame) -> np.ndarray:
    """Per row: an error message if the shape or config is invalid for the factory, else ''."""
    return tile_shape_row_errors(table, SHAPE_COLUMNS, ("in_buffering", "out_buffering", "grid_x", "grid_y"))
