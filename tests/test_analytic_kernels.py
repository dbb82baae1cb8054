"""The analytic model prices the kernels a Program carries, and never times a program that hangs."""

from __future__ import annotations

import math
import time

import pytest

import perfmodel
from perfmodel import DeadlockError, estimate, simulate
from perfmodel.known_hangs import preloaded_streaming_compute
from perfmodel.ops.centralize_w_rm.kernels import (
    CB_CENTRALIZED,
    CB_IN_RM,
    CB_IN_TILED,
    CB_MEAN_TILED,
    CB_OUT_RM,
    CB_SCALER,
)

OP = perfmodel.get_op("centralize_w_rm")
WH = "wormhole_b0_n150"
ONE_CORE = {"grid": (1, 1)}


def passthrough_compute(k, *, Ht, Wt):
    """Moves each tile row from c_0 to c_16 with CB calls only: no tilize, reduce, subtract or untilize."""
    for _ in range(Ht):
        yield from k.cb_wait_front(CB_IN_RM, Wt)
        yield from k.cb_reserve_back(CB_OUT_RM, Wt)
        yield from k.cb_push_back(CB_OUT_RM, Wt)
        yield from k.cb_pop_front(CB_IN_RM, Wt)


def test_a_passthrough_compute_kernel_is_priced_as_written() -> None:
    shape = (1, 1, 2048, 2048)
    program = OP.build_program(shape, device=WH, config=ONE_CORE, kernels={"compute": passthrough_compute})
    est, sim = estimate(program), simulate(program)
    assert est.cycles == pytest.approx(sim.cycles, rel=1e-6)  # one core: the pipeline model is exact
    assert est.bound == sim.bound == "noc"
    # The op's own kernels, on the same program shape, are compute-bound and far slower: the cache must not
    # hand either signature to the other.
    default = estimate(OP.build_program(shape, device=WH, config=ONE_CORE))
    assert default.bound == "compute" and default.cycles > 4 * est.cycles
    assert estimate(program).cycles == est.cycles


def test_a_program_that_hangs_gets_the_simulators_verdict_and_no_time() -> None:
    program = OP.build_program((64, 32), device=WH, config=ONE_CORE, kernels={"compute": preloaded_streaming_compute})
    with pytest.raises(DeadlockError) as by_model:
        estimate(program)
    with pytest.raises(DeadlockError) as by_sim:
        simulate(program)
    assert by_model.value.report == by_sim.value.report  # same blocked calls, pages and source lines
    assert by_model.value.cb_counters == by_sim.value.cb_counters
    assert math.isnan(by_model.value.time_cycles)
    # Each compute thread is reported: pack on c_1, math on Dst, unpack on the mean; and the writer.
    assert str(by_model.value).startswith("deadlock: 4 blocked waits on 1 cores")


def test_the_same_kernels_on_a_run_short_enough_to_finish_are_timed() -> None:
    program = OP.build_program((32, 32), device=WH, config=ONE_CORE, kernels={"compute": preloaded_streaming_compute})
    assert estimate(program).cycles == pytest.approx(simulate(program).cycles, rel=1e-9)


def test_a_cb_far_deeper_than_the_run_costs_nothing_and_changes_nothing() -> None:
    """The pipeline's horizon follows the run, not the CB depth: buffering 10^15 is priced in milliseconds."""
    shape = (1, 1, 4 * 32, 1024)  # four tile rows on one core
    enough = estimate(OP.build_program(shape, device=WH, config={**ONE_CORE, "in_buffering": 5}))
    started = time.perf_counter()
    deep = estimate(OP.build_program(shape, device=WH, config={**ONE_CORE, "in_buffering": 10**15}))
    assert time.perf_counter() - started < 1.0
    assert deep.cycles == enough.cycles


def mean_keeping_compute(k, *, Ht, Wt):
    """Never pops the row mean (c_3): one tile stays behind per tile row, so c_3 fills up and the run hangs."""
    from perfmodel.kernel_api import InputPolicy

    for _ in range(Ht):
        yield from k.tilize(CB_IN_RM, Wt, CB_IN_TILED, num_blocks=1)
        yield from k.reduce(CB_IN_TILED, CB_SCALER, CB_MEAN_TILED, Wt, pool="sum", dim="row", input_mode="persistent")
        yield from k.sub(
            CB_IN_TILED,
            CB_MEAN_TILED,
            CB_CENTRALIZED,
            Wt,
            broadcast="col",
            a_policy=InputPolicy(wait="caller_managed", pop="at_end"),
            b_policy=InputPolicy(wait="upfront", pop="never"),
        )
        yield from k.untilize(CB_CENTRALIZED, CB_OUT_RM, Wt)


def test_a_hang_after_many_units_is_found_in_a_long_program() -> None:
    """Five mean tiles fit in c_3: the one- and two-unit forms finish, the 40-unit program hangs at the sixth."""
    import dataclasses

    program = OP.build_program(
        (1, 1, 40 * 32, 64), device=WH, config=ONE_CORE, kernels={"compute": mean_keeping_compute}
    )
    deeper = tuple(dataclasses.replace(cb, num_pages=5) if cb.index == CB_MEAN_TILED else cb for cb in program.cbs)
    program = dataclasses.replace(program, cbs=deeper)
    with pytest.raises(DeadlockError) as by_model:
        estimate(program)
    with pytest.raises(DeadlockError) as by_sim:
        simulate(program)
    assert by_model.value.report == by_sim.value.report
    c3 = next(c for c in by_model.value.cb_counters if c.cb == CB_MEAN_TILED)
    assert (c3.pushed, c3.popped) == (5, 0)


def test_a_long_program_with_the_ops_kernels_is_proved_live_without_playing_every_call() -> None:
    program = OP.build_program((1, 1, 2**22, 32), device=WH)  # 2,048 tile rows per core
    started = time.perf_counter()
    assert estimate(program).cycles > 0
    assert time.perf_counter() - started < 2.0


def test_the_hang_on_the_command_line_json_is_valid_json() -> None:
    import json

    program = OP.build_program((64, 32), device=WH, config=ONE_CORE, kernels={"compute": preloaded_streaming_compute})
    with pytest.raises(DeadlockError) as info:
        estimate(program)
    payload = json.loads(json.dumps(info.value.to_dict(), allow_nan=False))
    pack = next(b for b in payload["blocked"] if b["thread"] == "pack")
    assert payload["time_cycles"] is None and pack["cb"] == CB_IN_TILED
