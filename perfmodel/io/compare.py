"""Predicted against measured for the rows of a profiler CSV: per row, per op, and what was skipped.

Each group of modelled rows (`perfmodel.io.rows`) is built on the board and grid it ran on and timed by
the requested engines; the error is (predicted - measured) / measured. Per op and engine: the median and
max |error| and Kendall's tau between predicted and measured (does the model order the problems as the
board does). A problem the op cannot build or that would hang is a skipped row, with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from perfmodel.des import DeadlockError, simulate
from perfmodel.device import DeviceProfile
from perfmodel.errors import InputError
from perfmodel.io.perf_csv import PerfFile
from perfmodel.io.rows import Group, select

ENGINES = ("des", "analytic")


@dataclass(frozen=True)
class RowComparison:
    """One group of rows: what it is, its median measurement, each engine's prediction and error."""

    group: Group
    predicted_ns: Mapping[str, float]
    core_count_model: int

    def error(self, engine: str) -> float:
        return (self.predicted_ns[engine] - self.group.median_ns) / self.group.median_ns

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.group.describe(),
            "core_count_model": self.core_count_model,
            "predicted_ns": dict(self.predicted_ns),
            "error": {e: self.error(e) for e in self.predicted_ns},
        }


@dataclass(frozen=True)
class OpSummary:
    op_code: str
    engine: str
    groups: int
    median_abs_error: float
    max_abs_error: float
    kendall_tau: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Comparison:
    file: str
    engines: tuple[str, ...]
    rows: tuple[RowComparison, ...]
    summaries: tuple[OpSummary, ...]
    skipped: Mapping[str, tuple[int, ...]]
    unmodelled: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "engines": list(self.engines),
            "rows": [r.to_dict() for r in self.rows],
            "per_op": [s.to_dict() for s in self.summaries],
            "skipped": [{"reason": k, "rows": len(v), "lines": list(v)} for k, v in self.skipped.items()],
            "unmodelled_op_codes": dict(self.unmodelled),
        }


def _predict(group: Group, engines: Sequence[str]) -> tuple[dict[str, float], int]:
    from perfmodel.analytic import estimate

    program = group.build()
    out = {}
    for engine in engines:
        result = simulate(program) if engine == "des" else estimate(program)
        out[engine] = result.kernel_duration_ns
    return out, program.num_cores


def summarise(rows: Sequence[RowComparison], engines: Sequence[str]) -> tuple[OpSummary, ...]:
    """Per op code and engine: median and max |error| and Kendall's tau over the groups."""
    out = []
    for code in dict.fromkeys(r.group.op_code for r in rows):
        mine = [r for r in rows if r.group.op_code == code]
        for engine in engines:
            errors = np.abs([r.error(engine) for r in mine])
            tau = None
            if len(mine) >= 2:
                stat = kendalltau([r.predicted_ns[engine] for r in mine], [r.group.median_ns for r in mine]).statistic
                tau = None if np.isnan(stat) else float(stat)
            out.append(OpSummary(code, engine, len(mine), float(np.median(errors)), float(np.max(errors)), tau))
    return tuple(out)


def compare(
    path: str | Path | PerfFile,
    *,
    device: str | DeviceProfile | None = None,
    engines: Sequence[str] = ENGINES,
    worker_cores: int | None = None,
) -> Comparison:
    """Compare every modelled row of the profiler CSV `path` with the engines' predictions."""
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise InputError(f"unknown engine {unknown[0] if unknown else ''!r} (known: {', '.join(ENGINES)})")
    selection = select(path, device=device, worker_cores=worker_cores)
    skipped = {k: list(v) for k, v in selection.skipped.items()}
    rows = []
    for group in selection.groups:
        try:
            predicted, cores = _predict(group, engines)
        except DeadlockError:
            skipped.setdefault(f"{group.op_code}: the modelled program would hang", []).extend(group.lines)
            continue
        except InputError as exc:
            skipped.setdefault(f"{group.op_code}: not buildable: {exc}", []).extend(group.lines)
            continue
        rows.append(RowComparison(group, predicted, cores))
    return Comparison(
        file=selection.file.path,
        engines=tuple(engines),
        rows=tuple(rows),
        summaries=summarise(rows, engines),
        skipped={k: tuple(sorted(v)) for k, v in skipped.items()},
        unmodelled=selection.unmodelled,
    )
