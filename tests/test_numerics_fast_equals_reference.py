"""The fast numerics give the bits of perfmodel.numerics.reference, the readable definitions.

Every public conversion and tile primitive that has a faster implementation is run on the same inputs as
its reference and the results are compared as raw bit patterns (uint16 for bfloat16, uint32 for float32),
NaN payloads included: both sides must produce the very same NaN. Inputs cover ordinary distributions,
random bit patterns, rounding ties, signed zeros, subnormals, infinities, NaNs, values that overflow when
rounded, cancellation, every fidelity, both Dst widths, both SrcA assignments and odd shapes.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.numerics import blockfloat, formats, reference, sfpu, tiles
from perfmodel.numerics.formats import BFLOAT16, FLOAT32

BF16 = ml_dtypes.bfloat16
FIDELITIES = ("LoFi", "HiFi2", "HiFi3", "HiFi4")
DST_MODES = (None, False, True)
SRCA = ("scaler", "data")


def raw(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 1: np.uint8, 8: np.uint64}[a.dtype.itemsize])


def assert_same_bits(fast: np.ndarray, ref: np.ndarray) -> None:
    fast, ref = np.asarray(fast), np.asarray(ref)
    assert fast.dtype == ref.dtype and fast.shape == ref.shape
    diff = np.flatnonzero(raw(fast).reshape(-1) != raw(ref).reshape(-1))
    assert diff.size == 0, (
        f"{diff.size} elements differ, first at {diff[0]}: fast {raw(fast).reshape(-1)[diff[0]]:#x}, "
        f"reference {raw(ref).reshape(-1)[diff[0]]:#x}"
    )


# ---- inputs ------------------------------------------------------------------------------------------------
# float32 bit patterns of special values; the bfloat16 ones are their high halves.
_SPECIAL_F32 = np.array(
    [
        0x00000000,  # +0
        0x80000000,  # -0
        0x00000001,  # smallest subnormal
        0x80000001,
        0x00008000,  # subnormal whose low half is a rounding tie
        0x807FFFFF,  # largest negative subnormal
        0x00800000,  # smallest normal
        0x7F7FFFFF,  # largest finite: rounds to inf when rounded away
        0xFF7F8000,  # a tie just below -largest bfloat16
        0x7F7F7FFF,
        0x7F800000,  # +inf
        0xFF800000,  # -inf
        0x7FC00000,  # quiet NaN
        0xFFC00001,
        0x7F800001,  # NaN whose payload is in the low half only
        0x7FFFFFFF,  # NaN that carries into the sign when rounded naively
        0xFFFFFFFF,
        0x3F808000,  # 1 + 2^-8: a tie
        0xBF808000,
        0x3F818000,
        0x3F807FFF,
    ],
    dtype=np.uint32,
)


def _float32(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """float32 values of one family."""
    if kind == "normal":
        return rng.standard_normal(n).astype(np.float32)
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, n).astype(np.float32)
    if kind == "offset":  # a large common value: the running sums and the differences cancel
        return (1000.0 + rng.uniform(-10.0, 10.0, n)).astype(np.float32)
    if kind == "wide":  # finite values of every exponent, both signs
        bits = rng.integers(0, 2**32, n, dtype=np.uint32)
        bits &= np.uint32(0xFF7FFFFF)  # exponent 0xFF (inf, NaN) cleared to 0x7F
        return bits.view(np.float32)
    if kind == "ties":  # the low half of every value is a tie or next to one
        high = rng.integers(0, 2**16, n, dtype=np.uint32) & np.uint32(0xFF7F)
        low = rng.choice(np.array([0x7FFF, 0x8000, 0x8001, 0x0000], dtype=np.uint32), n)
        return ((high << np.uint32(16)) | low).view(np.float32)
    if kind == "tiny":  # subnormal and near-subnormal magnitudes
        bits = rng.integers(0, 0x01000000, n, dtype=np.uint32) | (rng.integers(0, 2, n, dtype=np.uint32) << 31)
        return bits.view(np.float32)
    if kind == "special":  # a sprinkling of special values among ordinary ones
        v = rng.standard_normal(n).astype(np.float32)
        where = rng.random(n) < 0.05
        v[where] = rng.choice(_SPECIAL_F32, int(where.sum())).view(np.float32)
        return v
    if kind == "zeros":  # signed zeros with a few ordinary values
        v = np.where(rng.random(n) < 0.5, np.float32(0.0), np.float32(-0.0)).astype(np.float32)
        where = rng.random(n) < 0.02
        v[where] = rng.standard_normal(int(where.sum())).astype(np.float32)
        return v
    if kind == "negzero":  # -0 everywhere: every product and face sum is -0
        return np.full(n, -0.0, dtype=np.float32)
    raise AssertionError(kind)


FINITE_KINDS = ("normal", "uniform", "offset", "wide", "ties", "tiny", "zeros", "negzero")
KINDS = (*FINITE_KINDS, "special")


def _data(rng: np.random.Generator, shape: tuple[int, ...], kind: str, fmt: str) -> np.ndarray:
    v = _float32(rng, int(np.prod(shape)), kind).reshape(shape)
    if fmt == "bfloat16":
        return (raw(v) >> np.uint32(16)).astype(np.uint16).view(BF16)  # the high halves: every bfloat16
    return v


def _scaler(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A scaler tile: the factory's for some W, or random values in row 0 of each face."""
    if kind.startswith("W"):
        return tiles.scaler_tile(int(kind[1:]))
    tile = np.zeros((2, 2, 16, 16), dtype=np.float32)
    tile[:, :, 0, :] = _float32(rng, 64, kind).reshape(2, 2, 16)
    flat = (raw(tile) >> np.uint32(16)).astype(np.uint16).view(BF16).reshape(-1)
    if kind != "zeros":  # the rows the reduce ignores do not matter: fill some
        flat[16:32] = BF16(3.0)
    return flat


# ---- conversions -------------------------------------------------------------------------------------------
def test_bfloat16_conversions_on_random_and_boundary_bit_patterns() -> None:
    rng = np.random.default_rng(0)
    highs = np.array([0x0000, 0x0001, 0x007F, 0x0080, 0x3F80, 0x7F7F, 0x7F80, 0x7FC0, 0x7FFF], dtype=np.uint32)
    highs = np.concatenate([highs, highs | np.uint32(0x8000)])
    lows = np.array([0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF], dtype=np.uint32)
    boundary = ((highs[:, None] << np.uint32(16)) | lows[None, :]).reshape(-1)
    patterns = np.concatenate([boundary, _SPECIAL_F32, rng.integers(0, 2**32, 400_000, dtype=np.uint32)])
    x = patterns.view(np.float32)
    for fast, ref in ((formats.to_bf16_rna, reference.to_bf16_rna), (formats.to_bf16_trunc, reference.to_bf16_trunc)):
        assert_same_bits(fast(x), ref(x))
        grid = x[: x.size // 6 * 6].reshape(-1, 6)[:, ::2]  # strided
        assert_same_bits(fast(grid), ref(grid))
        for scalar in (x[0], x[-1], np.float32(np.nan), 1.0 + 2**-8):  # 0-d and Python inputs
            assert_same_bits(fast(scalar), ref(scalar))
        assert_same_bits(fast(x[:0]), ref(x[:0]))
        assert_same_bits(fast(x[:7].astype(np.float64)), ref(x[:7].astype(np.float64)))


def test_widening_every_bfloat16_pattern() -> None:
    every = np.arange(2**16, dtype=np.uint16).view(BF16)
    assert_same_bits(formats.to_float32(every, "bfloat16"), reference.to_float32(every, "bfloat16"))
    assert_same_bits(formats.to_float32(every[::-3], BFLOAT16), reference.to_float32(every[::-3], BFLOAT16))
    grid = every.reshape(256, 256).T
    assert_same_bits(formats.bf16_to_float32(grid), grid.astype(np.float32))
    assert_same_bits(formats.bf16_to_float32(np.asarray(every[123])), np.asarray(every[123]).astype(np.float32))
    assert_same_bits(sfpu.unpack_to_dst(every[:1024], "bfloat16"), reference.to_float32(every[:1024], "bfloat16"))
    f32 = np.random.default_rng(1).standard_normal(1024).astype(np.float32)
    assert_same_bits(formats.to_float32(f32, FLOAT32), reference.to_float32(f32, FLOAT32))


@pytest.mark.parametrize("kind", KINDS)
def test_packer_conversion_of_dst_tiles(kind: str) -> None:
    v = _float32(np.random.default_rng(2), 1024, kind)
    assert_same_bits(sfpu.pack_from_dst(v, "bfloat16"), reference.to_bf16_rna(v))


# ---- layout ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [BF16, np.float32, np.uint8, np.float64, np.int16])
@pytest.mark.parametrize("lead", [(), (3,), (2, 1)])
@pytest.mark.parametrize("wt", [1, 3])
def test_tilize_and_untilize(dtype: type, lead: tuple[int, ...], wt: int) -> None:
    rng = np.random.default_rng(wt)
    sticks = rng.integers(0, 250, (*lead, 32, 32 * wt)).astype(dtype)
    tiles_fast = tiles.tilize_block(sticks)
    assert_same_bits(tiles_fast, reference.tilize_block(sticks))
    assert_same_bits(tiles.untilize_block(tiles_fast), reference.untilize_block(tiles_fast))
    strided = np.concatenate([sticks, sticks], axis=-1)[..., ::2]  # a non-contiguous input
    assert_same_bits(tiles.tilize_block(strided), reference.tilize_block(strided))


# ---- reduce ------------------------------------------------------------------------------------------------
def _reduce_case(seed: int, fmt: str, kind: str, scaler_kind: str, lead: tuple[int, ...], wt: int, **config) -> None:
    rng = np.random.default_rng(seed)
    x = _data(rng, (*lead, wt, 1024), kind, fmt)
    s = _scaler(rng, scaler_kind)
    want = reference.reduce_row_sum(x, s, data_format=fmt, **config)
    assert_same_bits(tiles.reduce_row_sum(x, s, data_format=fmt, **config), want)


@pytest.mark.parametrize("fmt", ["bfloat16", "float32"])
@pytest.mark.parametrize("fidelity", FIDELITIES)
@pytest.mark.parametrize("dst", DST_MODES)
@pytest.mark.parametrize("srca", SRCA)
def test_reduce_every_configuration(fmt: str, fidelity: str, dst: bool | None, srca: str) -> None:
    config = {"fp32_dest_acc_en": dst, "math_fidelity": fidelity, "srca": srca}
    cases = [
        ("normal", "W1024", (), 4),
        ("uniform", "W96", (2,), 3),
        ("offset", "W160", (), 5),
        ("wide", "uniform", (3,), 2),
        ("ties", "W96", (), 3),
        ("tiny", "W32", (2,), 1),
        ("tiny", "tiny", (), 2),
        ("zeros", "zeros", (2,), 2),
        ("zeros", "W1024", (), 3),
        ("negzero", "W1024", (), 2),
        ("zeros", "negzero", (2,), 2),
        ("negzero", "tiny", (), 3),
        ("special", "W96", (4,), 2),
        ("normal", "special", (), 2),
        ("normal", "wide", (2, 2), 1),
    ]
    for seed, (kind, scaler_kind, lead, wt) in enumerate(cases):
        _reduce_case(seed, fmt, kind, scaler_kind, lead, wt, **config)


@pytest.mark.parametrize("seed", range(16))
def test_reduce_random_configurations(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    for _ in range(8):
        fmt = str(rng.choice(["bfloat16", "float32"]))
        kind = str(rng.choice(KINDS))
        scaler_kind = str(rng.choice(["W32", "W96", "W1024", "W2016", "normal", "wide", "special"]))
        lead = tuple(int(d) for d in rng.integers(1, 4, rng.integers(0, 3)))
        wt = int(rng.integers(1, 9))
        config = {
            "fp32_dest_acc_en": [None, False, True][rng.integers(3)],
            "math_fidelity": str(rng.choice(FIDELITIES)),
            "srca": str(rng.choice(SRCA)),
        }
        _reduce_case(int(rng.integers(2**31)), fmt, kind, scaler_kind, lead, wt, **config)


@pytest.mark.parametrize("fmt", ["bfloat16", "float32"])
def test_reduce_full_row_of_a_wide_tensor(fmt: str) -> None:
    # The centralize_w_rm case: W = 1024 and a non-power-of-two W, one tile row and a batch of them.
    for seed, (w, lead) in enumerate([(1024, ()), (96 * 32, ()), (1024, (4,))]):
        _reduce_case(seed, fmt, "normal", f"W{w}", lead, w // 32, math_fidelity="HiFi4")


def test_reduce_overflow_to_inf_and_cancellation() -> None:
    big = np.full((3, 1024), 3.0e38, dtype=np.float32)
    big[1] = -3.0e38
    big[2, ::2] = -3.0e38  # +-inf partial sums in the face trees: NaN
    s = tiles.scaler_tile(32)
    ones = np.full(1024, 1.0, dtype=np.float32).astype(BF16)
    for fmt, x in (("float32", big), ("bfloat16", big.astype(BF16))):
        for scaler in (s, ones):
            for dst in DST_MODES:
                want = reference.reduce_row_sum(x, scaler, data_format=fmt, fp32_dest_acc_en=dst)
                assert_same_bits(tiles.reduce_row_sum(x, scaler, data_format=fmt, fp32_dest_acc_en=dst), want)


@pytest.mark.parametrize("shape", [(0, 1024), (0, 3, 1024), (2, 0, 1024)])
def test_reduce_of_empty_inputs(shape: tuple[int, ...]) -> None:
    for fmt, dtype in (("bfloat16", BF16), ("float32", np.float32)):
        for dst in DST_MODES:
            x, s = np.zeros(shape, dtype=dtype), tiles.scaler_tile(32)
            want = reference.reduce_row_sum(x, s, data_format=fmt, fp32_dest_acc_en=dst)
            assert_same_bits(tiles.reduce_row_sum(x, s, data_format=fmt, fp32_dest_acc_en=dst), want)


@pytest.mark.parametrize("fmt", ["bfloat16", "float32"])
@pytest.mark.parametrize("dst", DST_MODES)
def test_reduce_takes_the_fast_path_on_ordinary_data(fmt: str, dst: bool | None, monkeypatch) -> None:
    # The fallback to the reference is for non-finite and tiny sums only; ordinary data must not use it.
    rng = np.random.default_rng(7)
    x = _data(rng, (2, 5, 1024), "normal", fmt)
    s = tiles.scaler_tile(160)
    want = reference.reduce_row_sum(x, s, data_format=fmt, fp32_dest_acc_en=dst)

    def refuse(*args, **kwargs):
        raise AssertionError("fell back to the reference")

    monkeypatch.setattr(reference, "reduce_row_sum", refuse)
    assert_same_bits(tiles.reduce_row_sum(x, s, data_format=fmt, fp32_dest_acc_en=dst), want)


# ---- sub and add -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["bfloat16", "float32"])
@pytest.mark.parametrize("dst", DST_MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_sub_bcast_col_and_add_tiles(fmt: str, dst: bool | None, kind: str) -> None:
    rng = np.random.default_rng(len(kind))
    config = {"data_format": fmt, "fp32_dest_acc_en": dst}
    shapes = [((1024,), (1024,)), ((5, 1024), (1024,)), ((2, 3, 1024), (2, 1, 1024)), ((3, 1024),) * 2]
    shapes += [((1024,), (3, 1024)), ((2, 1, 1024), (4, 1024))]  # results larger than a
    for a_shape, b_shape in shapes:
        a = _data(rng, a_shape, kind, fmt)
        b = _data(rng, b_shape, str(rng.choice(KINDS)), fmt)
        assert_same_bits(tiles.sub_bcast_col(a, b, **config), reference.sub_bcast_col(a, b, **config))
        assert_same_bits(tiles.add_tiles(a, b, **config), reference.add_tiles(a, b, **config))
        assert_same_bits(tiles.add_tiles(b, a, **config), reference.add_tiles(b, a, **config))


# ---- bfloat8_b ---------------------------------------------------------------------------------------------
def _bfp8_values(rng: np.random.Generator, kind: str) -> np.ndarray:
    if kind == "scaled":  # exponents spread over the whole range within each group: elements shift out
        return (rng.standard_normal(2048) * np.exp2(rng.integers(-140, 120, 2048))).astype(np.float32)
    if kind == "carry":  # significands near 2: the first rounding carries into the exponent
        return (np.float32(2.0) - rng.integers(1, 2**10, 2048).astype(np.float32) * np.float32(2**-23)) * np.where(
            rng.random(2048) < 0.5, np.float32(-1.0), np.float32(1.0)
        )
    if kind == "huge":  # the largest exponent: some groups round past it
        v = np.full(2048, 3.0e38, dtype=np.float32)
        v[::3] = np.float32(np.uint32(0x7F7F0000).view(np.float32))
        return v
    return _float32(rng, 2048, kind)


@pytest.mark.parametrize("kind", [*FINITE_KINDS, "scaled", "carry", "huge"])
@pytest.mark.parametrize("rounding", ["packer", "host"])
def test_bfloat8_b_encode(kind: str, rounding: str) -> None:
    rng = np.random.default_rng(len(kind))
    for _ in range(3):
        v = _bfp8_values(rng, kind)
        for values in (v, v.reshape(2, 1024), v[:1024]):
            try:
                want = reference.encode_bfp8(values, rounding=rounding)
            except Exception as error:  # the same refusal, with the same message
                with pytest.raises(type(error), match=str(error)):
                    blockfloat.encode(values, rounding=rounding)
                continue
            assert_same_bits(blockfloat.encode(values, rounding=rounding), want)
            assert_same_bits(formats.round_to_format(values, "bfloat8_b", mode="rna"), reference.encode_bfp8(values))
            if rounding == "packer":
                assert_same_bits(sfpu.pack_from_dst(values.reshape(-1)[:1024], "bfloat8_b"), want[0])


def test_bfloat8_b_decode_every_byte() -> None:
    rng = np.random.default_rng(3)
    raw_tiles = rng.integers(0, 256, (300, 1088), dtype=np.uint8)
    raw_tiles[0, :256] = np.arange(256, dtype=np.uint8)  # every exponent byte
    raw_tiles[0, 64:320] = np.arange(256, dtype=np.uint8)  # every mantissa byte
    with np.errstate(over="ignore"):  # the largest exponent with a large mantissa is inf in both
        assert_same_bits(blockfloat.decode(raw_tiles), reference.decode_bfp8(raw_tiles))
        assert_same_bits(blockfloat.decode(raw_tiles.reshape(-1)), reference.decode_bfp8(raw_tiles.reshape(-1)))
        page = raw_tiles[5]
        assert_same_bits(sfpu.unpack_to_dst(page, "bfloat8_b"), reference.to_float32(page, "bfloat8_b"))


# ---- arbitrary bit patterns --------------------------------------------------------------------------------
_BIT_PATTERNS = st.one_of(
    st.integers(0, 2**32 - 1),
    st.sampled_from([int(b) for b in _SPECIAL_F32]),
    st.integers(0, 2**16 - 1).map(lambda high: high << 16 | 0x8000),  # ties
)


@st.composite
def _reduce_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, str, dict]:
    fmt = draw(st.sampled_from(["bfloat16", "float32"]))
    wt = draw(st.integers(1, 3))
    lead = draw(st.sampled_from([(), (2,)]))
    n = int(np.prod(lead, dtype=int)) * wt * 1024
    pool = np.array(draw(st.lists(_BIT_PATTERNS, min_size=1, max_size=24)), dtype=np.uint32)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    bits = rng.choice(pool, n)
    ordinary = rng.random(n) < draw(st.sampled_from([0.0, 0.5, 0.95]))
    bits[ordinary] = rng.standard_normal(int(ordinary.sum())).astype(np.float32).view(np.uint32)
    x = bits.view(np.float32).reshape((*lead, wt, 1024))
    if fmt == "bfloat16":
        x = (raw(x) >> np.uint32(16)).astype(np.uint16).view(BF16)
    scaler = _scaler(rng, draw(st.sampled_from(["W32", "W96", "W1024", "W2016", "normal", "special", "tiny"])))
    config = {
        "fp32_dest_acc_en": draw(st.sampled_from(DST_MODES)),
        "math_fidelity": draw(st.sampled_from(FIDELITIES)),
        "srca": draw(st.sampled_from(SRCA)),
    }
    return x, scaler, fmt, config


@settings(max_examples=150, deadline=None)
@given(_reduce_inputs())
def test_reduce_on_arbitrary_bit_patterns(case: tuple[np.ndarray, np.ndarray, str, dict]) -> None:
    x, scaler, fmt, config = case
    want = reference.reduce_row_sum(x, scaler, data_format=fmt, **config)
    assert_same_bits(tiles.reduce_row_sum(x, scaler, data_format=fmt, **config), want)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["bfloat16", "float32"]),
    st.sampled_from(DST_MODES),
    st.lists(_BIT_PATTERNS, min_size=1, max_size=16),
    st.integers(0, 2**32 - 1),
)
def test_sub_and_add_on_arbitrary_bit_patterns(fmt: str, dst: bool | None, pool: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice(np.array(pool, dtype=np.uint32), 3 * 1024).view(np.float32).reshape(3, 1024)
    if fmt == "bfloat16":
        values = (raw(values) >> np.uint32(16)).astype(np.uint16).view(BF16)
    a, b = values[:2], values[2]
    config = {"data_format": fmt, "fp32_dest_acc_en": dst}
    assert_same_bits(tiles.sub_bcast_col(a, b, **config), reference.sub_bcast_col(a, b, **config))
    assert_same_bits(tiles.add_tiles(a, b, **config), reference.add_tiles(a, b, **config))
