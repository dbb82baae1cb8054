"""The frozen result every timing engine returns (`simulate` with backend 'des', `estimate` with 'analytic').

Times are in cycles of the board's AI clock inside the engines; nanoseconds only at the edges
(`kernel_duration_ns`, `dram_roofline_ns`). `to_dict()` gives the CLI's JSON fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from perfmodel import costs

if TYPE_CHECKING:
    from perfmodel.program import Program

# What bounds a run: the DRAM bandwidth, the NoC (per-transaction issue, latency, link or interface
# bandwidth of data movement), the compute threads, or the fixed launch and setup costs.
BOUNDS = ("dram", "noc", "compute", "dispatch")


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class RunResult:
    backend: str
    op_name: str
    device: str
    shape: tuple[int, ...]
    dtype: str
    config: Mapping[str, Any]
    cycles: float
    kernel_duration_ns: float
    num_cores: int
    l1_bytes_per_core: int
    dram_bytes: int
    dram_roofline_ns: float
    bound: str
    # Per-stage breakdown in cycles (e.g. reader / compute / writer per unit, fill, drain, per bound).
    stages: Mapping[str, float] = field(default_factory=_empty)
    # Per core: {"core": [x, y], "<kernel or thread>": {"busy_cycles": .., "blocked_cycles": ..}, ...}.
    per_core: tuple[Mapping[str, Any], ...] = ()
    # Per CB: {"index": .., "name": .., "max_occupancy_pages": .., "blocked_cycles": {call: cycles}, ...}.
    per_cb: tuple[Mapping[str, Any], ...] = ()
    # NoC and DRAM utilisation figures (fractions of time busy, per bank / link where modelled).
    utilisation: Mapping[str, Any] = field(default_factory=_empty)
    # Engine-specific extras (event counts, wall time, ...).
    details: Mapping[str, Any] = field(default_factory=_empty)
    output: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def for_program(cls, program: Program, *, backend: str, cycles: float, bound: str, **fields: Any) -> RunResult:
        """A result for `program`: what the program itself fixes (shape, cores, L1, DRAM bytes, roofline) is
        taken from it, so every engine reports those the same way; `fields` are the engine's own."""
        device = program.device
        config = program.config
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
        return cls(
            backend=backend,
            op_name=program.op_name,
            device=device.name,
            shape=tuple(program.shape),
            dtype=program.dtype,
            config=dict(config) if isinstance(config, Mapping) else {"value": repr(config)},
            cycles=float(cycles),
            kernel_duration_ns=device.cycles_to_ns(cycles),
            num_cores=program.num_cores,
            l1_bytes_per_core=program.l1_bytes_per_core,
            dram_bytes=program.dram_bytes,
            dram_roofline_ns=device.cycles_to_ns(costs.dram_roofline_cycles(device, program.dram_bytes)),
            bound=bound,
            **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field but `output`, mappings as dicts."""
        return plain_value(
            {
                "backend": self.backend,
                "op": self.op_name,
                "device": self.device,
                "shape": list(self.shape),
                "dtype": self.dtype,
                "config": self.config,
                "kernel_duration_ns": self.kernel_duration_ns,
                "cycles": self.cycles,
                "num_cores": self.num_cores,
                "l1_bytes_per_core": self.l1_bytes_per_core,
                "dram_bytes": self.dram_bytes,
                "dram_roofline_ns": self.dram_roofline_ns,
                "bound": self.bound,
                "stages": self.stages,
                "per_core": self.per_core,
                "per_cb": self.per_cb,
                "utilisation": self.utilisation,
                "details": self.details,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        """The result back from its `to_dict()` form (e.g. a service's JSON); extra keys are ignored and a
        null number (NaN or infinity in JSON) reads as NaN."""

        def number(key: str) -> float:
            value = data.get(key)
            return float("nan") if value is None else float(value)

        return cls(
            backend=str(data["backend"]),
            op_name=str(data["op"]),
            device=str(data["device"]),
            shape=tuple(int(d) for d in data["shape"]),
            dtype=str(data["dtype"]),
            config=dict(data.get("config") or {}),
            cycles=number("cycles"),
            kernel_duration_ns=number("kernel_duration_ns"),
            num_cores=int(data["num_cores"]),
            l1_bytes_per_core=int(data["l1_bytes_per_core"]),
            dram_bytes=int(data["dram_bytes"]),
            dram_roofline_ns=number("dram_roofline_ns"),
            bound=str(data["bound"]),
            stages={k: (float("nan") if v is None else v) for k, v in (data.get("stages") or {}).items()},
            per_core=tuple(data.get("per_core") or ()),
            per_cb=tuple(data.get("per_cb") or ()),
            utilisation=dict(data.get("utilisation") or {}),
            details=dict(data.get("details") or {}),
        )


def plain_value(value: Any) -> Any:
    """JSON-ready: mappings as dicts with str keys, lists and tuples as lists, numpy scalars as Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
