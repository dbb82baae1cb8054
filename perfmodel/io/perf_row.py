"""What an op says about one row of a tt-metal `ops_perf_results` CSV: the problem it models, or why not.

Each op package that models real profiler rows has a module `ops/<name>/perf.py` with
- `OP_CODES: tuple[str, ...]`: the `OP CODE` values it models;
- `problem_from_row(row, device) -> Problem | Skip`: `row` is one CSV row as {column name: cell string}.

This module holds the two records and the cell parsers they share. Tensor dims are cells `padded[logical]`
(newer files, e.g. `32[19]`) or plain numbers (older files); `W, Z, Y, X` are the 4-D dims outermost first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from perfmodel.errors import InputError

DIMS = ("W", "Z", "Y", "X")
_CELL = re.compile(r"^\s*(\d+)\s*(?:\[\s*(\d+)\s*\])?\s*$")
# tt-metal DataType names in the CSV -> the project's data format names.
DTYPES = {"BFLOAT16": "bfloat16", "FLOAT32": "float32", "BFLOAT8_B": "bfloat8_b"}


@dataclass(frozen=True)
class Problem:
    """A row the op models: build it with `perfmodel.get_op(op).build_program(shape, device=..., dtype=dtype,
    config=config)`. `factory` is the program factory tt-metal picks for it (the op's name for it)."""

    op: str
    shape: tuple[int, ...]
    dtype: str
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    factory: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", MappingProxyType(dict(self.config)))


@dataclass(frozen=True)
class Skip:
    """A row the op does not model, and why (sharded, L1 memory, a data type or a factory not modelled...)."""

    reason: str


def parse_dim(cell: str) -> tuple[int, int]:
    """`'32[19]'` -> (32, 19) (padded, logical); `'32'` -> (32, 32). InputError names a malformed cell."""
    match = _CELL.match(str(cell))
    if match is None:
        raise InputError(f"tensor dim cell {cell!r} is not 'padded[logical]' or a number")
    padded = int(match.group(1))
    logical = int(match.group(2)) if match.group(2) is not None else padded
    return padded, logical


def tensor_dims(row: Mapping[str, str], prefix: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(padded, logical) 4-D shapes of tensor `prefix` ('INPUT_0', 'OUTPUT_0') from either column set."""
    padded, logical = [], []
    for dim in DIMS:
        for column in (f"{prefix}_{dim}_PAD[LOGICAL]", f"{prefix}_{dim}"):
            if column in row and str(row[column]).strip() not in ("", "nan"):
                p, lg = parse_dim(row[column])
                break
        else:
            raise InputError(f"row has no {prefix}_{dim} column")
        padded.append(p)
        logical.append(lg)
    return tuple(padded), tuple(logical)


def data_format(cell: str) -> str | None:
    """The project's format name for a tt-metal DataType cell, None if the name is not one we know."""
    return DTYPES.get(str(cell).strip().upper())


def memory_skip(row: Mapping[str, str], prefix: str) -> Skip | None:
    """A Skip unless tensor `prefix` is interleaved in DRAM (`DEV_<n>_DRAM_INTERLEAVED`)."""
    memory = str(row.get(f"{prefix}_MEMORY", "")).strip().upper()
    if "SHARDED" in memory:
        return Skip(f"{prefix} is sharded ({memory})")
    if "L1" in memory:
        return Skip(f"{prefix} is in L1 ({memory})")
    if "DRAM_INTERLEAVED" not in memory:
        return Skip(f"{prefix} memory {memory or 'missing'} is not DRAM interleaved")
    return None


def layout_row_code(row: Mapping[str, str], op_codes: tuple[str, ...], op: str, layouts: tuple[str, str]) -> str | Skip:
    """The `OP CODE` of a row of a layout op (`op`), or a Skip: a code not in `op_codes`, layouts other than
    `layouts` (input, output), or a tensor not interleaved in DRAM."""
    code = str(row.get("OP CODE", "")).strip()
    if code not in op_codes:
        return Skip(f"op code {code!r} is not {op}")
    found = (str(row.get("INPUT_0_LAYOUT", "")).strip(), str(row.get("OUTPUT_0_LAYOUT", "")).strip())
    if found != layouts:
        return Skip(f"layouts {found[0]} -> {found[1]} are not {layouts[0]} -> {layouts[1]}")
    for prefix in ("INPUT_0", "OUTPUT_0"):
        skip = memory_skip(row, prefix)
        if skip is not None:
            return skip
    return code


def sub_core_grids_skip(attrs: Mapping[str, str]) -> Skip | None:
    """A Skip when the op's ATTRIBUTES set `sub_core_grids` (not modelled)."""
    if attrs.get("sub_core_grids", "std::nullopt") != "std::nullopt":
        return Skip(f"sub_core_grids {attrs['sub_core_grids']} is not modelled")
    return None


def row_format(row: Mapping[str, str], prefix: str, device: Any) -> str | Skip:
    """The data format name of tensor `prefix`, or a Skip when the project or `device` does not model it."""
    from perfmodel.numerics.formats import get_format

    cell = str(row.get(f"{prefix}_DATATYPE", "")).strip()
    name = data_format(cell)
    try:
        if name is None:
            raise InputError(cell)
        get_format(name)
        device.compute_for(name)
    except InputError:
        return Skip(f"{prefix} data type {cell or 'missing'} is not modelled")
    return name


def row_formats(row: Mapping[str, str], device: Any) -> tuple[str, str] | Skip:
    """(input, output) data format names of a row, or the Skip of the first one not modelled."""
    fmt_in = row_format(row, "INPUT_0", device)
    fmt_out = row_format(row, "OUTPUT_0", device)
    if isinstance(fmt_in, Skip):
        return fmt_in
    if isinstance(fmt_out, Skip):
        return fmt_out
    return fmt_in, fmt_out


def row_grid(
    row: Mapping[str, str], attrs: Mapping[str, str], device: Any, cores: int | None = None
) -> tuple[int, int] | Skip:
    """The core grid of a layout op's row: the ATTRIBUTES grid, else a rectangle of `cores`, the row's
    `AVAILABLE WORKER CORE COUNT` or the board's workers; a Skip when they form no rectangle of the board."""
    cores = cores or worker_cores(row) or device.core.num_workers
    try:
        return attribute_grid(attrs, device) or grid_for(cores, device.core.grid_x, device.core.grid_y)
    except InputError as exc:
        return Skip(str(exc))


def worker_cores(row: Mapping[str, str]) -> int | None:
    """`AVAILABLE WORKER CORE COUNT` of the row (the grid the op could use), None when the file lacks it."""
    cell = str(row.get("AVAILABLE WORKER CORE COUNT", "")).strip()
    if cell in ("", "nan"):
        return None
    try:
        return int(float(cell))
    except ValueError:
        raise InputError(f"AVAILABLE WORKER CORE COUNT {cell!r} is not a number") from None


def grid_for(cores: int, grid_x: int, grid_y: int) -> tuple[int, int]:
    """A rectangle (x, y) of exactly `cores` cores inside a grid_x x grid_y board, as square as possible.

    The layout ops' splits depend on the number of cores only; the rectangle sets which cores (NoC routes).
    """
    fits = [(x, cores // x) for x in range(1, grid_x + 1) if cores % x == 0 and cores // x <= grid_y]
    if not fits:
        raise InputError(f"{cores} worker cores do not form a rectangle inside the {grid_x}x{grid_y} grid")
    return min(fits, key=lambda xy: (abs(xy[0] - xy[1]), -xy[0]))


_ATTRIBUTE = re.compile(r"'([^']+)'\s*:\s*'([^']*)'")


def attributes(row: Mapping[str, str]) -> dict[str, str]:
    """The op's `ATTRIBUTES` cell (`{'name': 'value'; ...}`) as a dict of strings; {} when absent."""
    return dict(_ATTRIBUTE.findall(str(row.get("ATTRIBUTES", ""))))


def attribute_grid(attrs: Mapping[str, str], device: Any) -> tuple[int, int] | None:
    """The core grid a row written by this tool carries in its ATTRIBUTES ('grid': '5x4'), None when absent
    or not a grid of the board (tt-metal's own rows carry no such attribute)."""
    text = str(attrs.get("grid", "")).strip()
    gx, sep, gy = text.partition("x")
    if not sep or not gx.isdigit() or not gy.isdigit():
        return None
    grid = (int(gx), int(gy))
    if not (1 <= grid[0] <= device.core.grid_x and 1 <= grid[1] <= device.core.grid_y):
        return None
    return grid


def number(cell: str, what: str) -> float:
    """A numeric cell as a float; InputError naming the cell otherwise."""
    try:
        return float(str(cell).strip())
    except ValueError:
        raise InputError(f"{what} {cell!r} is not a number") from None
