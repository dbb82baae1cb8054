"""Kernel mirrors of the two-pass centralize_w_rm: rows too wide for a whole tile row in L1.

The CBs hold blocks of `block_wt` tiles instead of a whole tile row. Per tile row of W = Wt x 32 values:

- pass one: the reader reads the row block by block (per block, the 32 stick segments of block_wt x 32
  values, `block` x block_size_bytes into each stick, one read barrier, push block_wt); compute tilizes each
  block, reduces it with the scaler (1/W) into a partial row-sum tile and accumulates the partials: the first
  partial is packed straight into the accumulator c_3, later ones into c_5 and added to c_3 in place (c_3
  holds 2 pages: the running sum being read and the new sum being packed). After the last block c_3 holds
  the row mean.
- pass two: the reader reads the row again block by block; compute tilizes each block, subtracts the mean
  (column broadcast; the mean tile is waited once per row and popped at its end), untilizes the block, and
  the writer writes the 32 stick segments of the block into their place in the output sticks.

Compile-time arguments:
- reader: stick_size_bytes (W values), block_size_bytes (block_wt x 32 values), packed_scaler, Ht, Wt,
  block_wt;
- compute: Ht, Wt, block_wt, data_format and fp32_dest_acc_en (from the program's compute config: the
  accumulator's add rounds like the Dst it runs in);
- writer: stick_size_bytes, block_size_bytes, Ht, Wt, block_wt.
Runtime arguments, as the single pass: reader `src_addr`, `start_stick`; writer `dst_addr`, `start_stick`.
block_wt divides Wt (the factory refuses others), so every reservation divides its CB's capacity.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from perfmodel.kernel_api import InputPolicy, Preloaded
from perfmodel.numerics.tiles import add_tiles

CB_IN_RM = 0  # c_0: 32 input stick segments of one block
CB_IN_TILED = 1  # c_1: the tilized block
CB_SCALER = 2  # c_2: scaler tile holding 1/W
CB_ROW_SUM = 3  # c_3: running sum of the partials; the row mean once the last block is added
CB_CENTRALIZED = 4  # c_4: centralized block
CB_PARTIAL = 5  # c_5: partial row sum of one block
CB_OUT_RM = 16  # c_16: 32 output stick segments of one block

TILE_HEIGHT = 32
PASSES = 2  # the reader streams every row twice: for the mean, then for the subtract


def reader(
    k: Any,
    *,
    stick_size_bytes: int,
    block_size_bytes: int,
    packed_scaler: int,
    Ht: int,
    Wt: int,
    block_wt: int,
) -> Iterator[Any]:
    src = k.tensor_accessor("input", k.get_arg("src_addr"))
    stick_id = k.get_arg("start_stick")
    num_blocks = Wt // block_wt

    yield from k.generate_reduce_scaler(CB_SCALER, packed_scaler)

    for _ in range(Ht):
        for _ in range(PASSES):
            for block in range(num_blocks):
                offset = block * block_size_bytes
                yield from k.cb_reserve_back(CB_IN_RM, block_wt)
                l1_write_addr = k.get_write_ptr(CB_IN_RM)
                for j in range(TILE_HEIGHT):
                    yield from k.noc_async_read(src.get_noc_addr(stick_id + j, offset), l1_write_addr, block_size_bytes)
                    l1_write_addr += block_size_bytes
                yield from k.noc_async_read_barrier()
                yield from k.cb_push_back(CB_IN_RM, block_wt)
        stick_id += TILE_HEIGHT


def compute(k: Any, *, Ht: int, Wt: int, block_wt: int, data_format: str, fp32_dest_acc_en: bool) -> Iterator[Any]:
    num_blocks = Wt // block_wt
    add = functools.partial(add_tiles, data_format=data_format, fp32_dest_acc_en=fp32_dest_acc_en)
    block_in = InputPolicy(wait="upfront", pop="at_end")

    for _ in range(Ht):
        # Pass one: the row mean as the sum of the blocks' partial sums (each already scaled by 1/W).
        for block in range(num_blocks):
            yield from k.tilize(CB_IN_RM, block_wt, CB_IN_TILED, num_blocks=1)
            if block == 0:
                yield from k.reduce(
                    CB_IN_TILED, CB_SCALER, CB_ROW_SUM, block_wt, pool="sum", dim="row", input_mode="streaming"
                )
            else:
                yield from k.reduce(
                    CB_IN_TILED, CB_SCALER, CB_PARTIAL, block_wt, pool="sum", dim="row", input_mode="streaming"
                )
                yield from k.compute_tiles("eltwise_binary", (CB_ROW_SUM, CB_PARTIAL), CB_ROW_SUM, 1, fn=add)

        # Pass two: centralize block by block against the mean, which stays in c_3 for the whole row.
        yield from k.cb_wait_front(CB_ROW_SUM, 1)
        for _ in range(num_blocks):
            yield from k.tilize(CB_IN_RM, block_wt, CB_IN_TILED, num_blocks=1)
            yield from k.sub(
                CB_IN_TILED,
                CB_ROW_SUM,
                CB_CENTRALIZED,
                block_wt,
                broadcast="col",
                a_policy=block_in,
                b_policy=Preloaded,
            )
            yield from k.untilize(CB_CENTRALIZED, CB_OUT_RM, block_wt)
        yield from k.cb_pop_front(CB_ROW_SUM, 1)


def writer(k: Any, *, stick_size_bytes: int, block_size_bytes: int, Ht: int, Wt: int, block_wt: int) -> Iterator[Any]:
    dst = k.tensor_accessor("output", k.get_arg("dst_addr"))
    stick_id = k.get_arg("start_stick")
    num_blocks = Wt // block_wt

    for _ in range(Ht):
        for block in range(num_blocks):
            offset = block * block_size_bytes
            yield from k.cb_wait_front(CB_OUT_RM, block_wt)
            l1_read_addr = k.get_read_ptr(CB_OUT_RM)
            for j in range(TILE_HEIGHT):
                yield from k.noc_async_write(l1_read_addr, dst.get_noc_addr(stick_id + j, offset), block_size_bytes)
                l1_read_addr += block_size_bytes
            yield from k.noc_async_write_barrier()
            yield from k.cb_pop_front(CB_OUT_RM, block_wt)
        stick_id += TILE_HEIGHT
