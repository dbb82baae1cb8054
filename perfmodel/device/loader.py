"""Read a board profile TOML file into a `DeviceProfile`, rejecting anything malformed or non-physical.

Every number in a profile file is an inline table `{ value = ..., tag = "...", source = "..." }`; the
value lands in the frozen record and the tag and source in `profile.provenance` under the dotted key.
Each error names the file and the key. `validate_profile` applies the same rules to a profile built in
Python (`DeviceProfile.evolve`), naming the key and value.

Accepted ranges, by the unit in the field name (a value outside is a typo, not a board):
- `*_ghz` clock: 0.01 to 10 GHz;
- `*_gbps` bandwidth: 0.001 to 10^6 GB/s;
- `*_bytes_per_cycle` bandwidth: 0.001 to 10^4 B/cycle;
- `*_cycles`, `cycles_per_*` and `*_cycles_per_tile` / `*_cycles_per_phase` costs and latencies: 0 to 10^9
  cycles (one second at 1 GHz);
- `*_ns` host gaps: 0 to 10^9 ns;
- `*_bytes` sizes: 1 B to 2^50 B (1 PiB); `*alignment_bytes` also a power of two;
- counts (grid, banks, CBs, NoC size, Dst tiles): 1 to 1024; NoC coordinates: 0 to 1023;
- `sustained_fraction`: in (0, 1].
Compute costs must name a call of `COMPUTE_CALLS` and a data format of `perfmodel.numerics.formats.FORMATS`;
each gives `cycles_per_call` and the three thread parts `unpack_cycles_per_tile`, `math_cycles_per_tile`,
`pack_cycles_per_tile`, optionally `math_cycles_per_phase` (default 0) and `cycles_per_tile` (default: the
slowest thread at LoFi, recorded in the provenance as derived from the slowest part).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from perfmodel.device.profile import (
    COMPUTE_CALLS,
    TAGS,
    ComputeCost,
    CoreSpec,
    DeviceProfile,
    DispatchSpec,
    DramSpec,
    DstSpec,
    FormatCompute,
    NocSpec,
    Provenance,
)
from perfmodel.errors import ProfileError
from perfmodel.numerics.formats import FORMATS

# Numbers that may be zero (costs that a board may not have); every other number must be > 0.
_MAY_BE_ZERO = {
    "cycles_per_call",
    "cycles_per_tile",
    "unpack_cycles_per_tile",
    "math_cycles_per_tile",
    "pack_cycles_per_tile",
    "math_cycles_per_phase",
    "acquire_cycles",
    "kernel_setup_cycles",
    "op_to_op_gap_ns",
    "read_issue_cycles",
    "write_issue_cycles",
    "read_latency_cycles",
    "write_latency_cycles",
}
# Fractions: in (0, 1].
_FRACTIONS = {"sustained_fraction", "interleaved_fraction"}
_MAX_COUNT = 1024
_TOP_STRINGS = ("name", "arch", "description")
_SECTIONS: dict[str, type] = {
    "core": CoreSpec,
    "dram": DramSpec,
    "noc": NocSpec,
    "dispatch": DispatchSpec,
    "dst": DstSpec,
}
# A compute cost's keys: these are required, `_COST_OPTIONAL` may be left out.
_COST_REQUIRED = ("cycles_per_call", "unpack_cycles_per_tile", "math_cycles_per_tile", "pack_cycles_per_tile")
_COST_OPTIONAL = ("cycles_per_tile", "math_cycles_per_phase")


def dst_tiles_half_sync(fmt: str, dst: DstSpec) -> int:
    """SyncHalf tiles per acquire for data of `fmt` at its default Dst width (32-bit for float32)."""
    return dst.tiles_per_acquire(fmt == "float32", False)


class _Reader:
    """Walks one parsed file, collecting provenance and raising `ProfileError` naming file and key."""

    def __init__(self, path: Path | str) -> None:
        self.path = path  # the file, or what built the profile (e.g. "wormhole_b0_n150.evolve")
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
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise self.fail(key, f"expected an integer, got {value!r}")
            self.physical(int(value), key, name)
            return int(value)
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise self.fail(key, f"expected a number, got {value!r}")
            self.physical(float(value), key, name)
            return float(value)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is tuple and args[-1] is Ellipsis:
            if not isinstance(value, list | tuple) or not value:
                raise self.fail(key, f"expected a non-empty list, got {value!r}")
            return tuple(self.typed(item, f"{key}[{i}]", name, args[0]) for i, item in enumerate(value))
        if origin is tuple:
            if not isinstance(value, list | tuple) or len(value) != len(args):
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
        low, high, unit = _accepted_range(name)
        if not low <= value <= high:
            raise self.fail(key, f"value {value!r} is outside the accepted range [{low:g}, {high:g}] {unit}")
        if name.endswith("alignment_bytes") and int(value) & (int(value) - 1):
            raise self.fail(key, f"value {value!r} must be a power of two")

    def record(self, cls: type, data: Any, key: str) -> Any:
        data = self.table(data, key)
        hints = _hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]  # a list: provenance in the record's field order
        self.check_keys(data, key, set(names), set(names))
        return cls(**{name: self.number(data, f"{key}.{name}", name, hints[name]) for name in names})

    def known_call(self, name: str, key: str) -> None:
        if name not in COMPUTE_CALLS:
            raise self.fail(key, f"unknown compute call {name!r} (known: {', '.join(COMPUTE_CALLS)})")

    def cost(self, data: Any, key: str) -> ComputeCost:
        """One compute cost: the required keys, the optional ones (see the module docstring)."""
        data = self.table(data, key)
        self.check_keys(data, key, {*_COST_REQUIRED, *_COST_OPTIONAL}, set(_COST_REQUIRED))
        values = {name: self.number(data, f"{key}.{name}", name, float) for name in _COST_REQUIRED}
        phase = 0.0
        if "math_cycles_per_phase" in data:
            phase = self.number(data, f"{key}.math_cycles_per_phase", "math_cycles_per_phase", float)
        parts = {
            "unpack_cycles_per_tile": values["unpack_cycles_per_tile"],
            "math_cycles_per_tile": values["math_cycles_per_tile"] + phase,
            "pack_cycles_per_tile": values["pack_cycles_per_tile"],
        }
        if "cycles_per_tile" in data:
            per_tile = self.number(data, f"{key}.cycles_per_tile", "cycles_per_tile", float)
        else:
            slowest = max(parts, key=lambda name: parts[name])
            per_tile = parts[slowest]
            field = "math_cycles_per_phase" if slowest == "math_cycles_per_tile" and phase else slowest
            self.provenance[f"{key}.cycles_per_tile"] = Provenance(
                tag=self.provenance[f"{key}.{field}"].tag,
                source=f"derived: the slowest thread at LoFi ({slowest.split('_')[0]})",
            )
        return ComputeCost(cycles_per_tile=per_tile, math_cycles_per_phase=phase, **values)

    def compute(self, data: Any, dst: DstSpec) -> dict[str, FormatCompute]:
        formats = self.table(data, "compute")
        if not formats:
            raise self.fail("compute", "needs at least one data format")
        result = {}
        for fmt, body in formats.items():
            key = f"compute.{fmt}"
            if fmt not in FORMATS:
                raise self.fail(key, f"unknown data format {fmt!r} (known: {', '.join(sorted(FORMATS))})")
            body = dict(self.table(body, key))
            if "dst_tiles_half_sync" in body:
                raise self.fail(
                    f"{key}.dst_tiles_half_sync", "no longer a per-format number: the [dst] section gives the Dst"
                )
            for name in body:
                self.known_call(name, f"{key}.{name}")
            costs = {name: self.cost(entry, f"{key}.{name}") for name, entry in body.items()}
            result[fmt] = FormatCompute(
                dst_tiles_half_sync=dst_tiles_half_sync(fmt, dst), costs=MappingProxyType(costs)
            )
        return result


def load_profile_file(path: Any) -> DeviceProfile:
    """Parse and validate one profile file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"profile file not found: {path}") from None
    except IsADirectoryError:
        raise ProfileError(f"profile {str(path)!r} is a folder, not a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); is it a TOML profile?") from None
    except OSError as exc:
        raise ProfileError(f"profile file {str(path)!r} cannot be read: {exc.strerror}") from None
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
        compute=MappingProxyType(reader.compute(data["compute"], sections["dst"])),
        provenance=MappingProxyType(reader.provenance),
        calibration=MappingProxyType(reader.table(data.get("calibration", {}), "calibration")),
        path=str(path),
        **sections,
    )
    _check_consistency(reader, profile)
    return profile


def validate_profile(profile: DeviceProfile, origin: str) -> DeviceProfile:
    """`profile` with every number checked by the loader's rules (and ints of float fields made floats).

    For profiles built in Python (`DeviceProfile.evolve`); a `ProfileError` names `origin`, the key and the value.
    """
    reader = _Reader(origin)
    for name in _TOP_STRINGS:
        if not isinstance(getattr(profile, name), str) or not getattr(profile, name).strip():
            raise reader.fail(name, f"must be a non-empty string, got {getattr(profile, name)!r}")
    sections = {}
    for section, cls in _SECTIONS.items():
        record = getattr(profile, section)
        if not isinstance(record, cls):
            raise reader.fail(section, f"expected a {cls.__name__}, got {type(record).__name__}")
        hints = _hints(cls)
        sections[section] = cls(
            **{
                f.name: reader.typed(getattr(record, f.name), f"{section}.{f.name}", f.name, hints[f.name])
                for f in dataclasses.fields(cls)
            }
        )
    if not isinstance(profile.compute, Mapping) or not profile.compute:
        raise reader.fail("compute", f"expected a mapping of data formats, got {profile.compute!r}")
    compute = {}
    for fmt, body in profile.compute.items():
        key = f"compute.{fmt}"
        if not isinstance(body, FormatCompute):
            raise reader.fail(key, f"expected a FormatCompute, got {type(body).__name__}")
        if fmt not in FORMATS:
            raise reader.fail(key, f"unknown data format {fmt!r} (known: {', '.join(sorted(FORMATS))})")
        dst = dst_tiles_half_sync(fmt, sections["dst"])
        costs = {}
        for call, cost in body.costs.items():
            reader.known_call(call, f"{key}.{call}")
            costs[call] = ComputeCost(
                **{
                    f.name: reader.typed(getattr(cost, f.name), f"{key}.{call}.{f.name}", f.name, float)
                    for f in dataclasses.fields(ComputeCost)
                }
            )
        compute[fmt] = FormatCompute(dst_tiles_half_sync=dst, costs=MappingProxyType(costs))
    checked = dataclasses.replace(
        profile,
        clock_ghz=reader.typed(profile.clock_ghz, "clock_ghz", "clock_ghz", float),
        compute=MappingProxyType(compute),
        **sections,
    )
    _check_consistency(reader, checked)
    return checked


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _accepted_range(name: str) -> tuple[float, float, str]:
    """(low, high, unit) of a field, from the unit in its name (see the module docstring)."""
    if name == "coordinate":
        return 0, _MAX_COUNT - 1, "(NoC coordinate)"
    if name in _FRACTIONS:
        return 0, 1, "(fraction)"
    for suffix, low, high, unit in _UNIT_RANGES:
        if name.endswith(suffix) or name.startswith(suffix):
            return low, high, unit
    return 1, _MAX_COUNT, "(count)"


# (suffix or prefix of the field name, low, high, unit), first match wins.
_UNIT_RANGES: tuple[tuple[str, float, float, str], ...] = (
    ("_ghz", 0.01, 10.0, "GHz"),
    ("_gbps", 1e-3, 1e6, "GB/s"),
    ("_bytes_per_cycle", 1e-3, 1e4, "B/cycle"),
    ("_cycles", 0.0, 1e9, "cycles"),
    ("_cycles_per_tile", 0.0, 1e9, "cycles"),
    ("_cycles_per_phase", 0.0, 1e9, "cycles"),
    ("cycles_per_", 0.0, 1e9, "cycles"),
    ("_ns", 0.0, 1e9, "ns"),
    ("_bytes", 1, 2**50, "bytes"),
)


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
