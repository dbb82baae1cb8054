"""The search space of untilize: the core grid the op may use (tt-metal's sub_core_grids), x and y, and the order
tile rows go to cores.

tt-metal's untilize exposes `use_multicore` and `sub_core_grids`; `use_multicore=False` forces the single-core
factory, which is not a knob here. The grid is: 1..worker grid in x and in y. `row_wise` is the core order
(tt-metal's versions differ: the default is the modelled version's). The program factory itself is not a knob:
tt-metal derives it from the shape and the grid (the check report says which and why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfmodel.ops.untilize import factory
from perfmodel.space import SearchSpace, layout_search_space


def search_space(shape: Sequence[int], *, device: Any, dtype: str = "bfloat16") -> SearchSpace:
    geo = factory.geometry(shape, None)
    return layout_search_space(
        factory.OP_NAME,
        geo.in_dims,
        geo.out_dims,
        device=device,
        dtype=dtype,
        row_wise=True,
    )
