"""estimate_many's persistent cache: another process reads it and gets the same frame; a bad cache is ignored."""

from __future__ import annotations

import ast
import dataclasses
import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfmodel import estimate_many
from perfmodel.analytic import cache, many
from perfmodel.device import load_device

DEVICES = ["wormhole_b0_n150", "blackhole_p150a"]


def small_table(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "N": rng.integers(1, 3, n),
            "C": 1,
            "H": 32 * rng.integers(1, 20, n),
            "W": 32 * rng.choice([1, 2, 3, 4], n),
            "dtype": rng.choice(["bfloat16", "float32"], n),
            "device": rng.choice(DEVICES, n),
            "grid_x": rng.integers(1, 4, n),
            "grid_y": rng.integers(1, 4, n),
            "row_wise": rng.random(n) < 0.5,
            "in_buffering": rng.integers(1, 4, n),
            "out_buffering": rng.integers(1, 4, n),
        }
    )


def _entries(path: Path) -> list:
    """The keys of a cache file."""
    db = sqlite3.connect(path)
    try:
        return [ast.literal_eval(key) for (key,) in db.execute("SELECT key FROM figures")]
    finally:
        db.close()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(folder))
    many._FIGURES.clear()
    yield folder
    many._FIGURES.clear()


_SECOND = """
import pickle, sys
import pandas as pd
import perfmodel
from perfmodel.analytic import cache, many
table = pd.read_pickle(sys.argv[1])
derived = []
real = many._derive_figures
many._derive_figures = lambda *a: derived.append(a) or real(*a)
out = perfmodel.estimate_many("centralize_w_rm", table)
out.to_pickle(sys.argv[2])
print(len(derived))
"""


def test_a_second_process_reads_the_cache_and_gets_the_same_frame(cache_dir: Path, tmp_path: Path) -> None:
    table = small_table()
    first = estimate_many("centralize_w_rm", table)
    files = list(cache_dir.glob(f"centralize_w_rm-*{cache.SUFFIX}"))
    assert len(files) == len(DEVICES)
    table.to_pickle(tmp_path / "table.pkl")
    run = subprocess.run(
        [sys.executable, "-c", _SECOND, str(tmp_path / "table.pkl"), str(tmp_path / "out.pkl")],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, cache.ENV: str(cache_dir)},
    )
    assert run.stdout.strip().splitlines()[-1] == "0"  # nothing derived: every figure came from the cache
    pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "out.pkl"), first, check_exact=True)
    reference = estimate_many("centralize_w_rm", table, reference=True)
    pd.testing.assert_frame_equal(first, reference, check_exact=True)


def test_figures_read_back_in_this_process_give_the_same_frame(cache_dir: Path) -> None:
    table = small_table(seed=1)
    first = estimate_many("centralize_w_rm", table)
    many._FIGURES.clear()  # the in-memory copy gone: the figures come from the files
    calls = []
    real = many._derive_figures
    try:
        many._derive_figures = lambda *a: calls.append(a) or real(*a)
        again = estimate_many("centralize_w_rm", table)
    finally:
        many._derive_figures = real
    assert not calls
    pd.testing.assert_frame_equal(again, first, check_exact=True)


def test_new_keys_are_merged_into_the_file(cache_dir: Path) -> None:
    estimate_many("centralize_w_rm", small_table(seed=2).assign(device="wormhole_b0_n150", W=32))
    estimate_many("centralize_w_rm", small_table(seed=2).assign(device="wormhole_b0_n150", W=64))
    (path,) = cache_dir.glob(f"centralize_w_rm-*{cache.SUFFIX}")
    widths = {key[0][0] for key in _entries(path)}
    assert widths == {32, 64}


def test_files_of_other_code_versions_are_removed(cache_dir: Path) -> None:
    table = small_table(seed=7).assign(device="wormhole_b0_n150")
    estimate_many("centralize_w_rm", table)
    (path,) = cache_dir.glob(f"centralize_w_rm-*{cache.SUFFIX}")
    op, code, profile = path.stem.rsplit("-", 2)
    stale = cache_dir / f"{op}-{'0' * len(code)}-{profile}{cache.SUFFIX}"
    other_board = cache_dir / f"{op}-{'0' * len(code)}-{'1' * len(profile)}{cache.SUFFIX}"
    other_op = cache_dir / f"unary-{'0' * len(code)}-{profile}{cache.SUFFIX}"
    for p in (stale, other_board, other_op):
        p.write_bytes(path.read_bytes())
    path.unlink()
    many._FIGURES.clear()
    estimate_many("centralize_w_rm", table)
    assert path.exists() and not stale.exists()
    assert other_board.exists() and other_op.exists()


@pytest.mark.parametrize("content", [b"", b"not a database", b"SQLite format 3\x00" + b"\x00" * 90, b"\x80\x05K\x01."])
def test_a_corrupt_cache_file_is_ignored(cache_dir: Path, content: bytes) -> None:
    table = small_table(seed=3)
    want = estimate_many("centralize_w_rm", table, reference=True)
    estimate_many("centralize_w_rm", table)
    for path in cache_dir.glob(f"*{cache.SUFFIX}"):
        path.write_bytes(content)
    many._FIGURES.clear()
    pd.testing.assert_frame_equal(estimate_many("centralize_w_rm", table), want, check_exact=True)
    # ... and replaced by a good one.
    assert all(_entries(p) for p in cache_dir.glob(f"*{cache.SUFFIX}"))


def test_a_cache_entry_of_the_wrong_kind_is_derived_again(cache_dir: Path) -> None:
    table = small_table(seed=4)
    want = estimate_many("centralize_w_rm", table)
    for path in cache_dir.glob(f"*{cache.SUFFIX}"):
        with sqlite3.connect(path) as db:
            db.execute("UPDATE figures SET value = ?", (pickle.dumps("junk"),))
        db.close()
    many._FIGURES.clear()
    pd.testing.assert_frame_equal(estimate_many("centralize_w_rm", table), want, check_exact=True)


def test_an_unwritable_cache_dir_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.ENV, str(blocker / "cache"))  # cannot be created: its parent is a file
    many._FIGURES.clear()
    table = small_table(seed=5)
    pd.testing.assert_frame_equal(
        estimate_many("centralize_w_rm", table),
        estimate_many("centralize_w_rm", table, reference=True),
        check_exact=True,
    )
    many._FIGURES.clear()


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.cache_dir() is None
    monkeypatch.chdir(tmp_path)
    many._FIGURES.clear()
    estimate_many("centralize_w_rm", small_table(5, seed=6))
    assert not list(tmp_path.iterdir())
    monkeypatch.delenv(cache.ENV)
    assert cache.cache_dir() is not None and cache.cache_dir().name == "tensix-perfmodel"


def test_the_key_follows_the_profile_content_and_the_code() -> None:
    device = load_device("wormhole_b0_n150")
    slower = dataclasses.replace(device, clock_ghz=device.clock_ghz * 0.5)
    assert cache.profile_hash(device) == cache.profile_hash(load_device("wormhole_b0_n150"))
    assert cache.profile_hash(slower) != cache.profile_hash(device)
    renamed = dataclasses.replace(device, name="my_board")
    assert cache.profile_hash(renamed) != cache.profile_hash(device)
    assert cache.store("centralize_w_rm", slower).path != cache.store("centralize_w_rm", device).path
    assert cache.code_hash("centralize_w_rm") != cache.code_hash("unary")  # the op's own folder is hashed
    # The same figures read from another file (an installed copy against a checkout) share the cache.
    assert cache.profile_hash(dataclasses.replace(device, path="elsewhere/wormhole_b0_n150.toml")) == (
        cache.profile_hash(device)
    )
