"""A recording kernel context: dry-run a core's kernel mirrors and keep what they ask of the hardware.

The analytic model must not restate what the kernels do. Instead it runs each kernel mirror of one core
with a context that never blocks and never takes time, and records, in program order, every circular-buffer
call, every NoC transfer (bytes, DRAM bank, direction), every barrier and every compute step (name and the
cycles the simulator's own helper library prices it at with `costs.compute_cycles`).
`perfmodel.analytic.signature` turns those records into per-unit stage work priced by `perfmodel.costs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from perfmodel import costs
from perfmodel.des.helpers import KernelContextBase
from perfmodel.kernel_api import NocAddress
from perfmodel.program import CoreProgram, Program


class CbCall(NamedTuple):
    """cb_reserve_back / cb_push_back / cb_wait_front / cb_pop_front of `pages` pages on CB `cb`."""

    call: str
    cb: int
    pages: int


class NocTransfer(NamedTuple):
    """One noc_async_read or noc_async_write between this core and DRAM bank `bank`."""

    direction: costs.Direction
    nbytes: int
    bank: int


class Barrier(NamedTuple):
    """noc_async_read_barrier / noc_async_write_barrier: wait for this RISC-V's outstanding transfers."""

    direction: costs.Direction


class ComputeCall(NamedTuple):
    """One compute step of a helper call: `cycles` as the helper priced it with `costs.compute_cycles`."""

    name: str
    cycles: float


Event = CbCall | NocTransfer | Barrier | ComputeCall
# Records are plain named tuples (cheap to build and compare: a wide tile row makes thousands of them).
_EMPTY: tuple[()] = ()


class RecordingContext(KernelContextBase):
    """A kernel context that records instead of simulating. One instance per kernel of one core.

    The compute helper library and the dataflow helpers are the simulator's own (`KernelContextBase`), so
    the recorded CB calls and compute steps are exactly the ones the simulator times.
    """

    def __init__(self, program: Program, core: CoreProgram, kernel: str) -> None:
        super().__init__(program, core, kernel)
        self.events: list[Event] = []

    def _record(self, event: Event) -> Iterator[Any]:
        self.events.append(event)
        return _EMPTY

    def get_write_ptr(self, cb: int) -> int:
        return 0

    def get_read_ptr(self, cb: int) -> int:
        return 0

    # circular buffers
    def cb_reserve_back(self, cb: int, n: int) -> Iterator[Any]:
        return self._record(CbCall("reserve", cb, n))

    def cb_push_back(self, cb: int, n: int) -> Iterator[Any]:
        return self._record(CbCall("push", cb, n))

    def cb_wait_front(self, cb: int, n: int) -> Iterator[Any]:
        return self._record(CbCall("wait", cb, n))

    def cb_pop_front(self, cb: int, n: int) -> Iterator[Any]:
        return self._record(CbCall("pop", cb, n))

    # NoC
    def noc_async_read(self, src: NocAddress, dst_l1_addr: int, nbytes: int) -> Iterator[Any]:
        return self._record(NocTransfer("read", nbytes, src[0]))

    def noc_async_read_barrier(self) -> Iterator[Any]:
        return self._record(Barrier("read"))

    def noc_async_write(self, src_l1_addr: int, dst: NocAddress, nbytes: int) -> Iterator[Any]:
        return self._record(NocTransfer("write", nbytes, dst[0]))

    def noc_async_write_barrier(self) -> Iterator[Any]:
        return self._record(Barrier("write"))

    # compute: the helper has already priced the step
    def _compute(self, name: str, cycles: float) -> Iterator[Any]:
        return self._record(ComputeCall(name, cycles))


def trace_core(program: Program, core_index: int = 0) -> dict[str, tuple[Event, ...]]:
    """Run every kernel of core `core_index` to completion with a recording context: kernel -> events."""
    core = program.cores[core_index]
    traces = {}
    for spec in program.kernels:
        ctx = RecordingContext(program, core, spec.name)
        for _ in spec.fn(ctx, **core.compile_time_args[spec.name]):
            pass
        traces[spec.name] = tuple(ctx.events)
    return traces
