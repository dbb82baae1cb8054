"""`Client(url, token=None)`: the library's functions, answered by a `perfmodel serve` over HTTP.

The methods take what the library takes and return what it returns (`RunResult`, `CheckReport`, a pandas
DataFrame for `estimate_many`; a hang raises `DeadlockError`, a bad input `InputError` with the server's
message, which is the library's), so a notebook moves between local and remote by changing one line::

    import perfmodel                                # local
    from perfmodel.client import Client
    perfmodel = Client("http://team-server:8000", token="...")   # remote, same calls below

    perfmodel.estimate("centralize_w_rm", (1, 1, 2048, 1024), device="wormhole_b0_n150")

`check`, `estimate` and `simulate` also accept a `Program` built by an op's factory (its op, shape, board,
dtype and config are sent; a board loaded from a local profile file is sent as that file's text).
`recommend` returns a `Recommendation`; `tune` and `sweep` run as jobs on the server and wait for them:
`tune` returns a `TuneResult`, `sweep` a `SweepSummary` (with `out` given, the table is downloaded there, as
`run_sweep` writes it; `read_table(summary.out)` gives it as a DataFrame either way). Jobs:
`submit(kind, **params)`, `job(id)`, `wait(id)`, `cancel(id)`, `resume(id)`, `download(artifact, path)`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from perfmodel.errors import InputError, PerfModelError

DEFAULT_DEVICE = "wormhole_b0_n150"
FINAL_STATES = ("finished", "failed", "cancelled", "interrupted")


class ServiceError(PerfModelError):
    """The server could not answer (busy, time limit, auth, down): `status` and the server's `detail`."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.field = field


@dataclasses.dataclass(frozen=True)
class Job:
    """A job as the server reports it (`raw` has every field of GET /v1/jobs/{id})."""

    id: str
    kind: str
    state: str
    done: float
    total: float | None
    unit: str
    message: str
    result: Any
    artifact: Mapping[str, Any] | None
    raw: Mapping[str, Any]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        progress = data.get("progress") or {}
        return cls(
            id=data["id"],
            kind=data.get("kind", ""),
            state=data["state"],
            done=float(progress.get("done", 0.0)),
            total=progress.get("total"),
            unit=progress.get("unit", ""),
            message=data.get("message", ""),
            result=data.get("result"),
            artifact=data.get("artifact"),
            raw=data,
        )


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Client:
    """A connection to one server. Use it as a context manager, or call `close()`."""

    def __init__(self, url: str, token: str | None = None, *, timeout_s: float = 600.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # A proxy from the environment cannot reach this machine's loopback: talk to it directly.
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, trust_env=not _is_loopback(url)
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.is_success:
            return response
        try:
            body = response.json()
            detail, field = str(body.get("detail")), body.get("field")
        except ValueError:
            detail, field = response.text.strip() or response.reason_phrase, None
        if response.status_code in (404, 413, 422):
            raise InputError(detail)
        raise ServiceError(response.status_code, detail, field)

    # -- the library's functions -------------------------------------------------------------------------

    def list_devices(self) -> list[str]:
        return [d["name"] for d in self.devices()]

    def devices(self) -> list[dict[str, Any]]:
        """The server's boards, as `perfmodel devices --json`."""
        return self._request("GET", "/v1/devices").json()

    def list_ops(self) -> list[str]:
        return [op["name"] for op in self.ops()]

    def ops(
        self, shape: Sequence[int] | None = None, *, device: str = DEFAULT_DEVICE, dtype: str = "bfloat16"
    ) -> list[dict[str, Any]]:
        """Every op with its config fields and knobs; with `shape`, its search space for that problem."""
        params = {"device": device, "dtype": dtype}
        if shape is not None:
            params["shape"] = ",".join(str(int(d)) for d in shape)
        return self._request("GET", "/v1/ops", params=params).json()

    def check(self, op: Any, shape: Sequence[int] | None = None, **kwargs: Any) -> Any:
        """Static checks: a `CheckReport` (as `perfmodel.check(program)`)."""
        from perfmodel.checks import CheckReport

        return CheckReport.from_dict(self._request("POST", "/v1/check", json=_target(op, shape, **kwargs)).json())

    def estimate(self, op: Any, shape: Sequence[int] | None = None, **kwargs: Any) -> Any:
        """The analytic model: a `RunResult` (as `perfmodel.estimate(program)`)."""
        from perfmodel.result import RunResult

        return RunResult.from_dict(self._request("POST", "/v1/estimate", json=_target(op, shape, **kwargs)).json())

    def simulate(
        self, op: Any, shape: Sequence[int] | None = None, *, trace_path: str | Path | None = None, **kwargs: Any
    ) -> Any:
        """The simulator: a `RunResult`, or `DeadlockError` for a hang; `trace_path` downloads the timeline."""
        from perfmodel.result import RunResult

        body = {**_target(op, shape, **kwargs), "trace": trace_path is not None}
        payload = self._request("POST", "/v1/simulate", json=body).json()
        if trace_path is not None and payload.get("trace"):
            self.download(payload["trace"], trace_path)
        if "deadlock" in payload:
            raise _deadlock(payload["deadlock"])
        return RunResult.from_dict(payload)

    def estimate_many(self, op: Any, table: Any, *, profile: str | Path | None = None) -> Any:
        """The analytic model over a table (a DataFrame in the op's columns): the table with result columns."""
        import pandas as pd

        name = op if isinstance(op, str) else str(op.name)
        rows = [{str(k): _scalar(v) for k, v in row.items()} for row in pd.DataFrame(table).to_dict(orient="records")]
        body: dict[str, Any] = {"op": name, "rows": rows}
        if profile is not None:
            body["profile"] = Path(profile).read_text()
        payload = self._request("POST", "/v1/estimate_many", json=body).json()
        out = pd.DataFrame(payload["rows"], columns=payload["columns"])
        for column, dtype in payload["dtypes"].items():
            with contextlib.suppress(TypeError, ValueError):
                out[column] = out[column].astype(dtype)
        return out

    def recommend(
        self,
        op: Any,
        shape: Sequence[int],
        *,
        device: Any = DEFAULT_DEVICE,
        dtype: str = "bfloat16",
        top_k: int = 5,
        max_error: float | None = None,
    ) -> Any:
        """The configuration to build: a `Recommendation` (as `perfmodel.recommend`); `ok` False when nothing fits
        (in L1, or within `max_error`)."""
        from perfmodel.tune import Recommendation

        body = {**_problem(op, shape, device=device, dtype=dtype), "top_k": top_k, "max_error": max_error}
        return Recommendation.from_dict(self._request("POST", "/v1/recommend", json=body).json())

    def tune(
        self,
        op: Any,
        shape: Sequence[int],
        *,
        device: Any = DEFAULT_DEVICE,
        dtype: str = "bfloat16",
        backend: str = "analytic",
        n_trials: int,
        objectives: Sequence[str] = ("time",),
        seed: int = 0,
        timeout: float | None = None,
        timeout_s: float = 3600.0,
    ) -> Any:
        """An optuna study run as a job on the server (its storage and study name are the server's): a
        `TuneResult` (as `perfmodel.tune`). `timeout_s` bounds the wait for the job."""
        from perfmodel.tune import TuneResult

        if isinstance(objectives, str):
            objectives = [o.strip() for o in objectives.split(",")]
        params = {
            **_problem(op, shape, device=device, dtype=dtype),
            "backend": backend,
            "n_trials": n_trials,
            "objectives": list(objectives),
            "seed": seed,
            "timeout": timeout,
        }
        job = self._finished(self.wait(self.submit("tune", **params).id, timeout_s=timeout_s))
        return TuneResult.from_dict(job.result)

    def sweep(
        self,
        spec: Any,
        out: str | Path | None = None,
        *,
        format: str | None = None,
        timeout_s: float = 3600.0,
    ) -> Any:
        """A sweep spec (a TOML file's path, its text, a dict or a `SweepSpec`) run as a job on the server: a
        `SweepSummary` (as `perfmodel.run_sweep`). With `out`, the table is downloaded there (CSV when it ends
        in `.csv`) and `summary.out` is that path; without, `summary.out` is the table's download URL. Either
        way `read_table(summary.out)` gives the table as a DataFrame."""
        from perfmodel.sweep import SweepSpec, SweepSummary

        if isinstance(spec, SweepSpec):
            spec = spec.to_dict()
        elif isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and spec.endswith(".toml")):
            spec = Path(spec).read_text()
        if format is None:
            format = "csv" if out is not None and str(out).lower().endswith(".csv") else "parquet"
        job = self._finished(self.wait(self.submit("sweep", spec=spec, format=format).id, timeout_s=timeout_s))
        assert job.artifact is not None
        where = str(self.download(job.artifact, out)) if out is not None else str(job.artifact["url"])
        fields = {f.name for f in dataclasses.fields(SweepSummary)}
        values = {k: v for k, v in job.result.items() if k in fields}
        return SweepSummary(**{**values, "backends": tuple(values["backends"]), "out": where, "checkpoint": ""})

    def read_table(self, source: str | Path) -> Any:
        """A sweep's table as a DataFrame: from a local file, or from the server (a `/v1/artifacts/...` URL)."""
        from perfmodel.sweep import read_table

        text = str(source)
        if not text.startswith("/v1/artifacts/"):
            return read_table(source)
        with tempfile.TemporaryDirectory() as folder:
            response = self._request("GET", text)
            media = response.headers.get("content-type", "")
            path = Path(folder) / ("table.csv" if media.startswith("text/csv") else "table.parquet")
            path.write_bytes(response.content)
            return read_table(path)

    def _finished(self, job: Job) -> Job:
        """A finished job; a failed one raises `InputError` with its message, any other end `ServiceError`."""
        if job.state == "finished":
            return job
        if job.state == "failed":
            raise InputError(job.message)
        raise ServiceError(409, f"job {job.id} is {job.state}: {job.message}".rstrip(": "))

    # -- jobs ----------------------------------------------------------------------------------------------

    def submit(self, kind: str, **params: Any) -> Job:
        """Start a job of `kind` (e.g. 'simulate'); returns it queued."""
        accepted = self._request("POST", f"/v1/jobs/{kind}", json=_jsonable(params)).json()
        return self.job(accepted["id"])

    def job(self, job_id: str) -> Job:
        return Job.from_dict(self._request("GET", f"/v1/jobs/{job_id}").json())

    def jobs(self, state: str | None = None) -> list[Job]:
        params = {"state": state} if state else {}
        return [Job.from_dict(j) for j in self._request("GET", "/v1/jobs", params=params).json()]

    def wait(self, job_id: str, *, timeout_s: float = 3600.0, poll_s: float = 0.5) -> Job:
        """Poll until the job ends (finished, failed, cancelled, interrupted) or `timeout_s` passes; the interval
        starts short (a quick job is answered quickly) and doubles up to `poll_s`."""
        deadline = time.monotonic() + timeout_s
        delay = min(0.05, poll_s)
        while True:
            job = self.job(job_id)
            if job.state in FINAL_STATES or time.monotonic() > deadline:
                return job
            time.sleep(delay)
            delay = min(2 * delay, poll_s)

    def cancel(self, job_id: str) -> Job:
        return Job.from_dict(self._request("DELETE", f"/v1/jobs/{job_id}").json())

    def resume(self, job_id: str) -> Job:
        return Job.from_dict(self._request("POST", f"/v1/jobs/{job_id}/resume").json())

    def download(self, artifact: str | Mapping[str, Any], path: str | Path) -> Path:
        """Save an artifact (its id, or the link a result carries) to a local file."""
        artifact_id = artifact if isinstance(artifact, str) else str(artifact["id"])
        response = self._request("GET", f"/v1/artifacts/{artifact_id}")
        target = Path(path)
        target.write_bytes(response.content)
        return target


def _scalar(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return _scalar(value)


def _board(device: Any) -> dict[str, Any]:
    """`device` as the body's `device` (a shipped name) or `profile` (the text of a local profile file)."""
    from perfmodel.device import DeviceProfile, list_devices, load_device

    if isinstance(device, DeviceProfile):
        if device.name in list_devices() and load_device(device.name) == device:
            return {"device": device.name}
        if device.path and load_device(device.path) == device:
            return {"profile": Path(device.path).read_text()}
        raise InputError(
            f"profile {device.name!r} differs from its file (a what-if): save it to a TOML file to send it to a server"
        )
    text = str(device)
    if text.endswith(".toml") or "/" in text:
        return {"profile": Path(text).read_text()}
    return {"device": text}


def _target(
    op: Any,
    shape: Sequence[int] | None = None,
    *,
    device: Any = DEFAULT_DEVICE,
    dtype: str = "bfloat16",
    config: Any = None,
) -> dict[str, Any]:
    """The request body for one program, from (op, shape, device, dtype, config) or a built `Program`."""
    from perfmodel.program import Program

    if isinstance(op, Program):
        program = op
        custom = [k.name for k in program.kernels if not k.fn.__module__.startswith("perfmodel.ops.")]
        if custom:
            raise InputError(
                f"program {program.op_name} uses kernel mirrors of its own ({', '.join(custom)}): "
                "a server runs the op's shipped kernels only"
            )
        config = program.config
        body = {"op": program.op_name, "shape": list(program.shape), "dtype": program.dtype}
        return {**body, **_board(program.device), "config": _jsonable(config)}
    name = op if isinstance(op, str) else str(op.name)
    return {
        "op": name,
        "shape": [int(d) for d in shape] if shape is not None else None,
        "dtype": dtype,
        **_board(device),
        "config": _jsonable(config) if config is not None else None,
    }


def _problem(op: Any, shape: Sequence[int], *, device: Any, dtype: str) -> dict[str, Any]:
    """The request body of a problem (op, shape, board, dtype) without a configuration: recommend and tune."""
    body = _target(op, shape, device=device, dtype=dtype)
    body.pop("config")
    return body


def _deadlock(data: Mapping[str, Any]) -> Exception:
    from perfmodel.des import BlockedWait, CbCounters, DeadlockError

    return DeadlockError(
        [BlockedWait(**{**w, "core": tuple(w["core"])}) for w in data["blocked"]],
        [CbCounters(**{**c, "core": tuple(c["core"])}) for c in data["cb_counters"]],
        time_cycles=float(data["time_cycles"]),
        finished={tuple(f["core"]): list(f["kernels"]) for f in data["finished"]},
    )
