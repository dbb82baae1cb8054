"""Frozen records of one board: clock, core, L1, DRAM, NoC, compute costs and dispatch.

Every field carries its unit in its name. Values come only from a profile file (see `loader.py`), never
from model code; what-if studies use `dataclasses.replace` (or `DeviceProfile.evolve`) on these records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

TAGS = ("spec", "code", "isa", "meas", "npe", "est", "fit")


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


@dataclass(frozen=True)
class ComputeCost:
    """Cost of one compute-library call: a fixed setup per call plus a cost per tile (slowest thread)."""

    cycles_per_call: float
    cycles_per_tile: float

    def cycles(self, num_tiles: int | float) -> float:
        return self.cycles_per_call + self.cycles_per_tile * num_tiles


@dataclass(frozen=True)
class FormatCompute:
    """Compute costs for one data format: Dst capacity in half-sync mode and one cost per library call."""

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
        """`dataclasses.replace` with dotted keys for nested records: evolve(**{"dram.read_latency_cycles": 300})."""
        nested: dict[str, dict[str, Any]] = {}
        flat: dict[str, Any] = {}
        for key, value in changes.items():
            head, _, rest = key.partition(".")
            if rest:
                nested.setdefault(head, {})[rest] = value
            else:
                flat[key] = value
        for head, sub in nested.items():
            flat[head] = dataclasses.replace(getattr(self, head), **sub)
        return dataclasses.replace(self, **flat)

    def source_of(self, key: str) -> Provenance | None:
        """The provenance of a dotted key such as 'dram.peak_bandwidth_gbps'."""
        return self.provenance.get(key)
