"""tilize: ROW_MAJOR to TILE layout, DRAM interleaved, multi-core, as tt-metal builds it
(shared/reference/tilize_untilize.md). A padded output shape makes it tilize_with_val_padding.

`OP` is what `perfmodel.get_op("tilize")` returns.
"""

from __future__ import annotations

from perfmodel.op import NumericsOp
from perfmodel.ops.tilize import factory
from perfmodel.ops.tilize.config import Config
from perfmodel.ops.tilize.kernels import compute, reader, reader_block, reader_pad, writer, writer_block


class Tilize(NumericsOp):
    """The op object: program factories, kernel mirrors and numerics of tilize / tilize_with_val_padding."""

    name = factory.OP_NAME
    Config = Config
    reader = staticmethod(reader)
    compute = staticmethod(compute)
    writer = staticmethod(writer)

    build_program = staticmethod(factory.build_program)


OP = Tilize()

__all__ = ["OP", "Config", "Tilize", "compute", "reader", "reader_block", "reader_pad", "writer", "writer_block"]
