"""unary: tt-metal's eltwise unary op (copy, relu) on DRAM-interleaved tiles (shared/reference/eltwise_unary.md).

`OP` is what `perfmodel.get_op("unary")` returns. The kernel mirrors `reader`, `compute` and `writer` are
importable from here so that a variant can reuse two of them and swap the third.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from perfmodel.ops.unary import factory
from perfmodel.ops.unary.config import Config
from perfmodel.ops.unary.kernels import compute, reader, writer


class Unary:
    """The op object: program factory, kernel mirrors and numerics of the eltwise unary op."""

    name = factory.OP_NAME
    Config = Config
    reader = staticmethod(reader)
    compute = staticmethod(compute)
    writer = staticmethod(writer)
    # The simulator's output equals `functional` bit for bit, and `functional` equals `reference` bit for bit.
    bit_exact = True

    build_program = staticmethod(factory.build_program)

    def reference(self, x: np.ndarray, *, fn: str = "relu", dtype: str = "bfloat16") -> np.ndarray:
        from perfmodel.ops.unary import numerics

        return numerics.reference(x, fn=fn, dtype=dtype)

    def functional(
        self, x: np.ndarray, *, fn: str | None = None, dtype: str = "bfloat16", config: Any = None
    ) -> np.ndarray:
        """The device's numbers for `x` built with `config` (fn defaults to the config's; the compute knobs
        change no value of copy or relu)."""
        from perfmodel.ops.unary import numerics

        return numerics.functional(x, fn=fn, dtype=dtype, config=config)

    def validate(
        self,
        shape: Sequence[int],
        *,
        dtype: str = "bfloat16",
        seed: int = 0,
        distribution: str = "uniform",
        config: Any = None,
    ) -> Any:
        """Functional path vs numpy reference on a generated input; see `numerics.validate`."""
        from perfmodel.ops.unary import numerics

        return numerics.validate(shape, dtype=dtype, seed=seed, distribution=distribution, config=config)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OP = Unary()

__all__ = ["OP", "Config", "Unary", "compute", "reader", "writer"]
