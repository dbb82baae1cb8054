"""Physics the simulator must respect, on random small programs (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel import get_op, load_device, simulate
from perfmodel.ops.centralize_w_rm.kernels import CB_SCALER

OP = get_op("centralize_w_rm")
# Packets reserve NoC / DRAM time greedily in issue order, so a faster resource can in principle reorder
# contending packets and end a run a hair later (a list-scheduling anomaly). None was seen in 450 random
# programs with the hop-by-hop calendar (0.2 % at worst with the earlier common-start rule); monotonicity is
# asserted up to this relative slack so that a rare anomaly cannot make the suite flaky.
ANOMALY_SLACK = 0.005

programs = st.fixed_dictionaries(
    {
        "device": st.sampled_from(["wormhole_b0_n150", "blackhole_p150a"]),
        "outer": st.integers(1, 2),
        "ht": st.integers(1, 4),
        "wt": st.integers(1, 12),
        "grid": st.tuples(st.integers(1, 4), st.integers(1, 4)),
        "in_buffering": st.integers(1, 2),
        "out_buffering": st.integers(1, 2),
        "dtype": st.sampled_from(["bfloat16", "float32"]),
    }
)


def _build(p, device=None):
    return OP.build_program(
        (p["outer"], p["ht"] * 32, p["wt"] * 32),
        device=device or p["device"],
        dtype=p["dtype"],
        config={"grid": p["grid"], "in_buffering": p["in_buffering"], "out_buffering": p["out_buffering"]},
    )


@settings(max_examples=25, deadline=None)
@given(programs)
def test_time_bounded_below_by_roofline_and_compute(p) -> None:
    r = simulate(_build(p))
    assert r.kernel_duration_ns >= r.dram_roofline_ns
    assert r.cycles >= max(core["math"]["busy_cycles"] for core in r.per_core)
    for cb in r.per_cb:
        if cb["index"] != CB_SCALER:  # the scaler is pushed once and read in place
            assert cb["pages_pushed"] == cb["pages_popped"]


@settings(max_examples=20, deadline=None)
@given(programs, st.sampled_from([1.5, 2.0, 4.0]))
def test_more_dram_bandwidth_never_adds_time(p, factor) -> None:
    base = load_device(p["device"])
    faster = base.evolve(**{"dram.peak_bandwidth_gbps": base.dram.peak_bandwidth_gbps * factor})
    assert simulate(_build(p, faster)).cycles <= simulate(_build(p, base)).cycles * (1 + ANOMALY_SLACK)


@settings(max_examples=20, deadline=None)
@given(programs, st.sampled_from([0.25, 0.5, 0.9]))
def test_lower_dram_latency_never_adds_time(p, factor) -> None:
    base = load_device(p["device"])
    faster = base.evolve(
        **{
            "dram.read_latency_cycles": base.dram.read_latency_cycles * factor,
            "dram.write_latency_cycles": base.dram.write_latency_cycles * factor,
        }
    )
    assert simulate(_build(p, faster)).cycles <= simulate(_build(p, base)).cycles * (1 + ANOMALY_SLACK)
