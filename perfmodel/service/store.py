"""All state of a server in one SQLite database in the data dir: the result cache, the jobs, the artifacts.

The database runs in WAL mode, so a server killed with `kill -9` loses nothing that was committed: every
cached result, every finished job and its progress survive a restart. The server process and each job
process open their own `Store` on the same file; every write is a single short transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOB_STATES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
ACTIVE_STATES = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    done REAL NOT NULL DEFAULT 0,
    total REAL,
    unit TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    result TEXT,
    artifact_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
CREATE TABLE IF NOT EXISTS artifacts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    path TEXT NOT NULL,
    job_id TEXT,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class JobRow:
    """One job as stored."""

    id: str
    kind: str
    params: dict[str, Any]
    state: str
    done: float
    total: float | None
    unit: str
    message: str
    result: Any
    artifact_id: str | None
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float


@dataclass(frozen=True)
class ArtifactRow:
    """A file the server wrote, under a name it chose; `path` is relative to the data dir."""

    id: str
    name: str
    media_type: str
    path: str
    job_id: str | None
    created_at: float


def new_id() -> str:
    return uuid.uuid4().hex


class Store:
    """A connection to the service database (thread-safe; one per process)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(args))

    def _one(self, sql: str, args: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchone()

    # -- cache ---------------------------------------------------------------------------------------------

    def cache_get(self, key: str) -> str | None:
        """The stored JSON text of a result, or None."""
        row = self._one("SELECT payload FROM cache WHERE key = ?", (key,))
        return row[0] if row else None

    def cache_put(self, key: str, endpoint: str, payload: str) -> None:
        self._exec(
            "INSERT OR REPLACE INTO cache (key, endpoint, payload, created_at) VALUES (?, ?, ?, ?)",
            (key, endpoint, payload, time.time()),
        )

    def cache_size(self) -> int:
        row = self._one("SELECT COUNT(*) FROM cache")
        return int(row[0]) if row else 0

    # -- jobs ----------------------------------------------------------------------------------------------

    def job_create(self, kind: str, params: dict[str, Any]) -> JobRow:
        now = time.time()
        job_id = new_id()
        self._exec(
            "INSERT INTO jobs (id, kind, params, state, created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?)",
            (job_id, kind, json.dumps(params), now, now),
        )
        job = self.job_get(job_id)
        assert job is not None
        return job

    def job_get(self, job_id: str) -> JobRow | None:
        row = self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    def jobs(self, state: str | None = None, limit: int = 100) -> list[JobRow]:
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY created_at DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [_job(r) for r in rows]

    def job_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        counts = dict.fromkeys(JOB_STATES, 0)
        counts.update({state: int(n) for state, n in rows})
        return counts

    def next_queued(self) -> JobRow | None:
        row = self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'queued' ORDER BY created_at LIMIT 1")
        return _job(row) if row else None

    def job_transition(self, job_id: str, to: str, from_states: Iterable[str], **fields: Any) -> bool:
        """Set `state` to `to` only if it is one of `from_states` (atomic); True when it changed."""
        states = tuple(from_states)
        sets = ["state = ?", "updated_at = ?", *(f"{name} = ?" for name in fields)]
        values = [to, time.time(), *(_column(name, v) for name, v in fields.items())]
        marks = ", ".join("?" * len(states))
        cur = self._exec(
            f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND state IN ({marks})", (*values, job_id, *states)
        )
        return cur.rowcount == 1

    def job_progress(self, job_id: str, done: float, total: float | None, unit: str, message: str = "") -> None:
        self._exec(
            "UPDATE jobs SET done = ?, total = ?, unit = ?, message = ?, updated_at = ? "
            "WHERE id = ? AND state = 'running'",
            (float(done), None if total is None else float(total), unit, message, time.time(), job_id),
        )

    def interrupt_running(self) -> int:
        """At start-up: jobs left `running` by a server that died are `interrupted` (resumable)."""
        cur = self._exec(
            "UPDATE jobs SET state = 'interrupted', message = 'the server stopped while the job ran', updated_at = ? "
            "WHERE state = 'running'",
            (time.time(),),
        )
        return cur.rowcount

    # -- artifacts -----------------------------------------------------------------------------------------

    def artifact_add(
        self, name: str, media_type: str, path: str, job_id: str | None = None, artifact_id: str | None = None
    ) -> ArtifactRow:
        art = ArtifactRow(artifact_id or new_id(), name, media_type, path, job_id, time.time())
        self._exec(
            "INSERT INTO artifacts (id, name, media_type, path, job_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (art.id, art.name, art.media_type, art.path, art.job_id, art.created_at),
        )
        return art

    def artifact_get(self, artifact_id: str) -> ArtifactRow | None:
        row = self._one(
            "SELECT id, name, media_type, path, job_id, created_at FROM artifacts WHERE id = ?", (artifact_id,)
        )
        return ArtifactRow(*row) if row else None


_JOB_FIELDS = (
    "id",
    "kind",
    "params",
    "state",
    "done",
    "total",
    "unit",
    "message",
    "result",
    "artifact_id",
    "attempts",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
)
_JOB_COLUMNS = ", ".join(_JOB_FIELDS)


def _column(name: str, value: Any) -> Any:
    return json.dumps(value) if name == "result" and value is not None else value


def _job(row: tuple[Any, ...]) -> JobRow:
    values = dict(zip(_JOB_FIELDS, row, strict=True))
    values["params"] = json.loads(values["params"])
    values["result"] = json.loads(values["result"]) if values["result"] is not None else None
    return JobRow(**values)
