"""The analytic engine: per-core pipeline time, shared DRAM limits and the bound, vectorised over configurations.

`evaluate` is the one formula both `estimate(program)` (one configuration) and `estimate_many(op, table)`
(many) use:

    cycles = max( T_pipe(n_max) ,  setup + first read + max_bank_bytes / bank_bw + last write latency )

- T_pipe(n) is the max-plus pipeline of the slowest core (`pipeline.pipeline_times`), which carries every
  kernel's setup, fill, steady state with finite CBs, and drain; the slowest core is the one with the most
  units, q + (r > 0) for units = q x cores + r (split_work_to_cores);
- inside T_pipe, the cores of a split start together and run their first unit in step, so a segment that
  moves b bytes takes at least  first issue + latency + b x max(N / dram_bw, L / link_bw)  cycles, with N
  the active cores and L the load of the busiest link of their routes in cores' worth (`noc_load`); later
  units run at their own speed, but no kernel that moves data starts units faster than the shared DRAM
  and its busiest link can serve all cores (a rate edge in the max-plus recursion);
- the second term is the shared-DRAM floor over all active cores: DRAM pages are interleaved round-robin, so
  the busiest bank serves ceil(packets / banks) packets; it is never below the DRAM roofline.

What it does not model: queueing between cores that do not run in step, and the order in which the
simulator's calendars serve simultaneous requests (see tests/test_agreement.py for what that costs).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from perfmodel import costs
from perfmodel.analytic.noc_load import max_link_load
from perfmodel.analytic.pipeline import pipeline_times
from perfmodel.analytic.signature import StageSignature, build_signature
from perfmodel.device.profile import DeviceProfile

BOUND_NAMES = ("dram", "noc", "compute", "dispatch")


def op_model(op_name: str) -> ModuleType:
    """The op's analytic description: `perfmodel.ops.<op>.model`.

    It declares INPUT_COLUMNS, KEY_COLUMNS, BUFFER_COLUMNS and provides shape_key, unit_programs,
    cb_table_for_row, units and validate_rows (see ops/centralize_w_rm/model.py); optionally INTEGER_COLUMNS,
    BOOLEAN_COLUMNS, STRING_COLUMNS and SHAPE_COLUMNS, by which `estimate_many` checks every cell
    (`columns.validate_columns`), and `column_defaults(table)`, which fills in columns a table may leave
    out. KEY_COLUMNS may hold configuration columns (e.g. math_fidelity, fp32_dest_acc_en,
    dst_full_sync_en): rows are grouped by every key column and priced by the unit programs built for it.
    """
    try:
        return importlib.import_module(f"perfmodel.ops.{op_name}.model")
    except ModuleNotFoundError as exc:
        # Only the model module itself (or its op) being absent means "no model"; a module the model
        # imports that is missing is a broken install or a bug, and must surface as what it is.
        if exc.name not in (f"perfmodel.ops.{op_name}.model", f"perfmodel.ops.{op_name}"):
            raise
        from perfmodel.errors import InputError

        raise InputError(f"op {op_name!r} has no analytic model (ops/{op_name}/model.py)") from exc


# The kernels of a program as a cache key: (slot, function) pairs. Functions hash by identity, and the key
# holds them, so an id cannot be reused while the entry lives. None: the op's own (default) kernels.
KernelsKey = tuple[tuple[str, Any], ...] | None


def kernels_key(kernels: Sequence[Any] | None) -> KernelsKey:
    """The cache key of a program's `KernelSpec`s (None stays None: the op model's own kernels)."""
    return None if kernels is None else tuple((spec.name, spec.fn, spec.risc, spec.noc) for spec in kernels)


# (op, shape key, id(device), kernels) -> (device, value): the device is kept so its id cannot be reused.
_PROGRAMS: dict[tuple[Any, ...], tuple[DeviceProfile, tuple[Any, Any]]] = {}


def unit_programs(
    op_name: str,
    device: DeviceProfile,
    key: tuple[Hashable, ...],
    kernels: Sequence[Any] | None = None,
    compute_config: Any = None,
) -> tuple[Any, Any]:
    """The op's representative one-unit and two-unit single-core programs for a shape key, cached.

    With `kernels` (a program's `KernelSpec`s) the representative programs run those kernels instead of the
    op's defaults: the analytic model prices the kernels a program carries, not the ones it would have had.
    With `compute_config` (a program's `ComputeConfig`) they are built with it: an op whose shape key does
    not name the compute knobs still gets the fidelity, Dst width and sync mode of the program it prices.
    An op's shape key may also hold config columns (KEY_COLUMNS such as math_fidelity): `estimate_many`
    groups rows by every key column.
    """
    cache_key = (op_name, key, id(device), kernels_key(kernels), compute_config)
    hit = _PROGRAMS.get(cache_key)
    if hit is not None and hit[0] is device:
        return hit[1]
    programs = op_model(op_name).unit_programs(device, key)
    if kernels is not None:
        programs = tuple(with_kernels(p, kernels) for p in programs)
    if compute_config is not None:
        programs = tuple(dataclasses.replace(p, compute_config=compute_config) for p in programs)
    if len(_PROGRAMS) > 4096:
        _PROGRAMS.clear()
    _PROGRAMS[cache_key] = (device, programs)
    return programs


def with_kernels(program: Any, kernels: Sequence[Any]) -> Any:
    """`program` running `kernels` (KernelSpecs) in its slots of the same names; every slot must be given."""
    by_name = {spec.name: spec for spec in kernels}
    if {spec.name for spec in program.kernels} != set(by_name):
        from perfmodel.errors import InputError

        raise InputError(
            f"{program.op_name}: the program's kernel slots {sorted(by_name)} differ from the op's "
            f"{sorted(spec.name for spec in program.kernels)}; the analytic model cannot price it"
        )
    return dataclasses.replace(program, kernels=tuple(by_name[spec.name] for spec in program.kernels))


_SIGNATURES: dict[tuple[Any, ...], tuple[DeviceProfile, StageSignature]] = {}
# id(device) -> (device, the first device seen that equals it up to its name and description)
_TWINS: dict[int, tuple[DeviceProfile, DeviceProfile]] = {}


def twin(device: DeviceProfile) -> DeviceProfile:
    """A device already seen whose every figure equals `device`'s (only the name and description differ).

    Boards like the Wormhole n150 and n300 are the same chip to the model: their signatures are priced once.
    """
    hit = _TWINS.get(id(device))
    if hit is not None and hit[0] is device:
        return hit[1]
    first = device
    for _, seen in _TWINS.values():
        if dataclasses.replace(device, name=seen.name, description=seen.description) == seen:
            first = seen
            break
    if len(_TWINS) > 256:
        _TWINS.clear()
    _TWINS[id(device)] = (device, first)
    return first


def signature(
    op_name: str,
    device: DeviceProfile,
    key: tuple[Hashable, ...],
    kernels: Sequence[Any] | None = None,
    compute_config: Any = None,
) -> StageSignature:
    """The priced per-unit stage signature of (op, shape key, device, kernels), cached (shared by twin devices).

    `kernels`: a program's `KernelSpec`s (None: the op's defaults); `compute_config`: a program's
    `ComputeConfig` (None: the one the op builds for the key); see `unit_programs`.
    """
    cache_key = (op_name, key, id(device), kernels_key(kernels), compute_config)
    hit = _SIGNATURES.get(cache_key)
    if hit is not None and hit[0] is device:
        return hit[1]
    same = twin(device)
    if same is not device:
        sig = dataclasses.replace(signature(op_name, same, key, kernels, compute_config), device=device.name)
    else:
        one, two = unit_programs(op_name, device, key, kernels, compute_config)
        sig = build_signature(one, two)
    if len(_SIGNATURES) > 4096:
        _SIGNATURES.clear()
    _SIGNATURES[cache_key] = (device, sig)
    return sig


@dataclass(frozen=True)
class Evaluation:
    """Arrays, one entry per configuration."""

    cycles: np.ndarray
    bound: np.ndarray  # index into BOUND_NAMES
    stages: Mapping[str, np.ndarray]
    deadlock: np.ndarray


@dataclass(frozen=True)
class RowDevices:
    """Per row: the device figures and the busiest-link loads (cores' worth) the shared limits need."""

    bank_bytes_per_cycle: np.ndarray
    interleaved_bank_bytes_per_cycle: np.ndarray
    banks: np.ndarray
    peak_bytes_per_cycle: np.ndarray
    link_bytes_per_cycle: np.ndarray
    link_load: Mapping[tuple[int, str], np.ndarray]  # (noc, direction) -> busiest link's load

    @classmethod
    def build(
        cls,
        devices: Sequence[DeviceProfile],
        dev_index: np.ndarray,
        grid_x: np.ndarray,
        grid_y: np.ndarray,
        row_wise: np.ndarray,
        num_cores: np.ndarray,
        pairs: Sequence[tuple[int, str]],
    ) -> RowDevices:
        """Gather per-row figures; link loads are computed once per distinct (device, grid, order)."""
        dev_index = np.asarray(dev_index, dtype=np.int64)

        def pick(values: Sequence[float]) -> np.ndarray:
            return np.asarray(values, dtype=float)[dev_index]

        loads = {pair: np.zeros(len(dev_index)) for pair in pairs}
        gx_a, gy_a = np.asarray(grid_x, dtype=np.int64), np.asarray(grid_y, dtype=np.int64)
        rw_a = np.asarray(row_wise, dtype=np.int64)
        # One integer per (device, grid, order): grids are at most 1023 x 1023.
        combined = ((dev_index * 1024 + gx_a) * 1024 + gy_a) * 2 + rw_a
        _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(first) + 1))
        cores = np.asarray(num_cores, dtype=np.int64)
        twins = [twin(x) for x in devices]  # twin boards have the same routes and loads
        for u, f in enumerate(first):
            d, gx, gy, rw = dev_index[f], gx_a[f], gy_a[f], rw_a[f]
            rows = order[bounds[u] : bounds[u + 1]]
            for noc, direction in pairs:
                m = max_link_load(twins[d], (int(gx), int(gy)), bool(rw), noc, direction)
                loads[(noc, direction)][rows] = m[np.clip(cores[rows], 0, len(m) - 1)]
        return cls(
            bank_bytes_per_cycle=pick([x.dram_bank_bytes_per_cycle for x in devices]),
            interleaved_bank_bytes_per_cycle=pick(
                [x.dram_bank_bytes_per_cycle * x.dram.interleaved_fraction / x.dram.sustained_fraction for x in devices]
            ),
            banks=pick([x.dram.num_banks for x in devices]),
            peak_bytes_per_cycle=pick([x.dram_peak_bytes_per_cycle for x in devices]),
            link_bytes_per_cycle=pick([x.noc.link_bytes_per_cycle for x in devices]),
            link_load=loads,
        )


def noc_pairs(sigs: Sequence[StageSignature]) -> list[tuple[int, str]]:
    """The (NoC, direction) pairs the kernels' DRAM traffic uses."""
    pairs: set[tuple[int, str]] = set()
    for s in sigs:
        pairs |= _traffic(s)[0]
    return sorted(pairs)


# id(signature) -> (signature, its NoC pairs, its bytes per unit by (kernel, direction)): a table of many rows
# asks for the same few signatures' traffic, and a wide row's signature has thousands of nodes.
_TRAFFIC: dict[int, tuple[StageSignature, frozenset, dict[tuple[str, str], float]]] = {}


def _traffic(sig: StageSignature) -> tuple[frozenset, dict[tuple[str, str], float]]:
    hit = _TRAFFIC.get(id(sig))
    if hit is not None and hit[0] is sig:
        return hit[1], hit[2]
    pairs = set()
    per_unit: dict[tuple[str, str], float] = {}
    for k in sig.kernels:
        for direction in ("read", "write"):
            attr = f"{direction}_bytes"
            per_unit[(k.name, direction)] = sum(getattr(n, attr) for n in k.body)
            if k.noc is not None and any(getattr(n, attr) > 0 for n in k.body):
                pairs.add((k.noc, direction))
    if len(_TRAFFIC) > 16384:
        _TRAFFIC.clear()
    _TRAFFIC[id(sig)] = (sig, frozenset(pairs), per_unit)
    return frozenset(pairs), per_unit


def _share(dev: RowDevices, noc: int | None, direction: str, active: np.ndarray, dram_rate: np.ndarray) -> np.ndarray:
    """Bytes per cycle one of `active` cores streaming in step gets from the DRAM and its busiest link."""
    # Cycles per byte: the DRAM (`dram_rate` for all banks) is shared by all active cores, the busiest link
    # by `load` cores' worth.
    per_byte = active / dram_rate
    load = dev.link_load.get((noc, direction)) if noc is not None else None
    if load is not None:
        per_byte = np.maximum(per_byte, load / dev.link_bytes_per_cycle)
    return 1.0 / per_byte


def per_row_bytes(sigs: Sequence[StageSignature], which: np.ndarray, kernel: str, direction: str) -> np.ndarray:
    """Per row: the DRAM bytes `kernel` moves per unit in `direction`."""
    values = [_traffic(s)[1][(kernel, direction)] for s in sigs]
    return np.asarray(values, dtype=float)[which]


def evaluate(
    sigs: Sequence[StageSignature],
    which: np.ndarray,
    dev: RowDevices,
    *,
    units_total: np.ndarray,
    units_slowest: np.ndarray,
    num_cores: np.ndarray,
    capacities: Mapping[int, np.ndarray],
    reference: bool = False,
) -> Evaluation:
    """Cycles, bound and stage breakdown; row r uses signature `sigs[which[r]]` and the device figures of row r.

    `reference=True`: the plain pipeline evaluation instead of the compiled one (`pipeline.pipeline_times`), for
    tests.
    """
    which = np.asarray(which, dtype=np.int64)
    units_total = np.asarray(units_total, dtype=np.int64)
    units_slowest = np.asarray(units_slowest, dtype=np.int64)
    cores = np.maximum(np.asarray(num_cores, dtype=float), 1.0)
    # Every active core streams interleaved pages: each bank serves `cores` streams (`costs.dram_bank_fraction`,
    # linear in the two rates), and all banks together deliver `dram_rate`.
    bank_rate = costs.dram_bank_fraction(dev.bank_bytes_per_cycle, dev.interleaved_bank_bytes_per_cycle, cores)
    dram_rate = bank_rate * dev.banks
    shares = {}
    for k in sigs[0].kernels:
        for direction in ("read", "write"):
            shares[(k.name, direction)] = _share(dev, k.noc, direction, cores, dram_rate)
    # After the first unit the cores drift out of step; from then on the shared DRAM and links bound the
    # period instead: every kernel that moves data starts a unit at most once per
    # max(N x all DRAM bytes per unit / dram_bw, L x its bytes on its NoC / link_bw).
    # Per-signature figures are gathered once: kernels by name, DRAM bytes per (kernel, direction).
    by_name = [{k.name: k for k in s.kernels} for s in sigs]
    sig_bytes = {
        (kernel.name, direction): per_row_bytes(sigs, np.arange(len(sigs)), kernel.name, direction)
        for kernel in sigs[0].kernels
        for direction in ("read", "write")
    }
    total_bytes = np.zeros(len(which))
    for kernel in sigs[0].kernels:
        for direction in ("read", "write"):
            total_bytes = total_bytes + sig_bytes[(kernel.name, direction)][which]
    rates = {}
    for kernel in sigs[0].kernels:
        rate = np.zeros(len(which))
        moves = np.zeros(len(which), dtype=bool)
        for direction in ("read", "write"):
            nbytes = sig_bytes[(kernel.name, direction)][which]
            moves |= nbytes > 0
            load = dev.link_load.get((kernel.noc, direction)) if kernel.noc is not None else None
            if load is not None:
                rate = np.maximum(rate, nbytes * load / dev.link_bytes_per_cycle)
        rates[kernel.name] = np.where(moves, np.maximum(rate, total_bytes * cores / dram_rate), 0.0)
    pipe = pipeline_times(
        sigs,
        which,
        units_slowest,
        capacities,
        share_bytes_per_cycle=shares,
        rate_cycles=rates,
        lockstep_units=1,
        reference=reference,
    )

    def per_row(values: Sequence[float]) -> np.ndarray:
        return np.asarray(values, dtype=float)[which]

    packets_per_unit = per_row([s.read_packets_per_unit + s.write_packets_per_unit for s in sigs])
    bytes_per_unit = per_row([s.read_bytes_per_unit + s.write_bytes_per_unit for s in sigs])
    setup = per_row([s.setup_cycles for s in sigs])
    fill = per_row([s.first_read_cycles + s.last_write_cycles for s in sigs])
    bytes_per_packet = np.divide(
        bytes_per_unit, packets_per_unit, out=np.zeros_like(bytes_per_unit), where=packets_per_unit > 0
    )
    # Pages are interleaved round-robin over the banks: the busiest bank serves ceil(packets / banks).
    busiest_bank_bytes = np.ceil(units_total * packets_per_unit / dev.banks) * bytes_per_packet
    bank_cycles = busiest_bank_bytes / bank_rate
    roofline = bytes_per_unit * units_total / dev.peak_bytes_per_cycle
    dram_floor = setup + fill + np.maximum(bank_cycles, roofline)
    cycles = np.maximum(pipe.total_cycles, dram_floor)
    cycles = np.where(units_total == 0, 0.0, cycles)

    # The bound. Per kernel, its per-unit time on its own (iso) and when the active cores share the DRAM
    # (dram) or the busiest link (link); the kernel with the longest of these sets the pace, and the largest
    # of its three names the resource. The shared-DRAM floor winning overall is "dram"; a fixed setup that
    # outweighs the whole steady state is "dispatch".
    names = [k.name for k in sigs[0].kernels]
    rows_idx = np.arange(len(which))
    iso = {}
    dram_t = {}
    link_t = {}
    for kernel in sigs[0].kernels:
        n = kernel.name
        iso[n] = per_row([k[n].noc_cycles_per_unit + k[n].compute_cycles_per_unit for k in by_name])
        dram_t[n] = np.zeros(len(which))
        link_t[n] = np.zeros(len(which))
        for direction in ("read", "write"):
            nbytes = sig_bytes[(n, direction)][which]
            if not np.any(nbytes > 0):
                continue
            fixed = per_row([sum(x.dram_fixed_cycles for x in k[n].body) for k in by_name])
            # The DRAM serves every kernel's bytes of the unit (the rate edge), the link only this NoC's.
            moved = np.where(nbytes > 0, total_bytes, 0.0)
            dram_t[n] = np.maximum(dram_t[n], fixed + moved * cores / dram_rate)
            load = dev.link_load.get((kernel.noc, direction)) if kernel.noc is not None else None
            if load is not None:
                link_t[n] = np.maximum(link_t[n], fixed + nbytes * load / dev.link_bytes_per_cycle)
    effective = {n: np.maximum(iso[n], np.maximum(dram_t[n], link_t[n])) for n in names}
    busiest = np.argmax(np.stack([effective[n] for n in names]), axis=0)

    def pick(values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.stack([values[n] for n in names])[busiest, rows_idx]

    iso_b, dram_b, link_b = pick(iso), pick(dram_t), pick(link_t)
    comp_b = pick({n: per_row([k[n].compute_cycles_per_unit for k in by_name]) for n in names})
    bound = np.where(comp_b >= iso_b - comp_b, BOUND_NAMES.index("compute"), BOUND_NAMES.index("noc"))
    bound = np.where((dram_b > iso_b) & (dram_b >= link_b), BOUND_NAMES.index("dram"), bound)
    bound = np.where((link_b > iso_b) & (link_b > dram_b), BOUND_NAMES.index("noc"), bound).astype(np.int8)
    steady = units_slowest * pipe.period_cycles
    bound[setup > steady] = BOUND_NAMES.index("dispatch")
    bound[dram_floor >= pipe.total_cycles] = BOUND_NAMES.index("dram")

    stages: dict[str, np.ndarray] = {f"{n}_cycles_per_unit": effective[n] for n in names}
    stages.update({f"{n}_isolated_cycles_per_unit": iso[n] for n in names})
    stages.update({f"{n}_end_cycles": pipe.kernel_end_cycles[n] for n in names})
    # A compute kernel's threads ("compute.unpack", ...) also as the kernel: its slowest thread, its last end.
    threads: dict[str, list[str]] = {}
    for n in names:
        if "." in n:
            threads.setdefault(n.split(".", 1)[0], []).append(n)
    for kernel, members in threads.items():
        for suffix in ("cycles_per_unit", "isolated_cycles_per_unit", "end_cycles"):
            stages[f"{kernel}_{suffix}"] = np.max(np.stack([stages[f"{m}_{suffix}"] for m in members]), axis=0)
    stages.update(
        {
            "setup_cycles": setup,
            "period_cycles": pipe.period_cycles,
            "units_slowest_core": units_slowest.astype(float),
            "pipeline_cycles": pipe.total_cycles,
            "fill_drain_cycles": np.maximum(pipe.total_cycles - setup - steady, 0.0),
            "dram_busiest_bank_cycles": bank_cycles,
            "dram_floor_cycles": dram_floor,
            "dram_roofline_cycles": roofline,
        }
    )
    return Evaluation(cycles, bound, stages, pipe.deadlock)


def slowest_core_units(units: np.ndarray, grid_cores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cores used, units of the slowest core) of split_work_to_cores: n = min(units, grid), q + (r > 0)."""
    units = np.asarray(units, dtype=np.int64)
    cores = np.minimum(units, np.asarray(grid_cores, dtype=np.int64))
    safe = np.maximum(cores, 1)
    q, r = np.divmod(units, safe)
    return cores, np.where(cores == 0, 0, q + (r > 0))


def capacities_of(cbs: Any, cross_cbs: tuple[int, ...]) -> dict[int, int]:
    """Pages of each cross-kernel CB in a CB table (with the pseudo-CBs SRC and DST, `kernel_lib.pseudo_cbs`)."""
    pages = {cb.index: cb.num_pages for cb in cbs}
    return {cb: pages[cb] for cb in cross_cbs if cb in pages}
