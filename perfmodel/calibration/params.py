"""Profile parameters by dotted key: read one, set many, and list the ones a fit may move.

Keys are the profile file's own: 'noc.read_issue_cycles', 'dram.interleaved_fraction',
'compute.bfloat16.tilize.cycles_per_tile'. Setting returns a new frozen profile (what-if style).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from perfmodel.device.profile import DeviceProfile
from perfmodel.errors import InputError

# Data-movement and dispatch costs an op run exercises (the DRAM and link bandwidths are spec figures).
MOVEMENT_KEYS = (
    "noc.read_issue_cycles",
    "noc.write_issue_cycles",
    "dram.read_latency_cycles",
    "dram.write_latency_cycles",
    "noc.core_read_bytes_per_cycle",
    "noc.core_write_bytes_per_cycle",
    "dram.interleaved_fraction",
    "dispatch.kernel_setup_cycles",
)


def candidate_keys(device: DeviceProfile, data_formats: Iterable[str]) -> tuple[str, ...]:
    """Every key a fit may move: data movement, dispatch, and the compute costs of `data_formats`."""
    keys = list(MOVEMENT_KEYS)
    for fmt in data_formats:
        for name in sorted(device.compute_for(fmt).costs):
            keys += [f"compute.{fmt}.{name}.cycles_per_call", f"compute.{fmt}.{name}.cycles_per_tile"]
    return tuple(keys)


def get_param(device: DeviceProfile, key: str) -> float:
    parts = key.split(".")
    if parts[0] == "compute" and len(parts) == 4:
        return float(getattr(device.compute_for(parts[1]).cost(parts[2]), parts[3]))
    if len(parts) != 2 or not hasattr(getattr(device, parts[0], None), parts[1]):
        raise InputError(f"unknown profile key {key!r}")
    return float(getattr(getattr(device, parts[0]), parts[1]))


def set_params(device: DeviceProfile, values: Mapping[str, float]) -> DeviceProfile:
    """`device` with every key of `values` replaced."""
    flat = {k: float(v) for k, v in values.items() if not k.startswith("compute.")}
    for key in flat:
        get_param(device, key)  # unknown keys fail here, naming the key
    out = device.evolve(**flat) if flat else device
    compute = {k: v for k, v in values.items() if k.startswith("compute.")}
    if compute:
        formats = dict(out.compute)
        for key, value in compute.items():
            _, fmt, name, field = key.split(".")
            get_param(out, key)
            fc = formats[fmt]
            costs = dict(fc.costs)
            costs[name] = dataclasses.replace(costs[name], **{field: float(value)})
            formats[fmt] = dataclasses.replace(fc, costs=MappingProxyType(costs))
        out = dataclasses.replace(out, compute=MappingProxyType(formats))
    return out
