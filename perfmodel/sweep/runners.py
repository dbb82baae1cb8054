"""Where the simulator's points run: a local process pool or a Dask cluster, behind one small interface.

A runner wraps an executor with the `concurrent.futures` shape (`submit(fn, *args)` returning a future
whose `result()` gives the value) and says how to wait for the first of several futures; `run_tasks`
keeps a bounded number of tasks in flight and yields each result as it completes. The local pool is a
`ProcessPoolExecutor` (waiting with `concurrent.futures.wait`); the cluster is a `dask.distributed.Client`,
which has the same `submit` and futures, waited for through one `distributed.as_completed` stream.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from perfmodel.errors import InputError

K = TypeVar("K")
CONNECT_TIMEOUT_S = 3.0
ORPHAN_POLL_S = 0.5


class Runner(Protocol):
    """An executor for sweep tasks: `slots` tasks in flight at most; `close` releases it."""

    slots: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def wait_first(self, pending: set[Any]) -> set[Any]: ...

    def close(self, *, cancel: bool = False) -> None: ...


def _init_worker() -> None:
    # Ctrl-C goes to the whole process group: the parent stops the sweep; the workers just end with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (kill -9) cannot stop its pool: the workers notice they were orphaned and exit.
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="perfmodel-orphan-watch").start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_S)
    os._exit(1)


class LocalPool:
    """`workers` local processes (default: the CPU count)."""

    def __init__(self, workers: int | None = None) -> None:
        count = workers if workers is not None else (os.cpu_count() or 1)
        if count < 1:
            raise InputError(f"--workers must be at least 1, got {count}")
        methods = multiprocessing.get_all_start_methods()
        # fork starts workers at once with the engine already imported; elsewhere the platform's default.
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self.slots = 2 * count
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=count, mp_context=context, initializer=_init_worker
        )
        # Start the processes now (the pool starts them at its first task), before the caller starts threads.
        self._pool.submit(int).result()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._pool.submit(fn, *args)

    def wait_first(self, pending: set[Any]) -> set[Any]:
        return concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED).done

    def close(self, *, cancel: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)


class DaskCluster:
    """A connection to the Dask scheduler at `address` (e.g. tcp://host:8786); its workers run the tasks."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - dask[distributed] is a dependency
            raise InputError("--scheduler needs dask[distributed] installed") from None
        try:
            self._client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
        # More in flight than locally: each task also pays a round trip through the scheduler.
        threads = sum(self._client.nthreads().values())
        self.slots = max(4 * threads, 4)
        self._completed: Any = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        from distributed import as_completed

        future = self._client.submit(fn, *args, pure=False)
        # One `as_completed` stream of this client's futures (distributed.wait would need a default client).
        if self._completed is None:
            self._completed = as_completed([future], loop=self._client.loop)
        else:
            self._completed.add(future)
        return future

    def wait_first(self, pending: set[Any]) -> set[Any]:
        done = {next(self._completed)}
        done.update(self._completed.next_batch(block=False))
        return done

    def close(self, *, cancel: bool = False) -> None:
        self._client.close()


def open_runner(*, workers: int | None = None, scheduler: str | None = None) -> Runner:
    """The Dask cluster at `scheduler` when given, else a local pool of `workers` processes."""
    if scheduler is not None:
        if workers is not None:
            raise InputError("--workers applies to the local pool; with --scheduler the cluster's workers run")
        return DaskCluster(scheduler)
    return LocalPool(workers)


def run_tasks(
    runner: Runner, fn: Callable[..., Any], tasks: Iterable[tuple[K, tuple[Any, ...]]]
) -> Iterator[tuple[K, Any]]:
    """Run `fn(*args)` for each (key, args) with at most `runner.slots` in flight; yield (key, result) as done."""
    queue = iter(tasks)
    pending: dict[Any, K] = {}

    def fill() -> None:
        while len(pending) < runner.slots:
            item = next(queue, None)
            if item is None:
                return
            key, args = item
            pending[runner.submit(fn, *args)] = key

    fill()
    while pending:
        for future in runner.wait_first(set(pending)):
            key = pending.pop(future)
            yield key, future.result()
        fill()
