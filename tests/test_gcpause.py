"""`collector_paused`: the cyclic collector is off inside and as it was after, also when the call raises."""

from __future__ import annotations

import gc

import pytest

from perfmodel import recommend
from perfmodel.gcpause import collector_paused


def test_the_collector_is_paused_inside_and_resumed_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer pause holds until the outer block ends
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_a_caller_that_paused_it_keeps_it_paused() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_recommend_runs_paused_and_resumes_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    from perfmodel.tune import recommendation

    seen = []
    real = recommendation.rank_space

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(recommendation, "rank_space", spy)
    rec = recommend("centralize_w_rm", (1, 1, 64, 256), device="wormhole_b0_n150", workers=1)
    assert rec.ok and seen == [False]
    assert gc.isenabled()


def test_simulate_runs_paused_and_resumes_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    import perfmodel
    from perfmodel.des import engine

    seen = []
    real = engine.Simulation.run

    def spy(self, progress=None):
        seen.append(gc.isenabled())
        return real(self, progress)

    monkeypatch.setattr(engine.Simulation, "run", spy)
    program = perfmodel.get_op("centralize_w_rm").build_program((1, 1, 64, 64), device="wormhole_b0_n150")
    assert perfmodel.simulate(program).kernel_duration_ns > 0
    assert seen == [False] and gc.isenabled()
