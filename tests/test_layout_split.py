"""The layout ops' work splits against tt-metal's own figures (shared reference, tilize_untilize.md §1, §2, §8, §9)."""

from __future__ import annotations

import pytest

from perfmodel import InputError
from perfmodel.split import (
    block_side_for_tilize,
    prefers_block_split,
    split_blocks_for_tilize,
    split_blocks_for_tilize_wh,
)


@pytest.mark.parametrize(
    ("nblocks", "grid", "cores", "per", "cliff"),
    [
        (256, (11, 10), 86, 3, 1),  # bh_p100_dlv3: 85 x 3 + 1
        (1024, (11, 10), 103, 10, 4),  # 102 x 10 + 4
        (240, (5, 4), 20, 12, 0),  # bh20_oft [1, 1, 7680, 256]
        (60, (5, 4), 20, 3, 0),
        (15, (5, 4), 15, 1, 0),
        (64, (11, 10), 64, 1, 0),
        (7, (5, 4), 7, 1, 0),
    ],
)
def test_split_blocks_for_tilize(nblocks: int, grid: tuple[int, int], cores: int, per: int, cliff: int) -> None:
    split = split_blocks_for_tilize(grid, nblocks)
    assert (split.num_cores, split.units_per_core_group_1, split.units_per_core_group_2) == (cores, per, cliff)
    shares = [a.num_units for a in split.assignments()]
    assert len(shares) == cores and sum(shares) == nblocks
    assert shares == [per] * (cores - 1) + [cliff or per]
    starts = [a.start_unit for a in split.assignments()]
    assert starts == [i * per for i in range(cores)]


def test_split_blocks_for_tilize_orders() -> None:
    # Tilize walks its cores column by column (y fastest), untilize row by row (x fastest).
    assert [a.core for a in split_blocks_for_tilize((3, 2), 4).assignments()] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [a.core for a in split_blocks_for_tilize((3, 2), 4, row_wise=True).assignments()] == [
        (0, 0),
        (1, 0),
        (2, 0),
        (0, 1),
    ]
    assert split_blocks_for_tilize((3, 2), 0).num_cores == 0
    with pytest.raises(InputError):
        split_blocks_for_tilize((0, 2), 4)


# (shape [.., H, W], Wt x Ht, b, s, blocks, cliff w, cliff h, cores) on Blackhole's 11 x 10 grid (§8 table).
BLOCK_TABLE = [
    ((2048, 5120), 11, 15, 6, 6, 9, 90),
    ((4096, 2048), 10, 7, 13, 4, 8, 91),
    ((3072, 3072), 10, 10, 10, 6, 6, 100),
    ((3072, 9216), 16, 18, 6, 0, 0, 108),
    ((128, 3072), 2, 48, 2, 0, 0, 96),
]


@pytest.mark.parametrize(("hw", "side", "cols", "rows", "cliff_w", "cliff_h", "cores"), BLOCK_TABLE)
def test_block_split_worked_examples(
    hw: tuple[int, int], side: int, cols: int, rows: int, cliff_w: int, cliff_h: int, cores: int
) -> None:
    wt, ht = hw[1] // 32, hw[0] // 32
    split = split_blocks_for_tilize_wh((11, 10), wt, ht)
    assert split.side == side and split.num_cores == cores == cols * rows
    widths = {b.width for b in split.blocks}
    heights = {b.height for b in split.blocks}
    assert widths == ({side, cliff_w} if cliff_w else {side})
    assert heights == ({side, cliff_h} if cliff_h else {side})
    # Every tile of the Wt x Ht grid belongs to exactly one block.
    assert sum(b.width * b.height for b in split.blocks) == wt * ht
    # Per block-row: full blocks then the cliff-row block; the cliff-col row last.
    assert split.blocks[cols - 1].width == (cliff_w or side)
    assert split.blocks[-1].height == (cliff_h or side)
    # Each shape also passes the 2-D heuristic (the 1-D count is smaller).
    assert prefers_block_split(wt, ht, ht, 110)[0]


@pytest.mark.parametrize(("w", "cores"), [(2048, 64), (2816, 88), (6656, 104), (128, 1), (256, 1), (32, 1)])
def test_decode_rows_with_val_padding(w: int, cores: int) -> None:
    # [1, 1, 1, W] padded to 32 rows on 110 cores (§9 table): Block for Wt > 32, else one tile row.
    wt = w // 32
    block, cores_1d, cores_2d = prefers_block_split(wt, 1, 1, 110, tiles=max(w // 1024, 1))
    assert block == (wt > 32)
    assert (cores_2d if block else cores_1d) == cores


def test_two_d_heuristic_example() -> None:
    # G = 64, [1, 1, 512, 2048]: Wt 64, Ht 16; the 1-D split uses 16 cores, the 2-D 52: Block.
    assert prefers_block_split(64, 16, 16, 64) == (True, 16, 52)
    assert block_side_for_tilize(64, 16, 64) == 5
    # Wt <= 32 never takes the 2-D path.
    assert prefers_block_split(32, 1000, 1000, 20) == (False, 20, 0)
