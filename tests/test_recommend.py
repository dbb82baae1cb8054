"""`recommend` and the `recommend` / `tune` commands: the answer matches the factory and beats the default."""

from __future__ import annotations

import json

import pytest

import perfmodel
from perfmodel import estimate, recommend, simulate
from perfmodel.space import search_space
from perfmodel.tune import ranking

OP = "centralize_w_rm"
WH = "wormhole_b0_n150"
SMALL = (1, 1, 256, 512)


@pytest.fixture(scope="module")
def small() -> perfmodel.Recommendation:
    return recommend(OP, SMALL, device=WH, top_k=3)


def _factory_program(config: dict, shape=SMALL, device=WH):
    """The program centralize_w_rm's factory builds for a recommended configuration, called directly."""
    op = perfmodel.get_op(OP)
    cfg = op.Config(
        grid=(config["grid_x"], config["grid_y"]),
        row_wise=config["row_wise"],
        in_buffering=config["in_buffering"],
        out_buffering=config["out_buffering"],
        **{k: config[k] for k in ("math_fidelity", "fp32_dest_acc_en", "dst_full_sync_en", "variant", "block_wt")},
    )
    return op.build_program(shape, device=device, dtype="bfloat16", config=cfg)


def test_recommendation_is_feasible_and_not_slower_than_the_default(small) -> None:
    space = search_space(OP, SMALL, device=WH)
    # A space this large is ranked in two stages: every structural point, then the compute configs of the best.
    assert small.ok and small.ranking == ("staged" if space.size > ranking.STAGED_LIMIT else "exhaustive")
    assert set(small.config) == {*space.knob_names, "num_cores"}
    assert small.space_size == space.size
    # Points the factory refuses or over the error bound are kept, with reasons.
    assert 0 < small.feasible_points <= space.size
    assert small.feasible_points + sum(small.infeasible_reasons.values()) <= space.size
    assert small.baseline.confirmed and dict(small.baseline.config) == {**space.default, "num_cores": 8}
    assert small.des_kernel_duration_ns <= small.baseline.des_kernel_duration_ns
    assert small.speedup == pytest.approx(small.baseline.des_kernel_duration_ns / small.des_kernel_duration_ns)
    assert small.speedup >= 1.0
    assert 1 <= len(small.alternatives) + 1 <= 3 + 1  # top_k confirmed, plus the default when it is not among them
    for alt in small.alternatives:
        assert alt.confirmed and alt.des_kernel_duration_ns >= small.des_kernel_duration_ns
    assert small.dram_roofline_ns <= small.des_kernel_duration_ns


def test_recommended_fields_match_the_factory_program(small) -> None:
    program = _factory_program(dict(small.config))
    assert small.config["num_cores"] == program.num_cores
    assert [dict(c) for c in small.cb_table] == [
        {
            "index": cb.index,
            "name": cb.name,
            "page_size": cb.page_size_bytes,
            "num_pages": cb.num_pages,
            "data_format": cb.data_format,
            "bytes": cb.total_bytes,
        }
        for cb in program.cbs
    ]
    assert small.l1_bytes_per_core == program.l1_bytes_per_core
    assert small.l1_budget_bytes == program.device.core.l1_free_bytes
    groups = program.core_groups
    assert [g["units_per_core"] for g in small.core_groups] == [units for _, units in groups]
    assert [g["ranges"] for g in small.core_groups] == [[[list(r.start), list(r.end)] for r in rs] for rs, _ in groups]
    for ct, rt in zip(small.compile_time_args, small.runtime_args, strict=True):
        first = next(c for c in program.cores if c.group == ct["group"])
        assert tuple(ct["core"]) == first.core == tuple(rt["core"])
        assert ct["kernels"] == {k: dict(v) for k, v in first.compile_time_args.items()}
        assert rt["kernels"] == {k: dict(v) for k, v in first.runtime_args.items()}
    sim = simulate(program)
    assert small.des_kernel_duration_ns == sim.kernel_duration_ns and small.bound == sim.bound
    assert small.dram_roofline_ns == sim.dram_roofline_ns
    assert small.kernel_duration_ns == pytest.approx(estimate(program).kernel_duration_ns, rel=1e-9)


def test_nothing_fits_is_a_verdict(cli) -> None:
    # The single-pass design holds a whole row of 32768 values: no configuration of it fits L1.
    shape = (1, 1, 32, 32768)
    single = search_space(OP, shape, device=WH).restrict(variant=("single_pass",))
    rec = recommend(OP, shape, device=WH, space=single)
    assert not rec.ok and rec.config is None and rec.feasible_points == 0
    assert rec.reasons and all("l1_overflow" in r for r in rec.reasons)
    assert not rec.baseline.confirmed and "l1_overflow" in rec.baseline.reason
    code, out, _ = cli("recommend", OP, "--shape", "1,1,32,32768", "--restrict", "variant=single_pass", "--json")
    assert code == 1 and json.loads(out)["ok"] is False


def test_a_space_too_large_to_enumerate_is_ranked_by_a_study(monkeypatch: pytest.MonkeyPatch) -> None:
    from perfmodel.tune import ranking

    monkeypatch.setattr(ranking, "EXHAUSTIVE_LIMIT", 10)
    monkeypatch.setattr(ranking, "STUDY_TRIALS", 20)
    space = search_space(OP, SMALL, device=WH).restrict(grid_x=(1, 2, 4), grid_y=(1, 2), in_buffering=(1, 2))
    rec = recommend(OP, SMALL, device=WH, top_k=2, space=space)
    assert rec.ranking == "study" and rec.ok
    assert rec.config["grid_x"] in (1, 2, 4) or rec.config == {**rec.baseline.config}


def test_recommend_json(cli, small) -> None:
    code, out, err = cli("recommend", OP, "--shape", "1,1,256,512", "--top-k", "3", "--json")
    d = json.loads(out)
    assert code == 0 and not err
    expected = {
        "config",
        "cb_table",
        "core_groups",
        "compile_time_args",
        "runtime_args",
        "l1_bytes_per_core",
        "l1_budget_bytes",
        "kernel_duration_ns",
        "des_kernel_duration_ns",
        "bound",
        "dram_roofline_ns",
        "alternatives",
        "baseline",
        "speedup",
    }
    assert expected <= set(d)
    assert d["config"] == dict(small.config) and d["cb_table"] == [dict(c) for c in small.cb_table]
    assert d["baseline"]["des_kernel_duration_ns"] == small.baseline.des_kernel_duration_ns


def test_recommend_human_output(cli) -> None:
    code, out, _ = cli("recommend", OP, "--shape", "1,1,256,512", "--top-k", "1")
    assert code == 0
    assert "for the default" in out and "DRAM roofline" in out and "c_16" in out and "CoreRange({0, 0}" in out


def test_tune_json(cli) -> None:
    code, out, _ = cli("tune", OP, "--shape", "1,1,256,512", "--trials", "6", "--objectives", "time,l1_bytes", "--json")
    d = json.loads(out)
    assert code == 0 and d["ok"] and d["objectives"] == ["time", "l1_bytes"]
    assert d["trial_counts"] == {"COMPLETE": 6} and len(d["trials"]) == 6
    assert all(len(e["values"]) == 2 and set(e["config"]) >= {"grid_x", "in_buffering"} for e in d["pareto_front"])
    code, out, _ = cli("tune", OP, "--shape", "1,1,256,512", "--trials", "3")
    assert code == 0 and "best (time; backend analytic)" in out


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("recommend", "nope", "--shape", "1,1,32,32"), "nope"),
        (("recommend", OP, "--shape", "1,1,33,32"), "33"),
        (("recommend", OP, "--shape", "1,1,32,32", "--top-k", "0"), "top_k"),
        (("recommend", OP, "--shape", "1,1,32,32", "--device", "tpu"), "tpu"),
        (("tune", "nope", "--shape", "1,1,32,32", "--trials", "2"), "nope"),
        (("tune", OP, "--shape", "1,1,32,32", "--trials", "0"), "n_trials"),
        (("tune", OP, "--shape", "1,1,32,32", "--trials", "2", "--objectives", "time,speed"), "speed"),
        (("tune", OP, "--shape", "1,1,32,32", "--trials", "2", "--backend", "gpu"), "gpu"),
        (("tune", OP, "--shape", "1,1,32,32", "--trials", "2", "--storage", "mongo://x"), "mongo"),
        (("tune", OP, "--shape", "1,1,32,32", "--trials", "two"), "two"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(cli, argv: tuple[str, ...], named: str) -> None:
    code, out, err = cli(*argv)
    assert code == 2 and not out
    assert named in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def _numeric_space():
    """SMALL on a few grids, with the compute config free: a handful of distinct errors, fast to rank."""
    return (
        search_space(OP, SMALL, device=WH)
        .restrict(grid_x=(1, 2, 4), grid_y=(1,), in_buffering=(1,), out_buffering=(1,), row_wise=(False,))
        .only("grid_x", "math_fidelity", "fp32_dest_acc_en", "variant", "block_wt")
    )


def test_recommend_meets_max_error_and_reports_each_candidates_error() -> None:
    from perfmodel.tune.error import numerical_error

    space = _numeric_space()
    errors = sorted({numerical_error(space, p).max_abs_error for p in space.points()})
    bound = errors[0]  # only the most accurate configurations qualify
    rec = recommend(OP, SMALL, device=WH, top_k=3, space=space, max_error=bound)
    assert rec.ok and rec.max_error == bound
    assert rec.max_abs_error is not None and rec.max_abs_error <= bound
    for candidate in rec.alternatives:
        assert candidate.max_abs_error is not None and candidate.max_abs_error <= bound
    assert rec.baseline.max_abs_error == numerical_error(space, space.default).max_abs_error
    if len(errors) > 1:  # the others are kept as infeasible with the reason
        assert any("exceeds max_error" in reason for reason in rec.infeasible_reasons)
    assert rec.to_dict()["max_abs_error"] == rec.max_abs_error
    assert perfmodel.Recommendation.from_dict(rec.to_dict()) == rec


def test_an_impossible_error_bound_is_a_result_with_reasons() -> None:
    space = _numeric_space()
    rec = recommend(OP, SMALL, device=WH, top_k=1, space=space, max_error=0.0)
    assert not rec.ok and rec.config is None and rec.max_error == 0.0
    assert any("exceeds max_error 0" in reason for reason in rec.reasons)


def test_max_error_defaults_to_the_ops_tolerance_and_is_checked() -> None:
    from perfmodel.ops.centralize_w_rm import numerics

    space = _numeric_space().restrict(grid_x=(1,))
    rec = recommend(OP, SMALL, device=WH, top_k=1, space=space)
    assert rec.max_error == numerics.ATOL
    assert rec.ok and rec.max_abs_error <= numerics.ATOL
    for bad in (-1.0, "0.1", True):
        with pytest.raises(perfmodel.InputError, match="max_error"):
            recommend(OP, SMALL, device=WH, space=space, max_error=bad)


def test_each_configuration_is_simulated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The op's default is often among the top candidates: it is simulated once and its times agree."""
    from perfmodel.tune import simulations

    calls: list[dict] = []
    real = simulations.confirm_program

    def counting(space, point):
        calls.append(dict(point))
        return real(space, point)

    monkeypatch.setattr(simulations, "confirm_program", counting)
    rec = recommend(OP, (1, 1, 4096, 2048), device=WH, top_k=3, workers=1)  # every simulation in this process
    keys = [tuple(sorted(c.items())) for c in calls]
    assert len(keys) == len(set(keys))
    default = {k: v for k, v in rec.baseline.config.items() if k != "num_cores"}
    assert default in calls  # the baseline was timed, by the candidate loop or on its own
    same = [c for c in rec.alternatives if dict(c.config) == dict(rec.baseline.config)]
    assert all(c.des_kernel_duration_ns == rec.baseline.des_kernel_duration_ns for c in same)


@pytest.mark.parametrize(
    ("shape", "device", "max_error"),
    [((1, 1, 256, 512), WH, None), ((1, 1, 32, 4096), "blackhole_p150a", 0.01), ((1, 2, 64, 1024), WH, None)],
)
def test_the_staged_ranking_equals_ranking_its_points_in_one_table(shape, device, max_error) -> None:
    """The first stage's figures are reused, not recomputed: the ranking is what one estimate_many of every
    staged point gives."""
    import pandas as pd

    from perfmodel.tune.objective import analytic_table

    space = search_space(OP, shape, device=device)
    staged = ranking._staged_points(space)
    assert staged is not None
    first, refined = staged
    points = pd.concat([space.table([space.point_of(r) for r in first.to_dict("records")]), refined])
    whole = analytic_table(space, points.reset_index(drop=True))
    if max_error is not None:
        whole = ranking.bound_error(space, whole, max_error)
    ranked, method = ranking.rank_space(space, max_error=max_error)
    assert method == "staged"
    pd.testing.assert_frame_equal(ranked, ranking.sort_ranked(space, whole), check_exact=True)
