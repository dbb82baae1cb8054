"""`perfmodel estimate`: the analytic model's kernel duration of one program (same flags and JSON as simulate)."""

from __future__ import annotations

import argparse

from perfmodel.analytic import estimate
from perfmodel.checks import check
from perfmodel.cli.common import (
    add_op_arguments,
    build_program_from_args,
    emit_json,
    print_deadlock,
    print_verdict,
    run_payload,
    verdict_code,
)
from perfmodel.des import DeadlockError
from perfmodel.io.perf_out import check_target, result_row, write_perf_csv
from perfmodel.result import RunResult


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("estimate", help="analytic estimate of the kernel duration and what bounds it")
    add_op_arguments(parser)
    parser.add_argument(
        "--perf-csv", default=None, metavar="PATH", help="also write the prediction as an ops_perf_results CSV row"
    )
    parser.set_defaults(run=run)


def stall_summary(result: RunResult) -> dict:
    """The slowest core's time per kernel not spent working: its end minus setup minus units x work per unit."""
    s = result.stages
    units = s.get("units_slowest_core", 0.0)
    blocked = {}
    for key in s:
        if key.endswith("_end_cycles"):
            name = key.removesuffix("_end_cycles")
            busy = units * s.get(f"{name}_cycles_per_unit", 0.0)
            blocked[name] = max(s[key] - s.get("setup_cycles", 0.0) - busy, 0.0)
    return {"cores": [{"core": "slowest", "blocked_cycles": blocked}], "cbs": []}


def run(args: argparse.Namespace) -> int:
    if args.perf_csv:
        check_target(args.perf_csv)
    program = build_program_from_args(args)
    report = check(program)
    try:
        result = estimate(program)
    except DeadlockError as exc:
        # The same verdict and report as `simulate` gives, without a cycle (the analytic model does not time it).
        return print_deadlock(exc, program, "analytic", args.json)
    if args.perf_csv:
        write_perf_csv(args.perf_csv, [result_row(result, program)])
    if args.json:
        emit_json(run_payload(result, stall_summary(result), report))
        return verdict_code(report)
    print(
        f"{result.op_name} {list(result.shape)} {result.dtype} on {result.device}: "
        f"{result.kernel_duration_ns / 1000:.2f} us ({result.cycles:.0f} cycles), bound: {result.bound}"
    )
    print(f"  cores {result.num_cores}, L1 per core {result.l1_bytes_per_core} B, DRAM {result.dram_bytes} B")
    ratio = result.kernel_duration_ns / result.dram_roofline_ns if result.dram_roofline_ns else float("inf")
    print(f"  DRAM roofline {result.dram_roofline_ns / 1000:.2f} us ({ratio:.1f}x of it)")
    width = max([28, *map(len, result.stages)])  # long stage names widen the column, never shift the numbers
    for name, value in result.stages.items():
        print(f"  {name:<{width}} {value:>14.1f}")
    for v in report.violations:
        print(f"  check: {v.kind}: {v.message}")
    if args.perf_csv:
        print(f"  ops_perf_results row written to {args.perf_csv}")
    return print_verdict(report)
