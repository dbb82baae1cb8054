"""Math fidelity, 19-bit source operands and per-phase Dst accumulation of the tile primitives.

`ref_row_sum` is an independent scalar model of one output row of `reduce_row_sum`, written from the
hardware description (shared/reference/compute.md §4, §6, §7) with integer significands from math.frexp and
struct round trips, not from the numpy bit masks of tiles.py. The tests compare bit patterns.
"""

from __future__ import annotations

import math
import struct

import ml_dtypes
import numpy as np
import pytest

from perfmodel.errors import InputError
from perfmodel.numerics import (
    REDUCE_ROW_SRCA,
    add_tiles,
    fidelity_parts,
    reduce_row_sum,
    scaler_tile,
    scaler_value,
    sub_bcast_col,
    tilize_block,
    unpack_operand,
    untilize_block,
)
from perfmodel.numerics.formats import BFLOAT16, FLOAT32

BF16 = ml_dtypes.bfloat16
FIDELITIES = ["LoFi", "HiFi2", "HiFi3", "HiFi4"]
PHASES = {"LoFi": 1, "HiFi2": 2, "HiFi3": 3, "HiFi4": 4}


# ---- the scalar reference --------------------------------------------------------------------------------


def f32(x: float) -> float:
    """Round a Python float to float32 (round to nearest even)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def keep_significant(x: float, bits: int) -> float:
    """Truncate x toward zero to `bits` significant bits (hidden bit included)."""
    if x == 0.0:
        return x
    mant, exp = math.frexp(abs(x))  # |x| = mant * 2^exp, 0.5 <= mant < 1
    sig = int(mant * 2**24)  # exact: x is a float32
    sig = (sig >> (24 - bits)) << (24 - bits)
    return math.copysign(math.ldexp(sig, exp - 24), x)


def bf16_ties_away(x: float) -> float:
    """fp32 -> bfloat16, round to nearest, ties away from zero, on the magnitude."""
    if x == 0.0:
        return x
    mant, exp = math.frexp(abs(x))
    sig = int(mant * 2**24)  # 24 significant bits
    rounded = (sig + (1 << 15)) >> 16  # 8 significant bits, half up
    return math.copysign(math.ldexp(rounded, exp - 8), x)


def unpack(x: float, fmt: str, dst_fp32: bool) -> float:
    """Source register value: bfloat16 exact; float32 -> TF32 (11 significant bits) or bfloat16 (8, FTZ)."""
    if fmt == "bfloat16":
        return x
    if dst_fp32:
        return keep_significant(x, 11)
    if abs(x) < 2.0**-126:
        return math.copysign(0.0, x)
    return keep_significant(x, 8)


def parts(v: float, position: str) -> tuple[float, float]:
    """(high, low) fidelity parts: SrcA 5 + 5 significant bits (10th fraction bit unused), SrcB 7 + the rest."""
    if position == "srca":
        high = keep_significant(v, 5)
        return high, keep_significant(v, 10) - high
    high = keep_significant(v, 7)
    return high, v - high


def ref_row_sum(data: list[float], scale: list[float], *, fmt: str, dst_fp32: bool, fidelity: str, srca: str) -> float:
    """One output row of reduce_row_sum: per tile, face column, phase; 16 products by a pairwise tree."""
    x = [unpack(v, fmt, dst_fp32) for v in data]
    acc = 0.0
    for t in range(len(data) // 32):
        for face in range(2):
            cols = range(32 * t + 16 * face, 32 * t + 16 * face + 16)
            for phase in range(PHASES[fidelity]):
                prods = []
                for j in cols:
                    a, b = (scale[j], x[j]) if srca == "scaler" else (x[j], scale[j])
                    prods.append(f32(parts(a, "srca")[phase & 1] * parts(b, "srcb")[phase >> 1]))
                while len(prods) > 1:
                    prods = [f32(prods[i] + prods[i + 1]) for i in range(0, len(prods), 2)]
                acc = f32(acc + prods[0])
                if not dst_fp32:
                    acc = bf16_ties_away(acc)
    return bf16_ties_away(acc) if fmt == "bfloat16" else acc


# ---- crafted inputs ------------------------------------------------------------------------------------


def crafted_rows(width: int, fmt: str, seed: int) -> np.ndarray:
    """32 rows of width W in `fmt`: bits in every truncated part, powers of two, mixed magnitudes, signs."""
    rng = np.random.default_rng(seed)
    rows = np.empty((32, width), np.float64)
    all_ones = 2.0 - 2.0**-7  # bfloat16 1.1111111b: bits in SrcA's and SrcB's low parts
    for i in range(32):
        kind = i % 8
        if kind == 0:
            rows[i] = all_ones * rng.choice([-1.0, 1.0], width) * 2.0 ** rng.integers(-3, 4, width)
        elif kind == 1:
            rows[i] = 2.0 ** rng.integers(-6, 7, width) * rng.choice([-1.0, 1.0], width)
        elif kind == 2:
            rows[i] = 1.0 + rng.integers(0, 8, width) * 2.0**-7  # only the low 3 fraction bits vary
        elif kind == 3:
            rows[i] = 1.0 + rng.integers(0, 2**23, width) * 2.0**-23  # full float32 fraction
        elif kind == 4:
            rows[i] = rng.uniform(-1, 1, width) * 2.0 ** rng.integers(-10, 10, width)  # Dst rounding
        elif kind == 5:
            rows[i] = 1000.0 + rng.uniform(-10, 10, width)
        elif kind == 6:
            rows[i] = (1.0 + 2.0**-10 + 2.0**-13) * rng.choice([-1.0, 1.0], width)  # TF32's 10th bit, beyond
        else:
            rows[i] = rng.standard_normal(width)
    if fmt == "bfloat16":
        return rows.astype(np.float32).astype(BF16)
    return rows.astype(np.float32)


def device_row_sums(rows: np.ndarray, scaler: np.ndarray, fmt: str, **kwargs: object) -> np.ndarray:
    mean = reduce_row_sum(tilize_block(rows), scaler, data_format=fmt, **kwargs)
    full = untilize_block(mean[None, :]).astype(np.float32)
    assert not full[:, 1:].any()
    return full[:, 0]


def bits32(values: list[float] | np.ndarray) -> list[int]:
    return [f32_bits(float(v)) for v in np.asarray(values, dtype=np.float32)]


# ---- tests ---------------------------------------------------------------------------------------------


def test_newest_reduce_row_path_puts_the_scaler_in_srca() -> None:
    assert REDUCE_ROW_SRCA == "scaler"


@pytest.mark.parametrize("fidelity", FIDELITIES)
@pytest.mark.parametrize("dst_fp32", [False, True])
@pytest.mark.parametrize("srca", ["scaler", "data"])
@pytest.mark.parametrize("fmt", ["bfloat16", "float32"])
@pytest.mark.parametrize("width", [64, 96])
def test_reduce_matches_the_scalar_reference_bit_for_bit(
    fidelity: str, dst_fp32: bool, srca: str, fmt: str, width: int
) -> None:
    rows = crafted_rows(width, fmt, seed=width)
    got = device_row_sums(rows, scaler_tile(width), fmt, fp32_dest_acc_en=dst_fp32, math_fidelity=fidelity, srca=srca)
    s = scaler_value(width)
    want = [
        ref_row_sum(
            [float(v) for v in rows[i].astype(np.float32)],
            [s] * width,
            fmt=fmt,
            dst_fp32=dst_fp32,
            fidelity=fidelity,
            srca=srca,
        )
        for i in range(32)
    ]
    assert bits32(got) == bits32(want)


@pytest.mark.parametrize("fidelity", FIDELITIES)
@pytest.mark.parametrize("srca", ["scaler", "data"])
def test_reduce_with_a_crafted_scaler_matches_the_reference(fidelity: str, srca: str) -> None:
    # A scaler with bits in both low parts (1.1111111b x 2^-5) against data with bits everywhere.
    s = (2.0 - 2.0**-7) * 2.0**-5
    scaler = np.zeros((2, 2, 16, 16), np.float32)
    scaler[:, :, 0, :] = s
    rows = crafted_rows(64, "bfloat16", seed=11)
    got = device_row_sums(rows, scaler.reshape(1024).astype(BF16), "bfloat16", math_fidelity=fidelity, srca=srca)
    want = [
        ref_row_sum(
            [float(v) for v in rows[i].astype(np.float32)],
            [s] * 64,
            fmt="bfloat16",
            dst_fp32=False,
            fidelity=fidelity,
            srca=srca,
        )
        for i in range(32)
    ]
    assert bits32(got) == bits32(want)


def _one_product(a: float, b: float, **kwargs: object) -> float:
    """reduce_row_sum of one non-zero product: data b at column 0, a scaler tile of a."""
    rows = np.zeros((32, 32), np.float32)
    rows[0, 0] = b
    scaler = np.zeros((2, 2, 16, 16), np.float32)
    scaler[:, :, 0, :] = a
    return float(device_row_sums(rows.astype(BF16), scaler.reshape(1024).astype(BF16), "bfloat16", **kwargs)[0])


def test_hifi4_can_be_less_accurate_than_hifi2_with_a_16_bit_dst() -> None:
    # compute.md §4 (tt-metal #12923): 1.3125 x 7.96875 = 10.458984375; with 1.3125 in SrcA a 16-bit Dst
    # gives 10.4375 at HiFi2 (phase 1 adds 0) but 10.5 at HiFi4, since phase 2's 0.041 is added to the
    # already rounded 10.4375 and rounds up again.
    a, b = 1.3125, 7.96875
    assert _one_product(a, b, math_fidelity="HiFi2", srca="scaler") == 10.4375
    assert _one_product(a, b, math_fidelity="HiFi4", srca="scaler") == 10.5
    assert _one_product(a, b, math_fidelity="HiFi4", srca="scaler", fp32_dest_acc_en=True) == 10.4375
    # The same operands in the other positions: data 1.3125 in SrcA, scaler 7.96875 in SrcB.
    assert _one_product(b, a, math_fidelity="HiFi2", srca="data") == 10.4375
    assert _one_product(b, a, math_fidelity="HiFi4", srca="data") == 10.5
    # LoFi keeps hidden + 6 bits of 7.96875 in SrcB: 1.3125 x 7.9375 = 10.418 -> 10.4375.
    assert _one_product(a, b, math_fidelity="LoFi", srca="scaler") == 10.4375


def test_fidelity_changes_nothing_when_every_low_part_is_zero() -> None:
    # Data with <= 4 fraction bits and a power-of-two scaler: every phase but 0 adds zeros, so all
    # fidelities give the bits of the exact products summed per face and rounded once per face.
    rng = np.random.default_rng(4)
    rows = (rng.integers(-16, 16, (32, 128)) / 8.0).astype(np.float32).astype(BF16)
    scaler = scaler_tile(128)
    results = [bits32(device_row_sums(rows, scaler, "bfloat16", math_fidelity=f)) for f in FIDELITIES]
    assert all(r == results[0] for r in results)
    exact = [
        ref_row_sum(
            [float(v) for v in rows[i].astype(np.float32)],
            [2.0**-7] * 128,
            fmt="bfloat16",
            dst_fp32=False,
            fidelity="LoFi",
            srca="scaler",
        )
        for i in range(32)
    ]
    assert results[0] == bits32(exact)


@pytest.mark.parametrize("fidelity", FIDELITIES)
@pytest.mark.parametrize("fmt", ["bfloat16", "float32"])
def test_leading_axes_are_independent_tile_rows(fidelity: str, fmt: str) -> None:
    batch = np.stack([tilize_block(crafted_rows(96, fmt, seed)) for seed in range(3)])
    scaler = scaler_tile(96)
    together = reduce_row_sum(batch, scaler, data_format=fmt, math_fidelity=fidelity)
    for k in range(3):
        alone = reduce_row_sum(batch[k], scaler, data_format=fmt, math_fidelity=fidelity)
        assert np.array_equal(together[k].view(np.uint8), alone.view(np.uint8))


def test_float32_operands_are_truncated_to_tf32_or_bf16() -> None:
    x = np.array([1 + 2**-10 + 2**-11 + 2**-20, -(1 + 2**-7 + 2**-8), 2.0**-130, -(2.0**-130)], np.float32)
    tf32 = unpack_operand(x, FLOAT32, True)
    assert tf32.tolist() == [1 + 2**-10, -(1 + 2**-7 + 2**-8), f32(2.0**-130), -f32(2.0**-130)]
    bf16 = unpack_operand(x, FLOAT32, False)
    assert bf16.tolist() == [1.0, -(1 + 2**-7), 0.0, -0.0]
    assert [math.copysign(1, v) for v in bf16[2:]] == [1.0, -1.0]  # flushed to a zero of the same sign
    bf = x[:2].astype(BF16)
    assert np.array_equal(unpack_operand(bf, BFLOAT16, False), bf.astype(np.float32))


@pytest.mark.parametrize("dst_fp32", [False, True])
def test_sub_and_add_see_truncated_float32_operands(dst_fp32: bool) -> None:
    a = np.full(1024, 1 + 2**-9 + 2**-12, np.float32)  # bit 12 is below TF32, bit 9 below bfloat16
    b = np.full(1024, 2.0**-12, np.float32)
    keep = 1 + 2**-9 if dst_fp32 else 1.0
    b_kept = 2.0**-12
    diff = sub_bcast_col(a, b, data_format="float32", fp32_dest_acc_en=dst_fp32)
    total = add_tiles(a, b, data_format="float32", fp32_dest_acc_en=dst_fp32)
    if dst_fp32:
        assert set(diff.tolist()) == {keep - b_kept} and set(total.tolist()) == {keep + b_kept}
    else:
        # 16-bit Dst: 1 - 2^-12 and 1 + 2^-12 round (ties away) to bfloat16 1.0.
        assert set(diff.tolist()) == {1.0} and set(total.tolist()) == {1.0}


def test_add_tiles_bf16_rounds_ties_away_and_broadcasts() -> None:
    a = np.full((3, 1024), 256.0, np.float32).astype(BF16)
    b = np.full(1024, 1.0, np.float32).astype(BF16)
    out = add_tiles(a, b, data_format="bfloat16")
    assert out.shape == (3, 1024) and set(out.astype(np.float32).ravel().tolist()) == {258.0}


def test_fidelity_parts_follow_the_operand_position() -> None:
    v = np.float32(1 + 2**-1 + 2**-5 + 2**-7 + 2**-10)
    hi_a, lo_a = fidelity_parts(v, "srca")
    assert float(hi_a) == 1.5 and float(lo_a) == 2**-5 + 2**-7  # the 10th fraction bit is never used
    hi_b, lo_b = fidelity_parts(v, "srcb")
    assert float(hi_b) == 1.5 + 2**-5 and float(lo_b) == 2**-7 + 2**-10
    neg_hi, neg_lo = fidelity_parts(-v, "srca")
    assert float(neg_hi) == -1.5 and float(neg_lo) == -(2**-5 + 2**-7)


def test_bad_fidelity_and_position_raise_input_error() -> None:
    tiles = tilize_block(np.zeros((32, 32), BF16))
    with pytest.raises(InputError, match="math_fidelity"):
        reduce_row_sum(tiles, scaler_tile(32), data_format="bfloat16", math_fidelity="HiFi5")
    with pytest.raises(InputError, match="srca"):
        reduce_row_sum(tiles, scaler_tile(32), data_format="bfloat16", srca="weights")
    with pytest.raises(InputError, match="position"):
        fidelity_parts(np.float32(1), "srcc")
