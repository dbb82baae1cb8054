"""The simulator on correct programs: result fields, conservation, multicore, trace, limits."""

from __future__ import annotations

import json

import pytest

import perfmodel
from perfmodel import get_op, simulate
from perfmodel.des import SimulationLimitError
from perfmodel.ops.centralize_w_rm.kernels import CB_OUT_RM, TILE_HEIGHT

OP = get_op("centralize_w_rm")
WH = "wormhole_b0_n150"


def _run(shape, grid, **kw):
    return simulate(OP.build_program(shape, device=WH, config={"grid": grid}), **kw)


@pytest.mark.parametrize(
    ("shape", "grid", "cores"),
    [
        ((1, 1, 64, 96), (1, 1), 1),
        ((1, 1, 64, 96), (2, 1), 2),
        ((2, 3, 96, 64), (4, 4), 16),
        ((1, 1, 2048, 64), (8, 8), 64),
    ],
)
def test_correct_kernels_finish_on_1_2_and_many_cores(shape, grid, cores) -> None:
    r = _run(shape, grid)
    assert r.backend == "des" and r.num_cores == cores
    assert r.cycles > perfmodel.load_device(WH).dispatch.kernel_setup_cycles
    assert r.kernel_duration_ns == pytest.approx(r.cycles / perfmodel.load_device(WH).clock_ghz)
    assert len(r.per_core) == cores
    for cb in r.per_cb:
        assert cb["pages_pushed"] == cb["pages_popped"] or cb["index"] == 2  # the scaler stays in place
        assert 0 <= cb["mean_occupancy_pages"] <= cb["max_occupancy_pages"] <= cb["capacity_pages"]
    assert r.bound in ("dram", "noc", "compute", "dispatch")
    d = r.to_dict()
    for key in (
        "backend",
        "kernel_duration_ns",
        "cycles",
        "num_cores",
        "dram_roofline_ns",
        "bound",
        "l1_bytes_per_core",
    ):
        assert key in d


def test_every_core_processes_its_share_of_pages() -> None:
    r = _run((1, 1, 5 * TILE_HEIGHT, 64), (2, 2))  # 5 tile rows on 4 cores: one core gets 2
    out = next(cb for cb in r.per_cb if cb["index"] == CB_OUT_RM)
    assert out["pages_pushed"] == 5 * 2


def test_more_cores_are_faster_for_many_rows() -> None:
    one = _run((1, 1, 16 * TILE_HEIGHT, 128), (1, 1))
    many = _run((1, 1, 16 * TILE_HEIGHT, 128), (4, 4))
    assert many.cycles < one.cycles / 4


def test_time_is_not_below_roofline_or_compute() -> None:
    r = _run((1, 1, 512, 1024), (8, 8))
    assert r.kernel_duration_ns >= r.dram_roofline_ns
    math = max(c["math"]["busy_cycles"] for c in r.per_core)
    assert r.cycles >= math


def test_trace_is_chrome_trace_json(tmp_path) -> None:
    path = tmp_path / "t.json"
    _run((1, 1, 64, 64), (2, 1), trace_path=path)
    events = json.loads(path.read_text())["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert names == {"core (0,0)", "core (1,0)"}
    assert any(e["ph"] == "X" and e["name"] == "tilize" for e in events)
    assert any(e["ph"] == "X" and "blocked" in e["name"] for e in events)
    assert any(e["ph"] == "C" for e in events)
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")


def test_endless_kernel_hits_the_event_bound() -> None:
    def spinning_writer(k, *, stick_size_bytes, Ht, Wt):
        while True:
            yield from k.noc_async_write_barrier()

    program = OP.build_program((32, 32), device=WH, kernels={"writer": spinning_writer})
    with pytest.raises(SimulationLimitError):
        simulate(program, max_events=10_000)


def test_user_kernel_with_a_bad_cb_is_an_input_error() -> None:
    def wrong_cb_writer(k, *, stick_size_bytes, Ht, Wt):
        yield from k.cb_wait_front(7, 1)

    with pytest.raises(perfmodel.InputError, match="c_7"):
        simulate(OP.build_program((32, 32), device=WH, kernels={"writer": wrong_cb_writer}))


def test_blocked_time_is_attributed_to_threads_and_cbs() -> None:
    r = _run((1, 1, 128, 2048), (1, 1))
    core = r.per_core[0]
    assert set(core) >= {"core", "reader", "compute", "writer", "unpack", "math", "pack"}
    writer_waits = next(cb for cb in r.per_cb if cb["index"] == CB_OUT_RM)["blocked_cycles"]
    assert writer_waits.get("writer/brisc:cb_wait_front", 0) > 0
