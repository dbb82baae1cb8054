"""The three compute threads (unpack, math, pack), the Src hand-off and the Dst handshake, in both engines.

- the Dst handshake: math's k-th acquire never starts before pack's (k - 2)-th release in SyncHalf, the
  (k - 1)-th in SyncFull (so SyncFull serialises math and pack);
- a hang only the handshake causes is reported with the thread and the Dst call, by the simulator and by the
  analytic liveness check;
- fidelity phases scale the math time of the multiplying op (reduce) only; fp32_dest_acc_en halves the Dst
  chunk (twice the acquires);
- the engines agree on the compute knobs, and physics: more phases never faster, SyncFull never faster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import perfmodel
from perfmodel.analytic.estimate import estimate
from perfmodel.analytic.many import estimate_many
from perfmodel.analytic.trace import CbCall, trace_core
from perfmodel.compute_config import MATH_FIDELITIES, ComputeConfig
from perfmodel.des.deadlock import DeadlockError
from perfmodel.des.engine import simulate
from perfmodel.kernel_api import DST_CB, SRC_CB
from perfmodel.program import KernelSpec, Program

BOARD = "wormhole_b0_n150"


def _device() -> Any:
    return perfmodel.load_device(BOARD)


def _unary(shape: tuple[int, ...] = (1, 1, 64, 256), **config: Any) -> Program:
    return perfmodel.get_op("unary").build_program(
        shape, device=_device(), dtype="bfloat16", config={"grid": (1, 1), **config}
    )


def _centralize(shape: tuple[int, ...] = (1, 1, 128, 512), **config: Any) -> Program:
    return perfmodel.get_op("centralize_w_rm").build_program(
        shape, device=_device(), dtype="bfloat16", config={"grid": (1, 1), **config}
    )


def _with_compute(program: Program, fn: Any) -> Program:
    kernels = tuple(dataclasses.replace(k, fn=fn) if k.risc == "trisc" else k for k in program.kernels)
    return dataclasses.replace(program, kernels=kernels)


def _logged_unary(log: list[tuple[str, int, float]]) -> Any:
    """The unary compute kernel, logging when math holds a Dst section and when pack gives one back."""

    def compute(
        k: Any, *, per_core_block_cnt: int, per_core_block_dim: int, sfpu_op_chain: tuple[str, ...], **_: Any
    ) -> Iterator[Any]:
        yield from k.init_sfpu(0, 2)
        for i in range(per_core_block_cnt):
            yield from k.cb_reserve_back(2, 1)
            yield from k.tile_regs_acquire()
            if k.thread == "math":
                log.append(("acquired", i, k.env.now))
            yield from k.cb_wait_front(0, 1)
            yield from k.copy_tile(0, 0, 0)
            for op in sfpu_op_chain:
                yield from k.sfpu_init(op)
                yield from k.sfpu_tile(op, 0)
            yield from k.tile_regs_commit()
            yield from k.tile_regs_wait()
            yield from k.pack_tile(0, 2)
            yield from k.cb_pop_front(0, 1)
            if k.thread == "pack":
                log.append(("released", i, k.env.now))
            yield from k.tile_regs_release()
            yield from k.cb_push_back(2, 1)

    return compute


@pytest.mark.parametrize("full_sync, sections", [(False, 2), (True, 1)])
def test_acquire_waits_for_the_release_the_sections_allow(full_sync: bool, sections: int) -> None:
    log: list[tuple[str, int, float]] = []
    # copy: pack (32) slower than math (8) keeps math waiting for Dst sections; buffering lets it run ahead.
    program = _with_compute(_unary(fn="copy", buffering=4, dst_full_sync_en=full_sync), _logged_unary(log))
    simulate(program)
    acquired = {i: t for kind, i, t in log if kind == "acquired"}
    released = {i: t for kind, i, t in log if kind == "released"}
    assert len(acquired) == len(released) == 16
    for i, t in acquired.items():
        if i >= sections:
            assert t >= released[i - sections]
    # Math does get ahead of pack by as much as the sections allow (the bound is reached, not just kept).
    assert any(acquired[i] < released[i - sections + 1] for i in range(sections, 16)) or sections == 1


def test_sync_full_serialises_math_and_pack() -> None:
    log: list[tuple[str, int, float]] = []
    program = _with_compute(_unary(fn="copy", buffering=4, dst_full_sync_en=True), _logged_unary(log))
    simulate(program)
    acquired = {i: t for kind, i, t in log if kind == "acquired"}
    released = {i: t for kind, i, t in log if kind == "released"}
    # Section i is math's from its acquire and pack's until its release; the next acquire follows.
    for i in range(1, 16):
        assert acquired[i] >= released[i - 1]


def _hang_acquire(k: Any, **_: Any) -> Iterator[Any]:
    """Math commits three sections; pack never waits or releases them."""
    for _ in range(3):
        yield from k.tile_regs_acquire()
        yield from k.tile_regs_commit()


def _hang_wait(k: Any, **_: Any) -> Iterator[Any]:
    """Pack waits for a section that math never commits."""
    yield from k.tile_regs_wait()
    yield from k.tile_regs_release()


@pytest.mark.parametrize(
    "kernel, thread, call", [(_hang_acquire, "math", "tile_regs_acquire"), (_hang_wait, "pack", "tile_regs_wait")]
)
def test_a_handshake_hang_names_the_thread_and_dst(kernel: Any, thread: str, call: str) -> None:
    program = _with_compute(_unary((1, 1, 32, 32)), kernel)
    with pytest.raises(DeadlockError) as des:
        simulate(program)
    with pytest.raises(DeadlockError) as analytic:
        estimate(program)
    for error in (des.value, analytic.value):
        waits = [w for w in error.report if w.kernel == "compute"]
        assert [(w.thread, w.call, w.cb) for w in waits] == [(thread, call, DST_CB)]
        assert f"compute/{thread}" in str(error) and f"{call}() on Dst" in str(error)
        assert "test_compute_threads.py" in waits[0].source


def _math_busy(result: Any) -> float:
    return max(core["math"]["busy_cycles"] for core in result.per_core)


def test_fidelity_phases_scale_reduce_math_only() -> None:
    device = _device()
    per_phase = device.compute_for("bfloat16").cost("reduce_row").math_cycles_per_phase
    assert per_phase > 0
    busy = {f: _math_busy(simulate(_centralize(math_fidelity=f))) for f in MATH_FIDELITIES}
    wt, tile_rows = 512 // 32, 128 // 32
    for phases, fidelity in enumerate(MATH_FIDELITIES, start=1):
        # Every reduce tile pays one FPU pass per phase; tilize, sub and untilize do not multiply.
        expected = busy["LoFi"] + (phases - 1) * per_phase * wt * tile_rows
        assert busy[fidelity] == pytest.approx(expected)
    unary = {f: _math_busy(simulate(_unary(math_fidelity=f))) for f in MATH_FIDELITIES}
    assert len(set(unary.values())) == 1


def _commits(program: Program) -> int:
    math = trace_core(program)["compute.math"]
    return sum(1 for e in math if isinstance(e, CbCall) and e.cb == DST_CB and e.call == "push")


def test_fp32_dest_acc_halves_the_chunk() -> None:
    op = perfmodel.get_op("tilize")
    program = op.build_program((1, 1, 64, 512), device=_device(), dtype="bfloat16", config={"grid": (1, 1)})
    fp32 = dataclasses.replace(program, compute_config=ComputeConfig(fp32_dest_acc_en=True))
    full = dataclasses.replace(program, compute_config=ComputeConfig(dst_full_sync_en=True))
    # Two tile rows of 16 tiles: 2 x 2 chunks of 8 tiles, 2 x 4 of 4 with a 32-bit Dst, 2 x 1 in SyncFull.
    assert (_commits(program), _commits(fp32), _commits(full)) == (4, 8, 2)
    src = [e for e in trace_core(fp32)["compute.unpack"] if isinstance(e, CbCall) and e.cb == SRC_CB]
    assert max(e.pages for e in src if e.call == "reserve") == 4


def _agree(des: float, analytic: float) -> None:
    # tests/test_agreement.py: a median of 3 %, a 95th percentile of 10 % over its cases.
    assert abs(analytic - des) / des <= 0.10


@pytest.mark.parametrize(
    "knobs",
    [
        {"math_fidelity": "LoFi"},
        {"math_fidelity": "HiFi2"},
        {"math_fidelity": "HiFi4"},
        {"fp32_dest_acc_en": True},
        {"dst_full_sync_en": True},
        {"fp32_dest_acc_en": True, "dst_full_sync_en": True},
    ],
)
def test_engines_agree_on_the_compute_knobs(knobs: dict[str, Any]) -> None:
    for program in (_centralize(**knobs), _centralize((1, 1, 64, 2048), **knobs), _unary(**knobs)):
        _agree(simulate(program).cycles, estimate(program).cycles)


def test_estimate_many_takes_the_unary_compute_columns() -> None:
    rows = []
    for fidelity in MATH_FIDELITIES:
        for fp32 in (False, True):
            for full in (False, True):
                rows.append(
                    dict(
                        N=1,
                        C=1,
                        H=64,
                        W=256,
                        dtype="bfloat16",
                        fn="relu",
                        device=BOARD,
                        grid_x=1,
                        grid_y=1,
                        row_wise=False,
                        block_tiles=1,
                        buffering=2,
                        math_fidelity=fidelity,
                        fp32_dest_acc_en=fp32,
                        dst_full_sync_en=full,
                    )
                )
    table = estimate_many("unary", pd.DataFrame(rows))
    assert table["feasible"].all()
    for row, cycles in zip(rows, table["cycles"], strict=True):
        program = _unary(
            math_fidelity=row["math_fidelity"],
            fp32_dest_acc_en=row["fp32_dest_acc_en"],
            dst_full_sync_en=row["dst_full_sync_en"],
        )
        assert cycles == pytest.approx(estimate(program).cycles)
        _agree(simulate(program).cycles, cycles)
    # Without the columns: the factory's defaults (HiFi4, 16-bit Dst for bf16, SyncHalf).
    bare = pd.DataFrame(
        [{k: v for k, v in rows[-4].items() if k not in ("math_fidelity", "fp32_dest_acc_en", "dst_full_sync_en")}]
    )
    assert estimate_many("unary", bare)["cycles"].iloc[0] == pytest.approx(estimate(_unary()).cycles)
    bad = pd.DataFrame([{**rows[0], "math_fidelity": "HiFi5"}])
    assert "math_fidelity" in estimate_many("unary", bad)["infeasible_reason"].iloc[0]


@pytest.mark.parametrize("engine", [simulate, estimate])
def test_more_phases_never_faster_and_sync_full_never_faster(engine: Any) -> None:
    # Rows of 4 and 128 tiles: the untilize helper takes the same path in every Dst mode (see below).
    for shape in ((1, 1, 128, 128), (1, 1, 32, 4096)):
        times = [engine(_centralize(shape, math_fidelity=f)).cycles for f in MATH_FIDELITIES]
        assert times == sorted(times)
        for fp32 in (False, True):
            half = engine(_centralize(shape, fp32_dest_acc_en=fp32)).cycles
            full = engine(_centralize(shape, fp32_dest_acc_en=fp32, dst_full_sync_en=True)).cycles
            assert full >= half
    for fn in ("copy", "relu"):
        assert engine(_unary(fn=fn, dst_full_sync_en=True)).cycles >= engine(_unary(fn=fn)).cycles


def test_sync_full_lets_a_wider_row_pack_untilize() -> None:
    """Not the same program: a row of 9-16 tiles fits one SyncFull acquire (16 tiles) but not a SyncHalf one
    (8), so the untilize helper takes pack_untilize instead of the slow unpack-untilize, as tt-metal's
    DEST_AUTO_LIMIT does; that is the one way SyncFull can be faster."""
    half, full = _centralize((1, 1, 128, 512)), _centralize((1, 1, 128, 512), dst_full_sync_en=True)
    names = [{e.name for e in trace_core(p)["compute.pack"] if type(e).__name__ == "ComputeCall"} for p in (half, full)]
    assert "untilize" in names[0] and "pack_untilize" in names[1]
    assert simulate(full).cycles < simulate(half).cycles


def test_threads_are_reported_per_core() -> None:
    result = simulate(_centralize())
    core = result.per_core[0]
    assert {"unpack", "math", "pack"} <= set(core)
    # The compute kernel's busy time is its busiest thread's.
    assert core["compute"]["busy_cycles"] == max(core[t]["busy_cycles"] for t in ("unpack", "math", "pack"))
    stages = estimate(_centralize()).stages
    assert stages["compute_cycles_per_unit"] == max(
        stages[f"compute.{t}_cycles_per_unit"] for t in ("unpack", "math", "pack")
    )


def test_kernel_spec_unchanged_for_data_movement() -> None:
    program = _centralize()
    traces = trace_core(program)
    assert set(traces) == {"reader", "writer", "compute.unpack", "compute.math", "compute.pack"}
    assert all(isinstance(k, KernelSpec) for k in program.kernels)


def _profile_text(tmp_path: Any, old: str, new: str) -> Any:
    from pathlib import Path

    src = Path(perfmodel.load_device(BOARD).path).read_text()
    assert old in src
    path = tmp_path / "board.toml"
    path.write_text(src.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "pack_cycles_per_tile = { value = 45.0",
            "pack_cycles = { value = 45.0",
            "compute.bfloat16.tilize.pack_cycles",
        ),
        ("unpack_cycles_per_tile = { value = 52.0", "#", "compute.bfloat16.tilize.unpack_cycles_per_tile': missing"),
        ("tiles_32bit = { value = 8,", "tiles_32bit = { value = 0,", "dst.tiles_32bit"),
        ("[dst]\n", "[dst]\ndst_tiles_half_sync = 8\n", "dst.dst_tiles_half_sync"),
    ],
)
def test_loader_refuses_bad_thread_parts(tmp_path: Any, old: str, new: str, message: str) -> None:
    from perfmodel.errors import ProfileError

    with pytest.raises(ProfileError, match=message):
        perfmodel.device.DeviceProfile.from_toml(_profile_text(tmp_path, old, new))


def test_thread_parts_and_dst_are_in_the_profiles_with_sources() -> None:
    for board in perfmodel.device.list_devices():
        device = perfmodel.load_device(board)
        assert device.dst.tiles_per_acquire(False, False) == 8 and device.dst.tiles_per_acquire(True, True) == 8
        for fmt, fc in device.compute.items():
            for name, cost in fc.costs.items():
                for part in ("unpack", "math", "pack"):
                    key = f"compute.{fmt}.{name}.{part}_cycles_per_tile"
                    assert device.source_of(key) is not None, key
                # The slowest-thread figure is derived, or stated (a fit, or scaled from one) and scales the parts.
                source = device.source_of(f"compute.{fmt}.{name}.cycles_per_tile")
                assert source is not None
                if source.source.startswith("derived"):
                    assert cost.cycles_per_tile == cost.slowest_thread_cycles
        # The measured thread figures of compute.md §5.
        tilize = device.compute_for("bfloat16").cost("tilize")
        wh = device.arch == "wormhole_b0"
        assert (tilize.unpack_cycles_per_tile, tilize.pack_cycles_per_tile) == ((52.0, 45.0) if wh else (25.0, 39.0))
        reduce = device.compute_for("bfloat16").cost("reduce_row")
        assert reduce.thread_cycles("math", 1, 4) == 4 * reduce.thread_cycles("math", 1, 1) > 0
        sub = device.compute_for("bfloat16").cost("sub_bcast_col")
        assert sub.thread_cycles("math", 1, 4) == sub.thread_cycles("math", 1, 1)


def test_evolve_reaches_the_thread_parts_and_the_dst() -> None:
    from perfmodel.errors import ProfileError

    device = perfmodel.load_device(BOARD)
    q = device.evolve(
        **{
            "compute.bfloat16.reduce_row.math_cycles_per_phase": 16,
            "compute.bfloat16.tilize.pack_cycles_per_tile": 60,
            "dst.acquire_cycles": 0,
            "dst.tiles_16bit": 32,
        }
    )
    assert q.compute_for("bfloat16").cost("reduce_row").math_cycles_per_phase == 16.0
    assert q.compute_for("bfloat16").cost("tilize").thread_cycles("pack", 1) == 60.0 * 52.0 / 60.0
    assert q.dst.acquire_cycles == 0.0 and q.compute_for("bfloat16").dst_tiles_half_sync == 16
    with pytest.raises(ProfileError, match="unknown key"):
        device.evolve(**{"compute.bfloat16.tilize.sfpu_cycles_per_tile": 1})
    with pytest.raises(ProfileError, match="unknown key"):
        device.evolve(**{"compute.bfloat16.dst_tiles_half_sync": 4})
    with pytest.raises(ProfileError, match=r"dst\.tiles_16bit"):
        device.evolve(**{"dst.tiles_16bit": 0})
