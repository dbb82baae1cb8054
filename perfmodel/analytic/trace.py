"""A recording kernel context: dry-run a core's kernel mirrors and keep what they ask of the hardware.

The analytic model must not restate what the kernels do. Instead it runs each kernel mirror of one core
with a context that never blocks and never takes time, and records, in program order, every circular-buffer
call, every NoC transfer (bytes, DRAM bank, direction), every barrier and every compute-library call (name,
tiles, data format). `perfmodel.analytic.signature` turns those records into per-unit stage work priced by
`perfmodel.costs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from perfmodel import costs
from perfmodel.kernel_api import InputPolicy, NocAddress, Streaming
from perfmodel.program import CoreProgram, Program


@dataclass(frozen=True)
class CbCall:
    """cb_reserve_back / cb_push_back / cb_wait_front / cb_pop_front of `pages` pages on CB `cb`."""

    call: str
    cb: int
    pages: int


@dataclass(frozen=True)
class NocTransfer:
    """One noc_async_read or noc_async_write between this core and DRAM bank `bank`."""

    direction: costs.Direction
    nbytes: int
    bank: int


@dataclass(frozen=True)
class Barrier:
    """noc_async_read_barrier / noc_async_write_barrier: wait for this RISC-V's outstanding transfers."""

    direction: costs.Direction


@dataclass(frozen=True)
class ComputeCall:
    """One compute-library call priced as `costs.compute_cycles(device, data_format, name, tiles)`."""

    name: str
    tiles: int
    data_format: str


Event = CbCall | NocTransfer | Barrier | ComputeCall


class _Accessor:
    def __init__(self, program: Program, buffer_name: str) -> None:
        self._buffer = program.buffer(buffer_name)
        self._banks = program.device.dram.num_banks

    def get_noc_addr(self, page_id: int, offset: int = 0) -> NocAddress:
        bank, address = self._buffer.page_location(page_id, self._banks)
        return NocAddress(bank, address + offset)


class RecordingContext:
    """A `KernelContext` that records instead of simulating. One instance per kernel of one core."""

    def __init__(self, program: Program, core: CoreProgram, kernel: str) -> None:
        self.program = program
        self.core = core
        self.kernel = kernel
        self.events: list[Event] = []
        self._formats = {cb.index: cb.data_format for cb in program.cbs}

    # arguments and addressing (no time)
    def get_arg(self, name: str) -> Any:
        return self.core.runtime_args[self.kernel][name]

    def tensor_accessor(self, buffer_name: str, base_address: int) -> _Accessor:
        return _Accessor(self.program, buffer_name)

    def get_write_ptr(self, cb: int) -> int:
        return 0

    def get_read_ptr(self, cb: int) -> int:
        return 0

    def _record(self, event: Event) -> Iterator[Any]:
        self.events.append(event)
        yield from ()

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
        return self._record(NocTransfer("read", nbytes, src.bank))

    def noc_async_read_barrier(self) -> Iterator[Any]:
        return self._record(Barrier("read"))

    def noc_async_write(self, src_l1_addr: int, dst: NocAddress, nbytes: int) -> Iterator[Any]:
        return self._record(NocTransfer("write", nbytes, dst.bank))

    def noc_async_write_barrier(self) -> Iterator[Any]:
        return self._record(Barrier("write"))

    # dataflow helpers: the scaler tile is written by the RISC-V into L1 (no NoC, no compute call)
    def generate_reduce_scaler(self, cb: int, packed_scaler: int) -> Iterator[Any]:
        yield from self.cb_reserve_back(cb, 1)
        yield from self.cb_push_back(cb, 1)

    # compute helper library: the CB traffic of reference §3 around one priced call
    def _fmt(self, cb: int) -> str:
        return self._formats.get(cb, self.program.dtype)

    def tilize(self, icb: int, block_w: int, ocb: int, num_blocks: int = 1) -> Iterator[Any]:
        for _ in range(num_blocks):
            yield from self.cb_wait_front(icb, block_w)
            yield from self.cb_reserve_back(ocb, block_w)
            yield from self._record(ComputeCall("tilize", block_w, self._fmt(icb)))
            yield from self.cb_push_back(ocb, block_w)
            yield from self.cb_pop_front(icb, block_w)

    def reduce(
        self,
        icb: int,
        scaler_cb: int,
        ocb: int,
        Wt: int,
        pool: str = "sum",
        dim: str = "row",
        input_mode: str = "persistent",
    ) -> Iterator[Any]:
        yield from self.cb_wait_front(scaler_cb, 1)
        if input_mode == "streaming":
            for _ in range(Wt):
                yield from self.cb_wait_front(icb, 1)
                yield from self.cb_pop_front(icb, 1)
        else:
            yield from self.cb_wait_front(icb, Wt)
        yield from self._record(ComputeCall(f"reduce_{dim}", Wt, self._fmt(icb)))
        yield from self.cb_reserve_back(ocb, 1)
        yield from self.cb_push_back(ocb, 1)

    def sub(
        self,
        a_cb: int,
        b_cb: int,
        out_cb: int,
        Wt: int,
        broadcast: str = "col",
        a_policy: InputPolicy = Streaming,
        b_policy: InputPolicy = Streaming,
    ) -> Iterator[Any]:
        for cb, policy in ((a_cb, a_policy), (b_cb, b_policy)):
            pages = Wt if cb == a_cb else 1
            if policy.wait == "upfront":
                yield from self.cb_wait_front(cb, pages)
        yield from self._record(ComputeCall(f"sub_bcast_{broadcast}", Wt, self._fmt(a_cb)))
        yield from self.cb_reserve_back(out_cb, Wt)
        yield from self.cb_push_back(out_cb, Wt)
        for cb, policy in ((a_cb, a_policy), (b_cb, b_policy)):
            pages = Wt if cb == a_cb else 1
            if policy.pop == "at_end":
                yield from self.cb_pop_front(cb, pages)

    def untilize(self, icb: int, ocb: int, Wt: int) -> Iterator[Any]:
        fmt = self._fmt(icb)
        yield from self.cb_wait_front(icb, Wt)
        yield from self.cb_reserve_back(ocb, Wt)
        yield from self._record(ComputeCall(costs.untilize_variant(self.program.device, fmt, Wt), Wt, fmt))
        yield from self.cb_pop_front(icb, Wt)
        yield from self.cb_push_back(ocb, Wt)

    def compute_tiles(self, name: str, in_cbs: tuple[int, ...], out_cb: int, num_tiles: int) -> Iterator[Any]:
        for cb in in_cbs:
            yield from self.cb_wait_front(cb, num_tiles)
        yield from self.cb_reserve_back(out_cb, num_tiles)
        yield from self._record(ComputeCall(name, num_tiles, self._fmt(in_cbs[0] if in_cbs else out_cb)))
        yield from self.cb_push_back(out_cb, num_tiles)
        for cb in in_cbs:
            yield from self.cb_pop_front(cb, num_tiles)


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
