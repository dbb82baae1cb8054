"""Search spaces: the factory knobs an op exposes for one problem (shape, board, dtype), and their domains.

Each op declares its space once, in `ops/<name>/space.py`, as `search_space(shape, *, device, dtype)`
returning a `SearchSpace`. A knob is a column of the op's configuration table (the same columns
`estimate_many` reads and `model.program_for_row` builds from), so tune, recommend, sweeps and the service
walk `space.knobs` and take up a new knob, or a new op, with no change of their own.

Constraints (L1 footprint, CB count, a buffering that would hang) are not part of the domains: they come from
the models, which mark each point `feasible` with a reason; a job records infeasible points, never drops them.

Two knob attributes serve the jobs without op-specific code:
- `numeric`: the knob changes the numbers the op computes, not only its time (math fidelity, the Dst width,
  the variant). The error objective is computed once per distinct value of the numeric knobs.
- `requires`: a conditional knob, meaningful only when another knob takes one of some values
  (centralize_w_rm's `block_wt` only with `variant = "two_pass"`). Where it is inactive its value is None
  (the config field's "not set"), so the space is not a plain product: `size`, `points` and `table` count and
  list only the meaningful points, and optuna samples the knob only where it is active.

A space also carries `tolerance`, the op's accuracy bound on the max abs error (recommend's default bound).
"""

from __future__ import annotations

import dataclasses
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
    """One factory knob: its table column, its finite domain in order, and what it means.

    `numeric`: the knob changes the op's numbers (see the module docstring). `requires` = (knob, values): the
    knob is active only when that knob's value is one of `values`; elsewhere its value is None.
    """

    name: str
    choices: tuple[Any, ...]
    description: str = ""
    numeric: bool = False
    requires: tuple[str, tuple[Any, ...]] | None = None

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError(f"knob {self.name!r} has an empty domain")
        if self.requires is not None:
            parent, values = self.requires
            object.__setattr__(self, "requires", (str(parent), tuple(values)))
            if None in self.choices:
                raise ValueError(f"conditional knob {self.name!r}: None is its inactive value, not a choice")

    def active(self, point: Mapping[str, Any]) -> bool:
        """Whether the knob means something at `point` (always, unless it is conditional)."""
        return self.requires is None or point.get(self.requires[0]) in self.requires[1]

    @property
    def kind(self) -> str:
        """'bool', 'int' (an ordered integer domain) or 'categorical'."""
        if all(isinstance(c, bool) for c in self.choices):
            return "bool"
        if all(isinstance(c, int) and not isinstance(c, bool) for c in self.choices):
            return "int"
        return "categorical"

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "kind": self.kind, "choices": list(self.choices), "description": self.description}
        out["numeric"] = self.numeric
        if self.requires is not None:
            out["requires"] = {self.requires[0]: list(self.requires[1])}
        return out


def _is_missing(value: Any) -> bool:
    """None or NaN: how a table cell says a conditional knob is not set."""
    return value is None or (isinstance(value, float | np.floating) and value != value)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SearchSpace:
    """The knobs of `op_name` for one problem.

    `fixed` holds the table columns the problem sets (shape columns, `dtype`, `device`); `default` the op's
    default configuration on that board as knob values (what a factory builds when nobody tunes it);
    `tolerance` the op's accuracy bound on the max abs error of its output (None: the op declares none).
    """

    op_name: str
    fixed: Mapping[str, Any]
    knobs: tuple[Knob, ...]
    default: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    tolerance: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", _frozen(self.fixed))
        object.__setattr__(self, "default", _frozen(self.default))
        names = [k.name for k in self.knobs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate knob in {names}")
        for knob in self.knobs:
            if knob.requires is not None:
                parent = knob.requires[0]
                if parent not in names[: names.index(knob.name)]:
                    raise ValueError(f"knob {knob.name!r} requires {parent!r}, which is not an earlier knob")
                if self.knob(parent).requires is not None:
                    raise ValueError(f"knob {knob.name!r} requires {parent!r}, itself conditional")
            if knob.name in self.default:
                value = self.default[knob.name]
                if value not in knob.choices and not (knob.requires is not None and value is None):
                    raise ValueError(f"default {knob.name} = {value!r} is outside its domain")

    @property
    def knob_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.knobs)

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise InputError(f"{self.op_name} has no knob {name!r} (knobs: {', '.join(self.knob_names)})")

    @property
    def numeric_knobs(self) -> tuple[str, ...]:
        """The knobs that change the op's numbers (the error objective depends on these only)."""
        return tuple(k.name for k in self.knobs if k.numeric)

    @property
    def conditional(self) -> bool:
        return any(k.requires is not None for k in self.knobs)

    def _parents(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k.requires[0] for k in self.knobs if k.requires is not None))

    def _domain_groups(self) -> Iterator[list[tuple[Any, ...]]]:
        """Per combination of the values of the knobs others require (one group when none do), the domain of
        every knob: the parents fixed, an inactive conditional knob reduced to (None,)."""
        parents = self._parents()
        if not parents:
            yield [k.choices for k in self.knobs]
            return
        for values in itertools.product(*(self.knob(p).choices for p in parents)):
            fixed = dict(zip(parents, values, strict=True))
            yield [
                (fixed[k.name],) if k.name in fixed else (k.choices if k.active(fixed) else (None,)) for k in self.knobs
            ]

    @property
    def size(self) -> int:
        """Number of points: the product of the domains, where a conditional knob counts only where active."""
        return sum(math.prod(len(d) for d in group) for group in self._domain_groups())

    def _tuples(self) -> Iterator[tuple[Any, ...]]:
        for group in self._domain_groups():
            yield from itertools.product(*group)

    def points(self) -> Iterator[dict[str, Any]]:
        """Every point as {knob: value}, in the order of the domains (last knob fastest); in a space with
        conditional knobs, grouped by the values of the knobs they require (first group first)."""
        for values in self._tuples():
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
            return self._typed(pd.DataFrame([self.row(p) for p in points], columns=columns))
        # The whole space (up to millions of rows): tuples straight from the product, fixed columns broadcast.
        knobs = pd.DataFrame(list(self._tuples()), columns=list(self.knob_names))
        fixed = pd.DataFrame({name: [value] * len(knobs) for name, value in self.fixed.items()})
        return self._typed(pd.concat([fixed, knobs], axis=1)[columns])

    def _typed(self, table: Any) -> Any:
        import pandas as pd

        """A conditional knob's column as objects: None where inactive, the domain's own ints elsewhere (pandas
        would otherwise store it as floats with NaN)."""
        for knob in self.knobs:
            if knob.requires is not None:
                values = table[knob.name].to_numpy(dtype=object)
                plain = [None if _is_missing(v) else _plain(v) for v in values]
                table[knob.name] = pd.Series(plain, index=table.index, dtype=object)
        return table

    def point_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The point {knob: value} of a table row, each value the domain's own object (no numpy scalars)."""
        point = {}
        for knob in self.knobs:
            value = row[knob.name]
            if knob.requires is not None and _is_missing(value):
                point[knob.name] = None
                continue
            is_bool = isinstance(value, bool | np.bool_)
            match = [c for c in knob.choices if c == value and isinstance(c, bool) == is_bool]
            if not match:
                raise InputError(f"{knob.name} = {value!r} is outside its domain {list(knob.choices)}")
            point[knob.name] = match[0]
        return point

    def program(self, point: Mapping[str, Any]) -> Any:
        """The Program the op's factory builds for `point` (through the op's `model.program_for_row`).

        A knob that is a field of the op's Config but not a column the model reads (see `unmodelled_knobs`)
        is set on the model's config before the factory builds, so that the program is the point's own.
        """
        model = importlib.import_module(f"perfmodel.ops.{self.op_name}.model")
        row = self.row(point)
        extra = {name: row[name] for name in self.unmodelled_knobs}
        if not extra:
            return model.program_for_row(row)
        from perfmodel.factory_common import build_row_program
        from perfmodel.op import get_op

        config = dataclasses.replace(model.config_of(row), **extra)
        return build_row_program(get_op(self.op_name).build_program, row, model.SHAPE_COLUMNS, config)

    @property
    def unmodelled_knobs(self) -> tuple[str, ...]:
        """Knobs that are fields of the op's Config but not columns of its analytic model's table: the model
        cannot tell their points apart (it times them all alike), so the jobs ask the factory whether it
        accepts them (`program`). Empty once the model reads every knob."""
        from perfmodel.op import get_op

        model = importlib.import_module(f"perfmodel.ops.{self.op_name}.model")
        fields = {f.name for f in dataclasses.fields(get_op(self.op_name).Config)}
        columns = set(model.INPUT_COLUMNS)
        return tuple(n for n in self.knob_names if n not in columns and n in fields)

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
            if knob.requires is not None:
                wanted = [v for v in wanted if v is not None]  # None, the inactive value, is always implied
                if not wanted:
                    knobs.append(knob)
                    continue
            outside = [v for v in wanted if v not in knob.choices]
            if outside:
                raise InputError(f"{knob.name} = {outside[0]!r} is outside its domain {list(knob.choices)}")
            kept = tuple(c for c in knob.choices if c in wanted)
            if not kept:
                raise InputError(f"restricting {knob.name} to no value leaves the space empty")
            knobs.append(dataclasses.replace(knob, choices=kept))
        domains = {k.name: k.choices for k in knobs}
        conditional = {k.name for k in knobs if k.requires is not None}
        default = {
            k: v
            for k, v in self.default.items()
            if k not in domains or v in domains[k] or (k in conditional and v is None)
        }
        return dataclasses.replace(self, knobs=tuple(knobs), default=default)

    def only(self, *names: str) -> SearchSpace:
        """A smaller space: the named knobs keep their domains, every other knob is fixed at its default (a
        conditional knob whose default is None stays as it is: it is inactive wherever its parent is fixed)."""
        for name in names:
            self.knob(name)
        pinned = {
            k.name: (self.default[k.name],)
            for k in self.knobs
            if k.name not in names and k.name in self.default and self.default[k.name] is not None
        }
        return self.restrict(**pinned)

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op_name,
            "fixed": dict(self.fixed),
            "knobs": [k.to_dict() for k in self.knobs],
            "default": dict(self.default),
            "size": self.size,
            "tolerance": self.tolerance,
        }


def _plain(value: Any) -> Any:
    """A numpy scalar as its Python value; whole floats (pandas' ints beside a NaN) as ints."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


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


def compute_knobs(dtype: str, *, fidelity_changes_numbers: bool = True) -> tuple[tuple[Knob, Knob, Knob], dict]:
    """The compute kernel's ComputeConfig knobs (`perfmodel.compute_config`) and their defaults for `dtype` data.

    `math_fidelity` (LoFi..HiFi4; numeric when the kernel multiplies on the FPU, `fidelity_changes_numbers`),
    `fp32_dest_acc_en` (False, True; numeric; its default is the op's for the format, on for float32 data) and
    `dst_full_sync_en` (False, True; time only). Defaults: HiFi4, the format's Dst width, SyncHalf.
    """
    from perfmodel.compute_config import MATH_FIDELITIES

    knobs = (
        Knob(
            "math_fidelity",
            MATH_FIDELITIES,
            "multiplier passes over the operands' significand slices (LoFi 1 .. HiFi4 4)",
            numeric=fidelity_changes_numbers,
        ),
        Knob("fp32_dest_acc_en", (False, True), "Dst holds 32-bit values (half as many tiles)", numeric=True),
        Knob("dst_full_sync_en", (False, True), "math and pack take turns on the whole Dst (SyncFull)"),
    )
    defaults = {"math_fidelity": "HiFi4", "fp32_dest_acc_en": dtype == "float32", "dst_full_sync_en": False}
    return knobs, defaults


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
