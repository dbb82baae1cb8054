"""Read a board profile TOML file into a `DeviceProfile`, rejecting anything malformed or non-physical.

Every number in a profile file is an inline table `{ value = ..., tag = "...", source = "..." }`; the
value lands in the frozen record and the tag and source in `profile.provenance` under the dotted key.
Each error names the file and the key.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from pathlib import Path
from types import MappingProxyType
from typing import Any

from perfmodel.device.profile import (
    TAGS,
    ComputeCost,
    CoreSpec,
    DeviceProfile,
    DispatchSpec,
    DramSpec,
    FormatCompute,
    NocSpec,
    Provenance,
)
from perfmodel.errors import ProfileError

# Numbers that may be zero (costs that a board may not have); every other number must be > 0.
_MAY_BE_ZERO = {
    "cycles_per_call",
    "cycles_per_tile",
    "kernel_setup_cycles",
    "op_to_op_gap_ns",
    "read_issue_cycles",
    "write_issue_cycles",
    "read_latency_cycles",
    "write_latency_cycles",
}
# Fractions: in (0, 1].
_FRACTIONS = {"sustained_fraction", "interleaved_fraction"}
_TOP_STRINGS = ("name", "arch", "description")
_SECTIONS: dict[str, type] = {"core": CoreSpec, "dram": DramSpec, "noc": NocSpec, "dispatch": DispatchSpec}


class _Reader:
    """Walks one parsed file, collecting provenance and raising `ProfileError` naming file and key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.provenance: dict[str, Provenance] = {}

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(f"{self.path}: key '{key}': {problem}")

    def table(self, data: Any, key: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"expected a table, got {type(data).__name__}")
        return data

    def check_keys(self, data: dict[str, Any], key: str, allowed: set[str], required: set[str]) -> None:
        prefix = f"{key}." if key else ""
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.fail(prefix + unknown[0], f"unknown key (allowed: {', '.join(sorted(allowed))})")
        missing = sorted(required - set(data))
        if missing:
            raise self.fail(prefix + missing[0], "missing")

    def number(self, data: dict[str, Any], key: str, name: str, hint: Any) -> Any:
        entry = self.table(data.get(name), key)
        self.check_keys(entry, key, {"value", "tag", "source"}, {"value", "tag", "source"})
        tag, source = entry["tag"], entry["source"]
        if tag not in TAGS:
            raise self.fail(key, f"tag {tag!r} is not one of {', '.join(TAGS)}")
        if not isinstance(source, str) or not source.strip():
            raise self.fail(key, "source must be a non-empty string")
        value = self.typed(entry["value"], key, name, hint)
        self.provenance[key] = Provenance(tag=tag, source=source)
        return value

    def typed(self, value: Any, key: str, name: str, hint: Any) -> Any:
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(key, f"expected an integer, got {value!r}")
            self.physical(value, key, name)
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(key, f"expected a number, got {value!r}")
            self.physical(float(value), key, name)
            return float(value)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is tuple and args[-1] is Ellipsis:
            if not isinstance(value, list) or not value:
                raise self.fail(key, f"expected a non-empty list, got {value!r}")
            return tuple(self.typed(item, f"{key}[{i}]", name, args[0]) for i, item in enumerate(value))
        if origin is tuple:
            if not isinstance(value, list) or len(value) != len(args):
                raise self.fail(key, f"expected a list of {len(args)} values, got {value!r}")
            return tuple(
                self.typed(item, f"{key}[{i}]", "coordinate", a)
                for i, (item, a) in enumerate(zip(value, args, strict=True))
            )
        raise TypeError(f"unsupported field type {hint!r}")  # a schema bug, not a user error

    def physical(self, value: float, key: str, name: str) -> None:
        if not math.isfinite(value):
            raise self.fail(key, f"value {value!r} is not finite")
        if name == "coordinate":
            if value < 0:
                raise self.fail(key, f"NoC coordinate {value!r} must be >= 0")
        elif name in _FRACTIONS:
            if not 0 < value <= 1:
                raise self.fail(key, f"value {value!r} must be a fraction in (0, 1]")
        elif name in _MAY_BE_ZERO:
            if value < 0:
                raise self.fail(key, f"value {value!r} must be >= 0")
        elif value <= 0:
            raise self.fail(key, f"value {value!r} must be > 0")

    def record(self, cls: type, data: Any, key: str) -> Any:
        data = self.table(data, key)
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        self.check_keys(data, key, names, names)
        return cls(**{name: self.number(data, f"{key}.{name}", name, hints[name]) for name in names})

    def compute(self, data: Any) -> dict[str, FormatCompute]:
        formats = self.table(data, "compute")
        if not formats:
            raise self.fail("compute", "needs at least one data format")
        result = {}
        for fmt, body in formats.items():
            key = f"compute.{fmt}"
            body = dict(self.table(body, key))
            if "dst_tiles_half_sync" not in body:
                raise self.fail(f"{key}.dst_tiles_half_sync", "missing")
            dst = self.number(body, f"{key}.dst_tiles_half_sync", "dst_tiles_half_sync", int)
            del body["dst_tiles_half_sync"]
            costs = {name: self.record(ComputeCost, entry, f"{key}.{name}") for name, entry in body.items()}
            result[fmt] = FormatCompute(dst_tiles_half_sync=dst, costs=MappingProxyType(costs))
        return result


def load_profile_file(path: Any) -> DeviceProfile:
    """Parse and validate one profile file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"profile file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    reader = _Reader(path)
    allowed = {*_TOP_STRINGS, "clock_ghz", *_SECTIONS, "compute", "calibration"}
    reader.check_keys(data, "", allowed, allowed - {"calibration"})
    for name in _TOP_STRINGS:
        if not isinstance(data[name], str) or not data[name].strip():
            raise reader.fail(name, "must be a non-empty string")
    sections = {name: reader.record(cls, data[name], name) for name, cls in _SECTIONS.items()}
    profile = DeviceProfile(
        name=data["name"],
        arch=data["arch"],
        description=data["description"],
        clock_ghz=reader.number(data, "clock_ghz", "clock_ghz", float),
        compute=MappingProxyType(reader.compute(data["compute"])),
        provenance=MappingProxyType(reader.provenance),
        calibration=MappingProxyType(reader.table(data.get("calibration", {}), "calibration")),
        path=str(path),
        **sections,
    )
    _check_consistency(reader, profile)
    return profile


def _check_consistency(reader: _Reader, p: DeviceProfile) -> None:
    """Relations between numbers that no single value can violate on its own."""
    if p.core.l1_free_bytes > p.core.l1_bytes:
        raise reader.fail("core.l1_free_bytes", f"{p.core.l1_free_bytes} exceeds core.l1_bytes {p.core.l1_bytes}")
    if p.dram.interleaved_fraction > p.dram.sustained_fraction:
        raise reader.fail(
            "dram.interleaved_fraction",
            f"{p.dram.interleaved_fraction} exceeds dram.sustained_fraction {p.dram.sustained_fraction} "
            "(many interleaved streams cannot beat one)",
        )
    if len(p.noc.worker_noc_x) != p.core.grid_x:
        raise reader.fail("noc.worker_noc_x", f"has {len(p.noc.worker_noc_x)} entries, core.grid_x is {p.core.grid_x}")
    if len(p.noc.worker_noc_y) != p.core.grid_y:
        raise reader.fail("noc.worker_noc_y", f"has {len(p.noc.worker_noc_y)} entries, core.grid_y is {p.core.grid_y}")
    if len(p.dram.bank_noc_xy) != p.dram.num_banks:
        raise reader.fail(
            "dram.bank_noc_xy", f"has {len(p.dram.bank_noc_xy)} entries, dram.num_banks is {p.dram.num_banks}"
        )
    coords = [
        *((x, 0) for x in p.noc.worker_noc_x),
        *((0, y) for y in p.noc.worker_noc_y),
        *p.dram.bank_noc_xy,
    ]
    for x, y in coords:
        if x >= p.noc.size_x or y >= p.noc.size_y:
            raise reader.fail("noc", f"coordinate ({x}, {y}) lies outside the {p.noc.size_x} x {p.noc.size_y} NoC")
