"""The factory configuration of untilize: the core grid, and untilize_with_unpadding's output shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfmodel.op import coerce_config


@dataclass(frozen=True)
class Config:
    """`grid` (x, y): the cores the op may use (None: the board's worker grid). `output_shape`: the logical
    output (None: the input's shape); smaller in H or W makes the op untilize_with_unpadding, which drops the
    padding. `output_dtype`: the output sticks' data format (None: the input's). `row_wise`: the order tile rows
    go to cores: True (None), row by row as tt-metal's factory assigns its runtime args; False, column by
    column. Only which cores run which blocks changes (NoC routes), never how many."""

    grid: tuple[int, int] | None = None
    output_shape: tuple[int, ...] | None = None
    output_dtype: str | None = None
    row_wise: bool | None = None

    @classmethod
    def coerce(cls, config: Config | Mapping[str, Any] | None) -> Config:
        """Accept a Config, a plain dict of its fields, or None (defaults)."""
        return coerce_config(cls, config, "untilize")
