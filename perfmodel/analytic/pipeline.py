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

A CB pushed or popped several times per unit (a per-tile writer, sub-block waits) releases each call at the
push or pop that completes the pages it needs (`_release`).

For deterministic stage times this recursion *is* the timed event graph of the pipeline, so it gives fill,
steady state and drain exactly. It is evaluated for K units; beyond K the recursion is periodic (the
max-plus eigenvalue, the critical circuit's cycle mean, repeats with a cyclicity dividing the tokens of the
critical circuit), so T(n) = T(m) + (n - m) / c * (T(K) - T(K - c)) with c the lcm of the buffer depths,
K = max(24, 3c + 8) per row and m = n mod c counted back from K.

Every configuration (row) has its own stage times and capacities; rows of different node *structure* (an op
whose CB calls per unit depend on the shape or the factory) are evaluated group by group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


def structure(sig: StageSignature) -> tuple:
    """What rows must share to be evaluated together: kernels and their CB calls, without sizes or times."""
    return tuple(
        (k.name, tuple((n.call, n.cb) for n in k.prologue), tuple((n.call, n.cb) for n in k.body)) for k in sig.kernels
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


def _sig_table(sigs: Sequence[StageSignature]) -> _SigTable:
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
    return _SigTable(
        kernels=kernels,
        body=body,
        pro=pro,
        work=[per_sig([fb[i].work_cycles for fb in flat_body]) for i in range(len(body))],
        pages=[per_sig([fb[i].pages for fb in flat_body]) for i in range(len(body))],
        fixed=[per_sig([fb[i].dram_fixed_cycles for fb in flat_body]) for i in range(len(body))],
        nbytes=[
            {d: per_sig([getattr(fb[i], f"{d}_bytes") for fb in flat_body]) for d in ("read", "write")}
            for i in range(len(body))
        ],
        pro_work=[per_sig([fp[i].work_cycles for fp in flat_pro]) for i in range(len(pro))],
        pro_pages=[per_sig([fp[i].pages for fp in flat_pro]) for i in range(len(pro))],
        tail={name: per_sig([k[name].body_tail_cycles for k in by_name]) for name in kernels},
        epilogue={name: per_sig([k[name].epilogue_cycles for k in by_name]) for name in kernels},
        pro_tail={name: per_sig([k[name].prologue_tail_cycles for k in by_name]) for name in kernels},
        setup=per_sig([s.setup_cycles for s in sigs]),
    )


_CHUNK_ROWS = 32_768  # rows per pass: bounds the history arrays to a few tens of MB


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
) -> PipelineTimes:
    """Times of a core running `units[r]` units of signature `sigs[which[r]]` with CB capacities in pages.

    `capacities` maps a cross-kernel CB index to an array of pages per row; `share_bytes_per_cycle` maps
    (kernel, direction) to the bandwidth per row this core gets when the active cores stream in step.
    Shares apply to the first `lockstep_units`
    units (all when None); `rate_cycles[kernel]` is the least time between the starts of two consecutive
    units of that kernel (a shared-bandwidth bound on the steady state).
    """
    units = np.asarray(units, dtype=np.int64)
    rows = units.shape[0]
    shapes = [structure(sig) for sig in sigs]
    if len(set(shapes)) > 1:
        return _by_structure(
            sigs,
            shapes,
            np.asarray(which, dtype=np.int64),
            units,
            capacities,
            share_bytes_per_cycle=share_bytes_per_cycle,
            rate_cycles=rate_cycles,
            lockstep_units=lockstep_units,
            max_explicit_units=max_explicit_units,
        )
    table = _sig_table(sigs)
    if rows <= _CHUNK_ROWS:
        return _pipeline_times(
            table,
            which,
            units,
            capacities,
            share_bytes_per_cycle,
            rate_cycles,
            lockstep_units,
            max_explicit_units,
        )
    parts = []
    workspace: dict[tuple[int, tuple[int, int]], np.ndarray] = {}  # history arrays, reused chunk to chunk
    for lo in range(0, rows, _CHUNK_ROWS):
        sl = slice(lo, lo + _CHUNK_ROWS)
        parts.append(
            _pipeline_times(
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
            )
        )
    return PipelineTimes(
        np.concatenate([p.total_cycles for p in parts]),
        np.concatenate([p.period_cycles for p in parts]),
        {k: np.concatenate([p.kernel_end_cycles[k] for p in parts]) for k in parts[0].kernel_end_cycles},
        np.concatenate([p.deadlock for p in parts]),
    )


def _release(cb: int, nodes: list[int], pages: list[np.ndarray], x: np.ndarray) -> tuple[int, np.ndarray]:
    """The push (or pop) that releases a call needing `x` pages beyond the start of its own unit, and how many
    units back it is: with U pages per unit over the pushes P_1..P_m of a unit (cumulative), the call of
    unit k waits for push j of unit k + q, q = ceil(x / U) - 1, j the first with P_j >= x - q U; the shift
    is -q = 1 - ceil(x / U). One push per unit is the usual case (j = that push)."""
    cumulative = np.cumsum(np.stack([pages[j] for j in nodes]), axis=0)
    per_unit = cumulative[-1]
    q = np.ceil(x / per_unit) - 1
    rest = x - q * per_unit
    first = np.argmax(cumulative >= rest[None, :] - 1e-9, axis=0)
    if first.size and np.any(first != first[0]):
        raise NotImplementedError(f"c_{cb}: rows of one structure released by different CB calls")
    index = int(first[0]) if first.size else len(nodes) - 1
    return nodes[index], (-q).astype(np.int64)


def _by_structure(
    sigs: Sequence[StageSignature],
    shapes: list[tuple],
    which: np.ndarray,
    units: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    **kwargs: Any,
) -> PipelineTimes:
    """Rows whose signatures differ in structure (an op whose CB calls per unit depend on the shape or the
    factory, like a per-tile writer) are evaluated group by group and put back in row order."""
    rows = units.shape[0]
    total, period, deadlock = np.zeros(rows), np.zeros(rows), np.zeros(rows, dtype=bool)
    ends: dict[str, np.ndarray] = {}
    for shape in dict.fromkeys(shapes):
        members = [i for i, s in enumerate(shapes) if s == shape]
        remap = np.full(len(sigs), -1, dtype=np.int64)
        remap[members] = np.arange(len(members))
        rows_g = np.flatnonzero(np.isin(which, members))
        if not rows_g.size:
            continue
        part = pipeline_times(
            [sigs[i] for i in members],
            remap[which[rows_g]],
            units[rows_g],
            {cb: np.broadcast_to(np.asarray(v), (rows,))[rows_g] for cb, v in capacities.items()},
            share_bytes_per_cycle=None
            if kwargs["share_bytes_per_cycle"] is None
            else {
                k: np.broadcast_to(np.asarray(v), (rows,))[rows_g] for k, v in kwargs["share_bytes_per_cycle"].items()
            },
            rate_cycles=None
            if kwargs["rate_cycles"] is None
            else {k: np.asarray(v)[rows_g] for k, v in kwargs["rate_cycles"].items()},
            lockstep_units=kwargs["lockstep_units"],
            max_explicit_units=kwargs["max_explicit_units"],
        )
        total[rows_g], period[rows_g], deadlock[rows_g] = part.total_cycles, part.period_cycles, part.deadlock
        for name, v in part.kernel_end_cycles.items():
            ends.setdefault(name, np.zeros(rows))[rows_g] = v
    return PipelineTimes(total, period, ends, deadlock)


def _history(
    workspace: dict[tuple[int, tuple[int, int]], np.ndarray] | None, i: int, shape: tuple[int, int]
) -> np.ndarray:
    """An uninitialised (units + 1, rows) history array, from `workspace` when it has one.

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


def _pipeline_times(
    table: _SigTable,
    which: np.ndarray,
    units: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    share_bytes_per_cycle: Mapping[tuple[str, str], np.ndarray] | None,
    rate_cycles: Mapping[str, np.ndarray] | None,
    lockstep_units: int | None,
    max_explicit_units: int,
    workspace: dict[tuple[int, tuple[int, int]], np.ndarray] | None = None,
) -> PipelineTimes:
    which = np.asarray(which, dtype=np.int64)
    units = np.asarray(units, dtype=np.int64)
    rows = units.shape[0]
    kernels, body, pro = table.kernels, table.body, table.pro
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
    for i, (kernel, call, cb) in enumerate(body):
        before = [j for j in range(i) if body[j][0] == kernel and body[j][2] == cb]
        pushes = [j for j, b in enumerate(body) if b[2] == cb and b[1] == "push"]
        pops = [j for j, b in enumerate(body) if b[2] == cb and b[1] == "pop"]
        pro_push = [j for j, p in enumerate(pro) if p[2] == cb and p[1] == "push"]
        pro_total = sum((pro_pages[j] for j in pro_push), np.zeros(rows))
        dep: tuple[int, np.ndarray] | None = None
        pro_dep: int | None = None
        if call == "wait":
            popped = sum((pages[j] for j in before if body[j][1] == "pop"), np.zeros(rows))
            need = popped + pages[i]
            if pushes:
                dep = _release(cb, pushes, pages, np.maximum(need - pro_total, 0))
            if pro_push:
                pro_dep = pro_push[-1]
        elif call == "reserve" and pops:
            pushed = sum((pages[j] for j in before if body[j][1] == "push"), np.zeros(rows))
            cap = caps[cb]
            j, shift = _release(cb, pops, pages, pro_total + pushed + pages[i] - cap)
            deadlock |= (pages[i] > cap) | (shift <= 0)
            dep = (j, np.maximum(shift, 1))
        deps.append(dep)
        pro_deps.append(pro_dep)

    # Evaluation order inside a unit: program order plus same-unit (shift 0) dependencies.
    preds = {i: set() for i in range(len(body))}
    for i in range(len(body)):
        if i > 0 and body[i - 1][0] == body[i][0]:
            preds[i].add(i - 1)
        if deps[i] is not None and np.any(deps[i][1] == 0):
            preds[i].add(deps[i][0])
    order: list[int] = []
    while len(order) < len(body):
        ready = [i for i in range(len(body)) if i not in order and preds[i] <= set(order)]
        if not ready:
            raise ValueError("the kernels' same-unit CB dependencies form a cycle: the program deadlocks")
        order.append(ready[0])

    cyc = np.ones(rows, dtype=np.int64)
    for dep in deps:
        if dep is not None:
            cyc = np.lcm(cyc, np.maximum(dep[1], 1))
    # Always run past the transient, even for short runs, so that the steady-state period is known.
    k_max = max(max_explicit_units, 3 * int(cyc.max(initial=1)) + 8)

    # Prologue node times (a prologue never blocks here) and each kernel's time before its first unit.
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

    own = {name: [i for i, b in enumerate(body) if b[0] == name] for name in kernels}
    # History (every unit) only for nodes another node depends on and each kernel's last node; the rest
    # needs just the current unit. Keeps memory at a few (k_max x rows) arrays.
    keep = {dep[0] for dep in deps if dep is not None} | {own[name][-1] for name in kernels if own[name]}
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
    work_p = [sort(w) for w in work]
    work_iso_p = [sort(w) for w in work_iso]
    rate_p = None if rate_cycles is None else {name: sort(v) for name, v in rate_cycles.items()}
    deps_p = [None if dep is None else (dep[0], sort(dep[1])) for dep in deps]
    pro_p = {j: sort(v) for j, v in pro_time_by_index.items()}
    hist = {i: _history(workspace, i, (k_max + 1, rows)) for i in keep}
    cur: dict[int, np.ndarray] = {}
    idx = np.arange(rows)
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
                j, shift = deps_p[i]
                src = k - shift[:n]
                got = hist[j][np.clip(src, 0, k_max), idx[:n]]
                t = np.maximum(t, np.where((src >= 1) & (src <= k), got, _NEG))
            if pro_deps[i] is not None:
                t = np.maximum(t, pro_p[pro_deps[i]][:n])
            cur[i] = t
            if i in keep:
                hist[i][k, :n] = t

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
        if own[name]:
            curve = hist[own[name][-1]][1:] + tail_p[name]  # (k_max, rows): end after k units
        else:
            curve = start_p[name] + np.arange(1, k_max + 1)[:, None] * tail_p[name]
        slope = (curve[k_row - 1, idx] - curve[k_row - 1 - c, idx]) / c
        value = curve[explicit - 1, idx]
        base = curve[np.clip(m, 1, k_row) - 1, idx]
        value = np.where(beyond, base + (units_p - m) * slope, value)
        ends[name] = (np.where(units_p == 0, setup_p, value) + sort(epilogue[name]))[back]
        period = np.maximum(period, slope)
    period = period[back]
    total = np.max(np.stack(list(ends.values())), axis=0)
    return PipelineTimes(total, period, ends, deadlock)
