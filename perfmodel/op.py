"""The op registry: `get_op(name)` imports the op package `perfmodel.ops.<name>` and returns its `OP`.

An op package (a folder under the project's `ops/`) exposes `OP`, an object with at least `name`,
`Config` (a frozen dataclass) and `build_program(shape, *, device, dtype, config, kernels)`.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from perfmodel.errors import InputError


class Op(Protocol):
    name: str
    Config: type

    def build_program(self, *args: Any, **kwargs: Any) -> Any: ...


C = TypeVar("C")


def coerce_config(cls: type[C], config: C | Mapping[str, Any] | None, op_name: str) -> C:
    """An op's frozen config from itself, a plain dict of its fields (lists become tuples), or None (defaults)."""
    if config is None:
        return cls()
    if isinstance(config, cls):
        return config
    if not isinstance(config, Mapping):
        raise InputError(
            f"{op_name} config must be a {cls.__name__} or a dict of its fields, got {type(config).__name__}"
        )
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(config) - names)
    if unknown:
        raise InputError(f"unknown {op_name} config field {unknown[0]!r} (known: {', '.join(sorted(names))})")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})


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
