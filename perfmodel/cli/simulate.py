"""`perfmodel simulate`: run one program in the discrete-event simulator; time, bound, stalls, or the hang."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from perfmodel.checks import check
from perfmodel.cli.common import add_op_arguments, build_program_from_args, emit_json, run_payload
from perfmodel.des import DeadlockError, simulate
from perfmodel.errors import InputError
from perfmodel.io.perf_out import check_target, result_row, write_perf_csv
from perfmodel.result import RunResult


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("simulate", help="discrete-event simulation: kernel duration, stalls, deadlocks")
    add_op_arguments(parser)
    parser.add_argument(
        "--perf-csv", default=None, metavar="PATH", help="also write the prediction as an ops_perf_results CSV row"
    )
    parser.add_argument("--trace", default=None, metavar="PATH", help="write a Perfetto (Chrome trace JSON) timeline")
    parser.set_defaults(run=run)


class _Progress:
    """A one-line progress meter on stderr, at most a few updates per second."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, now_cycles: float, events: int) -> None:
        t = time.monotonic()
        if t - self._last > 0.25:
            self._last = t
            sys.stderr.write(f"\rsimulating: {now_cycles:,.0f} cycles, {events:,} events")
            sys.stderr.flush()

    def close(self) -> None:
        if self._last:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def stall_summary(result: RunResult) -> dict:
    """Per core, where each kernel / thread waited most; per CB, total blocked cycles by call."""
    cores = []
    for entry in result.per_core:
        worst = {}
        for name, stats in entry.items():
            if isinstance(stats, dict) and "blocked_cycles" in stats:
                worst[name] = stats["blocked_cycles"]
        cores.append({"core": entry["core"], "blocked_cycles": worst})
    cbs = [{"index": cb["index"], "name": cb["name"], "blocked_cycles": cb["blocked_cycles"]} for cb in result.per_cb]
    return {"cores": cores, "cbs": cbs}


def run(args: argparse.Namespace) -> int:
    if args.trace and not Path(args.trace).resolve().parent.is_dir():
        # Say so before a long simulation, not after it.
        raise InputError(f"--trace {args.trace}: folder {Path(args.trace).resolve().parent} does not exist")
    if args.perf_csv:
        check_target(args.perf_csv)
    program = build_program_from_args(args)
    # The simulator times what it is given; static problems (L1 overflow, CB misuse) are reported alongside.
    report = check(program)
    progress = _Progress() if (sys.stderr.isatty() and not args.json) else None
    try:
        result = simulate(program, trace_path=args.trace, progress=progress)
    except DeadlockError as exc:
        if progress:
            progress.close()
        if args.json:
            emit_json({"backend": "des", "op": program.op_name, "deadlock": exc.to_dict(), "message": str(exc)})
        else:
            print(f"DEADLOCK: {program.op_name} {list(program.shape)} on {program.device.name}")
            print(str(exc))
        return 1
    if progress:
        progress.close()
    if args.perf_csv:
        write_perf_csv(args.perf_csv, [result_row(result, program)])
    if args.json:
        emit_json(run_payload(result, stall_summary(result), report))
        return 0
    print(
        f"{result.op_name} {list(result.shape)} {result.dtype} on {result.device}: "
        f"{result.kernel_duration_ns:,.0f} ns ({result.cycles:,.0f} cycles) on {result.num_cores} cores, "
        f"bound: {result.bound}"
    )
    print(
        f"  DRAM roofline {result.dram_roofline_ns:,.0f} ns for {result.dram_bytes:,} bytes; "
        f"L1 {result.l1_bytes_per_core:,} B per core"
    )
    fractions = result.utilisation.get("bound_fractions", {})
    print("  busy fractions: " + ", ".join(f"{k} {v:.2f}" for k, v in fractions.items()))
    for key, value in result.stages.items():
        print(f"  {key:<32} {value:>14,.0f}")
    for cb in result.per_cb:
        blocked = ", ".join(f"{who} {v:,.0f}" for who, v in cb["blocked_cycles"].items()) or "-"
        print(
            f"  c_{cb['index']:<2} {cb['name']:<16} max {cb['max_occupancy_pages']:>4} of {cb['capacity_pages']:>4} "
            f"pages; blocked: {blocked}"
        )
    for v in report.violations:
        print(f"  warning: {v.kind}: {v.message}")
    if args.trace:
        print(f"  timeline written to {args.trace}")
    if args.perf_csv:
        print(f"  ops_perf_results row written to {args.perf_csv}")
    return 0
