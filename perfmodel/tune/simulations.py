"""`recommend` on two cores: a helper process forked from the caller.

The simulator and most of the analytic model are Python, so a second core helps only from another process.
`Simulations` forks one helper (when the machine has a second core and forking is safe: this process runs
no other thread, and the platform forks) that inherits the search spaces, so only points and tables go to
it and only results come back. It runs, in the order they are given:

- simulations (`start`); `outcome` gives a point's simulation, the helper's or one run here when the point
  was never started;
- numerical errors (`prefetch_errors`, computed there while this process ranks; `share_errors` collects
  them and splits what is still missing);
- half of the rows of a large analytic table (`analytic_table`; a row's figures depend on that row only).
  A table of fewer than SPLIT_ROWS rows is ranked here only: the analytic model's compiled kernels cost a
  fresh process about 0.4 s to load (numba's start) and every structure of the table is set up in both
  processes, which outweighs half of a smaller table. The helper then needs no compiled code at all.

Either way every result is the function's own (`objective.confirm_program`, `error.error_of_key`,
`objective.analytic_table`), so a recommendation does not depend on where its work ran (tests compare
both). A helper that dies is replaced by this process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from perfmodel.space import SearchSpace
from perfmodel.tune.objective import confirm_program

# The spaces a forked helper inherits, by id: set before the fork, read in the helper.
_SPACES: dict[int, SearchSpace] = {}
# A table of fewer rows is ranked here only (module docstring).
SPLIT_ROWS = 100_000


def default_workers() -> int:
    """2 when a helper process can run beside this one (a second core, fork, no other thread), else 1."""
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return 2 if threading.active_count() == 1 else 1


def _analytic(space_id: int, table: Any) -> Any:
    """In the helper: `objective.analytic_table` of some rows."""
    from perfmodel.tune.objective import analytic_table

    return analytic_table(_SPACES[space_id], table)


def _errors(keys: list[tuple]) -> list[Any]:
    """In the helper: the numerical errors of some error keys."""
    from perfmodel.tune.error import error_of_key

    return [error_of_key(key) for key in keys]


def _simulate(space_id: int, point: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """In the helper: (reason or '', the simulation result as a dict, or None when the point did not run)."""
    reason, _program, _report, result = confirm_program(_SPACES[space_id], point)
    return reason, None if result is None else result.to_dict()


class Simulations:
    """Candidate points simulated here or in one forked helper process (`workers` 2), each at most once."""

    def __init__(self, spaces: tuple[SearchSpace, ...], workers: int) -> None:
        self._spaces = spaces
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._started: dict[tuple, Future] = {}
        self._done: dict[tuple, tuple[str, Any, Any, Any]] = {}
        self._error_batches: list[tuple[list[tuple], Future]] = []  # errors on their way from the helper

    def __enter__(self) -> Simulations:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for space in self._spaces:
            _SPACES.pop(id(space), None)

    @staticmethod
    def key(space: SearchSpace, point: Mapping[str, Any]) -> tuple:
        return tuple(sorted({**space.fixed, **point}.items(), key=lambda item: item[0]))

    def known(self, space: SearchSpace, point: Mapping[str, Any]) -> bool:
        """Whether the point was simulated or started already."""
        key = self.key(space, point)
        return key in self._done or key in self._started

    def pending(self, space: SearchSpace, point: Mapping[str, Any]) -> bool:
        """Whether the point is running in the helper (started, not finished)."""
        future = self._started.get(self.key(space, point))
        return future is not None and not future.done()

    def idle(self) -> bool:
        """Whether the helper (if any) has nothing to do."""
        return self._workers >= 2 and self.queued() == 0

    def queued(self) -> int:
        """How many jobs the helper has not finished (running or waiting)."""
        futures = [*self._started.values(), *(f for _, f in self._error_batches)]
        return sum(not f.done() for f in futures)

    def start(self, space: SearchSpace, point: Mapping[str, Any]) -> bool:
        """Simulate the point in the helper, if there is one and the point is new; whether it went there."""
        if self.known(space, point):
            return False
        future = self._submit(_simulate, id(space), dict(point))
        if future is not None:
            self._started[self.key(space, point)] = future
        return future is not None

    def analytic_table(self, space: SearchSpace, table: Any) -> Any:
        """`objective.analytic_table(space, table)`, its rows shared with the helper when there is one: a row's
        figures depend on that row only, so the table is the same."""
        import pandas as pd

        from perfmodel.tune.objective import analytic_table

        half = len(table) // 2
        future = self._submit(_analytic, id(space), table.iloc[half:]) if len(table) >= SPLIT_ROWS else None
        if future is None:
            return analytic_table(space, table)
        mine = analytic_table(space, table.iloc[:half])
        theirs = self._result(future)
        if theirs is None:  # the helper died: its rows here instead
            theirs = analytic_table(space, table.iloc[half:])
        return pd.concat([mine, theirs], ignore_index=True)

    def _error_keys(self, space: SearchSpace, rows: Any) -> list[tuple]:
        """The error keys of `rows` (rows of `space`) that this process does not have, nor waits for."""
        from perfmodel.tune import error

        if rows.empty:
            return []
        names = [k for k in space.numeric_knobs if k in rows.columns]
        values = set(zip(*(rows[k].tolist() for k in names), strict=True)) if names else {()}
        keys = {error.error_key(space, dict(zip(names, v, strict=True))) for v in values}
        waiting = {k for batch, _ in self._error_batches for k in batch}
        return sorted((k for k in keys if k is not None and not error.is_known(k) and k not in waiting), key=repr)

    def prefetch_errors(self, space: SearchSpace, rows: Any) -> None:
        """Start computing the numerical errors of `rows` in the helper, behind what it has to do already
        (nothing happens without a helper: `error.numerical_error` computes them when asked)."""
        if self._workers < 2:
            return
        keys = self._error_keys(space, rows)
        future = self._submit(_errors, keys) if keys else None
        if future is not None:
            self._error_batches.append((keys, future))

    def share_errors(self, space: SearchSpace, rows: Any) -> None:
        """Have the numerical errors of `rows` (rows of `space`) in this process, so that
        `error.numerical_error` finds them all (the same values wherever computed): the prefetched ones are
        collected, and of those still missing the helper computes half."""
        from perfmodel.tune import error

        self._collect_errors()
        if self._workers < 2:
            return
        todo = self._error_keys(space, rows)
        if len(todo) < 4:
            return
        future = self._submit(_errors, todo[1::2])
        if future is not None:
            self._error_batches.append((todo[1::2], future))
        for key in todo[::2]:
            error.error_of_key(key)
        self._collect_errors()

    def _collect_errors(self) -> None:
        """Wait for the errors sent to the helper and remember them (none if it died: computed when asked)."""
        from perfmodel.tune import error

        batches, self._error_batches = self._error_batches, []
        for keys, future in batches:
            found = self._result(future)
            for key, value in zip(keys, found or (), strict=False):
                error.remember(key, value)

    def _submit(self, fn: Any, *args: Any) -> Future | None:
        """Run fn(*args) in the helper, forked now if it is not running yet (it inherits the spaces); None when
        there is no helper (one process, or the helper died)."""
        if self._workers < 2:
            return None
        if self._pool is None:
            for s in self._spaces:
                _SPACES[id(s)] = s
            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(max_workers=self._workers - 1, mp_context=context)
        try:
            return self._pool.submit(fn, *args)
        except BrokenProcessPool:
            self._workers = 1  # from now on everything runs here
            return None

    def _result(self, future: Future) -> Any:
        """The helper's result, or None when it died before giving it (then nothing more goes to it)."""
        try:
            return future.result()
        except BrokenProcessPool:
            self._workers = 1
            return None

    def outcome(self, space: SearchSpace, point: Mapping[str, Any]) -> tuple[str, Any, Any, Any]:
        """`confirm_program(space, point)`: the helper's result when it ran there (the program and report then
        only for a point that ran), else simulated here."""
        key = self.key(space, point)
        if key in self._done:
            return self._done[key]
        future = self._started.pop(key, None)
        done = None if future is None else self._result(future)
        # Simulated here when it never went to the helper, or the helper died (killed, out of memory).
        value = confirm_program(space, point) if done is None else _rebuilt(space, point, *done)
        self._done[key] = value
        return value


def _rebuilt(
    space: SearchSpace, point: Mapping[str, Any], reason: str, result: dict[str, Any] | None
) -> tuple[str, Any, Any, Any]:
    """The helper's outcome in `confirm_program`'s form: the Program and its check report are rebuilt here
    (milliseconds, and the same objects: both are deterministic); a point that did not run needs neither."""
    if result is None:
        return reason, None, None, None
    from perfmodel.checks import check
    from perfmodel.result import RunResult

    program = space.program(point)
    return reason, program, check(program), RunResult.from_dict(result)
