"""`kill -9` of the server during a sweep job: after a restart every finished result is kept, the job is
`interrupted`, and `POST /v1/jobs/{id}/resume` finishes it from its checkpoint with the same table as an
uninterrupted run of the library."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from perfmodel.sweep import read_table, run_sweep

OP = "centralize_w_rm"
FLAGS = ("--workers", "1", "--job-workers", "1")
# 36 points by both engines: the analytic half lands in one checkpoint commit, then DES points one by one
# (a few seconds on one helper process).
SPEC = {
    "op": OP,
    "backend": ["analytic", "des"],
    "axes": {
        "N": [1],
        "C": [1],
        "H": [64, 256, 1024],
        "W": [256, 1024],
        "dtype": ["bfloat16"],
        "device": ["wormhole_b0_n150", "blackhole_p150a"],
        "in_buffering": [1, 2, 3],
    },
}
ROWS = 72


def _wait(http, job_id: str, ok, limit_s: float = 120.0) -> dict:
    deadline = time.monotonic() + limit_s
    while True:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if ok(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def test_kill_9_during_a_sweep_then_resume_to_the_same_table(tmp_path: Path, launch_server) -> None:
    data_dir = tmp_path / "data"
    server = launch_server(data_dir, *FLAGS)
    recommend = {"op": OP, "shape": [1, 1, 64, 96], "top_k": 1}
    try:
        with server.http() as http:
            before = http.post("/v1/recommend", json=recommend)
            assert before.headers["x-perfmodel-cache"] == "miss"
            job_id = http.post("/v1/jobs/sweep", json={"spec": SPEC}).json()["id"]
            _wait(http, job_id, lambda j: j["state"] == "running" and j["progress"]["done"] >= ROWS // 2 + 4)
    finally:
        server.kill9()
    checkpoint = data_dir / "jobs" / job_id / "sweep.parquet.checkpoint.sqlite"
    assert checkpoint.is_file()
    time.sleep(1.0)  # the job's process and its helper notice the server is gone (within 0.5 s) and end

    again = launch_server(data_dir, *FLAGS)
    try:
        with again.http() as http:
            job = http.get(f"/v1/jobs/{job_id}").json()
            assert job["state"] == "interrupted"
            kept = job["progress"]["done"]
            assert ROWS // 2 + 4 <= kept < ROWS
            # Finished work survives: the cached answer.
            cached = http.post("/v1/recommend", json=recommend)
            assert cached.headers["x-perfmodel-cache"] == "hit" and cached.json() == before.json()
            assert http.post(f"/v1/jobs/{job_id}/resume").json()["state"] == "queued"
            done = _wait(http, job_id, lambda j: j["state"] not in ("queued", "running"))
            assert done["state"] == "finished", done["message"]
            assert done["attempts"] == 2
            assert done["result"]["resumed_rows"] >= kept and done["result"]["rows"] == ROWS
            (tmp_path / "resumed.parquet").write_bytes(http.get(done["artifact"]["url"]).content)
    finally:
        again.stop()
    run_sweep(SPEC, tmp_path / "uninterrupted.parquet", workers=1, progress=False)
    resumed, reference = read_table(tmp_path / "resumed.parquet"), read_table(tmp_path / "uninterrupted.parquet")
    assert len(resumed) == ROWS and not resumed.duplicated(["H", "W", "device", "in_buffering", "backend"]).any()
    pd.testing.assert_frame_equal(resumed, reference)
