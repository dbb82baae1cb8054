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
