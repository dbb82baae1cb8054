"""`NocModel`'s transfer, reorganised for speed with the same arithmetic in the same order (bit for bit).

`noc.NocModel` is the readable statement of the rules and stays the reference (`simulate(..., reference=
True)` runs it). This subclass reserves exactly the same busy intervals and returns exactly the same times;
tests/test_des_fast_equals_reference.py checks that on a range of programs. What it saves:

- the resources of a (core, NoC, direction, bank) path are looked up once, as a tuple of `_Resource`
  objects (calendar and accumulated busy time in one), not per transfer by tuple keys; its links are a
  slice of the row and column rings of the torus; a run of links that every packet crosses one after
  the other is reserved once (`_path`);
- the packets of a transfer size are priced once: per packet its issue, service and latency cycles and per
  hop its hold and occupancy (the bank's hold includes its recovery, computed as `occ + recovery * size`
  like the reference);
- a hop that starts at or after the end of its resource's last interval (no contention), or that arrives
  during the last interval and does not fit before it (queued behind it), is fitted and reserved inline,
  with the reference `Calendar`'s own merge rules; any other hop is fitted and reserved in one pass that
  reuses fit's position for the reservation;
- intervals that ended before the current time are pruned in batches (`_KEEP`), not at every hop;
- a run of many cores (no chains of links: see `chain_links`) gets the model a finished many-core run on the
  same board left (`for_run`, `release`): its resources emptied, its paths kept (they depend only on the
  board), and its priced packets too when the run has as many cores (a bank's hold depends on the number of
  streams).
"""

from __future__ import annotations

import threading
from bisect import bisect_right

from perfmodel import costs
from perfmodel.des.noc import Calendar, Direction, NocModel, Resource
from perfmodel.device.profile import DeviceProfile
from perfmodel.errors import InputError

# Intervals that ended before `now` are pruned once a calendar holds more than this many. The reference
# prunes them at every reservation; they cannot change a result, because every later hop starts at or
# after `now`: fit skips them (they end before it starts), and a reservation that touches one (it starts
# exactly at `now`) only stretches that interval back over time that no later hop can use.
_KEEP = 32

# One packet of a priced transfer: (issue, service, latency, per hop (resource, its starts, its ends, hold,
# occupancy)).
_Hop = tuple["_Resource", list[float], list[float], float, float]
_PathKey = tuple[tuple[int, int], int, str, int]
_Packet = tuple[float, float, float, tuple[_Hop, ...]]


class _Resource(Calendar):
    """One resource's busy intervals (the reference `Calendar`) and its accumulated busy cycles."""

    __slots__ = ("busy", "chain", "fresh", "key", "used")

    def __init__(self, key: Resource) -> None:
        super().__init__()
        self.key = key
        self.busy = 0.0
        self.used = False  # a packet has held it (the reference's busy dict has a key for it)
        self.fresh = True  # on no path yet
        # The links that every packet crosses one after the other, this one among them (see `_path`).
        self.chain: list[_Resource] | None = None

    def leader(self) -> _Resource:
        """The resource whose intervals and busy cycles are this one's: the first of its chain."""
        return self if self.chain is None else self.chain[0]


# Models of finished many-core runs, per board (by id, with the board so that its id is not reused); each
# taken by one run at a time (runs in other threads take other models).
_IDLE: dict[int, tuple[DeviceProfile, list[FastNocModel]]] = {}
_IDLE_LOCK = threading.Lock()
_IDLE_BOARDS = 8  # boards kept
_IDLE_PER_BOARD = 2


class FastNocModel(NocModel):
    @classmethod
    def for_run(cls, device: DeviceProfile, streams: int = 1) -> FastNocModel:
        """A model without traffic for a new run: one a finished many-core run left (`release`) when there is
        one and this run has many cores too (the one left by a run with as many cores first)."""
        streams = max(int(streams), 1)
        model = None
        if streams > 1:
            with _IDLE_LOCK:
                entry = _IDLE.get(id(device))
                if entry is not None and entry[0] is device and entry[1]:
                    idle = entry[1]
                    same = [i for i, m in enumerate(idle) if m.streams == streams]
                    model = idle.pop(same[0] if same else -1)
        if model is None:
            return cls(device, streams)
        model._empty(streams)
        return model

    def release(self) -> None:
        """Offer this model to the next many-core run on the same board (many-core runs only: the chains of a
        single-core run are split as its paths appear, which a new run would have to undo)."""
        if self.chain_links:
            return
        with _IDLE_LOCK:
            entry = _IDLE.get(id(self.device))
            if entry is None or entry[0] is not self.device:
                if len(_IDLE) >= _IDLE_BOARDS:
                    _IDLE.clear()
                entry = _IDLE[id(self.device)] = (self.device, [])
            entry[1].append(self)
            del entry[1][:-_IDLE_PER_BOARD]

    def _empty(self, streams: int) -> None:
        """No interval, busy cycle or packet: as a new model for `streams` streams, with the resources and
        paths kept, and the priced packets when the number of streams is the same."""
        if streams != self.streams:
            self.streams = streams
            self._bank_recovery_per_byte = costs.dram_bank_recovery_cycles(self.device, 1.0, streams)
            self._transfers.clear()
            self._path_transfers.clear()
        for res in self.resources.values():
            res.starts.clear()
            res.ends.clear()
            res.busy = 0.0
            res.used = False
        self._held.clear()
        self.busy.clear()
        self.packets = 0
        self.bytes_moved = 0

    def __init__(self, device: DeviceProfile, streams: int = 1) -> None:
        super().__init__(device, streams)
        self.resources: dict[Resource, _Resource] = {}
        # Per path: all its resources, and the ones a packet is reserved on (one per chain).
        self._paths: dict[_PathKey, tuple[tuple[_Resource, ...], tuple[_Resource, ...]]] = {}
        self._transfers: dict[tuple[tuple[int, int], int, str, int, int], tuple[_Packet, ...]] = {}
        self._ring_links: dict[tuple[int, str, int], tuple[_Resource, ...]] = {}
        self._chain_paths: dict[int, set[_PathKey]] = {}  # per chain leader (id), the paths that skip its chain
        self._path_transfers: dict[_PathKey, list[tuple[tuple[int, int], int, str, int, int]]] = {}
        self._held: set[_PathKey] = set()  # the paths whose resources are marked used in this run
        self.generation = 0  # counts the chain splits: priced packets kept elsewhere are stale after one
        # Chains pay off when one core streams: its paths share few links. The paths of many cores cross
        # each other everywhere, and splitting the chains as they appear costs more than they save.
        self.chain_links = self.streams == 1

    def _resource(self, key: Resource) -> _Resource:
        res = self.resources.get(key)
        if res is None:
            res = self.resources[key] = _Resource(key)
        return res

    def _rings(self, noc: int, axis: str, fixed: int) -> tuple[_Resource, ...]:
        """The links of one row (axis "x", at y = fixed) or column (axis "y", at x = fixed) of NoC `noc`, in
        the order NoC `noc` crosses them from coordinate 0 and round the torus twice: the links of a route
        along it are a slice (`NocModel.route` walks them one by one)."""
        key = (noc, axis, fixed)
        ring = self._ring_links.get(key)
        if ring is None:
            size = self.device.noc.size_x if axis == "x" else self.device.noc.size_y
            # NoC 0 moves +1 from coordinate c, NoC 1 moves -1: coordinate c sits at index c, resp. size-1-c.
            order = [c % size for c in range(2 * size)] if noc == 0 else [(-1 - c) % size for c in range(2 * size)]
            keys = [("link", noc, c, fixed, axis) if axis == "x" else ("link", noc, fixed, c, axis) for c in order]
            ring = self._ring_links[key] = tuple(self._resource(k) for k in keys)
        return ring

    def _links(self, noc: int, src: tuple[int, int], dst: tuple[int, int]) -> tuple[_Resource, ...]:
        """The resources of `NocModel.route(noc, src, dst)`."""
        noc_spec = self.device.noc
        size_x, size_y = noc_spec.size_x, noc_spec.size_y
        (sx, sy), (dx, dy) = src, dst
        if noc == 0:
            x_links = self._rings(0, "x", sy)[sx : sx + (dx - sx) % size_x]
            y_links = self._rings(0, "y", dx)[sy : sy + (dy - sy) % size_y]
            return x_links + y_links
        y_first = size_y - 1 - sy
        x_first = size_x - 1 - sx
        y_links = self._rings(1, "y", sx)[y_first : y_first + (sy - dy) % size_y]
        x_links = self._rings(1, "x", dy)[x_first : x_first + (sx - dx) % size_x]
        return y_links + x_links

    def _path(self, core: tuple[int, int], noc: int, direction: str, bank: int) -> tuple[_Resource, ...]:
        """The resources a packet of this path is reserved on, in the order the data crosses them (as
        `NocModel.transfer` builds them), one per chain of links.

        A chain is a run of links that every packet so far crossed one after the other: each packet reaches
        the next link of the chain when it starts on this one and finds it exactly as busy (no other packet
        ever held it), so it starts there at once, with the same hold. Their calendars and busy cycles stay
        equal and only the first is reserved. A chain is made of links that are on no path yet, from the
        first path that crosses them; a later path that enters or leaves a chain part way splits it there
        (the new first link takes a copy of the calendar and busy cycles), and the packets priced with the
        whole chain are priced again."""
        key = (core, noc, direction, bank)
        entry = self._paths.get(key)
        if entry is None:
            if not 0 <= bank < self.device.dram.num_banks:
                raise InputError(f"DRAM bank {bank} does not exist on {self.device.name}")
            core_phys = self.core_xy(core)
            bank_phys = tuple(self.device.dram.bank_noc_xy[bank])
            src, dst = (bank_phys, core_phys) if direction == "read" else (core_phys, bank_phys)
            links = self._links(noc, src, dst)  # type: ignore[arg-type]
            core_res, bank_res = self._resource(("core", core, noc)), self._resource(("bank", bank))
            path = (bank_res, *links, core_res) if direction == "read" else (core_res, *links, bank_res)
            self._split_chains(path)
            if self.chain_links:
                self._new_chains(path)
            for res in path:
                res.fresh = False
            reserved = tuple(r for r in path if r.chain is None or r.chain[0] is r)
            for r in reserved:
                if r.chain is not None:
                    self._chain_paths.setdefault(id(r), set()).add(key)
            entry = self._paths[key] = (path, reserved)
        return entry[1]

    def _split_chains(self, path: tuple[_Resource, ...]) -> None:
        """Split every chain that `path` enters or leaves part way, where it does."""
        changed = True
        while changed:
            changed = False
            for i, res in enumerate(path):
                chain = res.chain
                if chain is None:
                    continue
                j = chain.index(res)
                if j > 0 and (i == 0 or path[i - 1] is not chain[j - 1]):
                    self._split(chain, j)
                elif j < len(chain) - 1 and (i == len(path) - 1 or path[i + 1] is not chain[j + 1]):
                    self._split(chain, j + 1)
                else:
                    continue
                changed = True
                break

    def _split(self, chain: list[_Resource], j: int) -> None:
        leader, head, tail = chain[0], chain[:j], chain[j:]
        first = tail[0]
        first.starts[:] = leader.starts
        first.ends[:] = leader.ends
        first.busy = leader.busy
        for part in (head, tail):
            for res in part:
                res.chain = part if len(part) > 1 else None
        # The paths that skipped `first` must now reserve it: price them again.
        for key in self._chain_paths.pop(id(leader), ()):
            self._paths.pop(key, None)
            for transfer in self._path_transfers.pop(key, ()):
                self._transfers.pop(transfer, None)
        self.generation += 1

    @staticmethod
    def _new_chains(path: tuple[_Resource, ...]) -> None:
        """Chain the runs of consecutive links of `path` that are on no other path."""
        run: list[_Resource] = []
        for res in (*path, None):
            if res is not None and res.fresh and res.key[0] == "link":
                run.append(res)
                continue
            if len(run) > 1:
                for link in run:
                    link.chain = run
            run = []

    def _priced(self, core: tuple[int, int], noc: int, direction: str, bank: int, nbytes: int) -> tuple[_Packet, ...]:
        path = self._path(core, noc, direction, bank)
        recovery = self._bank_recovery_per_byte
        packets = []
        for size in costs.packet_sizes(nbytes, self._max_packet):
            c = self._cost(direction, size)
            link = c.link_cycles
            by_kind = {
                "bank": (c.bank_cycles + recovery * size, c.bank_cycles),
                "core": (c.core_cycles, c.core_cycles),
                "link": (link, link),
            }
            hops = tuple((res, res.starts, res.ends, *by_kind[res.key[0]]) for res in path)
            packets.append((c.issue_cycles, c.service_cycles, c.latency_cycles, hops))
        return tuple(packets)

    def transfer(
        self, now: float, core: tuple[int, int], noc: int, direction: Direction, bank: int, nbytes: int
    ) -> tuple[float, float]:
        return self.reserve(now, self.packets_of(core, noc, direction, bank, nbytes), nbytes)

    def packets_of(
        self, core: tuple[int, int], noc: int, direction: str, bank: int, nbytes: int
    ) -> tuple[_Packet, ...]:
        """The priced packets of a transfer (what `reserve` takes); an unknown bank is an InputError."""
        key = (core, noc, direction, bank, nbytes)
        packets = self._transfers.get(key)
        if packets is None:
            packets = self._transfers[key] = self._priced(core, noc, direction, bank, nbytes)
            self._path_transfers.setdefault((core, noc, direction, bank), []).append(key)
        path = key[:4]
        if packets and path not in self._held:
            self._held.add(path)
            for res in self._paths[path][0]:  # about to hold every resource of its path
                res.used = True
        return packets

    def reserve(self, now: float, packets: tuple[_Packet, ...], nbytes: int) -> tuple[float, float]:
        """`transfer` of the priced `packets` of `nbytes`: (issue cycles, completion of the last packet)."""
        issued = now
        issue_total = 0.0
        done = now
        for issue, service, latency, hops in packets:
            issued += issue
            issue_total += issue
            t = issued
            tail = issued
            for res, starts, ends, hold, occ in hops:
                if not ends:
                    starts.append(t)
                    ends.append(t + hold)
                else:
                    last = ends[-1]
                    if t >= last:
                        # `Calendar.fit` returns t; `reserve` merges with the last interval or appends.
                        if last >= t:
                            end = t + hold
                            if end > last:
                                ends[-1] = end
                        else:
                            starts.append(t)
                            ends.append(t + hold)
                        if len(ends) > _KEEP and ends[0] < now:
                            k = bisect_right(ends, now)
                            del starts[:k], ends[:k]
                    elif (len(ends) == 1 or t >= ends[-2]) and starts[-1] < t + hold:
                        # Queued behind the last interval: `fit` returns its end, `reserve` extends it.
                        t = last
                        end = t + hold
                        if end > t:
                            ends[-1] = end
                        if len(ends) > _KEEP and ends[0] < now:
                            k = bisect_right(ends, now)
                            del starts[:k], ends[:k]
                    else:
                        t = _fit_reserve(res, t, hold, now)
                res.busy += hold
                if t + occ > tail:
                    tail = t + occ
            finish = max(tail, issued + service) + latency
            if finish > done:
                done = finish
        self.packets += len(packets)
        self.bytes_moved += nbytes
        return issue_total, done

    def utilisation(self, duration_cycles: float) -> dict[str, object]:
        busy = self.busy
        busy.clear()
        for key, res in self.resources.items():
            if res.used:
                busy[key] = res.leader().busy
        return super().utilisation(duration_cycles)


def _fit_reserve(cal: Calendar, t: float, duration: float, now: float) -> float:
    """`cal.fit(t, duration)` then `cal.reserve(at that time, duration, now)`, with fit's index reused."""
    if duration <= 0:
        t = cal.fit(t, duration)
        cal.reserve(t, duration, now)
        return t
    starts, ends = cal.starts, cal.ends
    if t + duration <= starts[0]:
        i = 0
    else:
        i = bisect_right(ends, t)
        n = len(starts)
        while i < n and starts[i] < t + duration:
            if ends[i] > t:
                t = ends[i]
            i += 1
    # Every interval before i ends at or before t and starts[i] >= t + duration: `reserve`'s
    # bisect_right(starts, t) is i unless t + duration rounded to t.
    if i < len(starts) and starts[i] <= t:
        cal.reserve(t, duration, now)
        return t
    end = t + duration
    if i > 0 and ends[i - 1] >= t:
        i -= 1
        if end > ends[i]:
            ends[i] = end
    else:
        starts.insert(i, t)
        ends.insert(i, end)
    while i + 1 < len(starts) and starts[i + 1] <= ends[i]:
        if ends[i + 1] > ends[i]:
            ends[i] = ends[i + 1]
        del starts[i + 1], ends[i + 1]
    if len(ends) > _KEEP and ends[0] < now:
        k = bisect_right(ends, now)
        del starts[:k], ends[:k]
    return t
