"""Recommend, tune and sweep over HTTP: answers equal the library's for the same inputs, a repeated
recommendation is a cache hit, tune and sweep jobs live their whole life (queued, running with progress,
finished, and a cancelled study resumes), and the client returns the library's types."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

import perfmodel
from perfmodel.client import Client
from perfmodel.service.keys import shipped_profile_path
from perfmodel.sweep import SweepSummary, read_table, run_sweep
from perfmodel.tune import Recommendation, TuneResult

OP = "centralize_w_rm"
SHAPE = (1, 1, 64, 96)
TUNE_SHAPE = (1, 1, 256, 256)
SWEEP = {
    "op": OP,
    "backend": ["analytic", "des"],
    "axes": {
        "N": [1],
        "C": [1],
        "H": [64, 256],
        "W": [256, 1024],
        "dtype": ["bfloat16"],
        "device": ["wormhole_b0_n150", "blackhole_p150a"],
        "in_buffering": [1, 2],
    },
}
SWEEP_TOML = """op = "centralize_w_rm"
backend = ["analytic", "des"]

[axes]
N = [1]
C = [1]
H = [64, 256]
W = [256, 1024]
dtype = ["bfloat16"]
device = ["wormhole_b0_n150", "blackhole_p150a"]
in_buffering = [1, 2]
"""


def _plain(payload: dict) -> dict:
    """JSON as a client reads it, without the wall-clock figure that differs from run to run."""
    out = json.loads(json.dumps(payload))
    out.pop("wall_seconds", None)
    return out


def _same_study(remote: dict, local: TuneResult) -> None:
    """The same trials, verdicts and front (study name, storage and timings aside)."""
    expected = _plain(local.to_dict())
    for key in ("study_name", "storage", "wall_seconds"):
        remote.pop(key, None), expected.pop(key, None)
    assert remote == expected


def test_recommend_equals_the_library_and_repeats_from_cache(server) -> None:
    body = {"op": OP, "shape": list(SHAPE), "device": "blackhole_p150a", "top_k": 2}
    expected = perfmodel.recommend(OP, SHAPE, device="blackhole_p150a", top_k=2)
    assert expected.ok
    with server.http() as http:
        first = http.post("/v1/recommend", json=body)
        assert first.status_code == 200, first.text
        assert first.headers["x-perfmodel-cache"] == "miss"
        assert _plain(first.json()) == _plain(expected.to_dict())
        again = http.post("/v1/recommend", json=body)
        assert again.headers["x-perfmodel-cache"] == "hit"
        assert again.json() == first.json()
        # The same board sent as profile text is the same question: same key, same answer.
        text = shipped_profile_path("blackhole_p150a").read_text()
        uploaded = http.post("/v1/recommend", json={**body, "device": "wormhole_b0_n150", "profile": text})
        assert uploaded.headers["x-perfmodel-cache"] == "hit"
        # Another top_k is another question.
        other = http.post("/v1/recommend", json={**body, "top_k": 1})
        assert other.headers["x-perfmodel-cache"] == "miss"
    with Client(server.url) as client:
        rec = client.recommend(OP, SHAPE, device="blackhole_p150a", top_k=2)
    assert isinstance(rec, Recommendation)
    assert rec.config == expected.config and rec.baseline == expected.baseline
    assert rec.alternatives == expected.alternatives and rec.speedup == expected.speedup


def test_recommend_nothing_fits_is_an_answer(server) -> None:
    shape = (1, 1, 64, 256)  # no configuration is exact to 1e-9
    expected = perfmodel.recommend(OP, shape, max_error=1e-9)
    assert not expected.ok
    with Client(server.url) as client:
        rec = client.recommend(OP, shape, max_error=1e-9)
    assert rec.ok is False and rec.config is None
    assert rec.reasons == expected.reasons and rec.reasons


def _poll(http, job_ids: list[str], limit_s: float = 120.0) -> dict[str, list[tuple[str, float, float | None]]]:
    """Every (state, done, total) each job showed, until all have ended."""
    seen: dict[str, list[tuple[str, float, float | None]]] = {j: [] for j in job_ids}
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        for job_id in job_ids:
            job = http.get(f"/v1/jobs/{job_id}").json()
            step = (job["state"], job["progress"]["done"], job["progress"]["total"])
            if not seen[job_id] or seen[job_id][-1] != step:
                seen[job_id].append(step)
        if all(s[-1][0] not in ("queued", "running") for s in seen.values()):
            return seen
        time.sleep(0.03)
    raise AssertionError(f"jobs did not end in {limit_s} s: {seen}")


def test_sweep_and_tune_jobs_whole_life(server, tmp_path: Path) -> None:
    tune_body = {"op": OP, "shape": list(TUNE_SHAPE), "n_trials": 10, "seed": 3}
    with server.http() as http:
        sweep = http.post("/v1/jobs/sweep", json={"spec": SWEEP_TOML})
        assert sweep.status_code == 202 and sweep.json()["state"] == "queued"
        tune = http.post("/v1/jobs/tune", json=tune_body)
        assert tune.status_code == 202 and tune.json()["state"] == "queued"
        sweep_id, tune_id = sweep.json()["id"], tune.json()["id"]
        seen = _poll(http, [sweep_id, tune_id])
        sweep_job = http.get(f"/v1/jobs/{sweep_id}").json()
        tune_job = http.get(f"/v1/jobs/{tune_id}").json()

    # One job worker: the tune job waited for the sweep; both ran with progress, then finished.
    assert seen[tune_id][0][0] == "queued"
    for job_id, total in ((sweep_id, 32.0), (tune_id, 10.0)):
        states = [s for s, _, _ in seen[job_id]]
        assert states[-1] == "finished", seen[job_id]
        assert any(s == "running" and 0 < done < total and t == total for s, done, t in seen[job_id]), seen[job_id]
    assert tune_job["progress"] == {"done": 10.0, "total": 10.0, "unit": "trials", "fraction": 1.0}
    assert sweep_job["progress"]["unit"] == "points" and sweep_job["progress"]["done"] == 32.0

    # The same study as the library's with the same seed (in memory there, SQLite in the job folder here).
    result = tune_job["result"]
    assert result["study_name"] == f"job-{tune_id}"
    assert result["storage"] == f"sqlite:///jobs/{tune_id}/study.sqlite3"
    _same_study(result, perfmodel.tune(OP, TUNE_SHAPE, n_trials=10, seed=3))

    # The same table as the library's run of the same spec.
    assert sweep_job["artifact"]["media_type"] == "application/vnd.apache.parquet"
    assert sweep_job["result"]["rows"] == 32 and sweep_job["result"]["points"] == 16
    with Client(server.url) as client:
        remote = client.read_table(sweep_job["artifact"]["url"])
    local = run_sweep(SWEEP, tmp_path / "local.parquet", workers=1, progress=False)
    pd.testing.assert_frame_equal(remote, read_table(local.out))


def test_a_cancelled_study_resumes(server) -> None:
    body = {"op": OP, "shape": list(TUNE_SHAPE), "n_trials": 8, "seed": 5}
    with server.http() as http:
        job_id = http.post("/v1/jobs/tune", json=body).json()["id"]
        deadline = time.monotonic() + 120
        while http.get(f"/v1/jobs/{job_id}").json()["progress"]["done"] < 2:
            assert time.monotonic() < deadline, "the study never progressed"
            time.sleep(0.03)
        cancelled = http.delete(f"/v1/jobs/{job_id}").json()
        assert cancelled["state"] == "cancelled"
        kept = cancelled["progress"]["done"]
        assert 2 <= kept < 8
        assert http.post(f"/v1/jobs/{job_id}/resume").json()["state"] == "queued"
    with Client(server.url) as client:
        job = client.wait(job_id, timeout_s=120)
    assert job.state == "finished", job.message
    assert job.raw["attempts"] == 2
    result = TuneResult.from_dict(job.result)
    # The resumed run added only the trials missing from the study it continued.
    assert result.trial_counts["COMPLETE"] == 8
    assert len(result.trials_run) <= 8 - kept
    assert [t.number for t in result.trials if t.state == "COMPLETE"][: int(kept)] == list(range(int(kept)))


def test_client_tune_and_sweep_return_the_library_types(server, tmp_path: Path) -> None:
    with Client(server.url) as client:
        result = client.tune(OP, TUNE_SHAPE, device="blackhole_p150a", n_trials=6, objectives=("time", "cores"))
        summary = client.sweep(SWEEP | {"backend": "analytic"}, tmp_path / "table.csv")
    assert isinstance(result, TuneResult) and result.objectives == ("time", "cores")
    local = perfmodel.tune(OP, TUNE_SHAPE, device="blackhole_p150a", n_trials=6, objectives=("time", "cores"))
    assert result.pareto_front == local.pareto_front
    assert isinstance(summary, SweepSummary) and summary.out == str(tmp_path / "table.csv")
    assert summary.rows == 16 and summary.backends == ("analytic",)
    expected = run_sweep(SWEEP | {"backend": "analytic"}, tmp_path / "local.csv", progress=False)
    pd.testing.assert_frame_equal(read_table(summary.out), read_table(expected.out))


@pytest.mark.parametrize("bad", [{"spec": "op = [1"}, {"spec": {"op": OP}, "format": "xlsx"}])
def test_client_sweep_bad_spec_is_an_input_error(server, bad: dict) -> None:
    with Client(server.url) as client, pytest.raises(perfmodel.InputError) as err:
        client.sweep(bad["spec"], format=bad.get("format"))
    assert "spec" in str(err.value) or "format" in str(err.value)
