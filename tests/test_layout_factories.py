"""The tilize and untilize program factories: factory choice and reason, CB tables, per-core work, the check report."""

from __future__ import annotations

import pytest

import perfmodel
from perfmodel import InputError, check
from perfmodel.ops.tilize import factory as tf
from perfmodel.ops.untilize import factory as uf

TILIZE = perfmodel.get_op("tilize")
UNTILIZE = perfmodel.get_op("untilize")


def test_tilize_interleaved_cb_table_and_split() -> None:
    # bh_p100_dlv3 [1, 64, 128, 256]: 256 tile rows on 110 cores -> 86 cores, 3 each, cliff 1.
    p = TILIZE.build_program((1, 64, 128, 256), device="blackhole_p100a")
    assert p.attributes["factory"] == tf.INTERLEAVED and p.num_cores == 86
    assert [(cb.index, cb.page_size_bytes, cb.num_pages) for cb in p.cbs] == [(0, 2048, 8), (16, 2048, 8)]
    assert sorted({c.num_units for c in p.cores}) == [1, 3]
    assert p.cores[-1].num_units == 1 and p.cores[-1].runtime_args["reader"]["start_stick_id"] == 85 * 3 * 32
    assert p.cores[1].runtime_args["writer"]["start_id"] == 3 * 8
    fp32 = TILIZE.build_program((1, 1, 64, 96), device="blackhole_p150a", dtype="float32")
    assert [(cb.page_size_bytes, cb.num_pages) for cb in fp32.cbs] == [(4096, 3), (4096, 3)]


def test_tilize_block_factory_cbs_per_region() -> None:
    # [1, 1, 2048, 5120] on 110 cores: s = 11, 15 x 6 blocks, cliff width 6 and height 9, 90 cores.
    p = TILIZE.build_program((1, 1, 2048, 5120), device="blackhole_p150a")
    assert p.attributes["factory"] == tf.BLOCK and p.num_cores == 90 and p.attributes["block_side_tiles"] == 11
    assert [(cb.index, cb.num_pages) for cb in p.cbs] == [(0, 11), (16, 11)]
    full = p.cores[0]
    reader = full.runtime_args["reader"]
    # 352 reads of 704 B per full core: 11 tile rows x 32 sticks, each an 11-tile segment of a stick.
    assert reader["height_tiles"] * 32 == 352 and reader["block_row_bytes"] == 704
    cliff_row = p.cores[14]
    assert cliff_row.runtime_args["reader"]["width_tiles"] == 6 and dict(cliff_row.cb_pages) == {0: 6, 16: 6}
    assert p.cores[-1].runtime_args["reader"]["height_tiles"] == 9
    assert sum(c.num_units for c in p.cores) == p.units


def test_tilize_choice_reasons_in_check_report() -> None:
    report = check(TILIZE.build_program((1, 1, 2048, 5120), device="blackhole_p150a"))
    assert report.ok and report.factory == tf.BLOCK
    assert "2-D split uses 90 cores" in report.to_dict()["factory_reason"]
    narrow = check(TILIZE.build_program((1, 1, 7680, 256), device="blackhole_p150a", config={"grid": (5, 4)}))
    assert narrow.factory == tf.INTERLEAVED and "Wt = 8, Ht = 240: no 2-D split" in narrow.factory_reason
    # Ops without a factory choice keep the report as it was.
    plain = check(perfmodel.get_op("centralize_w_rm").build_program((1, 1, 64, 64), device="wormhole_b0_n150"))
    assert plain.factory is None and "factory" not in plain.to_dict()


def test_tilize_with_val_padding_choices() -> None:
    decode = TILIZE.build_program((1, 1, 1, 6656), device="blackhole_p150a")
    assert decode.attributes["factory"] == tf.PAD_BLOCK and decode.num_cores == 104
    assert decode.attributes["padded_shape"] == (1, 1, 32, 6656)
    small = TILIZE.build_program((1, 1, 19, 768), device="blackhole_p150a", config={"grid": (8, 8)})
    assert small.attributes["factory"] == tf.PAD_INTERLEAVED and small.num_cores == 1
    aligned = TILIZE.build_program((1, 1, 32, 32), device="blackhole_p150a", config={"with_val_padding": True})
    assert (
        aligned.attributes["factory"] == tf.PAD_INTERLEAVED and aligned.attributes["op_code"] == "TilizeWithValPadding"
    )
    extra = TILIZE.build_program(
        (1, 1, 25281, 256), device="blackhole_p150a", config={"padded_shape": (1, 1, 25344, 256)}
    )
    assert extra.units == 25344 // 32


def test_untilize_cbs_double_with_two_rows_per_core() -> None:
    one_each = UNTILIZE.build_program((1, 32, 64, 256), device="blackhole_p100a")
    assert one_each.attributes["factory"] == uf.MULTI_CORE and one_each.num_cores == 64
    assert [cb.num_pages for cb in one_each.cbs] == [8, 8]
    three_each = UNTILIZE.build_program((1, 64, 128, 256), device="blackhole_p100a")
    assert three_each.num_cores == 86 and [cb.num_pages for cb in three_each.cbs] == [16, 16]
    # Cores are taken row by row.
    assert [c.core for c in three_each.cores[:3]] == [(0, 0), (1, 0), (2, 0)]
    unpad = UNTILIZE.build_program(
        (1, 24, 96, 256), device="blackhole_p150a", config={"grid": (5, 4), "output_shape": (1, 24, 80, 256)}
    )
    assert unpad.attributes["factory"] == uf.UNPAD_INTERLEAVED and unpad.num_cores == 18
    assert [cb.num_pages for cb in unpad.cbs] == [8, 8]


@pytest.mark.parametrize(
    ("wt", "fp32", "bct"), [(12, False, 6), (11, False, 1), (8, False, 8), (8, True, 4), (10, True, 2)]
)
def test_pack_untilize_sub_blocks(wt: int, fp32: bool, bct: int) -> None:
    assert uf.block_ct_dim(wt, fp32) == bct


def test_untilize_block_factory_is_named_not_built() -> None:
    with pytest.raises(InputError, match="UntilizeWithUnpaddingMultiCoreBlockInterleavedProgramFactory"):
        UNTILIZE.build_program((1, 1, 32, 2048), device="blackhole_p150a", config={"output_shape": (1, 1, 1, 2048)})


@pytest.mark.parametrize(
    ("op", "shape", "config", "match"),
    [
        ("tilize", (1, 1, 64, 64), {"grid": (0, 1)}, "at least 1x1"),
        ("tilize", (1, 1, 64, 64), {"grid": (20, 1)}, "larger than"),
        ("tilize", (1, 1, 64, 0), None, "non-positive"),
        ("tilize", (1, 1, 40, 64), {"padded_shape": (1, 1, 40, 64)}, "multiples of 32"),
        ("untilize", (1, 1, 40, 64), None, "multiples of 32"),
        ("untilize", (1, 1, 64, 64), {"output_shape": (1, 1, 65, 64)}, "larger than"),
    ],
)
def test_bad_input_names_the_value(op: str, shape: tuple[int, ...], config: dict | None, match: str) -> None:
    with pytest.raises(InputError, match=match):
        perfmodel.get_op(op).build_program(shape, device="blackhole_p150a", config=config)


@pytest.mark.parametrize(
    ("op", "shape", "config"),
    [
        ("tilize", (1, 64, 128, 256), None),
        ("tilize", (1, 1, 2048, 5120), None),
        ("tilize", (1, 1, 1, 6656), None),
        ("tilize", (2, 3, 40, 50), {"grid": (2, 3), "pad_value": 1.0}),
        ("untilize", (1, 64, 128, 256), None),
        ("untilize", (1, 24, 96, 256), {"output_shape": (1, 24, 80, 256)}),
    ],
)
def test_static_and_kernel_checks_pass(op: str, shape: tuple[int, ...], config: dict | None) -> None:
    report = check(perfmodel.get_op(op).build_program(shape, device="blackhole_p150a", config=config))
    assert report.ok, report.violations
    assert report.factory is not None and report.factory_reason


def test_one_core_tilize_is_the_single_core_factory_by_its_reason() -> None:
    op = perfmodel.get_op("tilize")
    program = op.build_program((1, 1, 64, 64), device="blackhole_p150a", config={"grid": (1, 1)})
    assert program.num_cores == 1
    assert "single-core factory" in program.attributes["factory_reason"]
