"""The job kinds the service ships, each registered with `register(JobKind(...))` (see `jobs` for how).

`simulate`: one long simulation, or one per configuration in `configs`, as a job. Each finished simulation
is appended to `results.jsonl` in the job folder, so a resumed job runs only the ones left. Progress is in
simulations, with the running one counted by its simulated cycles against the analytic estimate. The
result holds the CLI's JSON of every run; the artifact is a CSV with one row per configuration.

`tune`: `perfmodel.tune` with the study in an optuna RDB storage (SQLite) in the job folder under the name
`job-<id>`, so a resumed job continues the same study (trials already complete count toward `n_trials`).
Progress is in finished trials; the result is `TuneResult.to_dict()`.

`sweep`: `perfmodel.run_sweep` on a spec sent as TOML text or JSON (see `sweeps`); the table is the artifact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from perfmodel.errors import InputError
from perfmodel.service import work
from perfmodel.service.errors import FieldError
from perfmodel.service.jobs import JobContext, JobKind, JobOutput, register
from perfmodel.service.models import Problem, SimulateJobParams, SweepParams, TuneParams
from perfmodel.service.sweeps import run_sweep_job, validate_sweep


def validate_target(params: Problem, data_dir: Path, config: dict[str, Any] | None = None) -> None:
    """Build the target's program once (cheap), so a bad op, board, shape, dtype or config is a 422 at
    submission rather than a failed job; for any kind whose params extend `Problem` (without a config: the
    op's default one)."""
    work.build(work.spec_of(params, data_dir, config))


def validate_simulate(params: SimulateJobParams, data_dir: Path) -> None:
    for i, config in enumerate(_configs(params)):
        try:
            validate_target(params, data_dir, config)
        except FieldError as exc:
            if params.configs is not None and exc.field and exc.field.startswith("config"):
                raise FieldError(exc.field.replace("config", f"configs[{i}]", 1), str(exc)) from None
            raise


def _configs(params: SimulateJobParams) -> list[dict[str, Any]]:
    return list(params.configs) if params.configs is not None else [dict(params.config or {})]


def _read_checkpoint(path: Path) -> dict[int, Any]:
    """Finished simulations of an earlier attempt (a torn last line, from a kill, is ignored)."""
    done: dict[int, Any] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[int(entry["index"])] = entry["payload"]
    return done


def run_simulate(params: SimulateJobParams, ctx: JobContext) -> JobOutput:
    import pandas as pd

    from perfmodel.analytic import estimate

    configs = _configs(params)
    total = len(configs)
    checkpoint = ctx.folder / "results.jsonl"
    done = _read_checkpoint(checkpoint)
    reused = len(done)
    ctx.progress(len(done), total, "simulations")
    for i, config in enumerate(configs):
        if i in done:
            continue
        program = work.build(work.spec_of(params, ctx.data_dir, config))
        expected = max(estimate(program).cycles, 1.0)
        finished = len(done)

        def tick(now_cycles: float, _events: int, finished: int = finished, expected: float = expected) -> None:
            ctx.progress(finished + min(now_cycles / expected, 0.99), total, "simulations")

        payload = work.simulate_program(program, progress=tick)
        with checkpoint.open("a") as f:
            f.write(json.dumps({"index": i, "payload": payload}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        done[i] = payload
        ctx.progress(len(done), total, "simulations", force=True)
    results = [done[i] for i in range(total)]
    rows = []
    for i, (config, payload) in enumerate(zip(configs, results, strict=True)):
        row = {"index": i, **{f"config.{k}": json.dumps(v) for k, v in sorted(config.items())}}
        row["deadlock"] = "deadlock" in payload
        for key in ("kernel_duration_ns", "cycles", "bound", "num_cores", "l1_bytes_per_core", "dram_roofline_ns"):
            row[key] = payload.get(key)
        rows.append(row)
    table = ctx.folder / "simulations.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    return JobOutput(result={"results": results, "reused": reused}, artifact=table, media_type="text/csv")


register(
    JobKind(
        "simulate",
        SimulateJobParams,
        run_simulate,
        "discrete-event simulations of one problem, one per configuration, checkpointed and resumable",
        validate=validate_simulate,
    )
)


def _objectives(params: TuneParams) -> tuple[str, ...]:
    return tuple(params.objectives) if params.objectives is not None else ("time",)


def validate_tune(params: TuneParams, data_dir: Path) -> None:
    """The problem builds, the backend and objectives are known, and the op declares a search space for it."""
    from perfmodel.space import search_space
    from perfmodel.tune import BACKENDS
    from perfmodel.tune.study import _check_objectives

    spec = work.spec_of(params, data_dir)
    work.build(spec)
    if params.backend not in BACKENDS:
        # The library's own wording (perfmodel.tune).
        raise FieldError("backend", f"unknown backend {params.backend!r} (known: {', '.join(BACKENDS)})")
    try:
        _check_objectives(_objectives(params))
    except InputError as exc:
        raise FieldError("objectives", str(exc)) from None
    try:
        search_space(spec.op, spec.shape, device=work.board_arg(spec), dtype=spec.dtype)
    except InputError as exc:
        raise FieldError(work.problem_field(str(exc)), work.clean(str(exc), spec)) from None


def run_tune(params: TuneParams, ctx: JobContext) -> JobOutput:
    import perfmodel

    spec = work.spec_of(params, ctx.data_dir)

    def tick(done: int, total: int) -> None:
        ctx.progress(done, total, "trials")

    result = perfmodel.tune(
        spec.op,
        spec.shape,
        device=work.board_arg(spec),
        dtype=spec.dtype,
        backend=params.backend,
        n_trials=params.n_trials,
        objectives=_objectives(params),
        seed=params.seed,
        timeout=params.timeout,
        storage=ctx.storage_url("study.sqlite3"),  # optuna RDB storage in the job folder:
        study_name=f"job-{ctx.job_id}",  # a resumed job continues the same study
        on_progress=tick,
    )
    payload = work.named_board(work.plain(result.to_dict()), spec)
    # The storage as a path relative to the data dir: the server's own paths stay on the server.
    payload["storage"] = str(payload["storage"]).replace(f"{ctx.data_dir}/", "")
    return JobOutput(result=payload)


register(
    JobKind(
        "tune",
        TuneParams,
        run_tune,
        "an optuna study over the op's search space (perfmodel.tune), resumable",
        validate=validate_tune,
    )
)
register(
    JobKind(
        "sweep",
        SweepParams,
        run_sweep_job,
        "a sweep spec (TOML text or JSON) into one Parquet or CSV table (perfmodel.run_sweep), resumable",
        validate=validate_sweep,
    )
)
