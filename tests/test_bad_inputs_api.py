"""Bad input through the Python API: `perfmodel.InputError` naming the value, never another exception type.

Also the rows of `estimate_many`: an invalid or impossible row is `feasible = False` with its reason and no
time; it never borrows another row's value or wraps around.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perfmodel
from perfmodel import InputError

WH = "wormhole_b0_n150"
OP = perfmodel.get_op("centralize_w_rm")
DRAM = perfmodel.get_op("dram_unary")


def _centralize(**kw):
    args = {"shape": (1, 1, 64, 64), "device": WH, **kw}
    return OP.build_program(args.pop("shape"), **args)


def _dram(**kw):
    return DRAM.build_program(device=WH, **kw)


def _not_a_generator(k, **kwargs):
    return None


def _unconfigured_cb(k, **kwargs):
    yield from k.cb_wait_front(9, 1)


API_CASES = [
    ("shape with inf", lambda: _centralize(shape=(1, 1, float("inf"), 32)), "inf"),
    ("shape with nan", lambda: _centralize(shape=(1, 1, float("nan"), 32)), "nan"),
    ("shape as a string", lambda: _centralize(shape="1,1,32,32"), "'1,1,32,32'"),
    ("shape None", lambda: _centralize(shape=None), "None"),
    ("grid as one int", lambda: _centralize(config={"grid": 8}), "grid = 8"),
    ("grid of floats", lambda: _centralize(config={"grid": (8, 8.5)}), "8.5"),
    ("grid in a Config", lambda: _centralize(config=OP.Config(grid=8)), "8"),
    ("row_wise 'False'", lambda: _centralize(config={"row_wise": "False"}), "'False'"),
    ("row_wise 0", lambda: _centralize(config={"row_wise": 0}), "row_wise = 0"),
    ("row_wise 'False' in a Config", lambda: _centralize(config=OP.Config(row_wise="False")), "'False'"),
    ("in_buffering 2.0", lambda: _centralize(config={"in_buffering": 2.0}), "2.0"),
    ("config not a dict", lambda: _centralize(config=[1, 2]), "list"),
    ("unknown config field", lambda: _centralize(config={"buffering": 2}), "'buffering'"),
    ("kernel None", lambda: _centralize(kernels={"reader": None}), "None"),
    ("kernel a string", lambda: _centralize(kernels={"compute": "tilize"}), "'tilize'"),
    ("kernels not a dict", lambda: _centralize(kernels=[print]), "kernels"),
    ("unknown kernel slot", lambda: _centralize(kernels={"unpacker": print}), "'unpacker'"),
    ("dram_unary bank '0'", lambda: _dram(bank="0"), "'0'"),
    ("dram_unary bank 99", lambda: _dram(bank=99), "99"),
    ("dram_unary core (0,)", lambda: _dram(core=(0,)), "(0,)"),
    ("dram_unary core 'a'", lambda: _dram(core="ab"), "'ab'"),
    ("dram_unary core in a config None", lambda: _dram(config={"core": None}), "None"),
    ("dram_unary bytes 2.5", lambda: _dram(transaction_bytes=2.5), "2.5"),
    ("dram_unary bytes True", lambda: _dram(transaction_bytes=True), "True"),
    ("dram_unary huge count", lambda: _dram(transaction_bytes=2048, num_transactions=10**12), "1000000000000"),
    ("dram_unary dtype", lambda: _dram(dtype="bfloat16"), "'bfloat16'"),
    ("dram_unary config and keywords", lambda: _dram(config={"bank": 1}, transaction_bytes=64), "transaction_bytes"),
    ("dram_unary unknown kernel slot", lambda: _dram(kernels={"writer": print}), "'writer'"),
    ("dram_unary direction 1", lambda: _dram(direction=1), "1"),
    (
        "estimate of a kernel that is not a generator",
        lambda: perfmodel.estimate(_centralize(kernels={"compute": _not_a_generator})),
        "compute",
    ),
    (
        "simulate of a kernel that is not a generator",
        lambda: perfmodel.simulate(_centralize(kernels={"compute": _not_a_generator})),
        "compute",
    ),
    (
        "estimate of a kernel on a CB the program lacks",
        lambda: perfmodel.estimate(_centralize(kernels={"compute": _unconfigured_cb})),
        "c_9",
    ),
    (
        "simulate of a kernel on a CB the program lacks",
        lambda: perfmodel.simulate(_centralize(kernels={"compute": _unconfigured_cb})),
        "c_9",
    ),
    ("estimate_many of an int", lambda: perfmodel.estimate_many(OP, 5), "int"),
    ("estimate_many of ragged columns", lambda: perfmodel.estimate_many(OP, {"N": [1, 2], "C": [1]}), "length"),
    ("simulate max_events 0", lambda: perfmodel.simulate(_centralize(), max_events=0), "max_events = 0"),
    ("simulate max_events 1.5", lambda: perfmodel.simulate(_centralize(), max_events=1.5), "1.5"),
    ("simulate timeout_s -1", lambda: perfmodel.simulate(_centralize(), timeout_s=-1), "timeout_s = -1"),
    ("simulate timeout_s nan", lambda: perfmodel.simulate(_centralize(), timeout_s=float("nan")), "nan"),
    (
        "simulate inputs of another shape",
        lambda: perfmodel.simulate(_centralize(), inputs=np.zeros((1, 1, 128, 32))),
        "[1, 1, 128, 32]",
    ),
    (
        "simulate inputs of strings",
        lambda: perfmodel.simulate(_centralize(), inputs=np.full((1, 1, 64, 64), "x")),
        "<U1",
    ),
    (
        "simulate with data a program far larger than L1",
        lambda: perfmodel.simulate(
            _centralize(config={"in_buffering": 10**15}), inputs=np.zeros((1, 1, 64, 64), dtype=np.float32)
        ),
        "byte",
    ),
    ("simulate inputs for no buffer", lambda: perfmodel.simulate(_centralize(), inputs={"weights": [1]}), "weights"),
]


@pytest.mark.parametrize(("call", "named"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_bad_input_is_an_input_error_naming_it(call, named) -> None:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    assert named in message


def test_dram_unary_takes_numpy_integers_and_either_config_or_keywords() -> None:
    by_keywords = _dram(transaction_bytes=np.int64(64), num_transactions=np.int32(4), bank=np.int64(1), core=[1, 0])
    by_config = _dram(config={"transaction_bytes": 64, "num_transactions": 4, "bank": 1, "core": (1, 0)})
    assert by_keywords.config == by_config.config
    assert by_keywords.shape == (4, 64) and by_keywords.cores[0].core == (1, 0)


def test_config_takes_numpy_scalars_as_their_python_values() -> None:
    config = OP.Config.coerce({"grid": [np.int64(2), 2], "row_wise": np.bool_(True), "in_buffering": np.int64(3)})
    assert config == OP.Config(grid=(2, 2), row_wise=True, in_buffering=3)


# --- estimate_many, row by row ---------------------------------------------------------------------------

BASE = {
    "N": 1,
    "C": 1,
    "H": 2048,
    "W": 1024,
    "dtype": "bfloat16",
    "device": WH,
    "grid_x": 8,
    "grid_y": 8,
    "row_wise": False,
    "in_buffering": 2,
    "out_buffering": 2,
}
BAD_ROWS = [
    ("no device (None)", {"device": None}, "device"),
    ("no device (NaN)", {"device": np.nan}, "device"),
    ("no dtype", {"dtype": None}, "dtype"),
    ("row_wise NaN", {"row_wise": np.nan}, "row_wise"),
    ("row_wise 'False'", {"row_wise": "False"}, "row_wise = 'False'"),
    ("row_wise 2", {"row_wise": 2}, "row_wise = 2"),
    ("H 2048.7", {"H": 2048.7}, "H = 2048.7"),
    ("W 1024.9", {"W": 1024.9}, "W = 1024.9"),
    ("grid_x 2.5", {"grid_x": 2.5}, "grid_x = 2.5"),
    ("grid_x True", {"grid_x": True}, "grid_x = True"),
    ("in_buffering 1.5", {"in_buffering": 1.5}, "in_buffering = 1.5"),
    ("H 'abc'", {"H": "abc"}, "H = 'abc'"),
    ("H infinite", {"H": np.inf}, "H = inf"),
    ("int64 overflow", {"N": 2**40, "C": 2**40, "H": 2**20}, "64-bit"),
    ("tensor larger than DRAM", {"H": 2**26}, "dram_overflow"),
    ("CB bytes overflow", {"in_buffering": 2**60}, "64-bit"),
]


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **row} for row in rows])


@pytest.mark.parametrize(("change", "reason"), [c[1:] for c in BAD_ROWS], ids=[c[0] for c in BAD_ROWS])
def test_an_invalid_row_is_infeasible_with_its_reason_and_no_time(change, reason) -> None:
    # A valid row on another board before it: a bad row must never take that row's values.
    table = _table([{"device": "blackhole_p150a"}, change])
    out = perfmodel.estimate_many(OP, table)
    good, bad = out.iloc[0], out.iloc[1]
    assert good.feasible and good.cycles > 0
    assert not bad.feasible
    assert reason in bad.infeasible_reason
    assert np.isnan(bad.cycles) and np.isnan(bad.kernel_duration_ns)
    assert bad.num_cores == 0


def test_accepted_cell_types_give_the_same_answer() -> None:
    """Booleans as numpy bools or 0 / 1, integers as numpy ints or whole floats: read as written."""
    variants = [{}, {"row_wise": np.bool_(False)}, {"row_wise": 0}, {"H": 2048.0, "grid_x": np.int32(8)}]
    out = perfmodel.estimate_many(OP, _table(variants))
    assert out["feasible"].all()
    assert out["cycles"].nunique() == 1
    flipped = perfmodel.estimate_many(OP, _table([{"row_wise": 1}, {"row_wise": True}]))
    assert flipped.loc[0, "cycles"] == flipped.loc[1, "cycles"]


def test_a_dict_of_columns_is_a_table() -> None:
    by_dict = perfmodel.estimate_many(OP, {k: [v, v] for k, v in BASE.items()})
    by_frame = perfmodel.estimate_many(OP, _table([{}, {}]))
    pd.testing.assert_frame_equal(by_dict, by_frame)


def test_a_row_the_factory_refuses_for_dram_is_refused_alike() -> None:
    with pytest.raises(InputError, match="DRAM"):
        _centralize(shape=(1, 1, 2**26, 1024))
    assert not perfmodel.estimate_many(OP, _table([{"H": 2**26}])).loc[0, "feasible"]
