"""The worker process pool that answers check / estimate / simulate requests off the event loop.

Requests wait in the pool's queue up to `max_pending`; one more is refused with 429 and a Retry-After. A
request that outlives its time limit gets 504; the worker notices the deadline itself (simulations check it
as they run) and frees up. A worker that dies takes the pool with it: the pool is rebuilt and the requests
in flight get 503.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from perfmodel.service import work
from perfmodel.service.errors import ApiError

# Workers start by spawning a fresh interpreter: forking a process that runs an event loop and threads is unsafe.
CONTEXT = multiprocessing.get_context("spawn")
JOB_HINT = "submit long simulations as a job: POST /v1/jobs/simulate"


class WorkerPool:
    def __init__(self, workers: int, max_pending: int) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self.in_flight = 0
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=CONTEXT, initializer=work.init_worker, initargs=(os.getpid(),)
        )

    async def warm_up(self) -> None:
        """Start every worker and import the engines, so the first requests do not pay for it."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, work.warm_up) for _ in range(self.workers)))

    async def run(self, fn: Callable[..., work.Outcome], *args: Any, timeout_s: float) -> work.Outcome:
        """`fn(*args)` in a worker; ApiError 429 when the queue is full, 504 past `timeout_s`, 503 if a worker died."""
        if self.in_flight >= self.workers + self.max_pending:
            raise ApiError(
                429,
                f"the server is busy ({self.in_flight} requests in progress); retry later",
                headers={"Retry-After": "1"},
            )
        self.in_flight += 1
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            future = loop.run_in_executor(self._executor, fn, *args)
            # A little longer than the worker's own deadline, so the worker's answer (with its message) wins.
            outcome = await asyncio.wait_for(future, timeout_s + 2.0)
        except TimeoutError:
            raise ApiError(504, f"the request exceeded its time limit of {timeout_s:g} s; {JOB_HINT}") from None
        except BrokenProcessPool:
            self._executor = self._new_executor()
            raise ApiError(503, "a worker process died while answering; retry the request") from None
        finally:
            self.in_flight -= 1
        if outcome.status == 504:
            waited = time.monotonic() - started
            raise ApiError(
                504,
                f"the request exceeded its time limit of {timeout_s:g} s after {waited:.1f} s ({outcome.message}); "
                f"{JOB_HINT}",
            )
        return outcome

    def shutdown(self) -> None:
        """Drop queued requests and wait for the running ones (each bounded by its deadline)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
