"""Kernel mirrors of the dram_unary microbenchmark (tt-metal tests/tt_metal/tt_metal/data_movement, dram_unary).

One data-movement RISC-V issues `num_transactions` back-to-back transfers of `transaction_bytes` between one
L1 buffer and consecutive addresses of one DRAM bank, then one barrier. The device-profiler zone
"dram_unary" wraps the issue loop and the barrier, as in the measured suite (kernel setup is outside it).

Compile-time arguments: transaction_bytes, num_transactions, bank. Runtime arguments: dram_addr.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from perfmodel.kernel_api import NocAddress

CB_L1 = 0  # the L1 buffer every transaction reads into / writes from
ZONE = "dram_unary"


def reader(k: Any, *, transaction_bytes: int, num_transactions: int, bank: int) -> Iterator[Any]:
    """DRAM -> L1 (NCRISC, NoC 0)."""
    dram_addr = k.get_arg("dram_addr")
    l1_addr = k.get_write_ptr(CB_L1)
    yield from k.device_zone_start(ZONE)
    for i in range(num_transactions):
        yield from k.noc_async_read(NocAddress(bank, dram_addr + i * transaction_bytes), l1_addr, transaction_bytes)
    yield from k.noc_async_read_barrier()
    yield from k.device_zone_end(ZONE)


def writer(k: Any, *, transaction_bytes: int, num_transactions: int, bank: int) -> Iterator[Any]:
    """L1 -> DRAM (BRISC, NoC 1)."""
    dram_addr = k.get_arg("dram_addr")
    l1_addr = k.get_read_ptr(CB_L1)
    yield from k.device_zone_start(ZONE)
    for i in range(num_transactions):
        yield from k.noc_async_write(l1_addr, NocAddress(bank, dram_addr + i * transaction_bytes), transaction_bytes)
    yield from k.noc_async_write_barrier()
    yield from k.device_zone_end(ZONE)
