"""The analytic engine: result shape, stage derivation from the kernels, and the physics it must respect."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import perfmodel
from perfmodel import estimate
from perfmodel.analytic.signature import segment_cycles
from perfmodel.analytic.trace import Barrier, CbCall, NocTransfer, trace_core
from perfmodel.result import BOUNDS, RunResult

OP = perfmodel.get_op("centralize_w_rm")
DEVICES = ["wormhole_b0_n150", "wormhole_b0_n300", "blackhole_p150a", "blackhole_p100a"]


def build(shape=(1, 1, 256, 256), device="wormhole_b0_n150", dtype="bfloat16", **config):
    config = {"grid": (1, 1), **config}
    return OP.build_program(shape, device=device, dtype=dtype, config=config)


def test_result_shape_and_fields() -> None:
    program = build((1, 1, 2048, 1024), grid=(8, 8))
    result = estimate(program)
    assert isinstance(result, RunResult)
    assert result.backend == "analytic"
    assert result.bound in BOUNDS
    assert result.num_cores == 64
    assert result.l1_bytes_per_core == program.l1_bytes_per_core
    assert result.dram_bytes == program.dram_bytes
    assert result.kernel_duration_ns == pytest.approx(result.cycles / program.device.clock_ghz)
    for key in ("reader_cycles_per_unit", "compute_cycles_per_unit", "writer_cycles_per_unit", "period_cycles"):
        assert result.stages[key] > 0
    assert set(result.to_dict()) >= {"backend", "kernel_duration_ns", "cycles", "bound", "stages"}


def test_trace_records_the_kernels_calls() -> None:
    program = build((1, 1, 64, 96))
    traces = trace_core(program)
    reads = [e for e in traces["reader"] if isinstance(e, NocTransfer)]
    writes = [e for e in traces["writer"] if isinstance(e, NocTransfer)]
    assert len(reads) == len(writes) == 64  # 32 sticks per tile row, 2 tile rows
    assert {e.nbytes for e in reads} == {96 * 2}
    assert [e.bank for e in reads[:13]] == [*range(12), 0]  # round-robin over the 12 banks
    assert sum(isinstance(e, Barrier) for e in traces["reader"]) == 2
    assert CbCall("reserve", 0, 3) in traces["reader"]


def test_segment_cycles_follow_the_packet_rules() -> None:
    device = perfmodel.load_device("wormhole_b0_n150")
    one = perfmodel.costs.packet_cost(device, "read", 64)
    cycles, traffic = segment_cycles(device, [NocTransfer("read", 64, 0), Barrier("read")])
    assert cycles == pytest.approx(one.issue_cycles + one.service_cycles + one.latency_cycles)
    assert traffic.read_packets == 1
    # Issue-bound: n small reads to different banks take n issues + one service + latency.
    events = [NocTransfer("read", 64, b % 12) for b in range(10)] + [Barrier("read")]
    cycles, _ = segment_cycles(device, events)
    assert cycles == pytest.approx(10 * one.issue_cycles + one.service_cycles + one.latency_cycles)


def test_buffering_one_serialises_reader_and_tilize() -> None:
    """With one tile row of c_0 the reader cannot refill before tilize pops; with two it runs ahead."""
    # Blackhole, W = 32: the reader (34.6 cycles per read issue) is the slowest kernel.
    shape, device = (1, 1, 32 * 40, 32), "blackhole_p150a"
    single = estimate(build(shape, device, in_buffering=1, out_buffering=2))
    double = estimate(build(shape, device, in_buffering=2, out_buffering=2))
    # The reader refills c_0 once the unpack thread has unpacked the row (one tile) and popped it; the
    # thread's setup for the call comes before its wait, while the reader fills.
    cost = perfmodel.load_device(device).compute_for("bfloat16").cost("tilize")
    tilize = cost.thread_cycles("unpack", 1)
    reader = single.stages["reader_cycles_per_unit"]
    assert single.stages["period_cycles"] == pytest.approx(reader + tilize)  # circuit (reader + unpack) / 1
    assert double.stages["period_cycles"] == pytest.approx(reader)  # the reader's own cycle
    assert single.cycles > double.cycles


def test_uneven_split_is_set_by_the_slowest_core() -> None:
    even = estimate(build((1, 1, 32 * 64, 256), grid=(8, 8)))
    uneven = estimate(build((1, 1, 32 * 65, 256), grid=(8, 8)))  # one core gets 2 units
    assert uneven.stages["units_slowest_core"] == 2
    assert uneven.cycles > even.cycles


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    device=st.sampled_from(DEVICES),
    dtype=st.sampled_from(["bfloat16", "float32"]),
    wt=st.integers(1, 48),
    units=st.integers(1, 300),
    gx=st.integers(1, 8),
    gy=st.integers(1, 7),
    bin_=st.integers(1, 4),
    bout=st.integers(1, 4),
)
def test_never_below_the_dram_roofline(device, dtype, wt, units, gx, gy, bin_, bout) -> None:
    result = estimate(
        build((1, 1, 32 * units, 32 * wt), device, dtype, grid=(gx, gy), in_buffering=bin_, out_buffering=bout)
    )
    assert result.kernel_duration_ns >= result.dram_roofline_ns
    assert result.stages["dram_floor_cycles"] >= result.stages["dram_roofline_cycles"]


def _what_if(program, **changes):
    return dataclasses.replace(program, device=program.device.evolve(**changes))


@settings(max_examples=30, deadline=None)
@given(
    wt=st.integers(1, 40),
    units=st.integers(1, 200),
    grid=st.sampled_from([(1, 1), (2, 2), (4, 4), (8, 8), (3, 5)]),
    factor=st.floats(1.05, 4.0),
    bin_=st.integers(1, 3),
)
def test_monotone_in_bandwidth_latency_and_compute_cost(wt, units, grid, factor, bin_) -> None:
    program = build((1, 1, 32 * units, 32 * wt), grid=grid, in_buffering=bin_)
    base = estimate(program).cycles
    d = program.device
    slower_bw = estimate(
        _what_if(
            program,
            **{
                "noc.core_read_bytes_per_cycle": d.noc.core_read_bytes_per_cycle / factor,
                "noc.link_bytes_per_cycle": d.noc.link_bytes_per_cycle / factor,
                "dram.peak_bandwidth_gbps": d.dram.peak_bandwidth_gbps / factor,
            },
        )
    ).cycles
    faster_bw = estimate(_what_if(program, **{"dram.peak_bandwidth_gbps": d.dram.peak_bandwidth_gbps * factor})).cycles
    slower_lat = estimate(_what_if(program, **{"dram.read_latency_cycles": d.dram.read_latency_cycles * factor})).cycles
    costs = dict(d.compute["bfloat16"].costs)
    costs["tilize"] = dataclasses.replace(costs["tilize"], cycles_per_tile=costs["tilize"].cycles_per_tile * factor)
    fmt = dataclasses.replace(d.compute["bfloat16"], costs=costs)
    slower_compute = estimate(
        dataclasses.replace(program, device=dataclasses.replace(d, compute={**d.compute, "bfloat16": fmt}))
    ).cycles
    assert slower_bw >= base - 1e-6
    assert faster_bw <= base + 1e-6
    assert slower_lat >= base - 1e-6
    assert slower_compute >= base - 1e-6


@settings(max_examples=30, deadline=None)
@given(wt=st.integers(1, 60), units=st.integers(1, 2000), dtype=st.sampled_from(["bfloat16", "float32"]))
def test_more_cores_never_push_the_dram_floor_below_the_roofline(wt, units, dtype) -> None:
    floors = []
    for grid in [(1, 1), (2, 2), (4, 4), (8, 8)]:
        r = estimate(build((1, 1, 32 * units, 32 * wt), dtype=dtype, grid=grid))
        assert r.stages["dram_floor_cycles"] >= r.stages["dram_roofline_cycles"]
        assert r.cycles >= r.stages["dram_roofline_cycles"]
        floors.append(r.stages["dram_floor_cycles"])
    # The floor is shared, and more cores' interleaved streams never make the banks faster.
    assert all(later >= earlier - 1e-6 for earlier, later in itertools.pairwise(floors))


def test_more_buffering_never_slows_a_pipeline_with_free_l1() -> None:
    times = [estimate(build((1, 1, 32 * 30, 128), in_buffering=b, out_buffering=b)).cycles for b in (1, 2, 3, 4)]
    assert all(later <= earlier + 1e-6 for earlier, later in itertools.pairwise(times))


def test_what_if_device_is_not_served_from_a_stale_cache() -> None:
    program = build((1, 1, 32 * 8, 64))
    base = estimate(program).cycles
    slow = estimate(_what_if(program, **{"dram.read_latency_cycles": 5000.0})).cycles
    assert slow > base + 4000
    assert estimate(program).cycles == base


def test_cli_estimate_has_the_fields_of_simulate(capsys) -> None:
    import json

    from perfmodel.cli import main

    argv = ["centralize_w_rm", "--shape", "1,1,256,128", "--grid", "2x2", "--in-buffering", "1", "--json"]
    assert main(["estimate", *argv]) == 0
    ana = json.loads(capsys.readouterr().out)
    assert main(["simulate", *argv]) == 0
    des = json.loads(capsys.readouterr().out)
    assert ana["backend"] == "analytic" and des["backend"] == "des"
    assert set(ana) == set(des)
    assert ana["cycles"] == pytest.approx(des["cycles"], rel=0.05)
    assert ana["bound"] in BOUNDS


def test_cli_estimate_text_and_bad_input(capsys) -> None:
    from perfmodel.cli import main

    assert main(["estimate", "centralize_w_rm", "--shape", "1,1,2048,1024"]) == 0
    out = capsys.readouterr().out.splitlines()
    op = perfmodel.get_op("centralize_w_rm")
    result = estimate(op.build_program((1, 1, 2048, 1024), device="wormhole_b0_n150"))
    assert out[0] == (
        f"centralize_w_rm [1, 1, 2048, 1024] bfloat16 on wormhole_b0_n150: {result.kernel_duration_ns / 1000:.2f} us "
        f"({result.cycles:.0f} cycles), bound: {result.bound}"
    )
    stages = {line.split()[0]: float(line.split()[1]) for line in out[3:] if line.split()[0] in result.stages}
    assert stages == pytest.approx({k: round(v, 1) for k, v in result.stages.items()}, abs=0.051)
    assert main(["estimate", "centralize_w_rm", "--shape", "1,1,50,1024"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perfmodel: error: ") and "H = 50" in err and len(err.splitlines()) == 1


def test_cli_estimate_table_stays_aligned_for_long_stage_names(capsys, monkeypatch) -> None:
    import perfmodel.cli.estimate as cli_estimate
    from perfmodel.cli import main

    def with_long_names(program):
        result = estimate(program)
        long = {"a_stage_name_well_beyond_twenty_eight_characters": 1.5, "x": 123456.0}
        return dataclasses.replace(result, stages={**result.stages, **long})

    monkeypatch.setattr(cli_estimate, "estimate", with_long_names)
    assert main(["estimate", "centralize_w_rm", "--shape", "1,1,64,64"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines()[3:] if not line.startswith("  check:")]
    assert len(lines) >= 3 and len({len(line) for line in lines}) == 1  # every value ends in the same column
    assert all(len(line.split()) == 2 for line in lines)
