"""`DesContext` with its hot calls made cheap, keeping every result bit for bit (`simulate(..., reference=True)`
runs the plain `context.DesContext`; tests/test_des_fast_equals_reference.py checks they agree).

What it saves:

- Calls that do not block are plain functions returning an exhausted iterator, not generators: a CB wait
  or reserve that is already satisfied, a push or pop, a NoC issue, a compute step, a barrier that is due.
- A blocked wait finds its kernel line only when the run ends in a deadlock.
- Functional runs copy NoC data and CB pages on the core's L1 array directly, and read a chunk's tiles in
  one slice (`_read_tiles`); the reference's memory calls whenever an index is out of range, for its
  errors.
- The priced packets of each transfer it makes are kept (until the NoC splits a chain of links).
- The compute cycles of a call (`_tcost`, `_setup`) and its Dst chunks are worked out once per run.
- A busy step (compute cycles, a NoC issue, a barrier) of a thread that would be the next to run anyway
  takes no simpy event. When every event in the queue is later than the end of the step, the reference's
  timeout would be the next event processed and the thread would resume at once at its end; so the clock
  is moved there and the thread goes on. Events at the same time are not skipped over (simpy runs the one
  scheduled first), and the events the thread makes afterwards keep their order relative to all others,
  so the run is the same event for event. The skipped timeouts are still counted in `details["events"]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from perfmodel.des.cb import CbState
from perfmodel.des.context import _DST_CALLS, DesContext, Gen
from perfmodel.kernel_api import DST_CB, cb_label
from perfmodel.numerics.formats import get_format
from perfmodel.program import CoreProgram, KernelSpec, Program

if TYPE_CHECKING:
    from perfmodel.des.engine import Simulation

# `yield from _DONE` returns at once, however often it is used: an exhausted iterator stays exhausted.
_DONE = iter(())


class FastDesContext(DesContext):
    def __init__(
        self,
        sim: Simulation,
        program: Program,
        core_program: CoreProgram,
        spec: KernelSpec,
        cbs: dict[int, CbState],
        thread: str | None = None,
    ) -> None:
        super().__init__(sim, program, core_program, spec, cbs, thread)
        self._track = self.thread or self.risc
        self._who = f"{self.kernel_name}/{self._track}"  # who waits, in a CB's blocked-cycle keys
        self._queue = self.env._queue  # simpy's event heap of (time, priority, id, event)
        # The profile's cycles per (cb, call, thread, tiles) and setup per (cb, call): fixed for a run.
        self._tcosts: dict[tuple[int, str, str, int], float] = {}
        self._setups: dict[tuple[int, str], float] = {}
        self._packets: dict[tuple[str, int, int], Any] = {}  # priced packets per (direction, bank, bytes)
        self._generation = 0  # of the NoC's chains when they were priced
        self._chunk_lists: dict[int, list[tuple[int, int]]] = {}  # read only: the helpers iterate them
        self._dtypes: dict[int, np.dtype] = {}  # per CB, the numpy type of its pages (functional runs)
        self._l1: np.ndarray | None = None  # this core's L1 bytes, once allocated (functional runs)

    def _count_call(self) -> None:
        sim = self.sim
        sim.calls += 1
        if sim.calls > sim.max_calls:
            self._over_limit()

    def _over_limit(self) -> None:
        self.sim.calls -= 1
        self._tick()  # raises the reference's error

    def _sleep(self, cycles: float) -> Gen:
        """Let `cycles` pass on this thread: without an event when nothing else is due before the end."""
        env = self.env
        end = env._now + cycles
        queue = self._queue
        if not queue or queue[0][0] > end:
            env._now = end
            self.sim.skipped_events += 1
            return _DONE
        return iter((env.schedule_resume(self.process, cycles),))

    # ---- circular buffers --------------------------------------------------------------------------------
    def _cb_reserve(self, cb: int, n: int) -> Gen:
        state = self.cbs.get(cb) or self._cb(cb)
        sim = self.sim
        sim.calls += 1
        if sim.calls > sim.max_calls:
            self._over_limit()
        if state.capacity - (state.pushed - state.popped) < n:
            return self._block("cb_reserve_back", state, n, front=False)
        return _DONE

    def _cb_wait(self, cb: int, n: int) -> Gen:
        state = self.cbs.get(cb) or self._cb(cb)
        sim = self.sim
        sim.calls += 1
        if sim.calls > sim.max_calls:
            self._over_limit()
        if state.pushed - state.popped < n:
            return self._block("cb_wait_front", state, n, front=True)
        return _DONE

    def _cb_push(self, cb: int, n: int) -> Gen:
        sim = self.sim
        sim.calls += 1
        if sim.calls > sim.max_calls:
            self._over_limit()
        (self.cbs.get(cb) or self._cb(cb)).push(n, self.env._now)
        return _DONE

    def _cb_pop(self, cb: int, n: int) -> Gen:
        sim = self.sim
        sim.calls += 1
        if sim.calls > sim.max_calls:
            self._over_limit()
        (self.cbs.get(cb) or self._cb(cb)).pop(n, self.env._now)
        return _DONE

    def _block(self, call: str, cb: CbState, n: int, front: bool) -> Gen:
        # `context.DesContext._block`, except that the kernel line of the wait is found only if the run
        # ends in a deadlock (`deadlock.suspended_kernel_frame` of the process), not on every wait.
        env = self.env
        t0 = env._now
        thread = self._track
        if cb.index == DST_CB:
            call = _DST_CALLS[call]
        key = (self.core, self.kernel_name, thread)
        blocked = self.sim.blocked
        blocked[key] = (call, cb, n, self.process)
        waiters = cb.front_waiters if front else cb.back_waiters
        while True:
            event = env.event()
            waiters.append((n, event))
            yield event
            if (cb.pushed - cb.popped if front else cb.capacity - (cb.pushed - cb.popped)) >= n:
                break
            waiters = cb.front_waiters if front else cb.back_waiters
        del blocked[key]
        waited = env._now - t0
        if waited > 0:
            self.stats.add_blocked(thread, call, waited)
            cb.add_blocked(self._who, call, waited)
            if self._tracer is not None:
                self._tracer.complete(self.core, thread, f"{call} {cb_label(cb.index)} blocked", t0, waited, pages=n)

    # ---- NoC -------------------------------------------------------------------------------------------
    def _issue(self, direction: str, bank: int, nbytes: int) -> Gen:
        self._count_call()
        now = self.env._now
        noc = self.sim.noc
        if self._generation != noc.generation:  # a chain of links was split: the NoC prices anew
            self._packets.clear()
            self._generation = noc.generation
        key = (direction, bank, nbytes)
        packets = self._packets.get(key)
        if packets is None:
            packets = self._packets[key] = noc.packets_of(self.core, self._noc(), direction, bank, nbytes)
        issue, done = noc.reserve(now, packets, nbytes)
        if direction == "read":
            if done > self.read_done:
                self.read_done = done
        elif done > self.write_done:
            self.write_done = done
        if issue > 0:
            self.stats.add_busy(self.risc, issue)
            if self._tracer is not None:
                self._tracer.complete(self.core, self.risc, f"noc_async_{direction}", now, issue, bytes=nbytes)
            return self._sleep(issue)
        return _DONE

    def _barrier(self, call: str, done: float) -> Gen:
        self._count_call()
        now = self.env._now
        if done > now:
            waited = done - now
            self.stats.add_blocked(self.risc, call, waited)
            if self._tracer is not None:
                self._tracer.complete(self.core, self.risc, call, now, waited)
            return self._sleep(waited)
        return _DONE

    def noc_async_read(self, src: Any, dst_l1_addr: int, nbytes: int) -> Gen:
        bank, address = src
        if self.functional and not self._copy(bank, address, dst_l1_addr, nbytes, to_l1=True):
            self.sim.memory.read_dram_to_l1(bank, address, self.core, dst_l1_addr, nbytes)
            self._l1 = self.sim.memory.l1_of(self.core)
        return self._issue("read", bank, nbytes)

    def noc_async_write(self, src_l1_addr: int, dst: Any, nbytes: int) -> Gen:
        bank, address = dst
        self._unflushed_writes.append(nbytes)  # `_note_write`
        if self.functional and not self._copy(bank, address, src_l1_addr, nbytes, to_l1=False):
            self.sim.memory.write_l1_to_dram(self.core, src_l1_addr, bank, address, nbytes)
            self._l1 = self.sim.memory.l1_of(self.core)
        return self._issue("write", bank, nbytes)

    def _copy(self, bank: int, address: int, l1_addr: int, nbytes: int, to_l1: bool) -> bool:
        """`FunctionalMemory.read_dram_to_l1` / `write_l1_to_dram` when every index is in range; False (and
        nothing done) otherwise, for the memory's own code to do or refuse."""
        memory = self.sim.memory
        l1 = self._l1
        if l1 is None or not (0 <= bank < memory.num_banks and address >= 0 and nbytes >= 0 and l1_addr >= 0):
            return False
        l1_end = l1_addr + nbytes
        if l1_end > l1.size:
            return False
        end = address + nbytes
        dram = memory.dram[bank]
        if end > dram.size:
            dram = memory._bank(bank, end)
        if to_l1:
            l1[l1_addr:l1_end] = dram[address:end]
        else:
            dram[address:end] = l1[l1_addr:l1_end]
        return True

    # ---- functional pages ----------------------------------------------------------------------------------
    def _page_dtype(self, cb: int, state: CbState) -> np.dtype:
        dtype = self._dtypes.get(cb)
        if dtype is None:
            dtype = self._dtypes[cb] = np.dtype(get_format(state.spec.data_format).dtype)
        return dtype

    def _read_pages(self, cb: int, first: int, count: int) -> np.ndarray:
        state = self.cbs.get(cb) or self._cb(cb)
        page = state.page_bytes
        addr = state.rd_ptr + first * page
        end = addr + count * page
        l1 = self._l1
        if l1 is None or addr < 0 or end > l1.size:
            pages = super()._read_pages(cb, first, count)  # the first access, or the reference's error
            self._l1 = self.sim.memory.l1_of(self.core)
            return pages
        return l1[addr:end].view(self._page_dtype(cb, state)).reshape(count, -1)

    def _read_tiles(self, cb: int, first: int, count: int) -> np.ndarray:
        state = self.cbs.get(cb) or self._cb(cb)
        addr = state.rd_ptr + first * state.page_bytes
        l1 = self._l1
        if l1 is None or addr < 0 or addr + count * state.page_bytes > l1.size:
            return super()._read_tiles(cb, first, count)  # page by page: the first access, or its error
        return self._read_pages(cb, first, count).copy()

    def _write_pages(self, cb: int, first: int, values: np.ndarray) -> None:
        state = self.cbs.get(cb) or self._cb(cb)
        dtype = self._page_dtype(cb, state)
        if values.dtype != dtype:
            values = values.astype(dtype)  # the packer converts to the CB's format
        raw = np.ascontiguousarray(values).view(np.uint8).reshape(-1)
        addr = state.wr_ptr + first * state.page_bytes
        l1 = self._l1
        if l1 is None or addr < 0 or addr + raw.size > l1.size:
            self.sim.memory.l1_write(self.core, addr, raw)  # the first access, or the reference's error
            self._l1 = self.sim.memory.l1_of(self.core)
            return
        l1[addr : addr + raw.size] = raw

    # ---- compute -----------------------------------------------------------------------------------------
    def _tcost(self, cb: int, name: str, thread: str, tiles: int) -> float:
        key = (cb, name, thread, tiles)
        cycles = self._tcosts.get(key)
        if cycles is None:
            cycles = self._tcosts[key] = super()._tcost(cb, name, thread, tiles)
        return cycles

    def _chunks(self, tiles: int) -> list[tuple[int, int]]:
        chunks = self._chunk_lists.get(tiles)
        if chunks is None:
            chunks = self._chunk_lists[tiles] = super()._chunks(tiles)
        return chunks

    def _init(self, cb: int, name: str) -> Gen:
        return self._compute(f"{name} init", self._setup(cb, name))

    def _setup(self, cb: int, name: str) -> float:
        key = (cb, name)
        cycles = self._setups.get(key)
        if cycles is None:
            cycles = self._setups[key] = super()._setup(cb, name)
        return cycles

    def _compute(self, name: str, cycles: float) -> Gen:
        if cycles > 0:
            thread = self._track
            busy = self.stats.busy
            busy[thread] = busy.get(thread, 0.0) + cycles
            if self._tracer is not None:
                self._tracer.complete(self.core, thread, name, self.env._now, cycles)
            return self._sleep(cycles)
        return _DONE
