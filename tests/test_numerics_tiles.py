"""Data formats, conversions and tile primitives of perfmodel.numerics."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from perfmodel.errors import InputError
from perfmodel.numerics import (
    BFLOAT16,
    FLOAT32,
    get_format,
    reduce_row_sum,
    scaler_tile,
    scaler_value,
    sub_bcast_col,
    tile_index,
    tilize_block,
    to_bf16_rna,
    to_bf16_rne,
    to_bf16_trunc,
    untilize_block,
)

BF16 = ml_dtypes.bfloat16


def bits16(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).view(np.uint16)


# ---------------------------------------------------------------- formats


def test_format_sizes() -> None:
    assert (BFLOAT16.element_bytes, BFLOAT16.tile_bytes, BFLOAT16.dtype) == (2, 2048, np.dtype(BF16))
    assert (FLOAT32.element_bytes, FLOAT32.tile_bytes, FLOAT32.dtype) == (4, 4096, np.dtype(np.float32))
    assert get_format("bfloat16") is BFLOAT16 and get_format(FLOAT32) is FLOAT32


def test_unknown_format_names_the_value() -> None:
    with pytest.raises(InputError, match="'float16'"):
        get_format("float16")


def test_ties_round_even_on_host_and_away_in_packer() -> None:
    # 1 + 2^-8 and -(1 + 2^-8) are exactly halfway between bf16 neighbours; 1 + 3 * 2^-8 rounds up either way.
    x = np.array([1 + 2**-8, -(1 + 2**-8), 1 + 3 * 2**-8], dtype=np.float32)
    assert to_bf16_rne(x).astype(np.float32).tolist() == [1.0, -1.0, 1 + 2**-6]
    assert to_bf16_rna(x).astype(np.float32).tolist() == [1 + 2**-7, -(1 + 2**-7), 1 + 2**-6]
    assert to_bf16_trunc(x).astype(np.float32).tolist() == [1.0, -1.0, 1 + 2**-7]


def test_conversions_keep_special_values() -> None:
    payload_nan = np.uint32(0x7F800001).view(np.float32)  # NaN whose payload is in the dropped low half
    x = np.array([np.nan, payload_nan, np.inf, -np.inf, 0.0, -0.0], dtype=np.float32)
    for convert in (to_bf16_rne, to_bf16_rna, to_bf16_trunc):
        out = convert(x).astype(np.float32)
        assert np.isnan(out[:2]).all(), convert.__name__
        assert out[2:].tolist() == [np.inf, -np.inf, 0.0, -0.0]
        assert np.signbit(out[5])
    big = np.float32(3.4e38)  # past the largest bfloat16 plus half an ulp
    assert to_bf16_rna(big).astype(np.float32) == np.inf
    assert to_bf16_trunc(big).astype(np.float32) == np.float32(ml_dtypes.finfo(BF16).max)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.uint32, st.integers(1, 64)))
def test_rna_differs_from_rne_only_on_ties(raw: np.ndarray) -> None:
    x = raw.view(np.float32)
    finite = np.isfinite(x) & (np.abs(x) < 3.3e38)
    x = x[finite]
    rna, rne = to_bf16_rna(x), to_bf16_rne(x)
    tie = (x.view(np.uint32) & 0xFFFF) == 0x8000
    assert (bits16(rna)[~tie] == bits16(rne)[~tie]).all()
    # On a tie, the packer goes away from zero: the magnitude never shrinks.
    assert (np.abs(rna[tie].astype(np.float32)) > np.abs(x[tie])).all()
    trunc = to_bf16_trunc(x).astype(np.float32)
    assert (np.abs(trunc) <= np.abs(x)).all()


# ---------------------------------------------------------------- tilize / untilize


def test_tile_index_is_the_documented_face_offset() -> None:
    for i in range(32):
        for j in range(32):
            face, offset = (i // 16) * 2 + j // 16, (i % 16) * 16 + j % 16
            assert tile_index(i, j) == face * 256 + offset
    assert sorted(tile_index(i, j) for i in range(32) for j in range(32)) == list(range(1024))
    with pytest.raises(InputError):
        tile_index(32, 0)


def test_tilize_puts_each_element_at_its_face_offset() -> None:
    wt = 3
    rows = np.arange(32 * 32 * wt, dtype=np.float32).reshape(32, 32 * wt)
    tiles = tilize_block(rows)
    assert tiles.shape == (wt, 1024) and tiles.dtype == np.float32
    for t in range(wt):
        for i in range(32):
            for j in range(32):
                assert tiles[t, tile_index(i, j)] == rows[i, 32 * t + j]


@settings(max_examples=60, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), max_size=2),
    wt=st.integers(1, 4),
    dtype=st.sampled_from([np.float32, np.uint16, BF16]),
    data=st.data(),
)
def test_tilize_untilize_round_trip_conserves_every_value(lead: list[int], wt: int, dtype: type, data) -> None:
    shape = (*lead, 32, 32 * wt)
    raw = data.draw(hnp.arrays(np.uint16 if dtype != np.float32 else np.uint32, shape))
    rows = raw.view(dtype)  # arbitrary bit patterns, NaNs included: a permutation must not touch them
    tiles = tilize_block(rows)
    assert tiles.shape == (*lead, wt, 1024) and tiles.dtype == rows.dtype
    back = untilize_block(tiles)
    assert back.dtype == rows.dtype
    assert np.array_equal(back.view(raw.dtype), raw)
    assert np.array_equal(np.sort(tiles.view(raw.dtype), axis=None), np.sort(raw, axis=None))


@pytest.mark.parametrize("shape", [(32,), (16, 32), (32, 48), (32, 0)])
def test_tilize_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(InputError, match="shape"):
        tilize_block(np.zeros(shape, np.float32))


def test_untilize_rejects_bad_shapes() -> None:
    with pytest.raises(InputError, match="shape"):
        untilize_block(np.zeros((2, 1000), np.float32))


# ---------------------------------------------------------------- scaler


def test_scaler_is_truncated_not_rounded_for_w_96() -> None:
    exact = 1 / 96
    nearest = float(to_bf16_rne(np.float32(exact)).astype(np.float32))
    s = scaler_value(96)
    assert s == 0.0103759765625  # 0x3C2A
    assert nearest == 0.01043701171875  # 0x3C2B
    assert s != nearest and abs(nearest - exact) < abs(s - exact)
    assert s < exact  # truncation rounds toward zero: the mean comes out 0.39% low
    assert bits16(scaler_tile(96))[0] == 0x3C2A


@pytest.mark.parametrize("w", [32, 64, 128, 256, 1024, 4096, 16384])
def test_scaler_is_exact_for_powers_of_two(w: int) -> None:
    assert scaler_value(w) == 1 / w


def test_scaler_tile_holds_the_value_in_row_0_of_each_face() -> None:
    tile = scaler_tile(64)
    assert tile.dtype == BF16 and tile.shape == (1024,)
    rows = untilize_block(tile[None, :]).astype(np.float32)
    expected = np.zeros((32, 32), np.float32)
    expected[[0, 16], :] = 1 / 64
    assert np.array_equal(rows, expected)


@pytest.mark.parametrize("w", [0, -32, True, 32.0])
def test_scaler_rejects_bad_width(w: object) -> None:
    with pytest.raises(InputError, match="W"):
        scaler_value(w)  # type: ignore[arg-type]


# ---------------------------------------------------------------- reduce and subtract


def one_row(values_left: dict[int, float], values_right: dict[int, float], dtype=BF16) -> np.ndarray:
    """One tile (W = 32) whose row 0 holds the given values at the given columns of each face."""
    rows = np.zeros((32, 32), np.float32)
    for j, v in values_left.items():
        rows[0, j] = v
    for j, v in values_right.items():
        rows[0, 16 + j] = v
    return tilize_block(rows.astype(dtype))


def test_reduce_bf16_rounds_per_face_in_dst() -> None:
    # With s = 1/32: left face sum 8 + 1/64, right face sum 1/64. bf16 ulp at 8 is 1/16, so rounding after
    # each face loses both 1/64s (8 -> 8), while one rounding of the total 8 + 1/32 (a tie) goes to 8 + 1/16.
    tiles = one_row({0: 256.0, 1: 0.5}, {0: 0.5})
    mean = reduce_row_sum(tiles, scaler_tile(32), data_format="bfloat16")
    assert mean.dtype == BF16 and mean.shape == (1024,)
    assert float(mean[tile_index(0, 0)]) == 8.0
    fp32_acc = reduce_row_sum(tiles, scaler_tile(32), data_format="bfloat16", fp32_dest_acc_en=True)
    assert float(fp32_acc[tile_index(0, 0)]) == 8.0625  # exact 8.03125, packed with ties away from zero


def test_reduce_bf16_dst_ties_go_away_from_zero() -> None:
    # Left 8, right 1/32: 8 + 1/32 is halfway between 8 and 8 + 1/16.
    tiles = one_row({0: 256.0}, {0: 1.0})
    mean = reduce_row_sum(tiles, scaler_tile(32), data_format="bfloat16")
    assert float(mean[tile_index(0, 0)]) == 8.0625
    neg = reduce_row_sum(-tiles, scaler_tile(32), data_format="bfloat16")
    assert float(neg[tile_index(0, 0)]) == -8.0625


def test_reduce_float32_is_exact_on_small_integers_and_fills_only_column_0() -> None:
    rng = np.random.default_rng(1)
    rows = rng.integers(-100, 100, size=(32, 128)).astype(np.float32)
    mean = reduce_row_sum(tilize_block(rows), scaler_tile(128), data_format="float32")
    assert mean.dtype == np.float32
    full = untilize_block(mean[None, :])
    assert np.array_equal(full[:, 0], rows.mean(axis=1))
    assert not full[:, 1:].any()


def test_reduce_checks_its_inputs() -> None:
    tiles = tilize_block(np.zeros((32, 64), BF16))
    with pytest.raises(InputError, match="dtype"):
        reduce_row_sum(tiles, scaler_tile(64), data_format="float32")
    with pytest.raises(InputError, match="scaler"):
        reduce_row_sum(tiles, scaler_tile(64).astype(np.float32), data_format="bfloat16")
    with pytest.raises(InputError, match="shape"):
        reduce_row_sum(tiles[0], scaler_tile(64), data_format="bfloat16")
    with pytest.raises(InputError, match="format"):
        reduce_row_sum(tiles, scaler_tile(64), data_format="bfloat8_b")


def test_sub_bcast_col_subtracts_column_0_only() -> None:
    rng = np.random.default_rng(2)
    a_rows = rng.integers(-50, 50, size=(32, 64)).astype(np.float32)
    b_rows = rng.integers(-50, 50, size=(32, 32)).astype(np.float32)
    a, b = tilize_block(a_rows), tilize_block(b_rows)[0]
    out = sub_bcast_col(a, b, data_format="float32")  # one b tile against the whole tile row
    assert out.shape == (2, 1024)
    assert np.array_equal(untilize_block(out), a_rows - b_rows[:, :1])


def test_sub_bcast_col_bf16_rounds_ties_away() -> None:
    a = tilize_block(np.full((32, 32), 256.0, np.float32).astype(BF16))[0]
    b = tilize_block(np.full((32, 32), -1.0, np.float32).astype(BF16))[0]
    # 257 is halfway between the bf16 neighbours 256 and 258.
    assert set(sub_bcast_col(a, b, data_format="bfloat16").astype(np.float32).tolist()) == {258.0}
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    assert set(sub_bcast_col(a32, b32, data_format="float32").tolist()) == {257.0}


def test_primitives_are_pure() -> None:
    rows = np.random.default_rng(3).standard_normal((32, 64)).astype(BF16)
    tiles = tilize_block(rows)
    before = tiles.copy()
    mean = reduce_row_sum(tiles, scaler_tile(64), data_format="bfloat16")
    mean_before = mean.copy()
    first = sub_bcast_col(tiles, mean, data_format="bfloat16")
    second = sub_bcast_col(tiles, mean, data_format="bfloat16")
    assert np.array_equal(bits16(tiles), bits16(before)) and np.array_equal(bits16(mean), bits16(mean_before))
    assert np.array_equal(bits16(first), bits16(second))
