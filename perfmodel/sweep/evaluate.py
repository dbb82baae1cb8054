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


def analytic_rows(op: str, table: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The values of `RESULT_COLUMNS` for every row of `table` (the op's input columns), by one
    `estimate_many` call, as plain Python tuples."""
    from perfmodel.analytic import estimate_many

    est = estimate_many(op, table)
    bound = [b if isinstance(b, str) and b else None for b in est["bound"].tolist()]
    reason = [str(r) if isinstance(r, str) else "" for r in est["infeasible_reason"].tolist()]
    columns = {
        "kernel_duration_ns": est["kernel_duration_ns"].to_numpy(np.float64).tolist(),
        "cycles": est["cycles"].to_numpy(np.float64).tolist(),
        "bound": bound,
        "num_cores": est["num_cores"].to_numpy(np.int64).tolist(),
        "l1_bytes_per_core": est["l1_bytes_per_core"].to_numpy(np.int64).tolist(),
        "feasible": [not r for r in reason],
        "reason": reason,
    }
    return list(zip(*(columns[c] for c in RESULT_COLUMNS), strict=True))


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


def as_values(result: Mapping[str, Any]) -> tuple[Any, ...]:
    """A result row as the tuple of its `RESULT_COLUMNS` values."""
    return tuple(result[c] for c in RESULT_COLUMNS)
