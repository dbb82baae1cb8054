"""Bad requests: each gets the right 4xx whose JSON names the field and the reason (the CLI's message where
the library judges the value), never a traceback; the server keeps answering afterwards."""

from __future__ import annotations

import pytest

from perfmodel.cli import main

OP = "centralize_w_rm"
GOOD = {"op": OP, "shape": [1, 1, 64, 96]}
ROW = {
    "N": 1,
    "C": 1,
    "H": 64,
    "W": 96,
    "dtype": "bfloat16",
    "device": "wormhole_b0_n150",
    "grid_x": 2,
    "grid_y": 1,
    "row_wise": False,
    "in_buffering": 2,
    "out_buffering": 2,
}
BAD_TOML = "name = 'x'\nclock_ghz = [1"
PROBLEM = {"op": OP, "shape": [1, 1, 64, 96]}
AXES = {"N": [1], "C": [1], "H": [64], "W": [96], "dtype": ["bfloat16"], "device": ["wormhole_b0_n150"]}
INCOMPLETE_PROFILE = "name = 'x'\narch = 'wormhole_b0'\n"

# (case, method, path, json body or raw bytes, status, field, words the message contains)
CASES = [
    ("malformed JSON", "POST", "/v1/estimate", b'{"op": ', 422, "body", "malformed JSON"),
    ("no body", "POST", "/v1/estimate", None, 422, "body", "JSON body is required"),
    ("body not an object", "POST", "/v1/check", [1, 2], 422, "body", "valid dictionary"),
    ("missing op", "POST", "/v1/estimate", {"shape": [1, 1, 64, 96]}, 422, "op", "Field required"),
    ("unknown op", "POST", "/v1/estimate", {**GOOD, "op": "nope"}, 422, "op", "unknown op 'nope'"),
    ("unknown field", "POST", "/v1/estimate", {**GOOD, "colour": 1}, 422, "colour", "unknown field"),
    ("shape of wrong type", "POST", "/v1/estimate", {**GOOD, "shape": 5}, 422, "shape", "valid list"),
    ("shape text malformed", "POST", "/v1/check", {**GOOD, "shape": "1,a"}, 422, "shape", "malformed shape '1,a'"),
    ("H not tile aligned", "POST", "/v1/estimate", {**GOOD, "shape": [1, 1, 65, 96]}, 422, "shape", "H = 65"),
    ("non-positive dim", "POST", "/v1/simulate", {**GOOD, "shape": [0, 1, 64, 96]}, 422, "shape", "non-positive"),
    ("rank 1", "POST", "/v1/check", {**GOOD, "shape": [64]}, 422, "shape", "has rank 1"),
    ("unknown board", "POST", "/v1/estimate", {**GOOD, "device": "nope"}, 422, "device", "unknown device 'nope'"),
    ("board as a path", "POST", "/v1/simulate", {**GOOD, "device": "/etc/hosts"}, 422, "device", "shipped board"),
    ("unknown dtype", "POST", "/v1/estimate", {**GOOD, "dtype": "int8"}, 422, "dtype", "unknown data format"),
    ("unknown config field", "POST", "/v1/check", {**GOOD, "config": {"foo": 1}}, 422, "config.foo", "'foo'"),
    (
        "buffering out of range",
        "POST",
        "/v1/estimate",
        {**GOOD, "config": {"in_buffering": 0}},
        422,
        "config.in_buffering",
        "in_buffering = 0 must be an integer >= 1",
    ),
    (
        "grid larger than the board",
        "POST",
        "/v1/simulate",
        {**GOOD, "config": {"grid": [9, 8]}},
        422,
        "config.grid",
        "larger than wormhole_b0_n150's worker grid",
    ),
    ("grid of 3", "POST", "/v1/check", {**GOOD, "config": {"grid": [1, 2, 3]}}, 422, "config.grid", "[1, 2, 3]"),
    ("config not an object", "POST", "/v1/check", {**GOOD, "config": "8x8"}, 422, "config", "valid dictionary"),
    ("trace on check", "POST", "/v1/check", {**GOOD, "trace": True}, 422, "trace", "unknown field"),
    ("trace not a bool", "POST", "/v1/simulate", {**GOOD, "trace": "please"}, 422, "trace", "valid boolean"),
    ("profile not TOML", "POST", "/v1/estimate", {**GOOD, "profile": BAD_TOML}, 422, "profile", "not valid TOML"),
    ("profile incomplete", "POST", "/v1/check", {**GOOD, "profile": INCOMPLETE_PROFILE}, 422, "profile", "missing"),
    ("too many rows", "POST", "/v1/estimate_many", {"op": OP, "rows": [ROW] * 10_001}, 413, "rows", "limit"),
    (
        "row missing a column",
        "POST",
        "/v1/estimate_many",
        {"op": OP, "rows": [{k: v for k, v in ROW.items() if k != "W"}]},
        422,
        "rows",
        "missing column(s) W",
    ),
    (
        "row board as a path",
        "POST",
        "/v1/estimate_many",
        {"op": OP, "rows": [{**ROW, "device": "../x.toml"}]},
        422,
        "rows[0].device",
        "shipped board",
    ),
    (
        "row with a null",
        "POST",
        "/v1/estimate_many",
        {"op": OP, "rows": [ROW, {**ROW, "H": None}]},
        422,
        "rows[1].H",
        "null",
    ),
    ("table of unknown op", "POST", "/v1/estimate_many", {"op": "nope", "rows": [ROW]}, 422, "op", "unknown op"),
    ("body too large", "POST", "/v1/estimate", b"{" + b" " * (9 * 1024 * 1024) + b"}", 413, "body", "limit"),
    ("unknown op page", "GET", "/v1/ops/nope", None, 404, "name", "unknown op 'nope'"),
    ("space of a bad shape", "GET", "/v1/ops/centralize_w_rm?shape=1,1,33,32", None, 422, "shape", "H = 33"),
    ("unknown job", "GET", "/v1/jobs/nope", None, 404, "id", "no job 'nope'"),
    ("unknown job kind", "POST", "/v1/jobs/nope", {}, 404, "kind", "unknown job kind 'nope'"),
    (
        "bad config in a job",
        "POST",
        "/v1/jobs/simulate",
        {**GOOD, "configs": [{}, {"in_buffering": 0}]},
        422,
        "configs[1].in_buffering",
        "in_buffering = 0",
    ),
    ("resume unknown job", "POST", "/v1/jobs/nope/resume", None, 404, "id", "no job"),
    ("cancel unknown job", "DELETE", "/v1/jobs/nope", None, 404, "id", "no job"),
    ("unknown artifact", "GET", "/v1/artifacts/nope", None, 404, "id", "no artifact"),
    ("bad job state filter", "GET", "/v1/jobs?state=bogus", None, 422, "state", "queued"),
    ("unknown route", "GET", "/v1/nothing", None, 404, None, "Not Found"),
    ("recommend unknown op", "POST", "/v1/recommend", {**PROBLEM, "op": "nope"}, 422, "op", "unknown op 'nope'"),
    ("recommend bad shape", "POST", "/v1/recommend", {**PROBLEM, "shape": [1, 1, 65, 96]}, 422, "shape", "H = 65"),
    ("recommend top_k 0", "POST", "/v1/recommend", {**PROBLEM, "top_k": 0}, 422, "top_k", "greater than or equal"),
    ("recommend with a config", "POST", "/v1/recommend", {**PROBLEM, "config": {}}, 422, "config", "unknown field"),
    (
        "tune unknown objective",
        "POST",
        "/v1/jobs/tune",
        {**PROBLEM, "objectives": ["time", "power"]},
        422,
        "objectives",
        "unknown objective 'power' (known: time, cores, l1_bytes, error, ulp)",
    ),
    ("tune no objective", "POST", "/v1/jobs/tune", {**PROBLEM, "objectives": []}, 422, "objectives", "at least one"),
    (
        "tune unknown backend",
        "POST",
        "/v1/jobs/tune",
        {**PROBLEM, "backend": "gpu"},
        422,
        "backend",
        "unknown backend 'gpu' (known: analytic, des)",
    ),
    ("tune zero trials", "POST", "/v1/jobs/tune", {**PROBLEM, "n_trials": 0}, 422, "n_trials", "greater than"),
    ("tune board as a path", "POST", "/v1/jobs/tune", {**PROBLEM, "device": "a.toml"}, 422, "device", "shipped board"),
    ("sweep without a spec", "POST", "/v1/jobs/sweep", {}, 422, "spec", "Field required"),
    ("sweep spec not TOML", "POST", "/v1/jobs/sweep", {"spec": "op = [1"}, 422, "spec", "spec is not valid TOML"),
    (
        "sweep empty axis",
        "POST",
        "/v1/jobs/sweep",
        {"spec": {"op": OP, "axes": {**AXES, "H": []}}},
        422,
        "spec.axes.H",
        "spec: axis 'H' is empty",
    ),
    (
        "sweep unknown axis",
        "POST",
        "/v1/jobs/sweep",
        {"spec": {"op": OP, "axes": {**AXES, "colour": [1]}}},
        422,
        "spec.axes.colour",
        "unknown axis 'colour'",
    ),
    (
        "sweep unknown backend",
        "POST",
        "/v1/jobs/sweep",
        {"spec": {"op": OP, "backend": "gpu", "axes": AXES}},
        422,
        "spec.backend",
        "unknown backend 'gpu'",
    ),
    (
        "sweep spec names a profile path",
        "POST",
        "/v1/jobs/sweep",
        {"spec": 'op = "centralize_w_rm"\n[axes]\ndevice = ["wormhole_b0_n150", "/etc/boards/mine.toml"]\n'},
        422,
        "spec.axes.device",
        "shipped board",
    ),
    ("sweep unknown format", "POST", "/v1/jobs/sweep", {"spec": {"op": OP}, "format": "xlsx"}, 422, "format", "csv"),
]


def test_at_least_twenty_kinds() -> None:
    assert len(CASES) >= 20
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "status", "field", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_request(server, case, method, path, body, status, field, words) -> None:
    with server.http() as http:
        kwargs = {"content": body} if isinstance(body, bytes) else ({"json": body} if body is not None else {})
        if isinstance(body, bytes):
            kwargs["headers"] = {"content-type": "application/json"}
        answer = http.request(method, path, **kwargs)
        assert answer.status_code == status, answer.text[:500]
        assert "Traceback" not in answer.text
        error = answer.json()
        assert error["field"] == field, error
        assert words in error["detail"], error
        # ... and the server keeps answering.
        assert http.get("/healthz").status_code == 200
        assert http.post("/v1/estimate", json=GOOD).status_code == 200


@pytest.mark.parametrize(
    ("flags", "body"),
    [
        (["--shape", "1,1,65,96"], {"shape": [1, 1, 65, 96]}),
        (["--shape", "1,a"], {"shape": "1,a"}),
        (["--device", "nope"], {"device": "nope"}),
        (["--dtype", "int8"], {"dtype": "int8"}),
        (["--in-buffering", "0"], {"config": {"in_buffering": 0}}),
        (["--grid", "9x8"], {"config": {"grid": [9, 8]}}),
    ],
)
def test_same_message_as_the_cli(server, capsys, flags: list[str], body: dict) -> None:
    argv = ["estimate", OP, "--shape", "1,1,64,96", *flags]
    assert main(argv) == 2
    cli_message = capsys.readouterr().err.strip().removeprefix("perfmodel: error: ")
    with server.http() as http:
        answer = http.post("/v1/estimate", json={**GOOD, **body})
    assert answer.status_code == 422
    assert answer.json()["detail"] == cli_message
