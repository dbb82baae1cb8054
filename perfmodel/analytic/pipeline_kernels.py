"""The pipeline's loops compiled with numba, for `pipeline_fast`: the dependency pass (`dependencies`: which
push or pop releases each CB call, row by row), the order of the nodes inside a unit (`same_unit_pairs`,
`unit_order`), the segment work (`segment_work`) and the max-plus recursion (`run`). Each does the same float
operations as its plain counterpart in `pipeline`, in the same order per row.

`pipeline_fast` turns the per-node Python objects into integer and float arrays (`RecursionPlan`) and `run`
evaluates every unit of every node of every row in compiled loops. A row's times depend on its own column
only, so rows are taken in blocks of `BLOCK_ROWS` and, inside a block, unit by unit and node by node in the
pipeline's evaluation order, exactly as the reference does. Only the nodes whose every unit is needed
afterwards keep a full history; a node read at a fixed unit shift (most: the compute threads' pseudo-CBs,
read in the same or the previous unit) keeps the last few units in a ring, so a block's state stays in cache.

`np.maximum` propagates NaN; `_max` does the same, so the two paths agree bit for bit on every input.

The kernels are cached on disk by numba (next to this file, else in the user's cache directory). A read-only
install with no writable cache directory compiles them once per process instead (a few seconds).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numba
import numpy as np

BLOCK_ROWS = 32  # rows evaluated together: a block's ring and kernel times stay in cache


def _compiled(func):
    """`func` compiled and cached on disk, or compiled per process when no cache directory is writable."""
    try:
        return numba.njit(cache=True, nogil=True, error_model="numpy")(func)
    except RuntimeError:  # numba found no writable cache location for this file
        return numba.njit(cache=False, nogil=True, error_model="numpy")(func)


@dataclass(frozen=True)
class RecursionPlan:
    """The recursion of one structure over rows in horizon order (longest first), as arrays.

    Per node i (body index): `kernel_of[i]`, `first[i]` (the first node of its kernel), where its times are
    kept: `slot[i]`, its plane of the full history (every unit: the kernels' last nodes, which give the
    results, and the nodes a per-row dependency reads), else `ring[i]`, its plane of a ring of the last
    `ring_units` units (a node read at a fixed unit shift), else neither; `rate_of[i]` (row of `rate`
    bounding its kernel's unit starts, -1 for none), `dep_kind[i]` (0 none, 1 node `dep_node[i]` at unit shift
    `dep_shift[i]` on every row, 2 per-row node and shift in row `dep_node[i]` of `gen_nodes` / `gen_shift`),
    `pro_of[i]` (row of `pro` whose prologue time it waits for, -1 for none). Per kernel: `last_slot[k]`, the
    history plane of its last node.
    """

    order: np.ndarray  # int64 (nodes,): evaluation order inside a unit
    kernel_of: np.ndarray  # int64 (nodes,)
    first: np.ndarray  # bool (nodes,)
    slot: np.ndarray  # int64 (nodes,): plane of the full history, -1 for none
    ring: np.ndarray  # int64 (nodes,): plane of the ring, -1 for none
    ring_units: int  # units the ring holds (more than the largest fixed shift read from it)
    last_slot: np.ndarray  # int64 (kernels,)
    work_step: np.ndarray  # float64 (nodes, rows): work of a unit run in step with the other cores
    work_alone: np.ndarray  # float64 (nodes, rows): work of a unit run alone
    rate_of: np.ndarray  # int64 (nodes,)
    rate: np.ndarray  # float64 (kernels with a rate, rows)
    dep_kind: np.ndarray  # int64 (nodes,)
    dep_node: np.ndarray  # int64 (nodes,)
    dep_shift: np.ndarray  # int64 (nodes,)
    gen_nodes: np.ndarray  # int64 (general dependencies, rows)
    gen_shift: np.ndarray  # int64 (general dependencies, rows)
    pro_of: np.ndarray  # int64 (nodes,)
    pro: np.ndarray  # float64 (prologue nodes waited for, rows)
    start: np.ndarray  # float64 (kernels, rows): a kernel's time before its first unit
    tail: np.ndarray  # float64 (kernels, rows): work after its last node of a unit
    k_row: np.ndarray  # int64 (rows,): units evaluated per row, non-increasing
    lockstep_units: int  # units that pay the shared-bandwidth work; -1: all


def run(plan: RecursionPlan, hist: np.ndarray) -> None:
    """Fill `hist[slot, k, row]`, the time of each fully kept node in unit k (1-based) of each row up to its
    horizon."""
    ring_nodes = int(plan.ring.max(initial=-1)) + 1
    ring = np.empty((ring_nodes, plan.ring_units, BLOCK_ROWS))
    _run(
        plan.order, plan.kernel_of, plan.first, plan.slot, plan.ring, plan.last_slot, plan.work_step,
        plan.work_alone, plan.rate_of, plan.rate, plan.dep_kind, plan.dep_node, plan.dep_shift, plan.gen_nodes,
        plan.gen_shift, plan.pro_of, plan.pro, plan.start, plan.tail, plan.k_row, plan.lockstep_units, hist, ring,
    )  # fmt: skip


@_compiled
def _max(a: float, b: float) -> float:  # pragma: no cover - compiled
    """`np.maximum` of two floats: NaN if either is NaN, else the larger (the first when equal)."""
    if a >= b or a != a:
        return a
    return b


@_compiled
def _run(
    order, kernel_of, first, slot, ring_of, last_slot, work_step, work_alone, rate_of, rate, dep_kind, dep_node,
    dep_shift, gen_nodes, gen_shift, pro_of, pro, start, tail, k_row, lockstep_units, hist, ring,
):  # fmt: skip  # pragma: no cover - compiled
    rows = k_row.shape[0]
    block = ring.shape[2]
    depth = ring.shape[1]
    cur = np.empty((start.shape[0], block))  # each kernel's latest node time, per row of the block
    for lo in range(0, rows, block):
        hi = min(lo + block, rows)
        for k in range(1, k_row[lo] + 1):
            # Rows are in horizon order, so the rows still running at unit k are a prefix of the block.
            n = hi
            while n > lo and k_row[n - 1] < k:
                n -= 1
            work = work_step if (lockstep_units < 0 or k <= lockstep_units) else work_alone
            for i in order:
                kern = kernel_of[i]
                c = cur[kern]
                if not first[i]:  # after the kernel's previous node (i - 1) of this unit
                    for r in range(lo, n):
                        c[r - lo] = c[r - lo] + work[i, r]
                elif k == 1:
                    for r in range(lo, n):
                        c[r - lo] = start[kern, r] + work[i, r]
                else:
                    last = last_slot[kern]
                    for r in range(lo, n):
                        c[r - lo] = (hist[last, k - 1, r] + tail[kern, r]) + work[i, r]
                if rate_of[i] >= 0 and k > 1:
                    q = rate_of[i]
                    if slot[i] >= 0:
                        s = slot[i]
                        for r in range(lo, n):
                            c[r - lo] = _max(c[r - lo], hist[s, k - 1, r] + rate[q, r])
                    else:
                        s, u = ring_of[i], (k - 1) % depth
                        for r in range(lo, n):
                            c[r - lo] = _max(c[r - lo], ring[s, u, r - lo] + rate[q, r])
                kind = dep_kind[i]
                if kind == 1:
                    src, j = k - dep_shift[i], dep_node[i]
                    if 1 <= src <= k:
                        if slot[j] >= 0:
                            s = slot[j]
                            for r in range(lo, n):
                                c[r - lo] = _max(c[r - lo], hist[s, src, r])
                        else:
                            s, u = ring_of[j], src % depth
                            for r in range(lo, n):
                                c[r - lo] = _max(c[r - lo], ring[s, u, r - lo])
                elif kind == 2:
                    g = dep_node[i]
                    for r in range(lo, n):
                        src = k - gen_shift[g, r]
                        if 1 <= src <= k:
                            c[r - lo] = _max(c[r - lo], hist[slot[gen_nodes[g, r]], src, r])
                if pro_of[i] >= 0:
                    p = pro_of[i]
                    for r in range(lo, n):
                        c[r - lo] = _max(c[r - lo], pro[p, r])
                if slot[i] >= 0:
                    s = slot[i]
                    for r in range(lo, n):
                        hist[s, k, r] = c[r - lo]
                elif ring_of[i] >= 0:
                    s, u = ring_of[i], k % depth
                    for r in range(lo, n):
                        ring[s, u, r - lo] = c[r - lo]


# Call codes of `dependencies`.
WAIT, RESERVE, PUSH, POP, OTHER = 0, 1, 2, 3, 4


@_compiled
def dependencies(
    call, cb_slot, kernel_of, n_kernels, n_cbs, pages, caps, pro_call, pro_cb_slot, pro_pages, units,
    max_explicit_units, dep_node, dep_shift, has_dep, pro_dep, deadlock, cyc,
):  # fmt: skip  # pragma: no cover - compiled
    """`pipeline._pipeline_times`'s dependency pass, node by node in body order and row by row.

    Fills `dep_node` / `dep_shift` (nodes, rows: the push or pop node that releases each wait or reserve and
    its unit shift), `has_dep`, `pro_dep` (the prologue push a wait takes its first pages from, -1 for none),
    `deadlock` (a reservation larger than its CB, or one that needs a pop of a later unit) and `cyc` (per row,
    the lcm of the dependencies' shifts, at least 1 each). A CB whose cumulative pages are the same on every
    row releases equal needs alike: consecutive rows with the same need reuse the search."""
    nodes, rows = pages.shape
    # Each CB's push and pop nodes in body order (CSR), with their cumulative pages in a unit.
    count = np.zeros((2, n_cbs), dtype=np.int64)
    for i in range(nodes):
        if call[i] == PUSH:
            count[0, cb_slot[i]] += 1
        elif call[i] == POP:
            count[1, cb_slot[i]] += 1
    begin = np.zeros((2, n_cbs + 1), dtype=np.int64)
    for kind in range(2):
        for b in range(n_cbs):
            begin[kind, b + 1] = begin[kind, b] + count[kind, b]
    listed = np.empty((2, nodes), dtype=np.int64)
    cum = np.empty((2, nodes, rows))
    filled = begin[:, :n_cbs].copy()
    for i in range(nodes):
        kind = 0 if call[i] == PUSH else (1 if call[i] == POP else -1)
        if kind < 0:
            continue
        b = cb_slot[i]
        at = filled[kind, b]
        listed[kind, at] = i
        for r in range(rows):
            cum[kind, at, r] = pages[i, r] if at == begin[kind, b] else cum[kind, at - 1, r] + pages[i, r]
        filled[kind, b] += 1
    uniform = np.ones((2, n_cbs), dtype=np.bool_)
    for kind in range(2):
        for b in range(n_cbs):
            for at in range(begin[kind, b], begin[kind, b + 1]):
                for r in range(1, rows):
                    if cum[kind, at, r] != cum[kind, at, 0]:
                        uniform[kind, b] = False
                        break
                if not uniform[kind, b]:
                    break
    # The prologue's pushes per CB: their pages (summed from zero, in order) and the last one.
    pro_total = np.zeros((n_cbs, rows))
    last_pro_push = np.full(n_cbs, -1, dtype=np.int64)
    for j in range(pro_call.shape[0]):
        if pro_call[j] == PUSH:
            b = pro_cb_slot[j]
            last_pro_push[b] = j
            for r in range(rows):
                pro_total[b, r] = pro_total[b, r] + pro_pages[j, r]
    # Pages each kernel pushed (0) and popped (1) on each CB before the current node of its unit.
    running = np.zeros((2, n_kernels, n_cbs, rows))
    for i in range(nodes):
        b, kern = cb_slot[i], kernel_of[i]
        pro_dep[i] = -1
        if call[i] == WAIT:
            if count[0, b] > 0:
                has_dep[i] = True
                same, last, node, shift = uniform[0, b], np.nan, 0, 0
                for r in range(rows):
                    need = _max(running[1, kern, b, r] + pages[i, r] - pro_total[b, r], 0.0)
                    if not (same and need == last):
                        node, shift = _release(listed[0], cum[0], begin[0, b], count[0, b], need, r)
                        last = need
                    dep_node[i, r] = node
                    dep_shift[i, r] = shift
            if last_pro_push[b] >= 0:
                pro_dep[i] = last_pro_push[b]
        elif call[i] == RESERVE and count[1, b] > 0:
            has_dep[i] = True
            same, last, node, shift = uniform[1, b], np.nan, 0, 0
            for r in range(rows):
                cap = caps[b, r]
                need = pro_total[b, r] + running[0, kern, b, r] + pages[i, r] - cap
                if not (same and need == last):
                    node, shift = _release(listed[1], cum[1], begin[1, b], count[1, b], need, r)
                    last = need
                if pages[i, r] > cap or shift < 0:
                    deadlock[r] = True
                never = max(units[r] + 1, max_explicit_units)
                dep_node[i, r] = node
                dep_shift[i, r] = min(max(shift, 0), never)
        if call[i] == PUSH or call[i] == POP:
            kind = 0 if call[i] == PUSH else 1
            for r in range(rows):
                running[kind, kern, b, r] = running[kind, kern, b, r] + pages[i, r]
    for r in range(rows):
        c = 1
        for i in range(nodes):
            if has_dep[i]:
                c = _lcm(c, max(dep_shift[i, r], 1))
        cyc[r] = c


@_compiled
def _lcm(a, b):  # pragma: no cover - compiled
    """`np.lcm` of two positive integers."""
    x, y = a, b
    while y:
        x, y = y, x % y
    return a // x * b


@_compiled
def _release(listed, cum, first, count, need, r):  # pragma: no cover - compiled
    """`pipeline._release` for one row: (node, unit shift) of the push (pop) that releases `need` pages."""
    per_unit = cum[first + count - 1, r]
    shift = np.int64(1.0 - np.ceil(need / per_unit))
    if count == 1:
        return listed[first], shift
    target = need + shift * per_unit
    lo, hi = 0, count  # the first cumulative count >= target (cumulative pages never decrease)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[first + mid, r] < target:
            lo = mid + 1
        else:
            hi = mid
    if lo == count:  # none reaches it: the first, as `np.argmax` of no True
        lo = 0
    return listed[first + lo], shift


@_compiled
def same_unit_pairs(dep_node, dep_shift, has_dep):  # pragma: no cover - compiled
    """(waiting node, node waited for) once per pair whose dependency is in the same unit on some row."""
    nodes, rows = dep_node.shape
    stamp = np.full(nodes, -1, dtype=np.int64)
    total = 0
    for i in range(nodes):
        if has_dep[i]:
            for r in range(rows):
                j = dep_node[i, r]
                if dep_shift[i, r] == 0 and stamp[j] != i:
                    stamp[j] = i
                    total += 1
    waiting = np.empty(total, dtype=np.int64)
    source = np.empty(total, dtype=np.int64)
    stamp[:] = -1
    at = 0
    for i in range(nodes):
        if has_dep[i]:
            for r in range(rows):
                j = dep_node[i, r]
                if dep_shift[i, r] == 0 and stamp[j] != i:
                    stamp[j] = i
                    waiting[at] = i
                    source[at] = j
                    at += 1
    return waiting, source


@_compiled
def unit_order(nodes, source, target):  # pragma: no cover - compiled
    """`pipeline._unit_order` over edges source -> target (distinct pairs): Kahn's algorithm, the smallest
    ready node first; shorter than `nodes` when the edges close a cycle."""
    waiting = np.zeros(nodes, dtype=np.int64)
    out_count = np.zeros(nodes + 1, dtype=np.int64)
    for e in range(source.shape[0]):
        waiting[target[e]] += 1
        out_count[source[e] + 1] += 1
    begin = np.cumsum(out_count)
    succ = np.empty(source.shape[0], dtype=np.int64)
    filled = begin[:nodes].copy()
    for e in range(source.shape[0]):
        succ[filled[source[e]]] = target[e]
        filled[source[e]] += 1
    ready = [i for i in range(nodes) if waiting[i] == 0]
    heapq.heapify(ready)
    order = np.empty(nodes, dtype=np.int64)
    placed = 0
    while len(ready) > 0:
        i = heapq.heappop(ready)
        order[placed] = i
        placed += 1
        for e in range(begin[i], begin[i + 1]):
            j = succ[e]
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    return order[:placed]


@_compiled
def segment_work(
    work_sig, fixed_sig, read_sig, write_sig, has_read, has_write, kernel_of, which, share_read, share_write, work,
    work_iso,
):  # fmt: skip  # pragma: no cover - compiled
    """`pipeline._segment_work_reference` per node and row: `work_iso` (the work on an idle core) and `work`
    (with this core's share of the bandwidth: at least the fixed part plus the bytes at the share, for a node
    that moves bytes), for the rows of signatures `which`. The same float operations in the same order."""
    nodes, rows = work.shape
    for i in range(nodes):
        k = kernel_of[i]
        for r in range(rows):
            w = which[r]
            alone = work_sig[i, w]
            work_iso[i, r] = alone
            shared = fixed_sig[i, w]
            moved = 0.0
            if has_read[i]:
                shared = shared + read_sig[i, w] / share_read[k, r]
                moved = moved + read_sig[i, w]
            if has_write[i]:
                shared = shared + write_sig[i, w] / share_write[k, r]
                moved = moved + write_sig[i, w]
            work[i, r] = _max(alone, shared) if moved > 0 else alone
