"""Checks and tables an op's program factory (and its `model.py`) shares with the other ops.

- `validate_tile_shape`: a shape [..., H, W] of rank >= 2, positive dims, H and W whole tiles;
- `validate_dims`: a shape (or an output shape) of rank >= 2 with positive integer dims, any multiple;
- `validate_grid`: the core grid to split over (the board's when None), checked against the board;
- `swap_kernels`: a factory's kernel mirrors with the caller's `kernels` swapped in, refusing unknown slots;
- `positive_int`: a config field that must be an integer >= 1;
- `interleaved_in_out`: the input and output DRAM buffers of an op that reads one tensor and writes one of the
  same page count, interleaved, the output after the input in each bank;
- `tile_shape_row_errors`: the table form of the shape and config checks, for `model.validate_rows`;
- `planned_per_row` and `plan_row_errors`: a count of an op's cached per-row plan, and the plan's error, per row
  of a table, for `model.split_counts` and `model.validate_rows`;
- `split_config_of_row` and `build_row_program`: a table row's grid and split order, and its Program, for
  `model.config_of` and `model.program_for_row`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from perfmodel.device import DeviceProfile
from perfmodel.errors import InputError, PerfModelError
from perfmodel.numerics.formats import DataFormat
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH
from perfmodel.program import DramBuffer, Program

if TYPE_CHECKING:
    import pandas as pd


def validate_tile_shape(shape: Sequence[int], op_name: str) -> tuple[int, ...]:
    """Shape [..., H, W] with rank >= 2, positive dims, H and W multiples of 32, as a tuple of ints."""
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"shape must be a sequence of integers, got {shape!r}") from None
    if any(isinstance(d, bool) or int(d) != d for d in shape):
        raise InputError(f"shape must be a sequence of integers, got {shape!r}")
    if len(dims) < 2:
        raise InputError(f"shape {list(dims)} has rank {len(dims)}; {op_name} needs rank >= 2")
    for d in dims:
        if d <= 0:
            raise InputError(f"shape {list(dims)} has a non-positive dim {d}")
    h, w = dims[-2:]
    if h % TILE_HEIGHT:
        raise InputError(f"H = {h} is not a multiple of {TILE_HEIGHT}")
    if w % TILE_WIDTH:
        raise InputError(f"W = {w} is not a multiple of {TILE_WIDTH}")
    return dims


def validate_dims(shape: Sequence[int], what: str, op_name: str) -> tuple[int, ...]:
    """`shape` (named `what` in errors) as a tuple of ints: rank >= 2, positive dims, no bools or fractions."""
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a sequence of integers, got {shape!r}") from None
    if any(isinstance(d, bool) or int(d) != d for d in shape):
        raise InputError(f"{what} must be a sequence of integers, got {shape!r}")
    if len(dims) < 2:
        raise InputError(f"{what} {list(dims)} has rank {len(dims)}; {op_name} needs rank >= 2")
    if any(d <= 0 for d in dims):
        raise InputError(f"{what} {list(dims)} has a non-positive dim")
    return dims


def validate_grid(grid: Any, device: DeviceProfile) -> tuple[int, int]:
    """`grid` (x, y), or the board's worker grid when None: two integers, at least 1x1, within the board."""
    if grid is None:
        grid = (device.core.grid_x, device.core.grid_y)
    if (
        not isinstance(grid, tuple | list)
        or len(grid) != 2
        or any(isinstance(g, bool) or not isinstance(g, int | np.integer) for g in grid)
    ):
        raise InputError(f"grid must be two integers (x, y), got {grid!r}")
    gx, gy = int(grid[0]), int(grid[1])
    if gx < 1 or gy < 1:
        raise InputError(f"grid {gx}x{gy} must be at least 1x1")
    if gx > device.core.grid_x or gy > device.core.grid_y:
        raise InputError(
            f"grid {gx}x{gy} is larger than {device.name}'s worker grid {device.core.grid_x}x{device.core.grid_y}"
        )
    return gx, gy


def swap_kernels(chosen: Mapping[str, Any], kernels: Mapping[str, Any] | None) -> dict[str, Any]:
    """`chosen` (slot -> kernel mirror) with the slots of `kernels` swapped in; InputError on an unknown slot."""
    for name in kernels or {}:
        if name not in chosen:
            raise InputError(f"unknown kernel slot {name!r} (known: {', '.join(chosen)})")
    return {**chosen, **(kernels or {})}


def positive_int(name: str, value: Any) -> int:
    """`value` as an int if it is an integer >= 1 (not a bool), else an InputError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{name} = {value!r} must be an integer >= 1")
    return int(value)


def interleaved_in_out(
    pages: int, page_bytes: int, fmt: DataFormat, device: DeviceProfile, what: str
) -> tuple[DramBuffer, DramBuffer]:
    """Input and output of `pages` pages each, interleaved over the banks; the output after the input in each bank.

    `what` names the tensor in the error when both do not fit in the board's DRAM.
    """
    align = device.dram.alignment_bytes
    aligned = -(-page_bytes // align) * align
    per_bank_bytes = -(-pages // device.dram.num_banks) * aligned
    if 2 * per_bank_bytes > device.dram.capacity_bytes // device.dram.num_banks:
        raise InputError(
            f"{what}: input and output need {2 * pages * page_bytes} bytes of DRAM, "
            f"more than {device.name}'s {device.dram.capacity_bytes}"
        )
    return (
        DramBuffer("input", pages, page_bytes, aligned, 0, fmt.name),
        DramBuffer("output", pages, page_bytes, aligned, per_bank_bytes, fmt.name),
    )


def tile_shape_row_errors(
    table: pd.DataFrame, shape_columns: Sequence[str], positive_columns: Sequence[str]
) -> np.ndarray:
    """Per row of the table: the first failed check of `validate_tile_shape` and `positive_int` as a message, else ''.

    The shape is `shape_columns` (H and W among them); `positive_columns` must be >= 1. Returns an object array
    an op's `validate_rows` may fill further.
    """
    h = table["H"].to_numpy(np.int64)
    w = table["W"].to_numpy(np.int64)
    msgs = np.full(len(table), "", dtype=object)
    bad_dims = (table[list(shape_columns)].to_numpy(np.int64) <= 0).any(axis=1)
    msgs[bad_dims] = "non-positive dim"
    msgs[(h % TILE_HEIGHT != 0) & (msgs == "")] = f"H is not a multiple of {TILE_HEIGHT}"
    msgs[(w % TILE_WIDTH != 0) & (msgs == "")] = f"W is not a multiple of {TILE_WIDTH}"
    for col in positive_columns:
        msgs[(table[col].to_numpy(np.int64) < 1) & (msgs == "")] = f"{col} must be >= 1"
    return msgs


def planned_per_row(
    table: pd.DataFrame,
    key_columns: Sequence[str],
    key: Callable[[Mapping[str, Any]], Any],
    plan: Callable[[Any], Sequence[Any]],
    index: int,
) -> np.ndarray:
    """Per row of the table: item `index` (a count) of `plan(key(row))` over `key_columns`, 0 where it fails."""
    out = np.zeros(len(table), dtype=np.int64)
    for i, row in enumerate(table[list(key_columns)].itertuples(index=False)):
        try:
            out[i] = plan(key(row._asdict()))[index]
        except (PerfModelError, ValueError, TypeError):
            out[i] = 0
    return out


def plan_row_errors(
    table: pd.DataFrame,
    key_columns: Sequence[str],
    key: Callable[[Mapping[str, Any]], Any],
    plan: Callable[[Any], Any],
) -> np.ndarray:
    """Per row of the table: the error message of `plan(key(row))` over `key_columns`, else ''."""
    msgs = np.full(len(table), "", dtype=object)
    for i, row in enumerate(table[list(key_columns)].itertuples(index=False)):
        try:
            plan(key(row._asdict()))
        except PerfModelError as exc:
            msgs[i] = str(exc)
        except (ValueError, TypeError) as exc:
            msgs[i] = f"invalid row: {exc}"
    return msgs


def split_config_of_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The `grid` and `row_wise` config fields of a table row (columns grid_x, grid_y, row_wise)."""
    return {"grid": (int(row["grid_x"]), int(row["grid_y"])), "row_wise": bool(row["row_wise"])}


def build_row_program(
    build_program: Callable[..., Program], row: Mapping[str, Any], shape_columns: Sequence[str], config: Any
) -> Program:
    """`build_program` (an op's factory) on the shape (`shape_columns`), board and dtype of a table row."""
    shape = tuple(int(row[c]) for c in shape_columns)
    return build_program(shape, device=str(row["device"]), dtype=str(row["dtype"]), config=config)
