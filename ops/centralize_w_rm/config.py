"""The factory configuration of centralize_w_rm: core grid, split order and CB buffering factors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfmodel.op import coerce_config


@dataclass(frozen=True)
class Config:
    """`grid` (x, y) handed to split_work_to_cores (None: the board's worker grid); `row_wise` split order;
    `in_buffering` / `out_buffering`: pages of c_0 / c_16 as a multiple of Wt (2 = double-buffered)."""

    grid: tuple[int, int] | None = None
    row_wise: bool = False
    in_buffering: int = 2
    out_buffering: int = 2

    @classmethod
    def coerce(cls, config: Config | Mapping[str, Any] | None) -> Config:
        """Accept a Config, a plain dict of its fields, or None (defaults)."""
        return coerce_config(cls, config, "centralize_w_rm")
