"""`validate_columns`: a typed string column is judged without looking at its cells one by one, with the same
verdicts and cleaned values as the same cells in an object column."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd

from perfmodel.analytic.columns import validate_columns
from perfmodel.space import search_space

MODEL = importlib.import_module("perfmodel.ops.centralize_w_rm.model")


def _table() -> pd.DataFrame:
    space = search_space("centralize_w_rm", (1, 1, 256, 512), device="wormhole_b0_n150")
    table = space.table([space.default] * 6)
    assert isinstance(table["device"].dtype, pd.StringDtype)
    table.loc[1, "device"] = ""
    table.loc[2, "device"] = None
    table.loc[3, "dtype"] = ""
    table.loc[4, "variant"] = None
    return table


def test_a_string_column_gives_the_verdicts_of_its_cells() -> None:
    typed = _table()
    cells = typed.astype({c: object for c in ("dtype", "device", "variant", "math_fidelity")})
    reason_typed, clean_typed = validate_columns(MODEL, typed)
    reason_cells, clean_cells = validate_columns(MODEL, cells)
    assert list(reason_typed) == list(reason_cells)
    assert reason_typed[0] == "" and reason_typed[5] == ""
    assert reason_typed[1] == "device = '' is not a non-empty string"
    assert reason_typed[2].startswith("device = ") and reason_typed[2].endswith("is not a non-empty string")
    assert reason_typed[3] == "dtype = '' is not a non-empty string"
    assert reason_typed[4].startswith("variant = ")
    for column in ("dtype", "device", "variant"):
        assert list(clean_typed[column]) == list(clean_cells[column])
        assert all(isinstance(v, str) for v in clean_typed[column])
    assert np.all(clean_typed["device"].iloc[[1, 2]] == "")
