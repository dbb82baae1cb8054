"""The compute kernel configuration of a program: tt-metal's `ComputeConfig` knobs that change time and numbers.

- `math_fidelity`: how many passes (phases) the multiplier makes over the operands' significand slices
  (LoFi 1, HiFi2 2, HiFi3 3, HiFi4 4; shared/reference/compute.md §4). Only the multiplying FPU ops
  (matmul, reduce sum/avg, mul) pay per phase and see the operand truncation.
- `fp32_dest_acc_en`: Dst holds 32-bit values (half as many tiles) instead of 16-bit ones (§3, §6).
- `dst_full_sync_en`: SyncFull: math and pack take turns on the whole Dst (twice the tiles per acquire, no
  overlap) instead of SyncHalf's two halves (§3).

Ops with a compute kernel carry these as config fields (`ComputeKnobs`); their factory resolves them into the
program's `ComputeConfig`, which the helper library and the engines read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perfmodel.errors import InputError

MATH_FIDELITIES = ("LoFi", "HiFi2", "HiFi3", "HiFi4")
# Phases run per multiply (LLK llk_defs.h: LoFi = 0, HiFi2 = 2, HiFi3 = 3, HiFi4 = 4 -> 1, 2, 3, 4 phases).
FIDELITY_PHASES = {"LoFi": 1, "HiFi2": 2, "HiFi3": 3, "HiFi4": 4}


@dataclass(frozen=True)
class ComputeConfig:
    """What the compute kernel of a program is built with (resolved: no None left)."""

    math_fidelity: str = "HiFi4"
    fp32_dest_acc_en: bool = False
    dst_full_sync_en: bool = False

    def __post_init__(self) -> None:
        check_math_fidelity(self.math_fidelity)
        for name in ("fp32_dest_acc_en", "dst_full_sync_en"):
            value = getattr(self, name)
            if not isinstance(value, bool | np.bool_):
                raise InputError(f"{name} = {value!r} must be True or False")

    @property
    def fidelity_phases(self) -> int:
        return FIDELITY_PHASES[self.math_fidelity]


def check_math_fidelity(value: object) -> str:
    if value not in MATH_FIDELITIES:
        raise InputError(f"math_fidelity = {value!r} is not one of {', '.join(MATH_FIDELITIES)}")
    return str(value)


class ComputeKnobs:
    """Mixin of the configs of ops with a compute kernel, which declare the three ComputeConfig fields last:

        math_fidelity: str = "HiFi4"
        fp32_dest_acc_en: bool | None = None
        dst_full_sync_en: bool = False

    `fp32_dest_acc_en` None is the op's default for the data format: on for float32 data, off otherwise.
    The defaults are what the upstream factories set: HiFi4, a 16-bit Dst for 16-bit data, SyncHalf.
    """

    math_fidelity: str
    fp32_dest_acc_en: bool | None
    dst_full_sync_en: bool

    def compute_config(self, data_format: str) -> ComputeConfig:
        """The resolved ComputeConfig for data of `data_format` (an InputError names a bad knob)."""
        fp32 = data_format == "float32" if self.fp32_dest_acc_en is None else self.fp32_dest_acc_en
        return ComputeConfig(self.math_fidelity, fp32, self.dst_full_sync_en)
