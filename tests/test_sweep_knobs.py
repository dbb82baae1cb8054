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


@pytest.mark.parametrize(("op", "knob"), [(op, knob) for op in PROBLEMS for knob in VALUES])
def test_a_knob_the_model_reads_is_a_sweep_axis(op: str, knob: str) -> None:
    space = search_space(op, (1, 1, 64, 64 if op == "unary" else 256), device=WH)
    if knob not in space.knob_names:
        pytest.skip(f"{op} has no knob {knob}")
    model = importlib.import_module(f"perfmodel.ops.{op}.model")
    if knob not in model.INPUT_COLUMNS:
        pytest.skip(f"{knob} is not a column of {op}'s analytic model yet")
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
