"""`perfmodel microbench`: run a microbenchmark op (e.g. dram_unary) and print its cycles and bandwidth.

Microbenchmarks are programs described by a few transfer parameters, not by a tensor shape, so the op
subcommands (check, simulate, estimate, validate) do not take them; this one does.
"""

from __future__ import annotations

import argparse

from perfmodel.cli.common import emit_json, positive_float, positive_int
from perfmodel.errors import InputError
from perfmodel.op import get_op, list_ops


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("microbench", help="single-core microbenchmarks: dram_unary read / write bandwidth")
    parser.add_argument("op", help="microbenchmark op, e.g. dram_unary")
    parser.add_argument("--direction", default="read", choices=("read", "write"), help="DRAM -> L1 or L1 -> DRAM")
    parser.add_argument("--bytes", type=positive_int, default=2048, help="bytes per transaction (default 2048)")
    parser.add_argument("--count", type=positive_int, default=1, help="number of transactions (default 1)")
    parser.add_argument("--bank", type=int, default=0, help="DRAM bank (default 0)")
    parser.add_argument("--core", default="0,0", help="worker core X,Y (default 0,0)")
    parser.add_argument(
        "--device", default="wormhole_b0_n150", help="board name or profile path (default: wormhole_b0_n150)"
    )
    parser.add_argument("--max-events", type=positive_int, default=None, metavar="N", help="as for simulate")
    parser.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS", help="as for simulate")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def microbench_ops() -> list[str]:
    """The shipped ops that are microbenchmarks (their `OP.microbench` is true)."""
    return [name for name in list_ops() if getattr(get_op(name), "microbench", False)]


def _core(text: str) -> tuple[int, int]:
    try:
        x, y = (int(p) for p in text.lower().replace("x", ",").split(","))
    except ValueError:
        raise InputError(f"malformed core {text!r}: expected X,Y such as 0,0") from None
    return x, y


def run(args: argparse.Namespace) -> int:
    from perfmodel.calibration.dram_unary import dram_unary_cycles
    from perfmodel.des import simulate
    from perfmodel.ops.dram_unary.kernels import ZONE

    known = microbench_ops()
    if args.op not in known:
        raise InputError(f"{args.op!r} is not a microbenchmark op (microbenchmarks: {', '.join(known)})")
    op = get_op(args.op)
    program = op.build_program(
        device=args.device,
        direction=args.direction,
        transaction_bytes=args.bytes,
        num_transactions=args.count,
        bank=args.bank,
        core=_core(args.core),
    )
    result = simulate(program, max_events=args.max_events, timeout_s=args.timeout)
    cycles = float(result.details["zones"][ZONE])
    total = args.bytes * args.count
    device = program.device
    closed = dram_unary_cycles(device, args.direction, args.bytes, args.count)
    payload = {
        "op": args.op,
        "device": device.name,
        "direction": args.direction,
        "transaction_bytes": args.bytes,
        "num_transactions": args.count,
        "bank": program.config.bank,
        "core": list(program.config.core),
        "bytes": total,
        "cycles": cycles,
        "bytes_per_cycle": total / cycles,
        "bandwidth_gbps": total / device.cycles_to_ns(cycles),
        "closed_form_cycles": closed,
    }
    if args.json:
        emit_json(payload)
        return 0
    print(
        f"{args.op} {args.direction} {args.count} x {args.bytes} B on {device.name} (bank {payload['bank']}, "
        f"core {tuple(payload['core'])}): {cycles:,.0f} cycles, {payload['bytes_per_cycle']:.2f} B/cycle, "
        f"{payload['bandwidth_gbps']:.2f} GB/s"
    )
    print(f"  closed form {closed:,.0f} cycles (the simulator's packet rules, summed)")
    return 0
