"""The numerical error of a configuration: what the error objective of `tune` and the bound of `recommend` read.

Definition: the op's `validate` (its functional model against its exact reference; `error_figures` when the
op has it, the same two figures without validate's other metrics) on a fixed input, the
op's default distribution with seed 0, of the representative shape [1, 1, min(H, 32), W] (one tile row of
the problem's width: the error of a row depends on its width, not on how many rows there are), built with
the point's numeric knobs (`Knob.numeric`: math fidelity, Dst width, variant, ...). The figures are the
max abs error and the max ULP distance of the output. Grid, split and buffering never change the numbers,
so the error is computed once per distinct (op, problem, numeric knob values) and memoised for the process.

An op whose `validate` takes no config reports the same error everywhere in its space; an op without a
numerics model (no `validate`) has no error (None).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.errors import PerfModelError
from perfmodel.space import SearchSpace

PROBE_ROWS = 32
SEED = 0
ERROR_COLUMNS = ("max_abs_error", "max_ulp")


@dataclass(frozen=True)
class NumericalError:
    """The error of one configuration on the probe input; `reason` says why it is infinite, if it is."""

    max_abs_error: float
    max_ulp: int | None
    shape: tuple[int, ...]
    reason: str = ""


def probe_shape(space: SearchSpace) -> tuple[int, ...] | None:
    """[1, 1, min(H, PROBE_ROWS), W] from the space's fixed H and W (None if it has neither)."""
    if "H" not in space.fixed or "W" not in space.fixed:
        return None
    return (1, 1, min(int(space.fixed["H"]), PROBE_ROWS), int(space.fixed["W"]))


def has_error(space: SearchSpace) -> bool:
    """Whether the op has a numerics model to measure an error with."""
    from perfmodel.op import get_op

    return callable(getattr(get_op(space.op_name), "validate", None)) and probe_shape(space) is not None


def numerical_error(space: SearchSpace, point: Mapping[str, Any]) -> NumericalError | None:
    """The error of `point` of `space` (see the module docstring); None when the op has no numerics model."""
    key = error_key(space, point)
    return None if key is None else error_of_key(key)


def error_key(space: SearchSpace, point: Mapping[str, Any]) -> tuple | None:
    """What the error of `point` depends on (None when the op has no numerics model): points with equal keys
    have equal errors."""
    if not has_error(space):
        return None
    numeric = {name: point.get(name, space.default.get(name)) for name in space.numeric_knobs}
    problem = {k: v for k, v in space.fixed.items() if k not in ("N", "C", "H", "W", "device")}
    return (space.op_name, probe_shape(space), json.dumps(problem, sort_keys=True), _freeze(numeric))


# The errors computed in this process, or received from a helper process (`remember`), by `error_key`.
_MEMO: dict[tuple, NumericalError] = {}


def error_of_key(key: tuple) -> NumericalError:
    """The error of an `error_key`, computed once per process."""
    found = _MEMO.get(key)
    if found is None:
        found = _error(*key)
        remember(key, found)
    return found


def is_known(key: tuple) -> bool:
    """Whether this process has the error of `key` already."""
    return key in _MEMO


def remember(key: tuple, found: NumericalError) -> None:
    """Record the error of `key` (computed here, or by another process: the same function of the same key)."""
    if len(_MEMO) > 4096:
        _MEMO.clear()
    _MEMO[key] = found


def _freeze(mapping: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, v.item() if isinstance(v, np.generic) else v) for k, v in mapping.items()))


def _error(
    op_name: str, shape: tuple[int, ...], problem_json: str, numeric: tuple[tuple[str, Any], ...]
) -> NumericalError:
    from perfmodel.op import get_op

    op = get_op(op_name)
    # An op may give the two figures without validate's other metrics (`error_figures`, same arguments).
    figures = getattr(op, "error_figures", None)
    params = inspect.signature(figures or op.validate).parameters
    problem = json.loads(problem_json)
    kwargs: dict[str, Any] = {"seed": SEED}
    kwargs.update({k: v for k, v in problem.items() if k in params})
    if "config" in params:
        fields = {f.name for f in dataclasses.fields(op.Config)}
        kwargs["config"] = {k: v for k, v in numeric if k in fields}
    try:
        if figures is not None:
            err, ulp = figures(shape, **kwargs)
        else:
            result = op.validate(shape, **kwargs)
            err, ulp = result.max_abs_error, getattr(result, "max_ulp", None)
    except PerfModelError as exc:
        return NumericalError(math.inf, None, shape, f"validate: {exc}")
    err = float(err)
    if ulp is None and err == 0.0:
        ulp = 0  # bit-identical
    return NumericalError(err, None if ulp is None else int(ulp), shape)


def attach_errors(space: SearchSpace, table: pd.DataFrame, rows: Any = None) -> pd.DataFrame:
    """`table` (rows of `space`) with the ERROR_COLUMNS added, computed for the rows selected by the boolean
    mask `rows` (all when None; the others get NaN / None), once per distinct value of the numeric knobs."""
    out = table.copy()
    n = len(out)
    errors = np.full(n, np.nan)
    ulps = np.full(n, None, dtype=object)
    if has_error(space) and n:
        selected = np.ones(n, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
        names = [k for k in space.numeric_knobs if k in out.columns]
        keys = list(zip(*(out[k].tolist() for k in names), strict=True)) if names else [()] * n
        # Per distinct value of the numeric knobs (a table has few), its error, then every selected row's.
        distinct: dict[tuple[Any, ...], int] = {}
        codes = np.array([distinct.setdefault(key, len(distinct)) for key in keys], dtype=np.int64)
        wanted = np.zeros(len(distinct), dtype=bool)
        wanted[codes[selected]] = True
        by_code = np.full(len(distinct), np.nan)
        ulp_by_code = np.full(len(distinct), None, dtype=object)
        for key, code in distinct.items():
            found = numerical_error(space, dict(zip(names, key, strict=True))) if wanted[code] else None
            if found is not None:
                by_code[code] = found.max_abs_error
                ulp_by_code[code] = found.max_ulp
        errors[selected] = by_code[codes[selected]]
        ulps[selected] = ulp_by_code[codes[selected]]
    out["max_abs_error"] = errors
    out["max_ulp"] = ulps
    return out
