"""The analytic model against the simulator on the compute kernel config and the two-pass design.

The agreement set of tests/test_agreement.py, extended with the knobs a factory author turns besides the grid
and the buffering: math fidelity, the Dst width (fp32_dest_acc_en), the Dst sync mode (dst_full_sync_en)
and the two-pass design with its block width. Both architectures, both dtypes, one core to the whole grid.
Asserted as there: median |relative difference| <= 3 %, 95th percentile <= 10 %, and within each shape the
ranking of its configurations agrees (Kendall tau on times tied within 0.5 %). `pytest -s` prints the figures.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

import perfmodel
from perfmodel import estimate_many, simulate
from perfmodel.ops.centralize_w_rm.model import program_for_row

OP = perfmodel.get_op("centralize_w_rm")

# (device, dtype, W, H): widths where the single pass fits, and two wider ones only the two-pass design fits.
SHAPES = [
    ("wormhole_b0_n150", "bfloat16", 256, 256),
    ("wormhole_b0_n150", "bfloat16", 1024, 512),
    ("wormhole_b0_n150", "float32", 512, 256),
    ("wormhole_b0_n150", "bfloat16", 8192, 64),
    ("blackhole_p150a", "bfloat16", 256, 512),
    ("blackhole_p150a", "bfloat16", 1024, 256),
    ("blackhole_p150a", "float32", 512, 256),
    ("blackhole_p150a", "float32", 8192, 64),
]
# (math_fidelity, fp32_dest_acc_en, dst_full_sync_en, variant, block_wt)
KNOBS = [
    ("HiFi4", None, False, "single_pass", None),
    ("LoFi", None, False, "single_pass", None),
    ("HiFi2", True, False, "single_pass", None),
    ("HiFi4", False, True, "single_pass", None),
    ("HiFi4", True, True, "single_pass", None),
    ("HiFi4", None, False, "two_pass", None),
    ("LoFi", None, False, "two_pass", 2),
    ("HiFi4", True, True, "two_pass", 4),
]
GRIDS = [(1, 1), (4, 2), (8, 8)]


def _table() -> pd.DataFrame:
    rows = []
    for device, dtype, w, h in SHAPES:
        for fidelity, fp32, full_sync, variant, block_wt in KNOBS:
            for gx, gy in GRIDS:
                rows.append(
                    {
                        "N": 1,
                        "C": 1,
                        "H": h,
                        "W": w,
                        "dtype": dtype,
                        "device": device,
                        "grid_x": gx,
                        "grid_y": gy,
                        "row_wise": False,
                        "in_buffering": 2,
                        "out_buffering": 2,
                        "math_fidelity": fidelity,
                        "fp32_dest_acc_en": fp32,
                        "dst_full_sync_en": full_sync,
                        "variant": variant,
                        "block_wt": block_wt,
                    }
                )
    return pd.DataFrame(rows)


@functools.cache
def _results() -> pd.DataFrame:
    table = estimate_many(OP, _table())
    table = table[table["feasible"]].reset_index(drop=True)
    table["des_cycles"] = [simulate(program_for_row(row._asdict())).cycles for row in table.itertuples()]
    table["rel_diff"] = (table["cycles"] - table["des_cycles"]) / table["des_cycles"]
    table["shape"] = (
        table["device"] + " " + table["dtype"] + " " + table["H"].astype(str) + "x" + table["W"].astype(str)
    )
    return table


def test_every_knob_is_in_the_set() -> None:
    t = _results()
    assert len(t) >= 150
    assert set(t["math_fidelity"]) == {"LoFi", "HiFi2", "HiFi4"}
    assert set(t["dst_full_sync_en"]) == {False, True}
    assert set(t["variant"]) == {"single_pass", "two_pass"}
    # The widest rows fit only with the two-pass design.
    wide = t[t["W"] == 8192]
    assert len(wide) and set(wide["variant"]) == {"two_pass"}


def test_agreement_with_the_simulator_on_the_knobs() -> None:
    t = _results()
    err = t["rel_diff"].abs()
    median, p95 = float(err.median()), float(err.quantile(0.95))
    print(f"\nknob agreement over {len(t)} configurations: median |diff| {100 * median:.2f} %, p95 {100 * p95:.2f} %")
    cols = ["shape", "grid_x", "grid_y", "math_fidelity", "fp32_dest_acc_en", "dst_full_sync_en", "variant"]
    worst = t.reindex(err.sort_values(ascending=False).index).head(8)
    print(worst[[*cols, "block_wt", "des_cycles", "cycles", "rel_diff"]].to_string(index=False))
    assert median <= 0.03
    assert p95 <= 0.10


def _tied(cycles: pd.Series) -> np.ndarray:
    return np.round(np.log(cycles.to_numpy()) / np.log1p(0.005))


def test_ranking_of_the_knobs_within_each_shape() -> None:
    t = _results()
    taus = {}
    for shape, group in t.groupby("shape"):
        if group["des_cycles"].nunique() >= 2:
            taus[shape] = kendalltau(_tied(group["des_cycles"]), _tied(group["cycles"])).statistic
    print("\nKendall tau per shape:", {k: round(v, 3) for k, v in sorted(taus.items(), key=lambda kv: kv[1])})
    assert len(taus) == len(SHAPES)
    assert min(taus.values()) >= 0.85
