"""Tile-level numerics primitives: tilize/untilize, the reduce scaler, row reduce and column-broadcast subtract.

These are the functional building blocks of the row-reduction ops (centralize_w_rm and its siblings). The
functional path and the discrete-event simulator both call exactly these functions, one tile row at a time,
on the contents of CB pages, so they are pure and deterministic, and every fp32 operation happens in a fixed,
documented order: the same inputs give the same bits however the call is batched.

Layout. A tile is 32 x 32 values stored flat (1024 values) as four 16 x 16 faces in the order top-left,
top-right, bottom-left, bottom-right, each face row-major: element (i, j) sits at flat index
``face * 256 + offset`` with ``face = (i // 16) * 2 + j // 16`` and ``offset = (i % 16) * 16 + j % 16``
(`tile_index`). A tile row is the 32 sticks of width W that make Wt = W / 32 tiles.

Batching. Every primitive takes one tile row as its trailing axes ([Wt, 1024] tiles, or one [1024] tile);
any leading axes are independent tile rows processed element-wise in exactly the same order, so a batched
call is bit-identical to a loop over tile rows. The simulator may call with no leading axes.

Speed. The primitives work on raw bit patterns in a few batched numpy passes and leave out additions that
cannot change a result (`_chain_drops_zeros`); `perfmodel.numerics.reference` keeps the plain, one rounding at a
time definitions, and tests/test_numerics_fast_equals_reference.py holds the two to the same bits.

Hardware model (shared/reference/compute.md §2, §4, §6, §7 and centralize_w_rm.md §6; the exact FPU bits are
not documented, so the choices below are a model, fixed here so that all engines agree):

- Dst is fp32 when ``fp32_dest_acc_en`` is true (default: true for float32 data, false for bfloat16, as in
  tt-metal's default compute config) and bfloat16 otherwise. Every write into a bfloat16 Dst rounds the fp32
  FPU result to bfloat16 with ties away from zero, the same conversion the packer uses.
- The packer rounds to the CB data format: ties away from zero for bfloat16, exact for float32.
- Source operands hold at most 19 bits (`unpack_operand`): bfloat16 is exact; a float32 CB feeding the FPU is
  truncated to TF32 (10 fraction bits) with fp32 Dst accumulation, to bfloat16 (7 fraction bits, denormals
  flushed to zero) without.
- Math fidelity (`fidelity_phases_of`): the multiplier takes hidden + 4 bits of the SrcA operand and
  hidden + 6 of the SrcB operand per phase, parts by truncation; phase 0 = hiA * hiB, 1 = loA * hiB,
  2 = hiA * loB, 3 = loA * loB; LoFi runs phase 0, HiFi2 0-1, HiFi3 0-2, HiFi4 0-3, and every phase is
  added into Dst on its own (so a 16-bit Dst rounds once per phase). Only the reduce multiplies here;
  sub and add (ELWSUB/ELWADD) have no phases. Which operand of REDUCE_ROW sits in SrcA is
  `REDUCE_ROW_SRCA`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from perfmodel.compute_config import FIDELITY_PHASES, check_math_fidelity
from perfmodel.errors import InputError
from perfmodel.numerics.formats import (
    BFLOAT16,
    FLOAT32,
    DataFormat,
    FormatLike,
    bf16_to_float32,
    get_format,
    to_bf16_rna,
    to_bf16_trunc,
)

TILE_HEIGHT = 32
TILE_WIDTH = 32
FACE_HEIGHT = 16
FACE_WIDTH = 16
FACE_ELEMENTS = FACE_HEIGHT * FACE_WIDTH
TILE_ELEMENTS = TILE_HEIGHT * TILE_WIDTH

# Axis split of a flat tile: [face row, face column, row in face, column in face].
_FACE_GRID = (2, 2, FACE_HEIGHT, FACE_WIDTH)

# Which operand of reduce REDUCE_ROW SUM/AVG sits in SrcA (compute.md §2): "scaler" on the MVMUL path of
# tt-metal #48870 (2026-07, the same design on Wormhole and Blackhole), the newest; "data" on the older
# GAPOOL + transpose path (tt-llk @36b092e8e195, 2026-04). It decides which operand the fidelity phases cut
# to hidden + 4 bits (SrcA) and which to hidden + 6 (SrcB).
REDUCE_ROW_SRCA = "scaler"
SRCA_OPERANDS = ("data", "scaler")

# Significand bits the multiplier takes per phase, hidden bit included (compute.md §4).
SRCA_PHASE_BITS = 5
SRCB_PHASE_BITS = 7
# Fraction bits of the 19-bit source registers' formats.
TF32_FRACTION_BITS = 10
BF16_FRACTION_BITS = 7
_F32_FRACTION_BITS = 23
_F32_EXPONENT_MASK = 0x7F800000
_F32_SIGN_MASK = 0x80000000


def tile_index(i: int, j: int) -> int:
    """Flat index inside a tile of element (row i, column j), 0 <= i, j < 32."""
    if not (0 <= i < TILE_HEIGHT and 0 <= j < TILE_WIDTH):
        raise InputError(f"tile element ({i}, {j}) is outside a 32 x 32 tile")
    face = (i // FACE_HEIGHT) * 2 + j // FACE_WIDTH
    return face * FACE_ELEMENTS + (i % FACE_HEIGHT) * FACE_WIDTH + j % FACE_WIDTH


def _as_plain(a: np.ndarray) -> np.ndarray:
    """`a` seen as unsigned integers of its item size: numpy copies those faster than ml_dtypes' types."""
    plain = {2: np.uint16, 4: np.uint32}.get(a.dtype.itemsize)
    return a if plain is None else a.view(plain)


def tilize_block(rows: npt.ArrayLike) -> np.ndarray:
    """Tilize one tile row: [..., 32, W] sticks -> [..., Wt, 1024] tiles in face layout.

    W must be a positive multiple of 32. A pure permutation: dtype and every value are preserved; the result
    is a new contiguous array.
    """
    a = np.asarray(rows)
    if a.ndim < 2 or a.shape[-2] != TILE_HEIGHT or a.shape[-1] == 0 or a.shape[-1] % TILE_WIDTH:
        raise InputError(f"tilize_block expects [..., 32, W] with W a multiple of 32, got shape {a.shape}")
    lead = a.shape[:-2]
    wt = a.shape[-1] // TILE_WIDTH
    n = len(lead)
    # [..., face row, row in face, tile, face column, column in face] -> [..., tile, fr, fc, r, c]
    split = _as_plain(a).reshape((*lead, 2, FACE_HEIGHT, wt, 2, FACE_WIDTH))
    order = (*range(n), n + 2, n, n + 3, n + 1, n + 4)
    return np.ascontiguousarray(split.transpose(order)).reshape((*lead, wt, TILE_ELEMENTS)).view(a.dtype)


def untilize_block(tiles: npt.ArrayLike) -> np.ndarray:
    """Untilize one tile row: [..., Wt, 1024] tiles in face layout -> [..., 32, Wt * 32] sticks.

    The exact inverse of `tilize_block`; a pure permutation.
    """
    a = np.asarray(tiles)
    if a.ndim < 2 or a.shape[-1] != TILE_ELEMENTS or a.shape[-2] == 0:
        raise InputError(f"untilize_block expects [..., Wt, 1024] with Wt >= 1, got shape {a.shape}")
    lead = a.shape[:-2]
    wt = a.shape[-2]
    n = len(lead)
    split = _as_plain(a).reshape((*lead, wt, *_FACE_GRID))
    # [..., tile, fr, fc, r, c] -> [..., fr, r, tile, fc, c]
    order = (*range(n), n + 1, n + 3, n, n + 2, n + 4)
    return np.ascontiguousarray(split.transpose(order)).reshape((*lead, TILE_HEIGHT, wt * TILE_WIDTH)).view(a.dtype)


def _check_width(width: int) -> int:
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or width <= 0:
        raise InputError(f"reduce width W must be a positive integer, got {width!r}")
    return int(width)


def scaler_value(width: int) -> float:
    """The reduce scaler the factory builds for width W: bfloat16 truncation of float32(1 / W), as a float.

    Truncation, not rounding: for W = 96 this is 0.010375977 (0x3C2A), not the nearest bfloat16 0.010437012
    (0x3C2B); for powers of two it is exact.
    """
    w = _check_width(width)
    return float(to_bf16_trunc(np.float32(1.0) / np.float32(w)).astype(np.float32))


def scaler_tile(width: int) -> np.ndarray:
    """The bfloat16 scaler tile (flat 1024, face layout): zero except row 0 of each face = `scaler_value(W)`."""
    w = _check_width(width)
    tile = np.zeros(_FACE_GRID, dtype=np.float32)
    tile[:, :, 0, :] = scaler_value(w)
    # bfloat16 cast is exact here: the value is already a bfloat16.
    return tile.reshape(TILE_ELEMENTS).astype(BFLOAT16.dtype)


def _check_tiles(tiles: npt.ArrayLike, fmt: DataFormat, name: str, *, min_ndim: int) -> np.ndarray:
    a = np.asarray(tiles)
    if a.ndim < min_ndim or a.shape[-1] != TILE_ELEMENTS:
        want = "[..., Wt, 1024]" if min_ndim == 2 else "[..., 1024]"
        raise InputError(f"{name} must have shape {want}, got {a.shape}")
    if a.dtype != fmt.dtype:
        raise InputError(f"{name} has dtype {a.dtype}, but the data format is {fmt.name}")
    return a


def _dst_fp32(fmt: DataFormat, fp32_dest_acc_en: bool | None) -> bool:
    return fmt is FLOAT32 if fp32_dest_acc_en is None else bool(fp32_dest_acc_en)


def _keep_fraction_bits(values: np.ndarray, fraction_bits: int) -> np.ndarray:
    """Truncate float32 values toward zero to `fraction_bits` fraction bits (a mask on the raw bits)."""
    drop = _F32_FRACTION_BITS - fraction_bits
    mask = np.uint32((0xFFFFFFFF >> drop) << drop)
    return (np.asarray(values, dtype=np.float32).view(np.uint32) & mask).view(np.float32)


def unpack_operand(values: npt.ArrayLike, fmt: DataFormat, dst_fp32: bool) -> np.ndarray:
    """The float32 values an operand of `fmt` holds in SrcA/SrcB (19 bits at most; compute.md §6, §7).

    bfloat16: exact. float32: truncated to TF32 (low 13 bits dropped) when Dst is fp32, else to bfloat16
    (low 16 dropped) with denormals flushed to a zero of the same sign. The result is a new float32 array.
    """
    v = np.asarray(values).astype(np.float32)
    if fmt is not FLOAT32:
        return v
    if dst_fp32:
        return _keep_fraction_bits(v, TF32_FRACTION_BITS)
    bits = _keep_fraction_bits(v, BF16_FRACTION_BITS).view(np.uint32)
    denormal = (bits & np.uint32(_F32_EXPONENT_MASK)) == 0
    return np.where(denormal, bits & np.uint32(_F32_SIGN_MASK), bits).view(np.float32)


def fidelity_parts(values: npt.ArrayLike, position: str) -> tuple[np.ndarray, np.ndarray]:
    """Split unpacked operands into the (high, low) significand parts the fidelity phases multiply.

    `position` is "srca" or "srcb". Both parts are truncations toward zero, with the operand's sign:
    - SrcA: high = hidden + 4 fraction bits; low = the next 5 bits (compute.md §4: for a TF32 operand the
      10th fraction bit is never used; a bfloat16 operand has only 3 more bits, so it is used whole);
    - SrcB: high = hidden + 6 fraction bits; low = all the bits left. Two 7-bit passes would cover
      hidden + 13 bits, more than TF32's 10, so nothing of a 19-bit operand is dropped (our choice: the
      reference documents SrcB's low part for bfloat16 only, where it is the last bit).
    high + low is exact in float32 and every product of parts is exact too (at most 6 x 11 bits).
    """
    v = np.asarray(values, dtype=np.float32)
    if position == "srca":
        high = _keep_fraction_bits(v, SRCA_PHASE_BITS - 1)
        used = _keep_fraction_bits(v, 2 * SRCA_PHASE_BITS - 1)
    elif position == "srcb":
        high = _keep_fraction_bits(v, SRCB_PHASE_BITS - 1)
        used = v
    else:
        raise InputError(f"operand position must be 'srca' or 'srcb', got {position!r}")
    return high, (used - high).astype(np.float32, copy=False)


def fidelity_phases_of(math_fidelity: str) -> tuple[tuple[int, int], ...]:
    """The (SrcA part, SrcB part) of each phase run at `math_fidelity`, in order; 0 = high part, 1 = low.

    Phase p multiplies SrcA part ``p & 1`` by SrcB part ``p >> 1`` (phase bit 0 picks SrcA's, bit 1 SrcB's);
    LoFi runs phase 0, HiFi2 phases 0-1, HiFi3 0-2, HiFi4 0-3.
    """
    phases = FIDELITY_PHASES[check_math_fidelity(math_fidelity)]
    return tuple((p & 1, p >> 1) for p in range(phases))


def _check_srca(srca: str) -> str:
    if srca not in SRCA_OPERANDS:
        raise InputError(f"srca = {srca!r} must be one of {', '.join(SRCA_OPERANDS)}")
    return srca


def reduce_row_sum(
    tiles: npt.ArrayLike,
    scaler: npt.ArrayLike,
    *,
    data_format: FormatLike,
    fp32_dest_acc_en: bool | None = None,
    math_fidelity: str = "HiFi4",
    srca: str = REDUCE_ROW_SRCA,
) -> np.ndarray:
    """Reduce SUM along W (``ReduceDim::REDUCE_ROW``) of one tile row, with the scaler, into one mean tile.

    Args:
        tiles: [..., Wt, 1024] tiles of one tile row (face layout), dtype of `data_format`.
        scaler: the [1024] bfloat16 scaler tile (`scaler_tile(W)`); row 0 of each face multiplies the
            matching columns of that face.
        data_format: "bfloat16" or "float32": the format of `tiles` and of the packed result.
        fp32_dest_acc_en: fp32 Dst accumulation; None means on for float32 data, off for bfloat16.
        math_fidelity: "LoFi", "HiFi2", "HiFi3" or "HiFi4": the multiplier phases run per product.
        srca: which operand sits in SrcA, "scaler" or "data" (default `REDUCE_ROW_SRCA`); the other is in SrcB.

    Returns:
        [..., 1024] mean tile in face layout and `data_format`: row i's mean at (i, 0), zeros elsewhere.

    Accumulation order (per tile row, per output row independently):
        1. the data is unpacked (`unpack_operand`: float32 -> TF32 or bfloat16 by truncation), the scaler is
           exact; each operand is split into its fidelity parts (`fidelity_parts`, by its position);
        2. for phase p, product part_A(p) * part_B(p) of x[i, j] and s[j] (exact in fp32), and per face the
           16 phase-p products of row i are summed in fp32 by a fixed pairwise tree ((c0+c1)+(c2+c3))+...;
        3. for tile t = 0 .. Wt - 1, left face then right face, phase 0 .. phases - 1:
           acc = to_dst(acc + face_sum[t, face, p]) with the add in fp32 and to_dst rounding to bfloat16
           (ties away from zero) when Dst is 16-bit, so there are 2 * Wt * phases Dst writes per row (an
           add of a zero phase sum leaves a bfloat16 acc unchanged); acc starts at 0;
        4. the packer converts acc to `data_format` (exact when Dst is already bfloat16).
    When every low part is zero (e.g. bfloat16 data with <= 4 fraction bits and a power-of-two scaler) the
    extra phases add zeros and the result is that of the exact products.
    """
    fmt = get_format(data_format)
    x = _check_tiles(tiles, fmt, "tiles", min_ndim=2)
    s = _check_tiles(scaler, BFLOAT16, "scaler", min_ndim=1)
    if s.ndim != 1:
        raise InputError(f"scaler must be one [1024] tile, got shape {s.shape}")
    phases = fidelity_phases_of(math_fidelity)
    data_in_srca = _check_srca(srca) == "data"
    dst_fp32 = _dst_fp32(fmt, fp32_dest_acc_en)
    lead = x.shape[:-2]
    wt = x.shape[-2]
    rows = math.prod(lead)
    if x.size == 0:  # no tile row, or rows of no tiles (whose mean is 0): nothing to speed up
        return _reference_reduce(x, s, fmt, dst_fp32, math_fidelity, srca)

    scale = bf16_to_float32(s).reshape(_FACE_GRID)[:, :, 0, :][:, :, None, :]
    scale_parts = fidelity_parts(scale, "srcb" if data_in_srca else "srca")
    live = []  # (data part, scaler part) of the phases that can add a non-zero sum
    for i, (a_part, b_part) in enumerate(phases):
        d_part, s_part = (a_part, b_part) if data_in_srca else (b_part, a_part)
        # A zero scaler part makes every sum of the phase +-0 (phase 0 always runs: it shows a non-finite input).
        if i == 0 or scale_parts[s_part].any():
            live.append((d_part, scale_parts[s_part]))
    # The phase sums in the order of the Dst writes (tile, face column, phase), each write one contiguous
    # vector of the output rows (tile row, face row, row).
    sums = np.empty((wt, 2, len(live), rows, 2, FACE_HEIGHT), dtype=np.float32)
    tiles_by_row = x.reshape((rows, wt, *_FACE_GRID))
    chunk = max(1, _PHASE_SUM_CHUNK_TILES // wt)  # tile rows at a time, so that the passes stay in cache
    for first in range(0, rows, chunk):
        last = min(rows, first + chunk)
        # [tile row, Wt, face row, face column, row, column] times the scaler's row 0 of the same face.
        data = _unpack(tiles_by_row[first:last], fmt, dst_fp32)
        data_parts = fidelity_parts(data, "srca" if data_in_srca else "srcb")
        for p, (d_part, s_part) in enumerate(live):
            v = data_parts[d_part] * s_part
            while v.shape[-1] > 2:  # the fixed tree: ((c0 + c1) + (c2 + c3)) + ...
                v = v[..., 0::2] + v[..., 1::2]
            np.add(v[..., 0], v[..., 1], out=sums[:, :, p, first:last].transpose(2, 0, 3, 1, 4))
    steps = sums.reshape(-1, rows * 2 * FACE_HEIGHT)
    if not _chain_drops_zeros(steps, dst_fp32):
        return _reference_reduce(x, s, fmt, dst_fp32, math_fidelity, srca)
    acc = _dst_chain(steps, dst_fp32).reshape(rows, 2, FACE_HEIGHT)

    if fmt is BFLOAT16:
        bits = acc.view(np.uint32)
        if dst_fp32:  # the packer rounds ties away; acc holds no NaN here
            bits = bits + _HALF_BF16_ULP
        mean = np.zeros((rows, *_FACE_GRID), dtype=np.uint16)
        mean[:, :, 0, :, 0] = bits >> np.uint32(16)  # column 0 of faces 0 (rows 0-15) and 2 (rows 16-31)
        return mean.reshape((*lead, TILE_ELEMENTS)).view(BFLOAT16.dtype)
    mean = np.zeros((rows, *_FACE_GRID), dtype=np.float32)
    mean[:, :, 0, :, 0] = acc
    return mean.reshape((*lead, TILE_ELEMENTS))


def sub_bcast_col(
    a_tile: npt.ArrayLike,
    b_tile: npt.ArrayLike,
    *,
    data_format: FormatLike,
    fp32_dest_acc_en: bool | None = None,
) -> np.ndarray:
    """Subtract with column broadcast: out[h, w] = a[h, w] - b[h, 0] (``BroadcastType::COL``).

    Args:
        a_tile: [..., 1024] tiles (face layout), dtype of `data_format`.
        b_tile: [..., 1024] tiles whose column 0 is used; leading axes broadcast against `a_tile`'s, so one
            mean tile [1024] against a tile row [Wt, 1024] is the usual call.
        data_format: "bfloat16" or "float32": the format of both inputs and of the result.
        fp32_dest_acc_en: as in `reduce_row_sum`.

    Returns:
        [broadcast(...), 1024] tiles in `data_format`: the difference of the unpacked operands
        (`unpack_operand`: float32 truncated to TF32 or bfloat16) in fp32, stored to Dst (rounded ties away to
        bfloat16 when Dst is 16-bit) and packed (rounded ties away for bfloat16). No fidelity phases (ELWSUB).
        For bfloat16 inputs the fp32 difference is exact unless the exponents differ by more than 16, so the
        result is the correctly rounded (ties away) bfloat16 of a - b.
    """
    fmt = get_format(data_format)
    a = _check_tiles(a_tile, fmt, "a_tile", min_ndim=1)
    b = _check_tiles(b_tile, fmt, "b_tile", min_ndim=1)
    dst_fp32 = _dst_fp32(fmt, fp32_dest_acc_en)
    a_faces = _unpack(a, fmt, dst_fp32).reshape((*a.shape[:-1], *_FACE_GRID))
    # Column 0 of faces 0 and 2 ([..., face row, row]), the only values of b used, unpacked alone.
    b_col = _unpack(b.reshape((*b.shape[:-1], *_FACE_GRID))[..., :, 0, :, 0], fmt, dst_fp32)
    b_col = b_col[..., :, None, :, None]
    # a_faces is ours: write the difference into it when it has the result's shape.
    in_place = np.broadcast_shapes(a.shape, b.shape) == a.shape
    diff = np.subtract(a_faces, b_col, out=a_faces if in_place else None)
    return _store(diff, fmt, dst_fp32).reshape((*diff.shape[:-4], TILE_ELEMENTS))


def add_tiles(
    a_tile: npt.ArrayLike,
    b_tile: npt.ArrayLike,
    *,
    data_format: FormatLike,
    fp32_dest_acc_en: bool | None = None,
) -> np.ndarray:
    """Element-wise add of two tiles (``add_tiles``, ELWADD; no fidelity phases): out = a + b.

    Args:
        a_tile, b_tile: [..., 1024] tiles (face layout) in `data_format`; leading axes broadcast.
        data_format: "bfloat16" or "float32": the format of both inputs and of the result.
        fp32_dest_acc_en: as in `reduce_row_sum`.

    Returns:
        [broadcast(...), 1024] tiles in `data_format`: the sum of the unpacked operands (`unpack_operand`:
        float32 truncated to TF32 or bfloat16) in fp32, stored to Dst (rounded ties away to bfloat16 when Dst
        is 16-bit) and packed (rounded ties away for bfloat16).
    """
    fmt = get_format(data_format)
    a = _check_tiles(a_tile, fmt, "a_tile", min_ndim=1)
    b = _check_tiles(b_tile, fmt, "b_tile", min_ndim=1)
    dst_fp32 = _dst_fp32(fmt, fp32_dest_acc_en)
    return _store(_unpack(a, fmt, dst_fp32) + _unpack(b, fmt, dst_fp32), fmt, dst_fp32)


# ---- fast paths ----------------------------------------------------------------------------------------------
# The primitives above compute the bits of perfmodel.numerics.reference with fewer, larger numpy passes. The
# helpers below are the pieces; tests/test_numerics_fast_equals_reference.py holds the results to the reference.

# A bfloat16 Dst write rounds ties away: add half a bfloat16 ulp to the raw fp32 bits, clear the low half.
_HALF_BF16_ULP = np.uint32(0x8000)
_BF16_HIGH_HALF = np.uint32(0xFFFF0000)
# Phase sums at least this large (or zero) are multiples of 2^-133, which keeps a bfloat16 running sum off -0.
_SMALLEST_CHAINED_SUM = np.float32(2.0**-110)
# Tiles whose phase sums the reduce computes in one go: about 128 KiB per float32 pass.
_PHASE_SUM_CHUNK_TILES = 32


def _unpack(values: np.ndarray, fmt: DataFormat, dst_fp32: bool) -> np.ndarray:
    """`unpack_operand` on the raw bits: a new C-contiguous float32 array in `values`' logical order."""
    if fmt is BFLOAT16:
        return bf16_to_float32(values)
    if fmt is not FLOAT32:
        return np.ascontiguousarray(unpack_operand(values, fmt, dst_fp32))
    out = np.array(values, dtype=np.float32, order="C")
    bits = out.view(np.uint32)
    drop = _F32_FRACTION_BITS - (TF32_FRACTION_BITS if dst_fp32 else BF16_FRACTION_BITS)
    bits &= np.uint32((0xFFFFFFFF >> drop) << drop)
    if not dst_fp32:  # bfloat16 source registers flush denormals to a zero of the same sign
        denormal = (bits & np.uint32(_F32_EXPONENT_MASK)) == 0
        np.bitwise_and(bits, np.uint32(_F32_SIGN_MASK), out=bits, where=denormal)
    return out


def _store(values: np.ndarray, fmt: DataFormat, dst_fp32: bool) -> np.ndarray:
    """Dst store then pack (`reference._pack(reference._to_dst(values))`) of fp32 results that are ours to overwrite.

    For bfloat16 data both conversions round ties away, and rounding a bfloat16 value again changes
    nothing (a NaN keeps its high half and quiet bit), so one conversion gives the same bits.
    """
    if fmt is BFLOAT16:
        return to_bf16_rna(values)
    if dst_fp32:
        return values
    return bf16_to_float32(to_bf16_rna(values))


def _chain_drops_zeros(steps: np.ndarray, dst_fp32: bool) -> bool:
    """Whether `_dst_chain` may skip the +-0 phase sums the reduce did not compute, or that are all zero.

    Adding +-0 changes a running sum only when it is -0 (-0 + +0 = +0). An fp32 Dst sum starts at +0 and
    never becomes -0 (an exact fp32 sum is -0 only for -0 + -0). A bfloat16 Dst can round a tiny negative
    sum to -0, but not when every phase sum is zero or a multiple of 2^-133: then so is every running sum,
    and a non-zero one is at least 2^-133, the smallest bfloat16. Non-finite sums go to the reference too
    (the bit tricks assume no NaN).
    """
    if not np.isfinite(steps).all():
        return False
    if dst_fp32:
        return True
    return not ((np.abs(steps) < _SMALLEST_CHAINED_SUM) & (steps != 0)).any()


def _reference_reduce(
    x: np.ndarray, s: np.ndarray, fmt: DataFormat, dst_fp32: bool, math_fidelity: str, srca: str
) -> np.ndarray:
    """`reference.reduce_row_sum`, for the inputs the fast path leaves to it (imported late: it imports us)."""
    from perfmodel.numerics import reference

    return reference.reduce_row_sum(
        x, s, data_format=fmt, fp32_dest_acc_en=dst_fp32, math_fidelity=math_fidelity, srca=srca
    )


def _dst_chain(steps: np.ndarray, dst_fp32: bool) -> np.ndarray:
    """The running Dst sum: acc = to_dst(acc + steps[k]) for k = 0, 1, ... from acc = +0, for [K, N] steps.

    fp32 Dst: np.add.accumulate, which adds in order by definition (unlike np.sum). bfloat16 Dst: one loop
    step per non-zero row of `steps`, three in-place passes over N values each (see `_chain_drops_zeros`
    for why all-zero rows can be left out). `steps` is overwritten.
    """
    if dst_fp32:
        np.add(steps[0], np.float32(0.0), out=steps[0])  # +0 + -0 is +0, as the first Dst write gives
        return np.add.accumulate(steps, axis=0)[-1]
    n = steps.shape[1]
    acc = np.zeros(n, dtype=np.float32)
    bits = acc.view(np.uint32)
    # Array operands and positional outputs: numpy's cheapest call for these short vectors.
    half = np.full(n, _HALF_BF16_ULP)
    high = np.full(n, _BF16_HIGH_HALF)
    add, keep = np.add, np.bitwise_and
    for row in list(steps[steps.any(axis=1)]):
        add(acc, row, acc)
        add(bits, half, bits)
        keep(bits, high, bits)
    return acc
