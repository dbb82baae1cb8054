"""The FastAPI app of `perfmodel serve`: routes, error bodies, auth, body limits, metrics.

Short answers (check, estimate, simulate, recommend) are looked up in the result cache first and otherwise computed in
the worker pool; long work runs as jobs (`jobs`). Every error is `{"detail": ..., "field": ...}` with a 4xx
or 5xx status, never a traceback.

A synchronous endpoint is a body model, a worker function returning `work.Outcome`, and a route (see
`recommend` below: the body, `work.recommend`, and a cache key of the problem and `top_k`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import importlib
import json
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

import perfmodel
from perfmodel.errors import InputError
from perfmodel.service import keys, models, work
from perfmodel.service.errors import ApiError, FieldError
from perfmodel.service.jobs import JobKind, JobManager, get_kind, load_kinds
from perfmodel.service.metrics import CONTENT_TYPE, Metrics
from perfmodel.service.pool import WorkerPool
from perfmodel.service.settings import Settings
from perfmodel.service.store import ArtifactRow, JobRow, Store, new_id

JSON = "application/json"
CACHE_HEADER = "X-Perfmodel-Cache"
# Ops' knob names and descriptions do not depend on the problem; they are read from the space of this
# smallest tile-aligned tensor when no shape is given.
PROBE_SHAPE = (1, 1, 32, 32)
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": models.ErrorBody} for code in (401, 404, 413, 422, 429, 504)
}


class Service:
    """Everything a request handler needs: settings, database, worker pool, job manager, metrics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.db_path)
        self.pool = WorkerPool(settings.workers, settings.max_pending)
        self.jobs = JobManager(self.store, settings.data_dir, settings.job_workers, settings.max_queued_jobs)
        self.metrics = Metrics(self.store.job_counts, lambda: self.pool.in_flight)

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.pool.warm_up()
        await self.jobs.start()
        try:
            yield
        finally:
            await self.jobs.stop()
            await asyncio.to_thread(self.pool.shutdown)
            self.store.close()

    def profile_hash(self, body: models.Problem) -> str:
        if body.profile:
            try:
                return keys.profile_text_hash(body.profile)
            except InputError as exc:
                raise FieldError("profile", str(exc)) from None
        try:
            perfmodel.load_device(work.board_name(body.device))
        except FieldError:
            raise
        except InputError as exc:
            raise FieldError("device", str(exc)) from None
        return keys.board_hash(body.device)

    def run_key(self, endpoint: str, body: models.Problem, spec: work.RunSpec, backend: str, **extra: Any) -> str:
        return keys.run_key(
            endpoint=endpoint,
            op=spec.op,
            shape=spec.shape,
            dtype=spec.dtype,
            profile_hash=self.profile_hash(body),
            config=spec.config,
            backend=backend,
            extra=extra,
        )

    async def compute(
        self,
        endpoint: str,
        key: str | None,
        fn: Callable[..., work.Outcome],
        *args: Any,
        on_success: Callable[[Any], Any] | None = None,
    ) -> Response:
        """The cached answer for `key`, else `fn(*args)` in a worker, cached when it succeeds."""
        if key is not None:
            hit = self.store.cache_get(key)
            if hit is not None and (on_success is None or _artifacts_exist(self, hit)):
                self.metrics.cache.labels(endpoint, "hit").inc()
                return Response(hit, media_type=JSON, headers={CACHE_HEADER: "hit"})
            self.metrics.cache.labels(endpoint, "miss").inc()
        outcome = await self.pool.run(fn, *args, timeout_s=self.settings.request_timeout_s)
        if not outcome.ok:
            raise ApiError(outcome.status, outcome.message, outcome.field)
        payload = on_success(outcome.payload) if on_success else outcome.payload
        text = json.dumps(payload, allow_nan=False)
        if key is not None:
            self.store.cache_put(key, endpoint, text)
        return Response(text, media_type=JSON, headers={CACHE_HEADER: "miss" if key else "off"})

    def deadline(self) -> float:
        return time.time() + self.settings.request_timeout_s

    def artifact_link(self, art: ArtifactRow) -> dict[str, str]:
        return {"id": art.id, "name": art.name, "media_type": art.media_type, "url": f"/v1/artifacts/{art.id}"}

    def job_status(self, job: JobRow) -> models.JobStatus:
        art = self.store.artifact_get(job.artifact_id) if job.artifact_id else None
        end = job.finished_at or (time.time() if job.state == "running" else job.updated_at)
        return models.JobStatus(
            id=job.id,
            kind=job.kind,
            state=job.state,  # type: ignore[arg-type]
            progress=models.Progress(
                done=job.done,
                total=job.total,
                unit=job.unit,
                fraction=(job.done / job.total) if job.total else None,
            ),
            message=job.message,
            attempts=job.attempts,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            elapsed_seconds=(end - job.started_at) if job.started_at else None,
            params=job.params,
            result=job.result if job.state == "finished" else None,
            artifact=models.ArtifactLink(**self.artifact_link(art)) if art else None,
        )


def _artifacts_exist(svc: Service, text: str) -> bool:
    """A cached answer that links a file is only reused while the file is still there."""
    link = json.loads(text).get("trace")
    if not link:
        return True
    art = svc.store.artifact_get(link["id"])
    return art is not None and (svc.settings.data_dir / art.path).is_file()


def _svc(request: Request) -> Service:
    return request.app.state.service


router = APIRouter()


@router.get("/healthz", tags=["service"])
def healthz(request: Request) -> dict[str, Any]:
    """Liveness: always open, even with a token."""
    svc = _svc(request)
    return {"status": "ok", "version": keys.tool_version(), "workers": svc.settings.workers}


@router.get("/metrics", tags=["service"], response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format: requests and latency by endpoint, cache hits and misses, jobs by state."""
    return Response(_svc(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/v1/devices", tags=["library"], response_model=list[models.DeviceInfo])
def devices() -> list[dict[str, Any]]:
    """The shipped boards and their headline numbers (as `perfmodel devices --json`)."""
    from perfmodel.cli.devices import device_rows

    return device_rows()


def _op_info(name: str, shape: tuple[int, ...] | None, device: str, dtype: str, strict: bool) -> dict[str, Any]:
    from perfmodel.space import search_space

    op = perfmodel.get_op(name)
    module = importlib.import_module(f"perfmodel.ops.{name}")
    fields = []
    for f in dataclasses.fields(op.Config):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        fields.append({"name": f.name, "type": str(f.type), "default": work.plain(default)})
    try:
        from perfmodel.analytic.engine import op_model

        columns = list(op_model(name).INPUT_COLUMNS)
    except InputError:
        columns = None
    info: dict[str, Any] = {
        "name": name,
        "description": (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else "",
        "config": fields,
        "columns": columns,
    }
    try:
        space = search_space(name, shape or PROBE_SHAPE, device=device, dtype=dtype)
    except InputError as exc:
        if strict and shape is not None and "declares no search space" not in str(exc):
            raise FieldError("shape", str(exc)) from None
        info["space_error"] = str(exc) if shape is not None else None
        return info
    info["knobs"] = [{"name": k.name, "kind": k.kind, "description": k.description} for k in space.knobs]
    if shape is not None:
        info["space"] = work.plain(space.to_dict())
    return info


def _space_query(shape: str | None, device: str, dtype: str) -> tuple[tuple[int, ...] | None, str]:
    parsed = work.shape_of(shape) if shape else None
    name = work.board_name(device)
    try:
        perfmodel.load_device(name)
    except InputError as exc:
        raise FieldError("device", str(exc)) from None
    return parsed, name


@router.get("/v1/ops", tags=["library"], response_model=list[models.OpInfo], responses=_ERRORS)
def ops(
    shape: Annotated[str | None, Query(description="with a shape, each op's search space for it")] = None,
    device: str = models.DEFAULT_DEVICE,
    dtype: str = "bfloat16",
) -> list[dict[str, Any]]:
    """Every op with its config fields, table columns and knobs; with `shape`, the search space too."""
    parsed, board = _space_query(shape, device, dtype)
    return [_op_info(name, parsed, board, dtype, strict=False) for name in perfmodel.list_ops()]


@router.get("/v1/ops/{name}", tags=["library"], response_model=models.OpInfo, responses=_ERRORS)
def op(
    name: str,
    shape: Annotated[
        str | None, Query(description="the problem whose search space to give, e.g. 1,1,2048,1024")
    ] = None,
    device: str = models.DEFAULT_DEVICE,
    dtype: str = "bfloat16",
) -> dict[str, Any]:
    """One op; 404 if unknown."""
    if name not in perfmodel.list_ops():
        raise ApiError(404, f"unknown op {name!r} (known: {', '.join(perfmodel.list_ops())})", "name")
    parsed, board = _space_query(shape, device, dtype)
    return _op_info(name, parsed, board, dtype, strict=True)


@router.post("/v1/check", tags=["library"], response_model=models.CheckPayload, responses=_ERRORS)
async def check(body: models.CheckRequest, request: Request) -> Response:
    """Static checks (L1 budget, CB limits, kernel dry run): `perfmodel check --json`."""
    svc = _svc(request)
    spec = work.spec_of(body, svc.settings.data_dir)
    return await svc.compute("check", svc.run_key("check", body, spec, "checks"), work.check, spec)


@router.post("/v1/estimate", tags=["library"], response_model=models.RunPayload, responses=_ERRORS)
async def estimate(body: models.EstimateRequest, request: Request) -> Response:
    """The analytic model's kernel duration: `perfmodel estimate --json`."""
    svc = _svc(request)
    spec = work.spec_of(body, svc.settings.data_dir)
    return await svc.compute("estimate", svc.run_key("estimate", body, spec, "analytic"), work.estimate, spec)


@router.post("/v1/simulate", tags=["library"], response_model=models.RunPayload, responses=_ERRORS)
async def simulate(body: models.SimulateRequest, request: Request) -> Response:
    """A discrete-event simulation: `perfmodel simulate --json`; a hang answers 200 with `deadlock`.

    With `trace: true` the answer links a Perfetto timeline: `trace.url` (GET /v1/artifacts/{id}).
    Simulations longer than the request time limit get 504: submit them as a job (POST /v1/jobs/simulate).
    """
    svc = _svc(request)
    spec = work.spec_of(body, svc.settings.data_dir)
    key = svc.run_key("simulate", body, spec, "des", trace=body.trace)
    if not body.trace:
        return await svc.compute("simulate", key, work.simulate, spec, svc.deadline())
    art_id = new_id()
    relative = Path("artifacts") / art_id / "trace.json"
    (svc.settings.data_dir / relative).parent.mkdir(parents=True, exist_ok=True)

    def link(payload: dict[str, Any]) -> dict[str, Any]:
        art = svc.store.artifact_add("trace.json", JSON, str(relative), artifact_id=art_id)
        return {**payload, "trace": svc.artifact_link(art)}  # a hang has its timeline too

    return await svc.compute(
        "simulate",
        key,
        work.simulate,
        spec,
        svc.deadline(),
        str(svc.settings.data_dir / relative),
        on_success=link,
    )


@router.post("/v1/recommend", tags=["library"], response_model=models.RecommendPayload, responses=_ERRORS)
async def recommend(body: models.RecommendRequest, request: Request) -> Response:
    """The configuration to build: `perfmodel recommend --json` (the analytic ranking of the op's search space,
    its top `top_k` confirmed by the simulator and the static checks). When nothing fits, the answer is still
    200, with `ok` false and the `reasons`."""
    svc = _svc(request)
    spec = work.spec_of(body, svc.settings.data_dir)
    key = svc.run_key("recommend", body, spec, "des", top_k=body.top_k, max_error=body.max_error)
    return await svc.compute("recommend", key, work.recommend, spec, body.top_k, body.max_error)


@router.post("/v1/estimate_many", tags=["library"], response_model=models.TablePayload, responses=_ERRORS)
async def estimate_many(body: models.EstimateManyRequest, request: Request) -> Response:
    """The analytic model over rows in the op's table columns (`perfmodel.estimate_many`); at most
    `max_rows` rows (10,000 by default; 413 above it). The answer is the table with the result columns."""
    svc = _svc(request)
    if len(body.rows) > svc.settings.max_rows:
        raise ApiError(
            413, f"rows: {len(body.rows)} rows, more than the limit of {svc.settings.max_rows} per request", "rows"
        )
    profile = work.profile_file(svc.settings.data_dir, body.profile) if body.profile else None
    return await svc.compute("estimate_many", None, work.estimate_many, body.op, body.rows, profile)


# -- jobs ----------------------------------------------------------------------------------------------------


def _job_route(kind: JobKind) -> Callable[..., Any]:
    async def submit(body: Any, request: Request) -> JSONResponse:
        svc = _svc(request)
        params = body.model_dump(mode="json")
        outcome = await svc.pool.run(
            work.validate_job, kind.name, params, str(svc.settings.data_dir), timeout_s=svc.settings.request_timeout_s
        )
        if not outcome.ok:
            raise ApiError(outcome.status, outcome.message, outcome.field)
        job = svc.jobs.submit(kind.name, params)
        url = f"/v1/jobs/{job.id}"
        return JSONResponse({"id": job.id, "state": job.state, "url": url}, status_code=202, headers={"Location": url})

    submit.__annotations__["body"] = kind.params
    submit.__name__ = f"submit_{kind.name}"
    submit.__doc__ = f"Submit a `{kind.name}` job: {kind.summary}. Answers 202 with the job's id."
    return submit


@router.get("/v1/jobs", tags=["jobs"], response_model=list[models.JobStatus])
def list_jobs(
    request: Request,
    state: Annotated[models.JobState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[models.JobStatus]:
    """The most recent jobs, newest first (optionally only those in one state)."""
    svc = _svc(request)
    return [svc.job_status(j) for j in svc.store.jobs(state, limit)]


@router.get("/v1/jobs/{job_id}", tags=["jobs"], response_model=models.JobStatus, responses=_ERRORS)
def get_job(job_id: str, request: Request) -> models.JobStatus:
    """State, progress, timings and, when finished, the result and the artifact's download link."""
    svc = _svc(request)
    return svc.job_status(svc.jobs.get(job_id))


@router.delete("/v1/jobs/{job_id}", tags=["jobs"], response_model=models.JobStatus, responses=_ERRORS)
def cancel_job(job_id: str, request: Request) -> models.JobStatus:
    """Cancel a queued, running or interrupted job (409 once it has ended)."""
    svc = _svc(request)
    return svc.job_status(svc.jobs.cancel(job_id))


@router.post("/v1/jobs/{job_id}/resume", tags=["jobs"], status_code=202, response_model=models.JobStatus)
def resume_job(job_id: str, request: Request) -> models.JobStatus:
    """Queue an interrupted (or cancelled) job again; it continues from the checkpoints in its folder."""
    svc = _svc(request)
    return svc.job_status(svc.jobs.resume(job_id))


@router.get("/v1/artifacts/{artifact_id}", tags=["jobs"], response_class=FileResponse, responses=_ERRORS)
def artifact(artifact_id: str, request: Request) -> FileResponse:
    """Download a file the server wrote (a trace, a job's table)."""
    svc = _svc(request)
    art = svc.store.artifact_get(artifact_id)
    root = svc.settings.data_dir.resolve()
    path = (root / art.path).resolve() if art else None
    if art is None or path is None or not path.is_relative_to(root) or not path.is_file():
        raise ApiError(404, f"no artifact {artifact_id!r}", "id")
    return FileResponse(path, media_type=art.media_type, filename=art.name)


# -- errors, auth, limits ------------------------------------------------------------------------------------


def _loc(parts: tuple[Any, ...]) -> str:
    """pydantic's error location as a dotted field name: ('body', 'rows', 3, 'N') -> 'rows[3].N'."""
    out = ""
    for part in parts:
        if part in ("body", "query", "path") and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in str(part) or str(part) in {"str", "int", "float", "bool", "none"}:
            continue  # the member of a union that was tried, not a field
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def _validation_body(exc: RequestValidationError) -> dict[str, Any]:
    merged: dict[str, list[str]] = {}
    for err in exc.errors():
        field = _loc(tuple(err.get("loc", ())))
        if err.get("type") == "json_invalid":
            field = "body"
            message = f"malformed JSON body: {err.get('ctx', {}).get('error', err.get('msg'))}"
        elif err.get("type") == "missing" and field == "body":
            message = "a JSON body is required"
        elif err.get("type") == "extra_forbidden":
            message = "unknown field"
        else:
            message = str(err.get("msg"))
        if message not in merged.setdefault(field, []):
            merged[field].append(message)
    errors = [{"field": f, "message": " or ".join(m)} for f, m in merged.items()]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    return {"detail": f"{first['field']}: {first['message']}", "field": first["field"], "errors": errors}


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than the limit of {limit} bytes")


class Guard:
    """Outermost app middleware: bearer token, body size limit, metrics, and no traceback ever out."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.svc = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = {"status": 500, "sent": False}
        settings = self.svc.settings

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["sent"] = True
            await send(message)

        async def reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send_wrapper)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            if settings.token and scope["path"] != "/healthz" and not _authorized(headers, settings.token):
                await reply(
                    401,
                    {"detail": "missing or wrong bearer token (Authorization: Bearer ...)", "field": "Authorization"},
                    {"WWW-Authenticate": "Bearer"},
                )
                return
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
                await reply(413, {"detail": _TooLarge(settings.max_body_bytes).detail, "field": "body"})
                return
            received = 0

            async def limited_receive() -> dict[str, Any]:
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > settings.max_body_bytes:
                    raise _TooLarge(settings.max_body_bytes)
                return message

            await self.app(scope, limited_receive, send_wrapper)
        except Exception:
            sys.stderr.write(f"perfmodel serve: error in {scope.get('method')} {scope['path']}:\n")
            traceback.print_exc()
            if not state["sent"]:
                await reply(500, {"detail": "internal server error; details are in the server's log", "field": None})
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.svc.metrics.observe(
                endpoint, scope.get("method", ""), int(state["status"]), time.perf_counter() - started
            )


def _authorized(headers: dict[str, str], token: str) -> bool:
    given = headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def create_app(settings: Settings) -> FastAPI:
    """The app for `settings` (state in `settings.data_dir`). Start it with uvicorn, or `perfmodel serve`."""
    service = Service(settings)
    app = FastAPI(
        title="perfmodel",
        version=keys.tool_version(),
        summary="Performance models of Tenstorrent Tensix ops over HTTP: check, estimate, simulate, recommend, jobs.",
        lifespan=service.lifespan,
    )
    app.state.service = service

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(FieldError)
    async def _field_error(_request: Request, exc: FieldError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=422)

    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "field": None}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_body(exc), status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        field = "body" if exc.status_code == 413 else None
        return JSONResponse(
            {"detail": str(exc.detail), "field": field}, status_code=exc.status_code, headers=exc.headers
        )

    for kind in load_kinds().values():
        app.add_api_route(
            f"/v1/jobs/{kind.name}",
            _job_route(kind),
            methods=["POST"],
            status_code=202,
            response_model=models.JobAccepted,
            responses=_ERRORS,
            tags=["jobs"],
        )

    @app.post("/v1/jobs/{kind}", tags=["jobs"], include_in_schema=False)
    def unknown_kind(kind: str) -> None:
        get_kind(kind)  # 404 naming the known kinds

    app.include_router(router)
    app.add_middleware(Guard, service=service)
    return app
