"""Request and response bodies of the HTTP API (pydantic), as the OpenAPI docs at /docs show them.

Request bodies forbid unknown fields. Values the library validates (shape, dtype, config values, board
names) are passed to it unchanged, so a mistake is answered with the library's own message, the one the
command line prints.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_DEVICE = "wormhole_b0_n150"
MAX_PROFILE_CHARS = 1_000_000
MAX_JOB_CONFIGS = 1_000
MAX_TOP_K = 64
MAX_TRIALS = 100_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Body):
    """One problem: op, tensor shape, board and dtype (what recommend and tune search configurations for)."""

    op: str = Field(description="op name, e.g. centralize_w_rm (GET /v1/ops lists them)")
    shape: list[int] | str | None = Field(
        None, description="tensor shape as a list of integers or the CLI's text form '1,1,2048,1024'"
    )
    device: str = Field(DEFAULT_DEVICE, description="a shipped board name (GET /v1/devices lists them)")
    profile: str | None = Field(
        None,
        max_length=MAX_PROFILE_CHARS,
        description="a board profile as TOML text, used instead of `device` (parsed by the server, never a path)",
    )
    dtype: str = Field("bfloat16", description="bfloat16 or float32")


class RunTarget(Problem):
    """One program: a problem and the op's factory configuration."""

    config: dict[str, Any] | None = Field(
        None, description="the op's config fields (GET /v1/ops); missing fields take their defaults"
    )


class CheckRequest(RunTarget):
    """Body of POST /v1/check."""


class EstimateRequest(RunTarget):
    """Body of POST /v1/estimate."""


class SimulateRequest(RunTarget):
    """Body of POST /v1/simulate; `trace` asks for a Perfetto timeline, returned as a download link."""

    trace: bool = False


class RecommendRequest(Problem):
    """Body of POST /v1/recommend: the arguments of `perfmodel.recommend`."""

    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="candidates of the analytic ranking to confirm by simulation")
    max_error: float | None = Field(
        None, ge=0, description="bound on the max abs error of the recommended configuration (None: the op's tolerance)"
    )


class EstimateManyRequest(_Body):
    """Body of POST /v1/estimate_many: rows in the op's table columns (at most `max_rows` of them)."""

    op: str
    rows: list[dict[str, Any]] = Field(description="one object per configuration, keyed by the op's table columns")
    profile: str | None = Field(
        None,
        max_length=MAX_PROFILE_CHARS,
        description="a board profile as TOML text; rows whose `device` is its name use it",
    )


class SimulateJobParams(RunTarget):
    """Body of POST /v1/jobs/simulate: one simulation, or one per entry of `configs` (checkpointed)."""

    configs: list[dict[str, Any]] | None = Field(
        None, max_length=MAX_JOB_CONFIGS, description="several configurations of the same problem, run in order"
    )


class TuneParams(Problem):
    """Body of POST /v1/jobs/tune: the arguments of `perfmodel.tune` (the server chooses study name and storage)."""

    backend: str = Field("analytic", description="objective engine: analytic or des (the simulator)")
    n_trials: int = Field(100, ge=1, le=MAX_TRIALS, description="trials the study should reach")
    objectives: list[str] | None = Field(
        None, description="minimised objectives: time (default), cores, l1_bytes; more than one gives a Pareto front"
    )
    seed: int = Field(0, description="the sampler's seed: the same seed gives the same study")
    timeout: float | None = Field(None, gt=0, description="stop sampling after this many seconds")


class SweepParams(_Body):
    """Body of POST /v1/jobs/sweep: a sweep spec (`perfmodel sweep`'s TOML) as text or as the same JSON object."""

    spec: str | dict[str, Any] = Field(
        description="the spec's TOML text, or the same content as an object: op, backend, axes; boards by name"
    )
    format: Literal["parquet", "csv"] = Field("parquet", description="the table's file format")


class ArtifactLink(BaseModel):
    id: str
    name: str
    media_type: str
    url: str


class CheckPayload(BaseModel):
    """The JSON of `perfmodel check --json`."""

    model_config = ConfigDict(extra="allow")
    ok: bool
    device: str
    violations: list[dict[str, Any]]
    l1_bytes_per_core: int
    l1_budget_bytes: int


class RunPayload(BaseModel):
    """The JSON of `perfmodel estimate --json` / `simulate --json`; a hang has `deadlock` and `message` instead."""

    model_config = ConfigDict(extra="allow")
    backend: str
    op: str
    kernel_duration_ns: float | None = None
    cycles: float | None = None
    bound: str | None = None
    deadlock: dict[str, Any] | None = None
    trace: ArtifactLink | None = None


class RecommendPayload(BaseModel):
    """The JSON of `perfmodel recommend --json` (`Recommendation.to_dict()`); `ok` false with `reasons` when
    nothing fits."""

    model_config = ConfigDict(extra="allow")
    op: str
    ok: bool
    config: dict[str, Any] | None
    kernel_duration_ns: float | None = None
    des_kernel_duration_ns: float | None = None
    speedup: float | None = None
    reasons: list[str] = []


class TablePayload(BaseModel):
    """A table: column names, their pandas dtypes, and the rows as lists (NaN as null)."""

    columns: list[str]
    dtypes: dict[str, str]
    rows: list[list[Any]]


class DeviceInfo(BaseModel):
    """One shipped board, as `perfmodel devices --json` lists it."""

    model_config = ConfigDict(extra="allow")
    name: str
    arch: str
    grid: list[int]


class ConfigField(BaseModel):
    name: str
    type: str
    default: Any


class KnobInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    kind: str
    description: str


class OpInfo(BaseModel):
    """One op: its config fields, its table columns, its knobs, and its search space for a given problem."""

    name: str
    description: str
    config: list[ConfigField]
    columns: list[str] | None = None
    knobs: list[KnobInfo] | None = None
    space: dict[str, Any] | None = None
    space_error: str | None = None


class Progress(BaseModel):
    done: float
    total: float | None
    unit: str
    fraction: float | None


JobState = Literal["queued", "running", "finished", "failed", "cancelled", "interrupted"]


class JobStatus(BaseModel):
    """A job as GET /v1/jobs/{id} reports it."""

    id: str
    kind: str
    state: JobState
    progress: Progress
    message: str
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    elapsed_seconds: float | None
    params: dict[str, Any]
    result: Any = None
    artifact: ArtifactLink | None = None


class JobAccepted(BaseModel):
    id: str
    state: JobState
    url: str


class ErrorBody(BaseModel):
    """Every 4xx / 5xx: `detail` says what is wrong, `field` names the request field (dotted) when there is one."""

    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None
