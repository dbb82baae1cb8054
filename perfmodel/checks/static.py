"""Rules a program must satisfy before any engine runs it: L1 budget, CB count, configuration ranges."""

from __future__ import annotations

from collections.abc import Callable

from perfmodel.checks.report import CheckReport, Violation
from perfmodel.program import Program

Checker = Callable[[Program], list[Violation]]


def l1_budget(program: Program) -> list[Violation]:
    used = program.l1_bytes_per_core
    budget = program.device.core.l1_free_bytes
    if used <= budget:
        return []
    breakdown = ", ".join(f"c_{cb.index} {cb.name} {cb.num_pages} x {cb.page_size_bytes} B" for cb in program.cbs)
    return [
        Violation(
            "l1_overflow",
            f"CBs need {used} bytes per core, {used - budget} more than the {budget} bytes of free L1 "
            f"on {program.device.name} ({breakdown})",
        )
    ]


def cb_count(program: Program) -> list[Violation]:
    limit = program.device.core.num_cbs
    found = []
    if len(program.cbs) > limit:
        found.append(Violation("cb_count", f"{len(program.cbs)} CBs, more than the board's {limit}"))
    for cb in program.cbs:
        if not 0 <= cb.index < limit:
            found.append(
                Violation("cb_index", f"CB index c_{cb.index} is outside 0..{limit - 1} on {program.device.name}")
            )
    indices = [cb.index for cb in program.cbs]
    for index in sorted({i for i in indices if indices.count(i) > 1}):
        found.append(Violation("cb_index", f"CB index c_{index} is configured twice"))
    return found


def config_ranges(program: Program) -> list[Violation]:
    found = []
    align = program.device.core.l1_alignment_bytes
    for cb in program.cbs:
        if cb.num_pages < 1:
            found.append(Violation("cb_pages", f"c_{cb.index} {cb.name} has {cb.num_pages} pages; it needs at least 1"))
        if cb.page_size_bytes % align:
            found.append(
                Violation(
                    "cb_alignment",
                    f"c_{cb.index} page size {cb.page_size_bytes} B is not a multiple of {align} B",
                )
            )
    workers = program.device.core.num_workers
    if program.num_cores > workers:
        found.append(Violation("core_count", f"{program.num_cores} cores used, the board has {workers}"))
    assigned = sum(core.num_units for core in program.cores)
    if assigned != program.units:
        found.append(
            Violation("work_split", f"cores are assigned {assigned} units of work, the op has {program.units}")
        )
    return found


CHECKERS: list[Checker] = [l1_budget, cb_count, config_ranges]


def check(program: Program) -> CheckReport:
    """Run every registered checker on `program`; `ok` is True when none found a violation."""
    violations = tuple(v for checker in CHECKERS for v in checker(program))
    return CheckReport(
        ok=not violations,
        violations=violations,
        l1_bytes_per_core=program.l1_bytes_per_core,
        l1_budget_bytes=program.device.core.l1_free_bytes,
        cbs=program.cbs,
        num_cores=program.num_cores,
        core_groups=program.core_groups,
        device=program.device.name,
        factory=program.attributes.get("factory"),
        factory_reason=program.attributes.get("factory_reason"),
    )
