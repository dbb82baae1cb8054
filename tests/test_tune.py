"""`tune`: determinism, resume, cache, constraints, Pareto fronts, storage URLs, and the simulator backend."""

from __future__ import annotations

import numpy as np
import pytest

import perfmodel
from perfmodel import InputError, simulate, tune
from perfmodel.space import SearchSpace, search_space
from perfmodel.tune.result import dominates
from perfmodel.tune.storage import parse_storage

OP = "centralize_w_rm"
WH = "wormhole_b0_n150"
# The split and buffering knobs; the compute config and the variant stay at their defaults where a test is
# about the split (`SearchSpace.only`).
SPLIT = ("grid_x", "grid_y", "row_wise", "in_buffering", "out_buffering")
SMALL = (1, 1, 256, 512)
# W = 4096: the factory's CBs fit at buffering 1 / 1 and overflow L1 at 2 / 2 and above.
MIXED = (1, 1, 64, 4096)


def _configs(result: perfmodel.TuneResult) -> list[tuple]:
    return [(t.number, tuple(t.config.values()), t.values, t.state) for t in result.trials]


def test_same_seed_same_study() -> None:
    a = tune(OP, SMALL, device=WH, n_trials=25, seed=3)
    b = tune(OP, SMALL, device=WH, n_trials=25, seed=3)
    c = tune(OP, SMALL, device=WH, n_trials=25, seed=4)
    assert _configs(a) == _configs(b)
    assert a.best == b.best and a.study_name == b.study_name
    assert _configs(a) != _configs(c)
    assert a.trial_counts == {"COMPLETE": 25} and a.storage == "memory"


def test_infeasible_trials_are_kept_with_their_reason() -> None:
    space = search_space(OP, MIXED, device=WH).only(*SPLIT)
    result = tune(OP, MIXED, device=WH, n_trials=30, seed=0, space=space)
    infeasible = [t for t in result.trials if t.feasible is False]
    feasible = [t for t in result.trials if t.feasible]
    assert infeasible and feasible
    assert all(t.state == "COMPLETE" and "l1_overflow" in t.reason for t in infeasible)
    assert result.infeasible_trials == len(infeasible)
    assert sum(result.infeasible_reasons.values()) == len(infeasible)
    # The best configuration is feasible; every infeasible point has buffering above 1 / 1 at this W.
    assert result.best is not None and result.best.config["in_buffering"] == result.best.config["out_buffering"] == 1
    assert all(t.config["in_buffering"] + t.config["out_buffering"] > 2 for t in infeasible)
    front = {tuple(e.config.values()) for e in result.pareto_front}
    assert not front & {tuple(t.config.values()) for t in infeasible}


def test_nothing_feasible_is_a_result_not_an_error() -> None:
    # The single-pass design: a row of 32768 values does not fit L1 in any configuration of it.
    shape = (1, 1, 32, 32768)
    single = search_space(OP, shape, device=WH).restrict(variant=("single_pass",))
    result = tune(OP, shape, device=WH, n_trials=4, space=single)
    assert not result.ok and result.best is None and result.pareto_front == ()
    assert result.infeasible_trials == 4 and list(result.infeasible_reasons) == ["l1_overflow"]


def test_repeat_suggestions_come_from_the_cache() -> None:
    space = (
        search_space(OP, SMALL, device=WH)
        .restrict(grid_x=(1, 2), grid_y=(1,), row_wise=(False,), in_buffering=(2,))
        .only(*SPLIT)
    )
    result = tune(OP, SMALL, device=WH, n_trials=12, space=space)
    assert space.size == 8
    assert result.evaluations["analytic"] <= space.size
    assert result.cache_hits == 12 - result.evaluations["analytic"] > 0
    assert sum(t.cached for t in result.trials) == result.cache_hits
    # A cached trial carries the same figures as the first evaluation of its point.
    by_point: dict[tuple, tuple] = {}
    for t in result.trials:
        assert by_point.setdefault(tuple(t.config.values()), t.values) == t.values


def test_pareto_front_with_two_objectives_is_non_dominated() -> None:
    result = tune(OP, SMALL, device=WH, n_trials=40, objectives=("time", "cores"), seed=1)
    front = result.pareto_front
    assert len(front) >= 2
    feasible = [t for t in result.trials if t.feasible]
    for entry in front:
        assert len(entry.values) == 2
        assert entry.values == (entry.metrics["kernel_duration_ns"], entry.metrics["num_cores"])
        assert not any(dominates(t.values, entry.values) for t in feasible)
    for t in feasible:  # every feasible trial is on the front or dominated by (or equal to) an entry of it
        assert any(e.values == t.values or dominates(e.values, t.values) for e in front)
    assert [e.values for e in front] == sorted(e.values for e in front)
    d = result.to_dict()
    assert d["pareto_front"][0]["values"] == list(front[0].values) and d["objectives"] == ["time", "cores"]


def test_resume_after_interruption(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perfmodel.tune import objective

    # A journal file (SQLite resumes the same way; the two-process test loads an SQLite study).
    storage = f"journal:///{tmp_path / 'study.log'}"
    real = objective.Evaluator.evaluate
    calls = {"n": 0}

    def interrupted(self, point):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, point)

    monkeypatch.setattr(objective.Evaluator, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tune(OP, SMALL, device=WH, n_trials=8, storage=storage)
    monkeypatch.setattr(objective.Evaluator, "evaluate", real)

    resumed = tune(OP, SMALL, device=WH, n_trials=8, storage=storage)
    assert resumed.trial_counts == {"COMPLETE": 8, "FAIL": 1}
    assert len(resumed.trials_run) == 5  # the 3 complete trials count toward the 8; the interrupted one does not
    assert resumed.storage == storage
    again = tune(OP, SMALL, device=WH, n_trials=8, storage=storage)
    assert again.trials_run == () and _configs(again) == _configs(resumed)
    more = tune(OP, SMALL, device=WH, n_trials=10, storage=storage)
    assert len(more.trials_run) == 2 and more.trial_counts["COMPLETE"] == 10


def test_timeout_stops_the_study() -> None:
    result = tune(OP, SMALL, device=WH, n_trials=10**6, timeout=0.5)
    assert 0 < result.trial_counts["COMPLETE"] < 10**6 and result.ok


def test_journal_storage_resumes(tmp_path) -> None:
    path = tmp_path / "study.log"
    first = tune(OP, SMALL, device=WH, n_trials=5, storage=str(path))
    second = tune(OP, SMALL, device=WH, n_trials=8, storage=f"journal:///{path}")  # same file, URL form
    assert path.exists() and first.study_name == second.study_name
    assert len(second.trials_run) == 3 and second.trial_counts == {"COMPLETE": 8}


def test_a_study_of_another_problem_is_refused(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    tune(OP, SMALL, device=WH, n_trials=2, storage=storage, study_name="s")
    with pytest.raises(InputError, match="another problem"):
        tune(OP, (1, 1, 64, 512), device=WH, n_trials=2, storage=storage, study_name="s")


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"objectives": ("time", "power")}, "power"),
        ({"objectives": ()}, "at least one"),
        ({"backend": "fpga"}, "fpga"),
        ({"n_trials": 0}, "0"),
        ({"storage": "sqlite:/nowhere.db"}, "sqlite:/nowhere.db"),
        ({"storage": "redis://localhost"}, "redis"),
        ({"storage": "study.txt"}, "study.txt"),
        ({"storage": "sqlite:////no/such/folder/s.db"}, "/no/such/folder"),
        ({"timeout": 0}, "timeout"),
        ({"sampler": "tpe"}, "sampler"),
    ],
)
def test_bad_inputs_name_the_value(kwargs: dict, named: str) -> None:
    args = {"device": WH, "n_trials": 3, **kwargs}
    with pytest.raises(InputError, match=named):
        tune(OP, SMALL, **args)
    with pytest.raises(InputError, match="nope"):
        tune("nope", SMALL, device=WH, n_trials=3)


def test_storage_forms() -> None:
    assert parse_storage(None).label == "memory"
    assert parse_storage("sqlite:///x.db").kind == "rdb"
    assert parse_storage("postgresql://u@host/db").kind == "rdb"
    assert parse_storage("journal:///x.log").path.name == "x.log"
    assert parse_storage("runs/../x.log").kind == "journal"
    with pytest.raises(InputError, match="journal://x"):
        parse_storage("journal://x")


def _restricted_small() -> SearchSpace:
    """128 points of SMALL on one board: an exhaustive simulation costs a couple of seconds."""
    return (
        search_space(OP, SMALL, device=WH)
        .restrict(grid_x=(1, 2, 3, 4), grid_y=(1, 2, 3, 4), in_buffering=(1, 2), out_buffering=(1, 2))
        .only(*SPLIT)
    )


def test_des_backend_reaches_the_exhaustive_optimum_with_a_fifth_of_the_evaluations() -> None:
    space = _restricted_small()
    exhaustive = {tuple(p.values()): simulate(space.program(p)).kernel_duration_ns for p in space.points()}
    optimum = min(exhaustive.values())
    within = sum(v <= 1.01 * optimum for v in exhaustive.values())
    budget = space.size // 5
    result = tune(OP, SMALL, device=WH, backend="des", n_trials=budget, seed=0, space=space)
    assert result.evaluations["des"] <= budget
    assert result.best is not None and result.best.values[0] <= 1.01 * optimum
    # The tuner's simulated figures are the exhaustive table's, point for point.
    for t in result.trials:
        if t.feasible:
            assert t.values[0] == exhaustive[tuple(t.config.values())]
    # Warm start: the analytic model's candidates were enqueued and ran first.
    assert result.trials[0].enqueued
    assert within < space.size // 5  # hitting the 1 % band by luck is not guaranteed at this budget


def test_des_backend_records_hangs_as_infeasible_trials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A point whose program hangs in the simulator is an infeasible trial with the deadlock, not a crash."""
    import perfmodel.checks
    from perfmodel.checks import CheckReport
    from perfmodel.known_hangs import preloaded_streaming_compute as hanging_compute

    space = search_space(OP, (1, 1, 64, 64), device=WH).restrict(grid_x=(1, 2), grid_y=(1,), row_wise=(False,))
    op = perfmodel.get_op(OP)
    real_program = SearchSpace.program

    def program(self, point):
        if point["in_buffering"] != 1:
            return real_program(self, point)
        row = self.row(point)
        config = {"grid": (row["grid_x"], row["grid_y"]), "in_buffering": 1, "out_buffering": row["out_buffering"]}
        return op.build_program((1, 1, 64, 64), device=WH, config=config, kernels={"compute": hanging_compute})

    def no_static_findings(program):
        return CheckReport(True, (), program.l1_bytes_per_core, 0, program.cbs, program.num_cores, (), "")

    monkeypatch.setattr(SearchSpace, "program", program)
    # Static checks would catch this kernel before the simulator runs; here the simulator must find it.
    monkeypatch.setattr(perfmodel.checks, "check", no_static_findings)
    result = tune(OP, (1, 1, 64, 64), device=WH, backend="des", n_trials=24, space=space)
    hung = [t for t in result.trials if t.config["in_buffering"] == 1]
    assert hung and all(t.feasible is False and t.reason.startswith("deadlock") for t in hung)
    assert result.ok and result.best.config["in_buffering"] != 1


def test_a_new_knob_needs_no_change_in_tune_or_recommend() -> None:
    """Jobs walk `space.knobs`: a knob they have never heard of (here a categorical of strings) is searched,
    recorded and reported like the others."""
    import dataclasses

    from perfmodel.space import Knob

    base = (
        search_space(OP, SMALL, device=WH)
        .only("grid_x", "grid_y", "in_buffering")
        .restrict(grid_x=(1, 2, 4), grid_y=(1, 2), in_buffering=(1, 2))
    )
    extra = Knob("noc_order", ("xy", "yx"), "a knob this op's factory does not read yet")
    space = dataclasses.replace(base, knobs=(*base.knobs, extra), default={**base.default, "noc_order": "xy"})
    result = tune(OP, SMALL, device=WH, n_trials=10, space=space, backend="des", seed=2)
    assert all(t.config["noc_order"] in ("xy", "yx") for t in result.trials)
    assert {t.config["noc_order"] for t in result.trials} == {"xy", "yx"}
    assert result.best is not None and "noc_order" in result.best.config
    rec = perfmodel.recommend(OP, SMALL, device=WH, top_k=2, space=space)
    assert rec.ok
    # Every candidate from the space carries the knob; the baseline is the op's own default (the declared space).
    from_space = [c for c in (rec, *rec.alternatives) if dict(c.config) != dict(rec.baseline.config)]
    assert from_space and all(c.config["noc_order"] in ("xy", "yx") for c in from_space)


def test_time_error_pareto_front_is_non_dominated() -> None:
    """The front of time against error holds whatever the numerics give: no entry dominated by another, none
    by any completed feasible trial, and every error is the configuration's own (validate on the probe)."""
    from perfmodel.tune.error import numerical_error

    result = tune(OP, SMALL, device=WH, n_trials=20, objectives=("time", "error"), seed=0)
    assert result.ok and result.objectives == ("time", "error")
    front = result.pareto_front
    for a in front:
        assert not any(dominates(b.values, a.values) for b in front if b is not a)
        for t in result.trials:
            if t.state == "COMPLETE" and t.feasible:
                assert not dominates(t.values, a.values)
    space = search_space(OP, SMALL, device=WH)
    for entry in front:
        found = numerical_error(space, entry.config)
        assert entry.values[1] == found.max_abs_error == entry.metrics["max_abs_error"]
        assert entry.metrics["max_ulp"] == found.max_ulp
    # Infeasible trials (two_pass while the factory refuses it, say) keep their reason and stay off the front.
    assert all(t.reason for t in result.trials if t.feasible is False)


def test_error_is_computed_once_per_value_of_the_numeric_knobs() -> None:
    from perfmodel.tune import error

    space = search_space(OP, SMALL, device=WH)
    a = error.numerical_error(space, {**space.default, "grid_x": 1, "in_buffering": 1})
    b = error.numerical_error(space, {**space.default, "grid_x": 4, "dst_full_sync_en": True})
    assert a is b and a.shape == (1, 1, 32, 512) and a.max_abs_error > 0
    c = error.numerical_error(space, {**space.default, "fp32_dest_acc_en": True})
    assert c is not a
    # The same figures as validate on the probe input with that configuration.
    validated = perfmodel.get_op(OP).validate((1, 1, 32, 512), seed=0, config={"fp32_dest_acc_en": True})
    assert c.max_abs_error == validated.max_abs_error and c.max_ulp == validated.max_ulp


def test_attached_errors_are_each_selected_rows_own() -> None:
    from perfmodel.tune import error

    space = search_space(OP, SMALL, device=WH)
    points = [
        {**space.default, "math_fidelity": f, "fp32_dest_acc_en": d, "grid_x": g}
        for f in ("LoFi", "HiFi4")
        for d in (False, True)
        for g in (1, 2, 3)
    ]
    table = space.table(points)
    selected = np.arange(len(table)) % 3 != 1
    out = error.attach_errors(space, table, selected)
    for i, point in enumerate(points):
        found = error.numerical_error(space, point)
        if selected[i]:
            assert out["max_abs_error"].iloc[i] == found.max_abs_error and out["max_ulp"].iloc[i] == found.max_ulp
        else:
            assert np.isnan(out["max_abs_error"].iloc[i]) and out["max_ulp"].iloc[i] is None
    assert len({out["max_abs_error"].iloc[i] for i in np.flatnonzero(selected)}) > 1


def test_an_op_without_numeric_knobs_reports_one_error_and_an_op_without_numerics_none() -> None:
    result = tune("unary", (1, 1, 64, 64), device=WH, n_trials=8, objectives=("time", "error", "ulp"), seed=0)
    finished = [t for t in result.trials if t.state == "COMPLETE"]
    assert {t.values[1:] for t in finished} == {(0.0, 0.0)}  # bit-exact everywhere in its space
    with pytest.raises(InputError, match="no numerics model"):
        tune("tilize", (1, 1, 64, 64), device=WH, n_trials=2, objectives=("time", "error"))
