"""Static checks: L1 verdicts at the boundary, CB count, config ranges; a verdict is a report."""

from __future__ import annotations

import dataclasses

import pytest

import perfmodel
from perfmodel.checks import check
from perfmodel.program import CircularBuffer

OP = perfmodel.get_op("centralize_w_rm")
WH = perfmodel.load_device("wormhole_b0_n150")


def footprint(wt: int, tile: int, bin_: int, bout: int) -> int:
    """(bin + bout + 2) Wt tiles + one mean tile + one bf16 scaler tile (reference §2)."""
    return tile * ((bin_ + bout + 2) * wt + 1) + 2048


@pytest.mark.parametrize("bufs", [(2, 2), (1, 1), (3, 1)])
@pytest.mark.parametrize("dtype,tile", [("bfloat16", 2048), ("float32", 4096)])
def test_l1_verdict_flips_exactly_at_the_budget(bufs, dtype, tile) -> None:
    bin_, bout = bufs
    budget = WH.core.l1_free_bytes
    # The widest row that fits, computed from the budget, and one tile wider.
    wt_max = (budget - 2048 - tile) // (tile * (bin_ + bout + 2))
    config = {"in_buffering": bin_, "out_buffering": bout, "grid": (1, 1)}
    fits = check(OP.build_program((1, 1, 32, 32 * wt_max), device=WH, dtype=dtype, config=config))
    over = check(OP.build_program((1, 1, 32, 32 * (wt_max + 1)), device=WH, dtype=dtype, config=config))
    assert fits.ok and fits.l1_bytes_per_core == footprint(wt_max, tile, bin_, bout) <= budget
    assert not over.ok and over.l1_bytes_per_core > budget
    assert [v.kind for v in over.violations] == ["l1_overflow"]


def test_budget_equal_to_footprint_fits_one_byte_less_does_not() -> None:
    p = OP.build_program((1, 1, 64, 1024), device=WH)
    used = p.l1_bytes_per_core
    exact = dataclasses.replace(p, device=WH.evolve(**{"core.l1_free_bytes": used}))
    short = dataclasses.replace(p, device=WH.evolve(**{"core.l1_free_bytes": used - 1}))
    assert check(exact).ok
    report = check(short)
    assert not report.ok and "1 more than" in report.violations[0].message


def test_design_point_of_the_reference() -> None:
    # The reference: double-buffered bf16 stops fitting near Wt = 110, single-buffered near Wt = 165.
    ok = check(OP.build_program((1, 1, 32, 3520), device=WH))
    assert ok.ok
    wide = check(OP.build_program((1, 1, 32, 32 * 170), device=WH, config={"in_buffering": 1, "out_buffering": 1}))
    assert not wide.ok


def test_issue_examples() -> None:
    over = check(OP.build_program((1, 1, 32, 8192), device=WH))
    assert not over.ok and over.violations[0].kind == "l1_overflow"
    assert "c_0 cb_in_rm 512 x 2048 B" in over.violations[0].message  # the per-CB breakdown
    fine = check(OP.build_program((1, 1, 2048, 1024), device=WH))
    assert fine.ok and fine.l1_bytes_per_core == 397_312 and fine.violations == ()


def test_cb_count_and_index_limits() -> None:
    p = OP.build_program((1, 1, 32, 32), device=WH)
    few_cbs = dataclasses.replace(p, device=WH.evolve(**{"core.num_cbs": 8}))
    kinds = [v.kind for v in check(few_cbs).violations]
    assert kinds == ["cb_index"]  # c_16 does not exist on a board with 8 CBs
    many = dataclasses.replace(
        p, cbs=p.cbs + tuple(CircularBuffer(i, f"extra{i}", 2048, 1, "bfloat16") for i in range(17, 45))
    )
    kinds = [v.kind for v in check(many).violations]
    assert "cb_count" in kinds and kinds.count("cb_index") == 45 - 32


def test_config_range_rules() -> None:
    p = OP.build_program((1, 1, 32, 64), device=WH)
    bad = dataclasses.replace(
        p,
        cbs=(*p.cbs[:-1], CircularBuffer(16, "cb_out_rm", 2040, 0, "bfloat16"), CircularBuffer(0, "dup", 2048, 1, "x")),
    )
    kinds = sorted(v.kind for v in check(bad).violations)
    assert kinds == ["cb_alignment", "cb_index", "cb_pages"]
    lost = dataclasses.replace(p, units=p.units + 1)
    assert [v.kind for v in check(lost).violations] == ["work_split"]


def test_report_to_dict_has_the_cli_fields() -> None:
    d = check(OP.build_program((1, 1, 3200, 64), device=WH)).to_dict()
    assert {"ok", "violations", "l1_bytes_per_core", "l1_budget_bytes", "cbs", "num_cores", "core_groups"} <= set(d)
    assert d["core_groups"][0] == {"cores": [[[0, 0], [3, 7]], [[4, 0], [4, 3]]], "units_per_core": 2}
    assert d["core_groups"][1]["units_per_core"] == 1
    assert {"index", "name", "page_size", "num_pages", "bytes"} <= set(d["cbs"][0])
