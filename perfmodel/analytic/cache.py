"""A persistent cache of what `estimate_many` derives per (op, shape key, board): it survives the process.

A fresh process pricing a table first dry-runs the kernels and prices the stage signature of every distinct
(board, shape key) -- milliseconds each, thousands in a large table. Those figures depend only on the code
(the perfmodel sources, the op's folder, the tool version) and on the board profile's content, so they are
kept on disk, one file per (op, code, board):

    <cache dir>/<op>-<hash of the code>-<hash of the profile>.sqlite   (shape key -> pickled figures)

A file written by another version of the code is removed when this one writes its own for the same op and
board.

The cache directory is `PERFMODEL_CACHE_DIR` when set ("off" disables the cache), else the user's cache
directory (`platformdirs.user_cache_dir("tensix-perfmodel")`). Each file is an SQLite table, which serialises
concurrent writers and lets a small table read only its own entries. A file or entry that cannot be read,
written or unpickled is ignored (a file that is not a database is replaced when figures are next written):
the cache only ever saves time. The entries are pickles: like any cache directory, it must be the user's own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import pickle
import sqlite3
from collections.abc import Hashable
from importlib import metadata
from pathlib import Path
from typing import Any

from perfmodel._layout import FOLDERS

ENV = "PERFMODEL_CACHE_DIR"
_OFF = {"off", "0", "false", "no", "none"}
# Bump when the layout of the cached figures changes (not needed when only the code changes: it is hashed).
FORMAT = 1
SUFFIX = ".sqlite"


def cache_dir() -> Path | None:
    """The cache directory, or None when the cache is off."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF or not value.strip() else Path(value)
    import platformdirs

    return Path(platformdirs.user_cache_dir("tensix-perfmodel"))


@functools.lru_cache(maxsize=64)
def code_hash(op_name: str) -> str:
    """Hash of the perfmodel sources, the op's folder and the tool version: what the figures are derived by."""
    import perfmodel
    from perfmodel.analytic.engine import op_model

    digest = hashlib.sha256(f"format {FORMAT}; version {_version()}".encode())
    roots = [Path(perfmodel.__file__).resolve().parent, Path(op_model(op_name).__file__).resolve().parent]
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root)
            if root == roots[0] and relative.parts[0] in FOLDERS:
                continue  # the top-level folders an installed copy holds inside: a checkout must hash alike
            digest.update(str(relative).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def _version() -> str:
    try:
        return metadata.version("tensix-perfmodel")
    except metadata.PackageNotFoundError:
        return "unknown"


def profile_hash(device: Any) -> str:
    """Hash of a board profile's content: every field that takes part in its equality (every figure, its name
    included: a signature carries the name), not the file it was read from."""
    content = tuple((f.name, getattr(device, f.name)) for f in dataclasses.fields(device) if f.compare)
    return hashlib.sha256(repr(content).encode()).hexdigest()[:24]


class FigureStore:
    """The cached figures of one op on one board: `get` and `put` by shape key, `save` writes the new ones.

    The file is an SQLite table (key, pickled figures), so a small table reads only the figures it needs;
    SQLite serialises concurrent writers. Nothing is opened until the first `get` or `save`.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.new: dict[Hashable, Any] = {}
        self._db: sqlite3.Connection | None = None
        self._broken = path is None
        self._not_a_database = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            assert self.path is not None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
                self._db.execute("CREATE TABLE IF NOT EXISTS figures (key TEXT PRIMARY KEY, value BLOB)")
            except (OSError, sqlite3.Error) as exc:
                self._close()
                self._broken = True
                # A file SQLite does not recognise (not a busy or unwritable one) is replaced by `save`.
                self._not_a_database = isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.OperationalError
                )
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None

    def get(self, key: Hashable) -> Any:
        """The figures stored under `key`, or None (absent, unreadable or not unpickling)."""
        if key in self.new:
            return self.new[key]
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT value FROM figures WHERE key = ?", (repr(key),)).fetchone()
            return None if row is None else pickle.loads(row[0])
        except Exception:  # a corrupt file or entry: as if absent
            return None

    def put(self, key: Hashable, value: Any) -> None:
        self.new[key] = value

    def save(self) -> None:
        """Write the new entries, and remove the files of the same op and board left by other versions of the
        code (they are never read again). A file that is not a database is replaced."""
        if self.path is None or not self.new:
            self._close()
            return
        self._broken = False  # a failed read is tried again for writing
        try:
            entries = [(repr(k), pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)) for k, v in self.new.items()]
        except Exception:  # a figure that does not pickle: nothing is kept
            self.new = {}
            return
        for attempt in range(2):
            db = self._connect()
            if db is not None:
                try:
                    with db:
                        db.execute("BEGIN IMMEDIATE")
                        db.executemany("INSERT OR REPLACE INTO figures (key, value) VALUES (?, ?)", entries)
                    break
                except sqlite3.OperationalError:
                    break  # locked for longer than the timeout, read-only, full: the cache is only a shortcut
                except sqlite3.DatabaseError:
                    self._not_a_database = True
            self._close()
            if attempt or not self._not_a_database:
                break
            with contextlib.suppress(OSError):
                self.path.unlink()  # not a database (a torn or foreign file): start a new one
            self._broken = self._not_a_database = False
        self._close()
        self.new = {}
        op, _, profile = self.path.stem.rsplit("-", 2)
        for stale in self.path.parent.glob(f"{op}-*-{profile}{SUFFIX}"):
            if stale != self.path and stale.stem.rsplit("-", 2)[0] == op:
                with contextlib.suppress(OSError):
                    stale.unlink()


def store(op_name: str, device: Any) -> FigureStore:
    """The figure store of `op_name` on `device` (a store that keeps nothing when the cache is off)."""
    folder = cache_dir()
    if folder is None:
        return FigureStore(None)
    return FigureStore(folder / f"{op_name}-{code_hash(op_name)}-{profile_hash(device)}{SUFFIX}")
