"""The client's reconstruction of the library's types from their JSON (no server needed): RunResult,
CheckReport and DeadlockError come back equal to the originals."""

from __future__ import annotations

import json

import pytest

import perfmodel
from perfmodel.checks import CheckReport
from perfmodel.known_hangs import preloaded_streaming_compute as hanging_compute
from perfmodel.result import RunResult
from perfmodel.service.client import _deadlock, _target
from perfmodel.service.work import plain

OP = perfmodel.get_op("centralize_w_rm")


def _through_json(value: dict) -> dict:
    return json.loads(json.dumps(plain(value)))


@pytest.mark.parametrize("engine", [perfmodel.estimate, perfmodel.simulate])
def test_run_result_round_trip(engine) -> None:
    result = engine(OP.build_program((1, 1, 128, 64), device="wormhole_b0_n150", config={"grid": (2, 1)}))
    back = RunResult.from_dict(_through_json(result.to_dict()))
    assert back.to_dict() == result.to_dict()


def test_check_report_round_trip() -> None:
    report = perfmodel.check(OP.build_program((1, 1, 32, 8192), device="wormhole_b0_n150"))
    assert not report.ok
    assert CheckReport.from_dict(_through_json(report.to_dict())) == report


def test_deadlock_round_trip_and_custom_kernels_stay_local() -> None:
    program = OP.build_program(
        (1, 1, 64, 32), device="wormhole_b0_n150", config={"grid": (1, 1)}, kernels={"compute": hanging_compute}
    )
    with pytest.raises(perfmodel.DeadlockError) as info:
        perfmodel.simulate(program)
    back = _deadlock(_through_json(info.value.to_dict()))
    assert str(back) == str(info.value)
    assert back.to_dict() == info.value.to_dict()
    with pytest.raises(perfmodel.InputError, match="kernel mirrors of its own"):
        _target(program)


def test_a_program_becomes_a_request_body(tmp_path) -> None:
    program = OP.build_program((1, 1, 64, 96), device="blackhole_p150a", config={"grid": (2, 2), "in_buffering": 3})
    assert _target(program) == {
        "op": "centralize_w_rm",
        "shape": [1, 1, 64, 96],
        "dtype": "bfloat16",
        "device": "blackhole_p150a",
        "config": {
            "grid": [2, 2],
            "row_wise": False,
            "in_buffering": 3,
            "out_buffering": 2,
            "variant": "single_pass",
            "block_wt": None,
            "math_fidelity": "HiFi4",
            "fp32_dest_acc_en": None,
            "dst_full_sync_en": False,
        },
    }
    what_if = program.device.evolve(**{"dram.peak_bandwidth_gbps": 100.0})
    with pytest.raises(perfmodel.InputError, match="save it to a TOML file"):
        _target("centralize_w_rm", (1, 1, 64, 96), device=what_if)
