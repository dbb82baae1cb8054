"""Read tt-metal's device-profiler `ops_perf_results` CSV: rows as text, tensor dims, durations, boards.

Three column sets exist in the wild: the oldest names tensor dims `INPUT_0_W` ... `INPUT_0_X` with plain
numbers ("v1"); newer files name them `INPUT_0_W_PAD[LOGICAL]` with `padded[logical]` cells ("v2"); the
newest add `DEVICE ARCH` and `AVAILABLE WORKER CORE COUNT` ("v2.1"). Dims are W, Z, Y, X, outermost first.
Cells stay text until a caller asks for a number, so a row can be handed to an op exactly as written.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from perfmodel.device import DeviceProfile, list_devices, load_device
from perfmodel.errors import InputError
from perfmodel.io.perf_row import Skip

OP_CODE = "OP CODE"
DURATION = "DEVICE KERNEL DURATION [ns]"
ARCH = "DEVICE ARCH"
AVAILABLE_CORES = "AVAILABLE WORKER CORE COUNT"
DIMS = ("W", "Z", "Y", "X")
# The board a DEVICE ARCH value stands for when the file cannot say more (the user names another with
# --device): the profiler writes the chip, not the board.
DEFAULT_BOARD = {"wormhole_b0": "wormhole_b0_n150", "blackhole": "blackhole_p150a"}


@dataclass(frozen=True)
class PerfFile:
    """The rows of one profiler CSV as {column: cell text}, its column set and where it came from."""

    path: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, str], ...]
    column_set: str  # "v1", "v2" or "v2.1"

    @property
    def name(self) -> str:
        return Path(self.path).name


def dim_column(prefix: str, dim: str, column_set: str) -> str:
    """'INPUT_0', 'W' -> 'INPUT_0_W_PAD[LOGICAL]' (v2, v2.1) or 'INPUT_0_W' (v1)."""
    return f"{prefix}_{dim}" if column_set == "v1" else f"{prefix}_{dim}_PAD[LOGICAL]"


def read_perf_csv(path: str | Path) -> PerfFile:
    """Parse `path`; a file that is not a readable profiler CSV is an InputError naming file and column/value."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"profiler CSV not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a profiler CSV") from None
    if b"\x00" in raw:
        raise InputError(f"{path}: not a CSV file (binary content)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a CSV file (not UTF-8 text)") from None
    if not text.strip():
        raise InputError(f"{path}: empty file, expected an ops_perf_results CSV with a header row")
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from None
    header = tuple(h.strip() for h in table[0])
    column_set = "v2.1" if ARCH in header or AVAILABLE_CORES in header else "v1"
    if column_set == "v1" and dim_column("INPUT_0", "W", "v2") in header:
        column_set = "v2"
    required = (OP_CODE, DURATION, *(dim_column("INPUT_0", d, column_set) for d in DIMS))
    for column in required:
        if column not in header:
            raise InputError(f"{path}: missing column {column!r}; not an ops_perf_results CSV")
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(f"{path}: line {number} has {len(cells)} cells, the header has {len(header)}")
        row = dict(zip(header, cells, strict=True))
        duration = row[DURATION].strip()
        if duration and not _is_number(duration):
            raise InputError(f"{path}: line {number}: column {DURATION!r} holds {duration!r}, not a number")
        rows.append(row)
    return PerfFile(str(path), header, tuple(rows), column_set)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def measured_ns(row: Mapping[str, str]) -> float | None:
    """The row's device kernel duration in ns, or None when the cell is empty (host ops, signposts)."""
    text = row.get(DURATION, "").strip()
    return float(text) if text else None


def board_for_row(row: Mapping[str, str], device: DeviceProfile | None, file: str) -> DeviceProfile | Skip:
    """The board the row ran on: `device` when given (it must be of the row's arch), else DEVICE ARCH's board."""
    arch = row.get(ARCH, "").strip()
    known = sorted({load_device(n).arch for n in list_devices()})
    if arch and arch not in known:
        raise InputError(f"{file}: DEVICE ARCH {arch!r} is not a known architecture (known: {', '.join(known)})")
    if device is not None:
        if arch and device.arch != arch:
            raise InputError(f"{file}: --device {device.name} is a {device.arch} board; the rows ran on {arch!r}")
        return device
    if not arch:
        return Skip("the row names no DEVICE ARCH: give the board with --device")
    return load_device(DEFAULT_BOARD.get(arch) or next(n for n in list_devices() if load_device(n).arch == arch))
