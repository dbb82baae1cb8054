"""`perfmodel devices`: the shipped boards and their headline numbers."""

from __future__ import annotations

import argparse

from perfmodel.cli.common import emit_json
from perfmodel.device import list_devices, load_device


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("devices", help="list the shipped board profiles")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def device_rows() -> list[dict]:
    """The shipped boards' headline numbers, one dict each (the JSON of `perfmodel devices --json`)."""
    rows = []
    for name in list_devices():
        p = load_device(name)
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
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = device_rows()
    if args.json:
        emit_json(rows)
        return 0
    print(
        f"{'name':<18} {'arch':<12} {'grid':>6} {'GHz':>5} {'L1 free B':>10} {'CBs':>4} {'banks':>5} {'DRAM GB/s':>9}"
    )
    for r in rows:
        grid = f"{r['grid'][0]}x{r['grid'][1]}"
        print(
            f"{r['name']:<18} {r['arch']:<12} {grid:>6} {r['clock_ghz']:>5} {r['l1_free_bytes']:>10} "
            f"{r['num_cbs']:>4} {r['dram_banks']:>5} {r['dram_bw_gbps']:>9}"
        )
    return 0
