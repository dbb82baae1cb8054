"""The unary op's functional and validate take the op config; copy and relu give the same bits for any knobs."""

from __future__ import annotations

import numpy as np
import pytest

from perfmodel import get_op
from perfmodel.errors import InputError
from perfmodel.ops.unary import numerics

KNOBS = [
    {"math_fidelity": "LoFi"},
    {"math_fidelity": "HiFi2", "fp32_dest_acc_en": True},
    {"math_fidelity": "HiFi3", "fp32_dest_acc_en": False, "dst_full_sync_en": True},
]


@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "bfloat8_b"])
@pytest.mark.parametrize("fn", ["copy", "relu"])
def test_compute_knobs_change_no_value(dtype: str, fn: str) -> None:
    x = numerics.make_input((64, 64), seed=2, distribution="normal")
    base = numerics.functional(x, fn=fn, dtype=dtype)
    for knobs in KNOBS:
        out = numerics.functional(x, fn=fn, dtype=dtype, config=knobs)
        assert np.array_equal(out.view(np.uint8), base.view(np.uint8))
        r = numerics.validate((64, 64), dtype=dtype, fn=fn, seed=2, config=knobs)
        assert r.passed and r.math_fidelity == knobs["math_fidelity"]


def test_fn_comes_from_the_config_unless_given() -> None:
    x = numerics.make_input((32, 32), seed=1, distribution="normal")
    op = get_op("unary")
    copied = op.functional(x, config={"fn": "copy"})
    assert np.array_equal(copied.astype(np.float32), numerics.reference(x, fn="copy"))
    assert np.array_equal(op.functional(x, fn="relu", config={"fn": "copy"}), numerics.reference(x, fn="relu"))
    assert op.validate((32, 32), config={"fn": "copy"}).fn == "copy"


def test_bad_knob_raises_input_error() -> None:
    with pytest.raises(InputError, match="math_fidelity"):
        numerics.functional(np.zeros((32, 32)), config={"math_fidelity": "HiFi9"})
