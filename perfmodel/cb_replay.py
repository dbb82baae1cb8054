"""Replaying recorded CB calls: the kernels' (or threads') call sequences played against each other.

The static checker and the analytic liveness check both record, per kernel or compute thread, the sequence
of CB calls a dry run makes, as (call, cb, pages, source line). `replay` plays them against CB capacities
until none can move, which is where a hang stops each of them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

Recorded = Mapping[str, Sequence[tuple[str, int, int, str]]]


def replay(
    recorded: Recorded, caps: Mapping[int, int], cbs: Collection[int] | None = None
) -> tuple[dict[str, int], dict[int, int], dict[int, int]]:
    """(position, pushed, popped): for each sequence the index of the call it stops at (its length when it
    finishes), and the pages pushed and popped per CB. Only the CBs `cbs` (default: every CB of `caps`) are
    played: calls on other CBs never block and count nothing."""
    own = set(caps) if cbs is None else set(cbs)
    pushed = dict.fromkeys(own, 0)
    popped = dict.fromkeys(own, 0)
    position = dict.fromkeys(recorded, 0)
    moved = True
    while moved:
        moved = False
        for name, calls in recorded.items():
            i = position[name]
            while i < len(calls):
                call, cb, n, _ = calls[i]
                if cb in own:
                    if call == "cb_reserve_back" and caps[cb] - (pushed[cb] - popped[cb]) < n:
                        break
                    if call == "cb_wait_front" and pushed[cb] - popped[cb] < n:
                        break
                    if call == "cb_push_back":
                        pushed[cb] += n
                    elif call == "cb_pop_front":
                        popped[cb] += n
                i += 1
            if i != position[name]:
                position[name] = i
                moved = True
    return position, pushed, popped
