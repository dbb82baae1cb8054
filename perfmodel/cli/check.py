"""`perfmodel check`: static checks of one program (L1 budget, CB count, config, kernel dry run)."""

from __future__ import annotations

import argparse
from typing import Any

from perfmodel.checks import check
from perfmodel.cli.common import add_op_arguments, build_program_from_args, emit_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("check", help="static checks: does it fit in L1, CB limits, kernel CB usage")
    add_op_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    program = build_program_from_args(args)
    report = check(program)
    if args.json:
        # The configuration the program was built with, as the factory resolved it.
        emit_json({**report.to_dict(), "config": _config(program), "compute_config": _compute(program)})
    else:
        verdict = "ok" if report.ok else "FAILED"
        print(
            f"{verdict}: {report.l1_bytes_per_core} of {report.l1_budget_bytes} bytes of L1 per core on {report.device}"
        )
        if report.factory:
            print(f"  factory: {report.factory} ({report.factory_reason})")
        for cb in report.cbs:
            pages = f"{cb.num_pages:>5} pages x {cb.page_size_bytes:>5} B"
            print(f"  c_{cb.index:<2} {cb.name:<16} {pages} = {cb.total_bytes:>9} B")
        print(f"  {report.num_cores} cores")
        for ranges, units in report.core_groups:
            rects = " ".join(f"({r[0][0]},{r[0][1]})-({r[1][0]},{r[1][1]})" for r in ranges)
            print(f"    {units} units per core: {rects}")
        for v in report.violations:
            where = f" [{v.where}]" if v.where else ""
            print(f"  {v.kind}: {v.message}{where}")
    return 0 if report.ok else 1


def _config(program: Any) -> dict[str, Any] | None:
    import dataclasses

    config = getattr(program, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else None


def _compute(program: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(program.compute_config)
