"""Kernel mirrors of untilize and untilize_with_unpadding (reference: shared/reference/tilize_untilize.md §4, §10).

One unit of work is one tile row: Wt tiles in, 32 sticks out.

- `reader` = reader_unary_start_id.cpp (untilize) / reader_unary_interleaved_start_id.cpp (unpadding): per
  tile reserve 1, one tile read, **a read barrier after every tile** (one read in flight), push 1.
- `compute` = pack_untilize_variable_num_blocks.cpp / pack_untilize.cpp: per tile row reserve Wt on c_16,
  then per sub-block of `block_ct` tiles (the largest divisor of Wt <= 8, <= 4 with fp32 Dst) wait, one
  `pack_untilize_block` writing its 32 x block_ct*32 values into the rows' columns, pop; push Wt.
- `writer` = writer_unary_stick_layout_split_rows_multi_core.cpp: wait Wt; 32 whole-stick writes; one write
  barrier; pop Wt.
- `writer_unpad` = writer_unary_stick_layout_split_rows_multicore.cpp of untilize_with_unpadding: wait Wt;
  per **real** row one write of the output's stick (L1 stride: the input's row), **a write barrier per
  stick**; pad rows are never written; pop Wt.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

CB_IN = 0  # c_0: input tiles
CB_OUT = 16  # c_16: 32 row-major output sticks of one tile row
TILE_HEIGHT = 32


def reader(k: Any, *, tile_bytes: int) -> Iterator[Any]:
    src = k.tensor_accessor("input", k.get_arg("src_addr"))
    num_tiles = k.get_arg("num_tiles")
    start_id = k.get_arg("start_id")

    for i in range(start_id, start_id + num_tiles):
        yield from k.cb_reserve_back(CB_IN, 1)
        l1_write_addr = k.get_write_ptr(CB_IN)
        yield from k.noc_async_read(src.get_noc_addr(i), l1_write_addr, tile_bytes)
        yield from k.noc_async_read_barrier()
        yield from k.cb_push_back(CB_IN, 1)


def compute(k: Any, *, per_core_block_tile_cnt: int, block_ct_dim: int) -> Iterator[Any]:
    per_core_block_cnt = k.get_arg("per_core_block_cnt")
    for _ in range(per_core_block_cnt):
        yield from k.cb_reserve_back(CB_OUT, per_core_block_tile_cnt)
        for b in range(per_core_block_tile_cnt // block_ct_dim):
            yield from k.cb_wait_front(CB_IN, block_ct_dim)
            yield from k.pack_untilize_block(CB_IN, block_ct_dim, CB_OUT, b, per_core_block_tile_cnt)
            yield from k.cb_pop_front(CB_IN, block_ct_dim)
        yield from k.cb_push_back(CB_OUT, per_core_block_tile_cnt)


def writer(k: Any, *, stick_size_bytes: int, num_tiles_per_block: int) -> Iterator[Any]:
    dst = k.tensor_accessor("output", k.get_arg("dst_addr"))
    num_blocks = k.get_arg("num_blocks")
    stick_id = k.get_arg("first_block") * TILE_HEIGHT

    for _ in range(num_blocks):
        yield from k.cb_wait_front(CB_OUT, num_tiles_per_block)
        l1_read_addr = k.get_read_ptr(CB_OUT)
        for _ in range(TILE_HEIGHT):
            yield from k.noc_async_write(l1_read_addr, dst.get_noc_addr(stick_id), stick_size_bytes)
            l1_read_addr += stick_size_bytes
            stick_id += 1
        yield from k.noc_async_write_barrier()
        yield from k.cb_pop_front(CB_OUT, num_tiles_per_block)


def writer_unpad(
    k: Any, *, Ht_in: int, H_out: int, Wt: int, stick_in_bytes: int, stick_out_bytes: int
) -> Iterator[Any]:
    dst = k.tensor_accessor("output", k.get_arg("dst_addr"))
    first_tile_row = k.get_arg("first_tile_row")
    num_tile_rows = k.get_arg("num_tile_rows")

    for tile_row in range(first_tile_row, first_tile_row + num_tile_rows):
        slice_id, row_in_slice = divmod(tile_row, Ht_in)
        real_rows = min(max(H_out - row_in_slice * TILE_HEIGHT, 0), TILE_HEIGHT)
        stick_id = slice_id * H_out + row_in_slice * TILE_HEIGHT
        yield from k.cb_wait_front(CB_OUT, Wt)
        l1_read_addr = k.get_read_ptr(CB_OUT)
        for j in range(real_rows):
            yield from k.noc_async_write(l1_read_addr, dst.get_noc_addr(stick_id + j), stick_out_bytes)
            yield from k.noc_async_write_barrier()
            l1_read_addr += stick_in_bytes
        yield from k.cb_pop_front(CB_OUT, Wt)
