"""The simulator's fast paths change nothing it computes: `simulate(program)` equals `simulate(program,
reference=True)` (the plain NoC calendar and kernel calls) bit for bit, on results, outputs, traces and hangs.

Compared: every field of the result (cycles, kernel duration, stages, per-core busy / blocked per thread and
call, per-CB occupancy and blocked cycles, NoC and DRAM utilisation, zones, event and call counts) except
the wall time, the output's bit pattern, the Perfetto trace, and a deadlock's report. The programs cover
centralize_w_rm (single and two pass, one and many cores, both boards, bf16 / fp32, buffering,
split order, compute configs), unary, tilize, untilize, dram_unary, hangs, and random configurations drawn
with a fixed seed.
"""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest

import perfmodel
from perfmodel import DeadlockError, simulate
from perfmodel.des import SimulationLimitError
from perfmodel.errors import InputError
from perfmodel.known_hangs import preloaded_streaming_compute
from perfmodel.ops.centralize_w_rm.kernels import CB_OUT_RM

WH, BH = "wormhole_b0_n150", "blackhole_p150a"
_WALL = ("wall_time_s", "events_per_s")


def _comparable(result: perfmodel.RunResult) -> dict:
    out = result.to_dict()
    out["details"] = {k: v for k, v in out["details"].items() if k not in _WALL}
    return out


def _bits(array: np.ndarray | None) -> tuple | None:
    if array is None:
        return None
    a = np.ascontiguousarray(array)
    return a.shape, a.dtype.str, a.view(np.uint8).tobytes()


def _inputs(program, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(tuple(program.shape)).astype(np.float32)


def assert_same_run(program, *, functional: bool = False, **kwargs) -> perfmodel.RunResult:
    """Run `program` both ways; assert the results (and the outputs of a functional run) are identical."""
    if functional:
        kwargs["inputs"] = _inputs(program)
    fast = simulate(program, **kwargs)
    ref = simulate(program, reference=True, **kwargs)
    assert _comparable(fast) == _comparable(ref)
    # As text too: an int where the reference has a float (0 for 0.0) would show in a JSON report.
    assert json.dumps(_comparable(fast), sort_keys=True) == json.dumps(_comparable(ref), sort_keys=True)
    assert _bits(fast.output) == _bits(ref.output)
    return fast


def assert_same_hang(program) -> DeadlockError:
    with pytest.raises(DeadlockError) as fast:
        simulate(program)
    with pytest.raises(DeadlockError) as ref:
        simulate(program, reference=True)
    assert fast.value.to_dict() == ref.value.to_dict()
    assert str(fast.value) == str(ref.value)
    return fast.value


def _centralize(shape, device=WH, dtype="bfloat16", **config):
    return perfmodel.get_op("centralize_w_rm").build_program(shape, device=device, dtype=dtype, config=config)


CENTRALIZE = [
    ((1, 1, 256, 512), WH, "bfloat16", {"grid": (1, 1)}),
    ((1, 1, 256, 512), BH, "bfloat16", {"grid": (1, 1)}),
    ((1, 1, 128, 256), WH, "float32", {"grid": (1, 1)}),
    ((1, 1, 128, 256), BH, "float32", {"grid": (1, 1), "fp32_dest_acc_en": False}),
    ((1, 1, 1024, 256), WH, "bfloat16", {}),
    ((1, 1, 1024, 256), BH, "float32", {}),
    ((1, 1, 4096, 512), WH, "bfloat16", {}),
    ((1, 1, 2048, 1024), BH, "bfloat16", {"row_wise": True}),
    ((2, 3, 320, 512), WH, "bfloat16", {"grid": (4, 3), "row_wise": True}),
    ((1, 1, 512, 512), WH, "bfloat16", {"grid": (2, 2), "in_buffering": 1, "out_buffering": 1}),
    ((1, 1, 512, 512), BH, "bfloat16", {"grid": (3, 2), "in_buffering": 3, "out_buffering": 4}),
    ((1, 1, 256, 256), WH, "float32", {"grid": (2, 1), "fp32_dest_acc_en": True, "dst_full_sync_en": True}),
    ((1, 1, 256, 1024), WH, "bfloat16", {"grid": (2, 2), "variant": "two_pass"}),
    ((1, 1, 128, 768), BH, "float32", {"grid": (1, 1), "variant": "two_pass", "block_wt": 4}),
    ((1, 1, 64, 256), WH, "bfloat16", {"grid": (1, 1), "math_fidelity": "LoFi"}),
]


@pytest.mark.parametrize(("shape", "device", "dtype", "config"), CENTRALIZE)
def test_centralize_timing(shape, device, dtype, config) -> None:
    assert_same_run(_centralize(shape, device, dtype, **config))


@pytest.mark.parametrize(("shape", "device", "dtype", "config"), CENTRALIZE[::2])
def test_centralize_functional(shape, device, dtype, config) -> None:
    assert_same_run(_centralize(shape, device, dtype, **config), functional=True)


OTHER_OPS = [
    ("unary", (1, 1, 256, 256), WH, "bfloat16", {"grid": (1, 1)}),
    ("unary", (1, 1, 512, 512), BH, "float32", {"fn": "relu", "block_tiles": 4, "buffering": 1}),
    ("unary", (1, 1, 256, 512), WH, "bfloat8_b", {"grid": (2, 2), "block_tiles": 2, "buffering": 3}),
    ("tilize", (1, 2, 64, 96), WH, "bfloat16", {}),
    ("tilize", (1, 1, 1920, 256), BH, "bfloat16", {"grid": (5, 4)}),
    ("tilize", (1, 3, 45, 70), BH, "float32", {"grid": (2, 3)}),
    ("untilize", (1, 2, 64, 96), WH, "bfloat16", {}),
    ("untilize", (1, 24, 96, 256), BH, "bfloat16", {"grid": (5, 4), "output_shape": (1, 24, 80, 256)}),
    ("untilize", (1, 4, 64, 32), BH, "float32", {"grid": (5, 4), "output_shape": (1, 4, 50, 3)}),
]


@pytest.mark.parametrize(("op", "shape", "device", "dtype", "config"), OTHER_OPS)
def test_other_ops(op, shape, device, dtype, config) -> None:
    program = perfmodel.get_op(op).build_program(shape, device=device, dtype=dtype, config=config)
    assert_same_run(program)
    assert_same_run(program, functional=True)


def test_dram_unary() -> None:
    op = perfmodel.get_op("dram_unary")
    for device in (WH, BH):
        for config in (
            {"num_transactions": 8},
            {"direction": "write", "num_transactions": 8, "bank": 3},
            {"num_transactions": 64, "transaction_bytes": 20000, "core": (2, 1)},
        ):
            assert_same_run(op.build_program(device=device, config=config))


def test_trace_is_the_same(tmp_path) -> None:
    program = _centralize((1, 1, 128, 256), WH, "bfloat16", grid=(2, 1))
    simulate(program, trace_path=tmp_path / "fast.json")
    simulate(program, trace_path=tmp_path / "ref.json", reference=True)
    fast = json.loads((tmp_path / "fast.json").read_text())
    ref = json.loads((tmp_path / "ref.json").read_text())
    assert fast == ref


def test_hangs_are_the_same() -> None:
    one = {"grid": (1, 1)}
    op = perfmodel.get_op("centralize_w_rm")
    err = assert_same_hang(
        op.build_program((64, 32), device=WH, config=one, kernels={"compute": preloaded_streaming_compute})
    )
    assert err.report
    assert_same_hang(
        op.build_program(
            (1, 1, 6 * 32, 32), device=WH, config={"grid": (2, 1)}, kernels={"compute": preloaded_streaming_compute}
        )
    )
    program = op.build_program((32, 64), device=WH, config=one)
    small = tuple(dataclasses.replace(cb, num_pages=1) if cb.index == CB_OUT_RM else cb for cb in program.cbs)
    assert_same_hang(dataclasses.replace(program, cbs=small))


def _random_centralize(rng: random.Random):
    device = rng.choice([WH, BH])
    dtype = rng.choice(["bfloat16", "bfloat16", "float32"])
    shape = (1, rng.randint(1, 2), 32 * rng.randint(1, 12), 32 * rng.randint(1, 12))
    config = {
        "grid": (rng.randint(1, 4), rng.randint(1, 4)),
        "row_wise": rng.random() < 0.5,
        "in_buffering": rng.randint(1, 4),
        "out_buffering": rng.randint(1, 4),
        "math_fidelity": rng.choice(["LoFi", "HiFi2", "HiFi4"]),
        "dst_full_sync_en": rng.random() < 0.3,
    }
    if rng.random() < 0.3:
        config["fp32_dest_acc_en"] = rng.random() < 0.5
    if rng.random() < 0.3:
        config["variant"] = "two_pass"
    return _centralize(shape, device, dtype, **config)


def test_random_configs() -> None:
    rng = random.Random(20261202)
    ran = 0
    for i in range(16):
        try:
            program = _random_centralize(rng)
        except InputError:
            continue
        try:
            assert_same_run(program, functional=i % 2 == 0)
        except InputError:  # does not fit L1 with data: both engines refuse it
            assert_same_run(program)
        ran += 1
    assert ran >= 8


@pytest.mark.parametrize(
    ("device", "streams", "chains"), [(WH, 16, False), (BH, 16, False), (WH, 1, True), (BH, 1, True)]
)
def test_noc_model_under_random_contention(device, streams, chains) -> None:
    """Random transfers, issued at non-decreasing times from many cores: the same times and busy cycles
    (with chains of links formed and split all the time, and without)."""
    from perfmodel.des.noc import NocModel
    from perfmodel.des.noc_fast import FastNocModel
    from perfmodel.device import load_device

    profile = load_device(device)
    rng = random.Random(7)
    ref, fast = NocModel(profile, streams=streams), FastNocModel(profile, streams=streams)
    fast.chain_links = chains
    now = 0.0
    for _ in range(6000):
        now += rng.choice([0.0, 0.0, 0.5, 3.0, rng.random() * 200])
        core = (rng.randrange(profile.core.grid_x), rng.randrange(profile.core.grid_y))
        args = (core, rng.randrange(2), rng.choice(["read", "write"]), rng.randrange(profile.dram.num_banks))
        nbytes = rng.choice([32, 64, 2048, 4096, 8192, 10000, 30000])
        assert fast.transfer(now, *args, nbytes) == ref.transfer(now, *args, nbytes)
    assert fast.utilisation(now) == ref.utilisation(now)
    assert (fast.generation > 0) == chains

    # The fast model prunes past intervals in batches: the same intervals from `now` on.
    def current(starts: list[float], ends: list[float]) -> list[tuple[float, float]]:
        return [(s, e) for s, e in zip(starts, ends, strict=True) if e > now]

    assert {k: current(r.leader().starts, r.leader().ends) for k, r in fast.resources.items() if r.used} == {
        k: current(c.starts, c.ends) for k, c in ref.calendars.items()
    }


def test_a_reused_noc_model_is_as_new() -> None:
    """Many-core runs on one board take the NoC model the last one left, emptied (re-priced for another
    number of cores): each run equals its reference run whatever ran before it, a hang included."""
    from perfmodel.des import noc_fast

    device = perfmodel.load_device(WH)
    op = perfmodel.get_op("centralize_w_rm")
    first = op.build_program((1, 1, 1024, 512), device=device, config={"grid": (4, 2)})
    other = op.build_program(
        (1, 1, 512, 1024), device=device, config={"grid": (2, 4), "in_buffering": 1, "row_wise": True}
    )
    wider = op.build_program((1, 1, 1024, 512), device=device, config={"grid": (4, 4)})
    assert first.num_cores == other.num_cores == 8 and wider.num_cores == 16
    model = noc_fast.FastNocModel.for_run(device, 8)
    model.release()
    assert noc_fast.FastNocModel.for_run(device, 8) is model  # taken again, by one run at a time
    assert noc_fast.FastNocModel.for_run(device, 8) is not model
    model.release()
    for program in (first, other, wider, first, wider, other):
        assert_same_run(program)
    reused = noc_fast.FastNocModel.for_run(device, 8)
    assert reused.streams == 8 and reused.resources
    assert not reused.packets and not any(r.used or r.ends or r.busy for r in reused.resources.values())
    assert noc_fast.FastNocModel.for_run(device, 1).chain_links  # a single core's model is never reused
    reused.release()
    hangs = op.build_program(
        (1, 1, 16 * 32, 32), device=device, config={"grid": (8, 1)}, kernels={"compute": preloaded_streaming_compute}
    )
    assert hangs.num_cores == 8
    assert_same_hang(hangs)
    assert_same_run(other)  # after a run that hung


def test_errors_are_the_same() -> None:
    program = _centralize((1, 1, 256, 256), WH, "bfloat16", grid=(2, 1))
    messages = []
    for reference in (False, True):
        with pytest.raises(SimulationLimitError) as info:
            simulate(program, max_events=700, reference=reference)
        messages.append(str(info.value))
    assert messages[0] == messages[1]

    def bad_reader(k, **_):
        yield from k.cb_reserve_back(9, 1)  # a CB the program does not configure

    program = perfmodel.get_op("centralize_w_rm").build_program(
        (1, 1, 64, 64), device=WH, config={"grid": (1, 1)}, kernels={"reader": bad_reader}
    )
    messages = []
    for reference in (False, True):
        with pytest.raises(InputError) as info:
            simulate(program, reference=reference)
        messages.append((type(info.value), str(info.value), type(info.value.__cause__), str(info.value.__cause__)))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("device", [WH, BH, "wormhole_b0_n300", "blackhole_p100a"])
def test_noc_routes(device) -> None:
    from perfmodel.des.noc import NocModel
    from perfmodel.des.noc_fast import FastNocModel
    from perfmodel.device import load_device

    profile = load_device(device)
    ref, fast = NocModel(profile), FastNocModel(profile)
    size_x, size_y = profile.noc.size_x, profile.noc.size_y
    for noc in (0, 1):
        for src in [(x, y) for x in range(size_x) for y in range(size_y)]:
            for dst in [(x, y) for x in range(size_x) for y in range(size_y)]:
                assert tuple(r.key for r in fast._links(noc, src, dst)) == ref.route(noc, src, dst)


def _per_tile_a_compute(k, *, Ht, Wt):
    """centralize_w_rm's compute with the subtract waiting for A tile by tile (its data read per tile)."""
    from perfmodel.kernel_api import InputPolicy
    from perfmodel.ops.centralize_w_rm import kernels as ck

    for _ in range(Ht):
        yield from k.tilize(ck.CB_IN_RM, Wt, ck.CB_IN_TILED, num_blocks=1)
        yield from k.reduce(ck.CB_IN_TILED, ck.CB_SCALER, ck.CB_MEAN_TILED, Wt)
        yield from k.sub(
            ck.CB_IN_TILED,
            ck.CB_MEAN_TILED,
            ck.CB_CENTRALIZED,
            Wt,
            a_policy=InputPolicy(wait="per_tile", pop="at_end"),
            b_policy=InputPolicy(wait="upfront", pop="at_end"),
        )
        yield from k.untilize(ck.CB_CENTRALIZED, ck.CB_OUT_RM, Wt)


def test_compute_variants_functional() -> None:
    op = perfmodel.get_op("centralize_w_rm")
    for kernel, shape in ((_per_tile_a_compute, (1, 1, 96, 320)), (preloaded_streaming_compute, (1, 1, 32, 32))):
        for device in (WH, BH):
            program = op.build_program(shape, device=device, config={"grid": (1, 1)}, kernels={"compute": kernel})
            assert_same_run(program, functional=True)


def test_zero_setup_profile() -> None:
    """Kernels that start at cycle 0 (no setup): pushes, zones and waits at the initial time."""
    from perfmodel.device import load_device

    profile = load_device(WH)
    profile = dataclasses.replace(profile, dispatch=dataclasses.replace(profile.dispatch, kernel_setup_cycles=0.0))
    assert_same_run(_centralize((1, 1, 64, 64), profile, "bfloat16", grid=(1, 1)), functional=True)
    assert_same_run(perfmodel.get_op("unary").build_program((1, 1, 64, 64), device=profile, config={"grid": (1, 1)}))


def test_reference_must_be_a_bool() -> None:
    program = perfmodel.get_op("centralize_w_rm").build_program((1, 1, 64, 64), device="wormhole_b0_n150")
    with pytest.raises(perfmodel.InputError, match="reference must be True or False, got 'no'"):
        perfmodel.simulate(program, reference="no")
