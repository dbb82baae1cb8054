"""The search space of centralize_w_rm: the core grid handed to the split, the split order and the buffering.

Domains follow the board: `grid_x` 1..worker grid x, `grid_y` 1..worker grid y; `in_buffering` and
`out_buffering` (pages of c_0 / c_16 as multiples of Wt) 1..4. Which points fit in L1 is the models' verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfmodel.device import load_device
from perfmodel.ops.centralize_w_rm import factory
from perfmodel.ops.centralize_w_rm.config import Config
from perfmodel.space import Knob, SearchSpace, device_column, grid_defaults, grid_knobs, table_shape_columns

MAX_BUFFERING = 4


def search_space(shape: Sequence[int], *, device: Any, dtype: str = "bfloat16") -> SearchSpace:
    dims = factory.validate_shape(shape)
    board = load_device(device)
    fmt = factory.data_format(dtype)
    default = Config()
    # The table describes the problem by N, C, H, W; outer dims beyond 4-D fold into N (units are N*C*Ht).
    fixed = {**table_shape_columns(dims), "dtype": fmt.name, "device": device_column(device)}
    knobs = (
        *grid_knobs(board),
        Knob("in_buffering", tuple(range(1, MAX_BUFFERING + 1)), "pages of c_0 (cb_in_rm) as a multiple of Wt"),
        Knob("out_buffering", tuple(range(1, MAX_BUFFERING + 1)), "pages of c_16 (cb_out_rm) as a multiple of Wt"),
    )
    defaults = {
        **grid_defaults(board, default.row_wise),
        "in_buffering": default.in_buffering,
        "out_buffering": default.out_buffering,
    }
    return SearchSpace(factory.OP_NAME, fixed, knobs, defaults)
