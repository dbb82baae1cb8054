"""untilize: TILE to ROW_MAJOR layout, DRAM interleaved, multi-core, as tt-metal builds it
(shared/reference/tilize_untilize.md). A smaller output shape makes it untilize_with_unpadding.

`OP` is what `perfmodel.get_op("untilize")` returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfmodel.ops.untilize import factory
from perfmodel.ops.untilize.config import Config
from perfmodel.ops.untilize.kernels import compute, reader, writer, writer_unpad


class Untilize:
    """The op object: program factories, kernel mirrors and numerics of untilize / untilize_with_unpadding."""

    name = factory.OP_NAME
    Config = Config
    reader = staticmethod(reader)
    compute = staticmethod(compute)
    writer = staticmethod(writer)

    build_program = staticmethod(factory.build_program)

    def reference(self, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        from perfmodel.ops.untilize import numerics

        return numerics.reference(x, **kwargs)

    def functional(self, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        from perfmodel.ops.untilize import numerics

        return numerics.functional(x, **kwargs)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OP = Untilize()

__all__ = ["OP", "Config", "Untilize", "compute", "reader", "writer", "writer_unpad"]
