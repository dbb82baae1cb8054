"""The checkpoint of a sweep: an SQLite file beside the output holding every finished (point, backend) row.

Each batch of finished rows is one committed transaction, so a run stopped at any instant (Ctrl-C,
`kill -9`, a lost machine) leaves whole rows or none; a rerun skips what is stored and never stores a row
twice (the key is the point's index in the spec and the backend). The file also records the sweep's
identity (spec hash, tool version, board profile hashes): rows made under another identity are never mixed in.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from perfmodel.errors import InputError
from perfmodel.sweep.evaluate import RESULT_COLUMNS

# One typed column per result column (REAL keeps a double's bits exactly; SQLite stores NaN as NULL).
_SQL_TYPES = {
    "kernel_duration_ns": "REAL",
    "cycles": "REAL",
    "bound": "TEXT",
    "num_cores": "INTEGER",
    "l1_bytes_per_core": "INTEGER",
    "feasible": "INTEGER",
    "reason": "TEXT",
}
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    point INTEGER NOT NULL,
    backend TEXT NOT NULL,
    {", ".join(f"{c} {_SQL_TYPES[c]}" for c in RESULT_COLUMNS)},
    PRIMARY KEY (point, backend)
);
"""
_INSERT = (
    f"INSERT OR IGNORE INTO rows (point, backend, {', '.join(RESULT_COLUMNS)}) "
    f"VALUES (?, ?, {', '.join('?' for _ in RESULT_COLUMNS)})"
)


def checkpoint_path(out: Path) -> Path:
    """Where the checkpoint of output `out` lives: `<out>.checkpoint.sqlite` in the same folder."""
    return out.with_name(out.name + ".checkpoint.sqlite")


class Checkpoint:
    """An open checkpoint file. Use as a context manager; writes are committed per `add` call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"checkpoint {str(path)!r} is not a sweep checkpoint ({exc}); use --overwrite") from None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def identity(self) -> dict[str, Any] | None:
        """The identity this checkpoint was made under, or None for a new file."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        return None if row is None else json.loads(row[0])

    def claim(self, identity: Mapping[str, Any]) -> None:
        """Record `identity` in a new checkpoint."""
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('identity', ?)", (json.dumps(identity, sort_keys=True),)
        )

    def done(self) -> set[tuple[int, str]]:
        """The (point, backend) keys already stored."""
        return {(int(p), str(b)) for p, b in self._db.execute("SELECT point, backend FROM rows")}

    def add(self, backend: str, points: Sequence[int], results: Iterable[Sequence[Any]]) -> None:
        """Store finished rows in one transaction: `results` gives the values of `RESULT_COLUMNS` for each of
        `points` (indices in the spec) under `backend`. A row already stored is left as it is."""
        payload = [(int(p), backend, *r) for p, r in zip(points, results, strict=True)]
        if not payload:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(_INSERT, payload)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def frame(self) -> pd.DataFrame:
        """Every stored row: columns point, backend and `RESULT_COLUMNS` with their types (NaN for no time)."""
        query = f"SELECT point, backend, {', '.join(RESULT_COLUMNS)} FROM rows ORDER BY point, backend"
        records = self._db.execute(query).fetchall()
        table = pd.DataFrame.from_records(records, columns=["point", "backend", *RESULT_COLUMNS])
        for column in ("kernel_duration_ns", "cycles"):
            table[column] = table[column].astype("float64")
        for column in ("point", "num_cores", "l1_bytes_per_core"):
            table[column] = table[column].astype("int64")
        table["feasible"] = table["feasible"].astype(bool)
        table["bound"] = table["bound"].astype(object).where(table["bound"].notna(), None)
        table["reason"] = table["reason"].astype(object)
        return table
