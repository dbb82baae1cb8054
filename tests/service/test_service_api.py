"""The service over HTTP: every endpoint answers what the library answers, repeated requests hit the cache,
jobs live their whole life, and the client returns the library's types."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

import perfmodel
from perfmodel.cli.devices import device_rows
from perfmodel.client import Client
from perfmodel.service.keys import shipped_profile_path
from perfmodel.space import search_space

OP = "centralize_w_rm"
SHAPE = (1, 1, 64, 96)


def _program(shape=SHAPE, device="wormhole_b0_n150", config=None):
    return perfmodel.get_op(OP).build_program(shape, device=device, dtype="bfloat16", config=config)


def _comparable(payload: dict) -> dict:
    """A run's JSON without the wall-clock figures that differ from run to run."""
    out = json.loads(json.dumps(payload))
    details = out.get("details", {})
    for key in [k for k in details if "wall" in k or k.endswith("_per_s")]:
        details.pop(key)
    out.pop("trace", None)
    return out


def _metric(http, name: str, **labels: str) -> float:
    text = http.get("/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}}"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_healthz_devices_docs(server) -> None:
    with server.http() as http:
        assert http.get("/healthz").json()["status"] == "ok"
        assert http.get("/v1/devices").json() == device_rows()
        assert http.get("/docs").status_code == 200
        paths = http.get("/openapi.json").json()["paths"]
        for path in (
            "/v1/check",
            "/v1/estimate",
            "/v1/simulate",
            "/v1/estimate_many",
            "/v1/recommend",
            "/v1/jobs/simulate",
            "/v1/jobs/tune",
            "/v1/jobs/sweep",
        ):
            assert path in paths


def test_ops_list_config_fields_and_search_space(server) -> None:
    with server.http() as http:
        ops = {op["name"]: op for op in http.get("/v1/ops").json()}
        assert set(ops) == set(perfmodel.list_ops())
        cw = ops[OP]
        assert [f["name"] for f in cw["config"]] == [
            "grid",
            "row_wise",
            "in_buffering",
            "out_buffering",
            "variant",
            "block_wt",
            "math_fidelity",
            "fp32_dest_acc_en",
            "dst_full_sync_en",
        ]
        space = search_space(OP, SHAPE, device="wormhole_b0_n150")
        assert [k["name"] for k in cw["knobs"]] == list(space.knob_names)
        assert cw["space"] is None
        assert ops["dram_unary"]["knobs"] is None
        one = http.get(f"/v1/ops/{OP}", params={"shape": "1,1,64,96", "device": "blackhole_p150a"}).json()
        assert one["space"] == search_space(OP, SHAPE, device="blackhole_p150a").to_dict()


@pytest.mark.parametrize("endpoint", ["check", "estimate", "simulate"])
def test_answers_equal_the_library_and_repeat_from_cache(server, endpoint: str) -> None:
    from perfmodel.checks import check
    from perfmodel.cli.common import run_payload
    from perfmodel.cli.estimate import stall_summary as estimate_stalls
    from perfmodel.cli.simulate import stall_summary as simulate_stalls

    config = {"grid": [2, 1], "in_buffering": 1}
    program = _program(config=config)
    if endpoint == "check":
        expected = check(program).to_dict()
    elif endpoint == "estimate":
        result = perfmodel.estimate(program)
        expected = run_payload(result, estimate_stalls(result), check(program))
    else:
        result = perfmodel.simulate(program)
        expected = run_payload(result, simulate_stalls(result), check(program))
    body = {"op": OP, "shape": list(SHAPE), "config": config}
    with server.http() as http:
        hits = _metric(http, "perfmodel_cache_total", endpoint=endpoint, result="hit")
        first = http.post(f"/v1/{endpoint}", json=body)
        assert first.status_code == 200, first.text
        assert first.headers["x-perfmodel-cache"] == "miss"
        assert _comparable(first.json()) == _comparable(expected)
        # The same question in another form (text shape, defaults spelled out) is the same key.
        again = http.post(f"/v1/{endpoint}", json={**body, "shape": "1,1,64,96", "dtype": "bfloat16"})
        assert again.headers["x-perfmodel-cache"] == "hit"
        assert again.json() == first.json()
        assert _metric(http, "perfmodel_cache_total", endpoint=endpoint, result="hit") == hits + 1
        assert _metric(http, "perfmodel_requests_total", endpoint=f"/v1/{endpoint}", method="POST", status="200") >= 2


def test_uploaded_profile_is_parsed_and_shares_the_cache_by_content(server) -> None:
    text = shipped_profile_path("blackhole_p150a").read_text()
    with server.http() as http:
        by_name = http.post("/v1/estimate", json={"op": OP, "shape": [1, 1, 128, 64], "device": "blackhole_p150a"})
        by_text = http.post("/v1/estimate", json={"op": OP, "shape": [1, 1, 128, 64], "profile": text})
        assert by_text.status_code == 200, by_text.text
        assert by_text.headers["x-perfmodel-cache"] == "hit"
        assert by_text.json() == by_name.json()
        edited = text.replace("clock_ghz = { value = 1.35", "clock_ghz = { value = 1.0", 1)
        assert edited != text
        other = http.post("/v1/estimate", json={"op": OP, "shape": [1, 1, 128, 64], "profile": edited})
        assert other.status_code == 200, other.text
        assert other.headers["x-perfmodel-cache"] == "miss"
        assert other.json()["kernel_duration_ns"] != by_name.json()["kernel_duration_ns"]
    assert not list(server.data_dir.rglob("*.tmp"))


def test_simulate_trace_is_a_download_link(server) -> None:
    with server.http() as http:
        answer = http.post("/v1/simulate", json={"op": OP, "shape": [1, 1, 64, 64], "trace": True}).json()
        link = answer["trace"]
        assert link["url"] == f"/v1/artifacts/{link['id']}"
        trace = http.get(link["url"])
        assert trace.status_code == 200
        assert trace.json()["traceEvents"]
        assert http.get("/v1/artifacts/0123456789abcdef").status_code == 404


def test_estimate_many_equals_the_library(server) -> None:
    table = pd.DataFrame(
        {
            "N": [1, 1, 1, 2],
            "C": 1,
            "H": [2048, 2048, 64, 96],
            "W": [1024, 1024, 96, 64],
            "dtype": ["bfloat16", "bfloat16", "float32", "bfloat16"],
            "device": ["wormhole_b0_n150", "blackhole_p150a", "wormhole_b0_n150", "no_such_board"],
            "grid_x": [8, 4, 2, 1],
            "grid_y": 8,
            "row_wise": [False, True, False, False],
            "in_buffering": [2, 1, 4, 2],
            "out_buffering": 2,
        }
    )
    expected = perfmodel.estimate_many(OP, table)
    with Client(server.url) as client:
        got = client.estimate_many(OP, table)
    pd.testing.assert_frame_equal(got, expected)


def test_client_returns_the_library_types(server, tmp_path) -> None:
    program = _program(shape=(1, 1, 128, 64), config={"grid": (2, 2)})
    with Client(server.url) as client:
        assert client.list_devices() == perfmodel.list_devices()
        assert client.list_ops() == perfmodel.list_ops()
        report = client.check(program)
        assert report == perfmodel.check(program)
        est = client.estimate(OP, (1, 1, 128, 64), config={"grid": (2, 2)})
        assert isinstance(est, perfmodel.result.RunResult)
        assert _comparable(est.to_dict()) == _comparable(perfmodel.estimate(program).to_dict())
        sim = client.simulate(program, trace_path=tmp_path / "run.json")
        assert _comparable(sim.to_dict()) == _comparable(perfmodel.simulate(program).to_dict())
        assert json.loads((tmp_path / "run.json").read_text())["traceEvents"]
        with pytest.raises(perfmodel.InputError, match="H = 65 is not a multiple of 32"):
            client.estimate(OP, (1, 1, 65, 64))


# Four distinct configs of a problem whose simulation takes a fraction of a second, cycled for longer jobs.
JOB_SHAPE = [1, 1, 1024, 1024]
JOB_CONFIGS = [{"grid": [1, 1]}, {"grid": [1, 2]}, {"grid": [2, 1]}, {"grid": [2, 2]}]


def _library_cycles() -> list[float]:
    return [perfmodel.simulate(_program(tuple(JOB_SHAPE), config=c)).cycles for c in JOB_CONFIGS]


def _wait(http, job_id: str, until, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached the state wanted: {job}")


def test_simulate_job_life_queued_running_finished(server) -> None:
    configs = JOB_CONFIGS * 2
    with server.http() as http:
        accepted = http.post("/v1/jobs/simulate", json={"op": OP, "shape": JOB_SHAPE, "configs": configs})
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["state"] == "queued"
        job_id = accepted.json()["id"]
        assert accepted.headers["location"] == f"/v1/jobs/{job_id}"
        running = _wait(http, job_id, lambda j: j["state"] == "running" and 0 < j["progress"]["done"] < 8)
        assert running["progress"]["total"] == 8 and running["progress"]["unit"] == "simulations"
        assert running["started_at"] >= running["created_at"]
        done = _wait(http, job_id, lambda j: j["state"] not in ("queued", "running"))
        assert done["state"] == "finished", done
        assert done["progress"]["done"] == 8 and done["finished_at"] >= done["started_at"]
        cycles = [r["cycles"] for r in done["result"]["results"]]
        assert cycles == _library_cycles() * 2
        table = http.get(done["artifact"]["url"])
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        assert table.text.count("\n") == 9
        assert http.delete(f"/v1/jobs/{job_id}").status_code == 409
        assert _metric(http, "perfmodel_jobs", state="finished") >= 1


def test_simulate_job_cancel(server) -> None:
    with Client(server.url) as client:
        job = client.submit("simulate", op=OP, shape=JOB_SHAPE, configs=JOB_CONFIGS * 25)
        deadline = time.monotonic() + 60
        while client.job(job.id).state != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        cancelled = client.cancel(job.id)
        assert cancelled.state == "cancelled"
        time.sleep(1.0)
        later = client.job(job.id)
        assert later.state == "cancelled" and later.done < 100
        checkpoint = server.data_dir / "jobs" / job.id / "results.jsonl"
        lines = checkpoint.read_text().count("\n") if checkpoint.exists() else 0
        time.sleep(1.0)
        assert (checkpoint.read_text().count("\n") if checkpoint.exists() else 0) == lines  # the process ended


def test_estimate_many_with_an_uploaded_board(server, tmp_path) -> None:
    text = shipped_profile_path("blackhole_p150a").read_text().replace('name = "blackhole_p150a"', 'name = "my_board"')
    path = tmp_path / "my_board.toml"
    path.write_text(text)
    rows = {"N": [1, 1], "C": 1, "H": 256, "W": 512, "dtype": "bfloat16", "grid_x": 4, "grid_y": 2}
    rows.update({"row_wise": False, "in_buffering": 2, "out_buffering": 2})
    local = pd.DataFrame({**rows, "device": [str(path), "wormhole_b0_n150"]})
    remote = pd.DataFrame({**rows, "device": ["my_board", "wormhole_b0_n150"]})
    expected = perfmodel.estimate_many(OP, local)
    expected["device"] = remote["device"]
    with Client(server.url) as client:
        got = client.estimate_many(OP, remote, profile=path)
    pd.testing.assert_frame_equal(got, expected)
