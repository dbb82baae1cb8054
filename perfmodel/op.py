"""The op registry: `get_op(name)` imports the op package `perfmodel.ops.<name>` and returns its `OP`.

An op package (a folder under the project's `ops/`) exposes `OP`, an object with at least `name`,
`Config` (a frozen dataclass) and `build_program(shape, *, device, dtype, config, kernels)`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Protocol

from perfmodel.errors import InputError


class Op(Protocol):
    name: str
    Config: type

    def build_program(self, *args: Any, **kwargs: Any) -> Any: ...


def list_ops() -> list[str]:
    """Names of the op packages shipped with perfmodel."""
    import perfmodel.ops

    return sorted(m.name for m in pkgutil.iter_modules(perfmodel.ops.__path__) if m.ispkg)


def get_op(name: str) -> Op:
    """The op named `name`, e.g. 'centralize_w_rm'."""
    if name not in list_ops():
        raise InputError(f"unknown op {name!r} (known: {', '.join(list_ops())})")
    module = importlib.import_module(f"perfmodel.ops.{name}")
    return module.OP
