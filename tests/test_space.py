"""The op's declared search space: domains from the board, table rows the engines read, defaults inside."""

from __future__ import annotations

import pytest

import perfmodel
from perfmodel.space import Knob, SearchSpace, search_space


def test_centralize_space_follows_the_board() -> None:
    for name in ("wormhole_b0_n150", "blackhole_p150a"):
        board = perfmodel.load_device(name)
        space = search_space("centralize_w_rm", (1, 1, 2048, 1024), device=name)
        assert space.knob("grid_x").choices == tuple(range(1, board.core.grid_x + 1))
        assert space.knob("grid_y").choices == tuple(range(1, board.core.grid_y + 1))
        assert space.knob("row_wise").kind == "bool"
        # grid x row_wise x buffering x (fidelity, Dst width, sync) x (single_pass + two_pass per block_wt)
        blocks = len(space.knob("block_wt").choices)
        assert space.size == board.core.grid_x * board.core.grid_y * 2 * 4 * 4 * (4 * 2 * 2) * (1 + blocks)
        assert dict(space.default)["grid_x"] == board.core.grid_x


def test_space_table_is_what_estimate_many_reads() -> None:
    space = search_space("centralize_w_rm", (2, 3, 64, 96), device="wormhole_b0_n150")
    table = space.table()
    assert len(table) == space.size
    out = perfmodel.estimate_many("centralize_w_rm", table)
    assert out["feasible"].all()
    # A row of the table builds the same program as the factory called directly with that configuration.
    from perfmodel.ops.centralize_w_rm.model import program_for_row

    row = space.row({"grid_x": 2, "grid_y": 3, "row_wise": True, "in_buffering": 1, "out_buffering": 3})
    program = program_for_row(row)
    assert program.shape == (2, 3, 64, 96) and program.units == 2 * 3 * 2
    assert program.config.grid == (2, 3) and program.config.row_wise


def test_default_point_is_the_op_default() -> None:
    space = search_space("centralize_w_rm", (1, 1, 64, 64), device="wormhole_b0_n150")
    assert space.row({})["in_buffering"] == perfmodel.get_op("centralize_w_rm").Config().in_buffering


def test_bad_inputs_name_the_value() -> None:
    with pytest.raises(perfmodel.InputError, match="nope"):
        search_space("nope", (1, 1, 32, 32))
    with pytest.raises(perfmodel.InputError, match="33"):
        search_space("centralize_w_rm", (1, 1, 33, 32))
    space = search_space("centralize_w_rm", (1, 1, 32, 32))
    with pytest.raises(perfmodel.InputError, match="grid_z"):
        space.row({"grid_z": 1})
    with pytest.raises(ValueError, match="empty domain"):
        Knob("k", ())
    with pytest.raises(ValueError, match="outside its domain"):
        SearchSpace("x", {}, (Knob("k", (1, 2)),), {"k": 3})


def test_restrict_point_of_and_program() -> None:
    split = ("grid_x", "grid_y", "row_wise", "in_buffering", "out_buffering")
    space = search_space("centralize_w_rm", (1, 1, 64, 96), device="wormhole_b0_n150").only(*split)
    small = space.restrict(grid_x=(4, 1), in_buffering=(3,))
    assert small.knob("grid_x").choices == (1, 4) and small.size == 2 * 8 * 2 * 1 * 4
    assert "in_buffering" not in small.default and small.default["out_buffering"] == space.default["out_buffering"]
    table = small.table()
    points = [small.point_of(row) for row in table.to_dict("records")]
    assert points == list(small.points())
    assert all(type(p["row_wise"]) is bool and type(p["grid_x"]) is int for p in points)
    program = small.program(points[-1])
    assert program.config.grid == (4, 8) and program.config.in_buffering == 3
    with pytest.raises(perfmodel.InputError, match="grid_z"):
        space.restrict(grid_z=(1,))
    with pytest.raises(perfmodel.InputError, match="99"):
        space.restrict(grid_x=(99,))
    with pytest.raises(perfmodel.InputError, match="in_buffering"):
        space.point_of({**table.iloc[0].to_dict(), "in_buffering": 7})


def test_problem_columns_reach_the_op_space() -> None:
    """A fixed column that is part of the problem (the unary op's function) passes through search_space."""
    relu = search_space("unary", (1, 1, 64, 64), device="wormhole_b0_n150")
    copy = search_space("unary", (1, 1, 64, 64), device="wormhole_b0_n150", fn="copy")
    assert dict(relu.fixed)["fn"] == "relu" and dict(copy.fixed)["fn"] == "copy"
    with pytest.raises(perfmodel.InputError, match="'fn'"):
        search_space("centralize_w_rm", (1, 1, 64, 64), fn="copy")
    with pytest.raises(perfmodel.InputError, match="gelu"):
        search_space("unary", (1, 1, 64, 64), fn="gelu")
