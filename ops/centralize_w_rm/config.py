"""The factory configuration of centralize_w_rm: core grid, split order, CB buffering, compute config, design."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfmodel.compute_config import ComputeKnobs
from perfmodel.op import coerce_config

VARIANTS = ("single_pass", "two_pass")
# The widest default block of the two-pass design: 8 tiles keep untilize on pack_untilize, and its CBs small.
DEFAULT_MAX_BLOCK_WT = 8


def default_block_wt(wt: int) -> int:
    """The two-pass block width when the config leaves it None: the largest divisor of `wt` that is <= 8."""
    return max(d for d in range(1, min(wt, DEFAULT_MAX_BLOCK_WT) + 1) if wt % d == 0)


@dataclass(frozen=True)
class Config(ComputeKnobs):
    """`grid` (x, y) handed to split_work_to_cores (None: the board's worker grid); `row_wise` split order;
    `in_buffering` / `out_buffering`: pages of c_0 / c_16 as a multiple of their block (2 = double-buffered);
    `math_fidelity`, `fp32_dest_acc_en`, `dst_full_sync_en`: the compute kernel's ComputeConfig (`ComputeKnobs`);
    `variant`: "single_pass" holds a whole tile row in L1 (the upstream design), "two_pass" streams each row
    twice in blocks of `block_wt` tiles so that any width fits L1; `block_wt` must divide Wt (a narrower last
    block would overrun the block CBs' rings) and None means `default_block_wt(Wt)`: the largest divisor of
    Wt that is at most 8 (`DEFAULT_MAX_BLOCK_WT`), the same on every board."""

    grid: tuple[int, int] | None = None
    row_wise: bool = False
    in_buffering: int = 2
    out_buffering: int = 2
    variant: str = "single_pass"
    block_wt: int | None = None
    math_fidelity: str = "HiFi4"
    fp32_dest_acc_en: bool | None = None
    dst_full_sync_en: bool = False

    @classmethod
    def coerce(cls, config: Config | Mapping[str, Any] | None) -> Config:
        """Accept a Config, a plain dict of its fields, or None (defaults)."""
        return coerce_config(cls, config, "centralize_w_rm")
