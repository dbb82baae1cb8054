"""Argument parsing and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from typing import Any

from perfmodel.errors import InputError


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,1,64,96' -> (1, 1, 64, 96); malformed text is an InputError naming it."""
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"malformed shape {text!r}: expected comma-separated integers such as 1,1,64,96") from None
    return dims


def parse_grid(text: str) -> tuple[int, int]:
    """'8x8' (or '8,8') -> (8, 8); anything but two positive integers is an InputError naming the text."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        gx, gy = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"malformed grid {text!r}: expected XxY such as 8x8") from None
    if gx < 1 or gy < 1:
        raise InputError(f"grid {text!r}: both sizes must be at least 1, such as 8x8")
    return gx, gy


# Flags every op shares; an op's Config field never takes one of these names.
_COMMON_FLAGS = ("op", "shape", "device", "dtype", "json")


@dataclasses.dataclass(frozen=True)
class ConfigFlag:
    """One command-line flag for a Config field: its name, how its text is read, and which ops have it."""

    field: str
    kind: str  # "bool", "int", "str" or "pair" (an XxY pair such as a grid)
    ops: tuple[str, ...]

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")


def _kind(hint: Any) -> str:
    """The flag kind of a Config field's type: Optional is looked through, a tuple of two ints is a pair, a
    tuple of ints of any length is dims (a shape such as 1,1,32,256)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]
    if hint is bool:
        return "bool"
    if hint is int:
        return "int"
    if hint is float:
        return "float"
    if typing.get_origin(hint) is tuple and typing.get_args(hint) == (int, int):
        return "pair"
    if typing.get_origin(hint) is tuple and typing.get_args(hint) == (int, Ellipsis):
        return "dims"
    return "str"


def config_flags() -> tuple[ConfigFlag, ...]:
    """The union of the shipped tensor ops' Config fields, in op order then field order (a microbenchmark op
    has a subcommand of its own)."""
    from perfmodel.op import get_op, list_ops

    found: dict[str, ConfigFlag] = {}
    for name in list_ops():
        op = get_op(name)
        if getattr(op, "microbench", False):
            continue
        config = op.Config
        hints = typing.get_type_hints(config)
        for f in dataclasses.fields(config):
            if f.name in _COMMON_FLAGS:
                continue
            known = found.get(f.name)
            if known is None:
                found[f.name] = ConfigFlag(f.name, _kind(hints[f.name]), (name,))
            else:
                found[f.name] = dataclasses.replace(known, ops=(*known.ops, name))
    return tuple(found.values())


def add_problem_arguments(
    parser: argparse.ArgumentParser, *, dtype_help: str = "bfloat16, float32 or bfloat8_b (as the op supports)"
) -> None:
    """The flags that describe one problem: op, shape, board and dtype."""
    parser.add_argument("op", help="op name, e.g. centralize_w_rm")
    parser.add_argument("--shape", required=True, help="tensor shape, e.g. 1,1,2048,1024")
    parser.add_argument(
        "--device", default="wormhole_b0_n150", help="board name or profile path (default: wormhole_b0_n150)"
    )
    parser.add_argument("--dtype", default="bfloat16", help=dtype_help)


def add_op_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that describe one program: op, shape, dtype, board, and one flag per field of the ops' configs.

    A config flag defaults to None, meaning the op's own default; a boolean field takes `--name` or `--no-name`.
    """
    add_problem_arguments(parser)
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per field of the shipped ops' configs (`config_flags`); read back by `config_from_args`."""
    for cf in config_flags():
        where = f"config field of {', '.join(cf.ops)}; default: the op's"
        if cf.kind == "bool":
            parser.add_argument(cf.flag, action=argparse.BooleanOptionalAction, default=None, help=where)
        elif cf.kind == "int":
            parser.add_argument(cf.flag, type=int, default=None, help=where)
        elif cf.kind == "float":
            parser.add_argument(cf.flag, type=float, default=None, help=where)
        elif cf.kind == "pair":
            parser.add_argument(cf.flag, default=None, metavar="XxY", help=where)
        elif cf.kind == "dims":
            parser.add_argument(cf.flag, default=None, metavar="D,D,...", help=where)
        else:
            parser.add_argument(cf.flag, default=None, help=where)


def tensor_op(name: str, command: str) -> Any:
    """The op `name` for an op subcommand (check, simulate, estimate, validate), which takes tensor ops only.

    A microbenchmark op (`OP.microbench`) is refused with the subcommand that runs it; for `validate`, an op
    without a numerics model (`OP.validate`) is refused too.
    """
    from perfmodel.op import get_op

    op = get_op(name)
    if getattr(op, "microbench", False):
        raise InputError(
            f"op {name!r} is a microbenchmark, not a tensor op: `perfmodel {command}` cannot run it; "
            f"use `perfmodel microbench {name} --direction read --bytes 2048 --count 64`"
        )
    if command == "validate" and not callable(getattr(op, "validate", None)):
        raise InputError(f"op {name!r} has no numerics model: `perfmodel validate` cannot run it")
    return op


def config_from_args(op: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line; a flag of another op's config is an InputError."""
    own = {f.name for f in dataclasses.fields(op.Config)}
    config: dict[str, Any] = {}
    for cf in config_flags():
        value = getattr(args, cf.field, None)
        if value is None:
            continue
        if cf.field not in own:
            raise InputError(
                f"{cf.flag} is not a flag of {op.name} (it configures {', '.join(cf.ops)}); "
                f"{op.name}'s config has {', '.join(sorted(own))}"
            )
        if cf.kind == "pair":
            value = _parse_pair(cf.flag, value)
        elif cf.kind == "dims":
            value = _parse_dims(cf.flag, value)
        config[cf.field] = value
    return config


def parse_restrict(space: Any, items: list[str] | None) -> Any:
    """`space` restricted by `--restrict KNOB=V1,V2` items: each value is read as the knob's domain writes it
    (True, 8, LoFi); an unknown knob or a value outside the domain is an InputError naming it."""
    if not items:
        return space
    choices: dict[str, list[Any]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise InputError(f"malformed --restrict {item!r}: expected KNOB=V1,V2 such as grid_x=1,2,4")
        knob = space.knob(name.strip())
        by_text = {str(c).lower(): c for c in knob.choices}
        for value in text.split(","):
            if value.strip().lower() not in by_text:
                raise InputError(f"{knob.name} = {value.strip()!r} is outside its domain {list(knob.choices)}")
            choices.setdefault(knob.name, []).append(by_text[value.strip().lower()])
    return space.restrict(**choices)


def add_restrict_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--restrict",
        action="append",
        default=None,
        metavar="KNOB=V1,V2",
        help="search only these values of a knob (repeatable), e.g. --restrict variant=single_pass",
    )


def _parse_dims(flag: str, text: str) -> tuple[int, ...]:
    try:
        return parse_shape(text)
    except InputError:
        raise InputError(f"malformed {flag} {text!r}: expected dims such as 1,1,32,256") from None


def _parse_pair(flag: str, text: str) -> tuple[int, int]:
    try:
        return parse_grid(text)
    except InputError:
        if flag == "--grid":
            raise
        raise InputError(f"malformed {flag} {text!r}: expected XxY such as 1x2") from None


def build_program_from_args(args: argparse.Namespace) -> Any:
    op = tensor_op(args.op, args.command)
    config = config_from_args(op, args)
    return op.build_program(parse_shape(args.shape), device=args.device, dtype=args.dtype, config=config)


def emit_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, default=_default)
    sys.stdout.write("\n")


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_payload(result: Any, stalls: Any, report: Any) -> dict[str, Any]:
    """The JSON of `simulate` and `estimate`: the result's fields, a stall summary and the check verdict."""
    return {
        **result.to_dict(),
        # The time is what the program would take; `feasible` says whether it can run as built.
        "feasible": report.ok,
        "stalls": stalls,
        "check": {"ok": report.ok, "violations": report.to_dict()["violations"]},
    }


def print_deadlock(exc: Any, program: Any, backend: str, as_json: bool) -> int:
    """A program that hangs: its deadlock report (JSON, or a headline and the report) and exit code 1."""
    if as_json:
        emit_json({"backend": backend, "op": program.op_name, "deadlock": exc.to_dict(), "message": str(exc)})
    else:
        print(f"DEADLOCK: {program.op_name} {list(program.shape)} on {program.device.name}")
        print(str(exc))
    return 1


def verdict_code(report: Any) -> int:
    """Exit code of a timed run: 1 when the static checks fail (the program cannot run as built), else 0."""
    return 0 if report.ok else 1


def print_verdict(report: Any) -> int:
    """After a timed run's text report: a FAILED line when the checks fail; the exit code."""
    if not report.ok:
        kinds = ", ".join(dict.fromkeys(v.kind for v in report.violations))
        print(f"FAILED: {kinds}: the time above is what the program would take; it cannot run as built")
    return verdict_code(report)


def positive_int(text: str) -> int:
    """An argparse type: a positive integer such as 1000000 (a usage error names the value otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a positive finite number of seconds such as 2.5."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value
