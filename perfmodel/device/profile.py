"""Frozen records of one board: clock, core, L1, DRAM, NoC, compute costs and dispatch.

Every field carries its unit in its name. Values come only from a profile file (see `loader.py`), never
from model code; what-if studies use `DeviceProfile.evolve`, which validates what it changes as the loader does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

TAGS = ("spec", "code", "isa", "meas", "npe", "est", "fit")
# The compute-library calls a profile may price (the helpers of `perfmodel.kernel_api` and the generic
# `compute_tiles` steps); a profile naming any other call has a typo. A new helper adds its call here.
COMPUTE_CALLS = (
    "tilize",
    "reduce_row",
    "sub_bcast_col",
    "eltwise_binary",
    "pack_untilize",
    "untilize",
    "copy_tile",
    "relu_tile",
    "pack_untilize_block",
)


@dataclass(frozen=True)
class Provenance:
    """Where one number of a profile comes from: a tag from `TAGS` and a free-text source."""

    tag: str
    source: str


@dataclass(frozen=True)
class CoreSpec:
    """One Tensix worker core and the worker grid offered to ops (compute_with_storage_grid)."""

    grid_x: int
    grid_y: int
    l1_bytes: int
    l1_free_bytes: int
    num_cbs: int
    l1_alignment_bytes: int

    @property
    def num_workers(self) -> int:
        return self.grid_x * self.grid_y


@dataclass(frozen=True)
class DramSpec:
    """Interleaved DRAM: banks, capacity, bandwidth, alignment, and where each bank sits on the NoC.

    `sustained_fraction` is the share of the peak bandwidth a bank delivers under sustained traffic (refresh,
    page switches) from one stream: the best placement. `interleaved_fraction` is the share it delivers when
    the interleaved pages of many cores meet at every bank (row-buffer conflicts, read/write turnaround): a
    bank shared by n streams runs at interleaved + (sustained - interleaved) / n of its peak share
    (`perfmodel.costs.dram_bank_bytes_per_cycle`). The DRAM roofline keeps the peak.
    """

    num_banks: int
    capacity_bytes: int
    peak_bandwidth_gbps: float
    sustained_fraction: float
    interleaved_fraction: float
    alignment_bytes: int
    read_latency_cycles: float
    write_latency_cycles: float
    bank_noc_xy: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class NocSpec:
    """Network-on-chip: topology, per-link and per-core bandwidth, per-transaction issue cost.

    `worker_noc_x[i]` / `worker_noc_y[j]` give the physical NoC coordinate of logical worker (i, j).
    """

    size_x: int
    size_y: int
    worker_noc_x: tuple[int, ...]
    worker_noc_y: tuple[int, ...]
    flit_bytes: int
    max_packet_bytes: int
    link_bytes_per_cycle: float
    core_read_bytes_per_cycle: float
    core_write_bytes_per_cycle: float
    read_issue_cycles: float
    write_issue_cycles: float


THREADS = ("unpack", "math", "pack")


@dataclass(frozen=True)
class ComputeCost:
    """Cost of one compute-library call: a setup per call (paid on each of the three compute threads) and,
    per tile, the busy time of each thread: TRISC0 unpack, TRISC1 math, TRISC2 pack (compute.md §1, §5).

    `math_cycles_per_phase` is the part of the math time that the multiplying FPU ops pay once per fidelity
    phase (compute.md §4: one FPU instruction per phase); 0 for ops the fidelity does not touch.
    `cycles_per_tile` is the slowest thread at LoFi; a profile may state it (a fit to real runs does), and
    the three thread parts are then scaled by the same factor so that their slowest matches it.
    """

    cycles_per_call: float
    cycles_per_tile: float
    unpack_cycles_per_tile: float
    math_cycles_per_tile: float
    pack_cycles_per_tile: float
    math_cycles_per_phase: float = 0.0

    @property
    def slowest_thread_cycles(self) -> float:
        """The slowest thread's cycles per tile at LoFi, from the thread parts alone."""
        return max(
            self.unpack_cycles_per_tile,
            self.math_cycles_per_tile + self.math_cycles_per_phase,
            self.pack_cycles_per_tile,
        )

    def thread_cycles(self, thread: str, num_tiles: int | float, phases: int = 1) -> float:
        """Busy cycles of `thread` over `num_tiles` tiles at `phases` fidelity phases (no setup)."""
        if thread == "unpack":
            part = self.unpack_cycles_per_tile
        elif thread == "math":
            part = self.math_cycles_per_tile + self.math_cycles_per_phase * phases
        else:
            part = self.pack_cycles_per_tile
        slowest = self.slowest_thread_cycles
        scale = self.cycles_per_tile / slowest if slowest > 0 else 1.0
        return part * scale * num_tiles

    def cycles(self, num_tiles: int | float) -> float:
        """Setup plus the slowest thread's time at LoFi: the call's time when its threads overlap fully."""
        return self.cycles_per_call + self.cycles_per_tile * num_tiles


@dataclass(frozen=True)
class FormatCompute:
    """Compute costs for one data format, one per library call, and the Dst tiles per acquire in SyncHalf
    for data of this format at its default Dst width (derived from `DstSpec`: 32-bit for float32, 16-bit
    otherwise; the model itself asks `costs.dst_tiles` with the program's compute config)."""

    dst_tiles_half_sync: int
    costs: Mapping[str, ComputeCost]

    def cost(self, name: str) -> ComputeCost:
        try:
            return self.costs[name]
        except KeyError:
            from perfmodel.errors import InputError

            known = ", ".join(sorted(self.costs))
            raise InputError(f"no compute cost named {name!r} in the profile (known: {known})") from None


@dataclass(frozen=True)
class DstSpec:
    """The Dst register file and the math -> pack handshake (compute.md §3, §10).

    `tiles_16bit` / `tiles_32bit`: 32x32 tiles the whole Dst holds with a 16-bit / 32-bit Dst
    (`fp32_dest_acc_en`); an acquire gets all of them in SyncFull, half in SyncHalf.
    `acquire_cycles`: the per-acquire handshake (acquire, commit, wait, release), paid once per Dst section
    on the math thread.
    """

    tiles_16bit: int
    tiles_32bit: int
    acquire_cycles: float

    def tiles_per_acquire(self, fp32_dest_acc_en: bool, dst_full_sync_en: bool) -> int:
        tiles = self.tiles_32bit if fp32_dest_acc_en else self.tiles_16bit
        return tiles if dst_full_sync_en else tiles // 2


@dataclass(frozen=True)
class DispatchSpec:
    """Launch costs: per-kernel start-up on the device, and the host-side op-to-op gap (not in kernel time)."""

    kernel_setup_cycles: float
    op_to_op_gap_ns: float


@dataclass(frozen=True)
class DeviceProfile:
    """One board. Build it with `DeviceProfile.from_toml(path)` or `perfmodel.load_device(name)`."""

    name: str
    arch: str
    description: str
    clock_ghz: float
    core: CoreSpec
    dram: DramSpec
    noc: NocSpec
    compute: Mapping[str, FormatCompute]
    dispatch: DispatchSpec
    dst: DstSpec
    provenance: Mapping[str, Provenance] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    calibration: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    path: str | None = field(default=None, compare=False)

    @classmethod
    def from_toml(cls, path: Any) -> DeviceProfile:
        from perfmodel.device.loader import load_profile_file

        return load_profile_file(path)

    # Derived quantities: computed from the numbers above, never stored twice.
    @property
    def dram_bank_bytes_per_cycle(self) -> float:
        """What one bank sustains for one stream: its share of the peak times the sustained fraction."""
        return self.dram.peak_bandwidth_gbps * self.dram.sustained_fraction / self.dram.num_banks / self.clock_ghz

    @property
    def dram_peak_bytes_per_cycle(self) -> float:
        return self.dram.peak_bandwidth_gbps / self.clock_ghz

    def cycles_to_ns(self, cycles: float) -> float:
        return cycles / self.clock_ghz

    def ns_to_cycles(self, ns: float) -> float:
        return ns * self.clock_ghz

    def compute_for(self, data_format: str) -> FormatCompute:
        try:
            return self.compute[data_format]
        except KeyError:
            from perfmodel.errors import InputError

            known = ", ".join(sorted(self.compute))
            raise InputError(f"board {self.name} has no compute costs for {data_format!r} (known: {known})") from None

    def evolve(self, **changes: Any) -> DeviceProfile:
        """A copy with some values replaced, validated as the loader validates a file.

        Keys are field names or dotted paths: `evolve(**{"dram.read_latency_cycles": 300, "clock_ghz": 1.2})`,
        and `"compute.<format>.<call>.<field>"` for compute costs (any `ComputeCost` field: the
        thread parts, `math_cycles_per_phase`, `cycles_per_call`, `cycles_per_tile`); the Dst geometry is
        `"dst.tiles_16bit"` and friends. An unknown key or a value the loader would refuse raises `ProfileError`
        naming both.
        """
        from perfmodel.device.loader import validate_profile
        from perfmodel.errors import ProfileError

        origin = f"{self.name}.evolve"
        flat: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        compute = {fmt: (fc.dst_tiles_half_sync, dict(fc.costs)) for fmt, fc in self.compute.items()}
        compute_changed = False
        for key, value in changes.items():
            head, _, rest = key.partition(".")
            if not rest:
                if head not in _EVOLVABLE:
                    raise ProfileError(f"{origin}: unknown key {key!r} = {value!r} (known: {', '.join(_EVOLVABLE)})")
                flat[head] = value
            elif head == "compute":
                self._evolve_compute(compute, rest, value, origin, key)
                compute_changed = True
            elif head in _RECORDS:
                names = [f.name for f in dataclasses.fields(getattr(self, head))]
                if rest not in names:
                    raise ProfileError(
                        f"{origin}: unknown key {key!r} = {value!r} (known in {head}: {', '.join(names)})"
                    )
                nested.setdefault(head, {})[rest] = value
            else:
                raise ProfileError(f"{origin}: unknown key {key!r} = {value!r}")
        for head, sub in nested.items():
            flat[head] = dataclasses.replace(getattr(self, head), **sub)
        if compute_changed:
            flat["compute"] = MappingProxyType(
                {
                    fmt: FormatCompute(dst_tiles_half_sync=dst, costs=MappingProxyType(costs))
                    for fmt, (dst, costs) in compute.items()
                }
            )
        return validate_profile(dataclasses.replace(self, **flat), origin)

    @staticmethod
    def _evolve_compute(
        compute: dict[str, tuple[Any, dict[str, ComputeCost]]], rest: str, value: Any, origin: str, key: str
    ) -> None:
        from perfmodel.errors import ProfileError

        parts = rest.split(".")
        if not parts or parts[0] not in compute:
            raise ProfileError(f"{origin}: unknown key {key!r} = {value!r} (formats: {', '.join(compute)})")
        costs = compute[parts[0]][1]
        fields = [f.name for f in dataclasses.fields(ComputeCost)]
        if len(parts) == 3 and parts[1] in costs and parts[2] in fields:
            costs[parts[1]] = dataclasses.replace(costs[parts[1]], **{parts[2]: value})
        else:
            raise ProfileError(
                f"{origin}: unknown key {key!r} = {value!r} "
                f"(expected compute.<format>.<call>.<field>, field one of {', '.join(fields)}; "
                "the Dst tiles are dst.tiles_16bit / dst.tiles_32bit)"
            )

    def source_of(self, key: str) -> Provenance | None:
        """The provenance of a dotted key such as 'dram.peak_bandwidth_gbps'."""
        return self.provenance.get(key)


# What `evolve` may replace by a plain key, and the nested records it may reach into by a dotted one.
_EVOLVABLE = ("name", "arch", "description", "clock_ghz", "core", "dram", "noc", "dispatch", "dst", "compute")
_RECORDS = ("core", "dram", "noc", "dispatch", "dst")
