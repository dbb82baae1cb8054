"""The factory configuration of the unary op: core grid, split order, function, block size and CB depth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfmodel.compute_config import ComputeKnobs
from perfmodel.op import coerce_config


@dataclass(frozen=True)
class Config(ComputeKnobs):
    """`grid` (x, y) handed to split_work_to_cores (None: the board's worker grid); `row_wise` split order;
    `fn` the function (`copy` or `relu`); `block_tiles` tiles per CB transaction of the reader and the writer
    (and reads or writes per barrier or flush); `buffering` CB depth in blocks: c_0 and c_2 hold
    block_tiles x buffering pages (1 single, 2 double buffered). The defaults are ttnn's UnaryProgramFactory:
    one tile per transaction, two pages per CB. `math_fidelity`, `fp32_dest_acc_en`, `dst_full_sync_en`: the
    compute kernel's ComputeConfig (`ComputeKnobs`)."""

    grid: tuple[int, int] | None = None
    row_wise: bool = False
    fn: str = "relu"
    block_tiles: int = 1
    buffering: int = 2
    math_fidelity: str = "HiFi4"
    fp32_dest_acc_en: bool | None = None
    dst_full_sync_en: bool = False

    @classmethod
    def coerce(cls, config: Config | Mapping[str, Any] | None) -> Config:
        """Accept a Config, a plain dict of its fields, or None (defaults)."""
        return coerce_config(cls, config, "unary")
