"""Load on `perfmodel serve` over loopback: N concurrent clients send a fixed number of mixed estimate,
recommend and simulate requests (some repeated, so part of them are cache hits) while simulate, tune and
sweep jobs run, then wait for the jobs. Prints throughput, p50 / p99 latency per kind and overall, the error
count and lost jobs; bounded in count (REQUESTS) and time (TIME_LIMIT_S), it stops by itself. Run with
`pytest -m benchmark -s tests/benchmarks/test_bench_service.py`.
"""

from __future__ import annotations

import random
import threading
import time

import httpx
import numpy as np
import pytest

CLIENTS = 8
REQUESTS = 400
JOBS = 3
TIME_LIMIT_S = 180.0
OP = "centralize_w_rm"
PROBLEM = {"op": OP, "shape": [1, 1, 1024, 1024]}
SWEEP = {
    "op": OP,
    "backend": ["analytic", "des"],
    "axes": {
        "N": [1],
        "C": [1],
        "H": [256, 1024],
        "W": [256, 1024],
        "dtype": ["bfloat16"],
        "device": ["wormhole_b0_n150", "blackhole_p150a"],
        "in_buffering": [1, 2],
    },
}


def _requests(seed: int = 0) -> list[tuple[str, dict]]:
    """60 % estimates over 96 distinct problems, 15 % recommendations over 12, 25 % simulations over 24:
    repeats hit the cache."""
    rng = random.Random(seed)
    estimates = [
        {"op": OP, "shape": [1, 1, h, w], "config": {"grid": [gx, 8], "in_buffering": b}}
        for h in (64, 512, 2048)
        for w in (64, 256, 1024, 2048)
        for gx in (4, 8)
        for b in (1, 2, 3, 4)
    ]
    simulations = [
        {"op": OP, "shape": [1, 1, h, w], "config": {"grid": [g, g]}}
        for h in (64, 128, 256)
        for w in (64, 128, 256, 512)
        for g in (1, 2)
    ]
    recommendations = [
        {"op": OP, "shape": [1, 1, h, w], "device": device, "top_k": 3}
        for h in (64, 256, 1024)
        for w in (256, 1024)
        for device in ("wormhole_b0_n150", "blackhole_p150a")
    ]
    out = []
    for _ in range(REQUESTS):
        draw = rng.random()
        if draw < 0.6:
            out.append(("estimate", rng.choice(estimates)))
        elif draw < 0.75:
            out.append(("recommend", rng.choice(recommendations)))
        else:
            out.append(("simulate", rng.choice(simulations)))
    return out


@pytest.mark.benchmark
def test_service_load(tmp_path, launch_server) -> None:
    server = launch_server(tmp_path / "data", "--workers", "2", "--job-workers", "1")
    work = _requests()
    lock = threading.Lock()
    kinds = ("estimate", "recommend", "simulate")
    latencies: dict[str, list[float]] = {f"{k}{hit}": [] for k in kinds for hit in ("", " hit")}
    errors: list[str] = []
    hits = [0]
    deadline = time.monotonic() + TIME_LIMIT_S

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=60.0, trust_env=False) as http:
            while time.monotonic() < deadline:
                with lock:
                    if not work:
                        return
                    kind, body = work.pop()
                t0 = time.perf_counter()
                try:
                    answer = http.post(f"/v1/{kind}", json=body)
                    ok = answer.status_code == 200
                    detail = f"{answer.status_code} {answer.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, repr(exc)
                elapsed = time.perf_counter() - t0
                hit = ok and answer.headers.get("x-perfmodel-cache") == "hit"
                with lock:
                    latencies[f"{kind} hit" if hit else kind].append(elapsed)
                    hits[0] += hit
                    if not ok:
                        errors.append(detail)

    try:
        with httpx.Client(base_url=server.url, timeout=60.0, trust_env=False) as http:
            job_ids = [
                http.post(
                    "/v1/jobs/simulate",
                    json={"op": OP, "shape": [1, 1, 1024, 1024], "configs": [{"grid": [g, 1]} for g in (1, 2, 4, 8)]},
                ).json()["id"]
                for _ in range(JOBS)
            ]
            job_ids.append(http.post("/v1/jobs/tune", json={**PROBLEM, "n_trials": 20}).json()["id"])
            job_ids.append(http.post("/v1/jobs/sweep", json={"spec": SWEEP}).json()["id"])
            started = time.perf_counter()
            threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(TIME_LIMIT_S + 60)
            wall = time.perf_counter() - started
            states = {}
            while time.monotonic() < deadline + 60:
                states = {j: http.get(f"/v1/jobs/{j}").json()["state"] for j in job_ids}
                if all(s not in ("queued", "running") for s in states.values()):
                    break
                time.sleep(0.2)
            metrics = http.get("/metrics").text
    finally:
        server.stop()

    done = sum(len(v) for v in latencies.values())
    every = np.array([x for v in latencies.values() for x in v])
    print(f"\nservice load: {CLIENTS} clients, {done} of {REQUESTS} requests in {wall:.2f} s: {done / wall:.1f} req/s")
    for kind, values in [*latencies.items(), ("all", list(every))]:
        if values:
            p50, p99 = np.percentile(np.array(values) * 1000, [50, 99])
            print(f"  {kind:<13} n={len(values):>4}  p50 {p50:8.1f} ms  p99 {p99:8.1f} ms")
    print(f"  cache hits {hits[0]}, errors {len(errors)}, jobs {states}")
    lost = [j for j, s in states.items() if s != "finished"]
    print(f"  lost jobs {len(lost)}")
    for line in metrics.splitlines():
        if line.startswith("perfmodel_jobs{"):
            print(f"  {line}")
    for e in errors[:5]:
        print(f"  error: {e}")
    assert done == REQUESTS, "the benchmark ran out of time"
    assert not errors
    assert not lost
