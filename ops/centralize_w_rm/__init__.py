"""centralize_w_rm: x minus its row mean, row-major in and out (shared/reference/centralize_w_rm.md).

`OP` is what `perfmodel.get_op("centralize_w_rm")` returns. The kernel mirrors `reader`, `compute` and
`writer` are importable from here so that a variant can reuse two of them and swap the third.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from perfmodel.ops.centralize_w_rm import factory
from perfmodel.ops.centralize_w_rm.config import Config
from perfmodel.ops.centralize_w_rm.kernels import compute, reader, writer


class CentralizeWRm:
    """The op object: program factory, kernel mirrors and numerics of centralize_w_rm."""

    name = factory.OP_NAME
    Config = Config
    reader = staticmethod(reader)
    compute = staticmethod(compute)
    writer = staticmethod(writer)

    build_program = staticmethod(factory.build_program)

    def reference(self, x: np.ndarray) -> np.ndarray:
        from perfmodel.ops.centralize_w_rm import numerics

        return numerics.reference(x)

    def functional(self, x: np.ndarray, *, dtype: str = "bfloat16", config: Any = None) -> np.ndarray:
        """The device's numbers for `x` built with `config` (a Config, a dict of its fields, or None)."""
        from perfmodel.ops.centralize_w_rm import numerics

        return numerics.functional(x, dtype=dtype, config=config)

    def validate(
        self,
        shape: Sequence[int],
        *,
        dtype: str = "bfloat16",
        seed: int = 0,
        distribution: str = "uniform",
        config: Any = None,
    ) -> Any:
        """Functional path vs float64 reference on a generated input; see `numerics.validate`."""
        from perfmodel.ops.centralize_w_rm import numerics

        return numerics.validate(shape, dtype=dtype, seed=seed, distribution=distribution, config=config)

    def error_figures(
        self,
        shape: Sequence[int],
        *,
        dtype: str = "bfloat16",
        seed: int = 0,
        distribution: str = "uniform",
        config: Any = None,
    ) -> tuple[float, int]:
        """(max abs error, max ULP distance) of `validate` with the same arguments; see `numerics.error_figures`."""
        from perfmodel.ops.centralize_w_rm import numerics

        return numerics.error_figures(shape, dtype=dtype, seed=seed, distribution=distribution, config=config)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OP = CentralizeWRm()

__all__ = ["OP", "CentralizeWRm", "Config", "compute", "reader", "writer"]
