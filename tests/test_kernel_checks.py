"""The kernel dry run in `perfmodel.check`: CB misuse found statically, with the kernel line."""

from __future__ import annotations

import dataclasses

from perfmodel import check, get_op
from perfmodel.checks.kernels import kernel_dry_run
from perfmodel.kernel_api import Preloaded, Streaming
from perfmodel.ops.centralize_w_rm.kernels import (
    CB_CENTRALIZED,
    CB_IN_RM,
    CB_IN_TILED,
    CB_MEAN_TILED,
    CB_OUT_RM,
    CB_SCALER,
)

OP = get_op("centralize_w_rm")
WH = "wormhole_b0_n150"


def _kinds(program) -> list[str]:
    return sorted(v.kind for v in kernel_dry_run(program))


def preloaded_streaming_compute(k, *, Ht, Wt):
    for _ in range(Ht):
        yield from k.tilize(CB_IN_RM, Wt, CB_IN_TILED)
        yield from k.reduce(CB_IN_TILED, CB_SCALER, CB_MEAN_TILED, Wt)
        yield from k.sub(CB_IN_TILED, CB_MEAN_TILED, CB_CENTRALIZED, Wt, a_policy=Preloaded, b_policy=Streaming)
        yield from k.untilize(CB_CENTRALIZED, CB_OUT_RM, Wt)


def test_the_shipped_kernels_pass() -> None:
    for shape, config in (
        ((1, 1, 64, 96), None),
        ((2, 3, 320, 512), {"grid": (3, 5)}),
        ((32, 32), {"in_buffering": 1}),
    ):
        report = check(OP.build_program(shape, device=WH, config=config))
        assert report.ok, report.violations


def test_request_larger_than_capacity_with_line() -> None:
    program = OP.build_program((32, 128), device=WH)
    small = tuple(dataclasses.replace(cb, num_pages=2) if cb.index == CB_OUT_RM else cb for cb in program.cbs)
    violations = [v for v in check(dataclasses.replace(program, cbs=small)).violations]
    over = [v for v in violations if v.kind == "cb_request_exceeds_capacity"]
    assert over, violations
    assert any(v.where and v.where.endswith("kernels.py:70") for v in over)  # the writer's cb_wait_front line
    assert all("c_16" in v.message for v in over)


def test_capacity_not_a_multiple_of_the_reservation() -> None:
    program = OP.build_program((32, 128), device=WH)  # Wt = 4
    odd = tuple(dataclasses.replace(cb, num_pages=6) if cb.index == CB_IN_RM else cb for cb in program.cbs)
    found = [v for v in kernel_dry_run(dataclasses.replace(program, cbs=odd)) if v.kind == "cb_capacity_not_multiple"]
    assert found and "c_0" in found[0].message


def test_push_pop_imbalance() -> None:
    def short_writer(k, *, stick_size_bytes, Ht, Wt):
        for _ in range(Ht):
            yield from k.cb_wait_front(CB_OUT_RM, Wt)
            yield from k.cb_pop_front(CB_OUT_RM, Wt - 1)

    program = OP.build_program((64, 64), device=WH, config={"grid": (1, 1)}, kernels={"writer": short_writer})
    found = [v for v in kernel_dry_run(program) if v.kind == "cb_push_pop_imbalance"]
    assert len(found) == 1 and "c_16: 4 pages pushed but 2 popped" in found[0].message


def test_reader_that_never_pushes() -> None:
    def lazy_reader(k, *, stick_size_bytes, packed_scaler, Ht, Wt):
        yield from k.generate_reduce_scaler(CB_SCALER, packed_scaler)
        for _ in range(Ht):
            yield from k.cb_reserve_back(CB_IN_RM, Wt)

    program = OP.build_program((64, 64), device=WH, kernels={"reader": lazy_reader})
    found = [v for v in kernel_dry_run(program) if v.kind == "cb_push_pop_imbalance"]
    assert any("c_0: 0 pages pushed" in v.message for v in found)


def test_worked_hang_is_the_intra_kernel_rule_at_two_rows_only() -> None:
    one = OP.build_program(
        (32, 32), device=WH, config={"grid": (1, 1)}, kernels={"compute": preloaded_streaming_compute}
    )
    assert _kinds(one) == []
    two = OP.build_program(
        (64, 32), device=WH, config={"grid": (1, 1)}, kernels={"compute": preloaded_streaming_compute}
    )
    found = [v for v in kernel_dry_run(two) if v.kind == "cb_intra_kernel_capacity"]
    assert len(found) == 1 and "c_1" in found[0].message
    line = preloaded_streaming_compute.__code__.co_firstlineno + 2  # the tilize call
    assert found[0].where.endswith(f"test_kernel_checks.py:{line}")


def test_a_kernel_that_loops_forever_or_raises_is_reported() -> None:
    def broken_writer(k, *, stick_size_bytes, Ht, Wt):
        yield from k.cb_wait_front(CB_OUT_RM, k.get_arg("no_such_arg"))

    program = OP.build_program((32, 32), device=WH, kernels={"writer": broken_writer})
    assert "kernel_error" in _kinds(program)
