"""The simulator's kernel context: the kernel API of `perfmodel.kernel_api` on simpy time.

One `DesContext` per kernel per core. CB calls follow `cb.CbState`; a call that must wait parks the kernel
on a simpy event and records who waits for what (for the deadlock report); push and pop never wait and take
no time. NoC calls price their packets through `noc.NocModel` and keep the RISC-V busy for the issue cycles;
a barrier waits until the latest completion of this RISC-V's reads (or writes). A compute kernel runs as
three processes, one context per thread (TRISC0 unpack, TRISC1 math, TRISC2 pack); each pays its own part of
the helpers (see `perfmodel.kernel_lib`) and they meet in the core's pseudo-CBs SRC and DST, whose waits
are reported as the calls that make them (`tile_regs_acquire` / `tile_regs_wait` on Dst).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from perfmodel.des.cb import CbState
from perfmodel.des.deadlock import SimulationLimitError, kernel_frame
from perfmodel.errors import InputError
from perfmodel.kernel_api import DST_CB, cb_label
from perfmodel.kernel_lib import KernelContextBase
from perfmodel.numerics.formats import get_format
from perfmodel.program import CoreProgram, KernelSpec, Program

if TYPE_CHECKING:
    from perfmodel.des.engine import Simulation

Gen = Iterator[Any]
_NOTHING: tuple[()] = ()
# What a blocked wait on the Dst pseudo-CB is in the kernel's terms.
_DST_CALLS = {"cb_reserve_back": "tile_regs_acquire", "cb_wait_front": "tile_regs_wait"}


class KernelStats:
    """Where one kernel's time went: busy per thread, blocked per (thread, call)."""

    __slots__ = ("blocked", "busy", "end", "start")

    def __init__(self) -> None:
        self.start = 0.0
        self.end: float | None = None
        self.busy: dict[str, float] = {}
        self.blocked: dict[tuple[str, str], float] = {}

    def add_busy(self, thread: str, cycles: float) -> None:
        self.busy[thread] = self.busy.get(thread, 0.0) + cycles

    def add_blocked(self, thread: str, call: str, cycles: float) -> None:
        key = (thread, call)
        self.blocked[key] = self.blocked.get(key, 0.0) + cycles


class DesContext(KernelContextBase):
    def __init__(
        self,
        sim: Simulation,
        program: Program,
        core_program: CoreProgram,
        spec: KernelSpec,
        cbs: dict[int, CbState],
        thread: str | None = None,
    ) -> None:
        super().__init__(program, core_program, spec.name, thread)
        self.sim = sim
        self.env = sim.env
        self.cbs = cbs
        self.noc_index = spec.noc
        self.is_compute = spec.risc == "trisc"
        self.risc = spec.risc
        self.functional = sim.memory is not None
        self.stats = KernelStats()
        self.read_done = 0.0
        self.write_done = 0.0
        self._tracer = sim.tracer
        self.process: Iterator[Any] | None = None  # the simpy process's generator (set by the engine)

    # ---- bookkeeping -------------------------------------------------------------------------------------
    def _cb(self, cb: int) -> CbState:
        state = self.cbs.get(cb)
        if state is None:
            raise InputError(
                f"kernel {self.kernel_name} on core {self.core} uses c_{cb}, which the program does not configure"
            )
        return state

    def _tick(self) -> None:
        sim = self.sim
        sim.calls += 1
        if sim.calls > sim.max_calls:
            from perfmodel.des.engine import limit_message

            raise SimulationLimitError(
                limit_message(
                    f"{sim.max_calls:,} kernel calls",
                    self.env.now,
                    sim.max_calls,
                    f" (the last call was from {self.kernel_name} on core {self.core})",
                )
            )

    @property
    def track(self) -> str:
        """The thread this context runs: a compute thread, or the data-movement RISC-V."""
        return self.thread or self.risc

    def _block(self, call: str, cb: CbState, n: int, front: bool) -> Gen:
        env = self.env
        t0 = env.now
        thread = self.track
        if cb.index == DST_CB:
            call = _DST_CALLS[call]
        key = (self.core, self.kernel_name, thread)
        self.sim.blocked[key] = (call, cb, n, kernel_frame(1))
        while True:
            event = env.event()
            (cb.front_waiters if front else cb.back_waiters).append((n, event))
            yield event
            if (cb.pushed - cb.popped if front else cb.capacity - (cb.pushed - cb.popped)) >= n:
                break
        del self.sim.blocked[key]
        waited = env.now - t0
        if waited > 0:
            self.stats.add_blocked(thread, call, waited)
            cb.add_blocked(f"{self.kernel_name}/{thread}", call, waited)
            if self._tracer is not None:
                self._tracer.complete(self.core, thread, f"{call} {cb_label(cb.index)} blocked", t0, waited, pages=n)

    # ---- circular buffers --------------------------------------------------------------------------------
    def _cb_reserve(self, cb: int, n: int) -> Gen:
        state = self._cb(cb)
        self._tick()
        if state.capacity - (state.pushed - state.popped) < n:
            yield from self._block("cb_reserve_back", state, n, front=False)

    def _cb_wait(self, cb: int, n: int) -> Gen:
        state = self._cb(cb)
        self._tick()
        if state.pushed - state.popped < n:
            yield from self._block("cb_wait_front", state, n, front=True)

    def _cb_push(self, cb: int, n: int) -> Gen:
        self._tick()
        self._cb(cb).push(n, self.env.now)
        return iter(_NOTHING)

    def _cb_pop(self, cb: int, n: int) -> Gen:
        self._tick()
        self._cb(cb).pop(n, self.env.now)
        return iter(_NOTHING)

    def get_write_ptr(self, cb: int) -> int:
        return self._cb(cb).wr_ptr

    def get_read_ptr(self, cb: int) -> int:
        return self._cb(cb).rd_ptr

    # ---- NoC -------------------------------------------------------------------------------------------
    def _noc(self) -> int:
        if self.noc_index is None:
            raise InputError(f"kernel {self.kernel_name} runs on {self.risc}, which has no NoC of its own")
        return self.noc_index

    def _issue(self, direction: str, bank: int, nbytes: int) -> Gen:
        self._tick()
        now = self.env.now
        issue, done = self.sim.noc.transfer(now, self.core, self._noc(), direction, bank, nbytes)  # type: ignore[arg-type]
        if direction == "read":
            self.read_done = max(self.read_done, done)
        else:
            self.write_done = max(self.write_done, done)
        if issue > 0:
            self.stats.add_busy(self.risc, issue)
            if self._tracer is not None:
                self._tracer.complete(self.core, self.risc, f"noc_async_{direction}", now, issue, bytes=nbytes)
            yield self.env.timeout(issue)

    def noc_async_read(self, src: Any, dst_l1_addr: int, nbytes: int) -> Gen:
        bank, address = src
        if self.functional:
            self.sim.memory.read_dram_to_l1(bank, address, self.core, dst_l1_addr, nbytes)
        return self._issue("read", bank, nbytes)

    def noc_async_write(self, src_l1_addr: int, dst: Any, nbytes: int) -> Gen:
        bank, address = dst
        self._note_write(nbytes)
        if self.functional:
            self.sim.memory.write_l1_to_dram(self.core, src_l1_addr, bank, address, nbytes)
        return self._issue("write", bank, nbytes)

    def _barrier(self, call: str, done: float) -> Gen:
        self._tick()
        now = self.env.now
        if done > now:
            waited = done - now
            self.stats.add_blocked(self.risc, call, waited)
            if self._tracer is not None:
                self._tracer.complete(self.core, self.risc, call, now, waited)
            yield self.env.timeout(waited)

    def noc_async_read_barrier(self) -> Gen:
        return self._barrier("noc_async_read_barrier", self.read_done)

    def noc_async_write_barrier(self) -> Gen:
        return self._barrier("noc_async_write_barrier", self.write_done)

    # ---- compute and data ------------------------------------------------------------------------------
    def _compute(self, name: str, cycles: float) -> Gen:
        if cycles > 0:
            thread = self.track
            self.stats.add_busy(thread, cycles)
            if self._tracer is not None:
                self._tracer.complete(self.core, thread, name, self.env.now, cycles)
            yield self.env.timeout(cycles)

    def _read_pages(self, cb: int, first: int, count: int) -> np.ndarray:
        state = self._cb(cb)
        fmt = get_format(state.spec.data_format)
        raw = self.sim.memory.l1_read(self.core, state.rd_ptr + first * state.page_bytes, count * state.page_bytes)
        return raw.view(fmt.dtype).reshape(count, -1)

    def _write_pages(self, cb: int, first: int, values: np.ndarray) -> None:
        state = self._cb(cb)
        dtype = get_format(state.spec.data_format).dtype
        if values.dtype != dtype:
            values = values.astype(dtype)  # the packer converts to the CB's format
        self.sim.memory.l1_write(self.core, state.wr_ptr + first * state.page_bytes, values)

    def _write_l1(self, l1_addr: int, raw: np.ndarray) -> None:
        self.sim.memory.l1_write(self.core, l1_addr, raw)

    def _write_ptr(self, cb: int) -> int:
        return self._cb(cb).wr_ptr

    # ---- profiler zones ----------------------------------------------------------------------------------
    def device_zone_start(self, name: str) -> Gen:
        self.sim.zone_open[(self.core, self.kernel_name, name)] = self.env.now
        return iter(_NOTHING)

    def device_zone_end(self, name: str) -> Gen:
        start = self.sim.zone_open.pop((self.core, self.kernel_name, name), None)
        if start is None:
            raise InputError(f"device_zone_end({name!r}) in {self.kernel_name} without a matching zone start")
        self.sim.zones.append((self.core, self.kernel_name, name, start, self.env.now))
        return iter(_NOTHING)
