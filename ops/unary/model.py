"""What the analytic engine needs to know about the unary op that only the op can say.

- the table columns of a shape, a board and a configuration (`INPUT_COLUMNS`); `fn` is a column of the
  problem, not a knob;
- the shape key: the columns the per-unit work depends on. A unit is a block of `block_tiles` tiles, so the
  key is (dtype, fn, block_tiles) and the compute kernel config (math_fidelity, fp32_dest_acc_en,
  dst_full_sync_en: the Dst chunk, the sync mode); the shape only sets how many blocks there are. The three
  compute columns may be left out of a table: `column_defaults` fills in the factory's defaults (HiFi4, a
  32-bit Dst for float32 data only, SyncHalf);
- single-core programs of one and two blocks, built by the real factory (`unit_programs`);
- the CB table of a configuration, straight from the factory; for one key it is affine in `buffering`;
- the number of units (blocks) of each row, vectorised.

The slowest core of a split of whole blocks runs whole blocks unless it is the only core; then its last block
may be short and the engine, which times whole blocks, is at most one block's share of tiles pessimistic.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.compute_config import MATH_FIDELITIES
from perfmodel.device import DeviceProfile
from perfmodel.factory_common import build_row_program, split_config_of_row, tile_shape_row_errors
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH
from perfmodel.ops.unary import factory
from perfmodel.ops.unary.config import Config
from perfmodel.program import CircularBuffer, Program

OP_NAME = factory.OP_NAME
SHAPE_COLUMNS = ("N", "C", "H", "W")
COMPUTE_COLUMNS = ("math_fidelity", "fp32_dest_acc_en", "dst_full_sync_en")
CONFIG_COLUMNS = ("grid_x", "grid_y", "row_wise", "block_tiles", "buffering", *COMPUTE_COLUMNS)
INPUT_COLUMNS = (*SHAPE_COLUMNS, "dtype", "fn", "device", *CONFIG_COLUMNS)
KEY_COLUMNS = ("dtype", "fn", "block_tiles", *COMPUTE_COLUMNS)
BUFFER_COLUMNS = ("buffering",)
# Column types of the compute knobs, checked per row by `estimate_many` (perfmodel/analytic/columns.py).
STRING_COLUMNS = ("math_fidelity",)
BOOLEAN_COLUMNS = ("fp32_dest_acc_en", "dst_full_sync_en")


def column_defaults(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with the compute columns it leaves out filled with the factory's defaults."""
    missing = [c for c in COMPUTE_COLUMNS if c not in table.columns]
    if not missing:
        return table
    table = table.copy()
    default = Config()
    if "math_fidelity" in missing:
        table["math_fidelity"] = default.math_fidelity
    if "fp32_dest_acc_en" in missing and "dtype" in table.columns:
        table["fp32_dest_acc_en"] = (table["dtype"] == "float32").to_numpy(bool)
    if "dst_full_sync_en" in missing:
        table["dst_full_sync_en"] = default.dst_full_sync_en
    return table


def config_of(row: Mapping[str, Any]) -> Config:
    default = Config()
    fp32 = row.get("fp32_dest_acc_en", default.fp32_dest_acc_en)
    return Config(
        **split_config_of_row(row),
        fn=str(row["fn"]),
        block_tiles=int(row["block_tiles"]),
        buffering=int(row["buffering"]),
        math_fidelity=str(row.get("math_fidelity", default.math_fidelity)),
        fp32_dest_acc_en=None if fp32 is None else bool(fp32),
        dst_full_sync_en=bool(row.get("dst_full_sync_en", default.dst_full_sync_en)),
    )


def program_for_row(row: Mapping[str, Any]) -> Program:
    """The Program of one table row (the columns of `INPUT_COLUMNS`), built by the real factory."""
    return build_row_program(factory.build_program, row, SHAPE_COLUMNS, config_of(row))


def shape_key(program: Program) -> tuple[Hashable, ...]:
    """The shape key of a built program (dtype, fn, block_tiles, math_fidelity, fp32_dest_acc_en,
    dst_full_sync_en), the compute knobs as resolved in its ComputeConfig."""
    cc = program.compute_config
    return (
        program.dtype,
        program.config.fn,
        int(program.config.block_tiles),
        cc.math_fidelity,
        bool(cc.fp32_dest_acc_en),
        bool(cc.dst_full_sync_en),
    )


def unit_programs(device: DeviceProfile, key: tuple[Hashable, ...]) -> tuple[Program, Program]:
    """Single-core programs of one and two blocks for a shape key (see `shape_key`), by the real factory."""
    dtype, fn, block, fidelity, fp32, full_sync = key
    config = Config(
        grid=(1, 1),
        fn=str(fn),
        block_tiles=int(block),
        math_fidelity=str(fidelity),
        fp32_dest_acc_en=bool(fp32),
        dst_full_sync_en=bool(full_sync),
    )
    one = factory.build_program(
        (1, 1, TILE_HEIGHT, TILE_WIDTH * int(block)), device=device, dtype=str(dtype), config=config
    )
    two = factory.build_program(
        (1, 1, TILE_HEIGHT, 2 * TILE_WIDTH * int(block)), device=device, dtype=str(dtype), config=config
    )
    return one, two


@functools.lru_cache(maxsize=4096)
def cb_table(dtype: str, block_tiles: int, buffering: int) -> tuple[CircularBuffer, ...]:
    """The factory's CB table for one (dtype, block, buffering) combination."""
    config = Config(block_tiles=int(block_tiles), buffering=int(buffering))
    return factory.cb_table(get_format(dtype), config)


def cb_table_for_row(row: Mapping[str, Any]) -> tuple[CircularBuffer, ...]:
    return cb_table(str(row["dtype"]), int(row["block_tiles"]), int(row["buffering"]))


def units(table: pd.DataFrame) -> np.ndarray:
    """Blocks per row of the table: ceil(N * C * H/32 * W/32 / block_tiles), like the factory."""
    tiles = (
        table["N"].to_numpy(np.int64)
        * table["C"].to_numpy(np.int64)
        * (table["H"].to_numpy(np.int64) // TILE_HEIGHT)
        * (table["W"].to_numpy(np.int64) // TILE_WIDTH)
    )
    block = np.maximum(table["block_tiles"].to_numpy(np.int64), 1)
    return -(-tiles // block)


def validate_rows(table: pd.DataFrame) -> np.ndarray:
    """Per row: an error message if the shape or config is invalid for the factory, else ''."""
    msgs = tile_shape_row_errors(table, SHAPE_COLUMNS, ("block_tiles", "buffering", "grid_x", "grid_y"))
    fn_ok = table["fn"].isin(list(factory.SFPU_CHAINS)).to_numpy()
    msgs[~fn_ok & (msgs == "")] = f"fn must be one of {', '.join(factory.SFPU_CHAINS)}"
    dtype_ok = table["dtype"].isin(list(factory.DTYPES)).to_numpy()
    msgs[~dtype_ok & (msgs == "")] = f"dtype must be one of {', '.join(factory.DTYPES)}"
    if "math_fidelity" in table.columns:
        fidelity_ok = table["math_fidelity"].isin(list(MATH_FIDELITIES)).to_numpy()
        msgs[~fidelity_ok & (msgs == "")] = f"math_fidelity must be one of {', '.join(MATH_FIDELITIES)}"
    return msgs
