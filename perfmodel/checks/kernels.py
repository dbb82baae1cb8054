"""Kernel dry run: execute the kernel mirrors without time or data and check how they use the CBs.

Each kernel of each distinct core configuration runs on its own, never blocking, while every CB call is
recorded with the kernel source line. The recorded calls are then checked against reference
centralize_w_rm.md §4:
- `cb_request_exceeds_capacity`: a reserve or wait of n pages on a CB of fewer pages blocks forever;
- `cb_capacity_not_multiple`: a reservation (or a fresh wait) of n pages on a CB whose capacity is not a
  multiple of n runs past the end of the ring;
- `cb_push_pop_imbalance`: over the program, pages pushed into a CB differ from pages popped from it
  (except a CB never popped whose pages all fit, such as the reduce scaler read in place);
- `cb_intra_kernel_capacity`: a kernel that both produces and consumes a CB (its only producer and consumer)
  reserves more pages than are free before it consumes them, or waits for pages it has not produced yet:
  it would block on itself;
- `kernel_error`: the kernel raised, or ran more than `MAX_CALLS` calls (an endless loop).

A compute kernel runs once per compute thread ("<kernel>.unpack", ".math", ".pack"), as the engines run it;
its threads' hand-offs through the pseudo-CBs SRC and DST (`kernel_lib.pseudo_cbs`) are recorded like CB
calls and checked for balance, but they are no ring in L1 (no capacity-multiple rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from perfmodel.cb_replay import replay
from perfmodel.checks.report import Violation
from perfmodel.des.deadlock import frame_source, kernel_frame, register_engine_file
from perfmodel.errors import PerfModelError
from perfmodel.kernel_api import cb_label
from perfmodel.kernel_lib import KernelContextBase, kernel_threads, pseudo_cbs
from perfmodel.program import CoreProgram, KernelSpec, Program

register_engine_file(__file__)

MAX_CALLS = 2_000_000
Gen = Iterator[Any]
_NOTHING: tuple[()] = ()


class _DryRunLimit(Exception):
    pass


class DryRunContext(KernelContextBase):
    """Records (call, cb, pages, source line) for every CB call; NoC calls and compute are no-ops."""

    functional = False

    def __init__(
        self, program: Program, core_program: CoreProgram, spec: KernelSpec, thread: str | None = None
    ) -> None:
        super().__init__(program, core_program, spec.name, thread)
        self.calls: list[tuple[str, int, int, str]] = []

    def _record(self, call: str, cb: int, n: int) -> None:
        if len(self.calls) >= MAX_CALLS:
            raise _DryRunLimit
        self.calls.append((call, cb, n, frame_source(kernel_frame(2))))

    def _cb_reserve(self, cb: int, n: int) -> Gen:
        self._record("cb_reserve_back", cb, n)
        return iter(_NOTHING)

    def _cb_wait(self, cb: int, n: int) -> Gen:
        self._record("cb_wait_front", cb, n)
        return iter(_NOTHING)

    def _cb_push(self, cb: int, n: int) -> Gen:
        self._record("cb_push_back", cb, n)
        return iter(_NOTHING)

    def _cb_pop(self, cb: int, n: int) -> Gen:
        self._record("cb_pop_front", cb, n)
        return iter(_NOTHING)

    def get_write_ptr(self, cb: int) -> int:
        return 0

    def get_read_ptr(self, cb: int) -> int:
        return 0

    def noc_async_read(self, src: Any, dst_l1_addr: int, nbytes: int) -> Gen:
        return iter(_NOTHING)

    def noc_async_write(self, src_l1_addr: int, dst: Any, nbytes: int) -> Gen:
        return iter(_NOTHING)

    def noc_async_read_barrier(self) -> Gen:
        return iter(_NOTHING)

    def noc_async_write_barrier(self) -> Gen:
        return iter(_NOTHING)

    def _compute(self, name: str, cycles: float) -> Gen:
        return iter(_NOTHING)

    def _read_pages(self, cb: int, first: int, count: int) -> np.ndarray:
        raise NotImplementedError

    def _write_pages(self, cb: int, first: int, values: np.ndarray) -> None:
        raise NotImplementedError


def dry_run(program: Program, core_program: CoreProgram) -> tuple[dict[str, list[tuple[str, int, int, str]]], list]:
    """Run every kernel (every thread of the compute kernel) of one core on its own; returns {kernel or
    "<kernel>.<thread>": recorded calls} and kernel_error violations."""
    recorded: dict[str, list[tuple[str, int, int, str]]] = {}
    errors: list[Violation] = []
    for name, spec, thread in kernel_threads(program):
        ctx = DryRunContext(program, core_program, spec, thread)
        try:
            gen = spec.fn(ctx, **core_program.compile_time_args.get(spec.name, {}))
            for _ in gen:
                pass
        except _DryRunLimit:
            errors.append(Violation("kernel_error", f"kernel {name} made more than {MAX_CALLS} CB calls", spec.source))
        except (PerfModelError, TypeError, KeyError, ValueError) as exc:
            errors.append(Violation("kernel_error", f"kernel {name} raised {type(exc).__name__}: {exc}", spec.source))
        recorded[name] = ctx.calls
    return recorded, errors


def _core_label(core_program: CoreProgram) -> str:
    return f"core ({core_program.core[0]},{core_program.core[1]})"


def check_core(program: Program, core_program: CoreProgram) -> list[Violation]:
    recorded, found = dry_run(program, core_program)
    caps = {cb.index: core_program.cb_pages.get(cb.index, cb.num_pages) for cb in program.cbs}
    caps.update({cb.index: cb.num_pages for cb in pseudo_cbs(program)})
    label = _core_label(core_program)
    seen: set[tuple[str, int, str]] = set()

    def add(kind: str, cb: int, where: str, message: str) -> None:
        if (kind, cb, where) not in seen:
            seen.add((kind, cb, where))
            found.append(Violation(kind, f"{label}: {message}", where))

    pushed: dict[int, int] = {}
    popped: dict[int, int] = {}
    first_line: dict[tuple[int, str], str] = {}
    producers: dict[int, set[str]] = {}
    consumers: dict[int, set[str]] = {}
    for kernel, calls in recorded.items():
        waited_since_pop: set[int] = set()
        for call, cb, n, where in calls:
            cap = caps.get(cb)
            if cap is None:
                add(
                    "cb_unknown",
                    cb,
                    where,
                    f"{kernel} calls {call}({cb_label(cb)}, {n}) on a CB the program does not configure",
                )
                continue
            if call in ("cb_reserve_back", "cb_wait_front"):
                if n > cap:
                    add(
                        "cb_request_exceeds_capacity",
                        cb,
                        where,
                        f"{kernel} {call}({cb_label(cb)}, {n}) asks for more than the {cap} pages of "
                        f"{cb_label(cb)}: blocks forever",
                    )
                elif cb >= 0 and n > 0 and cap % n and (call == "cb_reserve_back" or cb not in waited_since_pop):
                    add(
                        "cb_capacity_not_multiple",
                        cb,
                        where,
                        f"{kernel} {call}({cb_label(cb)}, {n}): capacity {cap} is not a multiple of {n}, "
                        "the ring can be overrun",
                    )
                if call == "cb_wait_front":
                    waited_since_pop.add(cb)
                    consumers.setdefault(cb, set()).add(kernel)
            elif call == "cb_push_back":
                pushed[cb] = pushed.get(cb, 0) + n
                producers.setdefault(cb, set()).add(kernel)
                first_line.setdefault((cb, "push"), where)
            else:
                consumers.setdefault(cb, set()).add(kernel)
                popped[cb] = popped.get(cb, 0) + n
                waited_since_pop.discard(cb)
                first_line.setdefault((cb, "pop"), where)

    for cb in sorted(set(pushed) | set(popped)):
        n_pushed, n_popped = pushed.get(cb, 0), popped.get(cb, 0)
        # A CB filled once and never popped (the reduce scaler) is read in place for the whole program:
        # its pages stay behind harmlessly as long as they fit.
        persistent = n_popped == 0 and n_pushed <= caps.get(cb, 0)
        if n_pushed != n_popped and not persistent:
            where = first_line.get((cb, "push")) or first_line.get((cb, "pop"))
            add(
                "cb_push_pop_imbalance",
                cb,
                where or "?",
                f"{cb_label(cb)}: {pushed.get(cb, 0)} pages pushed but {popped.get(cb, 0)} popped over the program",
            )

    # A kernel that produces and consumes a CB on its own (its threads, for the compute kernel) is played
    # against itself on those CBs, every other CB taken as ready: where it stops, it blocks on itself.
    owner = {name: name.split(".", 1)[0] for name in recorded}
    for kernel in dict.fromkeys(owner.values()):
        threads = [name for name in recorded if owner[name] == kernel]
        own = {
            cb
            for cb in caps
            if producers.get(cb, set()) | consumers.get(cb, set())
            and {owner[t] for t in producers.get(cb, set()) | consumers.get(cb, set())} == {kernel}
        }
        if not own:
            continue
        for cb, name, call, n, where, free in _self_blocked(recorded, threads, own, caps):
            if call == "cb_reserve_back":
                add(
                    "cb_intra_kernel_capacity",
                    cb,
                    where,
                    f"{name} reserves {n} pages of {cb_label(cb)} with {free} of {caps[cb]} free, "
                    "and only this kernel frees them: it blocks on itself",
                )
            else:
                add(
                    "cb_intra_kernel_capacity",
                    cb,
                    where,
                    f"{name} waits for {n} pages of {cb_label(cb)} but has pushed only {free}: it blocks on itself",
                )
    return found


def _self_blocked(
    recorded: dict[str, list[tuple[str, int, int, str]]], threads: list[str], own: set[int], caps: dict[int, int]
) -> list[tuple[int, str, str, int, str, int]]:
    """Play `threads` on their own CBs `own` (calls on other CBs never block): the calls they stop at, as
    (cb, thread, call, pages, source line, free or visible pages). The cause is reported, not its echoes: a
    blocked reservation on a real CB if there is one, else a blocked wait on one, else the Dst/Src hand-off."""
    position, pushed, popped = replay({name: recorded[name] for name in threads}, caps, own)
    stuck = []
    for name in threads:
        if position[name] < len(recorded[name]):
            call, cb, n, where = recorded[name][position[name]]
            have = caps[cb] - (pushed[cb] - popped[cb]) if call == "cb_reserve_back" else pushed[cb] - popped[cb]
            stuck.append((cb, name, call, n, where, have))
    for rank in (lambda s: s[0] >= 0 and s[2] == "cb_reserve_back", lambda s: s[0] >= 0, lambda s: True):
        picked = [s for s in stuck if rank(s)]
        if picked:
            return picked
    return []


def kernel_dry_run(program: Program) -> list[Violation]:
    """The kernel checks, on one core per distinct set of compile-time arguments."""
    indices = [cb.index for cb in program.cbs]
    if len(set(indices)) != len(indices) or any(cb.num_pages < 1 for cb in program.cbs):
        # A malformed CB table is reported by the configuration checks; a dry run on it would only add
        # consequences of the same mistake.
        return []
    found: list[Violation] = []
    seen_args: set[str] = set()
    for core_program in program.cores:
        key = repr(sorted((k, sorted(v.items())) for k, v in core_program.compile_time_args.items()))
        if key in seen_args:
            continue
        seen_args.add(key)
        found.extend(check_core(program, core_program))
    return found
