"""Fit a profile's data-movement parameters to single-core DRAM measurements (`dram_unary` rows).

Fitted, per direction (read, write): the per-packet issue cost on the RISC-V, the round-trip latency and the
per-core sustained bandwidth of the NoC interface -- the three numbers `costs.packet_cost` reads that the
benchmark can see. Bank and link bandwidth stay at their spec / tt-npe values (one core cannot saturate
them). The model is `dram_unary.dram_unary_cycles`; the fit is `scipy.optimize.least_squares` on the log
of predicted / measured cycles (relative error, symmetric, robust to the few slow rows via soft_l1).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from perfmodel.calibration.dram_unary import dram_unary_cycles
from perfmodel.device.profile import DeviceProfile
from perfmodel.errors import InputError

SHIPPED_DATA = "dram_single_core.csv"
CSV_COLUMNS = ("arch", "benchmark", "direction", "transaction_bytes", "num_transactions", "cycles")
# (profile key, direction, lower bound, upper bound): what the fit may move.
PARAMETERS: tuple[tuple[str, str, float, float], ...] = (
    ("noc.read_issue_cycles", "read", 1.0, 500.0),
    ("dram.read_latency_cycles", "read", 1.0, 5000.0),
    ("noc.core_read_bytes_per_cycle", "read", 1.0, 256.0),
    ("noc.write_issue_cycles", "write", 1.0, 500.0),
    ("dram.write_latency_cycles", "write", 1.0, 5000.0),
    ("noc.core_write_bytes_per_cycle", "write", 1.0, 256.0),
)


@dataclass(frozen=True)
class RowError:
    direction: str
    transaction_bytes: int
    num_transactions: int
    measured_cycles: float
    predicted_cycles: float

    @property
    def rel_error(self) -> float:
        return (self.predicted_cycles - self.measured_cycles) / self.measured_cycles


@dataclass(frozen=True)
class CalibrationResult:
    """The fitted profile, the fitted values by key, and the per-row errors after the fit."""

    profile: DeviceProfile
    values: dict[str, float]
    rows: tuple[RowError, ...]
    data_file: str
    date: str

    def errors(self, direction: str | None = None) -> np.ndarray:
        return np.array([abs(r.rel_error) for r in self.rows if direction in (None, r.direction)])

    @property
    def median_abs_error(self) -> float:
        return float(np.median(self.errors()))

    @property
    def max_abs_error(self) -> float:
        return float(np.max(self.errors()))


def shipped_data() -> Path:
    """The measurements shipped with the package (tt-metal's published dram_unary runs; see data/README.md)."""
    return Path(str(resources.files("perfmodel.calibration") / "data" / SHIPPED_DATA))


# Accepted ranges of a measurement row: the published suite spans 32 B - 64 KiB and 1 - 256 transactions.
# The model prices every packet of every row at each step of the fit, so the ranges also bound its run time.
MAX_TRANSACTION_BYTES = 1 << 20  # 1 MiB
MAX_NUM_TRANSACTIONS = 1024
MAX_CYCLES = 1e12  # about 17 minutes at 1 GHz: no single-core transfer zone lasts that long


def read_measurements(path: str | Path, arch: str) -> pd.DataFrame:
    """The rows of `path` for `arch`; InputError naming the file, row and value of the first bad entry.

    Rows are numbered as lines of the file (the header is line 1).
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"calibration data file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"calibration data {str(path)!r} is a folder, not a CSV file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (needs {', '.join(CSV_COLUMNS)})")
    if table.empty:
        raise InputError(f"{path}: no measurement rows, only the header")
    table.index = table.index + 2  # the line of each row in the file
    rows = table[table["arch"].str.strip() == arch]
    if rows.empty:
        found = ", ".join(repr(a) for a in sorted(table["arch"].str.strip().unique()))
        raise InputError(f"{path}: no rows for arch {arch!r} (found: {found})")
    for line, direction in rows["direction"].items():
        if direction not in ("read", "write"):
            raise InputError(f"{path}: line {line}: direction {direction!r} is not read or write")
    limits = {
        "transaction_bytes": (1, MAX_TRANSACTION_BYTES, True),
        "num_transactions": (1, MAX_NUM_TRANSACTIONS, True),
        "cycles": (0, MAX_CYCLES, False),
    }
    out = rows[["arch", "benchmark", "direction"]].copy()
    for col, (low, high, integer) in limits.items():
        values = []
        for line, text in rows[col].items():
            values.append(_measurement(path, line, col, text, low, high, integer))
        out[col] = np.array(values, dtype=np.int64 if integer else float)
    return out.reset_index(drop=True)


def _measurement(path: Path, line: int, col: str, text: str, low: float, high: float, integer: bool) -> float:
    """One numeric cell, checked: finite, in range, and an integer where the column counts things."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{path}: line {line}: {col} = {text!r} is not a number") from None
    if integer:
        if not (math.isfinite(value) and value == int(value) and low <= value <= high):
            raise InputError(f"{path}: line {line}: {col} = {text!r} must be an integer in [{low}, {high:,}]")
        return int(value)
    if not (math.isfinite(value) and low < value <= high):
        raise InputError(f"{path}: line {line}: {col} = {text!r} must be a finite number in ({low}, {high:g}]")
    return value


def _evolve(device: DeviceProfile, keys: Sequence[str], values: Sequence[float]) -> DeviceProfile:
    return device.evolve(**{k: float(v) for k, v in zip(keys, values, strict=True)})


def predict(device: DeviceProfile, rows: pd.DataFrame) -> np.ndarray:
    """Model cycles of every measurement row on `device`."""
    return np.array(
        [
            dram_unary_cycles(device, r.direction, int(r.transaction_bytes), int(r.num_transactions))
            for r in rows.itertuples()
        ]
    )


def calibrate(device: DeviceProfile, data_file: str | Path) -> CalibrationResult:
    """Fit `PARAMETERS` of `device` to the `device.arch` rows of `data_file`; returns the evolved profile."""
    rows = read_measurements(data_file, device.arch)
    measured = rows["cycles"].to_numpy(float)
    present = [p for p in PARAMETERS if p[1] in set(rows["direction"])]
    keys = [p[0] for p in present]
    lower = np.array([p[2] for p in present])
    upper = np.array([p[3] for p in present])
    start = np.clip(np.array([_get(device, k) for k in keys]), lower, upper)

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.log(predict(_evolve(device, keys, x), rows) / measured)

    # A few starts, since the max() in the model makes the surface piecewise smooth.
    best = None
    for scale in (1.0, 0.5, 2.0):
        x0 = np.clip(start * scale, lower, upper)
        fit = least_squares(residuals, x0, bounds=(lower, upper), loss="soft_l1", f_scale=0.1, x_scale="jac")
        if best is None or fit.cost < best.cost:
            best = fit
    assert best is not None
    fitted = _evolve(device, keys, best.x)
    predicted = predict(fitted, rows)
    errors = tuple(
        RowError(r.direction, int(r.transaction_bytes), int(r.num_transactions), float(r.cycles), float(p))
        for r, p in zip(rows.itertuples(), predicted, strict=True)
    )
    return CalibrationResult(
        profile=fitted,
        values=dict(zip(keys, (float(v) for v in best.x), strict=True)),
        rows=errors,
        data_file=str(data_file),
        date=_dt.date.today().isoformat(),
    )


def _get(device: DeviceProfile, key: str) -> float:
    section, name = key.split(".")
    return float(getattr(getattr(device, section), name))
