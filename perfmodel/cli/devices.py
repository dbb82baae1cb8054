"""`perfmodel devices`: the shipped boards and their headline numbers; with a board, every number's tag and source."""

from __future__ import annotations

import argparse
from typing import Any

from perfmodel.cli.common import emit_json
from perfmodel.device import DeviceProfile, list_devices, load_device


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("devices", help="list the shipped board profiles, or one board's numbers with provenance")
    parser.add_argument(
        "device", nargs="?", default=None, help="a board name or profile path: list its numbers with tag and source"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def numbers(profile: DeviceProfile) -> list[dict[str, Any]]:
    """Every number of a profile by dotted key, in file order: value, tag and source."""
    rows = []
    for key, prov in profile.provenance.items():
        rows.append({"key": key, "value": _value(profile, key), "tag": prov.tag, "source": prov.source})
    return rows


def _value(profile: DeviceProfile, key: str) -> Any:
    parts = key.split(".")
    if parts[0] == "compute":
        fc = profile.compute[parts[1]]
        return fc.dst_tiles_half_sync if parts[2] == "dst_tiles_half_sync" else getattr(fc.costs[parts[2]], parts[3])
    value: Any = profile
    for part in parts:
        value = getattr(value, part)
    return [list(v) for v in value] if value and isinstance(value, tuple) and isinstance(value[0], tuple) else value


def device_rows() -> list[dict[str, Any]]:
    """The shipped boards' headline numbers and counts of numbers by tag (the JSON of `perfmodel devices`)."""
    rows = []
    for name in list_devices():
        p = load_device(name)
        tags: dict[str, int] = {}
        for prov in p.provenance.values():
            tags[prov.tag] = tags.get(prov.tag, 0) + 1
        rows.append(
            {
                "name": p.name,
                "arch": p.arch,
                "grid": [p.core.grid_x, p.core.grid_y],
                "clock_ghz": p.clock_ghz,
                "l1_bytes": p.core.l1_bytes,
                "l1_free_bytes": p.core.l1_free_bytes,
                "num_cbs": p.core.num_cbs,
                "dram_banks": p.dram.num_banks,
                "dram_bw_gbps": p.dram.peak_bandwidth_gbps,
                "tags": dict(sorted(tags.items())),
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    if args.device is not None:
        return _one(load_device(args.device), args.json)
    rows = device_rows()
    if args.json:
        emit_json(rows)
        return 0
    print(
        f"{'name':<18} {'arch':<12} {'grid':>6} {'GHz':>5} {'L1 free B':>10} {'CBs':>4} {'banks':>5} {'DRAM GB/s':>9}"
        "  numbers by tag"
    )
    for r in rows:
        grid = f"{r['grid'][0]}x{r['grid'][1]}"
        tags = " ".join(f"{tag} {count}" for tag, count in r["tags"].items())
        print(
            f"{r['name']:<18} {r['arch']:<12} {grid:>6} {r['clock_ghz']:>5} {r['l1_free_bytes']:>10} "
            f"{r['num_cbs']:>4} {r['dram_banks']:>5} {r['dram_bw_gbps']:>9}  {tags}"
        )
    print("`perfmodel devices <name>` lists every number of a board with its tag and source.")
    return 0


def _one(profile: DeviceProfile, as_json: bool) -> int:
    rows = numbers(profile)
    if as_json:
        emit_json({"name": profile.name, "arch": profile.arch, "path": profile.path, "numbers": rows})
        return 0
    print(f"{profile.name} ({profile.arch}): {profile.description}; {len(rows)} numbers from {profile.path}")
    shown = [_shown(r["value"]) for r in rows]
    key_width = max(len(r["key"]) for r in rows)
    value_width = max(map(len, shown))
    for r, value in zip(rows, shown, strict=True):
        print(f"  {r['key']:<{key_width}} {value:>{value_width}}  {r['tag']:<4}  {r['source']}")
    return 0


def _shown(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value).replace(" ", "")  # one cell per value
    return text if len(text) <= 24 else text[:21] + "..."
