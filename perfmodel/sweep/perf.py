"""A sweep's rows as tt-metal profiler rows: `perfmodel sweep ... --perf-csv FILE`.

Every feasible row of the sweep's table (one point on one backend) becomes one `ops_perf_results` row
(`perfmodel.io.perf_out`): the point's Program is rebuilt by the op model's `program_for_row`, and its
predicted kernel duration is the table's. Per-RISC-V columns stay empty (a table keeps no per-core spans);
`GLOBAL CALL COUNT` numbers the rows, and the backend travels in `ATTRIBUTES` with the point's config.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from perfmodel.analytic.engine import op_model
from perfmodel.io.perf_out import format_attributes, result_row, write_perf_csv
from perfmodel.result import RunResult


def sweep_perf_rows(op: str, table: pd.DataFrame) -> list[dict[str, str]]:
    """One profiler row per feasible row of `table` (a sweep's output for `op`), in table order."""
    model = op_model(op)
    rows = []
    for record in table[table["feasible"].astype(bool)].to_dict("records"):
        program = model.program_for_row(record)
        result = RunResult.for_program(
            program, backend=str(record["backend"]), cycles=float(record["cycles"]), bound=str(record["bound"] or "")
        )
        row = result_row(result, program, call_count=len(rows) + 1)
        row["ATTRIBUTES"] = format_attributes({**result.config, "backend": record["backend"]})
        rows.append(row)
    return rows


def write_sweep_perf_csv(op: str, table: pd.DataFrame, path: str | Path) -> Path:
    """Write the sweep's feasible rows to `path` as an ops_perf_results CSV (safely); returns the file."""
    return write_perf_csv(path, sweep_perf_rows(op, table))
