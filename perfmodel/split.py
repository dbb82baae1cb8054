"""tt-metal's default multicore work split, reproduced rectangle for rectangle.

Program factories hand `units` equal pieces of work (tile rows, blocks) to a grid of cores with
`split_work_to_cores` from `work_split.cpp` in tt-metal (folder tt_metal/common). Our models must use the very
same cores, groups and per-core counts, or the predicted runtime belongs to a program tt-metal never
builds. This module mirrors that function and its helper `num_cores_to_corerangeset`, including the
order of the rectangles in each `CoreRangeSet` (tt-metal keeps them in insertion order and does not
merge them), so a model can be compared with a real program line by line.

`grid` is (x, y) = (columns, rows) and cores are (x, y), as in tt-metal's `CoreCoord`.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import NamedTuple

from perfmodel.errors import InputError

Core = tuple[int, int]


class CoreRange(NamedTuple):
    """An inclusive rectangle of cores, like tt-metal's `CoreRange(start_coord, end_coord)`.

    A plain tuple underneath, so `CoreRange((0, 0), (3, 7)) == ((0, 0), (3, 7))`.
    """

    start: Core
    end: Core

    @property
    def num_cores(self) -> int:
        return (self.end[0] - self.start[0] + 1) * (self.end[1] - self.start[1] + 1)

    def contains(self, core: Core) -> bool:
        x, y = core
        return self.start[0] <= x <= self.end[0] and self.start[1] <= y <= self.end[1]


@dataclass(frozen=True)
class CoreAssignment:
    """The share of one core: units [start_unit, start_unit + num_units) of the work."""

    core: Core
    group: int
    start_unit: int
    num_units: int


@dataclass(frozen=True)
class WorkSplit:
    """The six values `split_work_to_cores` returns, plus the inputs that produced them."""

    num_cores: int
    all_cores: tuple[CoreRange, ...]
    core_group_1: tuple[CoreRange, ...]
    core_group_2: tuple[CoreRange, ...]
    units_per_core_group_1: int
    units_per_core_group_2: int
    grid: tuple[int, int]
    row_wise: bool
    units: int

    def cores_in_order(self) -> tuple[Core, ...]:
        """The used cores in fill order, the order in which factories assign start offsets."""
        return _fill_order(self.grid, self.row_wise, self.num_cores)

    def assignments(self) -> tuple[CoreAssignment, ...]:
        """Per used core, in fill order: its group, first unit and number of units.

        The group is read from the rectangles rather than from the core's rank, so this also
        exposes any disagreement between the rectangles and the fill order.
        """
        result = []
        start_unit = 0
        for core in self.cores_in_order():
            if any(r.contains(core) for r in self.core_group_1):
                group, num_units = 1, self.units_per_core_group_1
            elif any(r.contains(core) for r in self.core_group_2):
                group, num_units = 2, self.units_per_core_group_2
            else:
                raise AssertionError(f"core {core} is used but in neither group of {self}")
            result.append(CoreAssignment(core, group, start_unit, num_units))
            start_unit += num_units
        return tuple(result)


def split_work_to_cores(grid: tuple[int, int], units: int, row_wise: bool = False) -> WorkSplit:
    """Split `units` over the cores of `grid` exactly as tt-metal's `split_work_to_cores` does.

    min(units, cores in grid) cores are used. If the units divide evenly they all form group 1;
    otherwise group 1 is the first `units % num_cores` cores in fill order, each with one unit more
    than the cores of group 2, which follow it. Fill order is column-major, or row-major if `row_wise`.
    """
    grid_xy = _check_grid(grid)
    units = _check_count("units", units)
    num_cores_x, num_cores_y = grid_xy
    target_num_cores = min(units, num_cores_x * num_cores_y)

    if target_num_cores == 0:
        return WorkSplit(0, (), (), (), 0, 0, grid_xy, bool(row_wise), units)

    all_cores = _num_cores_to_ranges((0, 0), target_num_cores, grid_xy, row_wise)
    units_per_core_group_1 = units // target_num_cores
    units_per_core_group_2 = 0
    if units % target_num_cores == 0:
        core_group_1 = all_cores
        core_group_2: tuple[CoreRange, ...] = ()
    else:
        # Only reachable when units exceed the grid (otherwise each used core gets exactly one unit),
        # so group 2 always runs to the last core of the grid.
        num_core_group_1_cores = units % target_num_cores
        num_core_group_2_cores = target_num_cores - num_core_group_1_cores
        core_group_1 = _num_cores_to_ranges((0, 0), num_core_group_1_cores, grid_xy, row_wise)
        # tt-metal takes the end corner of the *last* rectangle of group 1 as its last core; this is
        # only right because the rectangles are kept in fill order, which we keep too.
        last_x, last_y = core_group_1[-1].end
        if row_wise:
            group_2_start = (last_x + 1, last_y) if last_x != num_cores_x - 1 else (0, last_y + 1)
        else:
            group_2_start = (last_x, last_y + 1) if last_y != num_cores_y - 1 else (last_x + 1, 0)
        core_group_2 = _num_cores_to_ranges(group_2_start, num_core_group_2_cores, grid_xy, row_wise)
        units_per_core_group_1 += 1
        units_per_core_group_2 = units // target_num_cores

    return WorkSplit(
        num_cores=target_num_cores,
        all_cores=all_cores,
        core_group_1=core_group_1,
        core_group_2=core_group_2,
        units_per_core_group_1=units_per_core_group_1,
        units_per_core_group_2=units_per_core_group_2,
        grid=grid_xy,
        row_wise=bool(row_wise),
        units=units,
    )


def _num_cores_to_ranges(start: Core, num_cores: int, grid: tuple[int, int], row_wise: bool) -> tuple[CoreRange, ...]:
    """Mirror of tt-metal's `num_cores_to_corerangeset(start_core, target_num_cores, grid, row_wise)`.

    Written once in terms of lanes (columns when column-major, rows when row-wise) and positions
    along a lane; the row-wise branch of the C++ is the column branch with x and y swapped.
    The strict `>` comparisons are tt-metal's: a run of exactly one full lane is emitted by the last
    branch, which yields the same rectangle the full-lane branch would have.
    """

    def core(lane: int, pos: int) -> Core:
        return (pos, lane) if row_wise else (lane, pos)

    lanes, lane_len = (grid[1], grid[0]) if row_wise else grid
    s_lane, s_pos = (start[1], start[0]) if row_wise else start
    # tt-metal's TT_FATAL checks; unreachable from split_work_to_cores, kept to catch misuse.
    available = (lanes - 1 - s_lane) * lane_len + (lane_len - s_pos)
    if not (0 <= s_lane < lanes and 0 <= s_pos < lane_len and num_cores <= available):
        raise AssertionError(f"cannot place {num_cores} cores from {start} in grid {grid}")

    ranges: list[CoreRange] = []
    leftover = num_cores
    # Partial lane at the start, only when the run leaves that lane.
    if s_pos != 0 and leftover > lane_len - s_pos:
        ranges.append(CoreRange(core(s_lane, s_pos), core(s_lane, lane_len - 1)))
        leftover -= lane_len - s_pos
        s_lane, s_pos = s_lane + 1, 0
    # Block of full lanes.
    if leftover > lane_len:
        num_full = leftover // lane_len
        ranges.append(CoreRange(core(s_lane, 0), core(s_lane + num_full - 1, lane_len - 1)))
        leftover -= num_full * lane_len
        s_lane, s_pos = s_lane + num_full, 0
    # Partial lane at the end (or the whole run, if it never leaves its lane).
    if leftover > 0:
        ranges.append(CoreRange(core(s_lane, s_pos), core(s_lane, s_pos + leftover - 1)))
    return tuple(ranges)


def _fill_order(grid: tuple[int, int], row_wise: bool, num_cores: int) -> tuple[Core, ...]:
    """The first `num_cores` cores of the grid in fill order."""
    num_cores_x, num_cores_y = grid
    if row_wise:
        return tuple((i % num_cores_x, i // num_cores_x) for i in range(num_cores))
    return tuple((i // num_cores_y, i % num_cores_y) for i in range(num_cores))


def _check_count(name: str, value: object, minimum: int = 0) -> int:
    # bool is an int subclass but never a meaningful count; operator.index admits numpy integers
    # while refusing floats such as 8.0, which would silently truncate.
    try:
        if isinstance(value, bool):
            raise TypeError
        count = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if count < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return count


def _check_grid(grid: object) -> tuple[int, int]:
    try:
        num_cores_x, num_cores_y = grid  # type: ignore[misc]
    except (TypeError, ValueError):
        raise InputError(f"grid must be a pair (x, y) of integers >= 1, got {grid!r}") from None
    return (_check_count("grid x", num_cores_x, 1), _check_count("grid y", num_cores_y, 1))


def split_blocks_for_tilize(grid: tuple[int, int], nblocks: int, row_wise: bool = False) -> WorkSplit:
    """tt-metal's `split_blocks_for_tilize(grid, nblocks)` (work_split_tilize.hpp), as a `WorkSplit`.

    Unlike `split_work_to_cores` it gives every core `per = ceil(nblocks / cores in grid)` blocks and the
    remainder to one short *cliff* core, so it can leave cores of the grid idle: `ncores = ceil(nblocks /
    per)`, `cliff = nblocks mod per`. Group 1 holds the full cores, group 2 the cliff core (if any), in
    fill order (column-major, or row-major if `row_wise`).
    """
    grid_xy = _check_grid(grid)
    nblocks = _check_count("nblocks", nblocks)
    if nblocks == 0:
        return WorkSplit(0, (), (), (), 0, 0, grid_xy, bool(row_wise), 0)
    grid_cores = grid_xy[0] * grid_xy[1]
    per = -(-nblocks // grid_cores)
    ncores = -(-nblocks // per)
    cliff = nblocks % per
    full = ncores - (1 if cliff else 0)
    all_cores = _num_cores_to_ranges((0, 0), ncores, grid_xy, row_wise)
    core_group_1 = _num_cores_to_ranges((0, 0), full, grid_xy, row_wise)
    core_group_2 = (
        _num_cores_to_ranges(_fill_order(grid_xy, row_wise, ncores)[-1], 1, grid_xy, row_wise) if cliff else ()
    )
    return WorkSplit(
        num_cores=ncores,
        all_cores=all_cores,
        core_group_1=core_group_1,
        core_group_2=core_group_2,
        units_per_core_group_1=per,
        units_per_core_group_2=cliff,
        grid=grid_xy,
        row_wise=bool(row_wise),
        units=nblocks,
    )


@dataclass(frozen=True)
class Block2D:
    """One core's block of the 2-D split: tiles [row, row + height) x [col, col + width) of the Wt x Ht grid."""

    core: Core
    row: int
    col: int
    width: int
    height: int


@dataclass(frozen=True)
class BlockSplit2D:
    """`split_blocks_for_tilize_wh`: square blocks of `side` x `side` tiles over a Wt x Ht tile grid.

    `blocks` are in core order: per block-row its full blocks, then its cliff-row block (`Wt mod side` wide),
    the cliff-col row (`Ht mod side` high) last.
    """

    grid: tuple[int, int]
    wt: int
    ht: int
    side: int
    blocks: tuple[Block2D, ...]

    @property
    def num_cores(self) -> int:
        return len(self.blocks)


def block_side_for_tilize(wt: int, ht: int, grid_cores: int, tiles: int | None = None) -> int:
    """The block side of `split_blocks_for_tilize_wh`: b = ceil(tiles / cores) (tiles = Wt*Ht unless given);
    s = sqrt(b) if b is a perfect square and ceil(Wt/s)*ceil(Ht/s) < cores, else the smallest s > floor(sqrt(b))
    with ceil(Wt/s)*ceil(Ht/s) < cores (strict). Side max(Wt, Ht) always fits: one block covers a side."""
    wt = _check_count("Wt", wt, 1)
    ht = _check_count("Ht", ht, 1)
    grid_cores = _check_count("grid cores", grid_cores, 1)
    total = wt * ht if tiles is None else max(int(tiles), 1)
    b = -(-total // grid_cores)
    root = math.isqrt(b)

    def blocks(s: int) -> int:
        return -(-wt // s) * -(-ht // s)

    if root * root == b and blocks(root) < grid_cores:
        return root
    s = root + 1
    limit = max(wt, ht)
    while s < limit and blocks(s) >= grid_cores:
        s += 1
    return s


def split_blocks_for_tilize_wh(grid: tuple[int, int], wt: int, ht: int, row_wise: bool = False) -> BlockSplit2D:
    """tt-metal's 2-D `split_blocks_for_tilize_wh(grid, Wt*Ht, Wt, Ht)`; core i is the i-th core in fill order."""
    grid_xy = _check_grid(grid)
    side = block_side_for_tilize(wt, ht, grid_xy[0] * grid_xy[1])
    cores = _fill_order(grid_xy, row_wise, grid_xy[0] * grid_xy[1])
    rows = [(r, min(side, ht - r)) for r in range(0, ht, side)]
    cols = [(c, min(side, wt - c)) for c in range(0, wt, side)]
    # Full-height block-rows first (each: full blocks, then its cliff-row block); the cliff-col row last.
    ordered = [(r, h, c, w) for r, h in rows for c, w in cols]
    if len(ordered) > len(cores):
        raise InputError(f"2-D tilize split of {wt} x {ht} tiles needs {len(ordered)} cores, grid has {len(cores)}")
    blocks = tuple(Block2D(cores[i], r, c, w, h) for i, (r, h, c, w) in enumerate(ordered))
    return BlockSplit2D(grid_xy, wt, ht, side, blocks)


def prefers_block_split(
    wt: int, ht: int, nblocks: int, grid_cores: int, tiles: int | None = None
) -> tuple[bool, int, int]:
    """tt-metal's 2-D heuristic of the layout ops: (use the Block factory, 1-D cores, 2-D cores).

    Only when Wt > 32 and (Ht > 32 or Wt > Ht): the block side of `block_side_for_tilize` (b from `tiles`,
    default Wt*Ht) gives ceil(Wt/s)*ceil(Ht/s) cores; the Block factory wins when the 1-D
    `split_blocks_for_tilize` over `nblocks` tile rows uses fewer. Otherwise (False, 1-D cores, 0).
    """
    per = -(-nblocks // grid_cores) if nblocks else 0
    cores_1d = -(-nblocks // per) if per else 0
    if not (wt > 32 and (ht > 32 or wt > ht)):
        return False, cores_1d, 0
    side = block_side_for_tilize(wt, ht, grid_cores, tiles)
    cores_2d = -(-wt // side) * -(-ht // side)
    return cores_1d < cores_2d, cores_1d, cores_2d
