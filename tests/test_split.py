"""Tests of perfmodel.split against tt-metal's split_work_to_cores (reference §7) and its invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfmodel.errors import InputError
from perfmodel.split import CoreAssignment, CoreRange, WorkSplit, _num_cores_to_ranges, split_work_to_cores


def _summary(split: WorkSplit) -> tuple:
    return (
        split.num_cores,
        split.all_cores,
        split.core_group_1,
        split.core_group_2,
        split.units_per_core_group_1,
        split.units_per_core_group_2,
    )


# (grid, units, row_wise) -> (num_cores, all_cores, group 1, group 2, units per core in group 1, in group 2),
# each worked by hand from tt-metal's num_cores_to_corerangeset and split_work_to_cores.
CASES = {
    # Reference §7 examples on 8 x 8, column-major.
    "8x8 100 units": (
        ((8, 8), 100, False),
        (
            64,
            [((0, 0), (7, 7))],
            [((0, 0), (3, 7)), ((4, 0), (4, 3))],
            [((4, 4), (4, 7)), ((5, 0), (7, 7))],
            2,
            1,
        ),
    ),
    "8x8 65 units": (
        ((8, 8), 65, False),
        (64, [((0, 0), (7, 7))], [((0, 0), (0, 0))], [((0, 1), (0, 7)), ((1, 0), (7, 7))], 2, 1),
    ),
    "8x8 64 units": (((8, 8), 64, False), (64, [((0, 0), (7, 7))], [((0, 0), (7, 7))], [], 1, 0)),
    "8x8 20 units": (
        ((8, 8), 20, False),
        (20, [((0, 0), (1, 7)), ((2, 0), (2, 3))], [((0, 0), (1, 7)), ((2, 0), (2, 3))], [], 1, 0),
    ),
    "8x8 8 units, one full column": (
        ((8, 8), 8, False),
        (8, [((0, 0), (0, 7))], [((0, 0), (0, 7))], [], 1, 0),
    ),
    "8x8 1 unit": (((8, 8), 1, False), (1, [((0, 0), (0, 0))], [((0, 0), (0, 0))], [], 1, 0)),
    "8x8 0 units": (((8, 8), 0, False), (0, [], [], [], 0, 0)),
    # Even and uneven beyond one unit per core.
    "8x8 128 units even": (((8, 8), 128, False), (64, [((0, 0), (7, 7))], [((0, 0), (7, 7))], [], 2, 0)),
    "8x8 200 units, group 1 ends a column": (
        ((8, 8), 200, False),
        (64, [((0, 0), (7, 7))], [((0, 0), (0, 7))], [((1, 0), (7, 7))], 4, 3),
    ),
    # Row-wise.
    "8x8 100 units row-wise": (
        ((8, 8), 100, True),
        (
            64,
            [((0, 0), (7, 7))],
            [((0, 0), (7, 3)), ((0, 4), (3, 4))],
            [((4, 4), (7, 4)), ((0, 5), (7, 7))],
            2,
            1,
        ),
    ),
    "8x8 20 units row-wise": (
        ((8, 8), 20, True),
        (20, [((0, 0), (7, 1)), ((0, 2), (3, 2))], [((0, 0), (7, 1)), ((0, 2), (3, 2))], [], 1, 0),
    ),
    # A single row (x = 8 columns, y = 1 row) and a single column, both fill orders.
    "8x1 10 units": (
        ((8, 1), 10, False),
        (8, [((0, 0), (7, 0))], [((0, 0), (1, 0))], [((2, 0), (7, 0))], 2, 1),
    ),
    "8x1 10 units row-wise": (
        ((8, 1), 10, True),
        (8, [((0, 0), (7, 0))], [((0, 0), (1, 0))], [((2, 0), (7, 0))], 2, 1),
    ),
    "8x1 5 units": (((8, 1), 5, False), (5, [((0, 0), (4, 0))], [((0, 0), (4, 0))], [], 1, 0)),
    "1x8 10 units": (
        ((1, 8), 10, False),
        (8, [((0, 0), (0, 7))], [((0, 0), (0, 1))], [((0, 2), (0, 7))], 2, 1),
    ),
    "1x8 10 units row-wise": (
        ((1, 8), 10, True),
        (8, [((0, 0), (0, 7))], [((0, 0), (0, 1))], [((0, 2), (0, 7))], 2, 1),
    ),
    "1x1 7 units": (((1, 1), 7, False), (1, [((0, 0), (0, 0))], [((0, 0), (0, 0))], [], 7, 0)),
    # Blackhole's 11 x 10 worker grid: 110 cores, 250 = 2 x 110 + 30.
    "11x10 250 units": (
        ((11, 10), 250, False),
        (110, [((0, 0), (10, 9))], [((0, 0), (2, 9))], [((3, 0), (10, 9))], 3, 2),
    ),
    "11x10 250 units row-wise": (
        ((11, 10), 250, True),
        (
            110,
            [((0, 0), (10, 9))],
            [((0, 0), (10, 1)), ((0, 2), (7, 2))],
            [((8, 2), (10, 2)), ((0, 3), (10, 9))],
            3,
            2,
        ),
    ),
    "11x10 25 units": (
        ((11, 10), 25, False),
        (25, [((0, 0), (1, 9)), ((2, 0), (2, 4))], [((0, 0), (1, 9)), ((2, 0), (2, 4))], [], 1, 0),
    ),
    "11x10 25 units row-wise": (
        ((11, 10), 25, True),
        (25, [((0, 0), (10, 1)), ((0, 2), (2, 2))], [((0, 0), (10, 1)), ((0, 2), (2, 2))], [], 1, 0),
    ),
}


@pytest.mark.parametrize(("args", "expected"), CASES.values(), ids=CASES.keys())
def test_worked_examples(args: tuple, expected: tuple) -> None:
    grid, units, row_wise = args
    num_cores, all_cores, group_1, group_2, per_core_1, per_core_2 = expected
    split = split_work_to_cores(grid, units, row_wise=row_wise)
    assert split.num_cores == num_cores
    assert list(split.all_cores) == all_cores
    assert list(split.core_group_1) == group_1
    assert list(split.core_group_2) == group_2
    assert (split.units_per_core_group_1, split.units_per_core_group_2) == (per_core_1, per_core_2)
    assert (split.grid, split.units, split.row_wise) == (grid, units, row_wise)


def test_groups_are_tuples_equal_to_plain_tuples() -> None:
    split = split_work_to_cores((8, 8), 100)
    assert split.core_group_1 == (((0, 0), (3, 7)), ((4, 0), (4, 3)))
    assert isinstance(split.core_group_1[0], CoreRange)
    assert split.core_group_1[1].num_cores == 4


def test_core_range() -> None:
    r = CoreRange((1, 2), (3, 5))
    assert r == ((1, 2), (3, 5))
    assert r.num_cores == 12
    assert r.contains((1, 2)) and r.contains((3, 5)) and r.contains((2, 4))
    assert not r.contains((0, 2)) and not r.contains((4, 5)) and not r.contains((2, 6))


def test_assignments_of_the_65_unit_example() -> None:
    split = split_work_to_cores((8, 8), 65)
    assignments = split.assignments()
    assert assignments[:3] == (
        CoreAssignment((0, 0), 1, 0, 2),
        CoreAssignment((0, 1), 2, 2, 1),
        CoreAssignment((0, 2), 2, 3, 1),
    )
    assert assignments[8] == CoreAssignment((1, 0), 2, 9, 1)
    assert assignments[-1] == CoreAssignment((7, 7), 2, 64, 1)


def test_cores_in_order_follows_the_fill_order() -> None:
    assert split_work_to_cores((3, 2), 5).cores_in_order() == ((0, 0), (0, 1), (1, 0), (1, 1), (2, 0))
    assert split_work_to_cores((3, 2), 5, row_wise=True).cores_in_order() == (
        (0, 0),
        (1, 0),
        (2, 0),
        (0, 1),
        (1, 1),
    )
    assert split_work_to_cores((3, 2), 0).cores_in_order() == ()
    assert split_work_to_cores((3, 2), 0).assignments() == ()


def test_run_from_a_start_core_uses_three_rectangles() -> None:
    # num_cores_to_corerangeset(start, n, grid): partial first lane, full lanes, partial last lane.
    assert _num_cores_to_ranges((2, 3), 20, (8, 8), False) == (
        ((2, 3), (2, 7)),
        ((3, 0), (3, 7)),
        ((4, 0), (4, 6)),
    )
    assert _num_cores_to_ranges((3, 2), 20, (8, 8), True) == (
        ((3, 2), (7, 2)),
        ((0, 3), (7, 3)),
        ((0, 4), (6, 4)),
    )
    # A run that stays inside its start lane is one rectangle, even when it ends that lane.
    assert _num_cores_to_ranges((2, 3), 5, (8, 8), False) == (((2, 3), (2, 7)),)


@pytest.mark.parametrize(
    ("grid", "units", "named"),
    [
        ((0, 8), 10, "grid x"),
        ((8, 0), 10, "grid y"),
        ((8, -1), 10, "grid y"),
        ((8.0, 8), 10, "grid x"),
        ((True, 8), 10, "grid x"),
        ((8,), 10, "grid"),
        ((8, 8, 1), 10, "grid"),
        (8, 10, "grid"),
        ((8, 8), -1, "units"),
        ((8, 8), 1.5, "units"),
        ((8, 8), "10", "units"),
        ((8, 8), None, "units"),
    ],
)
def test_bad_inputs_raise_input_error(grid: object, units: object, named: str) -> None:
    with pytest.raises(InputError, match=named) as info:
        split_work_to_cores(grid, units)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


# Hypothesis: the invariants every split must satisfy, checked against a brute-force walk of the grid.

splits = st.builds(
    split_work_to_cores,
    grid=st.tuples(st.integers(1, 14), st.integers(1, 14)),
    units=st.integers(0, 700),
    row_wise=st.booleans(),
)


def _cores(ranges: tuple[CoreRange, ...]) -> list[tuple[int, int]]:
    return [(x, y) for r in ranges for x in range(r.start[0], r.end[0] + 1) for y in range(r.start[1], r.end[1] + 1)]


@given(splits)
def test_units_are_conserved(split: WorkSplit) -> None:
    assert sum(a.num_units for a in split.assignments()) == split.units
    group_2_cores = len(_cores(split.core_group_2))
    total = (
        len(_cores(split.core_group_1)) * split.units_per_core_group_1 + group_2_cores * split.units_per_core_group_2
    )
    assert total == split.units


@given(splits)
def test_groups_partition_the_used_cores(split: WorkSplit) -> None:
    group_1, group_2, used = _cores(split.core_group_1), _cores(split.core_group_2), _cores(split.all_cores)
    # No rectangle overlaps another of its set, and the groups share no core.
    assert len(set(group_1)) == len(group_1)
    assert len(set(group_2)) == len(group_2)
    assert len(set(used)) == len(used) == split.num_cores
    assert not set(group_1) & set(group_2)
    assert set(group_1) | set(group_2) == set(used) == set(split.cores_in_order())
    assert split.num_cores == min(split.units, split.grid[0] * split.grid[1])


@given(splits)
def test_per_core_counts_differ_by_at_most_one(split: WorkSplit) -> None:
    counts = {a.num_units for a in split.assignments()}
    assert not counts or max(counts) - min(counts) <= 1
    if split.core_group_2:
        assert split.units_per_core_group_1 == split.units_per_core_group_2 + 1
    else:
        assert split.units_per_core_group_2 == 0


@given(splits)
def test_group_1_comes_first_in_fill_order(split: WorkSplit) -> None:
    groups = [a.group for a in split.assignments()]
    assert groups == sorted(groups)
    # The used cores are exactly the first num_cores of the whole grid in fill order.
    x_cores, y_cores = split.grid
    if split.row_wise:
        walk = [(x, y) for y in range(y_cores) for x in range(x_cores)]
    else:
        walk = [(x, y) for x in range(x_cores) for y in range(y_cores)]
    assert list(split.cores_in_order()) == walk[: split.num_cores]


@given(splits)
def test_rectangles_lie_inside_the_grid_in_fill_order(split: WorkSplit) -> None:
    x_cores, y_cores = split.grid
    for ranges in (split.all_cores, split.core_group_1, split.core_group_2):
        assert len(ranges) <= 3
        for r in ranges:
            assert 0 <= r.start[0] <= r.end[0] < x_cores
            assert 0 <= r.start[1] <= r.end[1] < y_cores
        # Rectangles are listed in fill order: each one's cores come after the previous one's.
        order = list(split.cores_in_order())
        firsts = [order.index(r.start) for r in ranges]
        assert firsts == sorted(firsts)


@given(splits)
def test_assignment_start_units_are_contiguous(split: WorkSplit) -> None:
    next_unit = 0
    for a in split.assignments():
        assert a.start_unit == next_unit
        assert a.num_units >= 1
        next_unit += a.num_units
    assert next_unit == split.units
