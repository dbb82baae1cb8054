"""Per-unit stage work of a program, derived from recorded kernel traces and priced by `perfmodel.costs`.

A kernel's trace is `prologue + body x units + epilogue`. Tracing a representative core with one unit
and with two units of work isolates the body. Each kernel's body is then cut at its *synchronisation
points*: the CB calls on CBs shared with another kernel of the core (a CB produced and consumed by the same
kernel is ordered by program order and never delays it on its own). Between two synchronisation points a
kernel does *work*: NoC transfers, barriers and compute calls, priced on an otherwise idle core with the
DES's packet rules (`segment_cycles`).

The result, a `StageSignature`, depends only on the per-unit program and the device: it is what
`estimate_many` caches per distinct (op, shape key, dtype, device).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perfmodel import costs
from perfmodel.analytic.trace import Barrier, CbCall, ComputeCall, Event, NocTransfer, trace_core
from perfmodel.device.profile import DeviceProfile
from perfmodel.program import Program


@dataclass(frozen=True)
class Node:
    """One synchronisation point of a kernel: `call` on CB `cb` of `pages` pages, after `work_cycles`
    of work since the previous node of the same kernel (or since the unit / kernel start)."""

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
    pages_per_unit: tuple[tuple[int, int], ...]  # (cb, pages pushed per unit) of each cross CB
    read_bytes_per_unit: float
    write_bytes_per_unit: float
    read_packets_per_unit: int
    write_packets_per_unit: int
    setup_cycles: float
    first_read_cycles: float  # issue + latency of one read packet: the fill of a DRAM-bound run
    last_write_cycles: float  # latency of one write packet: the drain

    def kernel(self, name: str) -> KernelStages:
        return next(k for k in self.kernels if k.name == name)


def segment_cycles(device: DeviceProfile, events: Sequence[Event]) -> tuple[float, Traffic]:
    """Time one RISC-V needs for `events` (no CB calls) on an idle core, with the DES's packet rules.

    Per packet the RISC-V is busy `issue_cycles`; the packet starts when the core's NoC interface, its DRAM
    bank and its route are free (each resource then stays busy for its own bytes / bandwidth) and completes
    `service + latency` after its start; a barrier waits for every outstanding packet. Compute calls take
    `costs.compute_cycles`.
    """
    now = 0.0
    core_free: dict[str, float] = {}
    bank_free: dict[tuple[str, int], float] = {}
    link_free: dict[tuple[str, int], float] = {}
    outstanding: dict[str, float] = {"read": 0.0, "write": 0.0}
    read_bytes = write_bytes = 0.0
    read_packets = write_packets = 0
    for event in events:
        if isinstance(event, NocTransfer):
            d = event.direction
            for nbytes in costs.packet_sizes(event.nbytes, device.noc.max_packet_bytes):
                cost = costs.packet_cost(device, d, nbytes)
                now += cost.issue_cycles
                # Reads and writes travel on different NoCs (reader NoC 0, writer NoC 1): separate interfaces.
                start = max(now, core_free.get(d, 0.0), bank_free.get((d, event.bank), 0.0))
                start = max(start, link_free.get((d, event.bank), 0.0))
                core_free[d] = start + cost.core_cycles
                bank_free[(d, event.bank)] = start + cost.bank_cycles
                link_free[(d, event.bank)] = start + cost.link_cycles
                done = start + cost.service_cycles + cost.latency_cycles
                outstanding[d] = max(outstanding[d], done)
                if d == "read":
                    read_bytes += nbytes
                    read_packets += 1
                else:
                    write_bytes += nbytes
                    write_packets += 1
        elif isinstance(event, Barrier):
            now = max(now, outstanding[event.direction])
        elif isinstance(event, ComputeCall):
            now += event.cycles
    return now, Traffic(read_bytes, write_bytes, read_packets, write_packets)


def _split_body(one: Sequence[Event], two: Sequence[Event]) -> tuple[int, int]:
    """(prologue length, body length) such that one = P + B + E and two = P + B + B + E."""
    body = len(two) - len(one)
    if body <= 0:
        return len(one), 0
    key_one = [_shape(e) for e in one]
    key_two = [_shape(e) for e in two]
    for p in range(len(one) - body + 1):
        if key_two == key_one[: p + body] + key_one[p:]:
            return p, body
    raise ValueError("the kernel's trace is not prologue + repeated body + epilogue; cannot derive its stages")


def _shape(event: Event) -> tuple:
    # The bank of a transfer changes from unit to unit; the structure does not.
    if isinstance(event, NocTransfer):
        return (NocTransfer, event.direction, event.nbytes)
    return (type(event), *event)


def _nodes(
    device: DeviceProfile, kernel: str, events: Sequence[Event], cross: set[int]
) -> tuple[list[Node], float, float, float, Traffic]:
    """Cut `events` at CB calls on cross CBs: (nodes, trailing work, NoC-segment time, compute time, traffic)."""
    nodes: list[Node] = []
    pending: list[Event] = []
    noc_time = compute_time = 0.0
    traffic = Traffic()

    def flush() -> tuple[float, float, float, float]:
        nonlocal noc_time, compute_time, traffic
        cycles, seg = segment_cycles(device, pending)
        transfers = [e for e in pending if isinstance(e, NocTransfer)]
        fixed = 0.0
        if transfers:
            first = costs.packet_cost(device, transfers[0].direction, 1)
            last = costs.packet_cost(device, transfers[-1].direction, 1)
            fixed = first.issue_cycles + last.latency_cycles
        if any(isinstance(e, NocTransfer) for e in pending):
            noc_time += cycles
        elif any(isinstance(e, ComputeCall) for e in pending):
            compute_time += cycles
        traffic = Traffic(
            traffic.read_bytes + seg.read_bytes,
            traffic.write_bytes + seg.write_bytes,
            traffic.read_packets + seg.read_packets,
            traffic.write_packets + seg.write_packets,
        )
        pending.clear()
        return cycles, seg.read_bytes, seg.write_bytes, fixed

    for event in events:
        if isinstance(event, CbCall):
            if event.cb in cross:
                nodes.append(Node(kernel, event.call, event.cb, event.pages, *flush()))
        else:
            pending.append(event)
    tail = flush()[0]
    return nodes, tail, noc_time, compute_time, traffic


def build_signature(one_unit: Program, two_units: Program) -> StageSignature:
    """The stage signature from two single-core programs of the same op and shape key: 1 and 2 units."""
    device = one_unit.device
    t1, t2 = trace_core(one_unit), trace_core(two_units)
    producers: dict[int, set[str]] = {}
    users: dict[int, set[str]] = {}
    for name, events in t1.items():
        for e in events:
            if isinstance(e, CbCall):
                users.setdefault(e.cb, set()).add(name)
                if e.call in ("reserve", "push"):
                    producers.setdefault(e.cb, set()).add(name)
    cross = {cb for cb, names in users.items() if len(names) > 1}

    kernels = []
    totals = Traffic()
    pushes: dict[int, int] = {}
    for spec in one_unit.kernels:
        one, two = t1[spec.name], t2[spec.name]
        p, b = _split_body(one, two)
        pro_nodes, pro_tail, _, _, _ = _nodes(device, spec.name, one[:p], cross)
        body_nodes, body_tail, noc_t, comp_t, traffic = _nodes(device, spec.name, one[p : p + b], cross)
        _, epi_tail, _, _, _ = _nodes(device, spec.name, one[p + b :], cross)
        for node in body_nodes:
            if node.call == "push":
                pushes[node.cb] = pushes.get(node.cb, 0) + node.pages
        kernels.append(
            KernelStages(
                spec.name, spec.noc, tuple(pro_nodes), pro_tail, tuple(body_nodes), body_tail, epi_tail, noc_t, comp_t
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
        pages_per_unit=tuple(sorted(pushes.items())),
        read_bytes_per_unit=totals.read_bytes,
        write_bytes_per_unit=totals.write_bytes,
        read_packets_per_unit=totals.read_packets,
        write_packets_per_unit=totals.write_packets,
        setup_cycles=device.dispatch.kernel_setup_cycles,
        first_read_cycles=first_read.issue_cycles + first_read.latency_cycles,
        last_write_cycles=last_write.latency_cycles,
    )
