"""`estimate_many(op, table)`: the analytic model over a table of configurations in one vectorised pass.

The per-unit stage signature is built once per distinct (device, shape key) -- at most a few thousand even
in a table of millions, from one dry run of the kernels per shape key shared by all boards (see
`signature`) -- and the CB table once per distinct (shape key, buffering); everything else (units, the
split into core groups, buffering depths, the pipeline recursion, the shared-DRAM floor) is numpy over all
rows at once. Infeasible rows (L1 overflow, too many CBs, a buffering that deadlocks) are kept and marked;
rows the factory would reject (a cell of the wrong type, bad shape, unknown device, grid larger than the
board, tensors larger than the DRAM) and rows that cannot finish (a buffering that deadlocks) are marked
infeasible with their reason and NaN times; a row that only overflows L1 keeps the time it would take.
Cells are validated per row by the column types the op's model declares (`columns.validate_columns`).

What a group derives from its unit programs (`_Figures`: the signature, the CB tables, the probe's and the
DRAM buffers' figures) is kept in memory and on disk (`cache`), so a fresh process reads it instead of
dry-running the kernels again. `estimate_many(..., reference=True)` takes neither cache nor the compiled
pipeline evaluation: the plain path the fast one is tested against, bit for bit.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.analytic import cache
from perfmodel.analytic.columns import INT64_LIMIT, validate_columns
from perfmodel.analytic.engine import (
    BOUND_NAMES,
    RowDevices,
    evaluate,
    noc_pairs,
    op_model,
    signature,
    slowest_core_units,
    twin,
    unit_programs,
)
from perfmodel.checks.static import cb_count
from perfmodel.device import list_devices, load_device
from perfmodel.errors import InputError, PerfModelError
from perfmodel.kernel_lib import pseudo_cbs

RESULT_COLUMNS = (
    "kernel_duration_ns",
    "cycles",
    "bound",
    "num_cores",
    "units_per_core_max",
    "l1_bytes_per_core",
    "dram_bytes",
    "dram_roofline_ns",
    "feasible",
    "infeasible_reason",
    "period_cycles",
    "pipeline_cycles",
    "dram_floor_cycles",
)


def _op_name(op: Any) -> str:
    return op if isinstance(op, str) else str(op.name)


def estimate_many(op: Any, table: pd.DataFrame | Mapping[str, Any], *, reference: bool = False) -> pd.DataFrame:
    """A copy of `table` with the analytic result columns `RESULT_COLUMNS` appended, row for row.

    `table` is a DataFrame or a dict of columns (anything `pandas.DataFrame` takes as a dict).

    For centralize_w_rm the input columns are N, C, H, W, dtype, device, grid_x, grid_y, row_wise,
    in_buffering, out_buffering (see `ops/centralize_w_rm/model.py`).

    `reference=True` takes the plain path the fast one is checked against (the plain pipeline evaluation, no
    persistent cache); the result is the same, bit for bit.
    """
    # A cold call dry-runs the kernels for every new shape key: hundreds of thousands of short-lived
    # tuples that form no reference cycles. The cyclic collector would rescan them (and the caller's heap)
    # many times over; it is paused for the call and runs as usual afterwards.
    if not isinstance(reference, bool):
        raise InputError(f"reference must be True or False, got {reference!r}")
    paused = gc.isenabled()
    gc.disable()
    try:
        return _estimate_many(op, table, reference)
    finally:
        if paused:
            gc.enable()


def _as_table(table: Any) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, Mapping):
        try:
            return pd.DataFrame(dict(table))
        except (ValueError, TypeError) as exc:
            raise InputError(f"estimate_many: the dict of columns does not make a table ({exc})") from None
    raise InputError(f"estimate_many takes a pandas DataFrame or a dict of columns, got {type(table).__name__}")


def _estimate_many(op: Any, table: pd.DataFrame, reference: bool) -> pd.DataFrame:
    name = _op_name(op)
    model = op_model(name)
    table = _as_table(table)
    # An op may fill in columns a table leaves out (e.g. compute-config knobs at their defaults).
    fill = getattr(model, "column_defaults", None)
    if fill is not None:
        table = fill(table)
    missing = [c for c in model.INPUT_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"table is missing column(s) {', '.join(missing)} (needs {', '.join(model.INPUT_COLUMNS)})")
    rows = len(table)
    out = table.copy()
    if rows == 0:
        for col in RESULT_COLUMNS:
            out[col] = pd.Series(dtype=object)
        return out

    # Cells of the wrong type make a row invalid; the rest of the pass reads the clean copy only.
    reason, table = validate_columns(model, table)
    reason = np.where(reason == "", model.validate_rows(table).astype(object), reason).astype(object)
    units = model.units(table)
    gx = table["grid_x"].to_numpy(np.int64)
    gy = table["grid_y"].to_numpy(np.int64)

    # Devices: a handful of distinct names; each row gets its profile's figures. (A missing device is an
    # invalid row, with the placeholder '': it never takes another row's board.)
    dev_codes, dev_names = pd.factorize(table["device"].astype(str))
    known = set(list_devices())
    devices = []
    for d, dev_name in enumerate(dev_names):
        try:
            device = load_device(dev_name) if (dev_name in known or dev_name.endswith(".toml")) else None
        except PerfModelError:
            device = None
        if device is None:
            reason[(dev_codes == d) & (reason == "")] = f"unknown device {dev_name!r}"
        devices.append(device)
    grid_x_max = np.array([dv.core.grid_x if dv else 0 for dv in devices])[dev_codes]
    grid_y_max = np.array([dv.core.grid_y if dv else 0 for dv in devices])[dev_codes]
    reason[((gx > grid_x_max) | (gy > grid_y_max)) & (reason == "")] = "grid larger than the board's worker grid"
    valid = reason == ""

    # An op whose factory does not split with split_work_to_cores says how it splits (cores, slowest core's units).
    split_counts = getattr(model, "split_counts", None)
    num_cores, slowest = split_counts(table) if split_counts else slowest_core_units(units, gx * gy)

    # Signatures per distinct (device, shape key).
    sig_codes, sig_first = group_codes([*(table[c].to_numpy() for c in model.KEY_COLUMNS), dev_codes])
    by_sig = np.argsort(sig_codes, kind="stable")
    sig_bounds = np.searchsorted(sig_codes[by_sig], np.arange(len(sig_first) + 1))

    def members(s: int) -> np.ndarray:
        return by_sig[sig_bounds[s] : sig_bounds[s + 1]]

    # Shape key of each signature group, read from the key columns once (not per group through pandas).
    key_values = [table[c].to_numpy() for c in model.KEY_COLUMNS]
    keys = [tuple(_scalar(col[first]) for col in key_values) for first in sig_first]
    sigs: list[Any] = []
    figures: list[_Figures | None] = []
    sig_ok = np.zeros(len(sig_first), dtype=bool)
    buffers = list(model.BUFFER_COLUMNS)
    stores = {} if reference else {d: cache.store(name, dv) for d, dv in enumerate(devices) if dv is not None}
    for s, first in enumerate(sig_first):
        d = dev_codes[first]
        key = keys[s]
        group = members(s)
        rows_s = group[valid[group]]
        if devices[d] is None or not rows_s.size:
            sigs.append(None)
            figures.append(None)
            continue
        fig = _figures(name, model, devices[d], key, buffers, stores.get(d))
        if fig.error is not None:
            reason[rows_s] = fig.error
            sigs.append(None)
            figures.append(None)
            continue
        sigs.append(fig.sig)
        figures.append(fig)
        sig_ok[s] = True
    for st in stores.values():
        st.save()
    valid &= sig_ok[sig_codes]

    # CB tables: the factory's table is affine in the buffering factors, so per signature group it is
    # sampled at buffering 1 and at one more page-multiple per factor (checked at the all-2 point), and
    # every row's L1 and CB capacities follow from its factors.
    cross = sorted({cb for sg in sigs if sg is not None for cb in sg.cross_cbs})
    factors = np.stack([table[c].to_numpy(np.int64) for c in buffers], axis=1) if buffers else np.zeros((rows, 0))
    # Per group: the affine CB table and the static checks' figures; then every row at once.
    groups = len(sig_first)
    has = np.array([sg is not None for sg in sigs], dtype=bool)
    base_l1 = np.zeros(groups)
    l1_coef = np.zeros((groups, len(buffers)))
    base_pages = {cb: np.zeros(groups) for cb in cross}
    page_coef = {cb: np.zeros((groups, len(buffers))) for cb in cross}
    group_bytes_per_unit = np.zeros(groups)
    budget = np.zeros(groups)
    count_issues = np.full(groups, "", dtype=object)
    for s, fig in enumerate(figures):
        if fig is None:
            continue
        b_l1, b_coef, b_pages, p_coef = _affine_cbs(name, fig.cb_tables, buffers, cross)
        base_l1[s] = b_l1
        l1_coef[s] = b_coef
        for cb in cross:
            base_pages[cb][s] = b_pages[cb]
            page_coef[cb][s] = p_coef[cb]
        group_bytes_per_unit[s] = fig.bytes_per_unit
        # The static checks' own rules: CB count and indices once per group (buffering cannot change them),
        # the L1 budget rule of checks.static.l1_budget (used bytes <= the board's free L1) per row.
        count_issues[s] = fig.count_issues
        budget[s] = fig.l1_budget
    in_group = has[sig_codes]
    extra_f = factors - 1
    # Integer-valued figures: the products and sums are exact, whatever the order.
    l1_f = np.where(in_group, base_l1[sig_codes] + (extra_f * l1_coef[sig_codes]).sum(axis=1), 0.0)
    # A buffering so large that the CB table's bytes do not fit a 64-bit count: an overflow, said as such.
    huge = l1_f >= INT64_LIMIT
    reason = np.where(huge & (reason == ""), "l1_overflow: the CB table's bytes overflow a 64-bit count", reason)
    l1 = np.where(huge, 0, l1_f).astype(np.int64)
    caps = {
        cb: np.where(in_group, base_pages[cb][sig_codes] + (extra_f * page_coef[cb][sig_codes]).sum(axis=1), 0.0)
        for cb in cross
    }
    bytes_per_unit = np.where(in_group, group_bytes_per_unit[sig_codes], 0.0)
    over = l1_f > budget[sig_codes]
    issues = count_issues[sig_codes]
    overflow = np.where(issues == "", "l1_overflow", "l1_overflow; " + issues)
    row_reason = np.where(over, overflow, issues)
    reason = np.where(in_group & (reason == "") & (row_reason != ""), row_reason, reason)
    dram_bytes = bytes_per_unit * units
    # The tensors must fit in DRAM, by the program's own buffer layout (`_dram_need`): not fitting is a
    # factory error, so no time either.
    per_bank, bank_capacity = _dram_need(figures, [members(g) for g in range(groups)], units)
    no_dram = in_group & (per_bank > bank_capacity) & (reason == "")
    for r in np.flatnonzero(no_dram):
        reason[r] = (
            f"dram_overflow: the buffers need {per_bank[r]:.4g} bytes per DRAM bank, more than the "
            f"{bank_capacity[r]:.0f} of {devices[dev_codes[r]].name}"
        )
    valid &= ~no_dram & ~huge

    cycles = np.full(rows, np.nan)
    bound = np.full(rows, None, dtype=object)
    extra = {k: np.full(rows, np.nan) for k in ("period_cycles", "pipeline_cycles", "dram_floor_cycles")}
    roofline_ns = np.full(rows, np.nan)
    duration_ns = np.full(rows, np.nan)
    idx = np.flatnonzero(valid)
    if idx.size:
        used = np.unique(sig_codes[idx])
        remap = np.full(len(sigs), -1)
        remap[used] = np.arange(len(used))
        sig_list = [sigs[u] for u in used]
        dev_idx = dev_codes[idx]
        clock = np.array([x.clock_ghz if x else 1.0 for x in devices])[dev_idx]
        peak = np.array([x.dram_peak_bytes_per_cycle if x else 1.0 for x in devices])[dev_idx]
        used_devs = np.unique(dev_idx)
        dev_remap = np.full(len(devices), -1)
        dev_remap[used_devs] = np.arange(len(used_devs))
        rows_dev = RowDevices.build(
            [devices[d] for d in used_devs],
            dev_remap[dev_idx],
            gx[idx],
            gy[idx],
            table["row_wise"].to_numpy(bool)[idx],
            num_cores[idx],
            noc_pairs(sig_list),
        )
        ev = evaluate(
            sig_list,
            remap[sig_codes[idx]],
            rows_dev,
            units_total=units[idx],
            units_slowest=slowest[idx],
            num_cores=num_cores[idx],
            capacities={cb: caps[cb][idx] for cb in cross},
            reference=reference,
        )
        cycles[idx] = ev.cycles
        duration_ns[idx] = ev.cycles / clock
        roofline_ns[idx] = dram_bytes[idx] / peak / clock
        bound[idx] = np.asarray(BOUND_NAMES, dtype=object)[ev.bound]
        for k in extra:
            extra[k][idx] = ev.stages[k]
        dead = np.zeros(rows, dtype=bool)
        dead[idx] = ev.deadlock
        reason = np.where((reason == "") & dead, "cb_deadlock", reason)
        # A program that cannot finish has no time.
        for values in (cycles, duration_ns, *extra.values()):
            values[dead] = np.nan
        bound[dead] = None

    out["kernel_duration_ns"] = duration_ns
    out["cycles"] = cycles
    out["bound"] = bound
    out["num_cores"] = np.where(valid, num_cores, 0)
    out["units_per_core_max"] = np.where(valid, slowest, 0)
    out["l1_bytes_per_core"] = l1
    out["dram_bytes"] = dram_bytes
    out["dram_roofline_ns"] = roofline_ns
    out["feasible"] = reason == ""
    out["infeasible_reason"] = reason
    for k, v in extra.items():
        out[k] = v
    return out


def _dram_need(
    figures: list[_Figures | None], members: list[np.ndarray], units: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (bytes its DRAM buffers need in the fullest bank, bytes per bank of its board), in floats.

    Read from the representative programs of its group: each buffer's pages are affine in the units (one and
    two units), interleaved round-robin over the banks, buffers one after another in every bank.
    """
    rows = len(units)
    need = np.zeros(rows)
    capacity = np.full(rows, np.inf)
    for fig, group in zip(figures, members, strict=True):
        if fig is None:
            continue
        u = units[group].astype(np.float64)
        total = np.zeros(len(u))
        for pages_one, pages_two, page_bytes in fig.dram_buffers:
            per_unit = pages_two - pages_one
            pages = (pages_one - per_unit) + u * per_unit
            total += np.ceil(pages / fig.dram_banks) * page_bytes
        need[group] = total
        capacity[group] = fig.dram_bank_bytes
    return need, capacity


def group_codes(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(group code per row, first row of each group) for the distinct combinations of `columns`."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(col)
        combined = combined * (len(uniques) + 1) + codes
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return inverse.reshape(-1), first


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class _Figures:
    """What `estimate_many` derives from the unit programs of one (board, shape key): cached on disk.

    `error`: why the signature cannot be built (a PerfModelError's message), None when it can. `cb_tables`:
    the factory's CB table (L1 bytes, pages per CB) at every buffering factor 1, at one factor 2 in turn and at
    all factors 2 (`_affine_cbs`). The rest are the one-unit program's figures on the base CB table (DRAM bytes
    per unit, the static CB-count findings, the free L1) and, per DRAM buffer, (pages with one unit, with two
    units, aligned page bytes) with the board's bank count and bytes per bank.
    """

    error: str | None
    sig: Any = None
    cb_tables: tuple[tuple[int, dict[int, int]], ...] = ()
    bytes_per_unit: float = 0.0
    count_issues: str = ""
    l1_budget: int = 0
    dram_buffers: tuple[tuple[int, int, int], ...] = ()
    dram_banks: int = 1
    dram_bank_bytes: int = 0


# (op, shape key, id(device), buffer columns) -> (device, figures): the device is kept so its id is not reused.
_FIGURES: dict[tuple, tuple[Any, _Figures]] = {}


def _figures(name: str, model: Any, device: Any, key: tuple, buffers: list[str], store: Any) -> _Figures:
    """The figures of (op, board, shape key): from this process's memory, else `store` (the persistent cache,
    None on the reference path), else derived (and put in both)."""
    memo_key = (name, key, id(device), tuple(buffers))
    if store is not None:
        hit = _FIGURES.get(memo_key)
        if hit is not None and hit[0] is device:
            return hit[1]
        fig = store.get((key, tuple(buffers)))
        if not isinstance(fig, _Figures):
            fig = _derive_figures(name, model, device, key, buffers)
            store.put((key, tuple(buffers)), fig)
        if len(_FIGURES) > 16384:
            _FIGURES.clear()
        _FIGURES[memo_key] = (device, fig)
        return fig
    return _derive_figures(name, model, device, key, buffers)


def _derive_figures(name: str, model: Any, device: Any, key: tuple, buffers: list[str]) -> _Figures:
    try:
        sig = signature(name, device, key)
    except PerfModelError as exc:
        return _Figures(error=str(exc))
    # The CB tables and the probe come from the twin board's program (equal up to name and description).
    probe_device = twin(device)
    one, _ = unit_programs(name, probe_device, key)
    row = dict(zip(model.KEY_COLUMNS, key, strict=True))
    # The pseudo-CBs between the compute threads (no L1; buffering does not change them).
    pseudo = {cb.index: cb.num_pages for cb in pseudo_cbs(one)}

    def table_at(values: list[int]) -> tuple[int, dict[int, int]]:
        cbs = model.cb_table_for_row({**row, **dict(zip(buffers, values, strict=True))})
        return sum(cb.total_bytes for cb in cbs), {**pseudo, **{cb.index: cb.num_pages for cb in cbs}}

    points = [[1] * len(buffers)]
    for j in range(len(buffers)):
        values = [1] * len(buffers)
        values[j] = 2
        points.append(values)
    points.append([2] * len(buffers))
    base_cbs = model.cb_table_for_row({**row, **dict.fromkeys(buffers, 1)})
    probe = dataclasses.replace(one, cbs=base_cbs)
    one_d, two_d = unit_programs(name, device, key)
    return _Figures(
        error=None,
        sig=sig,
        cb_tables=tuple(table_at(values) for values in points),
        bytes_per_unit=probe.dram_bytes / max(probe.units, 1),
        count_issues="; ".join(v.kind for v in cb_count(probe)),
        l1_budget=probe.device.core.l1_free_bytes,
        dram_buffers=tuple(
            (b1.num_pages, b2.num_pages, b1.aligned_page_size_bytes)
            for b1, b2 in zip(one_d.buffers, two_d.buffers, strict=True)
        ),
        dram_banks=device.dram.num_banks,
        dram_bank_bytes=device.dram.capacity_bytes // device.dram.num_banks,
    )


def _affine_cbs(name: str, tables: tuple, buffers: list[str], cross: list[int]) -> tuple:
    """The op's CB table as base + coefficient x (factor - 1) per buffering column, from `_Figures.cb_tables`.

    Returns (L1 bytes at all factors 1, L1 bytes per extra factor, cross-CB pages at 1, pages per extra
    factor).
    """
    base_l1, base_pages = tables[0]
    l1_coef = np.zeros(len(buffers))
    page_coef = {cb: np.zeros(len(buffers)) for cb in cross}
    for j in range(len(buffers)):
        l1_j, pages_j = tables[1 + j]
        l1_coef[j] = l1_j - base_l1
        for cb in cross:
            page_coef[cb][j] = pages_j.get(cb, 0) - base_pages.get(cb, 0)
    check_l1, check_pages = tables[-1]
    if check_l1 != base_l1 + l1_coef.sum() or any(
        check_pages.get(cb, 0) != base_pages.get(cb, 0) + page_coef[cb].sum() for cb in cross
    ):
        raise NotImplementedError(f"op {name}: CB table is not affine in {buffers}; estimate_many needs it to be")
    return base_l1, l1_coef, {cb: base_pages.get(cb, 0) for cb in cross}, page_coef
