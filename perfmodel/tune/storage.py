"""Where a study lives: in memory, an RDB (SQLite, PostgreSQL, MySQL) or a journal file.

Accepted forms of `storage`:
- `None` or `""`: in memory (the study ends with the process);
- an SQLAlchemy URL of a database optuna's RDBStorage supports: `sqlite:///study.db` (relative path),
  `sqlite:////abs/study.db`, `postgresql://user@host/db`, `mysql+pymysql://...`;
- a journal file: `journal:///study.log` (relative) or `journal:////abs/study.log`, following SQLite's slash
  convention, or simply a path ending in `.log`. Journal files need no database and are safe for several
  processes on one machine (file locks).

Anything else is an `InputError` naming the value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfmodel.errors import InputError

JOURNAL_SCHEME = "journal://"
RDB_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")
FORMS = "sqlite:///FILE.db, postgresql://..., journal:///FILE.log or FILE.log"


@dataclass(frozen=True)
class StorageSpec:
    """A parsed storage: its kind ('memory', 'rdb' or 'journal'), the URL as given, and the journal path."""

    kind: str
    url: str
    path: Path | None = None

    @property
    def label(self) -> str:
        """What results report as the storage: 'memory' or the URL."""
        return "memory" if self.kind == "memory" else self.url


def parse_storage(storage: str | None) -> StorageSpec:
    """Classify a storage URL without touching it; a malformed one is an InputError naming it."""
    if storage is None or storage == "":
        return StorageSpec("memory", "")
    if not isinstance(storage, str):
        raise InputError(f"storage must be a URL string, got {type(storage).__name__}")
    if storage.startswith(JOURNAL_SCHEME):
        rest = storage[len(JOURNAL_SCHEME) :]
        if not rest.startswith("/") or rest == "/":
            raise InputError(f"malformed storage URL {storage!r}: expected journal:///FILE.log")
        return _journal(storage, Path(rest[1:]))
    if "://" not in storage:
        if storage.endswith(".log"):
            return _journal(storage, Path(storage))
        raise InputError(f"malformed storage URL {storage!r}: expected {FORMS}")
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(storage)
    except ArgumentError:
        raise InputError(f"malformed storage URL {storage!r}: expected {FORMS}") from None
    dialect = url.get_backend_name()
    if dialect not in RDB_DIALECTS:
        raise InputError(f"unknown storage scheme {dialect!r} in {storage!r}: expected {FORMS}")
    if dialect == "sqlite":
        if not url.database:
            raise InputError(f"storage URL {storage!r} names no database file: expected sqlite:///FILE.db")
        folder = Path(url.database).resolve().parent
        if url.database != ":memory:" and not folder.is_dir():
            raise InputError(f"storage {storage!r}: folder {folder} does not exist")
    return StorageSpec("rdb", storage)


def _journal(storage: str, path: Path) -> StorageSpec:
    if not path.name:
        raise InputError(f"malformed storage URL {storage!r}: no journal file name")
    if not path.resolve().parent.is_dir():
        raise InputError(f"storage {storage!r}: folder {path.resolve().parent} does not exist")
    return StorageSpec("journal", storage, path)


def open_storage(spec: StorageSpec) -> Any:
    """The optuna storage object of a parsed spec (connecting to a database here, so errors name the URL)."""
    import optuna

    if spec.kind == "memory":
        return optuna.storages.InMemoryStorage()
    if spec.kind == "journal":
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        assert spec.path is not None
        return JournalStorage(JournalFileBackend(str(spec.path)))
    try:
        return _rdb(spec.url)
    except ImportError as exc:
        raise InputError(f"storage {spec.url!r} needs a database driver that is not installed ({exc.name})") from None
    except Exception as exc:  # SQLAlchemy's errors: unreachable server, bad credentials, unknown driver
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot open storage {spec.url!r}: {first}") from None


def _rdb(url: str, attempts: int = 5) -> Any:
    """optuna's RDBStorage, retried: processes that open a new database together race to create its schema,
    and the losers fail once the winner has created it."""
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
