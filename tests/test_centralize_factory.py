"""centralize_w_rm program factory: CB tables, units of work, per-core arguments and validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perfmodel
from perfmodel.errors import InputError

OP = perfmodel.get_op("centralize_w_rm")
WH = "wormhole_b0_n150"


def table(program) -> dict[int, tuple[str, int, int, str]]:
    return {cb.index: (cb.name, cb.page_size_bytes, cb.num_pages, cb.data_format) for cb in program.cbs}


def test_cb_table_bf16_default_buffering() -> None:
    # W = 1024 -> Wt = 32; bf16 tile 2048 B; design buffering 2 on c_0 and c_16.
    p = OP.build_program((1, 1, 2048, 1024), device=WH)
    assert table(p) == {
        0: ("cb_in_rm", 2048, 64, "bfloat16"),
        1: ("cb_in_tiled", 2048, 32, "bfloat16"),
        2: ("cb_scaler", 2048, 1, "bfloat16"),
        3: ("cb_mean_tiled", 2048, 1, "bfloat16"),
        4: ("cb_centralized", 2048, 32, "bfloat16"),
        16: ("cb_out_rm", 2048, 64, "bfloat16"),
    }
    assert p.l1_bytes_per_core == (6 * 32 + 2) * 2048 == 397_312


def test_cb_table_fp32_keeps_a_bf16_scaler() -> None:
    # W = 96 -> Wt = 3; fp32 tile 4096 B; buffering 3 in, 1 out.
    p = OP.build_program((2, 64, 96), device=WH, dtype="float32", config={"in_buffering": 3, "out_buffering": 1})
    assert table(p) == {
        0: ("cb_in_rm", 4096, 9, "float32"),
        1: ("cb_in_tiled", 4096, 3, "float32"),
        2: ("cb_scaler", 2048, 1, "bfloat16"),
        3: ("cb_mean_tiled", 4096, 1, "float32"),
        4: ("cb_centralized", 4096, 3, "float32"),
        16: ("cb_out_rm", 4096, 3, "float32"),
    }
    assert p.l1_bytes_per_core == 4096 * (9 + 3 + 1 + 3 + 3) + 2048


@settings(max_examples=60, deadline=None)
@given(
    wt=st.integers(1, 64),
    dtype=st.sampled_from(["bfloat16", "float32"]),
    bin_=st.integers(1, 4),
    bout=st.integers(1, 4),
)
def test_cb_bytes_are_pages_times_page_size(wt: int, dtype: str, bin_: int, bout: int) -> None:
    p = OP.build_program(
        (1, 32, 32 * wt), device=WH, dtype=dtype, config={"in_buffering": bin_, "out_buffering": bout, "grid": (1, 1)}
    )
    tile = 2048 if dtype == "bfloat16" else 4096
    for cb in p.cbs:
        assert cb.total_bytes == cb.num_pages * cb.page_size_bytes
    assert p.l1_bytes_per_core == tile * ((bin_ + bout + 2) * wt + 1) + 2048
    # 32 sticks of W values fill exactly Wt tiles (the stick-to-tile equivalence of the reader).
    assert 32 * p.attributes["stick_size_bytes"] == wt * tile


def test_units_count_all_outer_dims() -> None:
    p = OP.build_program((2, 3, 128, 64), device=WH)
    assert p.units == 2 * 3 * 4
    assert sum(c.num_units for c in p.cores) == 24
    assert p.buffer("input").num_pages == 2 * 3 * 128


def test_per_core_arguments_follow_the_split() -> None:
    # 100 tile rows on 8x8: 36 cores with 2, then 28 with 1 (reference §7).
    p = OP.build_program((1, 1, 3200, 64), device=WH)
    assert p.num_cores == 64
    assert p.split.core_group_1 == (((0, 0), (3, 7)), ((4, 0), (4, 3)))
    starts = [c.runtime_args["reader"]["start_stick"] for c in p.cores]
    assert starts == sorted(starts) and starts[0] == 0
    expected_start = 0
    for core in p.cores:
        ht = core.compile_time_args["compute"]["Ht"]
        assert ht == core.num_units == (2 if core.group == 1 else 1)
        assert core.runtime_args["reader"]["start_stick"] == expected_start
        assert core.runtime_args["writer"]["start_stick"] == expected_start
        assert core.compile_time_args["reader"]["Wt"] == 2
        expected_start += 32 * ht
    assert expected_start == 3200


def test_default_grid_is_the_boards_and_can_be_shrunk_and_row_wise() -> None:
    bh = OP.build_program((1, 1, 32 * 500, 64), device="blackhole_p150a")
    assert bh.split.grid == (11, 10) and bh.num_cores == 110
    small = OP.build_program((1, 1, 32 * 10, 64), device=WH, config={"grid": (4, 2), "row_wise": True})
    assert small.num_cores == 8
    assert [c.core for c in small.cores][:5] == [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1)]


def test_packed_scaler_is_truncated_bf16_of_one_over_w() -> None:
    p = OP.build_program((1, 1, 32, 96), device=WH)
    packed = p.cores[0].compile_time_args["reader"]["packed_scaler"]
    hi, lo = packed >> 16, packed & 0xFFFF
    assert hi == lo
    import numpy as np

    exact_bits = int(np.float32(1 / 96).view(np.uint32))
    assert hi == exact_bits >> 16  # truncation: the low 16 bits are dropped, not rounded
    assert (exact_bits & 0xFFFF) >= 0x8000  # ...and rounding would have gone up: truncation differs here


def test_dram_buffers_are_interleaved_and_do_not_overlap() -> None:
    p = OP.build_program((1, 1, 64, 48 * 32), device=WH)
    inp, out = p.buffer("input"), p.buffer("output")
    assert inp.page_size_bytes == 48 * 32 * 2
    assert inp.aligned_page_size_bytes % p.device.dram.alignment_bytes == 0
    banks = p.device.dram.num_banks
    assert [inp.page_location(i, banks)[0] for i in range(13)] == [*range(12), 0]
    last_input_byte = max(inp.page_location(i, banks)[1] for i in range(inp.num_pages)) + inp.page_size_bytes
    assert out.base_address >= last_input_byte
    assert p.dram_bytes == 2 * 64 * 48 * 32 * 2


def test_kernels_can_be_swapped() -> None:
    def my_compute(k, *, Ht: int, Wt: int):
        yield from ()

    p = OP.build_program((1, 1, 32, 32), device=WH, kernels={"compute": my_compute})
    assert p.kernel("compute").fn is my_compute
    assert p.kernel("reader").fn is OP.reader
    assert (p.kernel("reader").risc, p.kernel("reader").noc) == ("ncrisc", 0)
    assert (p.kernel("writer").risc, p.kernel("writer").noc) == ("brisc", 1)
    with pytest.raises(InputError, match="'dispatcher'"):
        OP.build_program((1, 1, 32, 32), device=WH, kernels={"dispatcher": my_compute})


def test_config_accepts_dataclass_and_dict_and_rejects_unknown_fields() -> None:
    a = OP.build_program((1, 1, 64, 64), device=WH, config=OP.Config(in_buffering=1))
    b = OP.build_program((1, 1, 64, 64), device=WH, config={"in_buffering": 1})
    assert a.config == b.config and a.cb(0).num_pages == 2
    with pytest.raises(InputError, match="'buffering'"):
        OP.build_program((1, 1, 64, 64), device=WH, config={"buffering": 1})


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((1, 1, 48, 64), {}, "H = 48"),
        ((1, 1, 64, 100), {}, "W = 100"),
        ((64,), {}, "rank 1"),
        ((1, 0, 64, 64), {}, "non-positive dim 0"),
        ((1, -2, 64, 64), {}, "non-positive dim -2"),
        ((1, 1, 64, 64), {"dtype": "int32"}, "'int32'"),
        ((1, 1, 64, 64), {"config": {"grid": (9, 8)}}, "grid 9x8"),
        ((1, 1, 64, 64), {"config": {"grid": (0, 8)}}, "grid 0x8"),
        ((1, 1, 64, 64), {"config": {"in_buffering": 0}}, "in_buffering = 0"),
        ((1, 1, 64, 64), {"config": {"out_buffering": -1}}, "out_buffering = -1"),
        ((1, 1, 64, 64), {"device": "wormhole_b9"}, "'wormhole_b9'"),
        ((4096, 4096, 32, 2048), {}, "bytes of DRAM"),
    ],
)
def test_bad_input_names_the_value(shape, kwargs, message) -> None:
    kwargs = {"device": WH, **kwargs}
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        OP.build_program(shape, **kwargs)


def test_dram_capacity_limit_is_the_boards() -> None:
    # The largest square-ish tensor that fits on Blackhole (32 GB) does not fit on Wormhole (12 GiB).
    rows = 32 * 1024 * 64  # 2M sticks of 2048 bf16 values = 8 GiB in + 8 GiB out
    shape = (1, 1, rows, 2048)
    assert math.prod(shape) * 2 * 2 > load_capacity(WH)
    with pytest.raises(InputError):
        OP.build_program(shape, device=WH)
    assert OP.build_program(shape, device="blackhole_p150a").units == rows // 32


def load_capacity(name: str) -> int:
    return perfmodel.load_device(name).dram.capacity_bytes


def test_block_float_formats_are_refused_everywhere() -> None:
    """Row-major sticks cannot hold a block-float format: the factory, the numerics, the space and the
    table engine all refuse bfloat8_b by name instead of pricing it as one byte per element."""
    op = perfmodel.get_op("centralize_w_rm")
    with pytest.raises(perfmodel.InputError, match="bfloat8_b"):
        op.build_program((1, 1, 64, 64), device="wormhole_b0_n150", dtype="bfloat8_b")
    with pytest.raises(perfmodel.InputError, match="bfloat8_b"):
        op.functional(np.zeros((1, 1, 32, 32)), dtype="bfloat8_b")
    with pytest.raises(perfmodel.InputError, match="bfloat8_b"):
        perfmodel.search_space("centralize_w_rm", (1, 1, 64, 64), dtype="bfloat8_b")
    table = perfmodel.search_space("centralize_w_rm", (1, 1, 64, 64)).table().head(3)
    out = perfmodel.estimate_many("centralize_w_rm", table.assign(dtype="bfloat8_b"))
    assert not out["feasible"].any()
    assert out["infeasible_reason"].str.contains("bfloat8_b").all()
    assert out["kernel_duration_ns"].isna().all()
