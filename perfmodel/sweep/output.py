"""The sweep's output file: checked before any work, written atomically, with its provenance columns.

Parquet (through pyarrow, with the spec and its hash in the file's metadata), or CSV when the path ends in
`.csv`. The table is written to a temporary file in the output's folder, flushed to disk and renamed over the
output, so a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import pandas as pd

from perfmodel.errors import InputError

DISTRIBUTION = "tensix-perfmodel"
PROVENANCE_COLUMNS = ("profile_sha256", "perfmodel_version")


def tool_version() -> str:
    """The installed version of the tool (package metadata)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def profile_sha256(device: str) -> str:
    """sha256 of the bytes of the profile file the `device` column names (a shipped board or a path)."""
    from perfmodel.device import list_devices

    if device in list_devices():
        data = (resources.files("perfmodel.device_profiles") / f"{device}.toml").read_bytes()
    else:
        data = Path(device).read_bytes()
    return hashlib.sha256(data).hexdigest()


def is_csv(out: Path) -> bool:
    return out.suffix.lower() == ".csv"


def check_output_path(out: Path) -> None:
    """Refuse an output the sweep could not write, before it runs: a missing folder, or not a regular file."""
    folder = out.parent
    if not folder.is_dir():
        raise InputError(f"--out {str(out)!r}: folder {str(folder)!r} does not exist")
    if out.exists() and not out.is_file():
        raise InputError(f"--out {str(out)!r} exists and is not a regular file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"--out {str(out)!r}: folder {str(folder)!r} is not writable")


def write_table(table: pd.DataFrame, out: Path, *, metadata_json: dict[str, Any]) -> None:
    """Write `table` to `out` (Parquet, or CSV for `.csv`) atomically: temp file, fsync, rename, fsync folder."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if is_csv(out):
                table.to_csv(handle, index=False)
            else:
                _write_parquet(table, handle, metadata_json)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(out.parent)


def _write_parquet(table: pd.DataFrame, handle: Any, metadata_json: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[b"perfmodel.sweep"] = json.dumps(metadata_json, sort_keys=True).encode()
    pq.write_table(arrow.replace_schema_metadata(meta), handle)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - folders cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def read_table(out: str | Path) -> pd.DataFrame:
    """A sweep's output as a DataFrame (Parquet or CSV by suffix)."""
    out = Path(out)
    if not is_csv(out):
        return pd.read_parquet(out)
    table = pd.read_csv(out)
    if "reason" in table:  # CSV has no difference between an empty string and a missing value
        table["reason"] = table["reason"].fillna("")
    return table
