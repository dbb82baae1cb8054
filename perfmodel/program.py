"""The one model of a program that every engine consumes.

A program factory (op + shape + board + config) returns a `Program`: the circular-buffer table (the same on
every core), the DRAM buffers, the work split with each core's compile-time and runtime arguments, and the
kernels. Kernels are plain generator functions `fn(k, **compile_time_args)` that mirror tt-metal C++
kernels; `k` is an engine's kernel context (see `perfmodel.kernel_api`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from perfmodel.compute_config import ComputeConfig
from perfmodel.device.profile import DeviceProfile
from perfmodel.split import CoreRange, WorkSplit

KernelFn = Callable[..., Iterator[Any]]

# Kernel slots and the RISC-V / NoC each runs on by default in tt-metal
# (ReaderDataMovementConfig: RISCV_1 = NCRISC on NoC 0; WriterDataMovementConfig: RISCV_0 = BRISC on NoC 1).
KERNEL_SLOTS: Mapping[str, tuple[str, int | None]] = MappingProxyType(
    {"reader": ("ncrisc", 0), "compute": ("trisc", None), "writer": ("brisc", 1)}
)


def kernel_specs(op_name: str, defaults: Mapping[str, KernelFn], kernels: Mapping[str, KernelFn] | None) -> tuple:
    """The program's `KernelSpec`s: `defaults` (slot -> mirror) with the slots of `kernels` swapped in.

    A factory calls this so that every op refuses the same mistakes: `kernels` not a mapping, a slot the
    op does not have, or a kernel that is not a function.
    """
    from perfmodel.errors import InputError

    if kernels is None:
        kernels = {}
    if not isinstance(kernels, Mapping):
        raise InputError(f"{op_name} kernels must be a dict of slot -> kernel function, got {kernels!r}")
    chosen = dict(defaults)
    for name, fn in kernels.items():
        if name not in chosen:
            raise InputError(f"unknown kernel slot {name!r} of {op_name} (known: {', '.join(chosen)})")
        if not callable(fn):
            raise InputError(f"kernel {name!r} of {op_name} must be a generator function, got {fn!r}")
        chosen[name] = fn
    return tuple(KernelSpec(name, fn, *KERNEL_SLOTS[name]) for name, fn in chosen.items())


def frozen_mapping(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class CircularBuffer:
    """One CB as a program factory configures it: `num_pages` pages of `page_size_bytes`."""

    index: int
    name: str
    page_size_bytes: int
    num_pages: int
    data_format: str

    @property
    def total_bytes(self) -> int:
        return self.page_size_bytes * self.num_pages


@dataclass(frozen=True)
class DramBuffer:
    """An interleaved DRAM buffer: page p lives in bank p mod B at offset (p div B) x aligned page size.

    `passes`: how many times the kernels move every byte of it (2 for an input read twice).
    """

    name: str
    num_pages: int
    page_size_bytes: int
    aligned_page_size_bytes: int
    base_address: int
    data_format: str
    passes: int = 1

    @property
    def total_bytes(self) -> int:
        return self.num_pages * self.page_size_bytes

    def page_location(self, page: int, num_banks: int) -> tuple[int, int]:
        """(bank, byte address inside the bank) of page `page`."""
        return page % num_banks, self.base_address + (page // num_banks) * self.aligned_page_size_bytes


@dataclass(frozen=True)
class KernelSpec:
    """One kernel slot of the program: its mirror function and where it runs."""

    name: str
    fn: KernelFn
    risc: str
    noc: int | None

    @property
    def source(self) -> str:
        code = getattr(self.fn, "__code__", None)
        return f"{code.co_filename}:{code.co_firstlineno}" if code else repr(self.fn)


@dataclass(frozen=True)
class CoreProgram:
    """What one core runs: per kernel, its compile-time arguments (passed as keywords) and runtime args."""

    core: tuple[int, int]
    group: int
    start_unit: int
    num_units: int
    compile_time_args: Mapping[str, Mapping[str, Any]]
    runtime_args: Mapping[str, Mapping[str, Any]]
    # Pages of a CB on this core where its core group configures fewer than the program's table (the regions
    # of a 2-D split); CBs not named here have the table's pages.
    cb_pages: Mapping[int, int] = field(default_factory=frozen_mapping)


@dataclass(frozen=True)
class Program:
    """A built program. Engines read it; nothing in it is recomputed elsewhere."""

    op_name: str
    device: DeviceProfile
    shape: tuple[int, ...]
    dtype: str
    config: Any
    units: int
    cbs: tuple[CircularBuffer, ...]
    buffers: tuple[DramBuffer, ...]
    split: WorkSplit
    kernels: tuple[KernelSpec, ...]
    cores: tuple[CoreProgram, ...]
    # Op-specific facts that checks and models may use (e.g. Wt, the unit of work); free-form but frozen.
    attributes: Mapping[str, Any] = field(default_factory=frozen_mapping)
    # The compute kernel's ComputeConfig (math fidelity, Dst width and sync mode), read by the helper library.
    compute_config: ComputeConfig = field(default_factory=ComputeConfig)

    @property
    def num_cores(self) -> int:
        return len(self.cores)

    @property
    def l1_bytes_per_core(self) -> int:
        return sum(cb.total_bytes for cb in self.cbs)

    def cb(self, index: int) -> CircularBuffer:
        for cb in self.cbs:
            if cb.index == index:
                return cb
        raise KeyError(f"program {self.op_name} has no CB c_{index}")

    def kernel(self, name: str) -> KernelSpec:
        for spec in self.kernels:
            if spec.name == name:
                return spec
        raise KeyError(f"program {self.op_name} has no kernel {name!r}")

    def buffer(self, name: str) -> DramBuffer:
        for buf in self.buffers:
            if buf.name == name:
                return buf
        raise KeyError(f"program {self.op_name} has no DRAM buffer {name!r}")

    @property
    def core_groups(self) -> tuple[tuple[tuple[CoreRange, ...], int], ...]:
        """(rectangles, units per core) of each non-empty core group, in tt-metal's order."""
        s = self.split
        groups = ((s.core_group_1, s.units_per_core_group_1), (s.core_group_2, s.units_per_core_group_2))
        return tuple((ranges, units) for ranges, units in groups if ranges)

    @property
    def dram_bytes(self) -> int:
        """Bytes the op moves between DRAM and the cores (every buffer read or written `passes` times)."""
        return sum(buf.total_bytes * buf.passes for buf in self.buffers)
