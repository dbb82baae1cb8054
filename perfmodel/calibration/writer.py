"""Write a calibrated profile: the source TOML copied line for line, fitted values re-tagged `fit`, residuals appended.

Profile files keep one `key = { value, tag, source }` per line inside `[section]` tables (see
`perfmodel.device.loader`). Rewriting only those lines keeps every other value, its provenance and the
comments exactly as they were; the result is loaded back to prove it is a valid profile.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from perfmodel.calibration.fit import CalibrationResult
from perfmodel.device.loader import load_profile_file
from perfmodel.device.profile import DeviceProfile
from perfmodel.errors import InputError
from perfmodel.io.files import write_text_safely

VALUE_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*\{.*\}\s*$")
SECTION_LINE = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")


def toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def _format_value(value: float) -> str:
    return repr(round(float(value), 3))


def render(source_text: str, result: CalibrationResult) -> str:
    """The source profile text with the fitted keys replaced and a [calibration] table at the end."""
    data_name = Path(result.data_file).name
    per_dir = {}
    for direction in ("read", "write"):
        errs = result.errors(direction)
        if errs.size:
            per_dir[direction] = (float(np.median(errs)), float(np.max(errs)), int(errs.size))
    pending = dict(result.values)
    out_lines: list[str] = []
    section = ""
    for line in source_text.splitlines():
        head = SECTION_LINE.match(line)
        if head:
            section = head.group("name")
            if section == "calibration":
                break  # an earlier calibration is replaced below
        match = VALUE_LINE.match(line)
        if match and section and f"{section}.{match.group('key')}" in pending:
            key = f"{section}.{match.group('key')}"
            direction = "read" if "read" in key else "write"
            med, worst, n = per_dir[direction]
            source = (
                f"perfmodel calibrate: dram_unary model fitted to {data_name} ({n} {direction} rows) on "
                f"{result.date}; median |error| {100 * med:.1f}%, max {100 * worst:.1f}%"
            )
            line = (
                f'{match.group("key")} = {{ value = {_format_value(pending.pop(key))}, tag = "fit", '
                f"source = {toml_string(source)} }}"
            )
        out_lines.append(line)
    if pending:
        raise InputError(f"profile has no line for fitted key(s) {', '.join(sorted(pending))}")
    while out_lines and not out_lines[-1].strip():
        out_lines.pop()
    rows = result.rows
    out_lines += [
        "",
        "# Written by `perfmodel calibrate`: the fit's data, date and per-row residuals (relative error).",
        "[calibration]",
        f"data_file = {toml_string(data_name)}",
        f"date = {toml_string(result.date)}",
        f"rows = {toml_string(f'the arch = {result.profile.arch} rows (the data does not name the board)')}",
        'model = "dram_unary closed form (perfmodel.calibration.dram_unary), scipy least_squares on log ratio"',
        f"fitted_keys = [{', '.join(toml_string(k) for k in result.values)}]",
        f"median_abs_rel_error = {result.median_abs_error:.4f}",
        f"max_abs_rel_error = {result.max_abs_error:.4f}",
        f"direction = [{', '.join(toml_string(r.direction) for r in rows)}]",
        f"transaction_bytes = [{', '.join(str(r.transaction_bytes) for r in rows)}]",
        f"num_transactions = [{', '.join(str(r.num_transactions) for r in rows)}]",
        f"measured_cycles = [{', '.join(f'{r.measured_cycles:.0f}' for r in rows)}]",
        f"predicted_cycles = [{', '.join(f'{r.predicted_cycles:.1f}' for r in rows)}]",
        f"rel_error = [{', '.join(f'{r.rel_error:.4f}' for r in rows)}]",
    ]
    return "\n".join(out_lines) + "\n"


def source_path(source: DeviceProfile) -> Path:
    """The file `source` was loaded from (a fitted profile copies it line for line); InputError when none."""
    if source.path is None:
        raise InputError(f"profile {source.name} was not loaded from a file; cannot copy its provenance")
    return Path(source.path)


def write_profile_text(text: str, out_path: str | Path, what: str) -> DeviceProfile:
    """Write profile `text` safely to `out_path` (see `perfmodel.io.files`); returns it as loaded back.

    The text is loaded back from the temporary file before the rename: an invalid profile never replaces the
    target.
    """
    written = write_text_safely(out_path, text, what=what, verify=load_profile_file)
    return dataclasses.replace(load_profile_file(written), path=str(out_path))


def write_profile(source: DeviceProfile, result: CalibrationResult, out_path: str | Path) -> DeviceProfile:
    """Write the calibrated profile safely (see `perfmodel.io.files`); returns it as loaded back from `out_path`."""
    text = render(source_path(source).read_text(encoding="utf-8"), result)
    return write_profile_text(text, out_path, "output profile")
