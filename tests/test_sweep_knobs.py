"""Sweep axes and the search space use the same names: a knob of the op's space that is a column of its
analytic model's table is an axis like any config column, and a knob without an axis takes the default."""

from __future__ import annotations

import importlib

import pytest

from perfmodel.space import search_space
from perfmodel.sweep.spec import SweepSpec

WH = "wormhole_b0_n150"
PROBLEMS = {
    "unary": {"N": [1], "C": [1], "H": [64], "W": [64], "dtype": ["bfloat16"], "fn": ["relu"], "device": [WH]},
    "centralize_w_rm": {"N": [1], "C": [1], "H": [64], "W": [256], "dtype": ["bfloat16"], "device": [WH]},
}
# Values every knob takes on a single_pass point (two_pass may be refused by the factory).
VALUES = {
    "math_fidelity": ["LoFi", "HiFi4"],
    "fp32_dest_acc_en": [False, True],
    "dst_full_sync_en": [False, True],
    "variant": ["single_pass"],
}


CASES = [(op, knob) for op in PROBLEMS for knob in VALUES if (op, knob) != ("unary", "variant")]


def test_the_cases_are_every_knob_of_each_op() -> None:
    for op in PROBLEMS:
        space = search_space(op, (1, 1, 64, 64 if op == "unary" else 256), device=WH)
        assert {k for o, k in CASES if o == op} == set(VALUES) & set(space.knob_names)


@pytest.mark.parametrize(("op", "knob"), CASES)
def test_a_knob_the_model_reads_is_a_sweep_axis(op: str, knob: str) -> None:
    space = search_space(op, (1, 1, 64, 64 if op == "unary" else 256), device=WH)
    model = importlib.import_module(f"perfmodel.ops.{op}.model")
    # Required columns, and the optional ones the model fills with the config's defaults when absent.
    assert knob in (*model.INPUT_COLUMNS, *getattr(model, "OPTIONAL_COLUMNS", ()))
    spec = SweepSpec.from_dict({"op": op, "axes": {**PROBLEMS[op], knob: VALUES[knob]}})
    points = spec.points()
    assert points[knob].tolist() == VALUES[knob]
    # The other knobs take the space's defaults, the same values recommend's baseline uses.
    for other in space.knob_names:
        if other != knob and other in points.columns:
            assert {v for v in points[other].tolist()} == {space.default[other]}


@pytest.mark.parametrize("op", sorted(PROBLEMS))
def test_sweep_points_without_knob_axes_take_the_space_defaults(op: str) -> None:
    spec = SweepSpec.from_dict({"op": op, "axes": PROBLEMS[op]})
    points = spec.points()
    space = search_space(op, (1, 1, 64, 64 if op == "unary" else 256), device=WH)
    for knob in space.knob_names:
        if knob in points.columns:
            assert points[knob].tolist() == [space.default[knob]]


def test_a_sweep_over_the_design_and_the_fidelity_runs_on_both_backends(tmp_path) -> None:
    from perfmodel.sweep import read_table, run_sweep

    axes = {**PROBLEMS["centralize_w_rm"], "grid_x": [2], "grid_y": [1]}
    axes.update({"variant": ["single_pass", "two_pass"], "math_fidelity": ["LoFi", "HiFi4"]})
    spec = SweepSpec.from_dict({"op": "centralize_w_rm", "backend": ["analytic", "des"], "axes": axes})
    run_sweep(spec, tmp_path / "out.parquet", workers=1)
    table = read_table(tmp_path / "out.parquet")
    assert len(table) == 8 and table["feasible"].all()
    assert set(table["variant"]) == {"single_pass", "two_pass"} and set(table["math_fidelity"]) == {"LoFi", "HiFi4"}
    # The two backends time each point alike (within the agreement tests' 10 %).
    wide = table.pivot_table(index=["variant", "math_fidelity"], columns="backend", values="cycles")
    assert ((wide["analytic"] - wide["des"]).abs() <= 0.1 * wide["des"]).all()
