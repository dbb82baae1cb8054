"""A server with a token and tight limits: auth, 429 when the queue is full, 504 past the time limit, and a
`kill -9` during a job: after a restart finished results are kept, the job is interrupted and resumes to the
same results as the library."""

from __future__ import annotations

import threading
import time

import pytest

import perfmodel
from perfmodel.client import Client, ServiceError
from perfmodel.service.store import Store

TOKEN = "s3cret-token"
OP = "centralize_w_rm"
LONG = {"op": OP, "shape": [1, 1, 262144, 1024]}  # about ten seconds of simulation: it outlives the 2 s limit
JOB_SHAPE = [1, 1, 1024, 1024]
JOB_CONFIGS = [{"grid": [1, 1]}, {"grid": [1, 2]}, {"grid": [2, 1]}, {"grid": [2, 2]}]
FLAGS = ("--workers", "1", "--job-workers", "1", "--max-pending", "0", "--timeout", "2")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("durable") / "data"


@pytest.fixture(scope="module")
def server(data_dir, launch_server):
    srv = launch_server(data_dir, *FLAGS, env={"PERFMODEL_TOKEN": TOKEN})
    yield srv
    srv.stop()


def test_token_required_except_healthz(server) -> None:
    with server.http() as anonymous, server.http("wrong") as wrong, server.http(TOKEN) as good:
        assert anonymous.get("/healthz").status_code == 200
        for method, path in (("GET", "/v1/devices"), ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/v1/jobs")):
            for http in (anonymous, wrong):
                answer = http.request(method, path)
                assert answer.status_code == 401, path
                assert answer.json()["field"] == "Authorization"
                assert answer.headers["www-authenticate"] == "Bearer"
            assert good.request(method, path).status_code == 200, path
        body = {"op": OP, "shape": [1, 1, 64, 64]}
        assert anonymous.post("/v1/estimate", json=body).status_code == 401
        assert good.post("/v1/estimate", json=body).status_code == 200
    with Client(server.url, token=TOKEN) as client:
        assert client.list_devices() == perfmodel.list_devices()
    with Client(server.url) as client, pytest.raises(ServiceError) as err:
        client.list_devices()
    assert err.value.status == 401


def test_full_queue_is_429_and_a_long_request_504(server) -> None:
    answers = {}

    def long_request() -> None:
        with server.http(TOKEN) as http:
            answers["long"] = http.post("/v1/simulate", json=LONG)

    thread = threading.Thread(target=long_request)
    started = time.monotonic()
    thread.start()
    with server.http(TOKEN) as http:
        while "perfmodel_requests_in_flight 1.0" not in http.get("/metrics").text:
            assert time.monotonic() - started < 30, "the long request never reached the worker pool"
            time.sleep(0.05)
        busy = http.post("/v1/simulate", json={"op": OP, "shape": [1, 1, 64, 128]})
        assert busy.status_code == 429, busy.text
        assert int(busy.headers["retry-after"]) >= 1
        assert "busy" in busy.json()["detail"]
        thread.join(60)
        long = answers["long"]
        assert long.status_code == 504, long.text
        assert "time limit of 2 s" in long.json()["detail"] and "POST /v1/jobs/simulate" in long.json()["detail"]
        assert time.monotonic() - started < 30
        # The worker stops the simulation itself and answers again.
        while http.post("/v1/simulate", json={"op": OP, "shape": [1, 1, 64, 128]}).status_code != 200:
            assert time.monotonic() - started < 60, "the worker never came back"
            time.sleep(0.2)


def _lines(path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def test_kill_9_during_a_job_then_restart_and_resume(server, data_dir, launch_server) -> None:
    body = {"op": OP, "shape": [1, 1, 128, 64], "config": {"grid": [2, 2]}}
    with server.http(TOKEN) as http:
        before = http.post("/v1/estimate", json=body)
        assert before.headers["x-perfmodel-cache"] == "miss"
        job_id = http.post("/v1/jobs/simulate", json={"op": OP, "shape": JOB_SHAPE, "configs": JOB_CONFIGS * 6}).json()[
            "id"
        ]
        checkpoint = data_dir / "jobs" / job_id / "results.jsonl"
        deadline = time.monotonic() + 120
        while _lines(checkpoint) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.get(f"/v1/jobs/{job_id}").json()["state"] == "running"
    server.kill9()
    # The job's process notices that its server is gone and stops: the checkpoint stops growing.
    time.sleep(1.5)
    kept = _lines(checkpoint)
    time.sleep(1.5)
    assert _lines(checkpoint) == kept
    assert 2 <= kept < 24

    again = launch_server(data_dir, *FLAGS, env={"PERFMODEL_TOKEN": TOKEN})
    try:
        with again.http(TOKEN) as http:
            job = http.get(f"/v1/jobs/{job_id}").json()
            assert job["state"] == "interrupted"
            assert 1 <= job["progress"]["done"] <= kept
            cached = http.post("/v1/estimate", json=body)
            assert cached.headers["x-perfmodel-cache"] == "hit"
            assert cached.json() == before.json()
            resumed = http.post(f"/v1/jobs/{job_id}/resume")
            assert resumed.status_code == 202 and resumed.json()["state"] == "queued"
        with Client(again.url, token=TOKEN) as client:
            done = client.wait(job_id, timeout_s=300)
        assert done.state == "finished", done.message
        assert done.raw["attempts"] == 2
        assert done.result["reused"] == kept
        op = perfmodel.get_op(OP)
        expected = [
            perfmodel.simulate(op.build_program(tuple(JOB_SHAPE), device="wormhole_b0_n150", config=c)).cycles
            for c in JOB_CONFIGS
        ]
        assert [r["cycles"] for r in done.result["results"]] == expected * 6
        # A graceful stop (SIGTERM) also leaves a running job interrupted, hence resumable.
        with again.http(TOKEN) as http:
            other = http.post("/v1/jobs/simulate", json={"op": OP, "shape": JOB_SHAPE, "configs": JOB_CONFIGS * 6})
            other_id = other.json()["id"]
            waiting = time.monotonic()
            while http.get(f"/v1/jobs/{other_id}").json()["state"] != "running":
                assert time.monotonic() - waiting < 120, "the job never started"
                time.sleep(0.05)
    finally:
        again.stop()
    assert Store(data_dir / "perfmodel.sqlite3").job_get(other_id).state == "interrupted"
