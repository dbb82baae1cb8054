"""tilize: ROW_MAJOR to TILE layout, DRAM interleaved, multi-core, as tt-metal builds it
(shared/reference/tilize_untilize.md). A padded output shape makes it tilize_with_val_padding.

`OP` is what `perfmodel.get_op("tilize")` returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfmodel.ops.tilize import factory
from perfmodel.ops.tilize.config import Config
from perfmodel.ops.tilize.kernels import compute, reader, reader_block, reader_pad, writer, writer_block


class Tilize:
    """The op object: program factories, kernel mirrors and numerics of tilize / tilize_with_val_padding."""

    name = factory.OP_NAME
    Config = Config
    reader = staticmethod(reader)
    compute = staticmethod(compute)
    writer = staticmethod(writer)

    build_program = staticmethod(factory.build_program)

    def reference(self, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        from perfmodel.ops.tilize import numerics

        return numerics.reference(x, **kwargs)

    def functional(self, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        from perfmodel.ops.tilize import numerics

        return numerics.functional(x, **kwargs)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OP = Tilize()

__all__ = ["OP", "Config", "Tilize", "compute", "reader", "reader_block", "reader_pad", "writer", "writer_block"]
