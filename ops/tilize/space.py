"""The search space of tilize: the core grid the op may use (tt-metal's sub_core_grids), x and y, and the order
tile rows go to cores.

tt-metal's tilize exposes `use_multicore` and `sub_core_grids`; `use_multicore=False` forces the single-core
factory, which is not a knob here. The grid is 1..worker grid in x and in y (a 1x1 grid is tt-metal's
single-core factory, modelled with the Interleaved kernels on that core). `row_wise` is the core order
(tt-metal's versions differ: the default is the modelled version's). The program factory itself is not a
knob: tt-metal derives it from the shape and the grid (the check report says which and why).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from perfmodel.device import load_device
from perfmodel.numerics.formats import get_format
from perfmodel.ops.tilize import factory
from perfmodel.space import Knob, SearchSpace, device_column


def search_space(shape: Sequence[int], *, device: Any, dtype: str = "bfloat16") -> SearchSpace:
    geo = factory.geometry(shape, None)
    board = load_device(device)
    fmt = get_format(dtype)
    dims = geo.in_dims
    out = geo.out_dims
    outer = dims[:-2]
    c = outer[-1] if outer else 1
    n = math.prod(outer[:-1]) if len(outer) > 1 else 1
    fixed = {
        "N": n,
        "C": c,
        "H": dims[-2],
        "W": dims[-1],
        "H_out": out[-2],
        "W_out": out[-1],
        "with_val_padding": geo.padded,
        "dtype": fmt.name,
        "device": device_column(device),
    }
    knobs = (
        Knob("grid_x", tuple(range(1, board.core.grid_x + 1)), "columns of the core grid the op may use"),
        Knob("grid_y", tuple(range(1, board.core.grid_y + 1)), "rows of the core grid the op may use"),
        Knob("row_wise", (False, True), "the order tile rows go to cores (which cores, never how many)"),
    )
    defaults = {"grid_x": board.core.grid_x, "grid_y": board.core.grid_y, "row_wise": False}
    return SearchSpace(factory.OP_NAME, fixed, knobs, defaults)
