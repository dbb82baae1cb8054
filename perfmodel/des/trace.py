"""Chrome trace-event JSON of one simulation, for Perfetto (ui.perfetto.dev) or chrome://tracing.

One process per core, one track (thread) per RISC-V / compute thread, a complete event ("X") per phase
(kernel setup, NoC issue, compute call) and per blocked interval, and a counter track per CB with its
occupancy in pages. Timestamps are microseconds of device time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perfmodel.io.files import write_text_safely

# Track order inside a core (tid) and the names Perfetto shows.
TRACKS = ("ncrisc", "brisc", "unpack", "math", "pack")
TRACK_LABELS = {
    "ncrisc": "NCRISC (reader, NoC 0)",
    "brisc": "BRISC (writer, NoC 1)",
    "unpack": "TRISC0 unpack",
    "math": "TRISC1 math",
    "pack": "TRISC2 pack",
}


class Tracer:
    def __init__(self, clock_ghz: float) -> None:
        self._us_per_cycle = 1.0 / (clock_ghz * 1000.0)
        self.events: list[dict[str, Any]] = []
        self._pids: dict[tuple[int, int], int] = {}

    def pid(self, core: tuple[int, int]) -> int:
        pid = self._pids.get(core)
        if pid is None:
            pid = self._pids[core] = len(self._pids)
            self.events.append(
                {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": f"core ({core[0]},{core[1]})"}}
            )
            self.events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}})
            for tid, track in enumerate(TRACKS):
                self.events.append(
                    {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": TRACK_LABELS[track]}}
                )
        return pid

    def complete(
        self, core: tuple[int, int], track: str, name: str, start_cycles: float, dur_cycles: float, **args: Any
    ) -> None:
        event = {
            "ph": "X",
            "name": name,
            "pid": self.pid(core),
            "tid": TRACKS.index(track),
            "ts": start_cycles * self._us_per_cycle,
            "dur": dur_cycles * self._us_per_cycle,
        }
        if args:
            event["args"] = args
        self.events.append(event)

    def counter(self, core: tuple[int, int], name: str, samples: list[tuple[float, int]]) -> None:
        pid = self.pid(core)
        for t, value in samples:
            self.events.append(
                {"ph": "C", "name": name, "pid": pid, "ts": t * self._us_per_cycle, "args": {"pages": value}}
            )

    def write(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        payload = {"traceEvents": self.events, "displayTimeUnit": "ns", "otherData": metadata or {}}
        write_text_safely(path, json.dumps(payload), what="trace file")
