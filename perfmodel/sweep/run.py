"""`run_sweep(spec, out)`: every (point, backend) of a spec into one tidy table, resumable at any instant.

Order of work: the output path is checked, the checkpoint beside it is opened (or refused when it belongs to
another sweep), analytic points run in the calling process through `estimate_many` in fixed chunks, DES points
run on a runner (local process pool or Dask cluster); each finished chunk or point is committed to the
checkpoint as it completes. The table is then assembled from the checkpoint alone -- so a resumed run and an
uninterrupted one give the same file -- and written atomically.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.errors import InputError
from perfmodel.sweep.evaluate import RESULT_COLUMNS, analytic_rows, as_values, des_point
from perfmodel.sweep.output import (
    PROVENANCE_COLUMNS,
    check_output_path,
    profile_sha256,
    tool_version,
    write_table,
)
from perfmodel.sweep.runners import open_runner, run_tasks
from perfmodel.sweep.spec import SweepSpec, load_spec
from perfmodel.sweep.store import Checkpoint, checkpoint_path

# Rows per estimate_many call: large enough to vectorise well, small enough to checkpoint often. Chunks are
# fixed by point index, so a resumed run computes exactly the chunks an uninterrupted one does.
ANALYTIC_CHUNK_ROWS = 4096


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep run did: where the table is, how many rows it has, how many this run computed."""

    out: str
    checkpoint: str
    op: str
    spec_sha256: str
    points: int
    backends: tuple[str, ...]
    rows: int
    computed_rows: int
    resumed_rows: int
    infeasible_rows: int
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "backends": list(self.backends)}


def run_sweep(
    spec: str | Path | SweepSpec | Mapping[str, Any],
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SweepSummary:
    """Run the sweep `spec` (a TOML path, a dict or a SweepSpec) into `out` (Parquet, or CSV for `.csv`).

    DES points run on `workers` local processes (default: the CPU count), or on the Dask cluster whose
    scheduler is at `scheduler` (e.g. 'tcp://host:8786'). Finished rows are kept in `<out>.checkpoint.sqlite`:
    rerunning the same call after an interruption computes only what is missing. A checkpoint or output made
    by another sweep is refused unless `overwrite`. `progress`: a progress bar on stderr (default: when
    stderr is a terminal). `on_progress(done, total)`, when given, is called with the (point, backend) rows
    in the checkpoint and the rows of the table: once before any work and after each commit to the checkpoint.
    """
    wall0 = time.perf_counter()
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    spec = load_spec(spec)
    out = Path(out)
    check_output_path(out)
    points = spec.points()
    identity = {
        "spec_sha256": spec.sha256,
        "perfmodel_version": tool_version(),
        "profiles": {d: profile_sha256(d) for d in sorted(set(points["device"]))},
    }
    store_path = checkpoint_path(out)
    if overwrite:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    elif out.exists() and not store_path.exists():
        raise InputError(
            f"--out {str(out)!r} exists and no checkpoint says which sweep made it; use --overwrite to replace it"
        )
    runner = open_runner(workers=workers, scheduler=scheduler) if scheduler is not None else None
    try:
        with Checkpoint(store_path) as store:
            _claim(store, identity, out)
            done = store.done()
            todo = {b: [i for i in range(len(points)) if (i, b) not in done] for b in spec.backends}
            remaining = sum(len(v) for v in todo.values())
            if todo.get("des") and runner is None:
                # Before the progress bar, so that the pool's processes start from a process with no extra threads.
                runner = open_runner(workers=workers)
            bar = _Ticker(_progress_bar(remaining, progress), on_progress, len(done), len(points) * len(spec.backends))
            try:
                if todo.get("analytic"):
                    _run_analytic(spec.op, points, todo["analytic"], store, bar)
                if todo.get("des"):
                    _run_des(spec.op, points, todo["des"], store, runner, bar)
            finally:
                bar.close()
            rows = store.frame()
    except BaseException:
        if runner is not None:
            runner.close(cancel=True)
            runner = None
        raise
    finally:
        if runner is not None:
            runner.close()
    table = assemble(spec, points, rows, identity)
    write_table(table, out, metadata_json={**identity, "spec": spec.to_dict()})
    return SweepSummary(
        out=str(out),
        checkpoint=str(store_path),
        op=spec.op,
        spec_sha256=spec.sha256,
        points=len(points),
        backends=spec.backends,
        rows=len(table),
        computed_rows=remaining,
        resumed_rows=len(table) - remaining,
        infeasible_rows=int((~table["feasible"].astype(bool)).sum()),
        wall_s=time.perf_counter() - wall0,
    )


def _claim(store: Checkpoint, identity: dict[str, Any], out: Path) -> None:
    found = store.identity()
    if found is None:
        store.claim(identity)
        return
    if found == identity:
        return
    if found.get("spec_sha256") != identity["spec_sha256"]:
        what = "a different spec"
    elif found.get("perfmodel_version") != identity["perfmodel_version"]:
        what = f"perfmodel {found.get('perfmodel_version')} (this is {identity['perfmodel_version']})"
    else:
        what = "different board profiles"
    raise InputError(
        f"--out {str(out)!r} belongs to a sweep made with {what} (checkpoint {str(store.path)!r}); "
        "use --overwrite to replace it"
    )


def _progress_bar(total: int, progress: bool | None) -> Any:
    show = sys.stderr.isatty() if progress is None else progress
    if not show or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="row", desc="sweep", file=sys.stderr, dynamic_ncols=True)


class _Ticker:
    """Counts rows committed to the checkpoint: advances the progress bar (if any) and calls `on_progress`."""

    def __init__(self, bar: Any, on_progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
        self.bar = bar
        self.on_progress = on_progress
        self.done = done
        self.total = total
        if on_progress is not None:
            on_progress(done, total)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_analytic(op: str, points: pd.DataFrame, todo: list[int], store: Checkpoint, bar: _Ticker) -> None:
    missing = set(todo)
    for start in range(0, len(points), ANALYTIC_CHUNK_ROWS):
        stop = min(start + ANALYTIC_CHUNK_ROWS, len(points))
        wanted = [i for i in range(start, stop) if i in missing]
        if not wanted:
            continue
        results = analytic_rows(op, points.iloc[start:stop].reset_index(drop=True))
        store.add("analytic", wanted, (results[i - start] for i in wanted))
        bar.update(len(wanted))


def _run_des(op: str, points: pd.DataFrame, todo: list[int], store: Checkpoint, runner: Any, bar: _Ticker) -> None:
    records = points.to_dict("records")
    tasks = ((i, (op, {k: _plain(v) for k, v in records[i].items()})) for i in todo)
    for i, result in run_tasks(runner, des_point, tasks):
        store.add("des", [i], [as_values(result)])
        bar.update(1)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def assemble(spec: SweepSpec, points: pd.DataFrame, rows: pd.DataFrame, identity: Mapping) -> pd.DataFrame:
    """The tidy table: one row per (point, backend) in point order then backend order."""
    n = len(points)
    frames = []
    for b_index, backend in enumerate(spec.backends):
        results = rows[rows["backend"] == backend].set_index("point")
        if len(results) != n or not (results.index.to_numpy() == np.arange(n)).all():
            raise RuntimeError(f"checkpoint has {len(results)} {backend} rows for {n} points")  # pragma: no cover
        frame = points.copy()
        frame["backend"] = backend
        frame = pd.concat([frame, results[list(RESULT_COLUMNS)].reset_index(drop=True)], axis=1)
        frame["_order"] = np.arange(n) * len(spec.backends) + b_index
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True).sort_values("_order", kind="stable").drop(columns="_order")
    table = table.reset_index(drop=True)
    profiles = identity["profiles"]
    table[PROVENANCE_COLUMNS[0]] = [profiles[d] for d in table["device"]]
    table[PROVENANCE_COLUMNS[1]] = identity["perfmodel_version"]
    return table
