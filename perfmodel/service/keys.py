"""Canonical cache keys: the same question asked twice, by anyone, maps to the same key.

A key is the SHA-256 of a canonical JSON document holding the endpoint, op, shape, dtype, the content
hash of the board profile, the full configuration (every field of the op's config, defaults filled in),
the engine and the tool version. The profile hash is taken over the parsed TOML content, so a shipped
board and the same profile uploaded as text share their results, and an edited profile never reuses
stale ones.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import tomllib
from collections.abc import Mapping
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from perfmodel.errors import InputError


@functools.cache
def tool_version() -> str:
    """The installed tensix-perfmodel version (part of every key: a new release recomputes)."""
    try:
        return metadata.version("tensix-perfmodel")
    except metadata.PackageNotFoundError:
        return "unknown"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, tuples as lists: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def profile_text_hash(text: str) -> str:
    """Content hash of a profile given as TOML text; malformed TOML is an InputError as the loader words it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"profile: not valid TOML: {exc}") from None
    return digest(data)


def shipped_profile_path(name: str) -> Path:
    return Path(str(resources.files("perfmodel.device_profiles"))) / f"{name}.toml"


def board_hash(name: str) -> str:
    """Content hash of a shipped board's profile file (re-read when the file changes)."""
    path = shipped_profile_path(name)
    return _file_hash(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _file_hash(path: str, mtime_ns: int) -> str:
    return profile_text_hash(Path(path).read_text())


def run_key(
    *,
    endpoint: str,
    op: str,
    shape: tuple[int, ...] | None,
    dtype: str,
    profile_hash: str,
    config: Mapping[str, Any],
    backend: str,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The cache key of one check / estimate / simulate request."""
    return digest(
        {
            "endpoint": endpoint,
            "op": op,
            "shape": list(shape) if shape is not None else None,
            "dtype": dtype,
            "profile": profile_hash,
            "config": dict(config),
            "backend": backend,
            "version": tool_version(),
            "extra": dict(extra or {}),
        }
    )
