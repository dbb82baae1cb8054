"""`perfmodel calibrate`: fit a profile to measurements and write it.

`--data`: the data-movement parameters from single-core dram_unary measurements. `--perf-csv`: whatever
parameters the modelled rows of a tt-metal profiler CSV exercise and identify (`calibration.perf_fit`).
"""

from __future__ import annotations

import argparse
import dataclasses

from perfmodel.calibration import calibrate, shipped_data, write_profile
from perfmodel.cli.common import emit_json
from perfmodel.device import load_device
from perfmodel.io.files import check_output_path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "calibrate", help="fit a profile to dram_unary measurements (--data) or to real op runs (--perf-csv)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--data",
        default="builtin",
        help="CSV: arch,benchmark,direction,transaction_bytes,num_transactions,cycles "
        "(default 'builtin': the published measurements shipped with perfmodel)",
    )
    source.add_argument("--perf-csv", metavar="FILE", help="tt-metal ops_perf_results CSV of real op runs")
    parser.add_argument(
        "--holdout", type=float, default=0.0, help="with --perf-csv: share of the problems left out of the fit"
    )
    parser.add_argument("--keys", default=None, help="with --perf-csv: comma-separated profile keys to consider")
    parser.add_argument("--device", required=True, help="board name or profile path to start from")
    parser.add_argument("--out", required=True, help="where to write the calibrated profile TOML")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path(args.out, what="--out")  # refused before the fit, not after it
    if args.perf_csv:
        return run_perf_csv(args)
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


def _pct(summary: dict | None, key: str) -> str:
    return "-" if summary is None else f"{100 * summary[key]:.1f}%"


def run_perf_csv(args: argparse.Namespace) -> int:
    """Fit to the modelled rows of a profiler CSV, print per-problem residuals and held-out errors, write."""
    from perfmodel.calibration.perf_fit import fit_perf_rows
    from perfmodel.calibration.perf_writer import write_perf_fit

    device = load_device(args.device)
    keys = [k.strip() for k in args.keys.split(",") if k.strip()] if args.keys else None
    result = fit_perf_rows(args.perf_csv, device, keys=keys, holdout=args.holdout)
    written = write_perf_fit(device, result, args.out)
    if args.json:
        emit_json({**result.to_dict(), "out": args.out, "device": written.name})
        return 0
    print(f"calibrated {written.name} from {len(result.problems)} problems of {args.perf_csv} -> {args.out}")
    for key, value in result.values.items():
        print(f"  {key:<44} {result.start[key]:>10.3f} -> {value:10.3f}")
    for key, reason in result.refused.items():
        print(f"  refused {key}: {reason}")
    print(f"  not exercised by these rows: {len(result.not_exercised)} keys")
    print(f"  {'problem':<72} {'measured ns':>12} {'before':>8} {'after':>8}")
    for p in result.problems:
        label = p.description["label"] + (" (held out)" if p.held_out else "")
        print(f"  {label:<72} {p.measured_ns:>12,.0f} {100 * p.error_before:>7.1f}% {100 * p.error_after:>7.1f}%")
    for name, held in (("fit", False), ("held out", True)):
        before, after = result.summary(held_out=held, after=False), result.summary(held_out=held)
        if after is not None:
            print(
                f"  {name}: median |error| {_pct(before, 'median_abs_error')} -> {_pct(after, 'median_abs_error')}, "
                f"max {_pct(before, 'max_abs_error')} -> {_pct(after, 'max_abs_error')} ({after['problems']} problems)"
            )
    return 0
