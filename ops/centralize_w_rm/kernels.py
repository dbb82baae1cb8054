"""Kernel mirrors of centralize_w_rm: reader (NCRISC, NoC 0), compute (TRISC0/1/2), writer (BRISC, NoC 1).

They read like the tt-metal C++ kernels (reference: shared/reference/centralize_w_rm.md §3). Every call on
the kernel context `k` is a generator, used with `yield from`, so an engine can time it, block it on a CB,
or just record it.

Compile-time arguments:
- reader: stick_size_bytes (one row of W values), packed_scaler (bf16 of 1/W, truncated, packed twice into
  32 bits), Ht (tile rows of this core), Wt;
- compute: Ht, Wt;
- writer: stick_size_bytes, Ht, Wt.
Runtime arguments (`k.get_arg`): reader `src_addr`, `start_stick`; writer `dst_addr`, `start_stick`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from perfmodel.kernel_api import InputPolicy

CB_IN_RM = 0  # c_0: 32 input sticks of one tile row
CB_IN_TILED = 1  # c_1: tilized tile row, persists through reduce for the subtract
CB_SCALER = 2  # c_2: scaler tile holding 1/W
CB_MEAN_TILED = 3  # c_3: row means, column 0 of one tile
CB_CENTRALIZED = 4  # c_4: centralized tile row
CB_OUT_RM = 16  # c_16: 32 output sticks

TILE_HEIGHT = 32


def reader(k: Any, *, stick_size_bytes: int, packed_scaler: int, Ht: int, Wt: int) -> Iterator[Any]:
    src = k.tensor_accessor("input", k.get_arg("src_addr"))
    stick_id = k.get_arg("start_stick")

    yield from k.generate_reduce_scaler(CB_SCALER, packed_scaler)

    for _ in range(Ht):
        yield from k.cb_reserve_back(CB_IN_RM, Wt)
        l1_write_addr = k.get_write_ptr(CB_IN_RM)
        for _ in range(TILE_HEIGHT):
            yield from k.noc_async_read(src.get_noc_addr(stick_id), l1_write_addr, stick_size_bytes)
            l1_write_addr += stick_size_bytes
            stick_id += 1
        yield from k.noc_async_read_barrier()
        yield from k.cb_push_back(CB_IN_RM, Wt)


def compute(k: Any, *, Ht: int, Wt: int) -> Iterator[Any]:
    for _ in range(Ht):
        yield from k.tilize(CB_IN_RM, Wt, CB_IN_TILED, num_blocks=1)
        yield from k.reduce(CB_IN_TILED, CB_SCALER, CB_MEAN_TILED, Wt, pool="sum", dim="row", input_mode="persistent")
        yield from k.sub(
            CB_IN_TILED,
            CB_MEAN_TILED,
            CB_CENTRALIZED,
            Wt,
            broadcast="col",
            a_policy=InputPolicy(wait="caller_managed", pop="at_end"),
            b_policy=InputPolicy(wait="upfront", pop="at_end"),
        )
        yield from k.untilize(CB_CENTRALIZED, CB_OUT_RM, Wt)


def writer(k: Any, *, stick_size_bytes: int, Ht: int, Wt: int) -> Iterator[Any]:
    dst = k.tensor_accessor("output", k.get_arg("dst_addr"))
    stick_id = k.get_arg("start_stick")

    for _ in range(Ht):
        yield from k.cb_wait_front(CB_OUT_RM, Wt)
        l1_read_addr = k.get_read_ptr(CB_OUT_RM)
        for _ in range(TILE_HEIGHT):
            yield from k.noc_async_write(l1_read_addr, dst.get_noc_addr(stick_id), stick_size_bytes)
            l1_read_addr += stick_size_bytes
            stick_id += 1
        yield from k.noc_async_write_barrier()
        yield from k.cb_pop_front(CB_OUT_RM, Wt)
