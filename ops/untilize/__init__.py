"""untilize: TILE to ROW_MAJOR layout, DRAM interleaved, multi-core, as tt-metal builds it
(shared/reference/tilize_untilize.md). A smaller output shape makes it untilize_with_unpadding.

`OP` is what `perfmodel.get_op("untilize")` returns.
"""

from __future__ import annotations

from perfmodel.op import NumericsOp
from perfmodel.ops.untilize import factory
from perfmodel.ops.untilize.config import Config
from perfmodel.ops.untilize.kernels import compute, reader, writer, writer_unpad


class Untilize(NumericsOp):
    """The op object: program factories, kernel mirrors and numerics of untilize / untilize_with_unpadding."""

    name = factory.OP_NAME
    Config = Config
    reader = staticmethod(reader)
    compute = staticmethod(compute)
    writer = staticmethod(writer)

    build_program = staticmethod(factory.build_program)


OP = Untilize()

__all__ = ["OP", "Config", "Untilize", "compute", "reader", "writer", "writer_unpad"]
