"""Sweep specs: the TOML form of `sweeps/*.toml`, checked on load, and the points they describe.

A spec names an `op`, an `[axes]` table whose keys are columns of the op's configuration table (its
`model.INPUT_COLUMNS`, the columns `estimate_many` reads) with a non-empty list of values each, and an
optional `backend` ("analytic", "des" or a list of both; default "analytic"). The points are the Cartesian
product of the axes in the order written, the last axis varying fastest.

The problem columns (shape, `dtype`, `device`) are required. A knob of the op's search space that has no axis
takes the op's default configuration for each point's shape, board and dtype (for centralize_w_rm the
board's full worker grid, column-wise split, double buffering), as a factory builds it when nobody tunes it;
a point whose shape the op rejects has no defaults, so the spec is refused, while with every knob given such
a point is kept as an infeasible row. Boards and dtypes are checked on load: a typo there is refused too.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from perfmodel.errors import InputError

BACKENDS = ("analytic", "des")
SPEC_KEYS = ("op", "backend", "axes")
_SCALARS = (bool, int, float, str)
# Problems tried to find the op's search space (knob types and defaults) before giving up.
MAX_PROBES = 1000


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep spec. `axes` keeps the order written; `source` names where it came from."""

    op: str
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    backends: tuple[str, ...] = ("analytic",)
    source: str = "<spec>"

    @classmethod
    def from_toml(cls, path: str | Path) -> SweepSpec:
        """Read and check the spec file at `path`; a missing file or invalid TOML is an InputError naming it."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise InputError(f"sweep spec {str(path)!r} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"sweep spec {str(path)!r} cannot be read: {exc}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"sweep spec {str(path)!r} is not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<spec>") -> SweepSpec:
        """Check a parsed spec (the TOML document as a dict) and return it."""
        if not isinstance(data, Mapping):
            raise InputError(f"{source}: a sweep spec is a table, got {type(data).__name__}")
        unknown = [k for k in data if k not in SPEC_KEYS]
        if unknown:
            raise InputError(f"{source}: unknown key {unknown[0]!r} (a spec has {', '.join(SPEC_KEYS)})")
        op = data.get("op")
        if not isinstance(op, str) or not op:
            raise InputError(f"{source}: 'op' must name an op, got {op!r}")
        backends = _backends(data.get("backend", "analytic"), source)
        raw_axes = data.get("axes")
        if not isinstance(raw_axes, Mapping) or not raw_axes:
            raise InputError(f"{source}: an [axes] table with at least one axis is required")
        axes = tuple((str(name), _axis_values(name, values, source)) for name, values in raw_axes.items())
        spec = cls(op=op, axes=axes, backends=backends, source=source)
        _check_columns(spec)
        return spec

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.axes)

    @property
    def num_points(self) -> int:
        n = 1
        for _, values in self.axes:
            n *= len(values)
        return n

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (what its hash is taken of)."""
        return {"op": self.op, "backend": list(self.backends), "axes": {k: list(v) for k, v in self.axes}}

    @property
    def sha256(self) -> str:
        """Content hash of the spec: op, axes (names, values and order) and backends; not its file name."""
        canonical = json.dumps(self.to_dict(), sort_keys=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def points(self) -> pd.DataFrame:
        """One row per point in the op's `INPUT_COLUMNS` (knobs without an axis filled with the op's default),
        plus the optional columns the spec gives an axis (the design and compute config of centralize_w_rm)."""
        model = _model(self.op)
        names = self.axis_names
        table = pd.DataFrame(list(itertools.product(*(v for _, v in self.axes))), columns=list(names))
        missing = [c for c in model.INPUT_COLUMNS if c not in names]
        if missing:
            defaults = _defaults(self, table, missing)
            for column in missing:
                table[column] = defaults[column]
        optional = [c for c in _optional_columns(model) if c in names]
        return table[[*model.INPUT_COLUMNS, *optional]].reset_index(drop=True)


def load_spec(spec: str | Path | SweepSpec | Mapping[str, Any]) -> SweepSpec:
    """A SweepSpec from a spec, a TOML path or a parsed dict."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, Mapping):
        return SweepSpec.from_dict(spec)
    return SweepSpec.from_toml(spec)


def _backends(value: Any, source: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise InputError(f"{source}: backend must be one of {', '.join(BACKENDS)} or a non-empty list, got {value!r}")
    for item in items:
        if item not in BACKENDS:
            raise InputError(f"{source}: unknown backend {item!r} (known: {', '.join(BACKENDS)})")
    if len(set(items)) != len(items):
        raise InputError(f"{source}: backend lists {items!r} with a repeat")
    return tuple(items)


def _axis_values(name: str, values: Any, source: str) -> tuple[Any, ...]:
    if not isinstance(values, list):
        raise InputError(f"{source}: axis {name!r} must be a list of values, got {values!r}")
    if not values:
        raise InputError(f"{source}: axis {name!r} is empty")
    for v in values:
        if not isinstance(v, _SCALARS):
            raise InputError(f"{source}: axis {name!r} has value {v!r}; values are numbers, booleans or strings")
    seen: set[tuple[type, Any]] = set()
    for v in values:
        if (type(v), v) in seen:
            raise InputError(f"{source}: axis {name!r} lists {v!r} twice")
        seen.add((type(v), v))
    return tuple(values)


def _model(op: str) -> Any:
    from perfmodel.analytic.engine import op_model
    from perfmodel.op import get_op

    get_op(op)  # an unknown op is an InputError naming it
    model = op_model(op)
    if not hasattr(model, "program_for_row"):
        raise InputError(f"op {op!r} has no program_for_row in ops/{op}/model.py; it cannot be swept")
    return model


def _optional_columns(model: Any) -> tuple[str, ...]:
    """Columns an op's model reads when present and fills with the config's defaults when absent."""
    return tuple(getattr(model, "OPTIONAL_COLUMNS", ()))


def _problem_columns(model: Any) -> tuple[str, ...]:
    """The columns a spec must give: the shape columns, dtype and device (every column if the op names none)."""
    shape = getattr(model, "SHAPE_COLUMNS", None)
    if shape is None:
        return tuple(model.INPUT_COLUMNS)
    return (*shape, "dtype", "device")


def _expect(source: str, name: str, values: Sequence[Any], kind: type) -> None:
    for v in values:
        ok = isinstance(v, kind) and not (kind is not bool and isinstance(v, bool))
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            ok = True
        if not ok:
            raise InputError(f"{source}: axis {name!r} has value {v!r} ({type(v).__name__}); expected {kind.__name__}")


def _check_columns(spec: SweepSpec) -> None:
    """Axis names are table columns, the problem columns are all given, and every value has its column's type."""
    model = _model(spec.op)
    columns = (*model.INPUT_COLUMNS, *_optional_columns(model))
    for name in spec.axis_names:
        if name not in columns:
            raise InputError(f"{spec.source}: unknown axis {name!r} for op {spec.op} (columns: {', '.join(columns)})")
    required = _problem_columns(model)
    for name in required:
        if name not in spec.axis_names:
            raise InputError(f"{spec.source}: axis {name!r} is required (op {spec.op} needs {', '.join(required)})")
    axes = dict(spec.axes)
    for name in getattr(model, "SHAPE_COLUMNS", ()):
        _expect(spec.source, name, axes[name], int)
    if "dtype" in axes:
        from perfmodel.numerics.formats import get_format

        _expect(spec.source, "dtype", axes["dtype"], str)
        for value in axes["dtype"]:
            get_format(value)
    if "device" in axes:
        from perfmodel.device import load_device

        _expect(spec.source, "device", axes["device"], str)
        for value in axes["device"]:
            load_device(value)
    space = _probe_space(spec, model)
    if space is None:
        return
    for knob in space.knobs:
        if knob.name in axes:
            kind = bool if knob.kind == "bool" else int if knob.kind == "int" else type(knob.choices[0])
            _expect(spec.source, knob.name, axes[knob.name], kind)
    missing = [c for c in columns if c not in axes and c not in space.knob_names]
    if missing:
        raise InputError(f"{spec.source}: axis {missing[0]!r} is required (it is not a knob with a default)")


def _probe_space(spec: SweepSpec, model: Any) -> Any:
    """The op's search space for the first problem of the spec (shape, device, dtype) the op accepts.

    None when the op declares no search space, or when it accepts none of the spec's problems and every knob
    has an axis (those points become infeasible rows); an InputError when knobs need defaults.
    """
    axes = dict(spec.axes)
    shape_columns = getattr(model, "SHAPE_COLUMNS", None)
    if shape_columns is None:
        return None
    first_error: InputError | None = None
    problems = itertools.product(*(axes[c] for c in shape_columns), axes["device"], axes["dtype"])
    for *shape, device, dtype in itertools.islice(problems, MAX_PROBES):
        try:
            return _space(spec.op, tuple(shape), device, dtype)
        except InputError as exc:
            if "declares no search space" in str(exc):
                return None
            first_error = first_error or exc
    if set(model.INPUT_COLUMNS) <= set(axes):
        return None
    raise InputError(f"{spec.source}: cannot take the op's defaults: {first_error}") from None


@functools.lru_cache(maxsize=1024)
def _space(op: str, shape: tuple[int, ...], device: str, dtype: str) -> Any:
    from perfmodel.space import search_space

    return search_space(op, shape, device=device, dtype=dtype)


def _defaults(spec: SweepSpec, table: pd.DataFrame, missing: list[str]) -> dict[str, list[Any]]:
    """Per row, the op's default value of each missing knob for that row's shape, board and dtype."""
    model = _model(spec.op)
    keys = [*model.SHAPE_COLUMNS, "device", "dtype"]
    out: dict[str, list[Any]] = {c: [] for c in missing}
    for row in table[keys].itertuples(index=False, name=None):
        *shape, device, dtype = row
        try:
            default = _space(spec.op, tuple(int(d) for d in shape), str(device), str(dtype)).default
        except InputError as exc:
            raise InputError(f"{spec.source}: cannot take the default of {missing[0]!r} for a point: {exc}") from None
        for c in missing:
            out[c].append(default[c])
    return out
