"""tilize and untilize move bits: the functional path equals an independent numpy reference bit for bit (bf16 and
fp32, pad value, unpadding), and the simulator's data mode, running the kernel mirrors, equals it too."""

from __future__ import annotations

import numpy as np
import pytest

import perfmodel
from perfmodel.ops.tilize import numerics as tn
from perfmodel.ops.untilize import numerics as un

DEVICE = "blackhole_p150a"


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32) * 10.0 ** rng.integers(-3, 4, size=shape)
    # Values that rounding would change: the move must keep every bit of the device format.
    x.flat[: min(4, x.size)] = [np.float32(1 + 2**-20), -0.0, 3.0e38, 1.0e-40][: min(4, x.size)]
    return x


# (shape, padded_shape, grid, pad value): Interleaved, Block, val-padding Interleaved and Block, odd widths.
TILIZE_CASES = [
    ((1, 2, 64, 96), None, None, 0.0),
    ((1, 1, 64, 2048), None, (4, 4), 0.0),
    ((2, 3, 40, 50), None, (2, 3), -1.5),
    ((1, 1, 1, 2048), None, None, 0.0),
    ((1, 1, 19, 1280), None, (8, 8), 2.0),
    ((1, 1, 70, 3), None, (2, 2), 7.25),
    ((1, 2, 33, 40), (1, 2, 96, 64), (2, 2), 3.0),
]


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize(("shape", "padded", "grid", "pad"), TILIZE_CASES)
def test_tilize_bit_exact(dtype: str, shape: tuple, padded: tuple | None, grid: tuple | None, pad: float) -> None:
    x = _data(shape, seed=len(shape) + shape[-1])
    ref = tn.reference(x, dtype=dtype, padded_shape=padded, pad_value=pad)
    assert np.array_equal(_bits(tn.functional(x, dtype=dtype, padded_shape=padded, pad_value=pad)), _bits(ref))
    config = {"pad_value": pad, **({"grid": grid} if grid else {}), **({"padded_shape": padded} if padded else {})}
    program = perfmodel.get_op("tilize").build_program(shape, device=DEVICE, dtype=dtype, config=config)
    out = np.asarray(perfmodel.simulate(program, inputs=x).output).reshape(ref.shape)
    assert np.array_equal(_bits(out), _bits(ref))


def test_tilize_pad_value_is_the_factorys_bf16() -> None:
    # tt-metal's bfloat16(float) drops the low 16 bits of the fp32 (round to nearest would give 1 + 2^-6).
    pad = 1.0 + 2.0**-7 + 2.0**-8 + 2.0**-9
    tiles = tn.reference(np.zeros((1, 1, 1, 32), np.float32), dtype="bfloat16", pad_value=pad)
    assert float(tiles[0, -1]) == 1.0 + 2.0**-7
    assert float(tn.reference(np.zeros((1, 1, 1, 32), np.float32), dtype="float32", pad_value=pad)[0, -1]) == pad


UNTILIZE_CASES = [
    ((1, 2, 64, 96), None, None),
    ((1, 1, 64, 384), None, (2, 1)),
    ((1, 24, 96, 256), (1, 24, 80, 256), (5, 4)),
    ((1, 1, 32, 256), (1, 1, 1, 256), None),
    ((1, 4, 64, 32), (1, 4, 50, 3), (5, 4)),
    ((1, 1, 128, 64), (1, 1, 33, 64), (2, 2)),
]


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize(("shape", "out_shape", "grid"), UNTILIZE_CASES)
def test_untilize_bit_exact(dtype: str, shape: tuple, out_shape: tuple | None, grid: tuple | None) -> None:
    x = _data(shape, seed=shape[-1])
    ref = un.reference(x, dtype=dtype, output_shape=out_shape)
    assert ref.shape == (out_shape or shape)
    assert np.array_equal(_bits(un.functional(x, dtype=dtype, output_shape=out_shape)), _bits(ref))
    config = {**({"grid": grid} if grid else {}), **({"output_shape": out_shape} if out_shape else {})}
    program = perfmodel.get_op("untilize").build_program(shape, device=DEVICE, dtype=dtype, config=config)
    out = perfmodel.simulate(program, inputs=un.device_input(x, dtype=dtype)).output
    assert np.array_equal(_bits(np.asarray(out).reshape(ref.shape)), _bits(ref))


def test_untilize_inverts_tilize() -> None:
    x = _data((1, 3, 64, 160), seed=7)
    tiles = tn.reference(x, dtype="bfloat16")
    program = perfmodel.get_op("untilize").build_program(x.shape, device=DEVICE, config={"grid": (2, 2)})
    out = perfmodel.simulate(program, inputs=tiles).output
    assert np.array_equal(_bits(np.asarray(out).reshape(x.shape)), _bits(tn.device_input(x, "bfloat16")))


# bfloat8_b as the real rows use it: tilize bfloat16 -> bfloat8_b (the packer's rounding, shared exponents per
# face row), untilize bfloat8_b -> bfloat16 (exact: every bfloat8_b value is a bfloat16).
BF8_TILIZE_CASES = [
    ((1, 1, 64, 96), None, (2, 2)),
    ((1, 1, 1, 256), (1, 1, 32, 256), None),
    ((1, 2, 40, 70), None, (2, 3)),
]


@pytest.mark.parametrize(("shape", "padded", "grid"), BF8_TILIZE_CASES)
def test_tilize_to_bfloat8_b_bit_exact(shape: tuple, padded: tuple | None, grid: tuple | None) -> None:
    from perfmodel.numerics import blockfloat

    x = _data(shape, seed=shape[-1])
    bf16_tiles = tn.reference(x, dtype="bfloat16", padded_shape=padded).astype(np.float32)
    # Independent of the op's helpers: the packer's encoding of the bfloat16 tiles, decoded.
    want = blockfloat.decode(blockfloat.encode(bf16_tiles, rounding="packer")).reshape(bf16_tiles.shape)
    ref = tn.reference(x, dtype="bfloat16", padded_shape=padded, output_dtype="bfloat8_b")
    assert np.array_equal(_bits(ref), _bits(want))
    got = tn.functional(x, dtype="bfloat16", padded_shape=padded, output_dtype="bfloat8_b")
    assert np.array_equal(_bits(got), _bits(want))
    config = {
        "output_dtype": "bfloat8_b",
        **({"grid": grid} if grid else {}),
        **({"padded_shape": padded} if padded else {}),
    }
    program = perfmodel.get_op("tilize").build_program(shape, device=DEVICE, dtype="bfloat16", config=config)
    assert program.buffer("output").page_size_bytes == 1088
    out = np.asarray(perfmodel.simulate(program, inputs=x).output).reshape(want.shape)
    assert np.array_equal(_bits(out.astype(np.float32)), _bits(want))


@pytest.mark.parametrize(
    ("shape", "out_shape", "grid"), [((1, 1, 64, 96), None, (2, 2)), ((1, 1, 32, 256), (1, 1, 1, 256), None)]
)
def test_untilize_from_bfloat8_b_bit_exact(shape: tuple, out_shape: tuple | None, grid: tuple | None) -> None:
    import ml_dtypes

    from perfmodel.numerics import blockfloat
    from perfmodel.numerics.tiles import tilize_block, untilize_block

    x = _data(shape, seed=3 + shape[-1])
    # Independent reference: host-encode each tile to bfloat8_b, decode, untilize, crop, cast to bfloat16.
    tiles = tilize_block(x.reshape(-1, 32, shape[-1])).reshape(-1, 1024)
    values = blockfloat.decode(blockfloat.encode(tiles, rounding="host")).reshape(-1, shape[-1] // 32, 1024)
    rows = untilize_block(values).reshape(shape)
    want = rows[tuple(slice(0, d) for d in (out_shape or shape))].astype(ml_dtypes.bfloat16)
    ref = un.reference(x, dtype="bfloat8_b", output_shape=out_shape, output_dtype="bfloat16")
    got = un.functional(x, dtype="bfloat8_b", output_shape=out_shape, output_dtype="bfloat16")
    assert np.array_equal(_bits(ref), _bits(want)) and np.array_equal(_bits(got), _bits(want))
    config = {
        "output_dtype": "bfloat16",
        **({"grid": grid} if grid else {}),
        **({"output_shape": out_shape} if out_shape else {}),
    }
    program = perfmodel.get_op("untilize").build_program(shape, device=DEVICE, dtype="bfloat8_b", config=config)
    assert program.buffer("input").page_size_bytes == 1088
    out = perfmodel.simulate(program, inputs=x).output
    assert np.array_equal(_bits(np.asarray(out).reshape(want.shape)), _bits(want))
