"""Hangs found by the simulator: the report names the blocked call, CB, pages and kernel line."""

from __future__ import annotations

import dataclasses
import os

import pytest

from perfmodel import DeadlockError, get_op, simulate
from perfmodel.des import BlockedWait
from perfmodel.kernel_api import Preloaded
from perfmodel.known_hangs import preloaded_streaming_compute
from perfmodel.ops.centralize_w_rm.kernels import (
    CB_CENTRALIZED,
    CB_IN_RM,
    CB_IN_TILED,
    CB_MEAN_TILED,
    CB_OUT_RM,
    CB_SCALER,
    TILE_HEIGHT,
)
from perfmodel.program import CircularBuffer

OP = get_op("centralize_w_rm")
WH = "wormhole_b0_n150"
ONE_CORE = {"grid": (1, 1)}


def _hang(shape, kernels=None, config=ONE_CORE, cbs=None) -> DeadlockError:
    program = OP.build_program(shape, device=WH, config=config, kernels=kernels)
    if cbs is not None:
        program = dataclasses.replace(program, cbs=cbs(program))
    with pytest.raises(DeadlockError) as info:
        simulate(program)
    return info.value


def _only(report: list[BlockedWait], kernel: str, thread: str | None = None) -> BlockedWait:
    found = [w for w in report if w.kernel == kernel and (thread is None or w.thread == thread)]
    assert len(found) == 1, report
    return found[0]


def test_worked_hang_passes_at_one_tile_row() -> None:
    program = OP.build_program((32, 32), device=WH, config=ONE_CORE, kernels={"compute": preloaded_streaming_compute})
    assert simulate(program).cycles > 0


def test_worked_hang_at_two_tile_rows_names_the_tilize_reserve_on_c1() -> None:
    err = _hang((64, 32), kernels={"compute": preloaded_streaming_compute})
    # The pack thread is stuck on c_1; math then waits for a Dst section pack never releases, unpack for the
    # mean pack never pushes.
    compute = _only(err.report, "compute", "pack")
    math = _only(err.report, "compute", "math")
    assert (math.call, math.cb, math.available, math.capacity) == ("tile_regs_acquire", -2, 0, 2)
    assert (compute.call, compute.cb, compute.requested, compute.available, compute.capacity) == (
        "cb_reserve_back",
        CB_IN_TILED,
        1,
        0,
        1,
    )
    assert compute.thread == "pack"
    assert compute.core == (0, 0)
    # The line is the tilize call of the kernel mirror, not engine code.
    assert compute.source.endswith(f"known_hangs.py:{preloaded_streaming_compute.__code__.co_firstlineno + 3}")
    writer = _only(err.report, "writer")
    assert (writer.call, writer.cb) == ("cb_wait_front", CB_OUT_RM)
    assert "reader" in err.finished[(0, 0)]
    line = preloaded_streaming_compute.__code__.co_firstlineno + 3
    shown = str(err).splitlines()[1]
    assert shown.startswith("core (0,0): compute/math DSTACQ tile_regs_acquire() on Dst: 0 sections free of 2 at ")
    assert f" | compute/pack CRBW cb_reserve_back(c_1, 1): 0 free of 1 at known_hangs.py:{line} | " in shown
    writer_file = os.path.basename(writer.source)
    assert shown.endswith(f" | writer/brisc CWFW cb_wait_front(c_16, 1): 0 visible of 2 at {writer_file} | reader done")
    c1 = next(c for c in err.cb_counters if c.cb == CB_IN_TILED)
    assert (c1.pushed, c1.popped) == (1, 0)
    assert err.to_dict()["blocked"][0]["core"] == [0, 0]


def test_streaming_col_broadcast_blocks_in_the_first_row_on_the_mean() -> None:
    err = _hang((32, 64), kernels={"compute": preloaded_streaming_compute})
    compute = _only(err.report, "compute", "unpack")
    # The unpacker waits for a Dst chunk's tiles before it pops them: the second tile of the row needs a
    # second mean tile (B streamed per tile) that never comes.
    assert (compute.call, compute.cb, compute.requested, compute.available) == ("cb_wait_front", CB_MEAN_TILED, 2, 1)


def test_request_larger_than_capacity_blocks_forever() -> None:
    def small_out(program):
        return tuple(dataclasses.replace(cb, num_pages=1) if cb.index == CB_OUT_RM else cb for cb in program.cbs)

    err = _hang((32, 64), cbs=small_out)
    waits = {(w.kernel, w.call, w.cb): w for w in err.report}
    untilize = waits[("compute", "cb_reserve_back", CB_OUT_RM)]
    assert untilize.requested == 2 > untilize.capacity == 1
    writer = waits[("writer", "cb_wait_front", CB_OUT_RM)]
    assert writer.requested > writer.capacity


def test_reader_that_never_pushes() -> None:
    def lazy_reader(k, *, stick_size_bytes, packed_scaler, Ht, Wt):
        yield from k.generate_reduce_scaler(CB_SCALER, packed_scaler)
        for _ in range(Ht):
            yield from k.cb_reserve_back(CB_IN_RM, Wt)
            yield from k.noc_async_read_barrier()

    err = _hang((64, 64), kernels={"reader": lazy_reader})
    compute = _only(err.report, "compute", "unpack")
    assert (compute.call, compute.cb, compute.available) == ("cb_wait_front", CB_IN_RM, 0)
    # A reserve without a push never uses up the ring, so the reader itself runs to its end.
    assert "reader" in err.finished[(0, 0)]
    c0 = next(c for c in err.cb_counters if c.cb == CB_IN_RM)
    assert (c0.pushed, c0.popped) == (0, 0)


def test_intra_kernel_cb_too_small() -> None:
    def two_rows_ahead(k, *, Ht, Wt):
        # Tilizes two tile rows into c_1 before consuming the first: c_1 holds only one.
        for _ in range(Ht // 2):
            yield from k.tilize(CB_IN_RM, Wt, CB_IN_TILED)
            yield from k.tilize(CB_IN_RM, Wt, CB_IN_TILED)
            for _ in range(2):
                yield from k.reduce(CB_IN_TILED, CB_SCALER, CB_MEAN_TILED, Wt)
                yield from k.sub(CB_IN_TILED, CB_MEAN_TILED, CB_CENTRALIZED, Wt, a_policy=Preloaded)

    err = _hang((64, 64), kernels={"compute": two_rows_ahead})
    compute = _only(err.report, "compute", "pack")
    assert (compute.call, compute.cb, compute.requested, compute.available) == ("cb_reserve_back", CB_IN_TILED, 2, 0)
    assert compute.source.endswith(f":{two_rows_ahead.__code__.co_firstlineno + 4}")


def test_deadlock_on_many_cores_reports_every_core() -> None:
    err = _hang((1, 1, 6 * TILE_HEIGHT, 32), kernels={"compute": preloaded_streaming_compute}, config={"grid": (2, 1)})
    cores = {w.core for w in err.report if w.kernel == "compute"}
    assert cores == {(0, 0), (1, 0)}
    assert "core (1,0)" in str(err)


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_scaler_cb_is_a_bf16_tile(dtype: str) -> None:
    # guards the CB table the hang tests rely on: one bf16 tile (32 x 32 x 2 bytes) whatever the tensor's dtype
    program = OP.build_program((32, 32), device=WH, dtype=dtype)
    scaler = program.cb(CB_SCALER)
    assert isinstance(scaler, CircularBuffer)
    assert (scaler.data_format, scaler.page_size_bytes, scaler.num_pages) == ("bfloat16", 32 * 32 * 2, 1)


def test_deadlock_pickles_and_still_writes_the_trace(tmp_path) -> None:
    import json
    import pickle

    program = OP.build_program((64, 32), device=WH, config=ONE_CORE, kernels={"compute": preloaded_streaming_compute})
    trace = tmp_path / "hang.json"
    with pytest.raises(DeadlockError) as info:
        simulate(program, trace_path=trace)
    again = pickle.loads(pickle.dumps(info.value))
    assert again.report == info.value.report and str(again) == str(info.value)
    payload = json.loads(trace.read_text())
    assert payload["otherData"]["deadlock"] is True
