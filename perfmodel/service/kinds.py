"""The job kinds the service ships, each registered with `register(JobKind(...))` (see `jobs` for how).

`simulate`: one long simulation, or one per configuration in `configs`, as a job. Each finished simulation
is appended to `results.jsonl` in the job folder, so a resumed job runs only the ones left. Progress is in
simulations, with the running one counted by its simulated cycles against the analytic estimate. The
result holds the CLI's JSON of every run; the artifact is a CSV with one row per configuration.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from perfmodel.service import work
from perfmodel.service.errors import FieldError
from perfmodel.service.jobs import JobContext, JobKind, JobOutput, register
from perfmodel.service.models import RunTarget, SimulateJobParams


def validate_target(params: RunTarget, data_dir: Path, config: dict[str, Any] | None = None) -> None:
    """Build the target's program once (cheap), so a bad op, board, shape, dtype or config is a 422 at
    submission rather than a failed job; for any kind whose params extend `RunTarget`."""
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
