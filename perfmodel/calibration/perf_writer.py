"""Write a profile fitted to profiler rows: fitted lines re-tagged `fit`, a [calibration.perf_csv] record.

Like `writer.py` (the dram_unary calibration), the source profile is copied line for line and only the
fitted keys' lines change, so every other value keeps its provenance; the written file is loaded back
before it replaces anything.
"""

from __future__ import annotations

from pathlib import Path

from perfmodel.calibration.perf_fit import PerfFitResult
from perfmodel.calibration.writer import SECTION_LINE, VALUE_LINE, source_path, toml_string, write_profile_text
from perfmodel.device.profile import DeviceProfile
from perfmodel.errors import InputError

TABLE = "calibration.perf_csv"


def render_perf_fit(source_text: str, result: PerfFitResult) -> str:
    """The source profile text with the fitted keys replaced and a [calibration.perf_csv] table at the end."""
    name = Path(result.data_file).name
    fit = result.summary(held_out=False)
    held = result.summary(held_out=True)
    ops = sorted({p.description["op_code"] for p in result.problems if not p.held_out})
    assert fit is not None
    source = (
        f"perfmodel calibrate --perf-csv: analytic model fitted to {name} ({fit['problems']} problems of "
        f"{', '.join(ops)}) on {result.date}; median |error| {100 * fit['median_abs_error']:.1f}%, "
        f"max {100 * fit['max_abs_error']:.1f}%"
    )
    if held is not None:
        source += f"; held out {held['problems']}: median {100 * held['median_abs_error']:.1f}%"
    pending = dict(result.values)
    out: list[str] = []
    section = ""
    dropping = False
    for line in source_text.splitlines():
        head = SECTION_LINE.match(line)
        if head:
            section = head.group("name")
            dropping = section == TABLE  # an earlier record of this kind is replaced below
        if dropping:
            continue
        match = VALUE_LINE.match(line)
        key = f"{section}.{match.group('key')}" if match and section else None
        if key in pending:
            value = repr(round(float(pending.pop(key)), 4))
            line = f'{match.group("key")} = {{ value = {value}, tag = "fit", source = {toml_string(source)} }}'  # type: ignore[union-attr]
        out.append(line)
    if pending:
        raise InputError(f"profile has no line for fitted key(s) {', '.join(sorted(pending))}")
    while out and not out[-1].strip():
        out.pop()
    problems = result.problems
    out += [
        "",
        "# Written by `perfmodel calibrate --perf-csv`: the real rows fitted, per problem, and what was refused.",
        f"[{TABLE}]",
        f"data_file = {toml_string(name)}",
        f"date = {toml_string(result.date)}",
        'model = "analytic engine, scipy least_squares on log(predicted / measured) in log parameters"',
        f"fitted_keys = [{', '.join(toml_string(k) for k in result.values)}]",
        f"refused_keys = [{', '.join(toml_string(k) for k in result.refused)}]",
        f"median_abs_rel_error = {fit['median_abs_error']:.4f}",
        f"max_abs_rel_error = {fit['max_abs_error']:.4f}",
        f"problems = [{', '.join(toml_string(p.description['label']) for p in problems)}]",
        f"held_out = [{', '.join('true' if p.held_out else 'false' for p in problems)}]",
        f"measured_ns = [{', '.join(f'{p.measured_ns:.0f}' for p in problems)}]",
        f"predicted_ns = [{', '.join(f'{p.after_ns:.0f}' for p in problems)}]",
        f"rel_error = [{', '.join(f'{p.error_after:.4f}' for p in problems)}]",
    ]
    return "\n".join(out) + "\n"


def write_perf_fit(source: DeviceProfile, result: PerfFitResult, out_path: str | Path) -> DeviceProfile:
    """Validate the fitted profile, then atomically put it at `out_path`; returns it as loaded back."""
    text = render_perf_fit(source_path(source).read_text(), result)
    return write_profile_text(text, out_path, "--out")
