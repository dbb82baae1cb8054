"""The factory configuration of tilize: the core grid handed to the split, and tilize_with_val_padding's pad."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfmodel.op import coerce_config


@dataclass(frozen=True)
class Config:
    """`grid` (x, y): the cores the op may use (tt-metal's sub_core_grids; None: the board's worker grid).
    `padded_shape`: the output's padded shape (None: H and W rounded up to 32); when it differs from the
    input shape the op is tilize_with_val_padding and fills the new rows and columns with `pad_value`.
    `output_dtype`: the output tiles' data format (None: the input's). `with_val_padding`: run
    tilize_with_val_padding's factories (None: when the output is padded; True also for an aligned shape).
    `row_wise`: the order the Interleaved factory hands tile rows to cores: False (None), column by column as
    tt-metal's G1/G2 factories walk `corerange_to_cores(row_wise=false)`; True, row by row as older factories.
    Only which cores run which blocks changes (NoC routes), never how many."""

    grid: tuple[int, int] | None = None
    pad_value: float = 0.0
    padded_shape: tuple[int, ...] | None = None
    output_dtype: str | None = None
    with_val_padding: bool | None = None
    row_wise: bool | None = None

    @classmethod
    def coerce(cls, config: Config | Mapping[str, Any] | None) -> Config:
        """Accept a Config, a plain dict of its fields, or None (defaults)."""
        return coerce_config(cls, config, "tilize")
