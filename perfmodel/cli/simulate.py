"""`perfmodel simulate`: run one program in the discrete-event simulator; time, bound, stalls, or the hang."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from perfmodel.checks import check
from perfmodel.cli.common import (
    add_op_arguments,
    build_program_from_args,
    emit_json,
    positive_float,
    positive_int,
    print_deadlock,
    print_verdict,
    run_payload,
    verdict_code,
)
from perfmodel.des import DeadlockError, simulate
from perfmodel.des.engine import default_max_events
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
    parser.add_argument(
        "--max-events",
        type=positive_int,
        default=None,
        metavar="N",
        help="stop after N events or kernel calls (default: 20x the program's expected work, at least 50,000,000)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="stop after this much wall time (default: no limit; a terminal shows progress)",
    )
    parser.set_defaults(run=run)


class _Progress:
    """A tqdm bar on stderr (a terminal only): events processed, with the simulated cycle reached."""

    def __init__(self, total_events: int) -> None:
        from tqdm import tqdm

        # The total is the event bound: the bar shows how far the run is from being stopped by it.
        self._bar = tqdm(total=total_events, unit=" events", unit_scale=True, leave=False, file=sys.stderr)
        self._seen = 0

    def __call__(self, now_cycles: float, events: int) -> None:
        self._bar.update(events - self._seen)
        self._seen = events
        self._bar.set_postfix_str(f"cycle {now_cycles:,.0f}", refresh=False)

    def close(self) -> None:
        self._bar.close()


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
    limit = args.max_events or default_max_events(program)
    progress = _Progress(limit) if sys.stderr.isatty() else None
    try:
        result = simulate(program, trace_path=args.trace, max_events=limit, timeout_s=args.timeout, progress=progress)
    except DeadlockError as exc:
        hang = exc
    else:
        hang = None
    finally:
        if progress:
            progress.close()
    if hang is not None:
        return print_deadlock(hang, program, "des", args.json)
    if args.perf_csv:
        write_perf_csv(args.perf_csv, [result_row(result, program)])
    if args.json:
        emit_json(run_payload(result, stall_summary(result), report))
        return verdict_code(report)
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
        print(f"  check: {v.kind}: {v.message}")
    if args.trace:
        print(f"  timeline written to {args.trace}")
    if args.perf_csv:
        print(f"  ops_perf_results row written to {args.perf_csv}")
    return print_verdict(report)
