"""Hang diagnosis: the blocked waits of a simulation that cannot move, as a watcher-style report.

When the event queue empties while kernels are unfinished, every unfinished kernel (or compute thread) is
parked in a CB call that can never be satisfied. `DeadlockError.report` lists those waits with the kernel
source line, in the spirit of tt-metal's watcher (CRBW = cb_reserve_back waiting, CWFW = cb_wait_front
waiting), plus the pages pushed and popped so far on every CB of every core. A compute thread parked in the
Dst handshake is reported as its call, `tile_regs_acquire` (math: both Dst sections are full) or
`tile_regs_wait` (pack: nothing committed), on "Dst"; the Src hand-off between unpack and math as "srcA/B".
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import FrameType
from typing import Any

from perfmodel.errors import PerfModelError
from perfmodel.kernel_api import cb_label

# Frames inside these files are engine code, not kernel mirrors: a source line skips them.
_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))
# The helper library is engine code shared by every engine (it lives beside the kernel API).
_EXTRA_ENGINE_FILES: set[str] = {os.path.join(os.path.dirname(_ENGINE_DIR), "kernel_lib.py")}

WATCHER_CODES = {
    "cb_reserve_back": "CRBW",
    "cb_wait_front": "CWFW",
    "tile_regs_acquire": "DSTACQ",
    "tile_regs_wait": "DSTW",
}
_FREE_CALLS = ("cb_reserve_back", "tile_regs_acquire")  # wait for free pages (else for visible ones)


# filename -> engine code or not, for `kernel_frame`, which runs on every blocked wait.
_IS_ENGINE: dict[str, bool] = {}


def register_engine_file(path: str) -> None:
    """Mark another module (e.g. the dry-run checker) as engine code for `kernel_frame`."""
    _EXTRA_ENGINE_FILES.add(os.path.abspath(path))
    _IS_ENGINE.clear()


def _is_engine(filename: str) -> bool:
    known = _IS_ENGINE.get(filename)
    if known is None:
        known = _IS_ENGINE[filename] = filename.startswith(_ENGINE_DIR) or filename in _EXTRA_ENGINE_FILES
    return known


def kernel_frame(depth: int = 1) -> FrameType | None:
    """The innermost frame of the caller's stack that belongs to a kernel mirror (not to the engine).

    Keeping the frame (not its line) is cheap; a suspended generator frame still reports its current line
    when the report is rendered.
    """
    frame: FrameType | None = sys._getframe(depth)
    while frame is not None and _is_engine(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def suspended_kernel_frame(generator: Any) -> FrameType | None:
    """The innermost kernel-mirror frame of the suspended `yield from` chain that starts at `generator`:
    what `kernel_frame` returned when the innermost generator of the chain last ran (for a report made
    when it is needed instead of on every wait)."""
    found = None
    while generator is not None:
        frame = getattr(generator, "gi_frame", None)
        if frame is None:
            break
        if not _is_engine(frame.f_code.co_filename):
            found = frame
        generator = generator.gi_yieldfrom
    return found


def frame_source(frame: FrameType | None) -> str:
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


@dataclass(frozen=True)
class BlockedWait:
    """One kernel (or compute thread) parked forever in a CB call."""

    core: tuple[int, int]
    kernel: str
    thread: str
    call: str
    cb: int
    requested: int
    available: int  # free pages (sections) for cb_reserve_back / tile_regs_acquire, visible ones for the waits
    capacity: int
    source: str  # file:line of the kernel mirror

    def watcher_line(self) -> str:
        code = WATCHER_CODES.get(self.call, self.call)
        what = "free" if self.call in _FREE_CALLS else "visible"
        where = os.path.basename(self.source.rsplit(":", 1)[0]) + ":" + self.source.rsplit(":", 1)[-1]
        if self.call.startswith("tile_regs_"):
            return (
                f"{self.kernel}/{self.thread} {code} {self.call}() on Dst: "
                f"{self.available} sections {'free' if what == 'free' else 'committed'} of {self.capacity} at {where}"
            )
        return (
            f"{self.kernel}/{self.thread} {code} {self.call}({cb_label(self.cb)}, {self.requested}): "
            f"{self.available} {what} of {self.capacity} at {where}"
        )


@dataclass(frozen=True)
class CbCounters:
    """Pages pushed and popped so far on one CB of one core."""

    core: tuple[int, int]
    cb: int
    pushed: int
    popped: int
    capacity: int


class DeadlockError(PerfModelError):
    """The simulated program hangs. `report` lists the blocked waits; `cb_counters` the CB page counts."""

    def __init__(
        self,
        report: list[BlockedWait],
        cb_counters: list[CbCounters],
        *,
        time_cycles: float,
        finished: Mapping[tuple[int, int], list[str]] | None = None,
    ) -> None:
        self.report = report
        self.cb_counters = cb_counters
        self.time_cycles = time_cycles
        self.finished = dict(finished or {})
        super().__init__(self.render())

    def render(self) -> str:
        cores = sorted({w.core for w in self.report})
        # An untimed verdict (the analytic model's, from the CB page counts alone) has no cycle.
        when = "" if math.isnan(self.time_cycles) else f" at cycle {self.time_cycles:.0f}"
        lines = [f"deadlock{when}: {len(self.report)} blocked waits on {len(cores)} cores"]
        for core in cores:
            waits = [w for w in self.report if w.core == core]
            done = self.finished.get(core, [])
            parts = [w.watcher_line() for w in waits] + [f"{k} done" for k in done]
            lines.append(f"core ({core[0]},{core[1]}): " + " | ".join(parts))
            counts = [c for c in self.cb_counters if c.core == core]
            lines.append(
                "    "
                + " ".join(f"{cb_label(c.cb)} pushed {c.pushed} popped {c.popped} (cap {c.capacity});" for c in counts)
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable, so a sweep running simulations in worker processes gets the report back intact.
        return (_rebuild_deadlock, (self.report, self.cb_counters, self.time_cycles, self.finished))

    def to_dict(self) -> dict[str, Any]:
        return {
            # None for an untimed verdict: NaN is not JSON.
            "time_cycles": None if math.isnan(self.time_cycles) else self.time_cycles,
            "blocked": [{**asdict(w), "core": list(w.core)} for w in self.report],
            "cb_counters": [{**asdict(c), "core": list(c.core)} for c in self.cb_counters],
            "finished": [{"core": list(core), "kernels": kernels} for core, kernels in sorted(self.finished.items())],
        }


def _rebuild_deadlock(
    report: list[BlockedWait],
    cb_counters: list[CbCounters],
    time_cycles: float,
    finished: dict[tuple[int, int], list[str]],
) -> DeadlockError:
    return DeadlockError(report, cb_counters, time_cycles=time_cycles, finished=finished)


class SimulationLimitError(PerfModelError):
    """The simulation reached a bound (`max_events` or `timeout_s`); the message says which, where, how to raise it."""
