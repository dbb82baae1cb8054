"""`recommend` with a helper process: the same answer as in one process, and a helper that dies is not fatal."""

from __future__ import annotations

import os
import signal
import threading

import pandas as pd
import pytest

from perfmodel import recommend
from perfmodel.errors import InputError
from perfmodel.space import search_space
from perfmodel.tune import error, simulations
from perfmodel.tune.objective import analytic_table, confirm_program

OP = "centralize_w_rm"
WH = "wormhole_b0_n150"

pytestmark = pytest.mark.skipif(
    simulations.default_workers() < 2, reason="needs a second core and fork (the helper process)"
)


def _plain(rec) -> dict:
    out = rec.to_dict()
    out.pop("wall_seconds")
    return out


@pytest.mark.parametrize(("shape", "device"), [((1, 1, 256, 512), WH), ((1, 1, 64, 2048), "blackhole_p150a")])
def test_recommend_is_the_same_with_a_helper_process(shape, device) -> None:
    alone = recommend(OP, shape, device=device, workers=1)
    shared = recommend(OP, shape, device=device, workers=2)
    assert alone.ok and len(alone.alternatives) >= 2  # candidates to share between the two processes
    assert _plain(shared) == _plain(alone)


def test_analytic_rows_shared_with_the_helper_give_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulations, "SPLIT_ROWS", 256)  # the helper takes tables of 10^5 rows and more
    space = search_space(OP, (1, 1, 512, 1024), device=WH)
    table = space.only("grid_x", "grid_y", "in_buffering", "variant").table()
    assert len(table) >= 2 * simulations.SPLIT_ROWS
    with simulations.Simulations((space,), workers=2) as sims:
        shared = sims.analytic_table(space, table)
        assert sims._pool is not None  # the helper ran half of the rows
    pd.testing.assert_frame_equal(shared, analytic_table(space, table), check_exact=True)


def test_a_table_below_the_split_size_is_ranked_here_only() -> None:
    space = search_space(OP, (1, 1, 512, 1024), device=WH)
    table = space.only("grid_x", "grid_y").table()
    assert len(table) < simulations.SPLIT_ROWS
    with simulations.Simulations((space,), workers=2) as sims:
        shared = sims.analytic_table(space, table)
        assert sims._pool is None  # no helper was started for it
    pd.testing.assert_frame_equal(shared, analytic_table(space, table), check_exact=True)


def test_errors_prefetched_in_the_helper_are_the_errors_computed_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(error, "_MEMO", {})
    space = search_space(OP, (1, 1, 256, 512), device=WH)
    rows = space.table(
        [{**space.default, "math_fidelity": f, "fp32_dest_acc_en": d} for f in ("LoFi", "HiFi4") for d in (False, True)]
    )
    with simulations.Simulations((space,), workers=2) as sims:
        sims.prefetch_errors(space, rows)
        assert sims.queued() == 1 and not any(error.is_known(k) for k in sims._error_batches[0][0])
        sims.prefetch_errors(space, rows)  # already on their way: not sent again
        assert len(sims._error_batches) == 1
        sims.share_errors(space, rows)
    keys = {error.error_key(space, space.point_of(r)) for r in rows.to_dict("records")}
    assert len(keys) == 4 and all(error.is_known(k) for k in keys)
    helper_values = {k: error.error_of_key(k) for k in keys}
    monkeypatch.setattr(error, "_MEMO", {})
    assert {k: error.error_of_key(k) for k in keys} == helper_values


def test_a_helper_that_dies_is_replaced_by_this_process() -> None:
    space = search_space(OP, (1, 1, 256, 512), device=WH)
    point = space.point_of(space.default)
    with simulations.Simulations((space,), workers=2) as sims:
        sims.start(space, point)
        for pid in list(sims._pool._processes):
            os.kill(pid, signal.SIGKILL)
        reason, program, report, result = sims.outcome(space, point)
    want = confirm_program(space, point)
    assert reason == want[0] == ""
    assert result.kernel_duration_ns == want[3].kernel_duration_ns
    assert program.l1_bytes_per_core == want[1].l1_bytes_per_core and report.ok


def test_after_the_helper_dies_everything_runs_here() -> None:
    """A dead helper is not asked again: later tables, errors and simulations run in this process."""
    space = search_space(OP, (1, 1, 512, 1024), device=WH)
    table = space.only("grid_x", "grid_y", "in_buffering", "variant").table()
    other = {**space.point_of(space.default), "grid_x": 2}
    with simulations.Simulations((space,), workers=2) as sims:
        sims.start(space, space.point_of(space.default))
        for pid in list(sims._pool._processes):
            os.kill(pid, signal.SIGKILL)
        sims.outcome(space, space.point_of(space.default))
        sims.start(space, other)
        assert not sims.pending(space, other) and not sims.idle()
        shared = sims.analytic_table(space, table)
        sims.share_errors(space, shared)
        assert sims.outcome(space, other)[3].kernel_duration_ns == confirm_program(space, other)[3].kernel_duration_ns
    pd.testing.assert_frame_equal(shared, analytic_table(space, table), check_exact=True)


def test_no_helper_beside_other_threads() -> None:
    """Forking a process that runs other threads can copy a lock another thread holds: one process then."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert simulations.default_workers() == 1
    finally:
        stop.set()
        thread.join()


def test_a_helper_needs_a_second_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulations.threading, "active_count", lambda: 1)
    monkeypatch.setattr(simulations.os, "cpu_count", lambda: 2)
    assert simulations.default_workers() == 2
    monkeypatch.setattr(simulations.os, "cpu_count", lambda: 1)
    assert simulations.default_workers() == 1


@pytest.mark.parametrize("workers", [0, -1, 1.5, 2.0, True, "2", 3, 10**6])
def test_bad_workers_is_an_input_error(workers) -> None:
    with pytest.raises(InputError, match="workers"):
        recommend(OP, (1, 1, 256, 512), device=WH, workers=workers)
