"""`perfmodel simulate`: JSON fields, the trace file, and a hang as exit code 1 with its report."""

from __future__ import annotations

import json


def test_simulate_json(cli, tmp_path) -> None:
    trace = tmp_path / "t.json"
    code, out, err = cli(
        "simulate", "centralize_w_rm", "--shape", "1,1,128,96", "--grid", "2x2", "--json", "--trace", str(trace)
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["backend"] == "des" and d["num_cores"] == 4
    for key in ("kernel_duration_ns", "cycles", "dram_roofline_ns", "bound", "l1_bytes_per_core", "stalls", "per_cb"):
        assert key in d
    assert d["kernel_duration_ns"] >= d["dram_roofline_ns"]
    assert len(d["stalls"]["cores"]) == 4
    assert json.loads(trace.read_text())["traceEvents"]
    assert "simulating" not in err  # no progress meter off a terminal


def test_simulate_text(cli) -> None:
    code, out, _ = cli("simulate", "centralize_w_rm", "--shape", "64,64", "--out-buffering", "1")
    assert code == 0
    assert "bound:" in out and "c_16" in out


def test_simulate_bad_input_exits_2(cli) -> None:
    code, _, err = cli("simulate", "centralize_w_rm", "--shape", "1,1,33,64")
    assert code == 2 and "33" in err and "Traceback" not in err


def test_simulate_deadlock_exits_1_with_report(cli, monkeypatch) -> None:
    import perfmodel.ops.centralize_w_rm.factory as factory
    from perfmodel.ops.centralize_w_rm import kernels

    def reader_without_push(k, *, stick_size_bytes, packed_scaler, Ht, Wt):
        yield from k.generate_reduce_scaler(kernels.CB_SCALER, packed_scaler)
        yield from k.cb_reserve_back(kernels.CB_IN_RM, Wt)

    monkeypatch.setattr(factory.default_kernels, "reader", reader_without_push)
    code, out, _ = cli("simulate", "centralize_w_rm", "--shape", "64,64", "--json")
    assert code == 1
    d = json.loads(out)["deadlock"]
    blocked = {(w["kernel"], w["call"], w["cb"]) for w in d["blocked"]}
    assert ("compute", "cb_wait_front", 0) in blocked
    code, out, _ = cli("simulate", "centralize_w_rm", "--shape", "64,64")
    assert code == 1 and "DEADLOCK" in out and "CWFW" in out
