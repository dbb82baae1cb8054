"""What the worker processes run: check, estimate, simulate, estimate_many and recommend on one request's inputs.

Each function takes plain picklable values, calls the library (the same functions the command line calls)
and returns an `Outcome`: the JSON-ready payload the CLI prints with `--json`, or the request field at fault
with the library's own message. Nothing here runs in the server's event loop.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfmodel.errors import InputError, PerfModelError
from perfmodel.service.errors import FieldError


@dataclass(frozen=True)
class RunSpec:
    """One program to build: op, shape, board (a shipped name, or a profile file the server wrote), dtype, config."""

    op: str
    shape: tuple[int, ...] | None
    device: str
    dtype: str
    config: Mapping[str, Any] = field(default_factory=dict)
    profile_path: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A worker's answer: `payload` on success, else `status`, `field` and `message`."""

    payload: Any = None
    status: int = 200
    field: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


class DeadlineExceeded(Exception):
    """The request's time limit passed while the worker was still busy."""


# -- worker process set-up ---------------------------------------------------------------------------------


def init_worker(server_pid: int) -> None:
    """Pool initializer: import the engines once, and exit if the server process dies (even by kill -9)."""
    watch_parent(server_pid)
    import perfmodel.analytic
    import perfmodel.des  # noqa: F401


def watch_parent(server_pid: int, period_s: float = 0.5) -> None:
    """A daemon thread that ends this process as soon as its parent is no longer `server_pid`."""

    def watch() -> None:
        while os.getppid() == server_pid:
            time.sleep(period_s)
        os._exit(1)

    threading.Thread(target=watch, name="perfmodel-parent-watch", daemon=True).start()


def warm_up() -> int:
    return os.getpid()


# -- building a program, blaming the right field -----------------------------------------------------------


def load_board(spec: RunSpec) -> Any:
    from perfmodel.device import load_device

    if spec.profile_path is not None:
        try:
            return load_device(spec.profile_path)
        except InputError as exc:
            raise FieldError("profile", clean(str(exc), spec)) from None
    try:
        return load_device(spec.device)
    except InputError as exc:
        raise FieldError("device", str(exc)) from None


def clean(message: str, spec: RunSpec) -> str:
    """The library's message with the server's own file name for an uploaded profile replaced by 'profile'."""
    return message.replace(spec.profile_path, "profile") if spec.profile_path else message


def build(spec: RunSpec) -> Any:
    """The Program of `spec`, or a `FieldError` naming the field (op, device, profile, shape, dtype, config.x)."""
    from perfmodel.op import get_op

    try:
        op = get_op(spec.op)
    except InputError as exc:
        raise FieldError("op", str(exc)) from None
    device = load_board(spec)
    try:
        return op.build_program(spec.shape, device=device, dtype=spec.dtype, config=dict(spec.config))
    except InputError as exc:
        raise FieldError(_blame(op, spec, device, str(exc)), clean(str(exc), spec)) from None


def _blame(op: Any, spec: RunSpec, device: Any, message: str) -> str:
    """Which field a factory's InputError is about: rebuild with the default config to tell shape from config."""
    try:
        op.build_program(spec.shape, device=device, dtype=spec.dtype, config=None)
    except InputError as exc:
        text = str(exc)
        return "dtype" if ("data format" in text or "dtype" in text) else "shape"
    names = sorted((f.name for f in dataclasses.fields(op.Config)), key=len, reverse=True)
    for name in names:
        if re.search(rf"\b{re.escape(name)}\b", message):
            return f"config.{name}"
    return "config"


def _guard(fn: Callable[[], Any]) -> Outcome:
    """Run `fn`, mapping user mistakes to 422 with their field and a passed deadline to 504."""
    try:
        return Outcome(payload=fn())
    except FieldError as exc:
        return Outcome(status=422, field=exc.field, message=str(exc))
    except DeadlineExceeded as exc:
        return Outcome(status=504, message=str(exc))
    except PerfModelError as exc:
        return Outcome(status=422, message=str(exc))


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays as Python values, NaN and infinities as None."""
    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- the requests ------------------------------------------------------------------------------------------


def check(spec: RunSpec) -> Outcome:
    """`perfmodel check --json`."""
    from perfmodel.checks import check as run_check

    return _guard(lambda: plain(run_check(build(spec)).to_dict()))


def estimate(spec: RunSpec) -> Outcome:
    """`perfmodel estimate --json`."""

    def run() -> Any:
        from perfmodel.analytic import estimate as run_estimate
        from perfmodel.checks import check as run_check
        from perfmodel.cli.common import run_payload
        from perfmodel.cli.estimate import stall_summary

        program = build(spec)
        result = run_estimate(program)
        return plain(run_payload(result, stall_summary(result), run_check(program)))

    return _guard(run)


def simulate(spec: RunSpec, deadline: float | None = None, trace_path: str | None = None) -> Outcome:
    """`perfmodel simulate --json` (a hang is a verdict: the deadlock report, as the CLI prints it)."""

    def run() -> Any:
        program = build(spec)
        return simulate_program(program, deadline=deadline, trace_path=trace_path)

    return _guard(run)


def simulate_program(
    program: Any,
    *,
    deadline: float | None = None,
    trace_path: str | None = None,
    progress: Callable[[float, int], None] | None = None,
) -> dict[str, Any]:
    """The CLI's JSON for one simulation of a built program; stops with DeadlineExceeded past `deadline`."""
    from perfmodel.checks import check as run_check
    from perfmodel.cli.common import run_payload
    from perfmodel.cli.simulate import stall_summary
    from perfmodel.des import DeadlockError
    from perfmodel.des import simulate as run_simulate

    def tick(now_cycles: float, events: int) -> None:
        if deadline is not None and time.time() > deadline:
            raise DeadlineExceeded(f"simulation stopped at cycle {now_cycles:,.0f} after {events:,} events")
        if progress is not None:
            progress(now_cycles, events)

    report = run_check(program)
    try:
        result = run_simulate(program, trace_path=trace_path, progress=tick)
    except DeadlockError as exc:
        return plain({"backend": "des", "op": program.op_name, "deadlock": exc.to_dict(), "message": str(exc)})
    return plain(run_payload(result, stall_summary(result), report))


def recommend(spec: RunSpec, top_k: int, max_error: float | None = None) -> Outcome:
    """`perfmodel recommend --json`: a nothing-fits verdict is an answer too (`ok` false, with `reasons`)."""

    def run() -> Any:
        from perfmodel.tune import recommend as run_recommend

        build(spec)  # the problem with the op's default config: a bad shape, dtype or board names its field
        try:
            result = run_recommend(
                spec.op, spec.shape, device=board_arg(spec), dtype=spec.dtype, top_k=top_k, max_error=max_error
            )
        except InputError as exc:
            raise FieldError(problem_field(str(exc)), clean(str(exc), spec)) from None
        return named_board(plain(result.to_dict()), spec)

    return _guard(run)


def board_arg(spec: RunSpec) -> str:
    """What the library takes as `device`: the shipped name, or the file the server wrote for an uploaded profile."""
    return spec.profile_path or spec.device


def named_board(payload: dict[str, Any], spec: RunSpec) -> dict[str, Any]:
    """A result naming an uploaded profile's board by its name rather than by the server's file for it."""
    if spec.profile_path is not None and payload.get("device") == spec.profile_path:
        payload["device"] = load_board(spec).name
    return payload


def problem_field(message: str) -> str:
    """The field a search's InputError is about, once the problem itself built (the op, or the search's own knobs)."""
    for name in ("top_k", "objective", "backend", "n_trials", "timeout"):
        if name in message:
            return "objectives" if name == "objective" else name
    return "op" if "search space" in message else "shape"


def estimate_many(op: str, rows: Sequence[Mapping[str, Any]], profile_path: str | None = None) -> Outcome:
    """`perfmodel.estimate_many(op, table)` on a list of rows. With an uploaded profile (`profile_path`, a file
    the server wrote), rows whose `device` is that board's name use it; the answer keeps the name."""

    def run() -> Any:
        import pandas as pd

        from perfmodel.analytic import estimate_many as run_many
        from perfmodel.analytic.engine import op_model
        from perfmodel.op import get_op

        try:
            get_op(op)
            op_model(op)
        except InputError as exc:
            raise FieldError("op", str(exc)) from None
        names: dict[str, str] = {}
        if profile_path is not None:
            spec = RunSpec(op, None, "", "", profile_path=profile_path)
            names[load_board(spec).name] = profile_path
        _check_rows(rows, names)
        table = pd.DataFrame(list(rows))
        if names and "device" in table.columns:
            table["device"] = table["device"].map(lambda d: names.get(d, d))
        try:
            out = run_many(op, table)
        except InputError as exc:
            raise FieldError("rows", str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise FieldError("rows", f"a column holds values of the wrong type: {exc}") from None
        if names and "device" in out.columns:
            back = {path: name for name, path in names.items()}
            out["device"] = out["device"].map(lambda d: back.get(d, d))
        return {
            "columns": [str(c) for c in out.columns],
            "dtypes": {str(c): str(t) for c, t in out.dtypes.items()},
            "rows": plain(out.to_numpy(dtype=object).tolist()),
        }

    return _guard(run)


def _check_rows(rows: Sequence[Mapping[str, Any]], uploaded: Mapping[str, str]) -> None:
    """Every cell a scalar; every `device` a board name (an uploaded one included), never a path."""
    for i, row in enumerate(rows):
        for column, value in row.items():
            if value is None or isinstance(value, list | dict):
                kind = "null" if value is None else type(value).__name__
                raise FieldError(
                    f"rows[{i}].{column}", f"rows[{i}].{column}: expected a number, string or boolean, got {kind}"
                )
        device = row.get("device")
        if isinstance(device, str) and device not in uploaded:
            try:
                board_name(device)
            except FieldError as exc:
                raise FieldError(f"rows[{i}].device", str(exc)) from None


def profile_file(data_dir: Any, text: str) -> str:
    """Write an uploaded profile's TOML text to the data dir under a name the server chooses (its hash)."""
    import hashlib
    from pathlib import Path

    folder = Path(data_dir) / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.toml"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return str(path)


# -- from a request body to a RunSpec (in the server, cheap: no program is built) ---------------------------


def shape_of(value: Any) -> tuple[int, ...] | None:
    """A body's shape: a list of integers, the CLI's text form, or None (ops that take no tensor)."""
    from perfmodel.cli.common import parse_shape

    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_shape(value)
        except InputError as exc:
            raise FieldError("shape", str(exc)) from None
    return tuple(value)


def board_name(name: str) -> str:
    """A shipped board name; a path is refused (the server never reads a file a client names)."""
    from perfmodel.device import list_devices

    if "/" in name or "\\" in name or name.endswith(".toml") or name in {"", ".", ".."}:
        raise FieldError(
            "device",
            f"device {name!r} must be a shipped board name (known: {', '.join(list_devices())}); "
            "send a profile's TOML text in `profile` instead",
        )
    return name


def full_config(op_name: str, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every field of the op's config, defaults filled in, as JSON-ready values (the config of a cache key)."""
    from perfmodel.op import coerce_config, get_op

    try:
        op = get_op(op_name)
    except InputError as exc:
        raise FieldError("op", str(exc)) from None
    given = dict(config or {})
    names = {f.name for f in dataclasses.fields(op.Config)}
    unknown = sorted(set(given) - names)
    try:
        coerced = coerce_config(op.Config, given, op.name)
    except InputError as exc:
        named = unknown or [
            n for n in sorted(names, key=len, reverse=True) if re.search(rf"\b{re.escape(n)}\b", str(exc))
        ]
        raise FieldError(f"config.{named[0]}" if named else "config", str(exc)) from None
    except TypeError as exc:
        raise FieldError("config", f"{op.name} config: {exc}") from None
    return plain(dataclasses.asdict(coerced))


def spec_of(target: Any, data_dir: Any, config: Mapping[str, Any] | None = None) -> RunSpec:
    """The RunSpec of a request body (`Problem` or `RunTarget`): shape parsed, board checked, profile text written;
    a body without a config (recommend, tune) gets the op's defaults."""
    shape = shape_of(target.shape)
    device = board_name(target.device)
    cfg = full_config(target.op, getattr(target, "config", None) if config is None else config)
    profile_path = profile_file(data_dir, target.profile) if target.profile else None
    return RunSpec(target.op, shape, device, target.dtype, cfg, profile_path)


def validate_job(kind_name: str, params: Mapping[str, Any], data_dir: str) -> Outcome:
    """A job kind's `validate(params, data_dir)` at submission (in a request worker)."""
    from pathlib import Path

    from perfmodel.service.jobs import load_kinds

    kind = load_kinds()[kind_name]

    def run() -> None:
        if kind.validate is not None:
            kind.validate(kind.params.model_validate(dict(params)), Path(data_dir))

    return _guard(run)
