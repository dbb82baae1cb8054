"""Functional mode: simulated pages carry data; the output equals the op's functional path bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from perfmodel import get_op, simulate
from perfmodel.ops.centralize_w_rm.kernels import CB_IN_RM, CB_OUT_RM, CB_SCALER

OP = get_op("centralize_w_rm")
WH = "wormhole_b0_n150"


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16 if a.dtype.itemsize == 2 else np.uint32)


@pytest.mark.parametrize(
    ("shape", "grid", "dtype"),
    [
        ((32, 32), (1, 1), "bfloat16"),
        ((1, 1, 64, 96), (2, 1), "bfloat16"),
        ((2, 3, 64, 64), (8, 8), "bfloat16"),  # N*C > 1
        ((1, 1, 7 * 32, 320), (2, 2), "bfloat16"),  # 7 tile rows on 4 cores: uneven split, Wt > 8
        ((3, 96, 32), (3, 2), "float32"),
    ],
)
def test_output_equals_functional_bit_for_bit(shape, grid, dtype) -> None:
    x = np.random.default_rng(sum(shape)).normal(3.0, 2.0, size=shape).astype(np.float32)
    program = OP.build_program(shape, device=WH, dtype=dtype, config={"grid": grid})
    result = simulate(program, inputs=x)
    expected = OP.functional(x, dtype=dtype)
    assert result.output is not None and result.output.shape == expected.shape
    assert np.array_equal(_bits(result.output), _bits(expected))


def test_timing_does_not_depend_on_data() -> None:
    program = OP.build_program((1, 1, 64, 64), device=WH)
    x = np.ones((1, 1, 64, 64), dtype=np.float32)
    assert simulate(program, inputs=x).cycles == simulate(program).cycles


def test_writer_that_pops_before_reading_gives_wrong_data() -> None:
    def early_pop_writer(k, *, stick_size_bytes, Ht, Wt):
        dst = k.tensor_accessor("output", k.get_arg("dst_addr"))
        stick = k.get_arg("start_stick")
        for _ in range(Ht):
            yield from k.cb_wait_front(CB_OUT_RM, Wt)
            yield from k.cb_pop_front(CB_OUT_RM, Wt)  # too early: the read pointer now names the next slot
            addr = k.get_read_ptr(CB_OUT_RM)
            for _ in range(32):
                yield from k.noc_async_write(addr, dst.get_noc_addr(stick), stick_size_bytes)
                addr += stick_size_bytes
                stick += 1
            yield from k.noc_async_write_barrier()

    x = np.random.default_rng(1).normal(5.0, 1.0, size=(1, 1, 64, 64)).astype(np.float32)
    program = OP.build_program(x.shape, device=WH, config={"grid": (1, 1)}, kernels={"writer": early_pop_writer})
    out = simulate(program, inputs=x).output
    assert not np.array_equal(_bits(out), _bits(OP.functional(x)))


def test_reader_reading_wrong_sticks_gives_wrong_data() -> None:
    def off_by_one_reader(k, *, stick_size_bytes, packed_scaler, Ht, Wt):
        src = k.tensor_accessor("input", k.get_arg("src_addr"))
        stick = k.get_arg("start_stick") + 1
        yield from k.generate_reduce_scaler(CB_SCALER, packed_scaler)
        for _ in range(Ht):
            yield from k.cb_reserve_back(CB_IN_RM, Wt)
            addr = k.get_write_ptr(CB_IN_RM)
            for _ in range(32):
                yield from k.noc_async_read(src.get_noc_addr(stick % 64), addr, stick_size_bytes)
                addr += stick_size_bytes
                stick += 1
            yield from k.noc_async_read_barrier()
            yield from k.cb_push_back(CB_IN_RM, Wt)

    x = np.random.default_rng(2).normal(size=(64, 64)).astype(np.float32)
    program = OP.build_program(x.shape, device=WH, config={"grid": (1, 1)}, kernels={"reader": off_by_one_reader})
    out = simulate(program, inputs=x).output
    expected = OP.functional(x)
    assert not np.array_equal(_bits(out), _bits(expected))
    # the rows it did read are centralized correctly, just shifted
    assert np.array_equal(_bits(out[:31]), _bits(OP.functional(np.roll(x, -1, axis=0))[:31]))


def test_generic_copy_step_moves_pages_unchanged() -> None:
    def copy_compute(k, *, Ht, Wt):
        for _ in range(Ht):
            yield from k.compute_tiles("copy_tile", (CB_IN_RM,), CB_OUT_RM, Wt)

    x = np.random.default_rng(3).normal(size=(2, 64, 96)).astype(np.float32)
    program = OP.build_program(x.shape, device=WH, config={"grid": (2, 1)}, kernels={"compute": copy_compute})
    result = simulate(program, inputs=x)
    assert np.array_equal(result.output.astype(np.float32), x.astype(result.output.dtype).astype(np.float32))
    # 4 tile rows on 2 cores: each core makes 2 calls of 3 tiles (one Dst chunk each), each call pays its
    # setup once on each thread, math one handshake per chunk
    device = program.device
    cost = device.compute_for("bfloat16").cost("copy_tile")
    setup = device.dispatch.kernel_setup_cycles
    handshake = {"unpack": 0.0, "math": device.dst.acquire_cycles, "pack": 0.0}
    for core in result.per_core:
        for thread in ("unpack", "math", "pack"):
            assert core[thread]["busy_cycles"] == pytest.approx(
                setup + 2 * (cost.cycles_per_call + cost.thread_cycles(thread, 3) + handshake[thread])
            )
