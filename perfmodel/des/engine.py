"""`simulate(program)`: run a Program on simpy time and return a frozen `RunResult`.

Every core gets its CBs (`cb.py`), the two pseudo-CBs between its compute threads (`kernel_lib.pseudo_cbs`)
and one simpy process per kernel, three for the compute kernel (its unpack, math and pack threads). All
kernels start at t = 0 and first pay the profile's kernel setup; the kernel duration is first kernel start
to last kernel end over all cores. The run is bounded by `max_events` (events and kernel calls; by default
scaled from the program's work, `default_max_events`) and optionally by `timeout_s` of wall time; a bound
reached raises
`SimulationLimitError` saying which, where, and how to raise it. When the queue empties with kernels
unfinished, the blocked waits become a `DeadlockError`.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import GeneratorType
from typing import Any

import numpy as np
import simpy
from simpy.core import EmptySchedule

from perfmodel.des.cb import CbState
from perfmodel.des.context import DesContext
from perfmodel.des.context_fast import FastDesContext
from perfmodel.des.deadlock import (
    BlockedWait,
    CbCounters,
    DeadlockError,
    SimulationLimitError,
    frame_source,
    suspended_kernel_frame,
)
from perfmodel.des.env_fast import FastEnvironment
from perfmodel.des.memory import FunctionalMemory
from perfmodel.des.noc import NocModel
from perfmodel.des.noc_fast import FastNocModel
from perfmodel.des.trace import Tracer
from perfmodel.errors import InputError
from perfmodel.gcpause import collector_paused
from perfmodel.io.files import check_output_path
from perfmodel.kernel_api import cb_label
from perfmodel.kernel_lib import kernel_threads, pseudo_cbs
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH, tilize_block
from perfmodel.program import CircularBuffer, CoreProgram, KernelSpec, Program
from perfmodel.result import RunResult

# The event bound of a run is its expected work (`expected_events`) times this margin, and never below the
# floor: a program that does the work it declares finishes well inside it, a kernel that loops without end
# is stopped after a bounded multiple of the work it should have done.
EVENT_MARGIN = 20
MIN_MAX_EVENTS = 50_000_000
DEFAULT_MAX_EVENTS = MIN_MAX_EVENTS  # kept for callers that name the floor
# Progress and the wall-time limit are looked at every this many events (a few per second).
_CHECK_EVERY = 0x3FFF
TILE_HW = TILE_HEIGHT * TILE_WIDTH
# A run is called DRAM-bound when its busiest bank is busy at least this fraction of the kernel duration;
# below that, the largest of the compute / NoC / dispatch fractions names the bound (see `_bound`).
DRAM_BOUND_FRACTION = 0.6
ProgressFn = Callable[[float, int], None]


class Simulation:
    """The live state of one run. Built and consumed by `simulate`; never returned to the caller."""

    def __init__(
        self,
        program: Program,
        *,
        functional: bool,
        trace: bool,
        max_events: int,
        timeout_s: float | None = None,
        reference: bool = False,
    ) -> None:
        self.program = program
        self.device = program.device
        self.env = simpy.Environment() if reference else FastEnvironment()
        # Every core of the program reads and writes interleaved DRAM: the banks see num_cores streams.
        self.noc = (
            NocModel(program.device, streams=program.num_cores)
            if reference
            else FastNocModel.for_run(program.device, streams=program.num_cores)
        )
        self.max_calls = max_events
        self.timeout_s = timeout_s
        self.calls = 0
        self.skipped_events = 0  # timeouts a fast context did without an event (`context_fast`)
        self.blocked: dict[tuple[tuple[int, int], str, str], tuple[str, CbState, int, Any]] = {}
        self.zone_open: dict[tuple[tuple[int, int], str, str], float] = {}
        self.zones: list[tuple[tuple[int, int], str, str, float, float]] = []
        self.tracer = Tracer(program.device.clock_ghz) if trace else None
        cb_end = self._cb_layout()
        if functional and cb_end > program.device.core.l1_bytes:
            # With data every CB page has an L1 address: a table that does not fit has none to give.
            raise InputError(
                f"the CBs end at byte {cb_end} of L1, beyond {program.device.name}'s {program.device.core.l1_bytes}: "
                "a run with input data needs the program to fit in L1 (time it without inputs)"
            )
        l1_bytes = program.device.core.l1_bytes
        self.memory = FunctionalMemory(program.device.dram.num_banks, l1_bytes) if functional else None
        if self.memory is not None and not reference:
            self.memory.reserve(program.buffers)
        self.core_cbs: dict[tuple[int, int], dict[int, CbState]] = {}
        self.contexts: list[DesContext] = []
        context = DesContext if reference else FastDesContext
        pseudo = pseudo_cbs(program)
        for core_program in program.cores:
            cbs = {
                spec.index: CbState(_on_core(spec, core_program), self._cb_base[spec.index], record_occupancy=trace)
                for spec in program.cbs
            }
            for spec in pseudo:
                cbs[spec.index] = CbState(spec, 0, record_occupancy=trace)
            self.core_cbs[core_program.core] = cbs
            handoff: dict[str, Any] = {"src": deque(), "dst": deque()}
            for _, spec, thread in kernel_threads(program):
                ctx = context(self, program, core_program, spec, cbs, thread)
                ctx.share_handoff(handoff)
                self.contexts.append(ctx)
                ctx.process = self._run_kernel(ctx, spec, core_program)
                self.env.process(ctx.process)

    def _cb_layout(self) -> int:
        """CBs are allocated one after another from the bottom of the free L1 region, as tt-metal does."""
        core = self.device.core
        addr = core.l1_bytes - core.l1_free_bytes
        self._cb_base: dict[int, int] = {}
        for spec in self.program.cbs:
            self._cb_base[spec.index] = addr
            addr += -(-spec.total_bytes // core.l1_alignment_bytes) * core.l1_alignment_bytes
        return addr

    def _run_kernel(self, ctx: DesContext, spec: KernelSpec, core_program: CoreProgram) -> Iterator[Any]:
        setup = self.device.dispatch.kernel_setup_cycles
        ctx.stats.start = self.env.now
        if setup > 0:
            ctx.stats.add_busy(ctx.track, setup)
            if self.tracer is not None:
                self.tracer.complete(ctx.core, ctx.track, "kernel setup", 0.0, setup)
            yield self.env.timeout(setup)
        gen = spec.fn(ctx, **core_program.compile_time_args.get(spec.name, {}))
        if not isinstance(gen, Iterator):
            raise InputError(f"kernel {spec.name} ({spec.source}) must be a generator function (use `yield from k...`)")
        yield from gen
        ctx.stats.end = self.env.now

    def run(self, progress: ProgressFn | None = None) -> int:
        """Step the event queue until it empties; returns the number of events processed."""
        env = self.env
        step = env.step
        events = 0
        limit = self.max_calls
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        steps = getattr(env, "steps", None)  # a fast environment steps in batches between the checks
        try:
            while True:
                if steps is None:
                    step()
                    events += 1
                else:
                    wanted = _CHECK_EVERY + 1 - (events & _CHECK_EVERY)
                    done = steps(wanted)
                    events += done
                    if done < wanted:
                        break  # the queue is empty
                if not events & _CHECK_EVERY:
                    if events > limit:
                        raise SimulationLimitError(limit_message(f"{limit:,} events", env.now, limit))
                    if deadline is not None and time.monotonic() > deadline:
                        raise SimulationLimitError(
                            f"stopped at the time limit of {self.timeout_s:g} s of wall time after {events:,} "
                            f"events, at simulated cycle {env.now:,.0f}: raise it (timeout_s= in Python, "
                            "--timeout on the command line)"
                        )
                    if progress is not None:
                        progress(env.now, events)
        except EmptySchedule:
            pass
        return events + self.skipped_events

    def deadlock(self) -> DeadlockError | None:
        unfinished = [ctx for ctx in self.contexts if ctx.stats.end is None]
        if not unfinished:
            return None
        report = []
        for (core, kernel, thread), (call, cb, n, frame) in sorted(self.blocked.items(), key=lambda kv: kv[0]):
            if isinstance(frame, GeneratorType):  # a fast context's blocked process (`context_fast`)
                frame = suspended_kernel_frame(frame)
            available = cb.free if call in ("cb_reserve_back", "tile_regs_acquire") else cb.visible
            report.append(
                BlockedWait(core, kernel, thread, call, cb.index, n, available, cb.capacity, frame_source(frame))
            )
        counters = [
            CbCounters(core, cb.index, cb.pushed, cb.popped, cb.capacity)
            for core, cbs in self.core_cbs.items()
            for cb in cbs.values()
        ]
        finished: dict[tuple[int, int], list[str]] = {}
        for ctx in self.contexts:
            if ctx.stats.end is not None:
                name = ctx.kernel_name if ctx.thread is None else f"{ctx.kernel_name}/{ctx.thread}"
                finished.setdefault(ctx.core, []).append(name)
        return DeadlockError(report, counters, time_cycles=float(self.env.now), finished=finished)


def _on_core(spec: CircularBuffer, core_program: CoreProgram) -> CircularBuffer:
    """The CB as this core configures it (its core group may configure fewer pages than the program's table)."""
    pages = core_program.cb_pages.get(spec.index)
    return spec if pages is None else dataclasses.replace(spec, num_pages=pages)


@collector_paused()
def simulate(
    program: Program,
    *,
    inputs: np.ndarray | Mapping[str, np.ndarray] | None = None,
    trace_path: str | Path | None = None,
    max_events: int | None = None,
    timeout_s: float | None = None,
    progress: ProgressFn | None = None,
    reference: bool = False,
) -> RunResult:
    """Simulate `program`; with `inputs` (the op's input array of the program's exact shape, or {buffer name:
    array}) pages carry data and `result.output` is the op's output. Raises `DeadlockError` when the program
    hangs, `SimulationLimitError` when it reaches `max_events` (events or kernel calls; default
    `default_max_events(program)`) or `timeout_s` seconds of wall time (default: none). `reference` runs the
    plain implementation of the NoC and of the kernel calls instead of their fast equivalents (the same
    results bit for bit: tests/test_des_fast_equals_reference.py)."""
    if not isinstance(reference, bool):
        raise InputError(f"reference must be True or False, got {reference!r}")
    if trace_path is not None:
        check_output_path(trace_path, what="trace file")  # refused now, not after a long run
    wall0 = time.perf_counter()
    limit = default_max_events(program) if max_events is None else _bound_arg("max_events", max_events, int)
    if timeout_s is not None:
        timeout_s = _bound_arg("timeout_s", timeout_s, float)
    named = None if inputs is None else _named_inputs(program, inputs)
    sim = Simulation(
        program,
        functional=inputs is not None,
        trace=trace_path is not None,
        max_events=limit,
        timeout_s=timeout_s,
        reference=reference,
    )
    if named is not None:
        assert sim.memory is not None
        for name, values in named.items():
            sim.memory.load_buffer(program.buffer(name), values)
    try:
        events = sim.run(progress)
        wall = time.perf_counter() - wall0
        error = sim.deadlock()
        if trace_path is not None:
            _write_trace(sim, trace_path, deadlocked=error is not None)
        if error is not None:
            raise error
        return _result(sim, events, wall, inputs is not None)
    finally:
        if isinstance(sim.noc, FastNocModel):
            sim.noc.release()  # the next run on this board takes it, emptied


def expected_events(program: Program) -> int:
    """A generous count of the events a run of `program` should take: its NoC packets and its CB pages.

    Per DRAM page, its packets (each a few events: issue, bank, links, completion); per unit of work and CB,
    a page through each of the four CB calls. Only an order of magnitude matters (see `EVENT_MARGIN`).
    """
    packet = program.device.noc.max_packet_bytes
    packets = sum(buf.num_pages * -(-buf.page_size_bytes // packet) for buf in program.buffers)
    return 8 * packets + 4 * program.units * max(len(program.cbs), 1) + 1000 * program.num_cores


def default_max_events(program: Program) -> int:
    """The event bound of a run of `program` when the caller gives none: `EVENT_MARGIN` x its expected work."""
    return max(MIN_MAX_EVENTS, EVENT_MARGIN * expected_events(program))


def limit_message(what: str, now_cycles: float, limit: int, culprit: str = "") -> str:
    """The one-line message of a reached event bound: what was reached, where, and how to raise it."""
    return (
        f"stopped after {what} (the max_events bound) at simulated cycle {now_cycles:,.0f}: raise it "
        f"(max_events= in Python, --max-events on the command line) if the run is just big; if it is not, "
        f"a kernel loops without end{culprit}"
    )


def _bound_arg(name: str, value: object, kind: type) -> Any:
    """A positive `max_events` (int) or `timeout_s` (number), else an InputError naming it."""
    ok = isinstance(value, int | np.integer) if kind is int else isinstance(value, int | float | np.number)
    if isinstance(value, bool) or not ok or not value > 0 or (kind is float and not np.isfinite(float(value))):
        raise InputError(f"{name} = {value!r} must be a positive {'integer' if kind is int else 'number'}")
    return kind(value)


def _named_inputs(program: Program, inputs: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{DRAM buffer name: numeric array} of `inputs`, checked before anything is allocated for the run."""
    names = [b.name for b in program.buffers]
    if isinstance(inputs, Mapping):
        named = dict(inputs)
        for name in named:
            if name not in names:
                raise InputError(f"inputs name DRAM buffer {name!r}; {program.op_name} has {', '.join(names)}")
    else:
        target = "input" if "input" in names else (names[0] if names else None)
        if target is None:
            raise InputError(f"program {program.op_name} has no DRAM buffer to load the input into")
        named = {target: inputs}
    out = {}
    for name, values in named.items():
        try:
            array = np.asarray(values)
            if array.dtype.kind not in "biuf":  # bool, integer and float arrays are numbers already
                array.astype(np.float64)  # numbers only; the values themselves are converted by the memory
        except (TypeError, ValueError):
            what = f"an array of {values.dtype}" if isinstance(values, np.ndarray) else type(values).__name__
            raise InputError(f"input for buffer {name!r} is not an array of numbers (got {what})") from None
        tiled_input = program.attributes.get("input_layout") == "TILE"
        if name == "input" and tiled_input and array.shape == tuple(program.shape):
            array = _tilized(array)  # the logical tensor of an op whose input is tiles: its DRAM pages
        elif name == "input" and tiled_input and array.ndim == 2 and array.shape[1] == TILE_HW:
            pass  # the DRAM pages themselves, [tiles, 1024]
        elif name == "input" and not isinstance(inputs, Mapping) and array.shape != tuple(program.shape):
            # An array of the right size but another shape would be read in another order: refused.
            raise InputError(
                f"input of shape {list(array.shape)} does not match the program's shape {list(program.shape)}"
            )
        out[name] = array
    return out


def _tilized(array: np.ndarray) -> np.ndarray:
    """A tile-aligned row-major tensor as its tile pages [tiles, 1024] (tile rows, then tile columns)."""
    if array.ndim < 2 or array.shape[-2] % TILE_HEIGHT or array.shape[-1] % TILE_WIDTH:
        raise InputError(f"input of shape {list(array.shape)}: a tiled input needs H and W multiples of 32")
    rows = array.reshape(-1, TILE_HEIGHT, array.shape[-1])
    return tilize_block(rows).reshape(-1, TILE_HW)


def _output(sim: Simulation) -> np.ndarray | None:
    """The output buffer: tile pages [tiles, 1024] for an op whose output is tiles (attribute
    output_layout "TILE"), else shaped as the op's `output_shape` attribute or its input shape when it fits."""
    program = sim.program
    if sim.memory is None or "output" not in {b.name for b in program.buffers}:
        return None
    out = sim.memory.read_buffer(program.buffer("output"))
    if program.attributes.get("output_layout") == "TILE":
        return out.reshape(-1, TILE_HW)
    shape = program.attributes.get("output_shape")
    if shape is not None and out.size == int(np.prod(shape)):
        return out.reshape(tuple(shape))
    if out.size == int(np.prod(program.shape)):
        return out.reshape(program.shape)
    return out


def _write_trace(sim: Simulation, path: str | Path, *, deadlocked: bool) -> None:
    tracer = sim.tracer
    assert tracer is not None
    for core, cbs in sim.core_cbs.items():
        for cb in cbs.values():
            if cb.occupancy:
                label = cb_label(cb.index)
                name = label if cb.index < 0 else f"{label} {cb.spec.name}"
                tracer.counter(core, f"{name} pages", cb.occupancy)
    tracer.write(
        path,
        {
            "op": sim.program.op_name,
            "device": sim.device.name,
            "shape": list(sim.program.shape),
            "deadlock": deadlocked,
        },
    )


def _bound(fractions: Mapping[str, float]) -> str:
    """DRAM when the busiest bank is busy most of the run; otherwise the largest busy fraction."""
    if fractions["dram"] >= DRAM_BOUND_FRACTION:
        return "dram"
    return max(("compute", "noc", "dispatch", "dram"), key=lambda k: fractions[k])


def _result(sim: Simulation, events: int, wall_s: float, functional: bool) -> RunResult:
    program, device = sim.program, sim.device
    ends = [ctx.stats.end or 0.0 for ctx in sim.contexts]
    duration = max(ends) if ends else 0.0
    setup = device.dispatch.kernel_setup_cycles

    per_core: list[dict[str, Any]] = []
    by_core: dict[tuple[int, int], list[DesContext]] = {}
    for ctx in sim.contexts:
        by_core.setdefault(ctx.core, []).append(ctx)
    max_math = max_dm = 0.0
    stage_max: dict[str, float] = {}
    for core, ctxs in by_core.items():
        entry: dict[str, Any] = {"core": list(core)}
        kernels: dict[str, list[DesContext]] = {}
        for ctx in ctxs:
            kernels.setdefault(ctx.kernel_name, []).append(ctx)
        for name, group in kernels.items():
            # A compute kernel's figures are its threads': the busiest thread's busy time, every thread's
            # blocked time; per thread under "unpack", "math", "pack".
            busy = max(sum(c.stats.busy.values()) for c in group)
            blocked = sum(sum(c.stats.blocked.values()) for c in group)
            ends = [c.stats.end for c in group]
            by_call: dict[str, float] = {}
            for c in group:
                for (thread, call), v in sorted(c.stats.blocked.items()):
                    by_call[f"{call} ({thread})"] = by_call.get(f"{call} ({thread})", 0.0) + v
            entry[name] = {
                "risc": group[0].risc,
                "end_cycles": None if any(e is None for e in ends) else max(ends),  # type: ignore[type-var]
                "busy_cycles": busy,
                "blocked_cycles": blocked,
                "blocked_by_call": dict(sorted(by_call.items())),
            }
            for key, value in (("busy", busy), ("blocked", blocked)):
                stage = f"{name}_{key}_cycles_max"
                stage_max[stage] = max(stage_max.get(stage, 0.0), value)
            for ctx in group:
                s = ctx.stats
                if ctx.thread is not None:
                    tb = sum(s.blocked.values())
                    entry[ctx.thread] = {"busy_cycles": s.busy.get(ctx.thread, 0.0), "blocked_cycles": tb}
                    max_math = max(max_math, s.busy.get(ctx.thread, 0.0) - setup)
                else:
                    barrier = sum(v for (_, call), v in s.blocked.items() if call.startswith("noc_async"))
                    max_dm = max(max_dm, sum(s.busy.values()) - setup + barrier)
        per_core.append(entry)

    per_cb = []
    for spec in program.cbs:
        states = [cbs[spec.index] for cbs in sim.core_cbs.values()]
        blocked: dict[str, float] = {}
        for st in states:
            for (who, call), v in st.blocked_cycles.items():
                key = f"{who}:{call}"
                blocked[key] = blocked.get(key, 0.0) + v
        per_cb.append(
            {
                "index": spec.index,
                "name": spec.name,
                "capacity_pages": spec.num_pages,
                "max_occupancy_pages": max((st.max_occupancy for st in states), default=0),
                "mean_occupancy_pages": (
                    sum(st.mean_occupancy(duration) for st in states) / len(states) if states else 0.0
                ),
                "pages_pushed": sum(st.pushed for st in states),
                "pages_popped": sum(st.popped for st in states),
                "blocked_cycles": blocked,
            }
        )

    utilisation = sim.noc.utilisation(duration)
    fractions = {
        "dram": float(utilisation["dram_bank_busy_fraction_max"]),  # type: ignore[arg-type]
        "compute": max_math / duration if duration else 0.0,
        "noc": max_dm / duration if duration else 0.0,
        "dispatch": setup / duration if duration else 0.0,
    }
    utilisation["bound_fractions"] = fractions

    zones: dict[str, float] = {}
    for _core, _kernel, name, start, end in sim.zones:
        zones[name] = max(zones.get(name, 0.0), end - start)
    details = {
        "events": events,
        "kernel_calls": sim.calls,
        "wall_time_s": wall_s,
        "events_per_s": events / wall_s if wall_s > 0 else 0.0,
        "functional": functional,
        "zones": zones,
        "zone_instances": [
            {"core": list(core), "kernel": kernel, "name": name, "start_cycles": start, "end_cycles": end}
            for core, kernel, name, start, end in sim.zones
        ],
        "kernel_setup_cycles": setup,
    }
    return RunResult.for_program(
        program,
        backend="des",
        cycles=duration,
        bound=_bound(fractions),
        stages={"kernel_setup_cycles": setup, **stage_max},
        per_core=tuple(per_core),
        per_cb=tuple(per_cb),
        utilisation=utilisation,
        details=details,
        output=_output(sim),
    )
