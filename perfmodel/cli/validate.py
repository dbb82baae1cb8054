"""`perfmodel validate`: run the op's functional (hardware-numerics) path against an exact reference."""

from __future__ import annotations

import argparse
import dataclasses

from perfmodel.cli.common import emit_json, parse_shape, tensor_op


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("validate", help="check the numbers the op computes against a float64 reference")
    parser.add_argument("op", help="op name, e.g. centralize_w_rm")
    parser.add_argument("--shape", required=True, help="tensor shape, e.g. 1,1,64,96")
    parser.add_argument("--dtype", default="bfloat16", help="bfloat16 or float32")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the input")
    parser.add_argument("--distribution", default="uniform", choices=("uniform", "normal", "offset"))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    op = tensor_op(args.op, "validate")
    result = op.validate(parse_shape(args.shape), dtype=args.dtype, seed=args.seed, distribution=args.distribution)
    fields = dataclasses.asdict(result)
    if args.json:
        emit_json(fields)
    else:
        verdict = "passed" if result.passed else "FAILED"
        print(f"{verdict}: {args.op} {args.shape} {args.dtype} ({args.distribution}, seed {args.seed})")
        for key, value in fields.items():
            if key != "passed":
                print(f"  {key:<17} {value}")
    return 0 if result.passed else 1
