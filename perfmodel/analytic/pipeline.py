"""The reader -> compute -> writer pipeline of one core as a max-plus recursion, vectorised over configurations.

Each kernel is a sequence of synchronisation nodes per unit (see `signature`). The time of node i of unit
k is

    t_i(k) = max( t_{i-1}(k) + work_i ,  dependency )

where the previous node of the first node of a unit is the last node of the unit before (plus the work
after it), and the dependency is the CB call of another kernel that releases the call:

- `cb_wait_front(cb, n)` waits for the producer's `cb_push_back` that makes n pages visible (same unit,
  or the prologue's push for a CB filled once, like the scaler);
- `cb_reserve_back(cb, n)` waits for the consumer's `cb_pop_front` of unit k - d, with
  d = 1 - ceil((pages pushed before in the unit + n - capacity) / pages per unit): with buffering 1 the
  reader cannot refill c_0 before tilize pops it (d = 1), with 2 it runs one unit ahead (d = 2).

A CB may be pushed or popped several times per unit (a reader pushing a block that compute pops tile by
tile): the releasing call is then the first push (pop) of unit k - d whose cumulative pages in its unit
reach what the waiting call needs (`_release`); with one push and one pop per unit this is the rule above.

For deterministic stage times this recursion *is* the timed event graph of the pipeline, so it gives fill,
steady state and drain exactly. It is evaluated for K units; beyond K the recursion is periodic (the
max-plus eigenvalue, the critical circuit's cycle mean, repeats with a cyclicity dividing the tokens of the
critical circuit), so T(n) = T(m) + (n - m) / c * (T(K) - T(K - c)) with c the lcm of the buffer depths,
K = max(24, 3c + 8) per row and m = n mod c counted back from K.

Every configuration (row) has its own stage times and capacities; rows that share the node *structure*
(the same kernels and CB calls, as all shapes of one op do) are evaluated together, and a table mixing
structures (one op at several block sizes) is evaluated one structure at a time (`_by_structure`).

A row's times depend on its own inputs only, so rows with equal inputs are evaluated once, and a table is
evaluated in passes of rows (`_CHUNK_CELLS` node x row cells). This module's evaluation (`_pipeline_times`)
is the plain one: a few numpy calls per node for the dependencies and per node and unit for the recursion.
It is the reference (`reference=True`); the default runs `pipeline_fast`, the same operations compiled with
numba (`pipeline_kernels`), and tests hold the two equal bit for bit.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from perfmodel.analytic.signature import StageSignature

_NEG = -np.inf


@dataclass(frozen=True)
class PipelineTimes:
    """Per configuration (arrays of one length): the slowest kernel's end and the steady-state period."""

    total_cycles: np.ndarray  # setup + fill + steady state + drain of the given number of units
    period_cycles: np.ndarray  # cycles per unit in steady state (critical circuit's cycle mean)
    kernel_end_cycles: Mapping[str, np.ndarray]
    deadlock: np.ndarray  # a reservation that can never be satisfied (capacity below one request)


# id(signature) -> (signature, its structure): a wide row's structure has thousands of nodes, and a table's
# signatures are grouped by it several times per call. The signature is kept so its id is not reused.
_STRUCTURES: dict[int, tuple[StageSignature, tuple]] = {}


def structure(sig: StageSignature) -> tuple:
    """What rows must share to be evaluated together: kernels and their CB calls, without sizes or times, and
    the pseudo-CB capacities (they decide which release of SRC or DST a compute thread waits for)."""
    hit = _STRUCTURES.get(id(sig))
    if hit is not None and hit[0] is sig:
        return hit[1]
    value = _structure(sig)
    if len(_STRUCTURES) > 16384:
        _STRUCTURES.clear()
    _STRUCTURES[id(sig)] = (sig, value)
    return value


def _structure(sig: StageSignature) -> tuple:
    return (
        tuple(
            (k.name, tuple((n.call, n.cb) for n in k.prologue), tuple((n.call, n.cb) for n in k.body))
            for k in sig.kernels
        ),
        sig.pseudo_cb_pages,
    )


@dataclass(frozen=True)
class _SigTable:
    """Per-signature figures as arrays over the signatures: gathered once, indexed per chunk of rows."""

    kernels: list[str]
    body: list[tuple[str, str, int]]  # (kernel, call, cb) per body node
    pro: list[tuple[str, str, int]]  # (kernel, call, cb) per prologue node
    work: list[np.ndarray]  # per body node
    pages: list[np.ndarray]
    fixed: list[np.ndarray]
    nbytes: list[dict[str, np.ndarray]]  # per body node, per direction
    pro_work: list[np.ndarray]
    pro_pages: list[np.ndarray]
    tail: dict[str, np.ndarray]
    epilogue: dict[str, np.ndarray]
    pro_tail: dict[str, np.ndarray]
    setup: np.ndarray
    # The per-node figures as (node, signature) matrices: "work", "pages", "fixed", "read", "write".
    matrices: dict[str, np.ndarray]


# tuple of id(signature) -> (the signatures, their table): a table of many rows gathers the same few again.
_SIG_TABLES: dict[tuple[int, ...], tuple[tuple[StageSignature, ...], _SigTable]] = {}


def _sig_table(sigs: Sequence[StageSignature]) -> _SigTable:
    key = tuple(map(id, sigs))
    hit = _SIG_TABLES.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], sigs, strict=True)):
        return hit[1]
    value = _gather_sig_table(sigs)
    if len(_SIG_TABLES) > 4096:
        _SIG_TABLES.clear()
    _SIG_TABLES[key] = (tuple(sigs), value)
    return value


def _gather_sig_table(sigs: Sequence[StageSignature]) -> _SigTable:
    shape0 = structure(sigs[0])
    if any(structure(s) != shape0 for s in sigs[1:]):
        raise ValueError("signatures of different kernel structure cannot be evaluated together")
    ref = sigs[0]

    def per_sig(values: Sequence[float]) -> np.ndarray:
        return np.asarray(values, dtype=float)

    kernels = [k.name for k in ref.kernels]
    body = [(k.name, n.call, n.cb) for k in ref.kernels for n in k.body]
    pro = [(k.name, n.call, n.cb) for k in ref.kernels for n in k.prologue]
    flat_body = [[n for k in s.kernels for n in k.body] for s in sigs]
    flat_pro = [[n for k in s.kernels for n in k.prologue] for s in sigs]
    by_name = [{k.name: k for k in s.kernels} for s in sigs]
    # Per body node, per signature: work, pages, fixed DRAM cycles, read and write bytes (one array, then rows).
    figures = np.array(
        [[(n.work_cycles, n.pages, n.dram_fixed_cycles, n.read_bytes, n.write_bytes) for n in fb] for fb in flat_body],
        dtype=float,
    ).reshape(len(sigs), len(body), 5)
    by_node = np.ascontiguousarray(figures.transpose(2, 1, 0))  # (figure, node, signature)
    work, pages, fixed, read, write = (list(m) for m in by_node)
    return _SigTable(
        matrices=dict(zip(("work", "pages", "fixed", "read", "write"), by_node, strict=True)),
        kernels=kernels,
        body=body,
        pro=pro,
        work=work,
        pages=pages,
        fixed=fixed,
        nbytes=[{"read": r, "write": w} for r, w in zip(read, write, strict=True)],
        pro_work=[per_sig([fp[i].work_cycles for fp in flat_pro]) for i in range(len(pro))],
        pro_pages=[per_sig([fp[i].pages for fp in flat_pro]) for i in range(len(pro))],
        tail={name: per_sig([k[name].body_tail_cycles for k in by_name]) for name in kernels},
        epilogue={name: per_sig([k[name].epilogue_cycles for k in by_name]) for name in kernels},
        pro_tail={name: per_sig([k[name].prologue_tail_cycles for k in by_name]) for name in kernels},
        setup=per_sig([s.setup_cycles for s in sigs]),
    )


_CHUNK_ROWS = 32_768  # rows per pass at most
# Node x row cells per pass: a pass holds a few (nodes, rows) arrays (work, pages, dependencies), so a wide
# row's thousands of nodes take fewer rows at a time (about 16 MB per array).
_CHUNK_CELLS = 2**21


def pipeline_times(
    sigs: Sequence[StageSignature],
    which: np.ndarray,
    units: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    *,
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None = None,
    rate_cycles: Mapping[str, np.ndarray] | None = None,
    lockstep_units: int | None = None,
    max_explicit_units: int = 24,
    reference: bool = False,
) -> PipelineTimes:
    """Times of a core running `units[r]` units of signature `sigs[which[r]]` with CB capacities in pages.

    `capacities` maps a cross-kernel CB index to an array of pages per row; `share_bytes_per_cycle` maps
    (kernel, direction) to the bandwidth per row this core gets when the active cores stream in step.
    Shares apply to the first `lockstep_units`
    units (all when None); `rate_cycles[kernel]` is the least time between the starts of two consecutive
    units of that kernel (a shared-bandwidth bound on the steady state).

    Rows with equal inputs are evaluated once (`_distinct_rows`) by the compiled evaluation
    (`pipeline_fast`); `reference=True` evaluates every row the plain way (the tests compare both, bit for
    bit).
    """
    units = np.asarray(units, dtype=np.int64)
    rows = units.shape[0]
    if len({structure(s) for s in sigs}) > 1:
        return _by_structure(
            sigs,
            which,
            units,
            capacities,
            share_bytes_per_cycle=share_bytes_per_cycle,
            rate_cycles=rate_cycles,
            lockstep_units=lockstep_units,
            max_explicit_units=max_explicit_units,
            reference=reference,
        )
    inverse = None
    if not reference:
        # Rows with equal inputs have equal times (a row's result never depends on the rest of the batch).
        distinct = _distinct_rows(which, units, capacities, share_bytes_per_cycle, rate_cycles)
        if distinct is not None:
            first, inverse = distinct
            which = np.broadcast_to(np.asarray(which), (rows,))[first]
            units = units[first]
            capacities = _rows_at(capacities, first, rows)
            share_bytes_per_cycle = _rows_at(share_bytes_per_cycle, first, rows)
            rate_cycles = _rows_at(rate_cycles, first, rows)
            rows = len(first)
    times = _evaluate_rows(
        sigs,
        which,
        units,
        capacities,
        share_bytes_per_cycle,
        rate_cycles,
        lockstep_units,
        max_explicit_units,
        reference,
    )
    if inverse is None:
        return times
    return PipelineTimes(
        times.total_cycles[inverse],
        times.period_cycles[inverse],
        {k: v[inverse] for k, v in times.kernel_end_cycles.items()},
        times.deadlock[inverse],
    )


def _distinct_rows(
    which: np.ndarray,
    units: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None,
    rate_cycles: Mapping[str, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(first row of each distinct input, distinct input of each row), or None when every row is distinct.

    Inputs are compared by their bits (all are int64 or float64): equal bits, equal times."""
    rows = units.shape[0]
    if rows < 2:
        return None
    columns = [np.broadcast_to(np.asarray(which, dtype=np.int64), (rows,)), units]
    for group in (capacities, share_bytes_per_cycle or {}, rate_cycles or {}):
        for key in sorted(group, key=repr):
            columns.append(np.broadcast_to(np.asarray(group[key], dtype=np.float64), (rows,)))
    stacked = np.empty((rows, len(columns)), dtype=np.uint64)
    for c, col in enumerate(columns):
        stacked[:, c] = col.view(np.uint64)
    keys = stacked.view(np.dtype((np.void, 8 * len(columns)))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if len(first) == rows:
        return None
    return first, inverse.reshape(-1)


def _rows_at(values: Mapping | None, first: np.ndarray, rows: int) -> dict | None:
    """Per-row arrays (or scalars, broadcast) of `values` at rows `first`."""
    if values is None:
        return None
    return {k: np.broadcast_to(np.asarray(v), (rows,))[first] for k, v in values.items()}


def _evaluate_rows(
    sigs: Sequence[StageSignature],
    which: np.ndarray,
    units: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None,
    rate_cycles: Mapping[str, np.ndarray] | None,
    lockstep_units: int | None,
    max_explicit_units: int,
    reference: bool,
) -> PipelineTimes:
    """`pipeline_times` for signatures of one structure, in chunks of rows."""
    rows = units.shape[0]
    table = _sig_table(sigs)
    chunk = max(256, min(_CHUNK_ROWS, _CHUNK_CELLS // max(len(table.body), 1)))
    if rows <= chunk:
        return _times_of(
            table,
            which,
            units,
            capacities,
            share_bytes_per_cycle,
            rate_cycles,
            lockstep_units,
            max_explicit_units,
            None,
            reference,
        )
    parts = []
    workspace: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}  # history arrays, reused chunk to chunk
    for lo in range(0, rows, chunk):
        sl = slice(lo, lo + chunk)
        parts.append(
            _times_of(
                table,
                np.asarray(which)[sl],
                units[sl],
                {cb: np.broadcast_to(np.asarray(v), (rows,))[sl] for cb, v in capacities.items()},
                None
                if share_bytes_per_cycle is None
                else {k: np.broadcast_to(np.asarray(v), (rows,))[sl] for k, v in share_bytes_per_cycle.items()},
                None if rate_cycles is None else {k: np.asarray(v)[sl] for k, v in rate_cycles.items()},
                lockstep_units,
                max_explicit_units,
                workspace,
                reference,
            )
        )
    return PipelineTimes(
        np.concatenate([p.total_cycles for p in parts]),
        np.concatenate([p.period_cycles for p in parts]),
        {k: np.concatenate([p.kernel_end_cycles[k] for p in parts]) for k in parts[0].kernel_end_cycles},
        np.concatenate([p.deadlock for p in parts]),
    )


def _history(
    workspace: dict[tuple[int, tuple[int, ...]], np.ndarray] | None, i: int, shape: tuple[int, ...]
) -> np.ndarray:
    """An uninitialised (units + 1, rows) history array (or (nodes, units + 1, rows) planes), from `workspace`
    when it has one.

    No fill is needed: the recursion writes unit k of every row still running before anything reads it,
    and reads of a later unit (a dependency not yet due) are masked. Not filling tens of MB saves as much
    time as the fill would take (and, in a fresh process, the page faults of never-used cells).
    """
    if workspace is None:
        return np.empty(shape)
    buf = workspace.get((i, shape))
    if buf is None:
        buf = workspace[(i, shape)] = np.empty(shape)
    return buf


def _by_structure(
    sigs: Sequence[StageSignature],
    which: np.ndarray,
    units: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    *,
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None,
    rate_cycles: Mapping[str, np.ndarray] | None,
    lockstep_units: int | None,
    max_explicit_units: int,
    reference: bool,
) -> PipelineTimes:
    """`pipeline_times` for signatures of several node structures (e.g. one op with different block sizes):
    each structure's rows are evaluated together and the results put back in row order."""
    which = np.asarray(which, dtype=np.int64)
    rows = units.shape[0]
    groups: dict[tuple, list[int]] = {}
    for index, sig in enumerate(sigs):
        groups.setdefault(structure(sig), []).append(index)

    def rows_of(values: np.ndarray | float, mask: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(values, dtype=float), (rows,))[mask]

    total = np.zeros(rows)
    period = np.zeros(rows)
    deadlock = np.zeros(rows, dtype=bool)
    ends: dict[str, np.ndarray] = {}
    for members in groups.values():
        mask = np.isin(which, members)
        if not mask.any():
            continue
        local = np.full(len(sigs), -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        part = pipeline_times(
            [sigs[m] for m in members],
            local[which[mask]],
            units[mask],
            {cb: rows_of(v, mask) for cb, v in capacities.items()},
            share_bytes_per_cycle=(
                None
                if share_bytes_per_cycle is None
                else {k: rows_of(v, mask) for k, v in share_bytes_per_cycle.items()}
            ),
            rate_cycles=None if rate_cycles is None else {k: rows_of(v, mask) for k, v in rate_cycles.items()},
            lockstep_units=lockstep_units,
            max_explicit_units=max_explicit_units,
            reference=reference,
        )
        total[mask] = part.total_cycles
        period[mask] = part.period_cycles
        deadlock[mask] = part.deadlock
        for name, values in part.kernel_end_cycles.items():
            ends.setdefault(name, np.zeros(rows))[mask] = values
    return PipelineTimes(total, period, ends, deadlock)


def _segment_work_reference(
    table: _SigTable,
    which: np.ndarray,
    rows: int,
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per body node, per row: (work with shared bandwidth, pages, work on an idle core), node by node."""
    body = table.body
    work = [w[which] for w in table.work]
    pages = [p[which] for p in table.pages]
    work_iso = list(work)
    if share_bytes_per_cycle is not None:
        # Cores running in step share the DRAM and the NoC links: a segment's transfers take at least their
        # bytes at this core's share of the bandwidth, plus what does not overlap (first issue, last latency).
        for i in range(len(body)):
            kernel = body[i][0]
            fixed = table.fixed[i][which]
            shared = fixed.copy()
            moved = np.zeros(rows)
            for direction in ("read", "write"):
                nbytes = table.nbytes[i][direction][which]
                if np.any(nbytes > 0):
                    shared = shared + nbytes / share_bytes_per_cycle[(kernel, direction)]
                    moved = moved + nbytes
            work[i] = np.where(moved > 0, np.maximum(work_iso[i], shared), work_iso[i])
    return work, pages, work_iso


def _release(
    cb: int, nodes: list[int], cumulative: np.ndarray, need: np.ndarray, uniform: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(node, unit shift d) per row of the push (pop) that releases a call needing `need` pages beyond k units'
    worth.

    With U pages pushed (popped) per unit and c_j the cumulative pages at the j-th of `nodes` in its unit
    (`cumulative`, nodes x rows), unit k - d with d = 1 - ceil(need / U) is the latest unit that can release
    it, at its first node with c_j >= need + d x U. The node may differ between rows (a CB pushed or popped
    several times per unit, as the two-pass design's block CBs are, is released by another of its pops at
    another buffering); `uniform`: every row has the same cumulative pages (then a binary search finds it).
    """
    per_unit = cumulative[-1]
    shift = (1 - np.ceil(need / per_unit)).astype(np.int64)
    if len(nodes) == 1:
        return np.full(shift.shape, nodes[0], dtype=np.int64), shift
    target = need + shift * per_unit
    if uniform:
        first = np.searchsorted(cumulative[:, 0], target, side="left")
    else:
        first = np.argmax(cumulative >= target, axis=0)
    return np.asarray(nodes, dtype=np.int64)[first], shift


def _times_of(
    table: _SigTable,
    which: np.ndarray,
    units: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None,
    rate_cycles: Mapping[str, np.ndarray] | None,
    lockstep_units: int | None,
    max_explicit_units: int,
    workspace: dict[tuple[int, tuple[int, ...]], np.ndarray] | None,
    reference: bool,
) -> PipelineTimes:
    """The times of rows of one structure: the plain evaluation, or the compiled one (`pipeline_fast`)."""
    args = (table, which, units, capacities, share_bytes_per_cycle, rate_cycles, lockstep_units, max_explicit_units)
    if reference:
        return _pipeline_times(*args, workspace)
    from perfmodel.analytic import pipeline_fast

    return pipeline_fast.pipeline_times(*args, workspace)


def _pipeline_times(
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
    """The plain evaluation: every dependency node by node, every row gathered (the reference)."""
    which = np.asarray(which, dtype=np.int64)
    units = np.asarray(units, dtype=np.int64)
    rows = units.shape[0]
    kernels, body, pro = table.kernels, table.body, table.pro
    work, pages, work_iso = _segment_work_reference(table, which, rows, share_bytes_per_cycle)
    pro_work = [w[which] for w in table.pro_work]
    pro_pages = [p[which] for p in table.pro_pages]
    tail = {name: v[which] for name, v in table.tail.items()}
    epilogue = {name: v[which] for name, v in table.epilogue.items()}
    setup = table.setup[which]
    pro_tail = {name: v[which] for name, v in table.pro_tail.items()}
    caps = {cb: np.broadcast_to(np.asarray(v, dtype=float), (rows,)) for cb, v in capacities.items()}

    # Dependencies: per body node, (body node it waits for, unit shift array) and/or a prologue node.
    deps: list[tuple[int, np.ndarray] | None] = []
    pro_deps: list[int | None] = []
    deadlock = np.zeros(rows, dtype=bool)
    # Per CB: its push and pop nodes with their cumulative pages in a unit, and the prologue's pushes.
    # Running totals per (kernel, CB) give the pages a kernel pushed or popped before a node of its unit.
    zeros = np.zeros(rows)
    pushes_of: dict[int, list[int]] = {}
    pops_of: dict[int, list[int]] = {}
    for j, (_, c, cb_j) in enumerate(body):
        if c == "push":
            pushes_of.setdefault(cb_j, []).append(j)
        elif c == "pop":
            pops_of.setdefault(cb_j, []).append(j)
    cumulative: dict[tuple[int, str], tuple[np.ndarray, bool]] = {}
    for kind, of in (("push", pushes_of), ("pop", pops_of)):
        for cb_j, nodes in of.items():
            cum = np.cumsum(np.stack([np.broadcast_to(pages[j], (rows,)) for j in nodes]), axis=0)
            cumulative[(cb_j, kind)] = (cum, bool(np.all(cum == cum[:, :1])))
    pro_push_of: dict[int, list[int]] = {}
    for j, p in enumerate(pro):
        if p[1] == "push":
            pro_push_of.setdefault(p[2], []).append(j)
    running: dict[tuple[str, int, str], np.ndarray] = {}
    for i, (kernel, call, cb) in enumerate(body):
        pushes = pushes_of.get(cb, [])
        pops = pops_of.get(cb, [])
        pro_push = pro_push_of.get(cb, [])
        pro_total = sum((pro_pages[j] for j in pro_push), zeros)
        dep: tuple[int, np.ndarray] | None = None
        pro_dep: int | None = None
        if call == "wait":
            need = running.get((kernel, cb, "pop"), zeros) + pages[i]
            if pushes:
                cum, uniform = cumulative[(cb, "push")]
                dep = _release(cb, pushes, cum, np.maximum(need - pro_total, 0), uniform)
            if pro_push:
                pro_dep = pro_push[-1]
        elif call == "reserve" and pops:
            cap = caps[cb]
            cum, uniform = cumulative[(cb, "pop")]
            need = pro_total + running.get((kernel, cb, "push"), zeros) + pages[i] - cap
            node, shift = _release(cb, pops, cum, need, uniform)
            # A reservation may need a pop of its own unit (a CB that turns over several times per unit, as
            # the compute threads' pseudo-CBs and the two-pass design's block CBs do); one that needs a pop of
            # a later unit can never be satisfied. A same-unit need that closes a cycle is a hang (below).
            deadlock |= (pages[i] > cap) | (shift < 0)
            # A reserve that waits for the pop of a unit before the first never waits: a depth beyond the
            # row's units (and beyond the explicit horizon) is cut there. The time is the same, and the
            # horizon (3 x depth + 8 units) stays bounded for a CB far larger than the run needs.
            never = np.maximum(units + 1, max_explicit_units)
            dep = (node, np.minimum(np.maximum(shift, 0), never))
        if call in ("push", "pop"):
            key = (kernel, cb, call)
            running[key] = running.get(key, zeros) + pages[i]
        deps.append(dep)
        pro_deps.append(pro_dep)

    order = evaluation_order(body, deps, deadlock)

    cyc = np.ones(rows, dtype=np.int64)
    for dep in deps:
        if dep is not None:
            cyc = np.lcm(cyc, np.maximum(dep[1], 1))
    # Always run past the transient, even for short runs, so that the steady-state period is known.
    k_max = max(max_explicit_units, 3 * int(cyc.max(initial=1)) + 8)

    start_of, pro_time_by_index = prologue_times(kernels, pro, setup, pro_work, pro_tail)

    own = {name: [i for i, b in enumerate(body) if b[0] == name] for name in kernels}
    # History (every unit) only for nodes another node depends on and each kernel's last node; the rest
    # needs just the current unit. Keeps memory at a few (k_max x rows) arrays.
    keep = {int(j) for dep in deps if dep is not None for j in _distinct(dep[0])}
    keep |= {own[name][-1] for name in kernels if own[name]}
    keep |= {own[name][0] for name in kernels if own[name]}
    # Each row runs to its own horizon k_row (it extrapolates from there, so its result never depends on
    # the rest of the batch). Rows are taken longest horizon first, so the rows still running at unit k are
    # a prefix: the recursion touches only those (most rows stop at 24 units, a few run to 44).
    k_row = np.maximum(max_explicit_units, 3 * cyc + 8)
    perm = np.argsort(-k_row, kind="stable")
    running = np.searchsorted(-k_row[perm], -np.arange(k_max + 1), side="right")  # rows with k_row >= k

    def sort(values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values, (rows,))[perm]

    start_p = {name: sort(v) for name, v in start_of.items()}
    tail_p = {name: sort(v) for name, v in tail.items()}
    idx = np.arange(rows)
    work_p = [sort(w) for w in work]
    work_iso_p = [sort(w) for w in work_iso]
    deps_p = [None if dep is None else (sort(dep[0]), sort(dep[1]), np.unique(dep[0]).tolist()) for dep in deps]
    rate_p = None if rate_cycles is None else {name: sort(v) for name, v in rate_cycles.items()}
    pro_p = {j: sort(v) for j, v in pro_time_by_index.items()}
    hist = {i: _history(workspace, i, (k_max + 1, rows)) for i in keep}
    _recursion_reference(
        order, body, own, start_p, tail_p, work_p, work_iso_p, rate_p, deps_p, pro_deps, pro_p, hist, keep,
        running, k_max, lockstep_units, idx,
    )  # fmt: skip
    curves = {name: hist[own[name][-1]] for name in kernels if own[name]}
    return extrapolate(kernels, curves, cyc, k_row, perm, units, start_p, tail_p, setup, epilogue, deadlock)


def extrapolate(
    kernels: Sequence[str],
    curves: Mapping[str, np.ndarray],
    cyc: np.ndarray,
    k_row: np.ndarray,
    perm: np.ndarray,
    units: np.ndarray,
    start_p: Mapping[str, np.ndarray],
    tail_p: Mapping[str, np.ndarray],
    setup: np.ndarray,
    epilogue: Mapping[str, np.ndarray],
    deadlock: np.ndarray,
) -> PipelineTimes:
    """The times of `units` units from each kernel's last-node times over its first k_row units (`curves`,
    (units + 1, rows) in horizon order `perm`): explicit up to the horizon, periodic beyond it."""
    rows = units.shape[0]
    idx = np.arange(rows)

    def sort(values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values, (rows,))[perm]

    ends: dict[str, np.ndarray] = {}
    period = np.zeros(rows)
    k_row = k_row[perm]
    c = np.minimum(cyc[perm], k_row - 1)
    units_p = units[perm]
    explicit = np.clip(units_p, 1, k_row)
    beyond = units_p > k_row
    m = k_row - ((k_row - units_p) % c)
    setup_p, back = sort(setup), np.empty(rows, dtype=np.int64)
    back[perm] = idx  # sorted position of each row
    for name in kernels:
        history, start, tail_n = curves.get(name), start_p[name], tail_p[name]
        slope = (
            _end_after(history, start, tail_n, k_row, idx) - _end_after(history, start, tail_n, k_row - c, idx)
        ) / c
        value = _end_after(history, start, tail_n, explicit, idx)
        base = _end_after(history, start, tail_n, np.clip(m, 1, k_row), idx)
        value = np.where(beyond, base + (units_p - m) * slope, value)
        ends[name] = (np.where(units_p == 0, setup_p, value) + sort(epilogue[name]))[back]
        period = np.maximum(period, slope)
    period = period[back]
    total = np.max(np.stack(list(ends.values())), axis=0)
    return PipelineTimes(total, period, ends, deadlock)


def _end_after(
    history: np.ndarray | None, start: np.ndarray, tail: np.ndarray, k: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """A kernel's end after k[row] units (its last node's time in that unit plus its tail), per row; a kernel
    with no CB call in its units (no `history`) runs its tail once per unit. Only units a row ran are read."""
    if history is None:
        return start + k * tail
    return history[k, idx] + tail


def prologue_times(
    kernels: Sequence[str],
    pro: Sequence[tuple[str, str, int]],
    setup: np.ndarray,
    pro_work: Sequence[np.ndarray],
    pro_tail: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
    """(each kernel's time before its first unit, each prologue node's time): a prologue never blocks here."""
    pro_time: list[np.ndarray] = []
    start_of: dict[str, np.ndarray] = {}
    for name in kernels:
        t = setup.copy()
        for j, p in enumerate(pro):
            if p[0] == name:
                t = t + pro_work[j]
                pro_time.append(t)
        start_of[name] = t + pro_tail[name]
    pro_time_by_index = {}
    counter = 0
    for name in kernels:
        for j, p in enumerate(pro):
            if p[0] == name:
                pro_time_by_index[j] = pro_time[counter]
                counter += 1
    return start_of, pro_time_by_index


def evaluation_order(
    body: Sequence[tuple[str, str, int]], deps: Sequence[tuple[np.ndarray, np.ndarray] | None], deadlock: np.ndarray
) -> list[int]:
    """The order of the nodes inside a unit: program order plus same-unit (shift 0) dependencies, the earliest
    ready node first (Kahn's algorithm on a heap). Rows whose same-unit waits close a cycle are marked in
    `deadlock` and those edges dropped."""
    preds: list[set[int]] = [set() for _ in body]
    succs: list[list[int]] = [[] for _ in body]
    for i in range(len(body)):
        if i > 0 and body[i - 1][0] == body[i][0]:
            preds[i].add(i - 1)
        if deps[i] is not None:
            preds[i].update(_same_unit_sources(deps[i]))
    for i, ps in enumerate(preds):
        for j in ps:
            succs[j].append(i)
    order = _unit_order(preds, succs)
    if len(order) < len(body):
        # Same-unit waits that close a cycle: the rows that need them hang. Drop those edges (the rows are
        # marked deadlocked, their times are discarded) and order the rest.
        placed = set(order)
        for i in range(len(body)):
            dep = deps[i]
            if i in placed or dep is None:
                continue
            for j in _same_unit_sources(dep) - placed:
                deadlock |= (dep[0] == j) & (dep[1] == 0)
                preds[i].discard(j)
                succs[j].remove(i)
        order = _unit_order(preds, succs)
        if len(order) < len(body):
            raise ValueError("the kernels' same-unit CB dependencies form a cycle: the program deadlocks")
    return order


def _recursion_reference(
    order, body, own, start_p, tail_p, work_p, work_iso_p, rate_p, deps_p, pro_deps, pro_p, hist, keep,
    running, k_max, lockstep_units, idx,
) -> None:  # fmt: skip
    """The recursion node by node, every dependency gathered per row: fills `hist[i][k]` (the time of node i
    of unit k, rows in horizon order) for every kept node."""
    cur: dict[int, np.ndarray] = {}
    for k in range(1, k_max + 1):
        n = running[k]
        for i in order:
            name = body[i][0]
            if i == own[name][0]:
                prev = start_p[name][:n] if k == 1 else hist[own[name][-1]][k - 1, :n] + tail_p[name][:n]
            else:
                prev = cur[i - 1]
            # The first `lockstep_units` units pay the shared-bandwidth segment times, later ones their own.
            in_step = lockstep_units is None or k <= lockstep_units
            t = prev + (work_p[i][:n] if in_step else work_iso_p[i][:n])
            if rate_p is not None and k > 1 and i == own[name][0] and name in rate_p:
                t = np.maximum(t, hist[i][k - 1, :n] + rate_p[name][:n])
            if deps_p[i] is not None:
                nodes, shift, distinct = deps_p[i]
                src = k - shift[:n]
                at = np.clip(src, 0, k_max)
                got = hist[distinct[0]][at, idx[:n]]
                for j in distinct[1:]:
                    got = np.where(nodes[:n] == j, hist[j][at, idx[:n]], got)
                t = np.maximum(t, np.where((src >= 1) & (src <= k), got, _NEG))
            if pro_deps[i] is not None:
                t = np.maximum(t, pro_p[pro_deps[i]][:n])
            cur[i] = t
            if i in keep:
                hist[i][k, :n] = t


def _sorted_rows(arrays: Sequence[np.ndarray], perm: np.ndarray, rows: int) -> np.ndarray:
    """`arrays` (each per row, or a scalar) stacked into a (len(arrays), rows) matrix, columns in `perm` order."""
    if not arrays:
        return np.empty((0, rows))
    return np.stack([a if np.shape(a) == (rows,) else np.broadcast_to(a, (rows,)) for a in arrays])[:, perm]


def _distinct(values: np.ndarray) -> list[int]:
    """The distinct values of an integer array, ascending (as `np.unique`), with a shortcut for one value."""
    if not values.size:
        return []
    low = values.min()
    if low == values.max():
        return [int(low)]
    return np.unique(values).tolist()


def _unit_order(preds: list[set[int]], succs: list[list[int]]) -> list[int]:
    """Kahn's algorithm over the nodes of one unit, the earliest ready node first; short when there is a cycle."""
    waiting = [len(ps) for ps in preds]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in succs[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    return order


def _same_unit_sources(dep: tuple[np.ndarray, np.ndarray]) -> set[int]:
    """The nodes a dependency waits for in its own unit (shift 0) on some row."""
    nodes, shift = dep
    return {int(j) for j in np.unique(nodes[shift == 0])}
