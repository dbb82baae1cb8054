"""From a profiler CSV to the problems the tool models: op discovery, board per row, grouping of repeats.

An op models real rows when it ships `ops/<name>/perf.py` (see `perfmodel.io.perf_row`). Every row is
either a measurement of a modelled problem, a row of a modelled op that the op skips (with its reason), or
a row of an op code no op models. Rows of the same problem (op, board, grid, shape, dtype, config) are one
group whose measurement is the median of the rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.io.perf_csv import (
    OP_CODE,
    PerfFile,
    board_for_row,
    measured_ns,
    read_perf_csv,
)
from perfmodel.io.perf_row import Problem, Skip
from perfmodel.op import get_op, list_ops


def perf_modules() -> dict[str, tuple[str, ModuleType]]:
    """OP CODE -> (op name, its perf module), for every op that ships `perf.py`."""
    found: dict[str, tuple[str, ModuleType]] = {}
    for name in list_ops():
        module_name = f"perfmodel.ops.{name}.perf"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # the op does not model real rows
            raise
        for code in module.OP_CODES:
            found[code] = (name, module)
    return found


@dataclass(frozen=True)
class Group:
    """One modelled problem and every row that measured it."""

    op_code: str
    op_name: str
    device: DeviceProfile
    problem: Problem
    lines: tuple[int, ...]
    measured_ns: tuple[float, ...]
    core_counts: tuple[int | None, ...] = field(default=())

    @property
    def median_ns(self) -> float:
        return float(np.median(self.measured_ns))

    @property
    def grid(self) -> tuple[int, int]:
        """The core grid the op ran on: its `grid` config, else the board's worker grid."""
        grid = self.problem.config.get("grid")
        return tuple(grid) if grid else (self.device.core.grid_x, self.device.core.grid_y)

    def build(self) -> Any:
        """The Program of this problem on the board and grid the rows ran on."""
        return build(self.op_name, self.problem, self.device)

    def label(self) -> str:
        """'centralize_w_rm 1x1x64x64 bfloat16 on wormhole_b0_n150, config grid 1x1' (or its worker grid)."""
        grid = self.grid
        shape = "x".join(str(d) for d in self.problem.shape)
        return f"{self.op_code} {shape} {self.problem.dtype} on {self.device.name} {grid[0]}x{grid[1]}"

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label(),
            "op_code": self.op_code,
            "op": self.op_name,
            "device": self.device.name,
            "worker_grid": list(self.grid),
            "shape": list(self.problem.shape),
            "dtype": self.problem.dtype,
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in self.problem.config.items()},
            "factory": self.problem.factory,
            "lines": list(self.lines),
            "measured_ns": self.median_ns,
            "measured_ns_all": list(self.measured_ns),
            "core_count_measured": next((c for c in self.core_counts if c is not None), None),
        }


def build(op_name: str, problem: Problem, device: DeviceProfile) -> Any:
    return get_op(op_name).build_program(problem.shape, device=device, dtype=problem.dtype, config=dict(problem.config))


@dataclass(frozen=True)
class Selection:
    """What a profiler CSV holds for the model: groups of modelled rows, skipped rows, unmodelled op codes."""

    file: PerfFile
    groups: tuple[Group, ...]
    skipped: Mapping[str, tuple[int, ...]]  # reason -> line numbers
    unmodelled: Mapping[str, int]  # op code -> rows


def _core_count(row: Mapping[str, str]) -> int | None:
    text = row.get("CORE COUNT", "").strip()
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def select(
    path: str | Path | PerfFile, *, device: str | DeviceProfile | None = None, worker_cores: int | None = None
) -> Selection:
    """Read `path` and sort its rows into modelled groups, skipped rows (by reason) and unmodelled op codes.

    Each row runs on its board (DEVICE ARCH, or `device`) as a whole; the op takes the worker grid the row could
    use from AVAILABLE WORKER CORE COUNT (or `worker_cores` for a file that does not record it) into its own
    `grid` config, so the Program is the one `build_program` gives for that config on the full board.
    """
    file = path if isinstance(path, PerfFile) else read_perf_csv(path)
    board_override = load_device(device) if device is not None else None
    modules = perf_modules()
    groups: dict[tuple, dict[str, Any]] = {}
    skipped: dict[str, list[int]] = {}
    unmodelled: dict[str, int] = {}
    for index, row in enumerate(file.rows):
        line = index + 2
        code = row.get(OP_CODE, "").strip()
        if code not in modules:
            unmodelled[code] = unmodelled.get(code, 0) + 1
            continue
        op_name, module = modules[code]
        measured = measured_ns(row)
        outcome: Problem | Skip | DeviceProfile
        if measured is None:
            outcome = Skip("no device kernel duration")
        elif measured <= 0:
            outcome = Skip("device kernel duration not positive")
        else:
            outcome = board_for_row(row, board_override, file.name)
        if isinstance(outcome, DeviceProfile):
            board = outcome
            try:
                outcome = module.problem_from_row(row, board, worker_cores=worker_cores)
            except InputError as exc:
                outcome = Skip(f"unreadable row: {exc}")
        if isinstance(outcome, Skip):
            skipped.setdefault(f"{code}: {outcome.reason}", []).append(line)
            continue
        problem = outcome
        key = (
            op_name,
            id(board),
            problem.shape,
            problem.dtype,
            repr(sorted(problem.config.items())),
            problem.factory,
        )
        entry = groups.setdefault(
            key, {"code": code, "op": op_name, "device": board, "problem": problem, "lines": [], "ns": [], "cores": []}
        )
        entry["lines"].append(line)
        entry["ns"].append(float(measured))  # type: ignore[arg-type]
        entry["cores"].append(_core_count(row))
    return Selection(
        file=file,
        groups=tuple(
            Group(e["code"], e["op"], e["device"], e["problem"], tuple(e["lines"]), tuple(e["ns"]), tuple(e["cores"]))
            for e in groups.values()
        ),
        skipped={reason: tuple(lines) for reason, lines in skipped.items()},
        unmodelled=dict(sorted(unmodelled.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
