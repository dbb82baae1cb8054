"""Kernel mirrors of the unary op: reader (NCRISC, NoC 0), compute (TRISC0/1/2), writer (BRISC, NoC 1).

They read like ttnn's reader_unary_interleaved_start_id.cpp, eltwise_sfpu.cpp and
writer_unary_interleaved_start_id.cpp (shared/reference/eltwise_unary.md §1), with the block knob of the
double_buffer example (§2): the reader reserves `block_tiles` pages, reads them, waits once and pushes them;
the writer waits for a block, writes it, waits until the writes have left the core and pops it. At
`block_tiles` = 1 both are ttnn's kernels. A core's last block is shorter when its tiles run out.

Compile-time arguments:
- reader, writer: block_tiles, page_bytes (one tile of the tensor's format);
- compute: per_core_block_cnt (tiles of this core), per_core_block_dim (1), sfpu_op_chain (the SFPU calls of
  SFPU_OP_CHAIN_0, e.g. ("relu_tile",); empty for copy), fp32_dest_acc_en.
Runtime arguments (`k.get_arg`): reader src_addr, num_tiles, start_id; writer dst_addr, num_tiles, start_id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

CB_IN = 0  # c_0: input tiles
CB_OUT = 2  # c_2: output tiles


def reader(k: Any, *, block_tiles: int, page_bytes: int) -> Iterator[Any]:
    src = k.tensor_accessor("input", k.get_arg("src_addr"))
    num_tiles = k.get_arg("num_tiles")
    start_id = k.get_arg("start_id")

    end_id = start_id + num_tiles
    i = start_id
    while i < end_id:
        block = min(block_tiles, end_id - i)
        yield from k.cb_reserve_back(CB_IN, block)
        l1_write_addr = k.get_write_ptr(CB_IN)
        for _ in range(block):
            yield from k.noc_async_read(src.get_noc_addr(i), l1_write_addr, page_bytes)
            l1_write_addr += page_bytes
            i += 1
        yield from k.noc_async_read_barrier()
        yield from k.cb_push_back(CB_IN, block)


def compute(
    k: Any,
    *,
    per_core_block_cnt: int,
    per_core_block_dim: int,
    sfpu_op_chain: tuple[str, ...],
    fp32_dest_acc_en: bool,
) -> Iterator[Any]:
    yield from k.init_sfpu(CB_IN, CB_OUT)
    for _ in range(per_core_block_cnt):
        yield from k.cb_reserve_back(CB_OUT, per_core_block_dim)
        for _ in range(per_core_block_dim):
            yield from k.tile_regs_acquire()
            yield from k.cb_wait_front(CB_IN, 1)
            yield from k.copy_tile(CB_IN, 0, 0)
            for op in sfpu_op_chain:  # SFPU_OP_CHAIN_0: e.g. relu_tile_init(); relu_tile(0);
                yield from k.sfpu_init(op)
                yield from k.sfpu_tile(op, 0)
            yield from k.tile_regs_commit()
            yield from k.tile_regs_wait()
            yield from k.pack_tile(0, CB_OUT)
            yield from k.cb_pop_front(CB_IN, 1)
            yield from k.tile_regs_release()
        yield from k.cb_push_back(CB_OUT, per_core_block_dim)


def writer(k: Any, *, block_tiles: int, page_bytes: int) -> Iterator[Any]:
    dst = k.tensor_accessor("output", k.get_arg("dst_addr"))
    num_tiles = k.get_arg("num_tiles")
    start_id = k.get_arg("start_id")

    end_id = start_id + num_tiles
    i = start_id
    while i < end_id:
        block = min(block_tiles, end_id - i)
        yield from k.cb_wait_front(CB_OUT, block)
        l1_read_addr = k.get_read_ptr(CB_OUT)
        for _ in range(block):
            yield from k.noc_async_write(l1_read_addr, dst.get_noc_addr(i), page_bytes)
            l1_read_addr += page_bytes
            i += 1
        yield from k.noc_async_writes_flushed()
        yield from k.cb_pop_front(CB_OUT, block)
    yield from k.noc_async_write_barrier()
