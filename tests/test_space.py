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


def test_compute_config_and_variant_knobs_with_their_domains() -> None:
    from perfmodel.compute_config import MATH_FIDELITIES
    from perfmodel.ops.centralize_w_rm import numerics

    space = search_space("centralize_w_rm", (1, 1, 64, 1024), device="wormhole_b0_n150")
    assert space.knob("math_fidelity").choices == MATH_FIDELITIES == ("LoFi", "HiFi2", "HiFi3", "HiFi4")
    assert space.knob("fp32_dest_acc_en").choices == space.knob("dst_full_sync_en").choices == (False, True)
    assert space.knob("variant").choices == ("single_pass", "two_pass")
    block = space.knob("block_wt")
    # Wt = 32: the divisors from 4 (smaller blocks only repeat the per-block setup) up to Wt.
    assert block.choices == (4, 8, 16, 32) and block.requires == ("variant", ("two_pass",))
    assert search_space("centralize_w_rm", (1, 1, 32, 8192)).knob("block_wt").choices[-1] == 64  # capped
    assert search_space("centralize_w_rm", (1, 1, 32, 96)).knob("block_wt").choices == (3,)  # a divisor of Wt = 3
    assert space.numeric_knobs == ("math_fidelity", "fp32_dest_acc_en", "variant", "block_wt")
    assert space.default["math_fidelity"] == "HiFi4" and space.default["variant"] == "single_pass"
    assert space.default["block_wt"] is None and space.default["dst_full_sync_en"] is False
    # The Dst width's default is the op's for the format: 32-bit for float32 data.
    assert space.default["fp32_dest_acc_en"] is False
    assert search_space("centralize_w_rm", (1, 1, 64, 1024), dtype="float32").default["fp32_dest_acc_en"] is True
    assert space.tolerance == numerics.ATOL
    unary = search_space("unary", (1, 1, 64, 64), device="wormhole_b0_n150")
    assert {"math_fidelity", "fp32_dest_acc_en", "dst_full_sync_en"} <= set(unary.knob_names)
    # copy and relu multiply nothing: only the Dst width can change their numbers; they are bit-exact.
    assert unary.numeric_knobs == ("fp32_dest_acc_en",) and unary.tolerance == 0.0
    assert "variant" not in unary.knob_names


def test_a_conditional_knob_counts_lists_and_tables_only_meaningful_points() -> None:
    space = search_space("centralize_w_rm", (1, 1, 64, 256), device="wormhole_b0_n150").only(
        "math_fidelity", "variant", "block_wt"
    )
    # single_pass x 4 fidelities (block_wt None) + two_pass x 4 fidelities x block_wt 4, 8 (Wt = 8).
    assert space.size == 4 + 4 * 2
    points = list(space.points())
    table = space.table()
    assert len(points) == len(table) == space.size
    assert all((p["block_wt"] is None) == (p["variant"] == "single_pass") for p in points)
    assert table["block_wt"].dtype == object and table["block_wt"].tolist().count(None) == 4
    assert [space.point_of(r) for r in table.to_dict("records")] == points
    assert all(type(p["block_wt"]) is int for p in points if p["block_wt"] is not None)
    assert space.point_of({**table.iloc[0].to_dict(), "block_wt": float("nan")})["block_wt"] is None


def test_restrict_to_the_new_knobs() -> None:
    space = search_space("centralize_w_rm", (1, 1, 64, 256), device="wormhole_b0_n150")
    small = space.restrict(math_fidelity=("HiFi4", "LoFi"), fp32_dest_acc_en=(True,), variant=("single_pass",))
    assert small.knob("math_fidelity").choices == ("LoFi", "HiFi4")
    assert small.knob("variant").choices == ("single_pass",)
    assert "fp32_dest_acc_en" not in small.default  # the default (False) is outside the new domain
    assert {p["block_wt"] for p in small.points()} == {None}
    two = space.restrict(variant=("two_pass",), block_wt=(4, None))  # None, the inactive value, is implied
    assert two.knob("block_wt").choices == (4,) and {p["block_wt"] for p in two.points()} == {4}
    with pytest.raises(perfmodel.InputError, match="HiFi5"):
        space.restrict(math_fidelity=("HiFi5",))
    with pytest.raises(perfmodel.InputError, match="block_wt = 3"):
        space.restrict(block_wt=(3,))


def test_points_with_the_new_knobs_build_their_own_program_or_are_refused() -> None:
    """`program` sets every knob on the factory's config, including those the analytic model does not read;
    a point the factory refuses (two_pass while it is refused) is infeasible with the factory's reason."""
    from perfmodel.tune.objective import analytic_table

    space = search_space("centralize_w_rm", (1, 1, 64, 256), device="wormhole_b0_n150").only(
        "grid_x", "math_fidelity", "dst_full_sync_en", "variant", "block_wt"
    )
    program = space.program({**space.default, "math_fidelity": "LoFi", "dst_full_sync_en": True})
    assert program.compute_config.math_fidelity == "LoFi" and program.compute_config.dst_full_sync_en
    ranked = analytic_table(space, space.table())
    assert len(ranked) == space.size
    for row in ranked.to_dict("records"):
        point = space.point_of(row)
        try:
            space.program(point)
            refused = ""
        except perfmodel.InputError as exc:
            refused = str(exc)
        if refused:
            assert not row["feasible"] and row["infeasible_reason"], point
        assert row["feasible"] or row["infeasible_reason"]
