"""A recording kernel context: dry-run a core's kernel mirrors and keep what they ask of the hardware.

The analytic model must not restate what the kernels do. Instead it runs each kernel mirror of one core
with a context that never blocks and never takes time, and records, in program order, every circular-buffer
call, every NoC transfer (bytes, DRAM bank, direction), every barrier and every compute step (name and the
cycles the simulator's own helper library prices it at with `costs.thread_cycles`). A compute kernel is
run once per compute thread, as the simulator runs it, and recorded as three kernels "<kernel>.unpack",
"<kernel>.math", "<kernel>.pack" that meet in the pseudo-CBs SRC and DST (`kernel_lib.pseudo_cbs`).
`perfmodel.analytic.signature` turns those records into per-unit stage work priced by `perfmodel.costs`.

A dry run is the costly part of a signature (the helpers record one event per tile), and most of what it
records does not depend on the board. `record_core` therefore runs it *deferred*: compute steps keep the
helper's arithmetic on its cost look-ups as an expression (`Cycles`), transfers keep the DRAM page they
address (`PageRef`) instead of its bank, and every other value the kernels read from the device or from
their runtime arguments is logged (`DeviceReads`; DRAM base addresses, like L1 addresses, are not recorded
at all, see `_Address`). A `Resolver` later prices the same expressions and pages for any board with the
very functions the concrete run calls, so a deferred trace serves every board whose logged reads agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator
from typing import Any, NamedTuple

from perfmodel import costs
from perfmodel.kernel_api import NocAddress
from perfmodel.kernel_lib import KernelContextBase, TensorAccessor, kernel_threads
from perfmodel.program import CoreProgram, Program


class CbCall(NamedTuple):
    """cb_reserve_back / cb_push_back / cb_wait_front / cb_pop_front of `pages` pages on CB `cb`."""

    call: str
    cb: int
    pages: int


class NocTransfer(NamedTuple):
    """One noc_async_read or noc_async_write between this core and DRAM bank `bank`.

    In a deferred trace `bank` is the `PageRef` the kernel addressed; `Resolver.bank` turns it into a bank.
    """

    direction: costs.Direction
    nbytes: int
    bank: Any


class Barrier(NamedTuple):
    """noc_async_read_barrier / noc_async_write_barrier: wait for this RISC-V's outstanding transfers."""

    direction: costs.Direction


class ComputeCall(NamedTuple):
    """One compute step of a helper call: `cycles` as the helper priced it with `costs.thread_cycles`.

    In a deferred trace `cycles` is a `Cycles` expression; `Resolver.cycles` prices it.
    """

    name: str
    cycles: Any


Event = CbCall | NocTransfer | Barrier | ComputeCall
# Records are plain named tuples (cheap to build and compare: a wide tile row makes thousands of them).
_EMPTY: tuple[()] = ()
_new = tuple.__new__
_READ_BARRIER = Barrier("read")
_WRITE_BARRIER = Barrier("write")


class PageRef(NamedTuple):
    """Page `page` of DRAM buffer `buffer`, as a kernel addressed it (its bank not yet known).

    The base address is not kept: the recording ignores addresses, and a page's bank does not depend on it.
    """

    buffer: str
    page: int


class Cycles:
    """Compute cycles a helper asked for, kept as the expression it evaluated until a board prices it.

    Leaves are the helper's own look-ups, `_tcost(cb, name, thread, tiles)`, `_setup(cb, name)` and
    `_handshake()`; inner nodes are
    the + and - the helper applied, in its order, so pricing replays the same float operations. Anything
    else (comparisons, truth tests, products) raises TypeError: the dry run then falls back to a concrete,
    per-board trace instead of guessing.
    """

    __slots__ = ("_hash", "args", "op")

    def __init__(self, op: str, args: tuple[Any, ...]) -> None:
        self.op = op
        self.args = args
        self._hash = hash((op, args))

    def _combine(self, op: str, left: Any, right: Any) -> Cycles:
        for side in (left, right):
            if not isinstance(side, (Cycles, int, float)) or isinstance(side, bool):
                raise TypeError(f"deferred compute cycles cannot be combined with {type(side).__name__}")
        return Cycles(op, (left, right))

    def __add__(self, other: Any) -> Cycles:
        return self._combine("+", self, other)

    def __radd__(self, other: Any) -> Cycles:
        return self._combine("+", other, self)

    def __sub__(self, other: Any) -> Cycles:
        return self._combine("-", self, other)

    def __rsub__(self, other: Any) -> Cycles:
        return self._combine("-", other, self)

    def __bool__(self) -> bool:
        raise TypeError("deferred compute cycles have no truth value before a board prices them")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cycles) and self.op == other.op and self.args == other.args

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Cycles({self.op!r}, {self.args!r})"


_LEAVES = (int, float, str, bool, type(None))


# Distinct deferred expressions seen by dry runs (a few per op and shape; cleared when it grows large).
_INTERNED: dict[Cycles, Cycles] = {}


class DeviceReads:
    """A stand-in for the device during a deferred dry run: forwards reads and logs every plain value read.

    The log maps an access path ("device", then attribute names and call arguments from the device down)
    to the value found; `inputs_agree` replays it on another board. Reads that are not attribute look-ups or calls
    (indexing, iteration, comparison of device objects) raise TypeError, so such a kernel falls back to a
    concrete trace.
    """

    __slots__ = ("_log", "_obj", "_path")

    def __init__(self, obj: Any, path: tuple[Hashable, ...], log: dict[tuple[Hashable, ...], Any]) -> None:
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_log", log)

    def _wrap(self, value: Any, path: tuple[Hashable, ...]) -> Any:
        if isinstance(value, _LEAVES) or (isinstance(value, tuple) and all(isinstance(v, _LEAVES) for v in value)):
            self._log[path] = value
            return value
        return DeviceReads(value, path, self._log)

    def __getattr__(self, name: str) -> Any:
        return self._wrap(getattr(self._obj, name), (*self._path, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        step = ("()", args, tuple(sorted(kwargs.items())))
        hash(step)  # arguments must be plain values to be replayed
        return self._wrap(self._obj(*args, **kwargs), (*self._path, step))

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("a dry run must not change the device")


class _AddressUsed(TypeError):
    """A deferred dry run used a DRAM base address as a value (it was assumed to be only passed on)."""

    def __init__(self, arg: tuple[str, str]) -> None:
        super().__init__(f"runtime argument {arg[1]!r} of kernel {arg[0]!r} is used as a value")
        self.arg = arg


class _Address:
    """A runtime argument that holds a DRAM base address, opaque to the kernel in a deferred dry run.

    The recording ignores addresses (the deferred accessor takes the base and never reads it), so a run in
    which no address is used otherwise cannot depend on their values. Any other use -- arithmetic,
    comparison, hashing, conversion, recording it in an event -- raises `_AddressUsed`; the argument is
    then treated as an ordinary value from that op on.
    """

    __slots__ = ("arg",)

    def __init__(self, arg: tuple[str, str]) -> None:
        self.arg = arg

    def __repr__(self) -> str:
        return f"<DRAM address {self.arg[1]} of {self.arg[0]}>"


def _address_used(self: _Address, *args: Any, **kwargs: Any) -> Any:
    raise _AddressUsed(self.arg)


# Every operation an int supports (and a container's), except object plumbing and repr (for messages).
_PLUMBING = {
    "__new__",
    "__init__",
    "__init_subclass__",
    "__getattribute__",
    "__setattr__",
    "__delattr__",
    "__dir__",
    "__subclasshook__",
    "__reduce__",
    "__reduce_ex__",
    "__getnewargs__",
    "__getstate__",
    "__sizeof__",
    "__repr__",
}
_OPERATIONS = [n for n in vars(int) if n.startswith("__") and callable(getattr(int, n)) and n not in _PLUMBING]
for _name in (*_OPERATIONS, "__str__", "__getitem__", "__iter__", "__len__", "__contains__"):
    setattr(_Address, _name, _address_used)

# Per op: runtime arguments found to be used as values although they equal a DRAM base address.
_NOT_ADDRESSES: dict[str, set[tuple[str, str]]] = {}


def inputs_agree(program: Program, reads: dict[tuple[Hashable, ...], Any], core_index: int = 0) -> bool:
    """Whether `program` (its board and its runtime arguments) gives every value a deferred run logged."""
    core = program.cores[core_index]
    for key, value in reads.items():
        if key[0] == "arg":
            args = core.runtime_args.get(key[1], {})
            if key[2] not in args:
                return False
            obj = args[key[2]]
        else:
            obj = program.device
            for step in key[1:]:
                obj = obj(*step[1], **dict(step[2])) if isinstance(step, tuple) else getattr(obj, step)
        if type(obj) is not type(value) or obj != value:
            return False
    return True


class _PageAccessor:
    """A tensor accessor that names pages instead of banks (the bank needs the board's bank count)."""

    __slots__ = ("buffer",)

    def __init__(self, buffer: str) -> None:
        self.buffer = buffer

    def get_noc_addr(self, page_id: int, offset: int = 0) -> NocAddress:
        return NocAddress(PageRef(self.buffer, page_id), 0)


class RecordingContext(KernelContextBase):
    """A kernel context that records instead of simulating. One instance per kernel of one core.

    The compute helper library and the dataflow helpers are the simulator's own (`KernelContextBase`), so
    the recorded CB calls and compute steps are exactly the ones the simulator times. With `reads` given
    the run is deferred (see the module docstring): device reads and runtime arguments are logged into
    `reads`, except the (kernel, name) arguments in `addresses`, which are handed out opaque (`_Address`).
    """

    def __init__(
        self,
        program: Program,
        core: CoreProgram,
        kernel: str,
        reads: dict[tuple[Hashable, ...], Any] | None = None,
        addresses: frozenset[tuple[str, str]] = frozenset(),
        thread: str | None = None,
    ) -> None:
        super().__init__(program, core, kernel, thread)
        self._addresses = addresses
        self.events: list[Event] = []
        self._append = self.events.append
        self._reads = reads
        self._deferred = reads is not None
        if reads is not None:
            self.device = DeviceReads(program.device, ("device",), reads)

    def _record(self, event: Event) -> Iterator[Any]:
        self._append(event)
        return _EMPTY

    def get_write_ptr(self, cb: int) -> int:
        return 0

    def get_read_ptr(self, cb: int) -> int:
        return 0

    # deferred look-ups
    def _tcost(self, cb: int, name: str, thread: str, tiles: int) -> Any:
        if self._deferred:
            return Cycles("tcost", (cb, name, thread, tiles))
        return super()._tcost(cb, name, thread, tiles)

    def _handshake(self) -> Any:
        if self._deferred:
            return Cycles("handshake", ())
        return super()._handshake()

    def _setup(self, cb: int, name: str) -> Any:
        if self._deferred:
            return Cycles("setup", (cb, name))
        return super()._setup(cb, name)

    def tensor_accessor(self, buffer_name: str, base_address: int) -> Any:
        if self._deferred:
            self.program.buffer(buffer_name)  # the same error as the real accessor for an unknown buffer
            return _PageAccessor(buffer_name)
        return super().tensor_accessor(buffer_name, base_address)

    def get_arg(self, name: str) -> Any:
        value = super().get_arg(name)
        if self._reads is None:
            return value
        arg = (self.kernel_name, name)
        if arg in self._addresses:
            return _Address(arg)
        self._reads[("arg", *arg)] = value
        return value

    # circular buffers and NoC: called once per tile or stick, so the records are built directly
    # (`_new(CbCall, fields)` is `CbCall(*fields)` without the named tuple's Python-level constructor).
    def _cb_reserve(self, cb: int, n: int) -> Iterator[Any]:
        self._append(_new(CbCall, ("reserve", cb, n)))
        return _EMPTY

    def _cb_push(self, cb: int, n: int) -> Iterator[Any]:
        self._append(_new(CbCall, ("push", cb, n)))
        return _EMPTY

    def _cb_wait(self, cb: int, n: int) -> Iterator[Any]:
        self._append(_new(CbCall, ("wait", cb, n)))
        return _EMPTY

    def _cb_pop(self, cb: int, n: int) -> Iterator[Any]:
        self._append(_new(CbCall, ("pop", cb, n)))
        return _EMPTY

    def noc_async_read(self, src: NocAddress, dst_l1_addr: int, nbytes: int) -> Iterator[Any]:
        self._append(_new(NocTransfer, ("read", nbytes, src[0])))
        return _EMPTY

    def noc_async_read_barrier(self) -> Iterator[Any]:
        self._append(_READ_BARRIER)
        return _EMPTY

    def noc_async_write(self, src_l1_addr: int, dst: NocAddress, nbytes: int) -> Iterator[Any]:
        self._note_write(nbytes)
        self._append(_new(NocTransfer, ("write", nbytes, dst[0])))
        return _EMPTY

    def noc_async_write_barrier(self) -> Iterator[Any]:
        self._append(_WRITE_BARRIER)
        return _EMPTY

    # compute: the helper has already priced the step
    def _compute(self, name: str, cycles: float) -> Iterator[Any]:
        if isinstance(cycles, Cycles):
            # One object per distinct expression: comparing traces then stops at identity.
            cycles = _INTERNED.setdefault(cycles, cycles)
        return self._record(ComputeCall(name, cycles))


def trace_core(program: Program, core_index: int = 0) -> dict[str, tuple[Event, ...]]:
    """Run every kernel of core `core_index` to completion with a recording context: kernel -> events."""
    core = program.cores[core_index]
    traces = {}
    for name, spec, thread in kernel_threads(program):
        ctx = RecordingContext(program, core, spec.name, thread=thread)
        for _ in spec.fn(ctx, **core.compile_time_args[spec.name]):
            pass
        traces[name] = tuple(ctx.events)
    return traces


def record_core(
    program: Program, core_index: int = 0
) -> tuple[dict[str, tuple[Event, ...]], dict[tuple[Hashable, ...], Any]]:
    """A deferred dry run of core `core_index`: (kernel -> events, the values it read).

    The values read are the device's (path -> value) and the runtime arguments' ("arg", kernel, name ->
    value); runtime arguments that hold a DRAM buffer's base address are handed out opaque (`_Address`)
    and not logged. Raises where a kernel uses a deferred value in a way that needs the board (see `Cycles`,
    `DeviceReads`); the caller then traces concretely with `trace_core`.
    """
    core = program.cores[core_index]
    not_addresses = _NOT_ADDRESSES.setdefault(program.op_name, set())
    bases = {b.base_address for b in program.buffers}
    while True:
        addresses = frozenset(
            (kernel, name)
            for kernel, args in core.runtime_args.items()
            for name, value in args.items()
            if type(value) is int and value in bases and (kernel, name) not in not_addresses
        )
        try:
            return _record_once(program, core, addresses)
        except _AddressUsed as exc:
            if exc.arg in not_addresses:
                raise
            not_addresses.add(exc.arg)


def _record_once(
    program: Program, core: CoreProgram, addresses: frozenset[tuple[str, str]]
) -> tuple[dict[str, tuple[Event, ...]], dict[tuple[Hashable, ...], Any]]:
    if len(_INTERNED) > 65536:
        _INTERNED.clear()
    reads: dict[tuple[Hashable, ...], Any] = {}
    traces = {}
    for name, spec, thread in kernel_threads(program):
        ctx = RecordingContext(program, core, spec.name, reads, addresses, thread)
        for _ in spec.fn(ctx, **core.compile_time_args[spec.name]):
            pass
        # An address recorded in an event would be a value the trace depends on: hashing every recorded
        # field (one C-level pass) raises `_AddressUsed` for it.
        set(itertools.chain.from_iterable(ctx.events))
        traces[name] = tuple(ctx.events)
    return traces, reads


class Resolver:
    """Prices a deferred trace's expressions and pages for one program's board, memoised.

    It calls the helper library's own look-ups (`KernelContextBase._tcost`, `_setup`, `_handshake`,
    `tensor_accessor`) on
    a context of that program, so a resolved event equals the one a concrete dry run records.
    """

    def __init__(self, program: Program, core_index: int = 0) -> None:
        self._ctx = KernelContextBase(program, program.cores[core_index], program.kernels[0].name)
        self._program = program
        self._cycles: dict[Cycles, float] = {}
        self._accessors: dict[str, TensorAccessor] = {}

    def cycles(self, value: Any) -> Any:
        """Concrete cycles of a `Cycles` expression (other values pass through)."""
        if not isinstance(value, Cycles):
            return value
        hit = self._cycles.get(value)
        if hit is None:
            op, args = value.op, value.args
            if op == "tcost":
                hit = KernelContextBase._tcost(self._ctx, *args)
            elif op == "handshake":
                hit = KernelContextBase._handshake(self._ctx)
            elif op == "setup":
                hit = KernelContextBase._setup(self._ctx, *args)
            elif op == "+":
                hit = self.cycles(args[0]) + self.cycles(args[1])
            else:
                hit = self.cycles(args[0]) - self.cycles(args[1])
            self._cycles[value] = hit
        return hit

    def bank(self, value: Any) -> Any:
        """The DRAM bank of a `PageRef` on this board (other values pass through)."""
        if not isinstance(value, PageRef):
            return value
        accessor = self._accessors.get(value.buffer)
        if accessor is None:
            base = self._program.buffer(value.buffer).base_address
            accessor = KernelContextBase.tensor_accessor(self._ctx, value.buffer, base)
            self._accessors[value.buffer] = accessor
        return accessor.get_noc_addr(value.page)[0]

    def event(self, event: Event) -> Event:
        """`event` with its deferred parts priced."""
        if type(event) is ComputeCall and isinstance(event.cycles, Cycles):
            return ComputeCall(event.name, self.cycles(event.cycles))
        if type(event) is NocTransfer and isinstance(event.bank, PageRef):
            return NocTransfer(event.direction, event.nbytes, self.bank(event.bank))
        return event
