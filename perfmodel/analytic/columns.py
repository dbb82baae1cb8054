"""Per-row validation of a configuration table, driven by the column types an op's model declares.

An op's `model.py` may declare `INTEGER_COLUMNS`, `BOOLEAN_COLUMNS` and `STRING_COLUMNS` (each a tuple of
column names; undeclared columns are passed through unchecked) and `SHAPE_COLUMNS` (the tensor dims, whose
product must fit a 64-bit count). `validate_columns` gives every row the reason it is invalid ('' if it is
valid) and a clean copy of the table whose invalid cells hold a harmless placeholder, so that the
vectorised engine never reads a wrong value: an invalid row is reported, never silently converted.

The rules are `build_program`'s, read for table cells:
- integers: Python or numpy integers, or floats holding a whole number (pandas stores an integer column
  with a missing value as floats); not bools, not strings, not NaN;
- booleans: True / False (Python or numpy), or the integers 0 / 1 (as written in a CSV); not NaN, not
  strings such as 'False' (which `bool()` would read as True);
- strings: non-empty strings; not None or NaN (a row without a device gets no board).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

# Placeholders for invalid cells: values every column type accepts; the row is already marked invalid.
_PLACEHOLDER = {"integer": 1, "boolean": False, "string": ""}
# Element counts and products are computed in int64: a shape whose product reaches this is refused.
INT64_LIMIT = 2**62


def validate_columns(model: Any, table: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """(reason per row, '' if valid; the table with invalid cells replaced and typed columns)."""
    rows = len(table)
    reason = np.full(rows, "", dtype=object)
    clean = table.copy()
    kinds = {
        **dict.fromkeys(getattr(model, "STRING_COLUMNS", ()), "string"),
        **dict.fromkeys(getattr(model, "BOOLEAN_COLUMNS", ()), "boolean"),
        **dict.fromkeys(getattr(model, "INTEGER_COLUMNS", ()), "integer"),
    }
    for column, kind in kinds.items():
        if column not in table.columns:
            continue
        series = table[column]
        if kind == "string" and isinstance(series.dtype, pd.StringDtype):
            # A string column holds strings or missing values only: no cell to look at one by one.
            bad = (series.isna() | (series.str.len() == 0)).to_numpy(dtype=bool)
            values = series.to_numpy(dtype=object, na_value=_PLACEHOLDER[kind])
        else:
            values, bad = _parse(series.to_numpy(), kind)
        for r in np.flatnonzero(bad & (reason == "")):
            cell = table[column].iloc[r]
            text = repr(cell.item() if isinstance(cell, np.generic) else cell)
            text = text if len(text) <= 60 else text[:57] + "..."
            reason[r] = f"{column} = {text} is not {_WHAT[kind]}"
        values[bad] = _PLACEHOLDER[kind]
        clean[column] = values.astype({"integer": np.int64, "boolean": bool, "string": object}[kind])
    shape = [c for c in getattr(model, "SHAPE_COLUMNS", ()) if c in clean.columns]
    if shape:
        # The product in floats: exact enough to tell a count that fits 64 bits from one that does not.
        product = np.prod(np.stack([clean[c].to_numpy(np.float64) for c in shape], axis=1), axis=1)
        over = (np.abs(product) >= INT64_LIMIT) & (reason == "")
        for r in np.flatnonzero(over):
            reason[r] = f"shape {' x '.join(shape)} = {product[r]:.3g} elements overflows a 64-bit count"
        for c in shape:
            col = clean[c].to_numpy().copy()
            col[over] = _PLACEHOLDER["integer"]
            clean[c] = col
    return reason, clean


_WHAT = {"integer": "an integer", "boolean": "a boolean (True / False or 0 / 1)", "string": "a non-empty string"}


def _parse(values: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(values as objects of the column's kind, mask of the cells that are not of that kind)."""
    out = np.empty(len(values), dtype=object)
    bad = np.zeros(len(values), dtype=bool)
    # Fast paths for typed columns (the common case, and a table may have millions of rows).
    if kind == "integer" and values.dtype.kind in "iu":
        big = np.abs(values.astype(np.float64)) >= INT64_LIMIT
        return values.astype(object), big
    if kind == "integer" and values.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < INT64_LIMIT))
        out = np.where(bad, 0, np.nan_to_num(values)).astype(np.int64).astype(object)
        return out, bad
    if kind == "boolean" and values.dtype.kind == "b":
        return values.astype(object), bad
    if kind == "boolean" and values.dtype.kind in "iu":
        bad = ~np.isin(values, (0, 1))
        return (values == 1).astype(object), bad
    for i, v in enumerate(values):
        ok, parsed = _cell(v, kind)
        bad[i] = not ok
        out[i] = parsed
    return out, bad


def _cell(value: Any, kind: str) -> tuple[bool, Any]:
    if isinstance(value, np.generic):
        value = value.item()
    if kind == "integer":
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int):
            return abs(value) < INT64_LIMIT, value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < INT64_LIMIT:
            return True, int(value)
        return False, None
    if kind == "boolean":
        if isinstance(value, bool):
            return True, value
        if isinstance(value, int) and value in (0, 1):
            return True, bool(value)
        return False, None
    if isinstance(value, str) and value:
        return True, value
    return False, None
