"""The compute helper library and the dataflow helpers, shared by every engine, on top of the four CB calls.

Every engine context (the simulator's, the analytic model's recorder, the dry-run checker) derives from
`KernelContextBase` and provides the CB primitives `_cb_wait` / `_cb_reserve` / `_cb_push` / `_cb_pop`, a
`_compute(name, cycles)` busy step and, for functional runs, page access. The helpers below then issue exactly
the same calls in the same order whatever runs them.

Three compute threads. As tt-metal compiles a compute kernel three times (UNPACK(), MATH(), PACK()), an
engine runs the compute kernel mirror once per thread, each time with a context whose `thread` is "unpack",
"math" or "pack" (data-movement kernels: None). Every call does only its own thread's part:
`cb_wait_front` / `cb_pop_front` run on unpack, `cb_reserve_back` / `cb_push_back` on pack (no-ops on the
other two), `tile_regs_acquire` / `tile_regs_commit` on math, `tile_regs_wait` / `tile_regs_release` on pack,
and a helper's work is split into unpack, math and pack busy time (`costs.thread_cycles`, at the program's
fidelity phases). The threads synchronise through two pseudo-CBs of each core (`kernel_api.SRC_CB`,
`kernel_api.DST_CB`, see `pseudo_cbs`), so every engine reuses its CB machinery:

- SRC (unpack -> math, "srcA/B"): 2 x `dst` tiles, the two Src banks at chunk granularity (est: the banks
  hold one tile each per operand; a chunk-deep queue keeps the event count per chunk, not per tile);
- DST (math -> pack, "Dst"): 2 sections in SyncHalf (math fills one half while pack drains the other), 1 in
  SyncFull (`dst_full_sync_en`: they take turns). acquire = reserve(DST, 1), commit = push(DST, 1),
  wait = wait_front(DST, 1), release = pop(DST, 1).

A helper call is cut into chunks of at most `dst` tiles (`costs.dst_tiles`: SyncHalf 8 with a 16-bit Dst,
4 with fp32_dest_acc_en, SyncFull twice that). Per chunk of n tiles, with u, m, p a thread's cycles per tile:
- unpack: the helper's waits for the chunk; reserve(SRC, n); busy u; push(SRC, 1); busy (n-1)u;
  push(SRC, n-1); the helper's pops ("the unpacker has the tiles now");
- math: acquire; wait(SRC, 1); busy (n-1)m; wait(SRC, n); busy m; pop(SRC, n); the handshake
  (`dst.acquire_cycles`); commit. Math ends at max(start + n m, unpack's end + m): the tile pipeline;
- pack: wait; the helper's reserves; busy n p; the helper's pushes; release.
A call's setup (`cycles_per_call`) is paid on each of the three threads (each re-initialises). Per helper,
on the real CBs (the analytic model records the same calls):

- tilize(icb, block_w, ocb, num_blocks): per block: unpack wait_front(icb, block_w) ... pop_front(icb,
  block_w); pack reserve_back(ocb, block_w) in the first chunk, push_back(ocb, block_w) in the last.
- reduce(icb, scaler_cb, ocb, Wt, input_mode): one Dst section for the whole row (reduce ROW accumulates
  into one tile); unpack wait_front(scaler_cb, 1) (never popped); persistent: wait_front(icb, Wt), no pop;
  streaming: per chunk wait_front(icb, k) for k = 1..n, then n x pop_front(icb, 1); pack reserve_back(ocb,
  1), busy p once, push_back(ocb, 1). Only reduce's math time scales with the fidelity phases.
- sub(a, b, out, Wt, broadcast, a_policy, b_policy): upfront waits first (a: Wt pages; b: 1 page for
  broadcast "col", Wt for "none"); per chunk, per tile the per-tile waits (cumulative: the tile's index
  counted from this call's last pop, + 1), then after the SRC hand-off the per-tile pops (pop 1 per tile,
  a then b); pack per tile reserve_back(out, 1), busy p, push_back(out, 1); after the last chunk the
  at_end pops. "caller_managed" waits and "never"/"caller_managed" pops issue no call.
- untilize(icb, ocb, Wt): pack_untilize while Wt fits one acquire, else the slow unpack-untilize
  (`costs.untilize_variant`); unpack wait_front(icb, Wt) ... pop_front(icb, Wt); pack reserve_back(ocb,
  Wt) in the first chunk, push_back(ocb, Wt) in the last.
- compute_tiles(name, in_cbs, out_cb, n): per chunk, per tile wait_front(each in, k); after the hand-off
  per tile pop_front(each in, 1); pack per tile reserve_back(out, 1), push_back(out, 1).
- generate_reduce_scaler(cb, packed): reserve_back(cb, 1); fill (no time); push_back(cb, 1).

The low-level compute API (tt-metal's compute_kernel_api, for kernels that manage Dst themselves) issues no
call on a real CB; the kernel makes them, and the kernel's own tile_regs_* calls are the Dst handshake:
- init_sfpu(icb, ocb): the setup of "copy_tile" on each thread;
- copy_tile(icb, itile, idst): unpack hands one tile over SRC (u of "copy_tile"), math takes it into Dst
  (the datacopy, m of "copy_tile");
- sfpu_init(op): the setup of cost `op` on math; sfpu_tile(op, idst): its math cycles per tile;
- pack_tile(idst, ocb): p of "copy_tile" in the format of `ocb`, on pack;
- tilize_init(icb): the setup of "tilize" on each thread; tilize_block(icb, block_w, ocb): the tilize
  chunks without a CB call (the kernel waits, reserves, pushes and pops around it);
- pack_untilize_block(icb, block_ct, ocb, block_index, full_ct): its setup on every call (one sub-block
  per call), then the chunks without a CB call; the 32 rows of the block_ct tiles land in columns
  [block_index * block_ct * 32, ...) of the full_ct tiles wide rows at the back of ocb.
- noc_async_writes_flushed(): on the writer, the time until its writes since the last flush have left the
  core (`costs.write_departure_cycles`), not their acknowledgement.
- store_l1(l1_addr, packed_value, nbytes): a RISC-V's 4-byte pointer stores of a packed pad value (no time).

Functional runs carry the data across the threads: unpack reads the input pages when it unpacks them (before
it pops) and hands them to math in a per-core FIFO that follows SRC; math runs the numerics primitives and
hands the result (or its Dst tiles) to pack in a FIFO that follows DST; pack writes the output pages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from perfmodel import costs
from perfmodel.errors import InputError
from perfmodel.kernel_api import DST_CB, SRC_CB, THREADS, InputPolicy, NocAddress, Streaming
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.sfpu import pack_from_dst, sfpu_function, unpack_to_dst
from perfmodel.numerics.tiles import reduce_row_sum, sub_bcast_col, tilize_block, untilize_block
from perfmodel.program import CircularBuffer, CoreProgram, DramBuffer, KernelSpec, Program

Gen = Iterator[Any]
_NOTHING: tuple[()] = ()

_SUB_COSTS = {"col": "sub_bcast_col", "none": "eltwise_binary"}


class TensorAccessor:
    """NoC address of page `page_id` of an interleaved DRAM buffer (page p in bank p mod B)."""

    __slots__ = ("aligned_page_bytes", "base_address", "num_banks")

    def __init__(self, buf: DramBuffer, base_address: int, num_banks: int) -> None:
        self.base_address = base_address
        self.aligned_page_bytes = buf.aligned_page_size_bytes
        self.num_banks = num_banks

    def get_noc_addr(self, page_id: int, offset: int = 0) -> NocAddress:
        bank, row = page_id % self.num_banks, page_id // self.num_banks
        return NocAddress(bank, self.base_address + row * self.aligned_page_bytes + offset)


def pseudo_cbs(program: Program) -> tuple[CircularBuffer, CircularBuffer]:
    """The two pseudo-CBs that synchronise a core's compute threads: SRC (unpack -> math, 2 chunks of tiles)
    and DST (math -> pack, 2 sections in SyncHalf, 1 in SyncFull). No L1: page size 0."""
    cc = program.compute_config
    tiles = costs.dst_tiles(program.device, cc)
    src = CircularBuffer(SRC_CB, "srcA/B", 0, 2 * tiles, "bfloat16")
    dst = CircularBuffer(DST_CB, "Dst", 0, 1 if cc.dst_full_sync_en else 2, "bfloat16")
    return src, dst


def kernel_threads(program: Program) -> list[tuple[str, KernelSpec, str | None]]:
    """(trace name, kernel, thread) of every thread of the program's kernels: a compute kernel (risc
    "trisc") runs as three, named "<kernel>.unpack", "<kernel>.math", "<kernel>.pack"; a data-movement
    kernel as one, thread None."""
    out: list[tuple[str, KernelSpec, str | None]] = []
    for spec in program.kernels:
        if spec.risc == "trisc":
            out.extend((f"{spec.name}.{thread}", spec, thread) for thread in THREADS)
        else:
            out.append((spec.name, spec, None))
    return out


class KernelContextBase:
    """What every engine's kernel context shares: arguments, addressing and the helper library."""

    program: Program
    core_program: CoreProgram
    kernel_name: str
    functional: bool = False

    def __init__(
        self, program: Program, core_program: CoreProgram, kernel_name: str, thread: str | None = None
    ) -> None:
        self.program = program
        self.device = program.device
        self.core_program = core_program
        self.core = core_program.core
        self.kernel_name = kernel_name
        self.thread = thread  # "unpack", "math" or "pack" on a compute kernel, None on a data-movement one
        self._rt_args: Mapping[str, Any] = core_program.runtime_args.get(kernel_name, {})
        self._unflushed_writes: list[int] = []  # bytes of each write since the last flush
        self._dst: dict[int, np.ndarray] = {}  # functional Dst tiles of this thread, float32
        self._dst_cb = -1  # the CB whose format prices copy and SFPU calls (set by init_sfpu / copy_tile)
        # Functional hand-offs between the compute threads of a core: "src" (unpack -> math), "dst" (math ->
        # pack). An engine gives the three thread contexts of a core the same dict (`share_handoff`).
        self._handoff: dict[str, deque[Any]] = {"src": deque(), "dst": deque()}

    def share_handoff(self, handoff: dict[str, deque[Any]]) -> None:
        self._handoff = handoff

    # ---- engine primitives (overridden) ------------------------------------------------------------------
    def _cb_wait(self, cb: int, n: int) -> Gen:
        raise NotImplementedError

    def _cb_reserve(self, cb: int, n: int) -> Gen:
        raise NotImplementedError

    def _cb_push(self, cb: int, n: int) -> Gen:
        raise NotImplementedError

    def _cb_pop(self, cb: int, n: int) -> Gen:
        raise NotImplementedError

    def _compute(self, name: str, cycles: float) -> Gen:
        raise NotImplementedError

    def _read_pages(self, cb: int, first: int, count: int) -> np.ndarray:
        """`count` pages from the front of `cb` starting `first` pages after the read pointer (no wrap,
        like the unpacker), as an array of the CB's data format of shape [count, values per page]."""
        raise NotImplementedError

    def _read_tiles(self, cb: int, first: int, count: int) -> np.ndarray:
        """Copies of `count` pages from the front of `cb` starting `first` pages after the read pointer,
        read page by page (an engine may read them at once), shape [count, values per page]."""
        return np.stack([self._read_pages(cb, first + k, 1)[0].copy() for k in range(count)])

    def _write_pages(self, cb: int, first: int, values: np.ndarray) -> None:
        """Write pages at the back of `cb` starting `first` pages after the write pointer (no wrap)."""
        raise NotImplementedError

    def _write_l1(self, l1_addr: int, raw: np.ndarray) -> None:
        """Write raw bytes into this core's L1 at `l1_addr` (functional runs)."""
        raise NotImplementedError

    def _write_ptr(self, cb: int) -> int:
        raise NotImplementedError

    # ---- circular buffers: each call on the thread that makes it in tt-metal -----------------------------
    def cb_wait_front(self, cb: int, n: int) -> Gen:
        if self.thread is None or self.thread == "unpack":
            return self._cb_wait(cb, n)
        return iter(_NOTHING)

    def cb_pop_front(self, cb: int, n: int) -> Gen:
        if self.thread is None or self.thread == "unpack":
            return self._cb_pop(cb, n)
        return iter(_NOTHING)

    def cb_reserve_back(self, cb: int, n: int) -> Gen:
        if self.thread is None or self.thread == "pack":
            return self._cb_reserve(cb, n)
        return iter(_NOTHING)

    def cb_push_back(self, cb: int, n: int) -> Gen:
        if self.thread is None or self.thread == "pack":
            return self._cb_push(cb, n)
        return iter(_NOTHING)

    # ---- arguments and addressing (no time) ------------------------------------------------------------
    def get_arg(self, name: str) -> Any:
        try:
            return self._rt_args[name]
        except KeyError:
            known = ", ".join(sorted(self._rt_args)) or "none"
            raise InputError(f"kernel {self.kernel_name} has no runtime argument {name!r} (known: {known})") from None

    def tensor_accessor(self, buffer_name: str, base_address: int) -> TensorAccessor:
        return TensorAccessor(self.program.buffer(buffer_name), base_address, self.device.dram.num_banks)

    def _cb_format(self, cb: int) -> str:
        return self.program.cb(cb).data_format

    def _tcost(self, cb: int, name: str, thread: str, tiles: int) -> float:
        """Busy cycles of `thread` for `tiles` tiles of call `name` in the format of `cb`, no setup."""
        phases = self.program.compute_config.fidelity_phases
        return costs.thread_cycles(self.device, self._cb_format(cb), name, thread, tiles, phases)

    def _setup(self, cb: int, name: str) -> float:
        return self.device.compute_for(self._cb_format(cb)).cost(name).cycles_per_call

    def _handshake(self) -> float:
        return self.device.dst.acquire_cycles

    def _dst_tiles(self) -> int:
        cc = self.program.compute_config
        return self.device.dst.tiles_per_acquire(cc.fp32_dest_acc_en, cc.dst_full_sync_en)

    def _chunks(self, tiles: int) -> list[tuple[int, int]]:
        """(first tile, tiles) of each Dst chunk of a call over `tiles` tiles."""
        size = self._dst_tiles()
        return [(first, min(size, tiles - first)) for first in range(0, tiles, size)]

    def _note_write(self, nbytes: int) -> None:
        """Engines call this for every noc_async_write, so that a flush knows what it waits for."""
        self._unflushed_writes.append(nbytes)

    def noc_async_writes_flushed(self) -> Gen:
        sizes, self._unflushed_writes = self._unflushed_writes, []
        yield from self._compute("noc_async_writes_flushed", costs.write_departure_cycles(self.device, sizes))

    # ---- profiler zones (no time) ----------------------------------------------------------------------
    def device_zone_start(self, name: str) -> Gen:
        return iter(_NOTHING)

    def device_zone_end(self, name: str) -> Gen:
        return iter(_NOTHING)

    # ---- dataflow helpers ------------------------------------------------------------------------------
    def generate_reduce_scaler(self, cb: int, packed_scaler: int) -> Gen:
        yield from self.cb_reserve_back(cb, 1)
        if self.functional:
            # tt-metal zero-fills the tile, then writes the packed value into row 0 of each of the 4 faces.
            spec = self.program.cb(cb)
            if get_format(spec.data_format).element_bytes != 2:
                raise InputError(f"generate_reduce_scaler needs a 16-bit CB, c_{cb} is {spec.data_format}")
            tile = np.zeros(spec.page_size_bytes // 2, dtype=np.uint16)
            tile.reshape(4, -1)[:, :16] = (packed_scaler >> 16) & 0xFFFF
            self._write_pages(cb, 0, tile.view(get_format(spec.data_format).dtype).reshape(1, -1))
        yield from self.cb_push_back(cb, 1)

    def store_l1(self, l1_addr: int, packed_value: int, nbytes: int) -> Gen:
        """`*ptr++ = packed_value` over `nbytes` of L1 from `l1_addr` (byte a holds byte a mod 4 of the value)."""
        if self.functional and nbytes > 0:
            pattern = np.frombuffer(int(packed_value & 0xFFFFFFFF).to_bytes(4, "little"), dtype=np.uint8)
            self._write_l1(l1_addr, pattern[(np.arange(nbytes) + l1_addr) % 4])
        return iter(_NOTHING)

    # ---- the thread pieces every compute call is made of -----------------------------------------------
    def _compute_thread(self, what: str) -> str:
        if self.thread is None:
            raise InputError(f"{what} is a compute call; kernel {self.kernel_name} runs on a data-movement RISC-V")
        return self.thread

    def _init(self, cb: int, name: str) -> Gen:
        """A call's setup, on whichever compute thread runs it (each thread re-initialises)."""
        yield from self._compute(f"{name} init", self._setup(cb, name))

    def _to_math(self, cb: int, name: str, n: int) -> Gen:
        """unpack: unpack n tiles and hand them to math through SRC (the first as soon as it is unpacked)."""
        yield from self._cb_reserve(SRC_CB, n)
        yield from self._compute(name, self._tcost(cb, name, "unpack", 1))
        yield from self._cb_push(SRC_CB, 1)
        if n > 1:
            yield from self._compute(name, self._tcost(cb, name, "unpack", n - 1))
            yield from self._cb_push(SRC_CB, n - 1)

    def _from_unpack(self, cb: int, name: str, n: int) -> Gen:
        """math: run the FPU over n tiles as unpack delivers them; frees their Src slots after the last."""
        yield from self._cb_wait(SRC_CB, 1)
        if n > 1:
            yield from self._compute(name, self._tcost(cb, name, "math", n - 1))
            yield from self._cb_wait(SRC_CB, n)
        yield from self._compute(name, self._tcost(cb, name, "math", 1))
        yield from self._cb_pop(SRC_CB, n)

    def _acquire(self) -> Gen:
        return self._cb_reserve(DST_CB, 1)

    def _commit(self) -> Gen:
        yield from self._compute("tile_regs_commit", self._handshake())
        yield from self._cb_push(DST_CB, 1)

    def _wait_dst(self) -> Gen:
        return self._cb_wait(DST_CB, 1)

    def _release(self) -> Gen:
        return self._cb_pop(DST_CB, 1)

    def _hand(self, queue: str, value: Any) -> None:
        self._handoff[queue].append(value)

    def _take(self, queue: str) -> Any:
        return self._handoff[queue].popleft()

    def _whole_block(
        self,
        name: str,
        icb: int,
        ocb: int,
        tiles: int,
        compute: Callable[[np.ndarray], Any],
        write: Callable[[Any], None],
        cb_calls: bool,
    ) -> Gen:
        """A call that unpacks a block of `tiles` pages of `icb` and packs `tiles` pages into `ocb` (tilize,
        untilize and their block variants), chunk by chunk; `cb_calls`: the helper waits, pops, reserves
        and pushes the whole block itself (else the kernel does). Functional: `compute` (math) turns the
        block's pages into what `write` (pack) stores."""
        thread = self._compute_thread(name)
        chunks = self._chunks(tiles)
        if thread == "unpack":
            if cb_calls:
                yield from self._cb_wait(icb, tiles)
            if self.functional:
                self._hand("src", self._read_pages(icb, 0, tiles).copy())
            for _, n in chunks:
                yield from self._to_math(icb, name, n)
            if cb_calls:
                yield from self._cb_pop(icb, tiles)
        elif thread == "math":
            for i, (_, n) in enumerate(chunks):
                yield from self._acquire()
                yield from self._from_unpack(icb, name, n)
                if self.functional and i == 0:
                    self._hand("dst", compute(self._take("src")))
                yield from self._commit()
        else:
            result = None
            for i, (_, n) in enumerate(chunks):
                yield from self._wait_dst()
                if i == 0:
                    if self.functional:
                        result = self._take("dst")
                    if cb_calls:
                        yield from self._cb_reserve(ocb, tiles)
                yield from self._compute(name, self._tcost(icb, name, "pack", n))
                if i == len(chunks) - 1:
                    if self.functional:
                        write(result)
                    if cb_calls:
                        yield from self._cb_push(ocb, tiles)
                yield from self._release()

    # ---- compute helper library ------------------------------------------------------------------------
    def tilize(self, icb: int, block_w: int, ocb: int, num_blocks: int = 1) -> Gen:
        self._compute_thread("tilize")
        yield from self._init(icb, "tilize")
        for _ in range(num_blocks):
            yield from self._tilize_chunks(icb, block_w, ocb, cb_calls=True)

    def _tilize_chunks(self, icb: int, block_w: int, ocb: int, cb_calls: bool) -> Gen:
        def compute(sticks: np.ndarray) -> np.ndarray:
            return tilize_block(sticks.reshape(32, -1)).reshape(block_w, -1)

        def write(tiles: np.ndarray) -> None:
            if get_format(self._cb_format(ocb)).is_block_float:
                # Unpacked to Dst exactly, packed to bfloat8_b with the packer's rounding.
                tiles = np.stack([pack_from_dst(t.astype(np.float32), self._cb_format(ocb)) for t in tiles])
            self._write_pages(ocb, 0, tiles)

        yield from self._whole_block("tilize", icb, ocb, block_w, compute, write, cb_calls)

    def reduce(
        self,
        icb: int,
        scaler_cb: int,
        ocb: int,
        Wt: int,
        pool: str = "sum",
        dim: str = "row",
        input_mode: str = "persistent",
    ) -> Gen:
        if pool not in ("sum", "avg") or dim != "row":
            raise InputError(f"reduce supports pool sum/avg over dim 'row', got pool={pool!r} dim={dim!r}")
        if input_mode not in ("persistent", "streaming"):
            raise InputError(f"reduce input_mode must be 'persistent' or 'streaming', got {input_mode!r}")
        thread = self._compute_thread("reduce")
        yield from self._init(icb, "reduce_row")
        chunks = self._chunks(Wt)
        streaming = input_mode == "streaming"
        if thread == "unpack":
            yield from self._cb_wait(scaler_cb, 1)
            if not streaming:
                yield from self._cb_wait(icb, Wt)
            tiles = []
            for i, (first, n) in enumerate(chunks):
                if streaming:
                    for k in range(n):
                        yield from self._cb_wait(icb, k + 1)
                if self.functional:
                    tiles.append(self._read_pages(icb, 0 if streaming else first, n).copy())
                    if i == len(chunks) - 1:
                        self._hand("src", (np.concatenate(tiles), self._read_pages(scaler_cb, 0, 1)[0].copy()))
                yield from self._to_math(icb, "reduce_row", n)
                if streaming:
                    for _ in range(n):
                        yield from self._cb_pop(icb, 1)
        elif thread == "math":
            # Reduce ROW accumulates the whole row into one Dst tile: one section per call.
            yield from self._acquire()
            for _, n in chunks:
                yield from self._from_unpack(icb, "reduce_row", n)
            if self.functional:
                data, scaler = self._take("src")
                cc = self.program.compute_config
                mean = reduce_row_sum(
                    data,
                    scaler,
                    data_format=self._cb_format(icb),
                    fp32_dest_acc_en=cc.fp32_dest_acc_en,
                    math_fidelity=cc.math_fidelity,
                )
                self._hand("dst", mean)
            yield from self._commit()
        else:
            yield from self._wait_dst()
            yield from self._cb_reserve(ocb, 1)
            yield from self._compute("reduce_row", self._tcost(icb, "reduce_row", "pack", 1))
            if self.functional:
                self._write_pages(ocb, 0, self._take("dst").reshape(1, -1))
            yield from self._cb_push(ocb, 1)
            yield from self._release()

    def sub(
        self,
        a_cb: int,
        b_cb: int,
        out_cb: int,
        Wt: int,
        broadcast: str = "col",
        a_policy: InputPolicy = Streaming,
        b_policy: InputPolicy = Streaming,
    ) -> Gen:
        if broadcast not in _SUB_COSTS:
            raise InputError(f"sub broadcast must be one of {sorted(_SUB_COSTS)}, got {broadcast!r}")
        if self.functional and broadcast != "col":
            raise InputError("functional sub supports broadcast='col' only")
        thread = self._compute_thread("sub")
        cost_name = _SUB_COSTS[broadcast]
        b_tiles = 1 if broadcast == "col" else Wt
        # A broadcast column is one tile for the whole call unless the policy pops it per tile.
        b_per_tile = broadcast != "col" or b_policy.pop == "per_tile"
        yield from self._init(a_cb, cost_name)
        chunks = self._chunks(Wt)
        if thread == "unpack":
            if a_policy.wait == "upfront":
                yield from self._cb_wait(a_cb, Wt)
            if b_policy.wait == "upfront":
                yield from self._cb_wait(b_cb, b_tiles)
            popped_a = popped_b = 0
            # Without per-tile waits nothing runs between the reads of a chunk: read its tiles at once.
            read_per_tile = a_policy.wait == "per_tile" or b_policy.wait == "per_tile"
            for first, n in chunks:
                pairs = []
                for i in range(first, first + n):
                    a_index = i - popped_a
                    b_index = (i if b_per_tile else 0) - popped_b
                    if a_policy.wait == "per_tile":
                        yield from self._cb_wait(a_cb, a_index + 1)
                    if b_policy.wait == "per_tile":
                        yield from self._cb_wait(b_cb, b_index + 1)
                    if self.functional and read_per_tile:
                        a_tile = self._read_pages(a_cb, a_index, 1)[0].copy()
                        pairs.append((a_tile, self._read_pages(b_cb, b_index, 1)[0].copy()))
                if self.functional:
                    if read_per_tile:
                        a_read, b_read = np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs])
                    else:
                        a_read = self._read_tiles(a_cb, first - popped_a, n)
                        if b_per_tile:
                            b_read = self._read_tiles(b_cb, first - popped_b, n)
                        else:  # the column's one tile, for each tile of a
                            b_read = np.repeat(self._read_tiles(b_cb, -popped_b, 1), n, axis=0)
                    self._hand("src", (a_read, b_read))
                yield from self._to_math(a_cb, cost_name, n)
                # The unpacker has the tiles now: a streaming input frees them at once.
                for _ in range(n):
                    if a_policy.pop == "per_tile":
                        yield from self._cb_pop(a_cb, 1)
                        popped_a += 1
                    if b_policy.pop == "per_tile":
                        yield from self._cb_pop(b_cb, 1)
                        popped_b += 1
            if a_policy.pop == "at_end" and Wt - popped_a > 0:
                yield from self._cb_pop(a_cb, Wt - popped_a)
            if b_policy.pop == "at_end" and b_tiles - popped_b > 0:
                yield from self._cb_pop(b_cb, b_tiles - popped_b)
        elif thread == "math":
            for _, n in chunks:
                yield from self._acquire()
                yield from self._from_unpack(a_cb, cost_name, n)
                if self.functional:
                    # One batched call per chunk: the primitive treats leading axes as independent tiles.
                    a_read, b_read = self._take("src")
                    result = sub_bcast_col(
                        a_read,
                        b_read,
                        data_format=self._cb_format(a_cb),
                        fp32_dest_acc_en=self.program.compute_config.fp32_dest_acc_en,
                    )
                    self._hand("dst", result)
                yield from self._commit()
        else:
            per_tile = self._tcost(a_cb, cost_name, "pack", 1)
            for _, n in chunks:
                yield from self._wait_dst()
                result = self._take("dst") if self.functional else None
                for k in range(n):
                    yield from self._cb_reserve(out_cb, 1)
                    yield from self._compute(cost_name, per_tile)
                    if result is not None:
                        self._write_pages(out_cb, 0, result[k : k + 1])
                    yield from self._cb_push(out_cb, 1)
                yield from self._release()

    def untilize(self, icb: int, ocb: int, Wt: int) -> Gen:
        self._compute_thread("untilize")
        variant = costs.untilize_variant(self.device, self._cb_format(icb), Wt, self._dst_tiles())
        yield from self._init(icb, variant)

        def write(rows: np.ndarray) -> None:
            self._write_pages(ocb, 0, rows.reshape(Wt, -1))

        yield from self._whole_block(variant, icb, ocb, Wt, untilize_block, write, cb_calls=True)

    # ---- low-level compute API: Dst, unpack, SFPU, pack -----------------------------------------------
    def init_sfpu(self, icb: int, ocb: int) -> Gen:
        self._compute_thread("init_sfpu")
        self._dst_cb = icb
        yield from self._init(icb, "copy_tile")

    def tile_regs_acquire(self) -> Gen:
        if self.thread == "math":
            yield from self._acquire()

    def tile_regs_commit(self) -> Gen:
        if self.thread == "math":
            yield from self._compute("tile_regs_commit", self._handshake())
            if self.functional:
                self._hand("dst", dict(self._dst))
            self._dst = {}  # math moves on to the other half (SyncHalf) or waits for the packer's release
            yield from self._cb_push(DST_CB, 1)

    def tile_regs_wait(self) -> Gen:
        if self.thread == "pack":
            yield from self._wait_dst()
            if self.functional:
                self._dst = self._take("dst")

    def tile_regs_release(self) -> Gen:
        if self.thread == "pack":
            self._dst = {}  # the packer zeroes the section it drained
            yield from self._release()

    def copy_tile(self, icb: int, itile: int, idst: int) -> Gen:
        thread = self._compute_thread("copy_tile")
        self._dst_cb = icb
        if thread == "unpack":
            if self.functional:
                self._hand("src", self._read_pages(icb, itile, 1)[0].copy())
            yield from self._to_math(icb, "copy_tile", 1)
        elif thread == "math":
            yield from self._from_unpack(icb, "copy_tile", 1)
            if self.functional:
                self._dst[idst] = unpack_to_dst(self._take("src"), self._cb_format(icb))

    def sfpu_init(self, op: str) -> Gen:
        if self._compute_thread(f"{op}_init") == "math":
            yield from self._compute(f"{op}_init", self._setup(self._sfpu_cb(op), op))

    def sfpu_tile(self, op: str, idst: int) -> Gen:
        if self._compute_thread(op) == "math":
            cb = self._sfpu_cb(op)
            yield from self._compute(op, self._tcost(cb, op, "math", 1))
            if self.functional:
                self._dst[idst] = sfpu_function(op)(self._dst_tile(idst))

    def relu_tile_init(self) -> Gen:
        return self.sfpu_init("relu_tile")

    def relu_tile(self, idst: int) -> Gen:
        return self.sfpu_tile("relu_tile", idst)

    def pack_tile(self, idst: int, ocb: int, output_tile_index: int = 0) -> Gen:
        if self._compute_thread("pack_tile") == "pack":
            yield from self._compute("pack_tile", self._tcost(ocb, "copy_tile", "pack", 1))
            if self.functional:
                page = pack_from_dst(self._dst_tile(idst), self._cb_format(ocb))
                self._write_pages(ocb, output_tile_index, page.reshape(1, -1))

    def _sfpu_cb(self, op: str) -> int:
        if self._dst_cb < 0:
            raise InputError(f"{op} before init_sfpu or copy_tile: no format to run it in")
        return self._dst_cb

    def _dst_tile(self, idst: int) -> np.ndarray:
        try:
            return self._dst[idst]
        except KeyError:
            raise InputError(f"Dst tile {idst} is read before anything was copied into it") from None

    def tilize_init(self, icb: int) -> Gen:
        self._compute_thread("tilize_init")
        yield from self._init(icb, "tilize")

    def tilize_block(self, icb: int, block_w: int, ocb: int) -> Gen:
        self._compute_thread("tilize_block")
        yield from self._tilize_chunks(icb, block_w, ocb, cb_calls=False)

    def pack_untilize_block(self, icb: int, block_ct: int, ocb: int, block_index: int, full_ct: int) -> Gen:
        self._compute_thread("pack_untilize_block")
        yield from self._init(icb, "pack_untilize_block")

        def compute(pages: np.ndarray) -> np.ndarray:
            if get_format(self._cb_format(icb)).is_block_float:  # bfloat8_b unpacks to Dst exactly
                pages = np.stack([unpack_to_dst(page, self._cb_format(icb)) for page in pages])
            return untilize_block(pages)  # [32, block_ct * 32]

        def write(rows: np.ndarray) -> None:
            fmt = get_format(self._cb_format(ocb))
            row_bytes = full_ct * 32 * fmt.element_bytes
            col_bytes = block_index * block_ct * 32 * fmt.element_bytes
            values = np.ascontiguousarray(rows.astype(fmt.dtype)).view(np.uint8).reshape(32, -1)
            base = self._write_ptr(ocb)
            for r in range(32):
                self._write_l1(base + r * row_bytes + col_bytes, values[r])

        yield from self._whole_block("pack_untilize_block", icb, ocb, block_ct, compute, write, cb_calls=False)

    def compute_tiles(
        self,
        name: str,
        in_cbs: tuple[int, ...],
        out_cb: int,
        num_tiles: int,
        fn: Callable[..., np.ndarray] | None = None,
    ) -> Gen:
        """A generic per-tile step priced as the profile's compute cost `name`.

        Functional runs apply `fn(*input_tiles) -> output tile` (default for "copy_tile": the first input).
        """
        if self.functional and fn is None:
            if name != "copy_tile":
                raise InputError(f"functional compute_tiles({name!r}) needs fn= to say what it computes")
            fn = _copy_first
        thread = self._compute_thread(name)
        fmt_cb = in_cbs[0] if in_cbs else out_cb
        yield from self._init(fmt_cb, name)
        chunks = self._chunks(num_tiles)
        if thread == "unpack":
            for _, n in chunks:
                inputs = []
                for k in range(n):
                    for cb in in_cbs:
                        yield from self._cb_wait(cb, k + 1)
                    if self.functional:
                        inputs.append([self._read_pages(cb, k, 1)[0].copy() for cb in in_cbs])
                if self.functional:
                    self._hand("src", inputs)
                yield from self._to_math(fmt_cb, name, n)
                for _ in range(n):
                    for cb in in_cbs:
                        yield from self._cb_pop(cb, 1)
        elif thread == "math":
            for _, n in chunks:
                yield from self._acquire()
                yield from self._from_unpack(fmt_cb, name, n)
                if self.functional and fn is not None:
                    self._hand("dst", [np.asarray(fn(*tiles)).reshape(1, -1) for tiles in self._take("src")])
                yield from self._commit()
        else:
            per_tile = self._tcost(fmt_cb, name, "pack", 1)
            for _, n in chunks:
                yield from self._wait_dst()
                outputs = self._take("dst") if self.functional else None
                for k in range(n):
                    yield from self._cb_reserve(out_cb, 1)
                    yield from self._compute(name, per_tile)
                    if outputs is not None:
                        self._write_pages(out_cb, 0, outputs[k])
                    yield from self._cb_push(out_cb, 1)
                yield from self._release()


def _copy_first(*tiles: np.ndarray) -> np.ndarray:
    return tiles[0]
