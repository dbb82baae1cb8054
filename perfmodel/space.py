"""Search spaces: the factory knobs an op exposes for one problem (shape, board, dtype), and their domains.

Each op declares its space once, in `ops/<name>/space.py`, as `search_space(shape, *, device, dtype)`
returning a `SearchSpace`. A knob is a column of the op's configuration table (the same columns
`estimate_many` reads and `model.program_for_row` builds from), so tune, recommend, sweeps and the service
walk `space.knobs` and take up a new knob, or a new op, with no change of their own.

Constraints (L1 footprint, CB count, a buffering that would hang) are not part of the domains: they come from
the models, which mark each point `feasible` with a reason; a job records infeasible points, never drops them.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from perfmodel.errors import InputError


@dataclass(frozen=True)
class Knob:
    """One factory knob: its table column, its finite domain in order, and what it means."""

    name: str
    choices: tuple[Any, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError(f"knob {self.name!r} has an empty domain")

    @property
    def kind(self) -> str:
        """'bool', 'int' (an ordered integer domain) or 'categorical'."""
        if all(isinstance(c, bool) for c in self.choices):
            return "bool"
        if all(isinstance(c, int) and not isinstance(c, bool) for c in self.choices):
            return "int"
        return "categorical"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "choices": list(self.choices), "description": self.description}


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SearchSpace:
    """The knobs of `op_name` for one problem.

    `fixed` holds the table columns the problem sets (shape columns, `dtype`, `device`); `default` the op's
    default configuration on that board as knob values (what a factory builds when nobody tunes it).
    """

    op_name: str
    fixed: Mapping[str, Any]
    knobs: tuple[Knob, ...]
    default: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", _frozen(self.fixed))
        object.__setattr__(self, "default", _frozen(self.default))
        names = [k.name for k in self.knobs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate knob in {names}")
        for knob in self.knobs:
            if knob.name in self.default and self.default[knob.name] not in knob.choices:
                raise ValueError(f"default {knob.name} = {self.default[knob.name]!r} is outside its domain")

    @property
    def knob_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.knobs)

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise InputError(f"{self.op_name} has no knob {name!r} (knobs: {', '.join(self.knob_names)})")

    @property
    def size(self) -> int:
        """Number of points (the Cartesian product of the domains)."""
        return math.prod(len(k.choices) for k in self.knobs)

    def points(self) -> Iterator[dict[str, Any]]:
        """Every point as {knob: value}, in the order of the domains (last knob fastest)."""
        for values in itertools.product(*(k.choices for k in self.knobs)):
            yield dict(zip(self.knob_names, values, strict=True))

    def row(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """The full table row of a point: the fixed columns plus every knob (missing knobs take the default)."""
        unknown = sorted(set(point) - set(self.knob_names))
        if unknown:
            raise InputError(f"{self.op_name} has no knob {unknown[0]!r} (knobs: {', '.join(self.knob_names)})")
        values = {**self.default, **point}
        missing = [n for n in self.knob_names if n not in values]
        if missing:
            raise InputError(f"point has no value for knob(s) {', '.join(missing)}")
        return {**self.fixed, **{n: values[n] for n in self.knob_names}}

    def table(self, points: Sequence[Mapping[str, Any]] | None = None) -> Any:
        """A pandas table, one row per point (every point of the space when `points` is None)."""
        import pandas as pd

        columns = [*self.fixed, *self.knob_names]
        if points is not None:
            return pd.DataFrame([self.row(p) for p in points], columns=columns)
        # The whole space (up to millions of rows): tuples straight from the product, fixed columns broadcast.
        knobs = pd.DataFrame(list(itertools.product(*(k.choices for k in self.knobs))), columns=list(self.knob_names))
        fixed = pd.DataFrame({name: [value] * len(knobs) for name, value in self.fixed.items()})
        return pd.concat([fixed, knobs], axis=1)[columns]

    def point_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The point {knob: value} of a table row, each value the domain's own object (no numpy scalars)."""
        point = {}
        for knob in self.knobs:
            value = row[knob.name]
            is_bool = isinstance(value, bool | np.bool_)
            match = [c for c in knob.choices if c == value and isinstance(c, bool) == is_bool]
            if not match:
                raise InputError(f"{knob.name} = {value!r} is outside its domain {list(knob.choices)}")
            point[knob.name] = match[0]
        return point

    def program(self, point: Mapping[str, Any]) -> Any:
        """The Program the op's factory builds for `point` (through the op's `model.program_for_row`)."""
        model = importlib.import_module(f"perfmodel.ops.{self.op_name}.model")
        return model.program_for_row(self.row(point))

    def restrict(self, **choices: Sequence[Any]) -> SearchSpace:
        """A smaller space: the named knobs keep only the given values (in their domain order).

        A default outside its knob's new domain is dropped, so every point must then set that knob.
        """
        for name in choices:
            self.knob(name)  # an unknown knob is an InputError naming it
        knobs = []
        for knob in self.knobs:
            if knob.name not in choices:
                knobs.append(knob)
                continue
            wanted = list(choices[knob.name])
            outside = [v for v in wanted if v not in knob.choices]
            if outside:
                raise InputError(f"{knob.name} = {outside[0]!r} is outside its domain {list(knob.choices)}")
            kept = tuple(c for c in knob.choices if c in wanted)
            if not kept:
                raise InputError(f"restricting {knob.name} to no value leaves the space empty")
            knobs.append(Knob(knob.name, kept, knob.description))
        domains = {k.name: k.choices for k in knobs}
        default = {k: v for k, v in self.default.items() if k not in domains or v in domains[k]}
        return SearchSpace(self.op_name, self.fixed, tuple(knobs), default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op_name,
            "fixed": dict(self.fixed),
            "knobs": [k.to_dict() for k in self.knobs],
            "default": dict(self.default),
            "size": self.size,
        }


def device_column(device: Any) -> str:
    """The `device` column of a table row: a shipped board name or a profile path, as given."""
    from pathlib import Path

    if isinstance(device, str | Path):
        return str(device)
    raise InputError(
        f"device must be a board name or a profile path to go in a table, got {type(device).__name__}"
        " (save a what-if profile to a TOML file and pass its path)"
    )


def table_shape_columns(dims: Sequence[int]) -> dict[str, int]:
    """The N, C, H, W columns of a table row for a shape [..., H, W]; outer dims beyond 4-D fold into N."""
    outer = tuple(dims[:-2])
    c = outer[-1] if outer else 1
    n = math.prod(outer[:-1]) if len(outer) > 1 else 1
    return {"N": n, "C": c, "H": dims[-2], "W": dims[-1]}


def grid_knobs(
    board: Any,
    *,
    grid: str = "handed to the split",
    order: str = "fill cores row by row instead of column by column",
) -> tuple[Knob, Knob, Knob]:
    """The knobs of the split: `grid_x` 1..worker grid x, `grid_y` 1..worker grid y of `board`, and `row_wise`.

    `grid` ends the descriptions of the two grid knobs ("columns of the core grid <grid>"); `order` is the
    description of `row_wise`.
    """
    return (
        Knob("grid_x", tuple(range(1, board.core.grid_x + 1)), f"columns of the core grid {grid}"),
        Knob("grid_y", tuple(range(1, board.core.grid_y + 1)), f"rows of the core grid {grid}"),
        Knob("row_wise", (False, True), order),
    )


def grid_defaults(board: Any, row_wise: bool) -> dict[str, Any]:
    """The defaults of `grid_knobs`: the whole worker grid of `board`, and the op's `row_wise`."""
    return {"grid_x": board.core.grid_x, "grid_y": board.core.grid_y, "row_wise": row_wise}


def layout_search_space(
    op_name: str,
    in_dims: Sequence[int],
    out_dims: Sequence[int],
    *,
    device: Any,
    dtype: str,
    row_wise: bool,
    **problem: Any,
) -> SearchSpace:
    """The space of a layout op (tilize, untilize): the input's N, C, H, W, the output's H_out, W_out, the
    op's other problem columns, dtype and device fixed; the core grid the op may use and the core order as
    knobs, defaulting to the whole worker grid and `row_wise`."""
    from perfmodel.device import load_device
    from perfmodel.numerics.formats import get_format

    board = load_device(device)
    fmt = get_format(dtype)
    fixed = {
        **table_shape_columns(in_dims),
        "H_out": out_dims[-2],
        "W_out": out_dims[-1],
        **problem,
        "dtype": fmt.name,
        "device": device_column(device),
    }
    knobs = grid_knobs(
        board, grid="the op may use", order="the order tile rows go to cores (which cores, never how many)"
    )
    return SearchSpace(op_name, fixed, knobs, grid_defaults(board, row_wise))


def search_space(
    op: Any, shape: Sequence[int], *, device: Any = "wormhole_b0_n150", dtype: str = "bfloat16", **problem: Any
) -> SearchSpace:
    """The search space `op` (a name or an op object) declares for `shape` on `device` in `dtype`.

    `problem` holds the op's other fixed columns, those that are part of the problem rather than knobs (the
    unary op's `fn`, say); an op that has none refuses them. Pass the result to `tune(..., space=...)`.
    """
    from perfmodel.op import get_op

    name = op if isinstance(op, str) else str(op.name)
    get_op(name)  # an unknown op is an InputError naming it
    try:
        module = importlib.import_module(f"perfmodel.ops.{name}.space")
    except ModuleNotFoundError as exc:
        if exc.name != f"perfmodel.ops.{name}.space":
            raise
        raise InputError(f"op {name!r} declares no search space (ops/{name}/space.py)") from None
    accepted = set(inspect.signature(module.search_space).parameters) - {"shape", "device", "dtype"}
    unknown = sorted(set(problem) - accepted)
    if unknown:
        known = ", ".join(sorted(accepted)) or "none"
        raise InputError(f"{name} has no problem column {unknown[0]!r} (its problem columns: {known})")
    return module.search_space(shape, device=device, dtype=dtype, **problem)
