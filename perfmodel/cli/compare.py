"""`perfmodel compare`: predictions against the measured rows of a tt-metal profiler CSV (ops_perf_results)."""

from __future__ import annotations

import argparse

from perfmodel.cli.common import emit_json, positive_int
from perfmodel.io.compare import ENGINES, compare


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("compare", help="predicted vs measured for the rows of an ops_perf_results CSV")
    parser.add_argument("--perf-csv", required=True, metavar="FILE", help="tt-metal ops_perf_results CSV")
    parser.add_argument(
        "--device", default=None, help="board name or profile path where the file cannot say (e.g. blackhole_p100a)"
    )
    parser.add_argument(
        "--engine", choices=(*ENGINES, "both"), default="both", help="which engine(s) predict (default: both)"
    )
    parser.add_argument(
        "--worker-cores",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker cores the op could use, for a file without AVAILABLE WORKER CORE COUNT",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}%"


def run(args: argparse.Namespace) -> int:
    engines = ENGINES if args.engine == "both" else (args.engine,)
    result = compare(args.perf_csv, device=args.device, engines=engines, worker_cores=args.worker_cores)
    if args.json:
        emit_json(result.to_dict())
        return 0
    modelled = sum(len(r.group.lines) for r in result.rows)
    print(f"{result.file}: {modelled} modelled rows in {len(result.rows)} problems")
    head = "".join(f" {e + ' ns':>12} {'error':>8}" for e in engines)
    print(f"  {'op':<28} {'device':<16} {'shape':<22} {'cores':>9} {'rows':>4} {'measured ns':>12}{head}")
    for r in result.rows:
        g = r.group
        measured_cores = next((c for c in g.core_counts if c is not None), None)
        cores = f"{r.core_count_model}/{measured_cores if measured_cores is not None else '-'}"
        preds = "".join(f" {r.predicted_ns[e]:>12,.0f} {_pct(r.error(e)):>8}" for e in engines)
        shape = "x".join(str(d) for d in g.problem.shape)
        print(
            f"  {g.op_code:<28} {g.device.name:<16} {shape:<22} {cores:>9} {len(g.lines):>4} {g.median_ns:>12,.0f}"
            f"{preds}"
        )
    if result.summaries:
        print("  per op (|error|):")
        for s in result.summaries:
            tau = "-" if s.kendall_tau is None else f"{s.kendall_tau:+.2f}"
            print(
                f"    {s.op_code:<28} {s.engine:<9} {s.groups:>4} problems  median {100 * s.median_abs_error:.1f}%"
                f"  max {100 * s.max_abs_error:.1f}%  Kendall tau {tau}"
            )
    if result.skipped:
        print("  skipped rows:")
        for reason, lines in result.skipped.items():
            print(f"    {len(lines):>5}  {reason}")
    if result.unmodelled:
        print("  rows of op codes no op models:")
        for code, count in result.unmodelled.items():
            print(f"    {count:>5}  {code or '(empty OP CODE)'}")
    return 0
