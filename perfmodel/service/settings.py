"""The server's settings: one frozen record built by `perfmodel serve` (or a test) and read by every part."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Bodies larger than this are refused with 413 before they are read in full.
MAX_BODY_BYTES = 8 * 1024 * 1024
# Rows one POST /v1/estimate_many may carry (413 above it); larger tables go in several requests or a sweep.
MAX_ROWS = 10_000


@dataclass(frozen=True)
class Settings:
    """Where state lives, how much work runs at once, and how long a request may take.

    `workers` processes answer check / estimate / simulate requests; `job_workers` processes run jobs. At most
    `max_pending` requests wait for a worker before the server answers 429; at most `max_queued_jobs` jobs wait.
    """

    data_dir: Path
    workers: int = 2
    job_workers: int = 1
    token: str | None = None
    request_timeout_s: float = 120.0
    max_pending: int = 64
    max_queued_jobs: int = 256
    max_body_bytes: int = MAX_BODY_BYTES
    max_rows: int = MAX_ROWS

    @property
    def db_path(self) -> Path:
        return self.data_dir / "perfmodel.sqlite3"
