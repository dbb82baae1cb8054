"""centralize_w_rm's `validate_rows` on block_wt and fp32_dest_acc_en cells of every kind: the verdict and the
resolved value of each row, whether the column is a clean typed column (taken at once) or mixed objects
(looked at cell by cell)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.ops.centralize_w_rm import model

BASE = {"N": 1, "C": 1, "H": 64, "W": 1024, "dtype": "bfloat16", "device": "wormhole_b0_n150", "grid_x": 1,
        "grid_y": 1, "in_buffering": 2, "out_buffering": 2, "variant": "two_pass"}  # fmt: skip
# (block_wt cell, variant, message, resolved block) on a row of Wt = 32; the default block of Wt 32 is 8.
BLOCKS = [
    (None, "two_pass", "", 8),
    (16, "two_pass", "", 16),
    (np.int64(4), "two_pass", "", 4),
    (8.0, "two_pass", "", 8),
    (float("nan"), "two_pass", "", 8),
    (0, "two_pass", "block_wt = 0 is not a positive integer or empty", 8),
    (-2, "two_pass", "block_wt = -2 is not a positive integer or empty", 8),
    (2.5, "two_pass", "block_wt = 2.5 is not a positive integer or empty", 8),
    (True, "two_pass", "block_wt = True is not a positive integer or empty", 8),
    (5, "two_pass", "block_wt = 5 does not divide Wt = 32", 8),
    (64, "two_pass", "block_wt = 64 is wider than the row: Wt = 32", 8),
    (2**70, "two_pass", f"block_wt = {2**70} is wider than the row: Wt = 32", 8),
    (8, "single_pass", "block_wt = 8 is a knob of variant 'two_pass'", 0),
    (None, "single_pass", "", 0),
]


def _table(cells: list, variants: list[str], **columns: list) -> pd.DataFrame:
    rows = [{**BASE, "variant": v, "block_wt": c} for c, v in zip(cells, variants, strict=True)]
    table = pd.DataFrame(rows)
    table["block_wt"] = pd.Series(cells, dtype=object)
    for name, values in columns.items():
        table[name] = pd.Series(values, dtype=object if any(not isinstance(v, bool) for v in values) else bool)
    return table


def test_block_wt_cells_of_every_kind() -> None:
    cells, variants, messages, blocks = (list(x) for x in zip(*BLOCKS, strict=True))
    table = _table(cells, variants)
    assert list(model.validate_rows(table)) == messages
    assert list(table["block_wt"]) == blocks


@pytest.mark.parametrize("cell", [4, 8, 16, 32])
def test_a_clean_int_column_is_taken_as_the_same_cells_one_by_one(cell: int) -> None:
    clean = pd.DataFrame([{**BASE, "block_wt": cell}, {**BASE, "block_wt": 3}])
    mixed = clean.astype({"block_wt": object})
    mixed.loc[1, "block_wt"] = 3.0  # a float cell sends the column down the cell-by-cell path
    assert list(model.validate_rows(clean)) == ["", "block_wt = 3 does not divide Wt = 32"]
    assert list(model.validate_rows(mixed)) == ["", "block_wt = 3 does not divide Wt = 32"]
    assert list(clean["block_wt"]) == list(mixed["block_wt"]) == [cell, 8]


def test_fp32_dest_acc_en_cells() -> None:
    cells = [True, False, None, 1, 0, np.bool_(True), "x", 2]
    table = _table([None] * len(cells), ["two_pass"] * len(cells), fp32_dest_acc_en=cells)
    assert list(model.validate_rows(table)) == [
        *[""] * 6,
        "fp32_dest_acc_en = 'x' is not a boolean or empty",
        "fp32_dest_acc_en = 2 is not a boolean or empty",
    ]
    assert list(table["fp32_dest_acc_en"])[:6] == [True, False, False, True, False, True]
    typed = _table([None, None], ["two_pass"] * 2, fp32_dest_acc_en=[True, False])
    assert typed["fp32_dest_acc_en"].dtype == bool
    assert list(model.validate_rows(typed)) == ["", ""] and list(typed["fp32_dest_acc_en"]) == [True, False]
