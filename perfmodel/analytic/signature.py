"""Per-unit stage work of a program, derived from recorded kernel traces and priced by `perfmodel.costs`.

A kernel's trace is `prologue + body x units + epilogue`. Tracing a representative core with one unit
and with two units of work isolates the body. Each kernel's body is then cut at its *synchronisation
points*: the CB calls on CBs shared with another kernel of the core (a CB produced and consumed by the same
kernel is ordered by program order and never delays it on its own). Between two synchronisation points a
kernel does *work*: NoC transfers, barriers and compute calls, priced on an otherwise idle core with the
DES's packet rules (`segment_cycles`).

A compute kernel is three kernels here, one per thread ("<kernel>.unpack", ".math", ".pack"), synchronised
by the pseudo-CBs SRC and DST like any other cross-kernel CB.

The result, a `StageSignature`, depends only on the per-unit program and the device: it is what
`estimate_many` caches per distinct (op, shape key, dtype, device).

Cost: the dry runs (one event per tile) dominate. They are recorded deferred (`trace.record_core`) and
shared by every board whose programs and logged reads agree (`_recording`), so a table over several boards
dry-runs each shape key once; only the cut and the pricing (`_price`, with `segment_cycles`'s float
operations in the same order) are done per board.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from perfmodel import costs
from perfmodel.analytic.trace import (
    Barrier,
    CbCall,
    ComputeCall,
    Event,
    NocTransfer,
    Resolver,
    inputs_agree,
    record_core,
    trace_core,
)
from perfmodel.device.profile import DeviceProfile
from perfmodel.kernel_lib import kernel_threads, pseudo_cbs
from perfmodel.program import Program


class Node(NamedTuple):
    """One synchronisation point of a kernel: `call` on CB `cb` of `pages` pages, after `work_cycles`
    of work since the previous node of the same kernel (or since the unit / kernel start).

    A named tuple rather than a dataclass: a signature holds hundreds to thousands of them, and `estimate_many`
    reads signatures back from its disk cache, where tuples unpickle several times faster."""

    kernel: str
    call: str
    cb: int
    pages: int
    work_cycles: float
    # DRAM traffic of that work, and the part of its time that does not shrink with bandwidth (first
    # issue + latency): with the DRAM shared by many cores the work takes at least
    # fixed + bytes / (this core's share of the DRAM bandwidth).
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    dram_fixed_cycles: float = 0.0


@dataclass(frozen=True)
class Traffic:
    """NoC traffic of one segment: bytes per direction and per DRAM bank, packets per direction."""

    read_bytes: float = 0.0
    write_bytes: float = 0.0
    read_packets: int = 0
    write_packets: int = 0


@dataclass(frozen=True)
class KernelStages:
    """A kernel's prologue and per-unit nodes, the work after its last node, and its per-unit work by kind."""

    name: str
    noc: int | None  # the NoC the kernel's transfers use
    prologue: tuple[Node, ...]
    prologue_tail_cycles: float  # work after the last prologue node, before the first unit
    body: tuple[Node, ...]
    body_tail_cycles: float  # work after the last body node, before the next unit's first node
    epilogue_cycles: float  # work after the last unit
    noc_cycles_per_unit: float  # time of body segments that hold NoC transfers
    compute_cycles_per_unit: float  # time of body segments that hold compute calls


@dataclass(frozen=True)
class StageSignature:
    """Everything the pipeline model needs about one unit of work on one device."""

    device: str
    kernels: tuple[KernelStages, ...]
    cross_cbs: tuple[int, ...]  # CBs shared between kernels (their capacities set the buffering)
    read_bytes_per_unit: float
    write_bytes_per_unit: float
    read_packets_per_unit: int
    write_packets_per_unit: int
    setup_cycles: float
    first_read_cycles: float  # issue + latency of one read packet: the fill of a DRAM-bound run
    last_write_cycles: float  # latency of one write packet: the drain
    # (index, pages) of the pseudo-CBs between the compute threads: part of the node structure, since which
    # release of SRC or DST a call waits for depends on them (`pipeline.structure`).
    pseudo_cb_pages: tuple[tuple[int, int], ...] = ()

    def kernel(self, name: str) -> KernelStages:
        return next(k for k in self.kernels if k.name == name)


def segment_cycles(
    device: DeviceProfile, events: Sequence[Event], prices: _PacketPrices | None = None
) -> tuple[float, Traffic]:
    """Time one RISC-V needs for `events` (no CB calls) on an idle core, with the DES's packet rules.

    Per packet the RISC-V is busy `issue_cycles`; the packet starts when the core's NoC interface, its DRAM
    bank and its route are free (each resource then stays busy for its own bytes / bandwidth) and completes
    `service + latency` after its start; a barrier waits for every outstanding packet. Compute calls take
    their recorded cycles. `prices` memoises the packet look-ups of one device across calls.
    """
    seg = _segment(prices or _PacketPrices(device), events, _same, _same)
    return seg.cycles, seg.traffic


def _same(value: Any) -> Any:
    return value


class _Segment(NamedTuple):
    """A priced segment: its time and traffic, and what `_price` needs to know about its content."""

    cycles: float
    traffic: Traffic
    first_direction: str | None  # of its first NoC transfer (None: it has none)
    last_direction: str | None
    has_compute: bool
    has_barrier: bool  # it waits for its packets' completion (a flush or nothing waits only for departure)


def _segment(
    prices: _PacketPrices,
    events: Sequence[Event],
    bank_of: Callable[[Any], Any],
    cycles_of: Callable[[Any], Any],
    carried: Mapping[str, float] | None = None,
) -> _Segment:
    """`segment_cycles` over recorded events, pricing deferred banks and cycles on the way (one pass).

    The float operations and their order are `segment_cycles`'s; only the look-ups are memoised. `carried`:
    per direction, when packets issued before the segment complete (a barrier after the loop waits for them).
    """
    if not events:
        return _NO_WORK  # adjacent CB calls: most segments are empty
    now = 0.0
    core_free: dict[str, float] = {}
    # Per direction, per bank: when the bank and the route to it are free.
    bank_free: dict[str, dict[Any, float]] = {"read": {}, "write": {}}
    link_free: dict[str, dict[Any, float]] = {"read": {}, "write": {}}
    outstanding: dict[str, float] = {"read": 0.0, "write": 0.0, **(carried or {})}
    read_bytes = write_bytes = 0.0
    read_packets = write_packets = 0
    first = last = None
    has_compute = has_barrier = False
    for event in events:
        if isinstance(event, NocTransfer):
            d = event.direction
            bank = bank_of(event.bank)
            if first is None:
                first = d
            last = d
            banks, links = bank_free[d], link_free[d]
            for nbytes, issue, core_c, bank_c, link_c, service, latency in prices.packets(d, event.nbytes):
                now += issue
                # Reads and writes travel on different NoCs (reader NoC 0, writer NoC 1): separate interfaces.
                start = max(now, core_free.get(d, 0.0), banks.get(bank, 0.0))
                start = max(start, links.get(bank, 0.0))
                core_free[d] = start + core_c
                banks[bank] = start + bank_c
                links[bank] = start + link_c
                done = start + service + latency
                outstanding[d] = max(outstanding[d], done)
                if d == "read":
                    read_bytes += nbytes
                    read_packets += 1
                else:
                    write_bytes += nbytes
                    write_packets += 1
        elif isinstance(event, Barrier):
            now = max(now, outstanding[event.direction])
            has_barrier = True
        elif isinstance(event, ComputeCall):
            now += cycles_of(event.cycles)
            has_compute = True
    return _Segment(
        now, Traffic(read_bytes, write_bytes, read_packets, write_packets), first, last, has_compute, has_barrier
    )


_NO_WORK = _Segment(0.0, Traffic(), None, None, False, False)
_Packet = tuple[int, float, float, float, float, float, float]


class _PacketPrices:
    """`costs.packet_sizes` and `costs.packet_cost` of one device, memoised per (direction, bytes)."""

    def __init__(self, device: DeviceProfile) -> None:
        self.device = device
        self._packets: dict[tuple[str, int], list[_Packet]] = {}
        self._costs: dict[tuple[str, int], costs.PacketCost] = {}

    def cost(self, direction: costs.Direction, nbytes: int) -> costs.PacketCost:
        key = (direction, nbytes)
        hit = self._costs.get(key)
        if hit is None:
            hit = self._costs[key] = costs.packet_cost(self.device, direction, nbytes)
        return hit

    def packets(self, direction: costs.Direction, nbytes: int) -> list[_Packet]:
        """(bytes, issue, core, bank, link, service, latency cycles) of each packet of a transfer."""
        key = (direction, nbytes)
        hit = self._packets.get(key)
        if hit is None:
            hit = []
            for n in costs.packet_sizes(nbytes, self.device.noc.max_packet_bytes):
                c = self.cost(direction, n)
                hit.append(
                    (n, c.issue_cycles, c.core_cycles, c.bank_cycles, c.link_cycles, c.service_cycles, c.latency_cycles)
                )
            self._packets[key] = hit
        return hit


def _split_body(one: Sequence[Event], two: Sequence[Event]) -> tuple[int, int]:
    """(prologue length, body length) such that one = P + B + E and two = P + B + B + E.

    The first such P: two[P + B:] must equal one[P:] (a common suffix of at least len(one) - P events)
    and two[:P + B] must equal one[:P + B], so P is the least value the common suffix allows, if the
    common prefix allows it too.
    """
    body = len(two) - len(one)
    if body <= 0:
        return len(one), 0
    if any(type(e) is NocTransfer for e in one):
        # The bank of a transfer changes from unit to unit; the structure does not. Other events are their
        # own shape: events of different kinds never compare equal (their fields differ in number or type).
        key_one = [(NocTransfer, e[0], e[1]) if type(e) is NocTransfer else e for e in one]
        key_two = [(NocTransfer, e[0], e[1]) if type(e) is NocTransfer else e for e in two]
    else:
        key_one, key_two = list(one), list(two)  # a transfer in `two` alone mismatches either way
    n, n2 = len(one), len(two)
    suffix = _longest(lambda m: key_two[n2 - m :] == key_one[n - m :], n)
    p = n - suffix
    if p <= n - body and key_two[: p + body] == key_one[: p + body]:
        return p, body
    raise ValueError("the kernel's trace is not prologue + repeated body + epilogue; cannot derive its stages")


def _longest(matches: Callable[[int], bool], limit: int) -> int:
    """The largest m <= limit with matches(m), for a predicate true up to some m and false beyond.

    Searched down from `limit` in growing steps, then halved: a trace's prologue is short, so the answer
    is usually at or near the top.
    """
    if matches(limit):
        return limit
    hi, step = limit, 1  # matches(hi) is false
    while True:
        lo = max(hi - step, 0)
        if lo == 0 or matches(lo):
            break
        hi, step = lo, step * 2
    # matches(lo) is true (or lo == 0), matches(hi) is false
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if matches(mid):
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class _Cut:
    """A piece of a kernel's trace cut at its cross-CB calls: (call, cb, pages, work before it) per node,
    and the work after the last node. Work lists hold no CB calls (same-kernel CB calls never wait)."""

    nodes: tuple[tuple[str, int, int, tuple[Event, ...]], ...]
    tail: tuple[Event, ...]


def _cut(events: Sequence[Event], cross: set[int]) -> _Cut:
    nodes = []
    pending: list[Event] = []
    for event in events:
        if isinstance(event, CbCall):
            if event.cb in cross:
                nodes.append((event.call, event.cb, event.pages, tuple(pending)))
                pending.clear()
        else:
            pending.append(event)
    return _Cut(tuple(nodes), tuple(pending))


def _pieces(one: Sequence[Event], two: Sequence[Event], cross: set[int]) -> tuple[_Cut, _Cut, _Cut]:
    """Prologue, body and epilogue of a kernel's one-unit trace, cut at its cross-CB calls."""
    p, b = _split_body(one, two)
    return _cut(one[:p], cross), _cut(one[p : p + b], cross), _cut(one[p + b :], cross)


def _price(
    prices: _PacketPrices, resolver: Resolver, kernel: str, cut: _Cut, carried: Mapping[str, float] | None = None
) -> tuple[list[Node], float, float, float, Traffic]:
    """Price a cut piece on one board: (nodes, trailing work, NoC-segment time, compute time, traffic).

    `carried` (see `_segment`) applies to the piece's first segment."""
    nodes: list[Node] = []
    noc_time = compute_time = 0.0
    traffic = Traffic()
    pending = [carried]

    def flush(work: tuple[Event, ...]) -> tuple[float, float, float, float]:
        nonlocal noc_time, compute_time, traffic
        seg = _segment(prices, work, resolver.bank, resolver.cycles, pending.pop() if pending else None)
        cycles = seg.cycles
        fixed = 0.0
        if seg.first_direction is not None:
            first = prices.cost(seg.first_direction, 1)
            last = prices.cost(seg.last_direction, 1)
            fixed = first.issue_cycles + (last.latency_cycles if seg.has_barrier else 0.0)
            noc_time += cycles
        elif seg.has_compute:
            compute_time += cycles
        t = seg.traffic
        traffic = Traffic(
            traffic.read_bytes + t.read_bytes,
            traffic.write_bytes + t.write_bytes,
            traffic.read_packets + t.read_packets,
            traffic.write_packets + t.write_packets,
        )
        return cycles, t.read_bytes, t.write_bytes, fixed

    for call, cb, pages, work in cut.nodes:
        nodes.append(Node(kernel, call, cb, pages, *flush(work)))
    tail = flush(cut.tail)[0]
    return nodes, tail, noc_time, compute_time, traffic


@dataclass(frozen=True)
class _KernelRecord:
    """One kernel's traces (1 and 2 units) and what of their stage cut does not depend on the board."""

    name: str
    noc: int | None
    one: tuple[Event, ...]
    two: tuple[Event, ...]
    pieces: tuple[_Cut, _Cut, _Cut] | None  # from the traces as recorded; None if they do not split
    compute_calls: tuple[ComputeCall, ...]  # distinct compute calls of both traces


@dataclass(frozen=True)
class _Recording:
    """The dry runs of one op and shape key, shared by every board on which they read the same values."""

    kernels: tuple[_KernelRecord, ...]
    cross: frozenset[int]
    deferred: bool


def _record(one_unit: Program, two_units: Program, deferred: bool) -> tuple[_Recording, list[dict]]:
    """Dry-run both programs (deferred if asked) and cut the traces: (recording, device reads per program)."""
    if deferred:
        (t1, reads1), (t2, reads2) = record_core(one_unit), record_core(two_units)
    else:
        t1, t2, reads1, reads2 = trace_core(one_unit), trace_core(two_units), {}, {}
    users: dict[int, set[str]] = {}
    for name, events in t1.items():
        for e in events:
            if isinstance(e, CbCall):
                users.setdefault(e.cb, set()).add(name)
    cross = {cb for cb, names in users.items() if len(names) > 1}
    kernels = []
    for name, spec, _ in kernel_threads(one_unit):
        one, two = t1[name], t2[name]
        try:
            pieces: tuple[_Cut, _Cut, _Cut] | None = _pieces(one, two, cross)
        except ValueError:
            pieces = None  # may still split once the board prices the compute calls: tried per board
        # When the traces split, `two` holds `one`'s compute calls only.
        calls = tuple({e: None for e in (one if pieces else (*one, *two)) if isinstance(e, ComputeCall)})
        kernels.append(_KernelRecord(name, spec.noc, one, two, pieces, calls))
    return _Recording(tuple(kernels), frozenset(cross), deferred), [reads1, reads2]


def _program_view(program: Program) -> tuple:
    """What a deferred dry run sees of a program besides the board and the runtime arguments it logs.

    DRAM base addresses are left out: the recording ignores addresses (a page's bank does not depend on
    its buffer's base), so boards with different DRAM layouts share a trace.
    """
    return (
        program.op_name,
        program.shape,
        program.dtype,
        program.config,
        program.units,
        program.cbs,
        tuple(dataclasses.replace(b, base_address=0) for b in program.buffers),
        program.split,
        program.kernels,
        tuple((c.core, c.group, c.start_unit, c.num_units, c.compile_time_args) for c in program.cores),
        program.attributes,
        program.compute_config,
    )


# (op, shape, dtype, units of both programs) -> [(program views, device reads, recording)]
_RECORDINGS: dict[tuple[Hashable, ...], list[tuple[tuple, list[dict], _Recording]]] = {}


def _recording(one_unit: Program, two_units: Program) -> _Recording:
    """The dry runs for this pair of programs: a cached deferred one whose reads agree, else a new one.

    A deferred run that cannot defer (it computes with a price or inspects the device) is replaced by a
    concrete run for this board only.
    """
    key = (one_unit.op_name, one_unit.shape, one_unit.dtype, one_unit.units, two_units.shape, two_units.units)
    views = (_program_view(one_unit), _program_view(two_units))
    entries = _RECORDINGS.setdefault(key, [])
    for entry_views, reads, recording in entries:
        if entry_views == views and inputs_agree(one_unit, reads[0]) and inputs_agree(two_units, reads[1]):
            return recording
    try:
        recording, reads = _record(one_unit, two_units, deferred=True)
    except Exception:
        return _record(one_unit, two_units, deferred=False)[0]
    if sum(len(v) for v in _RECORDINGS.values()) > 4096:
        _RECORDINGS.clear()
        entries = _RECORDINGS.setdefault(key, [])
    entries.append((views, reads, recording))
    return recording


def build_signature(one_unit: Program, two_units: Program) -> StageSignature:
    """The stage signature from two single-core programs of the same op and shape key: 1 and 2 units.

    The dry runs are shared between boards (`_recording`); the stage cut is taken from the traces as
    recorded when that is exact for this board (its prices keep distinct compute calls distinct), else from
    the priced traces, and the work is priced for this board.
    """
    device = one_unit.device
    recording = _recording(one_unit, two_units)
    resolver = Resolver(one_unit)
    resolve = resolver.event
    prices = _PacketPrices(device)
    cross = set(recording.cross)

    kernels = []
    totals = Traffic()
    for rec in recording.kernels:
        pieces = rec.pieces
        # Equal recorded events price equal; the recorded cut is this board's cut unless two different
        # recorded compute calls price the same here (then priced traces may split differently).
        if pieces is None or len({resolve(c) for c in rec.compute_calls}) < len(rec.compute_calls):
            pieces = _pieces([resolve(e) for e in rec.one], [resolve(e) for e in rec.two], cross)
        pro_nodes, pro_tail, _, _, _ = _price(prices, resolver, rec.name, pieces[0])
        body_nodes, body_tail, noc_t, comp_t, traffic = _price(prices, resolver, rec.name, pieces[1])
        # A barrier after the last unit waits for the body's last packet in its direction: the packet's
        # service overlaps the kernel's remaining work, its latency does not.
        carried = {}
        for event in reversed([*(e for n in pieces[1].nodes for e in n[3]), *pieces[1].tail]):
            if isinstance(event, NocTransfer) and event.direction not in carried:
                size = costs.packet_sizes(event.nbytes, device.noc.max_packet_bytes)[-1]
                carried[event.direction] = prices.cost(event.direction, size).latency_cycles
        _, epi_tail, _, _, _ = _price(prices, resolver, rec.name, pieces[2], carried)
        kernels.append(
            KernelStages(
                rec.name, rec.noc, tuple(pro_nodes), pro_tail, tuple(body_nodes), body_tail, epi_tail, noc_t, comp_t
            )
        )
        totals = Traffic(
            totals.read_bytes + traffic.read_bytes,
            totals.write_bytes + traffic.write_bytes,
            totals.read_packets + traffic.read_packets,
            totals.write_packets + traffic.write_packets,
        )
    first_read = costs.packet_cost(device, "read", 32)
    last_write = costs.packet_cost(device, "write", 32)
    return StageSignature(
        device=device.name,
        kernels=tuple(kernels),
        cross_cbs=tuple(sorted(cross)),
        read_bytes_per_unit=totals.read_bytes,
        write_bytes_per_unit=totals.write_bytes,
        read_packets_per_unit=totals.read_packets,
        write_packets_per_unit=totals.write_packets,
        setup_cycles=device.dispatch.kernel_setup_cycles,
        first_read_cycles=first_read.issue_cycles + first_read.latency_cycles,
        last_write_cycles=last_write.latency_cycles,
        pseudo_cb_pages=tuple((cb.index, cb.num_pages) for cb in pseudo_cbs(one_unit)),
    )
