"""Functional memory: DRAM banks and per-core L1 as byte arrays, so simulated pages carry real data.

DRAM is one growable byte array per bank, addressed by `NocAddress(bank, address)`. L1 is one byte array per
core covering the whole L1, addressed like the device (CBs sit at the bottom of the free region), so a
kernel that writes past a CB's ring corrupts its neighbour exactly as it would on the device. Host tensors
enter and leave through the interleaved page layout of a `DramBuffer` (page p in bank p mod B).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from perfmodel.errors import InputError
from perfmodel.numerics.formats import get_format, round_to_format, to_float32
from perfmodel.program import DramBuffer


class FunctionalMemory:
    def __init__(self, num_banks: int, l1_bytes: int) -> None:
        self.num_banks = num_banks
        self.l1_bytes = l1_bytes
        self.dram: list[np.ndarray] = [np.zeros(0, dtype=np.uint8) for _ in range(num_banks)]
        self.l1: dict[tuple[int, int], np.ndarray] = {}

    # ---- raw bytes -------------------------------------------------------------------------------------
    def _bank(self, bank: int, end: int) -> np.ndarray:
        arr = self.dram[bank]
        if end > arr.size:
            grown = np.zeros(max(end, 2 * arr.size), dtype=np.uint8)
            grown[: arr.size] = arr
            self.dram[bank] = arr = grown
        return arr

    def l1_of(self, core: tuple[int, int]) -> np.ndarray:
        mem = self.l1.get(core)
        if mem is None:
            mem = self.l1[core] = np.zeros(self.l1_bytes, dtype=np.uint8)
        return mem

    def _l1_range(self, core: tuple[int, int], addr: int, nbytes: int) -> np.ndarray:
        if addr < 0 or addr + nbytes > self.l1_bytes:
            raise InputError(f"L1 access [{addr}, {addr + nbytes}) on core {core} is outside L1 ({self.l1_bytes} B)")
        return self.l1_of(core)[addr : addr + nbytes]

    def read_dram_to_l1(self, bank: int, address: int, core: tuple[int, int], l1_addr: int, nbytes: int) -> None:
        src = self._bank(bank, address + nbytes)[address : address + nbytes]
        self._l1_range(core, l1_addr, nbytes)[:] = src

    def write_l1_to_dram(self, core: tuple[int, int], l1_addr: int, bank: int, address: int, nbytes: int) -> None:
        self._bank(bank, address + nbytes)[address : address + nbytes] = self._l1_range(core, l1_addr, nbytes)

    def l1_read(self, core: tuple[int, int], addr: int, nbytes: int) -> np.ndarray:
        return self._l1_range(core, addr, nbytes)

    def l1_write(self, core: tuple[int, int], addr: int, data: np.ndarray) -> None:
        raw = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
        self._l1_range(core, addr, raw.size)[:] = raw

    def reserve(self, buffers: Iterable[DramBuffer]) -> None:
        """Allocate the banks for `buffers` at once (they grow on demand otherwise; the bytes are the same)."""
        ends = [0] * self.num_banks
        for buf in buffers:
            for bank in range(min(self.num_banks, buf.num_pages)):
                count = len(range(bank, buf.num_pages, self.num_banks))
                ends[bank] = max(ends[bank], buf.base_address + count * buf.aligned_page_size_bytes)
        for bank, end in enumerate(ends):
            self._bank(bank, end)

    # ---- host tensors ----------------------------------------------------------------------------------
    def load_buffer(self, buf: DramBuffer, values: np.ndarray) -> None:
        """Write a host tensor into `buf`'s pages (host conversion to the buffer format: round to nearest even)."""
        fmt = get_format(buf.data_format)
        data = round_to_format(np.asarray(values).astype(np.float32), fmt, mode="rne")
        raw = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
        if raw.size != buf.num_pages * buf.page_size_bytes:
            raise InputError(
                f"input of {np.size(values)} values does not fill DRAM buffer {buf.name!r} "
                f"({buf.num_pages} pages of {buf.page_size_bytes} B in {fmt.name})"
            )
        pages = raw.reshape(buf.num_pages, buf.page_size_bytes)
        for bank, view in self._bank_views(buf):
            view[:, : buf.page_size_bytes] = pages[bank :: self.num_banks]

    def read_buffer(self, buf: DramBuffer) -> np.ndarray:
        """The pages of `buf` as a flat array of its data format (a block-float format: its decoded float32 values)."""
        fmt = get_format(buf.data_format)
        pages = np.empty((buf.num_pages, buf.page_size_bytes), dtype=np.uint8)
        for bank, view in self._bank_views(buf):
            pages[bank :: self.num_banks] = view[:, : buf.page_size_bytes]
        if fmt.is_block_float:
            return to_float32(pages, fmt)
        return pages.reshape(-1).view(fmt.dtype)

    def _bank_views(self, buf: DramBuffer):  # type: ignore[no-untyped-def]
        for bank in range(min(self.num_banks, buf.num_pages)):
            count = len(range(bank, buf.num_pages, self.num_banks))
            start = buf.base_address
            end = start + count * buf.aligned_page_size_bytes
            arr = self._bank(bank, end)
            yield bank, arr[start:end].reshape(count, buf.aligned_page_size_bytes)
