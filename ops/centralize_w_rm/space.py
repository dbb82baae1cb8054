"""The search space of centralize_w_rm: the core grid handed to the split, the split order and the buffering.

Domains follow the board: `grid_x` 1..worker grid x, `grid_y` 1..worker grid y; `in_buffering` and
`out_buffering` (pages of c_0 / c_16 as multiples of Wt) 1..4. Which points fit in L1 is the models' verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from perfmodel.device import load_device
from perfmodel.ops.centralize_w_rm import factory
from perfmodel.ops.centralize_w_rm.config import Config
from perfmodel.space import Knob, SearchSpace, device_column

MAX_BUFFERING = 4


def search_space(shape: Sequence[int], *, device: Any, dtype: str = "bfloat16") -> SearchSpace:
    dims = factory.validate_shape(shape)
    board = load_device(device)
    fmt = factory.data_format(dtype)
    # The table describes the problem by N, C, H, W; outer dims beyond 4-D fold into N (units are N*C*Ht).
    outer = dims[:-2]
    c = outer[-1] if outer else 1
    n = math.prod(outer[:-1]) if len(outer) > 1 else 1
    default = Config()
    fixed = {
        "N": n,
        "C": c,
        "H": dims[-2],
        "W": dims[-1],
        "dtype": fmt.name,
        "device": device_column(device),
    }
    knobs = (
        Knob("grid_x", tuple(range(1, board.core.grid_x + 1)), "columns of the core grid handed to the split"),
        Knob("grid_y", tuple(range(1, board.core.grid_y + 1)), "rows of the core grid handed to the split"),
        Knob("row_wise", (False, True), "fill cores row by row instead of column by column"),
        Knob("in_buffering", tuple(range(1, MAX_BUFFERING + 1)), "pages of c_0 (cb_in_rm) as a multiple of Wt"),
        Knob("out_buffering", tuple(range(1, MAX_BUFFERING + 1)), "pages of c_16 (cb_out_rm) as a multiple of Wt"),
    )
    defaults = {
        "grid_x": board.core.grid_x,
        "grid_y": board.core.grid_y,
        "row_wise": default.row_wise,
        "in_buffering": default.in_buffering,
        "out_buffering": default.out_buffering,
    }
    return SearchSpace(factory.OP_NAME, fixed, knobs, defaults)
