"""`pipeline`'s evaluation of one structure's rows, compiled: the same results as `pipeline._pipeline_times`
bit for bit (tests/test_estimate_many_fast_equals_reference.py), at a cost that grows with the rows rather than
with Python calls per node.

The plain evaluation spends a few numpy calls per node on the dependencies (which push or pop releases each
wait or reserve, row by row) and a few per node and unit on the recursion; a wide tile row has thousands of
nodes and a random table hundreds of structures. Here both passes are loops compiled by numba
(`pipeline_kernels`), and the per-node Python objects become integer and float arrays once per signature
table.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from perfmodel.analytic import pipeline_kernels as kernels_jit
from perfmodel.analytic.pipeline import (
    PipelineTimes,
    _history,
    _SigTable,
    _sorted_rows,
    evaluation_order,
    extrapolate,
    prologue_times,
)

_CALL_CODES = {
    "wait": kernels_jit.WAIT,
    "reserve": kernels_jit.RESERVE,
    "push": kernels_jit.PUSH,
    "pop": kernels_jit.POP,
}

# id(signature table) -> (the table, its body and prologue as integer arrays).
_CODES: dict[int, tuple[_SigTable, tuple]] = {}


def _codes(table: _SigTable) -> tuple:
    """(call code, CB slot, kernel index per body node; call code, CB slot per prologue node; CB index per
    slot): the table's nodes as arrays, built once per table."""
    hit = _CODES.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1]
    cbs = sorted({cb for _, _, cb in table.body} | {cb for _, _, cb in table.pro})
    slot_of = {cb: s for s, cb in enumerate(cbs)}
    kernel_index = {name: k for k, name in enumerate(table.kernels)}
    other = kernels_jit.OTHER
    value = (
        np.array([_CALL_CODES.get(call, other) for _, call, _ in table.body], dtype=np.int64),
        np.array([slot_of[cb] for _, _, cb in table.body], dtype=np.int64),
        np.array([kernel_index[name] for name, _, _ in table.body], dtype=np.int64),
        np.array([_CALL_CODES.get(call, other) for _, call, _ in table.pro], dtype=np.int64),
        np.array([slot_of[cb] for _, _, cb in table.pro], dtype=np.int64),
        cbs,
    )
    if len(_CODES) > 4096:
        _CODES.clear()
    _CODES[id(table)] = (table, value)
    return value


def pipeline_times(
    table: _SigTable,
    which: np.ndarray,
    units: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None,
    rate_cycles: Mapping[str, np.ndarray] | None,
    lockstep_units: int | None,
    max_explicit_units: int,
    workspace: dict[tuple[int, tuple[int, ...]], np.ndarray] | None = None,
) -> PipelineTimes:
    """`pipeline._pipeline_times`, compiled."""
    which = np.asarray(which, dtype=np.int64)
    units = np.asarray(units, dtype=np.int64)
    rows = units.shape[0]
    kernels, body, pro = table.kernels, table.body, table.pro
    nodes = len(body)
    pages = table.matrices["pages"][:, which]
    pro_work = [w[which] for w in table.pro_work]
    tail = {name: v[which] for name, v in table.tail.items()}
    epilogue = {name: v[which] for name, v in table.epilogue.items()}
    setup = table.setup[which]
    pro_tail = {name: v[which] for name, v in table.pro_tail.items()}

    call, cb_slot, kernel_of, pro_call, pro_cb_slot, cbs = _codes(table)
    caps = np.zeros((len(cbs), rows))
    for s, cb in enumerate(cbs):
        if cb in capacities:
            caps[s] = np.broadcast_to(np.asarray(capacities[cb], dtype=float), (rows,))
        elif np.any((call == kernels_jit.RESERVE) & (cb_slot == s)) and np.any(
            (call == kernels_jit.POP) & (cb_slot == s)
        ):
            raise KeyError(cb)  # as the plain evaluation: a reserved and popped CB needs a capacity
    pro_pages = np.array([p[which] for p in table.pro_pages], dtype=float).reshape(len(pro), rows)
    dep_node = np.zeros((nodes, rows), dtype=np.int64)
    dep_shift = np.zeros((nodes, rows), dtype=np.int64)
    has_dep = np.zeros(nodes, dtype=bool)
    pro_dep = np.full(nodes, -1, dtype=np.int64)
    deadlock = np.zeros(rows, dtype=bool)
    cyc = np.ones(rows, dtype=np.int64)
    kernels_jit.dependencies(
        call, cb_slot, kernel_of, len(kernels), len(cbs), np.ascontiguousarray(pages, dtype=float), caps, pro_call,
        pro_cb_slot, pro_pages, units, max_explicit_units, dep_node, dep_shift, has_dep, pro_dep, deadlock, cyc,
    )  # fmt: skip
    with_dep = np.flatnonzero(has_dep)

    order = _order(body, kernel_of, dep_node, dep_shift, has_dep, deadlock)
    k_max = max(max_explicit_units, 3 * int(cyc.max(initial=1)) + 8)
    start_of, pro_time_by_index = prologue_times(kernels, pro, setup, pro_work, pro_tail)

    own = {name: np.flatnonzero(kernel_of == k).tolist() for k, name in enumerate(kernels)}
    k_row = np.maximum(max_explicit_units, 3 * cyc + 8)
    perm = np.argsort(-k_row, kind="stable")

    def sort(values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values, (rows,))[perm]

    start_p = {name: sort(v) for name, v in start_of.items()}
    tail_p = {name: sort(v) for name, v in tail.items()}
    # The work per node and row, gathered straight into horizon order.
    shares = None
    if share_bytes_per_cycle is not None:
        shares = {k: sort(np.asarray(v)) for k, v in share_bytes_per_cycle.items()}
    work, work_iso = _segment_work(table, which[perm], rows, shares)
    plan, kept = _recursion_plan(
        order, kernels, kernel_of, own, work, work_iso, rate_cycles, dep_node, dep_shift, with_dep, pro_dep,
        pro_time_by_index, start_p, tail_p, perm, k_row[perm], lockstep_units,
    )  # fmt: skip
    planes = _history(workspace, -1, (len(kept), k_max + 1, rows))
    kernels_jit.run(plan, planes)
    slot_of = {i: s for s, i in enumerate(kept)}
    curves = {name: planes[slot_of[own[name][-1]]] for name in kernels if own[name]}
    return extrapolate(kernels, curves, cyc, k_row, perm, units, start_p, tail_p, setup, epilogue, deadlock)


def _order(
    body: list, kernel_of: np.ndarray, dep_node: np.ndarray, dep_shift: np.ndarray, has_dep: np.ndarray,
    deadlock: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """`pipeline.evaluation_order`: compiled, or the plain one (which also drops the edges of a cycle) when
    the same-unit waits close one."""
    nodes = len(body)
    waiting, source = kernels_jit.same_unit_pairs(dep_node, dep_shift, has_dep)
    after = np.flatnonzero(kernel_of[1:] == kernel_of[:-1]) + 1  # program order inside a kernel
    target = np.concatenate([after, waiting])
    origin = np.concatenate([after - 1, source])
    pairs = np.unique(target * max(nodes, 1) + origin)  # a dependency on the previous node is one edge
    order = kernels_jit.unit_order(nodes, pairs % max(nodes, 1), pairs // max(nodes, 1))
    if len(order) == nodes:
        return order
    deps = [(dep_node[i], dep_shift[i]) if has_dep[i] else None for i in range(nodes)]
    return np.asarray(evaluation_order(body, deps, deadlock), dtype=np.int64)


def _recursion_plan(
    order, kernels, kernel_of, own, work, work_iso, rate_cycles, dep_node, dep_shift, with_dep, pro_dep,
    pro_time_by_index, start_p, tail_p, perm, k_row_p, lockstep_units,
) -> tuple[kernels_jit.RecursionPlan, list[int]]:  # fmt: skip
    """The compiled recursion's arrays (rows in horizon order, `perm`; `work` and `work_iso` are in it already),
    and the nodes with a full history, in history-plane order.

    A dependency whose node and unit shift are the same on every row (most: the compute threads' pseudo-CBs)
    is stored once; the others per row. Every unit is kept for the kernels' last nodes (the results) and the
    nodes a per-row dependency reads; the other nodes read by a dependency, or by their own rate bound one unit
    back, keep a ring of the last units."""
    nodes, rows = dep_node.shape
    first = np.zeros(nodes, dtype=bool)
    first[[own[name][0] for name in kernels if own[name]]] = True

    rated = [name for name in kernels if rate_cycles is not None and name in rate_cycles]
    rate = _sorted_rows([rate_cycles[name] for name in rated], perm, rows)
    rate_of = np.full(nodes, -1, dtype=np.int64)
    for q, name in enumerate(rated):
        if own[name]:
            rate_of[own[name][0]] = q

    dep_kind = np.zeros(nodes, dtype=np.int64)
    const_node = np.zeros(nodes, dtype=np.int64)
    const_shift = np.zeros(nodes, dtype=np.int64)
    general = np.empty(0, dtype=np.int64)
    if with_dep.size and rows:
        node_of, shift_of = dep_node[with_dep], dep_shift[with_dep]
        same = (node_of.min(axis=1) == node_of.max(axis=1)) & (shift_of.min(axis=1) == shift_of.max(axis=1))
        const = with_dep[same]
        general = with_dep[~same]
        dep_kind[const], const_node[const], const_shift[const] = 1, dep_node[const, 0], dep_shift[const, 0]
        dep_kind[general] = 2
        const_node[general] = np.arange(len(general))
    gen_nodes = np.ascontiguousarray(dep_node[general][:, perm])
    gen_shift = np.ascontiguousarray(dep_shift[general][:, perm])

    last = [own[name][-1] for name in kernels if own[name]]
    full = np.unique(np.concatenate([np.asarray(last, dtype=np.int64), gen_nodes.ravel()]))
    read = np.unique(const_node[dep_kind == 1])
    ringed = np.setdiff1d(np.union1d(read, np.flatnonzero(rate_of >= 0)), full)
    slot = np.full(nodes, -1, dtype=np.int64)
    slot[full] = np.arange(len(full))
    ring = np.full(nodes, -1, dtype=np.int64)
    ring[ringed] = np.arange(len(ringed))
    fixed = (dep_kind == 1) & (ring[const_node] >= 0)
    back = int(const_shift[fixed].max(initial=0))
    if np.any(ring[rate_of >= 0] >= 0):
        back = max(back, 1)
    ring_units = min(back, int(k_row_p.max(initial=1))) + 1

    waited = sorted({int(j) for j in pro_dep if j >= 0})
    pro = _sorted_rows([pro_time_by_index[j] for j in waited], perm, rows)
    pro_of = np.array([waited.index(j) if j >= 0 else -1 for j in pro_dep], dtype=np.int64)
    plan = kernels_jit.RecursionPlan(
        order=np.asarray(order, dtype=np.int64),
        kernel_of=kernel_of,
        first=first,
        slot=slot,
        ring=ring,
        ring_units=ring_units,
        last_slot=np.array([slot[own[name][-1]] if own[name] else -1 for name in kernels], dtype=np.int64),
        work_step=np.ascontiguousarray(work, dtype=float),
        work_alone=np.ascontiguousarray(work_iso, dtype=float),
        rate_of=rate_of,
        rate=np.ascontiguousarray(rate, dtype=float),
        dep_kind=dep_kind,
        dep_node=const_node,
        dep_shift=const_shift,
        gen_nodes=gen_nodes,
        gen_shift=gen_shift,
        pro_of=pro_of,
        pro=np.ascontiguousarray(pro, dtype=float),
        start=np.ascontiguousarray(np.stack([start_p[name] for name in kernels]), dtype=float),
        tail=np.ascontiguousarray(np.stack([tail_p[name] for name in kernels]), dtype=float),
        k_row=np.ascontiguousarray(k_row_p, dtype=np.int64),
        lockstep_units=-1 if lockstep_units is None else int(lockstep_units),
    )
    return plan, full.tolist()


def _segment_work(
    table: _SigTable,
    which: np.ndarray,
    rows: int,
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """`pipeline._segment_work_reference` with every node at once: (work with shared bandwidth, work on an idle
    core) as (nodes, rows) matrices for the rows of signatures `which`, the same float operations."""
    nodes = len(table.body)
    matrices = table.matrices
    if share_bytes_per_cycle is None or not nodes:
        work_iso = matrices["work"][:, which]
        return work_iso, work_iso
    signatures = np.unique(which)
    has = {d: np.any(matrices[d][:, signatures] > 0, axis=1) for d in ("read", "write")}
    share = {
        d: np.stack(
            [np.broadcast_to(np.asarray(share_bytes_per_cycle[(k, d)], dtype=float), (rows,)) for k in table.kernels]
        )
        if has[d].any()
        else np.ones((len(table.kernels), rows))
        for d in ("read", "write")
    }
    work, work_iso = np.empty((nodes, rows)), np.empty((nodes, rows))
    kernels_jit.segment_work(
        matrices["work"], matrices["fixed"], matrices["read"], matrices["write"], has["read"], has["write"],
        _codes(table)[2], np.ascontiguousarray(which, dtype=np.int64), share["read"], share["write"], work, work_iso,
    )  # fmt: skip
    return work, work_iso
