"""What kernel mirrors are written against: the kernel context protocol and the compute input policies.

A kernel is a generator function `fn(k, **compile_time_args)`. Every call on `k` that can take time or
block is itself a generator and is used as `yield from k.call(...)`, with tt-metal's names and semantics
(shared/reference/centralize_w_rm.md §3-4). Engines (the discrete-event simulator, the dry-run checker)
provide concrete contexts; kernels never see which one runs them.

A compute kernel runs three times, once per compute thread (TRISC0 unpack, TRISC1 math, TRISC2 pack), as
tt-metal compiles it three times: every call does only its own thread's part (`perfmodel.kernel_lib` says
which), and the threads meet in two pseudo-CBs per core, `SRC_CB` (unpack -> math, the Src banks) and
`DST_CB` (math -> pack, the Dst sections of `tile_regs_acquire` / `commit` / `wait` / `release`). Their
indices are negative, so they cannot clash with a real CB; reports name them "srcA/B" and "Dst".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

from perfmodel.errors import InputError

THREADS = ("unpack", "math", "pack")
SRC_CB = -1  # pseudo-CB: unpacked tiles handed from the unpack thread to math (the Src banks)
DST_CB = -2  # pseudo-CB: Dst sections handed from math to the pack thread (the MATH_PACK semaphore)
_PSEUDO_LABELS = {SRC_CB: "srcA/B", DST_CB: "Dst"}


def cb_label(cb: int) -> str:
    """How reports name a CB: c_<index>, or srcA/B / Dst for the pseudo-CBs between the compute threads."""
    return _PSEUDO_LABELS.get(cb, f"c_{cb}")


WaitMode = Literal["per_tile", "upfront", "caller_managed"]
PopMode = Literal["per_tile", "at_end", "never", "caller_managed"]
_WAITS = ("per_tile", "upfront", "caller_managed")
_POPS = ("per_tile", "at_end", "never", "caller_managed")


@dataclass(frozen=True)
class InputPolicy:
    """How a compute helper waits for and pops one input CB (the helper library's input policies)."""

    wait: WaitMode = "per_tile"
    pop: PopMode = "per_tile"

    def __post_init__(self) -> None:
        if self.wait not in _WAITS:
            raise InputError(f"InputPolicy wait={self.wait!r} is not one of {', '.join(_WAITS)}")
        if self.pop not in _POPS:
            raise InputError(f"InputPolicy pop={self.pop!r} is not one of {', '.join(_POPS)}")


# The named policies of the helper library.
Streaming = InputPolicy(wait="per_tile", pop="per_tile")
Preloaded = InputPolicy(wait="caller_managed", pop="caller_managed")
Persistent = InputPolicy(wait="upfront", pop="never")


class NocAddress(NamedTuple):
    """A NoC address of DRAM: which bank and the byte address inside it."""

    bank: int
    address: int


class TensorAccessor(Protocol):
    def get_noc_addr(self, page_id: int, offset: int = 0) -> NocAddress: ...


Gen = Iterator[Any]


class KernelContext(Protocol):
    """The calls a kernel mirror may make. CBs are named by index (c_0 = 0, c_16 = 16)."""

    # arguments and addressing (no time)
    def get_arg(self, name: str) -> Any: ...
    def tensor_accessor(self, buffer_name: str, base_address: int) -> TensorAccessor: ...
    def get_write_ptr(self, cb: int) -> int: ...
    def get_read_ptr(self, cb: int) -> int: ...

    # circular buffers (in a compute kernel: wait / pop on the unpack thread, reserve / push on pack)
    def cb_reserve_back(self, cb: int, n: int) -> Gen: ...
    def cb_push_back(self, cb: int, n: int) -> Gen: ...
    def cb_wait_front(self, cb: int, n: int) -> Gen: ...
    def cb_pop_front(self, cb: int, n: int) -> Gen: ...

    # NoC
    def noc_async_read(self, src: NocAddress, dst_l1_addr: int, nbytes: int) -> Gen: ...
    def noc_async_read_barrier(self) -> Gen: ...
    def noc_async_write(self, src_l1_addr: int, dst: NocAddress, nbytes: int) -> Gen: ...
    def noc_async_write_barrier(self) -> Gen: ...
    def noc_async_writes_flushed(self) -> Gen: ...  # the writes have left the core (not acknowledged)

    # dataflow helpers
    def generate_reduce_scaler(self, cb: int, packed_scaler: int) -> Gen: ...

    # device-profiler zones (no time): the simulator reports each zone's duration in details["zones"]
    def device_zone_start(self, name: str) -> Gen: ...
    def device_zone_end(self, name: str) -> Gen: ...

    # compute helper library, with their CB traffic (waits and pops on unpack, reserves and pushes on pack)
    def tilize(self, icb: int, block_w: int, ocb: int, num_blocks: int = 1) -> Gen: ...
    def reduce(
        self,
        icb: int,
        scaler_cb: int,
        ocb: int,
        Wt: int,
        pool: str = "sum",
        dim: str = "row",
        input_mode: str = "persistent",
    ) -> Gen: ...
    def sub(
        self,
        a_cb: int,
        b_cb: int,
        out_cb: int,
        Wt: int,
        broadcast: str = "col",
        a_policy: InputPolicy = Streaming,
        b_policy: InputPolicy = Streaming,
    ) -> Gen: ...
    def untilize(self, icb: int, ocb: int, Wt: int) -> Gen: ...
    def compute_tiles(
        self, name: str, in_cbs: tuple[int, ...], out_cb: int, num_tiles: int, fn: Any = None
    ) -> Gen: ...  # fn(*input tiles) -> output tile, for functional runs

    # low-level compute API (no call on a real CB): the Dst handshake (acquire / commit on math, wait /
    # release on pack: a section of DST_CB), unpack to Dst (copy_tile: unpack, then math), SFPU functions
    # (math), pack (pack)
    def init_sfpu(self, icb: int, ocb: int) -> Gen: ...
    def tile_regs_acquire(self) -> Gen: ...
    def tile_regs_commit(self) -> Gen: ...
    def tile_regs_wait(self) -> Gen: ...
    def tile_regs_release(self) -> Gen: ...
    def copy_tile(self, icb: int, itile: int, idst: int) -> Gen: ...
    def sfpu_init(self, op: str) -> Gen: ...  # e.g. sfpu_init("relu_tile") is relu_tile_init()
    def sfpu_tile(self, op: str, idst: int) -> Gen: ...
    def relu_tile_init(self) -> Gen: ...
    def relu_tile(self, idst: int) -> Gen: ...
    def pack_tile(self, idst: int, ocb: int, output_tile_index: int = 0) -> Gen: ...
