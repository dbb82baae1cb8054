"""A circular buffer of one core with tt-metal's page-counter semantics (reference centralize_w_rm.md §4).

Producer and consumer share two counters: pages pushed and pages popped. `cb_reserve_back(n)` waits while
free = capacity - (pushed - popped) < n; `cb_wait_front(n)` waits while visible = pushed - popped < n
(waits are cumulative: they never consume). Push and pop never block; they move the counters and the ring
pointers and wake the waiters whose condition now holds. Counters are never clamped: a program that pops
more than was pushed behaves as badly here as on the device.
"""

from __future__ import annotations

from typing import Any

from perfmodel.program import CircularBuffer


class CbState:
    """Live state of one CB on one core: counters, L1 ring pointers, waiters and statistics."""

    __slots__ = (
        "area",
        "back_waiters",
        "base_addr",
        "blocked_cycles",
        "capacity",
        "front_waiters",
        "index",
        "last_change",
        "limit_addr",
        "max_occupancy",
        "occupancy",
        "page_bytes",
        "popped",
        "pushed",
        "rd_ptr",
        "size_bytes",
        "spec",
        "wr_ptr",
    )

    def __init__(self, spec: CircularBuffer, base_addr: int, record_occupancy: bool = False) -> None:
        self.spec = spec
        self.index = spec.index
        self.capacity = spec.num_pages
        self.page_bytes = spec.page_size_bytes
        self.size_bytes = spec.total_bytes
        self.base_addr = base_addr
        self.limit_addr = base_addr + self.size_bytes
        self.wr_ptr = base_addr
        self.rd_ptr = base_addr
        self.pushed = 0
        self.popped = 0
        self.max_occupancy = 0
        self.area = 0.0  # integral of visible pages over time, for the mean occupancy
        self.last_change = 0.0
        self.front_waiters: list[tuple[int, Any]] = []  # (pages, simpy event) of cb_wait_front calls
        self.back_waiters: list[tuple[int, Any]] = []  # (pages, simpy event) of cb_reserve_back calls
        self.blocked_cycles: dict[tuple[str, str], float] = {}  # (kernel/thread, call) -> cycles blocked
        self.occupancy: list[tuple[float, int]] | None = [] if record_occupancy else None

    @property
    def visible(self) -> int:
        return self.pushed - self.popped

    @property
    def free(self) -> int:
        return self.capacity - (self.pushed - self.popped)

    def push(self, n: int, now: float) -> None:
        self.area += (self.pushed - self.popped) * (now - self.last_change)
        self.last_change = now
        self.pushed += n
        # tt-metal advances the write pointer by n pages and wraps once it reaches the end of the ring; a
        # reservation that does not divide the capacity has already written past the end by then.
        self.wr_ptr += n * self.page_bytes
        if self.wr_ptr >= self.limit_addr:
            self.wr_ptr -= self.size_bytes
        visible = self.pushed - self.popped
        if visible > self.max_occupancy:
            self.max_occupancy = visible
        if self.occupancy is not None:
            self.occupancy.append((now, visible))
        if self.front_waiters:
            self.front_waiters = _wake(self.front_waiters, visible)

    def pop(self, n: int, now: float) -> None:
        self.area += (self.pushed - self.popped) * (now - self.last_change)
        self.last_change = now
        self.popped += n
        self.rd_ptr += n * self.page_bytes
        if self.rd_ptr >= self.limit_addr:
            self.rd_ptr -= self.size_bytes
        if self.occupancy is not None:
            self.occupancy.append((now, self.pushed - self.popped))
        if self.back_waiters:
            self.back_waiters = _wake(self.back_waiters, self.capacity - (self.pushed - self.popped))

    def mean_occupancy(self, until: float) -> float:
        """Time-averaged visible pages over [0, until]."""
        if until <= 0:
            return 0.0
        return (self.area + (self.pushed - self.popped) * max(0.0, until - self.last_change)) / until

    def add_blocked(self, who: str, call: str, cycles: float) -> None:
        key = (who, call)
        self.blocked_cycles[key] = self.blocked_cycles.get(key, 0.0) + cycles


def _wake(waiters: list[tuple[int, Any]], available: int) -> list[tuple[int, Any]]:
    """Trigger the waiters satisfied by `available` pages; return the ones still waiting."""
    still = []
    for pages, event in waiters:
        if available >= pages:
            if not event.triggered:
                event.succeed()
        else:
            still.append((pages, event))
    return still
