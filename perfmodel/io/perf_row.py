"""One profiler row as an op sees it: the cell parser and the two answers an op gives about a row.

An op that models real runs has `ops/<name>/perf.py` with `OP_CODES` (the profiler's OP CODE values it
models) and `problem_from_row(row, device) -> Problem | Skip`, where `row` is one `ops_perf_results` row
as {column: cell text}. `Problem` is what to build; `Skip` says why the row is not modelled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfmodel.errors import InputError

_CELL = re.compile(r"^\s*(\d+)\s*(?:\[\s*(\d+)\s*\])?\s*$")


@dataclass(frozen=True)
class Problem:
    """The program a row ran: tensor shape, data type, the op's config fields and the factory expected."""

    shape: tuple[int, ...]
    dtype: str
    config: Mapping[str, Any]
    factory: str


@dataclass(frozen=True)
class Skip:
    """A row the op does not model, and why (sharded, L1, padding, ...)."""

    reason: str


def parse_cell(text: str) -> tuple[int, int]:
    """A tensor-dim cell: '32[19]' -> (32, 19) (padded, logical); a plain '64' (older files) -> (64, 64)."""
    match = _CELL.match(str(text))
    if not match:
        raise InputError(f"tensor dim cell {text!r} is not 'padded[logical]' or a whole number")
    padded = int(match.group(1))
    logical = int(match.group(2)) if match.group(2) is not None else padded
    return padded, logical
