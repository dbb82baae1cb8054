"""NoC and DRAM timing as a reservation calendar (the rules of `perfmodel.costs`).

Each transfer is split into packets (`costs.packet_sizes`). Packet i of a transfer issued at time t enters
the NoC at t + (i + 1) x issue_cycles (the issuing RISC-V is busy issue_cycles per packet). It then crosses
its resources in the order its data does: for a read the DRAM bank, the links of the route, the core's NoC
interface; for a write the core's interface, the links, the bank. At each resource it takes the earliest
free gap at or after the time its head left the previous one, and holds that resource for bytes / (that
resource's bandwidth) (`PacketCost`: bank_cycles, link_cycles, core_cycles). It completes latency_cycles
after the later of (a) the end of its last hold on any resource and (b) entry + service_cycles. Without
contention every hold starts at the entry time, so a packet completes at entry + service + latency exactly
as in `perfmodel.costs`. No simpy event is made per packet or hop: a barrier only needs the latest
completion of its RISC-V's packets.

Why busy-interval calendars, hop by hop, and not one "free from" time per resource with a common start for
all of them (the first design): packets are reserved in issue order, not in the order they reach a
resource. With one free time per resource, a packet queued behind a busy bank also held every link and core
interface of its path until then, and 64 cores serialised the whole chip (about 10x the DRAM roofline).
With calendars but a common start, a packet still needed one instant at which the bank and ~10 links were
all free: on 64 cores the banks reached only 45-70 % busy in DRAM-bound phases. Routers buffer packets, so
each hop is now queued on its own; the banks then reach 98 % busy on the 64-core benchmark and the single-
core timings (dram_unary) are unchanged.

DRAM under many cores: a bank shared by the interleaved streams of n cores stays busy after each packet for
its recovery (`costs.dram_bank_recovery_cycles`: row switches, read/write turnaround), which delays the
next packet at that bank but not this one; with one core it is zero.

Routes: NoC 0 and NoC 1 are unidirectional tori on the physical coordinates (`noc.worker_noc_x/y`,
`dram.bank_noc_xy`). NoC 0 moves +x then +y, NoC 1 moves -y then -x, wrapping around. Data of a read flows
bank -> core, data of a write core -> bank, on the NoC of the issuing kernel.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from typing import Literal

from perfmodel import costs
from perfmodel.device.profile import DeviceProfile

Direction = Literal["read", "write"]
Resource = tuple  # ("core", (x, y), noc) | ("bank", b) | ("link", noc, x, y, axis)


class Calendar:
    """Busy intervals of one resource: sorted, disjoint [start, end) pairs; old ones are pruned."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []

    def fit(self, t: float, duration: float) -> float:
        """The earliest start >= t of a free gap of `duration`."""
        starts, ends = self.starts, self.ends
        if not ends or t >= ends[-1] or t + duration <= starts[0]:
            return t
        i = bisect_right(ends, t)
        n = len(starts)
        while i < n and starts[i] < t + duration:
            if ends[i] > t:
                t = ends[i]
            i += 1
        return t

    def reserve(self, start: float, duration: float, now: float) -> None:
        starts, ends = self.starts, self.ends
        end = start + duration
        i = bisect_right(starts, start)
        # Merge with the neighbours it touches, so back-to-back traffic stays one interval.
        if i > 0 and ends[i - 1] >= start:
            i -= 1
            if end > ends[i]:
                ends[i] = end
        else:
            starts.insert(i, start)
            ends.insert(i, end)
        while i + 1 < len(starts) and starts[i + 1] <= ends[i]:
            if ends[i + 1] > ends[i]:
                ends[i] = ends[i + 1]
            del starts[i + 1], ends[i + 1]
        if ends[0] < now:
            # Every later request enters at or after `now`: intervals that ended before it are history.
            k = bisect_right(ends, now)
            del starts[:k], ends[:k]


class NocModel:
    """Free times and accumulated occupancy of every NoC / DRAM resource of the chip."""

    def __init__(self, device: DeviceProfile, streams: int = 1) -> None:
        self.device = device
        # Cores streaming interleaved pages at once: each bank serves all of them (`costs.dram_bank_fraction`).
        self.streams = max(int(streams), 1)
        # Per byte, the time a bank stays busy after a packet (row switches between the streams' pages).
        self._bank_recovery_per_byte = costs.dram_bank_recovery_cycles(device, 1.0, self.streams)
        self.calendars: dict[Resource, Calendar] = {}
        self.busy: defaultdict[Resource, float] = defaultdict(float)
        self.bytes_moved = 0
        self.packets = 0
        self._routes: dict[tuple[int, tuple[int, int], tuple[int, int]], tuple[Resource, ...]] = {}
        self._costs: dict[tuple[str, int], costs.PacketCost] = {}
        self._max_packet = device.noc.max_packet_bytes

    def core_xy(self, core: tuple[int, int]) -> tuple[int, int]:
        noc = self.device.noc
        return noc.worker_noc_x[core[0]], noc.worker_noc_y[core[1]]

    def route(self, noc: int, src: tuple[int, int], dst: tuple[int, int]) -> tuple[Resource, ...]:
        """The links a packet crosses from physical `src` to physical `dst` on NoC `noc`."""
        key = (noc, src, dst)
        links = self._routes.get(key)
        if links is not None:
            return links
        size_x, size_y = self.device.noc.size_x, self.device.noc.size_y
        x, y = src
        hops: list[Resource] = []
        if noc == 0:
            while x != dst[0]:
                hops.append(("link", 0, x, y, "x"))
                x = (x + 1) % size_x
            while y != dst[1]:
                hops.append(("link", 0, x, y, "y"))
                y = (y + 1) % size_y
        else:
            while y != dst[1]:
                hops.append(("link", 1, x, y, "y"))
                y = (y - 1) % size_y
            while x != dst[0]:
                hops.append(("link", 1, x, y, "x"))
                x = (x - 1) % size_x
        links = tuple(hops)
        self._routes[key] = links
        return links

    def _cost(self, direction: str, nbytes: int) -> costs.PacketCost:
        key = (direction, nbytes)
        cost = self._costs.get(key)
        if cost is None:
            cost = costs.packet_cost(self.device, direction, nbytes)  # type: ignore[arg-type]
            self._costs[key] = cost
        return cost

    def transfer(
        self, now: float, core: tuple[int, int], noc: int, direction: Direction, bank: int, nbytes: int
    ) -> tuple[float, float]:
        """Reserve the resources of one transfer issued at `now`.

        Returns (issue cycles the RISC-V is busy, completion time of the last packet).
        """
        if not 0 <= bank < self.device.dram.num_banks:
            from perfmodel.errors import InputError

            raise InputError(f"DRAM bank {bank} does not exist on {self.device.name}")
        core_phys = self.core_xy(core)
        bank_phys = tuple(self.device.dram.bank_noc_xy[bank])
        src, dst = (bank_phys, core_phys) if direction == "read" else (core_phys, bank_phys)
        links = self.route(noc, src, dst)  # type: ignore[arg-type]
        cals = self.calendars
        core_key, bank_key = ("core", core, noc), ("bank", bank)
        # Resources in the order the data crosses them.
        path = (bank_key, *links, core_key) if direction == "read" else (core_key, *links, bank_key)
        resources = []
        for key in path:
            cal = cals.get(key)
            if cal is None:
                cal = cals[key] = Calendar()
            resources.append(cal)
        busy = self.busy
        recovery = self._bank_recovery_per_byte
        issued = now
        issue_total = 0.0
        done = now
        for size in costs.packet_sizes(nbytes, self._max_packet):
            c = self._cost(direction, size)
            issued += c.issue_cycles
            issue_total += c.issue_cycles
            t = issued
            tail = issued
            for key, cal in zip(path, resources, strict=True):
                occ = c.bank_cycles if key is bank_key else c.core_cycles if key is core_key else c.link_cycles
                # The bank's recovery after the packet delays the next packet at that bank, not this one.
                hold = occ + recovery * size if key is bank_key else occ
                t = cal.fit(t, hold)
                cal.reserve(t, hold, now)
                busy[key] += hold
                if t + occ > tail:
                    tail = t + occ
            # Without contention every hop starts at `issued` and this is issued + service + latency.
            finish = max(tail, issued + c.service_cycles) + c.latency_cycles
            if finish > done:
                done = finish
            self.packets += 1
        self.bytes_moved += nbytes
        return issue_total, done

    def utilisation(self, duration_cycles: float) -> dict[str, object]:
        """Busy fractions over the run: per DRAM bank, and the busiest link and core interface."""
        if duration_cycles <= 0:
            duration_cycles = 1.0
        banks = [self.busy.get(("bank", b), 0.0) / duration_cycles for b in range(self.device.dram.num_banks)]
        links = [v for k, v in self.busy.items() if k[0] == "link"]
        cores = [v for k, v in self.busy.items() if k[0] == "core"]
        return {
            "dram_bank_busy_fraction": banks,
            "dram_bank_busy_fraction_max": max(banks) if banks else 0.0,
            "dram_bank_busy_fraction_mean": sum(banks) / len(banks) if banks else 0.0,
            "noc_link_busy_fraction_max": max(links) / duration_cycles if links else 0.0,
            "noc_links_used": len(links),
            "noc_core_interface_busy_fraction_max": max(cores) / duration_cycles if cores else 0.0,
            "noc_packets": self.packets,
            "noc_bytes": self.bytes_moved,
        }
