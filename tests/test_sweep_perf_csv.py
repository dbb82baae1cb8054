"""`perfmodel sweep SPEC --out T --perf-csv F`: the sweep's feasible rows as ops_perf_results rows, read back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from perfmodel.cli import main
from perfmodel.io.compare import compare
from perfmodel.io.perf_out import COLUMNS
from perfmodel.sweep.output import read_table

SPEC = """
op = "centralize_w_rm"
[axes]
N = [1]
C = [1]
H = [256]
W = [512]
dtype = ["bfloat16"]
device = ["wormhole_b0_n150"]
grid_x = [1, 2]
grid_y = [2]
row_wise = [false]
in_buffering = [2]
out_buffering = [2]
"""


def test_sweep_rows_written_as_profiler_rows_and_read_back(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    out, csv_out = tmp_path / "t.csv", tmp_path / "perf.csv"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--perf-csv", str(csv_out)]) == 0
    table = read_table(out)
    feasible = table[table["feasible"].astype(bool)]
    rows = pd.read_csv(csv_out)
    assert tuple(rows.columns[: len(COLUMNS)]) == COLUMNS
    assert len(rows) == len(feasible) == 2
    assert list(rows["DEVICE KERNEL DURATION [ns]"]) == [round(v) for v in feasible["kernel_duration_ns"]]
    assert list(rows["CORE COUNT"]) == list(feasible["num_cores"])
    # compare rebuilds each point's program from the row and predicts it again: the analytic engine agrees.
    result = compare(csv_out, engines=("analytic",))
    assert len(result.rows) == 2
    assert all(abs(r.error("analytic")) < 1e-3 for r in result.rows)


def test_sweep_perf_csv_in_a_missing_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    code = main(["sweep", str(spec), "--out", str(tmp_path / "t.csv"), "--perf-csv", str(tmp_path / "no" / "p.csv")])
    assert code == 2
    assert not (tmp_path / "t.csv").exists()
