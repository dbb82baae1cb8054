"""`perfmodel estimate`: the analytic model's kernel duration of one program (same flags and JSON as simulate)."""

from __future__ import annotations

import argparse

from perfmodel.analytic import estimate
from perfmodel.cli.common import add_op_arguments, build_program_from_args, emit_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("estimate", help="analytic estimate of the kernel duration and what bounds it")
    add_op_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = estimate(build_program_from_args(args))
    if args.json:
        emit_json(result.to_dict())
        return 0
    print(
        f"{result.op_name} {list(result.shape)} {result.dtype} on {result.device}: "
        f"{result.kernel_duration_ns / 1000:.2f} us ({result.cycles:.0f} cycles), bound: {result.bound}"
    )
    print(f"  cores {result.num_cores}, L1 per core {result.l1_bytes_per_core} B, DRAM {result.dram_bytes} B")
    ratio = result.kernel_duration_ns / result.dram_roofline_ns if result.dram_roofline_ns else float("inf")
    print(f"  DRAM roofline {result.dram_roofline_ns / 1000:.2f} us ({ratio:.1f}x of it)")
    for name, value in result.stages.items():
        print(f"  {name:<28} {value:>14.1f}")
    return 0
