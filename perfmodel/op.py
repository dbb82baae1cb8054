"""The op registry: `get_op(name)` imports the op package `perfmodel.ops.<name>` and returns its `OP`.

An op package (a folder under the project's `ops/`) exposes `OP`, an object with at least `name`,
`Config` (a frozen dataclass) and `build_program(shape, *, device, dtype, config, kernels)`.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import types
import typing
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

import numpy as np

from perfmodel.errors import InputError


class Op(Protocol):
    name: str
    Config: type

    def build_program(self, *args: Any, **kwargs: Any) -> Any: ...


class NumericsOp:
    """Base of an op object whose `reference` and `functional` are those of its package's `numerics` module
    (imported on first use, so building programs never loads the numerics)."""

    name: str

    def _numerics(self) -> Any:
        return importlib.import_module(f"{type(self).__module__}.numerics")

    def reference(self, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self._numerics().reference(x, **kwargs)

    def functional(self, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self._numerics().functional(x, **kwargs)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


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
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in config.items():
        try:
            values[key] = coerce_value(value, hints[key])
        except TypeError:
            raise InputError(
                f"{op_name} config {key} = {value!r} must be {_type_name(hints[key])}, got {type(value).__name__}"
            ) from None
    return cls(**values)


def coerce_value(value: Any, hint: Any) -> Any:
    """`value` checked against the type `hint` of a config field, numpy scalars and lists made plain.

    Strict on purpose: a bool is not an int, 0 / 1 and the string 'False' are not bools, 2.0 is not an
    int (a config that would be read differently from what was written is refused). Raises TypeError.
    """
    if isinstance(value, np.generic):
        value = value.item()
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return coerce_value(value, option)
            except TypeError:
                continue
        raise TypeError(hint)
    if hint is type(None):
        if value is None:
            return None
        raise TypeError(hint)
    if origin is tuple:
        if not isinstance(value, tuple | list):
            raise TypeError(hint)
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce_value(v, args[0]) for v in value)
        if len(args) != len(value):
            raise TypeError(hint)
        return tuple(coerce_value(v, a) for v, a in zip(value, args, strict=True))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(hint)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError(hint)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise TypeError(hint)
    if isinstance(hint, type) and hint is not Any:
        if isinstance(value, hint):
            return value
        raise TypeError(hint)
    return value


def _type_name(hint: Any) -> str:
    """'an int', 'a bool', 'tuple[int, int] | None' ...: how a config field's type reads in a message."""
    names = {bool: "a bool (True or False)", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, str(hint).replace("typing.", "").replace("NoneType", "None"))


def list_ops() -> list[str]:
    """Names of the op packages shipped with perfmodel."""
    import perfmodel.ops

    return sorted(m.name for m in pkgutil.iter_modules(perfmodel.ops.__path__) if m.ispkg)


# Ops already loaded, by name: asking again does not scan the ops folder.
_LOADED: dict[str, Op] = {}


def get_op(name: str) -> Op:
    """The op named `name`, e.g. 'centralize_w_rm'."""
    op = _LOADED.get(name) if isinstance(name, str) else None
    if op is not None:
        return op
    if name not in list_ops():
        raise InputError(f"unknown op {name!r} (known: {', '.join(list_ops())})")
    module = importlib.import_module(f"perfmodel.ops.{name}")
    _LOADED[name] = module.OP
    return module.OP
