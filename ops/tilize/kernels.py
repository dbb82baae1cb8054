"""Kernel mirrors of tilize and tilize_with_val_padding (reference: shared/reference/tilize_untilize.md §3, §8, §9).

Readers run on NCRISC (NoC 0), writers on BRISC (NoC 1), compute on the TRISCs. One unit of work is one
tile row of the core's block: 32 sticks of the block's width in tiles.

- `reader` = reader_unary_stick_layout_split_rows_interleaved.cpp: per tile row 32 whole-stick reads into
  consecutive L1, **one** read barrier, push Wt.
- `reader_pad` = reader_unary_pad_dims_split_rows_multicore.cpp: per real stick one read of the input stick
  into the wider output slot, column pad stored, **a read barrier per stick**; rows past the input's height
  are stored with the pad value.
- `reader_block` = reader_unary_pad_multicore_both_dims.cpp (Block factories): per stick of the block one
  read of the block's column segment, then a read barrier; missing rows and columns stored with the pad.
- `compute` = tilize.cpp / tilize_wh.cpp: `tilize_init` once, then per tile row wait, reserve,
  `tilize_block`, push, pop.
- `writer` = writer_unary_interleaved_start_id.cpp: per tile wait 1, one tile write, flush, pop 1; one write
  barrier at the end. `writer_block` = writer_unary_interleaved_start_id_wh.cpp: the same per tile, the tile
  id walking the block inside the Wt x Ht tile grid of each slice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

CB_IN = 0  # c_0: 32 sticks of one tile row of the block
CB_OUT = 16  # c_16: the tilized tile row
TILE_HEIGHT = 32


def reader(k: Any, *, stick_size_bytes: int) -> Iterator[Any]:
    src = k.tensor_accessor("input", k.get_arg("src_addr"))
    num_sticks = k.get_arg("num_sticks")
    num_tiles_per_block = k.get_arg("num_tiles_per_block")
    block_width_size = k.get_arg("block_width_size")
    stick_id = k.get_arg("start_stick_id")

    for _ in range(num_sticks // TILE_HEIGHT):
        base_src_noc_addr = []
        for _ in range(TILE_HEIGHT):
            base_src_noc_addr.append(stick_id)
            stick_id += 1
        yield from k.cb_reserve_back(CB_IN, num_tiles_per_block)
        l1_write_addr = k.get_write_ptr(CB_IN)
        for j in range(TILE_HEIGHT):
            yield from k.noc_async_read(src.get_noc_addr(base_src_noc_addr[j]), l1_write_addr, block_width_size)
            l1_write_addr += block_width_size
        yield from k.noc_async_read_barrier()
        yield from k.cb_push_back(CB_IN, num_tiles_per_block)


def reader_pad(k: Any, *, H: int, Ht_out: int, Wt: int, stick_in_bytes: int, stick_out_bytes: int) -> Iterator[Any]:
    src = k.tensor_accessor("input", k.get_arg("src_addr"))
    packed_pad = k.get_arg("packed_pad_value")
    first_tile_row = k.get_arg("first_tile_row")
    num_tile_rows = k.get_arg("num_tile_rows")

    for tile_row in range(first_tile_row, first_tile_row + num_tile_rows):
        slice_id, row_in_slice = divmod(tile_row, Ht_out)
        real_rows = min(max(H - row_in_slice * TILE_HEIGHT, 0), TILE_HEIGHT)
        stick_id = slice_id * H + row_in_slice * TILE_HEIGHT
        yield from k.cb_reserve_back(CB_IN, Wt)
        l1_write_addr = k.get_write_ptr(CB_IN)
        for j in range(TILE_HEIGHT):
            if j < real_rows:
                yield from k.noc_async_read(src.get_noc_addr(stick_id + j), l1_write_addr, stick_in_bytes)
                yield from k.store_l1(l1_write_addr + stick_in_bytes, packed_pad, stick_out_bytes - stick_in_bytes)
                yield from k.noc_async_read_barrier()
            else:
                yield from k.store_l1(l1_write_addr, packed_pad, stick_out_bytes)
            l1_write_addr += stick_out_bytes
        yield from k.cb_push_back(CB_IN, Wt)


def reader_block(k: Any, *, H: int, third_dim: int, elem_bytes: int, W_in_bytes: int) -> Iterator[Any]:
    src = k.tensor_accessor("input", k.get_arg("src_addr"))
    packed_pad = k.get_arg("packed_pad_value")
    block_row_bytes = k.get_arg("block_row_bytes")  # w tiles x 32 values: one stick of the block in L1
    start_row = k.get_arg("start_row")
    start_col_bytes = k.get_arg("start_col_bytes")
    w = k.get_arg("width_tiles")
    h = k.get_arg("height_tiles")
    read_bytes = min(block_row_bytes, W_in_bytes - start_col_bytes)  # the segment clipped at the input's width

    for slice_id in range(third_dim):
        for t in range(h):
            yield from k.cb_reserve_back(CB_IN, w)
            l1_write_addr = k.get_write_ptr(CB_IN)
            for j in range(TILE_HEIGHT):
                row = (start_row + t) * TILE_HEIGHT + j
                if row < H and read_bytes > 0:
                    stick_id = slice_id * H + row
                    yield from k.noc_async_read(src.get_noc_addr(stick_id, start_col_bytes), l1_write_addr, read_bytes)
                    yield from k.noc_async_read_barrier()
                    yield from k.store_l1(l1_write_addr + read_bytes, packed_pad, block_row_bytes - read_bytes)
                else:
                    yield from k.store_l1(l1_write_addr, packed_pad, block_row_bytes)
                l1_write_addr += block_row_bytes
            yield from k.cb_push_back(CB_IN, w)


def compute(k: Any, *, per_core_block_cnt: int, per_core_block_tile_cnt: int) -> Iterator[Any]:
    yield from k.tilize_init(CB_IN)
    for _ in range(per_core_block_cnt):
        yield from k.cb_wait_front(CB_IN, per_core_block_tile_cnt)
        yield from k.cb_reserve_back(CB_OUT, per_core_block_tile_cnt)
        yield from k.tilize_block(CB_IN, per_core_block_tile_cnt, CB_OUT)
        yield from k.cb_push_back(CB_OUT, per_core_block_tile_cnt)
        yield from k.cb_pop_front(CB_IN, per_core_block_tile_cnt)


def writer(k: Any, *, tile_bytes: int) -> Iterator[Any]:
    dst = k.tensor_accessor("output", k.get_arg("dst_addr"))
    num_tiles = k.get_arg("num_tiles")
    start_id = k.get_arg("start_id")

    for i in range(start_id, start_id + num_tiles):
        yield from k.cb_wait_front(CB_OUT, 1)
        l1_read_addr = k.get_read_ptr(CB_OUT)
        yield from k.noc_async_write(l1_read_addr, dst.get_noc_addr(i), tile_bytes)
        yield from k.noc_async_writes_flushed()
        yield from k.cb_pop_front(CB_OUT, 1)
    yield from k.noc_async_write_barrier()


def writer_block(k: Any, *, tile_bytes: int, tiles_per_slice: int, third_dim: int, Wt: int) -> Iterator[Any]:
    dst = k.tensor_accessor("output", k.get_arg("dst_addr"))
    first_tile = k.get_arg("first_tile")  # start_row * Wt + start_col
    w = k.get_arg("width_tiles")
    h = k.get_arg("height_tiles")

    for slice_id in range(third_dim):
        for row in range(h):
            for col in range(w):
                tile_id = first_tile + slice_id * tiles_per_slice + row * Wt + col
                yield from k.cb_wait_front(CB_OUT, 1)
                l1_read_addr = k.get_read_ptr(CB_OUT)
                yield from k.noc_async_write(l1_read_addr, dst.get_noc_addr(tile_id), tile_bytes)
                yield from k.noc_async_writes_flushed()
                yield from k.cb_pop_front(CB_OUT, 1)
    yield from k.noc_async_write_barrier()
