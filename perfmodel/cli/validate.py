"""`perfmodel validate`: run the op's functional (hardware-numerics) path against an exact reference."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

from perfmodel.cli.common import add_config_arguments, config_from_args, emit_json, parse_shape, tensor_op
from perfmodel.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("validate", help="check the numbers the op computes against a float64 reference")
    parser.add_argument("op", help="op name, e.g. centralize_w_rm")
    parser.add_argument("--shape", required=True, help="tensor shape, e.g. 1,1,64,96")
    parser.add_argument("--dtype", default="bfloat16", help="bfloat16 or float32")
    parser.add_argument(
        "--device",
        default="wormhole_b0_n150",
        help="board whose factory checks a given config (the numbers do not depend on it; default: wormhole_b0_n150)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the input")
    parser.add_argument("--distribution", default="uniform", choices=("uniform", "normal", "offset"))
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    op = tensor_op(args.op, "validate")
    given = config_from_args(op, args)
    kwargs = {}
    config = None
    if "config" in inspect.signature(op.validate).parameters:
        config = op.Config.coerce(given)
        kwargs["config"] = config
        if given:
            # A configuration the factory refuses (a bad fidelity, block_wt without two_pass) is refused here too.
            op.build_program(parse_shape(args.shape), device=args.device, dtype=args.dtype, config=config)
    elif given:
        raise InputError(
            f"{args.op}'s numerics take no config: {', '.join(sorted(given))} cannot change what validate computes"
        )
    result = op.validate(
        parse_shape(args.shape), dtype=args.dtype, seed=args.seed, distribution=args.distribution, **kwargs
    )
    fields = dataclasses.asdict(result)
    shown = None if config is None else {k: v for k, v in dataclasses.asdict(config).items()}
    if args.json:
        emit_json(fields if shown is None else {**fields, "config": shown})
    else:
        verdict = "passed" if result.passed else "FAILED"
        print(f"{verdict}: {args.op} {args.shape} {args.dtype} ({args.distribution}, seed {args.seed})")
        if shown is not None:
            print(f"  {'config':<17} {' '.join(f'{k}={v}' for k, v in shown.items())}")
        for key, value in fields.items():
            if key != "passed":
                print(f"  {key:<17} {value}")
    return 0 if result.passed else 1
