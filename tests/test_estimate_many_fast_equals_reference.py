"""estimate_many's fast path gives the reference path's frame exactly: every column, value, dtype and text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perfmodel
from perfmodel import estimate_many
from perfmodel.space import search_space

DEVICES = ["wormhole_b0_n150", "wormhole_b0_n300", "blackhole_p150a", "blackhole_p100a"]


def centralize_table(n: int, seed: int) -> pd.DataFrame:
    """Random rows over every board and dtype, with the optional design and compute-config columns, bad cells,
    boards too small for the grid, bufferings that overflow L1 or starve the pipeline."""
    rng = np.random.default_rng(seed)
    wt = rng.choice([1, 2, 3, 4, 6, 8, 9, 12, 16], n)
    two_pass = rng.random(n) < 0.3
    block = np.where(two_pass & (rng.random(n) < 0.5), np.where(wt % 2 == 0, 2, 1), np.nan)
    table = pd.DataFrame(
        {
            "N": rng.integers(1, 4, n),
            "C": rng.integers(1, 3, n),
            "H": 32 * rng.integers(1, 60, n),
            "W": 32 * wt,
            "dtype": rng.choice(["bfloat16", "float32"], n),
            "device": rng.choice(DEVICES, n),
            "grid_x": rng.integers(1, 10, n),
            "grid_y": rng.integers(1, 9, n),
            "row_wise": rng.random(n) < 0.5,
            "in_buffering": rng.integers(1, 5, n),
            "out_buffering": rng.integers(1, 5, n),
            "variant": np.where(two_pass, "two_pass", "single_pass"),
            "block_wt": block,
            "math_fidelity": rng.choice(["LoFi", "HiFi2", "HiFi4"], n),
            "fp32_dest_acc_en": rng.choice(np.array([None, True, False], dtype=object), n),
            "dst_full_sync_en": rng.random(n) < 0.3,
        }
    )
    table = table.astype({"H": object, "device": object, "in_buffering": object, "variant": object})
    table.loc[0, "H"] = "64"  # a string where an integer belongs
    table.loc[1, "device"] = "no_such_board"
    table.loc[2, "in_buffering"] = 0  # a CB with no pages: the reservation never succeeds
    table.loc[3, "in_buffering"] = 400  # far more than L1 holds
    table.loc[4, "H"] = 48  # not a multiple of the tile height
    table.loc[5, "variant"] = "three_pass"
    table.loc[6, ["N", "H", "W"]] = [0, 32, 32]  # no units
    table.loc[7, "block_wt"] = 5.0  # does not divide Wt (or is a knob of the other variant)
    return table


def assert_same(op: str, table: pd.DataFrame) -> pd.DataFrame:
    reference = estimate_many(op, table, reference=True)
    fast = estimate_many(op, table)
    pd.testing.assert_frame_equal(fast, reference, check_exact=True)
    return fast


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_centralize_random_tables(seed: int) -> None:
    table = centralize_table(80, seed)
    out = assert_same("centralize_w_rm", pd.concat([table, table.iloc[10:40]], ignore_index=True))
    assert out["feasible"].any() and not out["feasible"].all()


def test_centralize_duplicated_rows_and_wide_rows() -> None:
    # Many equal rows (evaluated once on the fast path) and a wide row with many pipeline nodes.
    rng = np.random.default_rng(7)
    n = 120
    table = pd.DataFrame(
        {
            "N": rng.integers(1, 3, n),
            "C": 1,
            "H": 32 * rng.integers(1, 4, n),
            "W": rng.choice([32, 1024], n),
            "dtype": rng.choice(["bfloat16", "float32"], n),
            "device": rng.choice(DEVICES[:2], n),
            "grid_x": rng.integers(1, 3, n),
            "grid_y": 1,
            "row_wise": False,
            "in_buffering": rng.integers(1, 3, n),
            "out_buffering": rng.integers(1, 3, n),
        }
    )
    assert_same("centralize_w_rm", table)


def test_centralize_without_optional_columns_and_from_a_dict() -> None:
    table = centralize_table(40, 3).drop(columns=["variant", "block_wt", "math_fidelity", "fp32_dest_acc_en"])
    assert_same("centralize_w_rm", table)
    columns = {c: table[c].tolist() for c in table.columns}
    pd.testing.assert_frame_equal(
        estimate_many("centralize_w_rm", columns),
        estimate_many("centralize_w_rm", columns, reference=True),
        check_exact=True,
    )


def test_empty_table() -> None:
    assert_same("centralize_w_rm", centralize_table(5, 0).iloc[:0])


def test_unary_table() -> None:
    rows = [
        {"N": 1, "C": c, "H": h, "W": w, "dtype": dt, "fn": fn, "device": dev, "grid_x": gx, "grid_y": gy,
         "row_wise": rw, "block_tiles": b, "buffering": d}
        for c, h, w in ((1, 512, 512), (2, 64, 96)) for dt in ("bfloat16", "float32") for fn in ("relu", "copy")
        for dev in ("wormhole_b0_n150", "blackhole_p150a") for gx, gy, rw in ((1, 1, False), (4, 3, True))
        for b in (1, 3, 4) for d in (0, 1, 2)
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    table["math_fidelity"] = np.resize(["HiFi4", "LoFi", "HiFi3"], len(table))
    assert_same("unary", table)


@pytest.mark.parametrize(
    ("op", "shape"), [("tilize", (1, 1, 40, 1280)), ("untilize", (1, 6, 64, 96)), ("untilize", (2, 1, 32, 2048))]
)
def test_layout_tables(op: str, shape: tuple[int, ...]) -> None:
    for device in ("blackhole_p150a", "wormhole_b0_n150"):
        space = search_space(op, shape, device=device)
        table = space.table([{"grid_x": x, "grid_y": y} for x in (1, 2, 5, 11) for y in (1, 3, 10)])
        assert_same(op, table)


@pytest.mark.parametrize("factors", [(1.0, 2.0, 3.0), (0.5, 1.0, 2.0)])
def test_pipeline_with_starved_and_deadlocking_capacities(factors: tuple[float, ...], same_pipeline_times) -> None:
    """The recursion itself, fast against reference, with CB capacities from none to plenty (hangs included)."""
    from perfmodel.analytic.engine import op_model, signature
    from perfmodel.analytic.pipeline import pipeline_times
    from perfmodel.device import load_device

    rng = np.random.default_rng(11)
    device = load_device("wormhole_b0_n150")
    model = op_model("centralize_w_rm")
    keys = [
        (64, "bfloat16", "single_pass", 0, "HiFi4", False, False),
        (96, "float32", "single_pass", 0, "HiFi4", True, False),
        (128, "bfloat16", "two_pass", 2, "HiFi4", False, False),
    ]
    sigs = [signature("centralize_w_rm", device, key) for key in keys]
    rows = 300
    which = rng.integers(0, len(sigs), rows)
    cross = sorted({cb for s in sigs for cb in s.cross_cbs})
    # The factory's CB table at buffering 1, with c_0 and c_16 scaled by `factors` (at half a reservation no
    # longer fits: a hang).
    tables = []
    for key, sig in zip(keys, sigs, strict=True):
        row = {
            "W": key[0],
            "dtype": key[1],
            "variant": key[2],
            "block_wt": key[3],
            "in_buffering": 1,
            "out_buffering": 1,
        }
        tables.append({**dict(sig.pseudo_cb_pages), **{cb.index: cb.num_pages for cb in model.cb_table_for_row(row)}})
    capacities = {cb: np.array([float(tables[w].get(cb, 0)) for w in which]) for cb in cross}
    for cb in (0, 16):
        capacities[cb] = np.floor(capacities[cb] * rng.choice(factors, rows))
    kernels = [k.name for k in sigs[0].kernels]
    shares = {(k, d): rng.choice([0.5, 2.0, 64.0], rows) for k in kernels for d in ("read", "write")}
    rates = {k: rng.choice([0.0, 10.0, 300.0], rows) for k in kernels}
    units = rng.integers(0, 60, rows)
    got, want = (
        pipeline_times(
            sigs,
            which,
            units,
            capacities,
            share_bytes_per_cycle=shares,
            rate_cycles=rates,
            lockstep_units=1,
            reference=reference,
        )
        for reference in (False, True)
    )
    assert want.deadlock.any() == (0.5 in factors)
    same_pipeline_times(got, want)


def test_reference_must_be_a_bool() -> None:
    with pytest.raises(perfmodel.InputError, match="reference must be True or False, got 1"):
        perfmodel.estimate_many("centralize_w_rm", {"N": [1]}, reference=1)
