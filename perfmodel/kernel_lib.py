"""The compute helper library and the dataflow helpers, shared by every engine, on top of the four CB calls.

Every engine context (the simulator's, the dry-run checker's) derives from `KernelContextBase` and provides
the CB calls, a `_compute(name, cycles)` step and, for functional runs, page access. The helpers below then
issue exactly the same CB calls in the same order whatever runs them. The order, per call (the analytic
model mirrors it; `cost(name, n)` is `costs.compute_cycles(device, format of the first input CB, name, n)`):

- tilize(icb, block_w, ocb, num_blocks): per block: wait_front(icb, block_w); reserve_back(ocb, block_w);
  compute cost("tilize", block_w) (the per-call setup only on the first block); push_back(ocb, block_w);
  pop_front(icb, block_w).
- reduce(icb, scaler_cb, ocb, Wt, input_mode): wait_front(scaler_cb, 1) (never popped);
  persistent: wait_front(icb, Wt), compute cost("reduce_row", Wt), no pop;
  streaming: per tile wait_front(icb, 1), compute cost per tile (setup on the first), pop_front(icb, 1);
  then reserve_back(ocb, 1); push_back(ocb, 1).
- sub(a, b, out, Wt, broadcast, a_policy, b_policy): upfront waits first (a: Wt pages; b: 1 page for
  broadcast "col", Wt for "none"); then per chunk of at most dst_tiles_half_sync tiles: per tile, the
  per-tile waits (cumulative: page index + 1, the index counted from this call's last pop) followed at
  once by the per-tile pops (pop 1); then compute cost("sub_bcast_col" or "eltwise_binary", chunk tiles)
  (setup on the first chunk only); then per tile reserve_back(out, 1), push_back(out, 1); after the last
  chunk the at_end pops (whatever of Wt
  (a) or of the broadcast tile count (b) this call has not popped yet). "caller_managed" waits and
  "never"/"caller_managed" pops issue no call.
- untilize(icb, ocb, Wt): wait_front(icb, Wt); reserve_back(ocb, Wt); compute cost(untilize_variant, Wt);
  pop_front(icb, Wt); push_back(ocb, Wt).
- compute_tiles(name, in_cbs, out_cb, n): per tile: wait_front(each in, 1); reserve_back(out, 1);
  compute cost(name, 1) (setup on the first tile); push_back(out, 1); pop_front(each in, 1).
- generate_reduce_scaler(cb, packed): reserve_back(cb, 1); fill (no time); push_back(cb, 1).

The low-level compute API (tt-metal's compute_kernel_api, for kernels that manage Dst themselves) issues no
CB call; the kernel makes them. Prices come from the profile entry of the CB the tile comes from:
- init_sfpu(icb, ocb): the setup of cost "copy_tile" (hw_configure, once per kernel);
- tile_regs_acquire / commit / wait / release: no time (the handshake is unmeasured, compute.md §9);
- copy_tile(icb, itile, idst): cost "copy_tile" per tile, which is the slowest of unpack and pack of one
  tile (est), so pack_tile takes no time of its own;
- sfpu_init(op): the setup of cost `op` (e.g. relu_tile_init); sfpu_tile(op, idst): its per-tile cost,
  added on the math thread after the copy (the model does not overlap the SFPU with the next unpack);
- noc_async_writes_flushed(): on the writer, the time until its writes since the last flush have left the
  core (`costs.write_departure_cycles`), not their acknowledgement.
- pack_untilize_block(icb, block_ct, ocb, block_index, full_ct): no CB call (the kernel waits, pops, reserves
  and pushes around it); compute cost("pack_untilize_block", block_ct) (its setup on every call: one
  sub-block per call); the 32 rows of the block_ct tiles land in columns [block_index * block_ct * 32, ...)
  of the full_ct tiles wide rows at the back of ocb.
- tilize_init(icb): compute the per-call setup of "tilize" once; tilize_block(icb, block_w, ocb): no CB call
  (the kernel waits, reserves, pushes and pops around it), compute cost("tilize", block_w) minus its setup.
- store_l1(l1_addr, packed_value, nbytes): a RISC-V's 4-byte pointer stores of a packed pad value (no time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from perfmodel import costs
from perfmodel.errors import InputError
from perfmodel.kernel_api import InputPolicy, NocAddress, Streaming
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.sfpu import pack_from_dst, sfpu_function, unpack_to_dst
from perfmodel.numerics.tiles import reduce_row_sum, sub_bcast_col, tilize_block, untilize_block
from perfmodel.program import CoreProgram, DramBuffer, Program

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


class KernelContextBase:
    """What every engine's kernel context shares: arguments, addressing and the helper library."""

    program: Program
    core_program: CoreProgram
    kernel_name: str
    functional: bool = False

    def __init__(self, program: Program, core_program: CoreProgram, kernel_name: str) -> None:
        self.program = program
        self.device = program.device
        self.core_program = core_program
        self.core = core_program.core
        self.kernel_name = kernel_name
        self._rt_args: Mapping[str, Any] = core_program.runtime_args.get(kernel_name, {})
        self._unflushed_writes: list[int] = []  # bytes of each write since the last flush
        self._dst: dict[int, np.ndarray] = {}  # functional Dst tiles, float32
        self._dst_cb = -1  # the CB whose format prices copy and SFPU calls (set by init_sfpu / copy_tile)

    # ---- engine primitives (overridden) ------------------------------------------------------------------
    def cb_wait_front(self, cb: int, n: int) -> Gen:
        raise NotImplementedError

    def cb_reserve_back(self, cb: int, n: int) -> Gen:
        raise NotImplementedError

    def cb_push_back(self, cb: int, n: int) -> Gen:
        raise NotImplementedError

    def cb_pop_front(self, cb: int, n: int) -> Gen:
        raise NotImplementedError

    def _compute(self, name: str, cycles: float) -> Gen:
        raise NotImplementedError

    def _read_pages(self, cb: int, first: int, count: int) -> np.ndarray:
        """`count` pages from the front of `cb` starting `first` pages after the read pointer (no wrap,
        like the unpacker), as an array of the CB's data format of shape [count, values per page]."""
        raise NotImplementedError

    def _write_pages(self, cb: int, first: int, values: np.ndarray) -> None:
        """Write pages at the back of `cb` starting `first` pages after the write pointer (no wrap)."""
        raise NotImplementedError

    def _write_l1(self, l1_addr: int, raw: np.ndarray) -> None:
        """Write raw bytes into this core's L1 at `l1_addr` (functional runs)."""
        raise NotImplementedError

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

    def _cost(self, cb: int, name: str, tiles: float) -> float:
        return costs.compute_cycles(self.device, self._cb_format(cb), name, tiles)

    def _setup(self, cb: int, name: str) -> float:
        return self.device.compute_for(self._cb_format(cb)).cost(name).cycles_per_call

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

    # ---- compute helper library ------------------------------------------------------------------------
    def tilize(self, icb: int, block_w: int, ocb: int, num_blocks: int = 1) -> Gen:
        setup = self._setup(icb, "tilize")
        for block in range(num_blocks):
            yield from self.cb_wait_front(icb, block_w)
            yield from self.cb_reserve_back(ocb, block_w)
            cycles = self._cost(icb, "tilize", block_w) - (setup if block else 0.0)
            yield from self._compute("tilize", cycles)
            if self.functional:
                sticks = self._read_pages(icb, 0, block_w).reshape(32, -1)
                self._write_pages(ocb, 0, tilize_block(sticks))
            yield from self.cb_push_back(ocb, block_w)
            yield from self.cb_pop_front(icb, block_w)

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
        yield from self.cb_wait_front(scaler_cb, 1)
        tiles = []
        if input_mode == "persistent":
            yield from self.cb_wait_front(icb, Wt)
            yield from self._compute("reduce_row", self._cost(icb, "reduce_row", Wt))
            if self.functional:
                tiles.append(self._read_pages(icb, 0, Wt))
        else:
            setup = self._setup(icb, "reduce_row")
            for t in range(Wt):
                yield from self.cb_wait_front(icb, 1)
                yield from self._compute("reduce_row", self._cost(icb, "reduce_row", 1) - (setup if t else 0.0))
                if self.functional:
                    tiles.append(self._read_pages(icb, 0, 1).copy())
                yield from self.cb_pop_front(icb, 1)
        yield from self.cb_reserve_back(ocb, 1)
        if self.functional:
            scaler = self._read_pages(scaler_cb, 0, 1)[0]
            cc = self.program.compute_config
            mean = reduce_row_sum(
                np.concatenate(tiles),
                scaler,
                data_format=self._cb_format(icb),
                fp32_dest_acc_en=cc.fp32_dest_acc_en,
                math_fidelity=cc.math_fidelity,
            )
            self._write_pages(ocb, 0, mean.reshape(1, -1))
        yield from self.cb_push_back(ocb, 1)

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
        cost_name = _SUB_COSTS[broadcast]
        b_tiles = 1 if broadcast == "col" else Wt
        if a_policy.wait == "upfront":
            yield from self.cb_wait_front(a_cb, Wt)
        if b_policy.wait == "upfront":
            yield from self.cb_wait_front(b_cb, b_tiles)
        chunk = self.device.compute_for(self._cb_format(a_cb)).dst_tiles_half_sync
        setup = self._setup(a_cb, cost_name)
        popped_a = popped_b = 0
        for first in range(0, Wt, chunk):
            tiles = range(first, min(first + chunk, Wt))
            pairs = []
            for i in tiles:
                a_index = i - popped_a
                b_index = (0 if broadcast == "col" else i) - popped_b
                if broadcast == "col" and b_policy.pop == "per_tile":
                    b_index = 0
                if a_policy.wait == "per_tile":
                    yield from self.cb_wait_front(a_cb, a_index + 1)
                if b_policy.wait == "per_tile":
                    yield from self.cb_wait_front(b_cb, b_index + 1)
                if self.functional:
                    a_tile = self._read_pages(a_cb, a_index, 1)[0].copy()
                    pairs.append((a_tile, self._read_pages(b_cb, b_index, 1)[0].copy()))
                # The unpacker has the tile now: a streaming input frees it at once.
                if a_policy.pop == "per_tile":
                    yield from self.cb_pop_front(a_cb, 1)
                    popped_a += 1
                if b_policy.pop == "per_tile":
                    yield from self.cb_pop_front(b_cb, 1)
                    popped_b += 1
            cycles = self._cost(a_cb, cost_name, len(tiles)) - (setup if first else 0.0)
            yield from self._compute(cost_name, cycles)
            if self.functional:
                # One batched call per chunk: the primitive treats leading axes as independent tiles.
                a_stack = np.stack([a for a, _ in pairs])
                b_stack = np.stack([b for _, b in pairs])
                result = sub_bcast_col(
                    a_stack,
                    b_stack,
                    data_format=self._cb_format(a_cb),
                    fp32_dest_acc_en=self.program.compute_config.fp32_dest_acc_en,
                )
            for k, _ in enumerate(tiles):
                yield from self.cb_reserve_back(out_cb, 1)
                if self.functional:
                    self._write_pages(out_cb, 0, result[k : k + 1])
                yield from self.cb_push_back(out_cb, 1)
        if a_policy.pop == "at_end" and Wt - popped_a > 0:
            yield from self.cb_pop_front(a_cb, Wt - popped_a)
        if b_policy.pop == "at_end" and b_tiles - popped_b > 0:
            yield from self.cb_pop_front(b_cb, b_tiles - popped_b)

    def untilize(self, icb: int, ocb: int, Wt: int) -> Gen:
        variant = costs.untilize_variant(self.device, self._cb_format(icb), Wt)
        yield from self.cb_wait_front(icb, Wt)
        yield from self.cb_reserve_back(ocb, Wt)
        yield from self._compute(variant, self._cost(icb, variant, Wt))
        if self.functional:
            self._write_pages(ocb, 0, untilize_block(self._read_pages(icb, 0, Wt)).reshape(Wt, -1))
        yield from self.cb_pop_front(icb, Wt)
        yield from self.cb_push_back(ocb, Wt)

    # ---- low-level compute API: Dst, unpack, SFPU, pack -----------------------------------------------
    def init_sfpu(self, icb: int, ocb: int) -> Gen:
        self._dst_cb = icb
        yield from self._compute("init_sfpu", self._setup(icb, "copy_tile"))

    def tile_regs_acquire(self) -> Gen:
        return iter(_NOTHING)

    def tile_regs_commit(self) -> Gen:
        return iter(_NOTHING)

    def tile_regs_wait(self) -> Gen:
        return iter(_NOTHING)

    def tile_regs_release(self) -> Gen:
        self._dst.clear()  # the packer zeroes the section it drained
        return iter(_NOTHING)

    def copy_tile(self, icb: int, itile: int, idst: int) -> Gen:
        self._dst_cb = icb
        yield from self._compute("copy_tile", self._cost(icb, "copy_tile", 1) - self._setup(icb, "copy_tile"))
        if self.functional:
            self._dst[idst] = unpack_to_dst(self._read_pages(icb, itile, 1)[0], self._cb_format(icb))

    def sfpu_init(self, op: str) -> Gen:
        yield from self._compute(f"{op}_init", self._setup(self._sfpu_cb(op), op))

    def sfpu_tile(self, op: str, idst: int) -> Gen:
        cb = self._sfpu_cb(op)
        yield from self._compute(op, self._cost(cb, op, 1) - self._setup(cb, op))
        if self.functional:
            self._dst[idst] = sfpu_function(op)(self._dst_tile(idst))

    def relu_tile_init(self) -> Gen:
        return self.sfpu_init("relu_tile")

    def relu_tile(self, idst: int) -> Gen:
        return self.sfpu_tile("relu_tile", idst)

    def pack_tile(self, idst: int, ocb: int, output_tile_index: int = 0) -> Gen:
        if self.functional:
            page = pack_from_dst(self._dst_tile(idst), self._cb_format(ocb))
            self._write_pages(ocb, output_tile_index, page.reshape(1, -1))
        return iter(_NOTHING)

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
        yield from self._compute("tilize", self._setup(icb, "tilize"))

    def tilize_block(self, icb: int, block_w: int, ocb: int) -> Gen:
        yield from self._compute("tilize", self._cost(icb, "tilize", block_w) - self._setup(icb, "tilize"))
        if self.functional:
            sticks = self._read_pages(icb, 0, block_w).reshape(32, -1)
            tiles = tilize_block(sticks).reshape(block_w, -1)
            if get_format(self._cb_format(ocb)).is_block_float:
                # Unpacked to Dst exactly, packed to bfloat8_b with the packer's rounding.
                tiles = np.stack([pack_from_dst(t.astype(np.float32), self._cb_format(ocb)) for t in tiles])
            self._write_pages(ocb, 0, tiles)

    def pack_untilize_block(self, icb: int, block_ct: int, ocb: int, block_index: int, full_ct: int) -> Gen:
        yield from self._compute("pack_untilize_block", self._cost(icb, "pack_untilize_block", block_ct))
        if self.functional:
            pages = self._read_pages(icb, 0, block_ct)
            if get_format(self._cb_format(icb)).is_block_float:  # bfloat8_b unpacks to Dst exactly
                pages = np.stack([unpack_to_dst(page, self._cb_format(icb)) for page in pages])
            rows = untilize_block(pages)  # [32, block_ct * 32]
            fmt = get_format(self._cb_format(ocb))
            row_bytes = full_ct * 32 * fmt.element_bytes
            col_bytes = block_index * block_ct * 32 * fmt.element_bytes
            values = np.ascontiguousarray(rows.astype(fmt.dtype)).view(np.uint8).reshape(32, -1)
            base = self._write_ptr(ocb)
            for r in range(32):
                self._write_l1(base + r * row_bytes + col_bytes, values[r])

    def _write_ptr(self, cb: int) -> int:
        raise NotImplementedError

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
        fmt_cb = in_cbs[0] if in_cbs else out_cb
        setup = self._setup(fmt_cb, name)
        for t in range(num_tiles):
            for cb in in_cbs:
                yield from self.cb_wait_front(cb, 1)
            yield from self.cb_reserve_back(out_cb, 1)
            yield from self._compute(name, self._cost(fmt_cb, name, 1) - (setup if t else 0.0))
            if self.functional and fn is not None:
                inputs = [self._read_pages(cb, 0, 1)[0] for cb in in_cbs]
                self._write_pages(out_cb, 0, np.asarray(fn(*inputs)).reshape(1, -1))
            yield from self.cb_push_back(out_cb, 1)
            for cb in in_cbs:
                yield from self.cb_pop_front(cb, 1)


def _copy_first(*tiles: np.ndarray) -> np.ndarray:
    return tiles[0]
