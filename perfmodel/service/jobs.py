"""Jobs: long work (simulations, tuning studies, sweeps) run in processes of their own.

A *job kind* is a name, a pydantic model of its parameters and a function `run(params, ctx) -> JobOutput`
that runs in a fresh worker process. `ctx` (a `JobContext`) gives the job its working folder inside the
data dir (checkpoints, artifacts, databases) and `ctx.progress(done, total, unit)`, which lands in the
database for `GET /v1/jobs/{id}`. A kind may also give `validate(params, data_dir)`, run in a request worker when the
job is submitted, so a bad op or board is a 422 at once rather than a failed job later. Kinds register
themselves in `perfmodel.service.kinds` with `register(JobKind(...))`; the app adds `POST /v1/jobs/<name>`
for each, with the params model as the documented body.

Life of a job: `queued` -> `running` -> `finished` | `failed`; `DELETE` makes it `cancelled` (the process
is ended); a job that was running when the server stopped (even by kill -9) is `interrupted`, and
`POST /v1/jobs/{id}/resume` queues it again: `run` is called again with the same folder, so a kind that
checkpoints there (`ctx.resumed` is True) continues where it stopped.

The shipped kinds (`kinds`): `simulate`; `tune`, whose optuna study lives in an RDB storage in the job
folder (`ctx.storage_url("study.sqlite3")`, study `job-<id>`), so a resumed job continues the same study; and
`sweep` (`sweeps`), whose checkpoint and table live in the job folder, with `ctx.progress(..., force=True)`
after each checkpoint commit and the table as the artifact (`JobOutput(..., artifact=...)`). A kind whose
parameters name boards passes every one through `work.board_name`, so no request makes the server read a
file the client names. `Client.tune(...)` / `Client.sweep(...)` are `wait(submit(kind, ...).id)` with the
library's argument names.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from perfmodel.errors import InputError
from perfmodel.service import work
from perfmodel.service.errors import ApiError
from perfmodel.service.pool import CONTEXT
from perfmodel.service.store import JobRow, Store


@dataclass(frozen=True)
class JobOutput:
    """What a job returns: a JSON-ready `result`, and optionally a file in its folder offered for download."""

    result: Any
    artifact: Path | None = None
    media_type: str = "application/octet-stream"


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its name (the URL segment), parameters model, run function and summary for the docs."""

    name: str
    params: type[BaseModel]
    run: Callable[[Any, JobContext], JobOutput]
    summary: str
    validate: Callable[[Any], None] | None = None


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> None:
    """Make `kind` available as `POST /v1/jobs/<kind.name>`."""
    KINDS[kind.name] = kind


def load_kinds() -> dict[str, JobKind]:
    """Every registered kind (importing the module that registers the shipped ones)."""
    importlib.import_module("perfmodel.service.kinds")
    return KINDS


def get_kind(name: str) -> JobKind:
    kinds = load_kinds()
    if name not in kinds:
        raise ApiError(404, f"unknown job kind {name!r} (known: {', '.join(sorted(kinds))})", "kind")
    return kinds[name]


class JobContext:
    """A running job's view of the service: its folder, its progress and the boards it may use."""

    def __init__(self, store: Store, job: JobRow, data_dir: Path, min_interval_s: float = 0.25) -> None:
        self.job_id = job.id
        self.attempt = job.attempts
        self.data_dir = data_dir
        self.folder = data_dir / "jobs" / job.id
        self.resumed = self.folder.exists() and any(self.folder.iterdir())
        self.folder.mkdir(parents=True, exist_ok=True)
        self._store = store
        self._min_interval_s = min_interval_s
        self._last = 0.0

    def progress(
        self, done: float, total: float | None = None, unit: str = "", message: str = "", *, force: bool = False
    ) -> None:
        """Record progress: throttled to a few writes a second, unless `force` (a checkpoint was written) or
        the last step."""
        now = time.monotonic()
        if not force and now - self._last < self._min_interval_s and (total is None or done < total):
            return
        self._last = now
        self._store.job_progress(self.job_id, done, total, unit, message)

    def storage_url(self, name: str) -> str:
        """An RDB URL (SQLite) for a database file in the job folder, e.g. an optuna study's storage."""
        return f"sqlite:///{self.folder / name}"

    def device(self, target: Any) -> str:
        """The board to hand the library for a target with `device` and optional `profile` text."""
        if getattr(target, "profile", None):
            return work.profile_file(self.data_dir, target.profile)
        return str(target.device)


def job_main(db_path: str, data_dir: str, job_id: str, server_pid: int) -> None:
    """Entry point of a job process: run the job, record its end. Exits with the server."""
    work.watch_parent(server_pid)
    store = Store(Path(db_path))
    job = store.job_get(job_id)
    if job is None:
        return
    now = time.time
    try:
        kind = load_kinds()[job.kind]
        params = kind.params.model_validate(job.params)
        ctx = JobContext(store, job, Path(data_dir))
        output = kind.run(params, ctx)
    except InputError as exc:
        store.job_transition(job_id, "failed", ["running"], message=str(exc), finished_at=now())
        return
    except Exception as exc:
        # The traceback goes to the server's log and the job folder, never to a client.
        text = traceback.format_exc()
        sys.stderr.write(f"perfmodel serve: job {job_id} failed:\n{text}")
        folder = Path(data_dir) / "jobs" / job_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "error.log").write_text(text)
        message = f"internal error ({type(exc).__name__}); details are in the server's log"
        store.job_transition(job_id, "failed", ["running"], message=message, finished_at=now())
        return
    artifact_id = None
    if output.artifact is not None:
        relative = Path(output.artifact).resolve().relative_to(Path(data_dir).resolve())
        artifact_id = store.artifact_add(output.artifact.name, output.media_type, str(relative), job_id).id
    finished = store.job_get(job_id)
    total = finished.total if finished and finished.total is not None else None
    fields: dict[str, Any] = {"result": work.plain(output.result), "artifact_id": artifact_id, "finished_at": now()}
    if total is not None:
        fields["done"] = total
    store.job_transition(job_id, "finished", ["running"], message="", **fields)


class JobManager:
    """Starts queued jobs in processes (at most `job_workers` at once), watches them, cancels and resumes."""

    def __init__(self, store: Store, data_dir: Path, job_workers: int, max_queued: int) -> None:
        self.store = store
        self.data_dir = data_dir
        self.job_workers = job_workers
        self.max_queued = max_queued
        self.running: dict[str, Any] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.store.interrupt_running()
        self._task = asyncio.create_task(self._loop())

    def submit(self, kind: str, params: dict[str, Any]) -> JobRow:
        queued = self.store.job_counts()["queued"]
        if queued >= self.max_queued:
            raise ApiError(429, f"{queued} jobs are already queued; retry later", headers={"Retry-After": "30"})
        job = self.store.job_create(kind, params)
        self._wake.set()
        return job

    def get(self, job_id: str) -> JobRow:
        job = self.store.job_get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id!r}", "id")
        return job

    def cancel(self, job_id: str) -> JobRow:
        job = self.get(job_id)
        if not self.store.job_transition(
            job_id, "cancelled", ["queued", "running", "interrupted"], message="cancelled", finished_at=time.time()
        ):
            raise ApiError(
                409,
                f"job {job_id} is {self.get(job_id).state}; only a queued, running or interrupted job can be cancelled",
                "id",
            )
        proc = self.running.get(job.id)
        if proc is not None and proc.is_alive():
            proc.terminate()
        return self.get(job_id)

    def resume(self, job_id: str) -> JobRow:
        job = self.get(job_id)
        if not self.store.job_transition(
            job_id, "queued", ["interrupted", "cancelled"], message="resumed", finished_at=None
        ):
            raise ApiError(
                409, f"job {job_id} is {job.state}; only an interrupted or cancelled job can be resumed", "id"
            )
        self._wake.set()
        return self.get(job_id)

    async def _loop(self) -> None:
        while True:
            try:
                self._reap()
                await self._launch()
            except Exception:  # a busy database or a failed spawn must not stop the scheduler for good
                sys.stderr.write("perfmodel serve: job scheduler error:\n")
                traceback.print_exc()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.2)

    def _reap(self) -> None:
        for job_id, proc in list(self.running.items()):
            if proc.exitcode is None:
                continue
            proc.join()
            del self.running[job_id]
            job = self.store.job_get(job_id)
            if job is not None and job.state == "running":
                self.store.job_transition(
                    job_id,
                    "failed",
                    ["running"],
                    message=f"the job process exited with code {proc.exitcode}",
                    finished_at=time.time(),
                )

    async def _launch(self) -> None:
        while len(self.running) < self.job_workers:
            job = self.store.next_queued()
            if job is None:
                return
            if not self.store.job_transition(
                job.id, "running", ["queued"], started_at=time.time(), attempts=job.attempts + 1, message=""
            ):
                continue
            proc = CONTEXT.Process(
                target=job_main,
                args=(str(self.store.path), str(self.data_dir), job.id, os.getpid()),
                name=f"perfmodel-job-{job.id}",
            )
            self.running[job.id] = proc
            await asyncio.to_thread(proc.start)
            # A cancel that arrived while the process was starting found it not alive yet: end it now.
            current = self.store.job_get(job.id)
            if current is not None and current.state != "running":
                proc.terminate()

    async def stop(self) -> None:
        """On shutdown: running jobs become `interrupted` (resumable) and their processes end."""
        if self._task is not None:
            self._task.cancel()
        for job_id, proc in list(self.running.items()):
            self.store.job_transition(
                job_id, "interrupted", ["running"], message="the server stopped while the job ran"
            )
            proc.terminate()
        for proc in self.running.values():
            await asyncio.to_thread(proc.join, 5)
            if proc.is_alive():
                proc.kill()
        self.running.clear()
