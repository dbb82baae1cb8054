"""What a sweep computes for one point and one backend: the result columns, from either engine.

Both engines fill the same columns (`RESULT_COLUMNS`). A point a model rejects is a row, never a crash:
`feasible` is False and `reason` says why -- the analytic model's `infeasible_reason`; for the simulator the
kinds of the static checks' violations (`l1_overflow`, `cb_count`, ...), `cb_deadlock` when the run hangs,
or the factory's message when the configuration cannot be built at all (times are then NaN).
`des_point` runs in worker processes (local or on a Dask cluster), so it is a plain top-level function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.errors import PerfModelError

RESULT_COLUMNS = ("kernel_duration_ns", "cycles", "bound", "num_cores", "l1_bytes_per_core", "feasible", "reason")
DEADLOCK_REASON = "cb_deadlock"


def _plain(value: Any) -> Any:
    """A Python scalar (JSON-able, NaN for missing numbers) from a numpy or pandas value."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return math.nan
    return value


def result_row(
    *,
    kernel_duration_ns: float,
    cycles: float,
    bound: str | None,
    num_cores: int,
    l1_bytes_per_core: int,
    reason: str,
) -> dict[str, Any]:
    """The result columns of one row; `feasible` is an empty `reason`."""
    return {
        "kernel_duration_ns": float(kernel_duration_ns),
        "cycles": float(cycles),
        "bound": bound if bound else None,
        "num_cores": int(num_cores),
        "l1_bytes_per_core": int(l1_bytes_per_core),
        "feasible": not reason,
        "reason": reason,
    }


def analytic_rows(op: str, table: pd.DataFrame) -> list[dict[str, Any]]:
    """The result columns of every row of `table` (the op's input columns), in one `estimate_many` call."""
    from perfmodel.analytic import estimate_many

    est = estimate_many(op, table)
    columns = {
        "kernel_duration_ns": est["kernel_duration_ns"].to_numpy(),
        "cycles": est["cycles"].to_numpy(),
        "bound": est["bound"].to_numpy(),
        "num_cores": est["num_cores"].to_numpy(),
        "l1_bytes_per_core": est["l1_bytes_per_core"].to_numpy(),
        "reason": est["infeasible_reason"].to_numpy(),
    }
    rows = []
    for i in range(len(est)):
        values = {k: _plain(v[i]) for k, v in columns.items()}
        values["reason"] = str(values["reason"] or "")
        rows.append(result_row(**values))
    return rows


def des_point(op: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The result columns of one point simulated by the DES (program from the op model's `program_for_row`)."""
    from perfmodel.analytic.engine import op_model
    from perfmodel.checks import check
    from perfmodel.des import DeadlockError, simulate

    model = op_model(op)
    try:
        program = model.program_for_row(row)
    except PerfModelError as exc:
        return result_row(
            kernel_duration_ns=math.nan, cycles=math.nan, bound=None, num_cores=0, l1_bytes_per_core=0, reason=str(exc)
        )
    kinds = list(dict.fromkeys(v.kind for v in check(program).violations))
    try:
        result = simulate(program)
    except DeadlockError:
        return result_row(
            kernel_duration_ns=math.nan,
            cycles=math.nan,
            bound=None,
            num_cores=program.num_cores,
            l1_bytes_per_core=program.l1_bytes_per_core,
            reason="; ".join(dict.fromkeys([*kinds, DEADLOCK_REASON])),
        )
    except PerfModelError as exc:  # e.g. the event limit of a run far larger than a sweep should hold
        return result_row(
            kernel_duration_ns=math.nan,
            cycles=math.nan,
            bound=None,
            num_cores=program.num_cores,
            l1_bytes_per_core=program.l1_bytes_per_core,
            reason="; ".join([*kinds, str(exc)]),
        )
    return result_row(
        kernel_duration_ns=result.kernel_duration_ns,
        cycles=result.cycles,
        bound=result.bound,
        num_cores=result.num_cores,
        l1_bytes_per_core=result.l1_bytes_per_core,
        reason="; ".join(kinds),
    )


def des_points(op: str, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`des_point` over a few rows (one task of a runner)."""
    return [des_point(op, row) for row in rows]
