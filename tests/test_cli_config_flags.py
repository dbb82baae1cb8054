"""Config flags on the command line: every field of every op's Config, only the chosen op's accepted."""

from __future__ import annotations

import json

import pytest

from perfmodel.cli.common import config_flags


def test_every_config_field_of_a_tensor_op_has_a_flag() -> None:
    import dataclasses

    from perfmodel.op import get_op, list_ops

    flags = {cf.field: cf for cf in config_flags()}
    tensor_ops = [name for name in list_ops() if not getattr(get_op(name), "microbench", False)]
    assert "unary" in tensor_ops and "dram_unary" not in tensor_ops
    for name in tensor_ops:
        for f in dataclasses.fields(get_op(name).Config):
            assert name in flags[f.name].ops
    # A microbenchmark's config (run by `perfmodel microbench`) adds no flag to the tensor-op subcommands.
    assert "direction" not in flags
    assert flags["row_wise"].kind == "bool" and flags["grid"].kind == "pair" and flags["block_tiles"].kind == "int"


def test_unary_flags_reach_the_config(cli) -> None:
    argv = ["check", "unary", "--shape", "1,1,256,256", "--grid", "1x1", "--fn", "copy", "--block-tiles", "4"]
    code, out, _ = cli(*argv, "--buffering", "1", "--json")
    report = json.loads(out)
    assert code == 0 and [(cb["index"], cb["num_pages"]) for cb in report["cbs"]] == [(0, 4), (2, 4)]


def test_unset_flags_keep_the_ops_defaults(cli) -> None:
    code, out, _ = cli("check", "unary", "--shape", "1,1,64,64", "--json")
    assert code == 0 and [cb["num_pages"] for cb in json.loads(out)["cbs"]] == [2, 2]
    code, out, _ = cli("check", "centralize_w_rm", "--shape", "1,1,64,64", "--in-buffering", "1", "--json")
    assert code == 0 and json.loads(out)["cbs"][0]["num_pages"] == 2  # Wt = 2, in_buffering 1


@pytest.mark.parametrize(
    ("op", "flag", "value"),
    [("centralize_w_rm", "--block-tiles", "4"), ("unary", "--in-buffering", "1"), ("unary", "--out-buffering", "2")],
)
def test_a_flag_of_another_op_exits_2_naming_it(cli, op, flag, value) -> None:
    code, _, err = cli("estimate", op, "--shape", "1,1,64,64", flag, value)
    assert code == 2 and flag in err and op in err and "Traceback" not in err


def test_bool_flags_both_ways_and_bad_values(cli) -> None:
    for flag in ("--row-wise", "--no-row-wise"):
        code, _, _ = cli("check", "centralize_w_rm", "--shape", "1,1,64,64", flag)
        assert code == 0
    code, _, err = cli("check", "unary", "--shape", "1,1,64,64", "--fn", "gelu")
    assert code == 2 and "gelu" in err
    code, _, err = cli("check", "unary", "--shape", "1,1,64,64", "--block-tiles", "two")
    assert code == 2 and "block-tiles" in err


def test_compute_config_flags_reach_the_program(cli) -> None:
    shape = ("--shape", "1,1,64,256")
    code, out, _ = cli("check", "centralize_w_rm", *shape, "--math-fidelity", "LoFi", "--dst-full-sync-en", "--json")
    report = json.loads(out)
    assert code == 0 and report["config"]["math_fidelity"] == "LoFi"
    assert report["compute_config"] == {"math_fidelity": "LoFi", "fp32_dest_acc_en": False, "dst_full_sync_en": True}
    # fp32_dest_acc_en: on by default for float32 data, and --no-... turns it off.
    code, out, _ = cli("check", "centralize_w_rm", *shape, "--dtype", "float32", "--json")
    assert json.loads(out)["compute_config"]["fp32_dest_acc_en"] is True
    code, out, _ = cli("check", "centralize_w_rm", *shape, "--dtype", "float32", "--no-fp32-dest-acc-en", "--json")
    assert json.loads(out)["compute_config"]["fp32_dest_acc_en"] is False
    code, out, _ = cli("check", "unary", *shape, "--math-fidelity", "HiFi2", "--fp32-dest-acc-en", "--json")
    assert code == 0 and json.loads(out)["compute_config"]["math_fidelity"] == "HiFi2"
    for command in ("estimate", "simulate"):
        code, out, _ = cli(command, "centralize_w_rm", *shape, "--math-fidelity", "HiFi3", "--json")
        assert code == 0 and json.loads(out)["kernel_duration_ns"] > 0


def test_validate_takes_the_config_and_prints_it_with_the_error(cli) -> None:
    argv = ("validate", "centralize_w_rm", "--shape", "1,1,64,256", "--math-fidelity", "LoFi", "--fp32-dest-acc-en")
    code, out, _ = cli(*argv, "--json")
    result = json.loads(out)
    assert code == 0 and result["config"]["math_fidelity"] == "LoFi" and result["fp32_dest_acc_en"] is True
    assert result["config"]["fp32_dest_acc_en"] is True and result["max_abs_error"] >= 0
    code, out, _ = cli(*argv)
    assert code == 0 and "math_fidelity=LoFi" in out and "fp32_dest_acc_en=True" in out and "max_abs_error" in out


def test_tune_time_error_front_and_recommend_max_error_on_the_command_line(cli) -> None:
    shape = ("--shape", "1,1,64,256")
    code, out, _ = cli("tune", "centralize_w_rm", *shape, "--trials", "12", "--objectives", "time,error", "--json")
    result = json.loads(out)
    assert code == 0 and result["objectives"] == ["time", "error"] and result["pareto_front"]
    for entry in result["pareto_front"]:
        assert len(entry["values"]) == 2 and "math_fidelity" in entry["config"]
        assert entry["values"][1] == entry["metrics"]["max_abs_error"]
    restrict = ("--restrict", "grid_x=1,2", "--restrict", "grid_y=1", "--restrict", "variant=single_pass")
    code, out, _ = cli("recommend", "centralize_w_rm", *shape, *restrict, "--max-error", "0.05", "--json")
    rec = json.loads(out)
    assert code == 0 and rec["max_error"] == 0.05 and rec["max_abs_error"] <= 0.05
    assert rec["config"]["grid_x"] in (1, 2) and rec["config"]["variant"] == "single_pass"
    code, out, _ = cli("recommend", "centralize_w_rm", *shape, *restrict, "--max-error", "0")
    assert code == 1 and "exceeds max_error 0" in out
