"""What the analytic engine needs to know about centralize_w_rm that only the op can say.

- which table columns describe a shape, a board and a configuration (`INPUT_COLUMNS`, required, and
  `OPTIONAL_COLUMNS`: the design and the compute config, the Config's defaults when absent);
- the *shape key*: the columns the per-unit work depends on (W, dtype, the design and block width, the
  compute config; H, N, C only set how many units);
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

from perfmodel.compute_config import MATH_FIDELITIES
from perfmodel.device import DeviceProfile
from perfmodel.factory_common import build_row_program, split_config_of_row, tile_shape_row_errors
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH
from perfmodel.ops.centralize_w_rm import factory
from perfmodel.ops.centralize_w_rm.config import VARIANTS, Config, default_block_wt
from perfmodel.program import CircularBuffer, Program

OP_NAME = factory.OP_NAME
SHAPE_COLUMNS = ("N", "C", "H", "W")
CONFIG_COLUMNS = ("grid_x", "grid_y", "row_wise", "in_buffering", "out_buffering")
INPUT_COLUMNS = (*SHAPE_COLUMNS, "dtype", "device", *CONFIG_COLUMNS)
# Columns a table may leave out: absent, they take the Config's defaults. An empty cell (None, NaN) of
# block_wt or fp32_dest_acc_en is that default too (None in the Config); of the others it is an error.
_DEFAULT = Config()
OPTIONAL_COLUMNS = {
    "variant": _DEFAULT.variant,
    "block_wt": _DEFAULT.block_wt,
    "math_fidelity": _DEFAULT.math_fidelity,
    "fp32_dest_acc_en": _DEFAULT.fp32_dest_acc_en,
    "dst_full_sync_en": _DEFAULT.dst_full_sync_en,
}
# Column types, for the generic per-row validation of `estimate_many` (perfmodel/analytic/columns.py);
# block_wt and fp32_dest_acc_en, which may be empty, are checked by `validate_rows`.
INTEGER_COLUMNS = (*SHAPE_COLUMNS, "grid_x", "grid_y", "in_buffering", "out_buffering")
BOOLEAN_COLUMNS = ("row_wise", "dst_full_sync_en")
STRING_COLUMNS = ("dtype", "device", "variant", "math_fidelity")
# The per-unit work depends only on these (plus the device): a tile row of W values in dtype, the design
# with its block width (resolved; 0 for the single pass) and the compute config (fp32_dest_acc_en resolved).
KEY_COLUMNS = ("W", "dtype", "variant", "block_wt", "math_fidelity", "fp32_dest_acc_en", "dst_full_sync_en")
# Columns that scale CB capacities (pages of c_0 and c_16 as multiples of Wt).
BUFFER_COLUMNS = ("in_buffering", "out_buffering")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and np.isnan(value))


def _design_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The design and compute-config fields of a row; absent or empty optional cells give the defaults."""
    fields = {}
    for name, default in OPTIONAL_COLUMNS.items():
        value = row.get(name, default)
        fields[name] = default if _empty(value) else value
    if fields["block_wt"] is not None:
        fields["block_wt"] = int(fields["block_wt"]) or None  # 0: the resolved "no block" of the single pass
    if fields["fp32_dest_acc_en"] is not None:
        fields["fp32_dest_acc_en"] = bool(fields["fp32_dest_acc_en"])
    fields["dst_full_sync_en"] = bool(fields["dst_full_sync_en"])
    return fields


def config_of(row: Mapping[str, Any]) -> Config:
    return Config(
        **split_config_of_row(row),
        in_buffering=int(row["in_buffering"]),
        out_buffering=int(row["out_buffering"]),
        **_design_of(row),
    )


def program_for_row(row: Mapping[str, Any]) -> Program:
    """The Program of one table row (the columns of `INPUT_COLUMNS`), built by the real factory."""
    return build_row_program(factory.build_program, row, SHAPE_COLUMNS, config_of(row))


def shape_key(program: Program) -> tuple[Hashable, ...]:
    """The shape key of a built program, in the order of `KEY_COLUMNS`."""
    cc = program.compute_config
    return (
        program.shape[-1],
        program.dtype,
        program.config.variant,
        int(program.attributes.get("block_wt", 0)),
        cc.math_fidelity,
        bool(cc.fp32_dest_acc_en),
        bool(cc.dst_full_sync_en),
    )


def _key_config(key: tuple[Hashable, ...], **fields: Any) -> Config:
    """The Config of a shape key; a key cut short after (W, dtype) takes the defaults for the rest."""
    defaults = ("single_pass", 0, _DEFAULT.math_fidelity, None, _DEFAULT.dst_full_sync_en)
    variant, block_wt, math_fidelity, fp32, full_sync = (*key[2:], *defaults[len(key) - 2 :])
    return Config(
        variant=str(variant),
        block_wt=int(block_wt) or None,  # type: ignore[call-overload]
        math_fidelity=str(math_fidelity),
        fp32_dest_acc_en=None if fp32 is None else bool(fp32),
        dst_full_sync_en=bool(full_sync),
        **fields,
    )


def unit_programs(device: DeviceProfile, key: tuple[Hashable, ...]) -> tuple[Program, Program]:
    """Single-core programs of one and two tile rows for a shape key (`KEY_COLUMNS`), by the real factory."""
    w, dtype = int(key[0]), str(key[1])  # type: ignore[call-overload]
    config = _key_config(key, grid=(1, 1))
    one = factory.build_program((1, 1, TILE_HEIGHT, w), device=device, dtype=dtype, config=config)
    two = factory.build_program((1, 1, 2 * TILE_HEIGHT, w), device=device, dtype=dtype, config=config)
    return one, two


@functools.lru_cache(maxsize=4096)
def cb_table(
    w: int, dtype: str, in_buffering: int, out_buffering: int, variant: str = "single_pass", block_wt: int = 0
) -> tuple[CircularBuffer, ...]:
    """The factory's CB table for one (W, dtype, buffering, design) combination; block_wt 0 is the default."""
    config = Config(
        in_buffering=int(in_buffering),
        out_buffering=int(out_buffering),
        variant=variant,
        block_wt=int(block_wt) or None,
    )
    return factory.cb_table(int(w) // TILE_WIDTH, get_format(dtype), config)


def cb_table_for_row(row: Mapping[str, Any]) -> tuple[CircularBuffer, ...]:
    design = _design_of(row)
    return cb_table(
        int(row["W"]),
        str(row["dtype"]),
        int(row["in_buffering"]),
        int(row["out_buffering"]),
        str(design["variant"]),
        int(design["block_wt"] or 0),
    )


def units(table: pd.DataFrame) -> np.ndarray:
    """Tile rows per row of the table: N * C * H / 32 (all outer dims, like the factory)."""
    return (
        table["N"].to_numpy(np.int64) * table["C"].to_numpy(np.int64) * (table["H"].to_numpy(np.int64) // TILE_HEIGHT)
    )


def validate_rows(table: pd.DataFrame) -> np.ndarray:
    """Per row: an error message if the shape or config is invalid for the factory, else ''.

    It also completes `table` (the engine's cleaned copy) in place with the resolved `OPTIONAL_COLUMNS`, so
    that the shape key of every row is read from columns: absent columns take the defaults, block_wt the
    two-pass default block for the row's Wt (0 for the single pass), fp32_dest_acc_en the dtype's default.
    """
    msgs = tile_shape_row_errors(table, SHAPE_COLUMNS, ("in_buffering", "out_buffering", "grid_x", "grid_y"))
    rows = len(table)

    def column(name: str) -> np.ndarray:
        if name in table.columns:
            return table[name].to_numpy(object)
        return np.full(rows, OPTIONAL_COLUMNS[name], dtype=object)

    def note(r: int, message: str) -> None:
        if msgs[r] == "":
            msgs[r] = message

    variant = column("variant")
    for r in np.flatnonzero(~np.isin(variant, VARIANTS)):
        note(r, f"variant = {variant[r]!r} is not one of {', '.join(VARIANTS)}")
    fidelity = column("math_fidelity")
    for r in np.flatnonzero(~np.isin(fidelity, MATH_FIDELITIES)):
        note(r, f"math_fidelity = {fidelity[r]!r} is not one of {', '.join(MATH_FIDELITIES)}")
    full_sync = column("dst_full_sync_en").astype(bool)  # checked as a boolean column by the engine

    fp32 = table["dtype"].to_numpy(object) == "float32"
    cells = ()
    if "fp32_dest_acc_en" in table.columns:
        if table["fp32_dest_acc_en"].dtype == bool:  # a boolean column: every cell is its own value
            fp32 = table["fp32_dest_acc_en"].to_numpy(dtype=bool).copy()
        else:
            cells = column("fp32_dest_acc_en")
    for r, cell in enumerate(cells):
        cell = cell.item() if isinstance(cell, np.generic) else cell
        if _empty(cell):
            continue
        if isinstance(cell, bool) or (isinstance(cell, int) and cell in (0, 1)):
            fp32[r] = bool(cell)
        else:
            note(r, f"fp32_dest_acc_en = {cell!r} is not a boolean or empty")

    wt = np.maximum(table["W"].to_numpy(np.int64) // TILE_WIDTH, 1)
    two_pass = variant == "two_pass"
    defaults = {int(w): default_block_wt(int(w)) for w in np.unique(wt[two_pass])}
    block = np.array([defaults[int(w)] if t else 0 for w, t in zip(wt, two_pass, strict=True)], dtype=np.int64)
    cells = column("block_wt") if "block_wt" in table.columns else np.empty(0, dtype=object)
    # Empty cells and plain ints that pass every check below are taken at once; the other cells one by one.
    empty = np.fromiter((cell is None for cell in cells), dtype=bool, count=len(cells))
    plain = np.fromiter((type(cell) is int and 0 < cell < 2**62 for cell in cells), dtype=bool, count=len(cells))
    value = np.where(plain, cells, 1).astype(np.int64) if len(cells) else np.zeros(0, dtype=np.int64)
    fine = plain & two_pass & (value <= wt) & (wt % value == 0) if len(cells) else plain
    block[fine] = value[fine]
    for r in np.flatnonzero(~(empty | fine)):
        cell = cells[r]
        cell = cell.item() if isinstance(cell, np.generic) else cell
        if _empty(cell):
            continue
        whole = isinstance(cell, int | float) and not isinstance(cell, bool) and float(cell).is_integer()
        if not whole or cell < 1:
            note(r, f"block_wt = {int(cell) if whole else cell!r} is not a positive integer or empty")
        elif not two_pass[r]:
            note(r, f"block_wt = {int(cell)} is a knob of variant 'two_pass'")
        elif cell > wt[r]:
            note(r, f"block_wt = {int(cell)} is wider than the row: Wt = {wt[r]}")
        elif wt[r] % int(cell):
            note(r, f"block_wt = {int(cell)} does not divide Wt = {wt[r]}")
        else:
            block[r] = int(cell)

    # Resolved, with harmless values in invalid rows (their messages are already set).
    table["variant"] = np.where(np.isin(variant, VARIANTS), variant, "single_pass").astype(object)
    table["block_wt"] = np.where(table["variant"].to_numpy(object) == "two_pass", block, 0).astype(np.int64)
    table["math_fidelity"] = np.where(np.isin(fidelity, MATH_FIDELITIES), fidelity, "HiFi4").astype(object)
    table["fp32_dest_acc_en"] = fp32
    table["dst_full_sync_en"] = full_sync
    return msgs
