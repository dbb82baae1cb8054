"""The factory configuration of centralize_w_rm: core grid, split order and CB buffering factors."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfmodel.errors import InputError


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
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        if not isinstance(config, Mapping):
            raise InputError(f"config must be a Config or a dict of its fields, got {type(config).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise InputError(f"unknown config field {unknown[0]!r} (known: {', '.join(sorted(names))})")
        values = dict(config)
        if values.get("grid") is not None:
            values["grid"] = tuple(values["grid"])
        return cls(**values)
