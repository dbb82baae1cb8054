"""`perfmodel sweep SPEC.toml --out results.parquet`: every point of a sweep spec into one table, resumable."""

from __future__ import annotations

import argparse
import sys

from perfmodel.cli.common import emit_json
from perfmodel.io.perf_out import check_target
from perfmodel.sweep import run_sweep
from perfmodel.sweep.output import read_table
from perfmodel.sweep.perf import write_sweep_perf_csv


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sweep", help="run a sweep spec (TOML) into a Parquet or CSV table; rerun the same command to resume"
    )
    parser.add_argument("spec", help="sweep spec, e.g. sweeps/centralize_w_rm_wormhole.toml")
    parser.add_argument("--out", required=True, help="output table: Parquet, or CSV when it ends in .csv")
    parser.add_argument("--workers", type=int, default=None, help="local processes for DES points (default: CPUs)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an output and checkpoint made by a different sweep"
    )
    parser.add_argument(
        "--perf-csv", default=None, metavar="PATH", help="also write the feasible rows as an ops_perf_results CSV"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.perf_csv:
        check_target(args.perf_csv)  # refused before the sweep, not after it
    try:
        summary = run_sweep(
            args.spec, args.out, workers=args.workers, scheduler=args.scheduler, overwrite=args.overwrite
        )
    except KeyboardInterrupt:
        sys.stderr.write("perfmodel: interrupted; finished points are kept, rerun the same command to resume\n")
        return 130
    if args.perf_csv:
        write_sweep_perf_csv(summary.op, read_table(summary.out), args.perf_csv)
    if args.json:
        emit_json(summary.to_dict())
        return 0
    print(
        f"{summary.rows} rows ({summary.points} points x {', '.join(summary.backends)}) of {summary.op} "
        f"in {summary.out}: {summary.computed_rows} computed, {summary.resumed_rows} from the checkpoint, "
        f"{summary.infeasible_rows} infeasible, {summary.wall_s:.1f} s"
    )
    if args.perf_csv:
        print(f"  ops_perf_results rows written to {args.perf_csv}")
    return 0
