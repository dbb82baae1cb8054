"""`estimate_many(op, table)`: the analytic model over a table of configurations in one vectorised pass.

The per-unit stage signature is built once per distinct (device, shape key) -- a few dozen even in a table
of millions -- and the CB table once per distinct (shape key, buffering); everything else (units, the
split into core groups, buffering depths, the pipeline recursion, the shared-DRAM floor) is numpy over all
rows at once. Infeasible rows (L1 overflow, too many CBs, a buffering that deadlocks) are kept and marked;
rows the factory would reject (bad shape, unknown device, grid larger than the board) are marked invalid
with NaN times.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.analytic.engine import (
    BOUND_NAMES,
    RowDevices,
    evaluate,
    noc_pairs,
    op_model,
    signature,
    slowest_core_units,
)
from perfmodel.checks.static import cb_count, l1_budget
from perfmodel.device import list_devices, load_device
from perfmodel.errors import InputError, PerfModelError

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


def estimate_many(op: Any, table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` with the analytic result columns `RESULT_COLUMNS` appended, row for row.

    For centralize_w_rm the input columns are N, C, H, W, dtype, device, grid_x, grid_y, row_wise,
    in_buffering, out_buffering (see `ops/centralize_w_rm/model.py`).
    """
    name = _op_name(op)
    model = op_model(name)
    missing = [c for c in model.INPUT_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"table is missing column(s) {', '.join(missing)} (needs {', '.join(model.INPUT_COLUMNS)})")
    rows = len(table)
    out = table.copy()
    if rows == 0:
        for col in RESULT_COLUMNS:
            out[col] = pd.Series(dtype=object)
        return out

    reason = model.validate_rows(table).astype(object)
    units = model.units(table)
    gx = table["grid_x"].to_numpy(np.int64)
    gy = table["grid_y"].to_numpy(np.int64)

    # Devices: a handful of distinct names; each row gets its profile's figures.
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

    num_cores, slowest = slowest_core_units(units, gx * gy)

    # Signatures per distinct (device, shape key); CB tables per distinct (shape key, buffering).
    key_cols = list(model.KEY_COLUMNS)
    sig_frame = table[key_cols].copy()
    sig_frame["_dev"] = dev_codes
    sig_codes, sig_uniques = pd.factorize(pd.MultiIndex.from_frame(sig_frame))
    sigs, sig_ok = [], np.zeros(len(sig_uniques), dtype=bool)
    for s, values in enumerate(sig_uniques):
        *key, d = values
        rows_s = valid & (sig_codes == s)
        if devices[d] is None or not rows_s.any():
            sigs.append(None)
            continue
        try:
            sigs.append(signature(name, devices[d], tuple(key)))
            sig_ok[s] = True
        except PerfModelError as exc:
            reason[rows_s] = str(exc)
            sigs.append(None)
    valid &= sig_ok[sig_codes]

    cb_cols = model.table_key_columns(table)
    cb_frame = table[cb_cols].copy()
    cb_frame["_dev"] = dev_codes
    cb_codes, cb_uniques = pd.factorize(pd.MultiIndex.from_frame(cb_frame))
    cross = sorted({cb for s in sigs if s is not None for cb in s.cross_cbs})
    combo_l1 = np.zeros(len(cb_uniques), dtype=np.int64)
    combo_reason = np.full(len(cb_uniques), "", dtype=object)
    combo_caps = {cb: np.zeros(len(cb_uniques)) for cb in cross}
    combo_bytes_per_unit = np.zeros(len(cb_uniques))
    for c, values in enumerate(cb_uniques):
        *cols, d = values
        row_values = dict(zip(cb_cols, cols, strict=True))
        if devices[d] is None:
            continue
        try:
            cbs = model.cb_table_for_row(row_values)
        except PerfModelError as exc:
            combo_reason[c] = str(exc)
            continue
        combo_l1[c] = sum(cb.total_bytes for cb in cbs)
        pages = {cb.index: cb.num_pages for cb in cbs}
        for cb in cross:
            combo_caps[cb][c] = pages.get(cb, 0)
        # The static checks' own rules, on the representative program with this CB table.
        probe = _probe_program(name, model, devices[d], row_values, cbs)
        if probe is not None:
            found = l1_budget(probe) + cb_count(probe)
            combo_reason[c] = "; ".join(v.kind for v in found)
            combo_bytes_per_unit[c] = probe.dram_bytes / max(probe.units, 1)

    l1 = combo_l1[cb_codes]
    reason = np.where((reason == "") & (combo_reason[cb_codes] != ""), combo_reason[cb_codes], reason)
    dram_bytes = combo_bytes_per_unit[cb_codes] * units

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
            capacities={cb: combo_caps[cb][cb_codes[idx]] for cb in cross},
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


_PROBES: dict[tuple, Any] = {}


def _probe_program(name: str, model: Any, device: Any, row_values: dict, cbs: tuple) -> Any:
    """The op's one-unit program on `device` with CB table `cbs` (for the static checks), cached."""
    key = tuple(row_values[c] for c in model.KEY_COLUMNS)
    cache_key = (name, key, id(device))
    hit = _PROBES.get(cache_key)
    if hit is None or hit[0] is not device:
        one, _ = model.unit_programs(device, key)
        _PROBES[cache_key] = hit = (device, one)
    return dataclasses.replace(hit[1], cbs=cbs)
