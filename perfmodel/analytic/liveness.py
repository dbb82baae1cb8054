"""Would the program finish? The kernels' CB calls played against the CB page counters, without time.

Each kernel is a sequence of CB calls (recorded by the checks' dry run, with source lines); a reserve waits
for free pages, a wait for visible pages, a push or a pop never waits. Cores do not share CBs, so each
distinct core configuration is played on its own. The kernels are played in turn, each as far as it can go;
when every unfinished kernel waits on a call no other kernel can release, the program hangs.

With blocking FIFOs of bounded capacity and call sequences that do not depend on timing, whether a program
hangs does not depend on the order the kernels run in (a Kahn process network is determinate), so this is
the simulator's verdict without the simulation: `DeadlockError` with the same blocked waits, CB counters and
source lines (its time is unknown: NaN). The analytic model never gives a time for such a program.
"""

from __future__ import annotations

import dataclasses
import math

from perfmodel.checks.kernels import dry_run
from perfmodel.des.deadlock import BlockedWait, CbCounters, DeadlockError
from perfmodel.program import CoreProgram, Program

# Compute calls are attributed to the thread that makes them in tt-metal (and in the simulator).
_COMPUTE_THREAD = {
    "cb_wait_front": "unpack",
    "cb_pop_front": "unpack",
    "cb_reserve_back": "pack",
    "cb_push_back": "pack",
}


def find_deadlock(program: Program) -> DeadlockError | None:
    """The hang of `program` (every core whose kernels cannot finish), or None if every kernel finishes.

    A kernel the dry run cannot finish (it raised, or made more CB calls than the dry run's limit) is not
    judged here: the static checks report it.
    """
    blocked: list[BlockedWait] = []
    counters: list[CbCounters] = []
    finished: dict[tuple[int, int], list[str]] = {}
    seen: dict[str, tuple[list[BlockedWait], list[CbCounters], list[str]] | None] = {}
    for core_program in program.cores:
        key = repr(sorted((k, sorted(v.items())) for k, v in core_program.compile_time_args.items()))
        if key not in seen:
            seen[key] = _play(program, core_program)
        outcome = seen[key]
        if outcome is None:
            continue
        waits, counts, done = outcome
        core = core_program.core
        blocked.extend(dataclasses.replace(w, core=core) for w in waits)
        counters.extend(dataclasses.replace(c, core=core) for c in counts)
        if done:
            finished[core] = list(done)
    if not blocked:
        return None
    return DeadlockError(blocked, counters, time_cycles=math.nan, finished=finished)


def _play(program: Program, core_program: CoreProgram) -> tuple[list, list, list[str]] | None:
    """(blocked waits, CB counters, finished kernels) of one core if it hangs, else None."""
    recorded, errors = dry_run(program, core_program)
    if errors:
        return None
    caps = {cb.index: cb.num_pages for cb in program.cbs}
    if any(cb not in caps for calls in recorded.values() for _, cb, _, _ in calls):
        return None  # a CB the program does not configure: a static check's finding, not a hang
    pushed = dict.fromkeys(caps, 0)
    popped = dict.fromkeys(caps, 0)
    position = dict.fromkeys(recorded, 0)
    risc = {spec.name: spec.risc for spec in program.kernels}
    moved = True
    while moved:
        moved = False
        for kernel, calls in recorded.items():
            i = position[kernel]
            while i < len(calls):
                call, cb, n, _ = calls[i]
                if call == "cb_reserve_back" and caps[cb] - (pushed[cb] - popped[cb]) < n:
                    break
                if call == "cb_wait_front" and pushed[cb] - popped[cb] < n:
                    break
                if call == "cb_push_back":
                    pushed[cb] += n
                elif call == "cb_pop_front":
                    popped[cb] += n
                i += 1
            if i != position[kernel]:
                position[kernel] = i
                moved = True
    stuck = [k for k, calls in recorded.items() if position[k] < len(calls)]
    if not stuck:
        return None
    core = core_program.core
    waits = []
    for kernel in stuck:
        call, cb, n, where = recorded[kernel][position[kernel]]
        available = caps[cb] - (pushed[cb] - popped[cb]) if call == "cb_reserve_back" else pushed[cb] - popped[cb]
        thread = _COMPUTE_THREAD[call] if risc[kernel] == "trisc" else risc[kernel]
        waits.append(BlockedWait(core, kernel, thread, call, cb, n, available, caps[cb], where))
    counts = [CbCounters(core, cb, pushed[cb], popped[cb], caps[cb]) for cb in caps]
    done = [k for k in recorded if k not in stuck]
    return waits, counts, done
