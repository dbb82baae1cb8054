"""`perfmodel calibrate`: fit a profile's data-movement parameters to dram_unary measurements; write the profile."""

from __future__ import annotations

import argparse
import dataclasses

from perfmodel.calibration import calibrate, shipped_data, write_profile
from perfmodel.cli.common import emit_json
from perfmodel.device import load_device
from perfmodel.io.files import check_output_path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("calibrate", help="fit NoC/DRAM parameters to single-core DRAM measurements")
    parser.add_argument(
        "--data",
        default="builtin",
        help="CSV: arch,benchmark,direction,transaction_bytes,num_transactions,cycles "
        "(default 'builtin': the published measurements shipped with perfmodel)",
    )
    parser.add_argument("--device", required=True, help="board name or profile path to start from")
    parser.add_argument("--out", required=True, help="where to write the calibrated profile TOML")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path(args.out, what="--out")  # refused before the fit, not after it
    device = load_device(args.device)
    data = shipped_data() if args.data == "builtin" else args.data
    result = calibrate(device, data)
    written = write_profile(device, result, args.out)
    rows = [{**dataclasses.asdict(r), "rel_error": r.rel_error} for r in result.rows]
    if args.json:
        emit_json(
            {
                "device": written.name,
                "out": args.out,
                "data_file": result.data_file,
                "fitted": result.values,
                "median_abs_rel_error": result.median_abs_error,
                "max_abs_rel_error": result.max_abs_error,
                "rows": rows,
            }
        )
        return 0
    print(f"calibrated {written.name} from {len(rows)} {device.arch} rows of {result.data_file} -> {args.out}")
    for key, value in result.values.items():
        print(f"  {key:<34} {value:10.3f}")
    print(f"  {'direction':<9} {'bytes':>7} {'count':>5} {'measured':>10} {'model':>10} {'error':>8}")
    for r in result.rows:
        print(
            f"  {r.direction:<9} {r.transaction_bytes:>7} {r.num_transactions:>5} {r.measured_cycles:>10.0f} "
            f"{r.predicted_cycles:>10.1f} {100 * r.rel_error:>7.1f}%"
        )
    print(f"  median |error| {100 * result.median_abs_error:.1f}%, max {100 * result.max_abs_error:.1f}%")
    return 0
