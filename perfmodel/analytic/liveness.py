"""Would the program finish? The kernels' CB calls played against the CB page counters, without time.

Each kernel is a sequence of CB calls (recorded by the checks' dry run, with source lines); a reserve waits
for free pages, a wait for visible pages, a push or a pop never waits. Cores do not share CBs, so each
distinct core configuration is played on its own. The kernels are played in turn, each as far as it can go;
when every unfinished kernel waits on a call no other kernel can release, the program hangs.

With blocking FIFOs of bounded capacity and call sequences that do not depend on timing, whether a program
hangs does not depend on the order the kernels run in (a Kahn process network is determinate), so this is
the simulator's verdict without the simulation: `DeadlockError` with the same blocked waits, CB counters and
source lines (its time is unknown: NaN). The analytic model never gives a time for such a program.

Playing every call of a core with thousands of units costs seconds, so a long program is first played in
its representative form, the analytic model's own assumption: the one- and two-unit programs of its shape
key with its kernels and its CB table. When both finish and a unit leaves every CB as it found it (pages
pushed = pages popped per unit), every further unit repeats the second and the program finishes. Any
doubt (a hang there, or a CB that fills up unit by unit) is settled by playing the program itself.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from perfmodel.cb_replay import replay
from perfmodel.checks.kernels import MAX_CALLS, dry_run
from perfmodel.des.deadlock import BlockedWait, CbCounters, DeadlockError
from perfmodel.errors import InputError
from perfmodel.kernel_api import DST_CB
from perfmodel.kernel_lib import kernel_threads, pseudo_cbs
from perfmodel.program import CoreProgram, Program

# A compute thread waiting on the Dst pseudo-CB is in the handshake: named as the simulator names it.
_DST_CALLS = {"cb_reserve_back": "tile_regs_acquire", "cb_wait_front": "tile_regs_wait"}


# A core with at most this many units is played call for call (milliseconds).
FULL_PLAY_UNITS = 16


def find_deadlock(
    program: Program, representatives: Callable[[], Sequence[Program]] | None = None
) -> DeadlockError | None:
    """The hang of `program` (every core whose kernels cannot finish), or None if every kernel finishes.

    `representatives()`, when given, returns the program's one- and two-unit single-core programs (same
    kernels and shape key); they stand in for a long program as the module docstring says. A kernel the dry
    run cannot finish (it raised, or made more CB calls than the dry run's limit) is not judged here: the
    static checks report it.
    """
    longest = max((core.num_units for core in program.cores), default=0)
    if representatives is not None and longest > FULL_PLAY_UNITS and _periodic_and_live(program, representatives()):
        return None
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
    blocked.sort(key=lambda w: (w.core, w.kernel, w.thread))  # the simulator's order
    return DeadlockError(blocked, counters, time_cycles=math.nan, finished=finished)


def _periodic_and_live(program: Program, units: Sequence[Program]) -> bool:
    """True if the one- and two-unit programs, on `program`'s CB table, finish and leave every CB as found."""
    nets = []
    for unit in units:
        unit = dataclasses.replace(unit, cbs=program.cbs)
        recorded = _recorded(unit, unit.cores[0])
        if recorded is None or _play_recorded(unit, unit.cores[0], recorded) is not None:
            return False
        net: dict[int, int] = {}
        for calls in recorded.values():
            for call, cb, n, _ in calls:
                sign = {"cb_push_back": 1, "cb_pop_front": -1}.get(call, 0)
                net[cb] = net.get(cb, 0) + sign * n
        nets.append(net)
    one, two = nets
    return all(two.get(cb, 0) == one.get(cb, 0) for cb in set(one) | set(two))


def _recorded(program: Program, core_program: CoreProgram) -> dict[str, list[tuple[str, int, int, str]]] | None:
    """Each kernel's CB calls on one core; None when a kernel runs past the dry run's call limit.

    A kernel that is not a generator, raises, or uses a CB the program does not configure is the caller's
    mistake, refused as the simulator refuses it (InputError), never priced.
    """
    recorded, errors = dry_run(program, core_program)
    for error in errors:
        if f"more than {MAX_CALLS} CB calls" in error.message:
            return None  # an endless kernel: the static checks report it; the model cannot judge it
        raise InputError(f"{error.message} ({error.where}); the kernel must be a generator that runs to its end")
    caps = {cb.index for cb in (*program.cbs, *pseudo_cbs(program))}
    for kernel, calls in recorded.items():
        for _, cb, _, where in calls:
            if cb not in caps:
                raise InputError(
                    f"kernel {kernel} on core {core_program.core} uses c_{cb}, which the program does not "
                    f"configure ({where})"
                )
    return recorded


def _play(program: Program, core_program: CoreProgram) -> tuple[list, list, list[str]] | None:
    """(blocked waits, CB counters, finished kernels) of one core if it hangs, else None."""
    recorded = _recorded(program, core_program)
    if recorded is None:
        return None
    return _play_recorded(program, core_program, recorded)


def _play_recorded(
    program: Program, core_program: CoreProgram, recorded: dict[str, list[tuple[str, int, int, str]]]
) -> tuple[list, list, list[str]] | None:
    caps = {cb.index: cb.num_pages for cb in (*program.cbs, *pseudo_cbs(program))}
    who = {name: (spec.name, thread or spec.risc) for name, spec, thread in kernel_threads(program)}
    position, pushed, popped = replay(recorded, caps)
    stuck = [k for k, calls in recorded.items() if position[k] < len(calls)]
    if not stuck:
        return None
    core = core_program.core
    waits = []
    for kernel in stuck:
        call, cb, n, where = recorded[kernel][position[kernel]]
        available = caps[cb] - (pushed[cb] - popped[cb]) if call == "cb_reserve_back" else pushed[cb] - popped[cb]
        name, thread = who[kernel]
        shown = _DST_CALLS[call] if cb == DST_CB else call
        waits.append(BlockedWait(core, name, thread, shown, cb, n, available, caps[cb], where))
    counts = [CbCounters(core, cb, pushed[cb], popped[cb], caps[cb]) for cb in caps]
    done = [who[k][0] if who[k][0] == k else f"{who[k][0]}/{who[k][1]}" for k in recorded if k not in stuck]
    return waits, counts, done
