"""A persistent cache of what `estimate_many` derives per (op, shape key, board): it survives the process.

A fresh process pricing a table first dry-runs the kernels and prices the stage signature of every distinct
(board, shape key) -- milliseconds each, thousands in a large table. Those figures depend only on the code
(the perfmodel sources, the op's folder, the tool version) and on the board profile's content, so they are
kept on disk, one file per (op, code, board):

    <cache dir>/<op>-<hash of the code>-<hash of the profile>.pkl   (a pickled dict: shape key -> figures)

A file written by another version of the code is removed when this one writes its own for the same op and
board.

The cache directory is `PERFMODEL_CACHE_DIR` when set ("off" disables the cache), else the user's cache
directory (`platformdirs.user_cache_dir("tensix-perfmodel")`). Files are written whole to a temporary file
and renamed into place (`os.replace`), so concurrent writers never leave a torn file (one of them wins; the
other's entries are computed again next time). A file that cannot be read, written or unpickled is ignored:
the cache only ever saves time. The files hold pickles: like any cache directory, it must be the user's own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import tempfile
from collections.abc import Hashable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

ENV = "PERFMODEL_CACHE_DIR"
_OFF = {"off", "0", "false", "no", "none"}
# Bump when the layout of the cached figures changes (not needed when only the code changes: it is hashed).
FORMAT = 1


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
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def _version() -> str:
    try:
        return metadata.version("tensix-perfmodel")
    except metadata.PackageNotFoundError:
        return "unknown"


def profile_hash(device: Any) -> str:
    """Hash of a board profile's content (every figure, its name included: a signature carries the name)."""
    return hashlib.sha256(repr(device).encode()).hexdigest()[:24]


class FigureStore:
    """The cached figures of one op on one board: `get` and `put` by shape key, `save` writes new ones."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[Hashable, Any] = _load(path) if path is not None else {}
        self.new: dict[Hashable, Any] = {}

    def get(self, key: Hashable) -> Any:
        return self.entries.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        self.entries[key] = value
        self.new[key] = value

    def save(self) -> None:
        """Merge the new entries into the file (another process may have added some meanwhile), and remove
        the files of the same op and board left by other versions of the code (they are never read again)."""
        if self.path is None or not self.new:
            return
        merged = {**_load(self.path), **self.new}
        _write(self.path, merged)
        self.new = {}
        op, _, profile = self.path.stem.rsplit("-", 2)
        for stale in self.path.parent.glob(f"{op}-*-{profile}.pkl"):
            if stale != self.path and stale.stem.rsplit("-", 2)[0] == op:
                with contextlib.suppress(OSError):
                    stale.unlink()


def store(op_name: str, device: Any) -> FigureStore:
    """The figure store of `op_name` on `device` (a store that keeps nothing when the cache is off)."""
    folder = cache_dir()
    if folder is None:
        return FigureStore(None)
    return FigureStore(folder / f"{op_name}-{code_hash(op_name)}-{profile_hash(device)}.pkl")


def _load(path: Path) -> dict[Hashable, Any]:
    try:
        with path.open("rb") as f:
            value = pickle.load(f)
    except Exception:  # absent, unreadable, torn or from another pickle protocol: as if empty
        return {}
    return value if isinstance(value, dict) else {}


def _write(path: Path, entries: Mapping[Hashable, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(dict(entries), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass  # a read-only or full disk, a figure that does not pickle: the cache is only a shortcut
