"""The `sweep` job kind: a sweep spec sent as TOML text or as the same JSON object, run by `perfmodel.run_sweep`.

The spec is checked by the library (`SweepSpec.from_dict`) once its boards are known to be shipped names: a
spec never makes the server read a file (a profile path in `axes.device` is refused before anything loads
it). The table and its checkpoint (`sweep.parquet.checkpoint.sqlite`) live in the job's folder, so a resumed
job computes only the (point, backend) rows it does not have and ends with the table an uninterrupted run
writes. Progress counts those rows. DES points run in one helper process of the job's own (the sweep's local
pool with one worker), so a sweep job keeps to one running computation like every other job.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

from perfmodel.errors import InputError
from perfmodel.service import work
from perfmodel.service.errors import FieldError
from perfmodel.service.jobs import JobContext, JobOutput
from perfmodel.service.models import SweepParams

MEDIA_TYPES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv"}
# Which field of the spec a library message is about, from its wording (the first that matches wins).
_BLAME = (
    (re.compile(r"axis '([^']+)'"), "spec.axes.{0}"),
    (re.compile(r"unknown key '([^']+)'"), "spec.{0}"),
    (re.compile(r"\bbackend\b"), "spec.backend"),
    (re.compile(r"'op'|unknown op|program_for_row|search space"), "spec.op"),
    (re.compile(r"unknown device"), "spec.axes.device"),
    (re.compile(r"data format"), "spec.axes.dtype"),
    (re.compile(r"\[axes\]"), "spec.axes"),
)


def spec_data(spec: str | Mapping[str, Any]) -> dict[str, Any]:
    """The spec as a dict: TOML text parsed, an object taken as it is."""
    if isinstance(spec, str):
        try:
            return tomllib.loads(spec)
        except tomllib.TOMLDecodeError as exc:
            raise FieldError("spec", f"spec is not valid TOML: {exc}") from None
    return dict(spec)


def check_boards(data: Mapping[str, Any]) -> None:
    """Every board the spec names is a shipped board name, never a path (checked before the library reads it)."""
    axes = data.get("axes")
    devices = axes.get("device") if isinstance(axes, Mapping) else None
    for value in devices if isinstance(devices, list) else []:
        if isinstance(value, str):
            try:
                work.board_name(value)
            except FieldError as exc:
                raise FieldError("spec.axes.device", str(exc)) from None


def load(spec: str | Mapping[str, Any]) -> Any:
    """The checked `SweepSpec`, or a FieldError naming the spec's field with the library's message."""
    from perfmodel.sweep import SweepSpec

    data = spec_data(spec)
    check_boards(data)
    try:
        return SweepSpec.from_dict(data, source="spec")
    except InputError as exc:
        raise FieldError(_blame(str(exc)), str(exc)) from None


def _blame(message: str) -> str:
    for pattern, field in _BLAME:
        found = pattern.search(message)
        if found:
            return field.format(*found.groups())
    return "spec"


def validate_sweep(params: SweepParams, _data_dir: Any) -> None:
    load(params.spec)


def run_sweep_job(params: SweepParams, ctx: JobContext) -> JobOutput:
    from perfmodel.sweep import run_sweep

    spec = load(params.spec)
    out = ctx.folder / f"sweep.{params.format}"

    def tick(done: int, total: int) -> None:
        ctx.progress(done, total, "points", force=True)

    summary = run_sweep(spec, out, workers=1, progress=False, on_progress=tick)
    # The server's own paths stay on the server: the table is the job's artifact.
    result = {k: v for k, v in summary.to_dict().items() if k not in ("out", "checkpoint")}
    return JobOutput(result={**result, "format": params.format}, artifact=out, media_type=MEDIA_TYPES[params.format])
