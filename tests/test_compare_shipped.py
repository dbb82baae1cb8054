"""`perfmodel compare` on every shipped profiler CSV: which rows each op recognises and which it skips, and why.

The counts are the file's own: every Tilize* / Untilize* row is either a modelled row (DRAM interleaved,
ROW_MAJOR <-> TILE) or skipped with its reason (sharded, L1); `test_perf_rows.py` finds the same counts
row by row through the ops' `problem_from_row`, and checks each row's factory and CORE COUNT.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from perfmodel.cli import main
from perfmodel.io.compare import compare

DATA = Path(__file__).parent / "data" / "profiler_csv"
# file -> (--device, --worker-cores, modelled rows per op, skipped rows per (op code, reason))
FILES = {
    "bh20_oft.csv": (
        None,
        None,
        {"tilize": 29, "untilize": 23},
        {
            ("UntilizeDeviceOperation", "INPUT_0 is sharded"): 68,
            ("TilizeDeviceOperation", "INPUT_0 is sharded"): 166,
            ("TilizeWithValPaddingDeviceOperation", "INPUT_0 is in L1"): 4,
        },
    ),
    "bh_p100_dlv3.csv": (
        "blackhole_p100a",
        None,
        {"tilize": 7, "untilize": 5},
        {("UntilizeDeviceOperation", "INPUT_0 is in L1"): 1, ("TilizeDeviceOperation", "INPUT_0 is in L1"): 1},
    ),
    "bh_64_clip_encoder_1.csv": (None, None, {"tilize": 4}, {}),
    "wh_clip_encoder_2.csv": (None, None, {"tilize": 4}, {}),
    "wh_seg_encoder_ttnn_visualizer.csv": (
        "wormhole_b0_n150",
        None,
        {},
        {("Untilize", "INPUT_0 is in L1"): 18, ("Tilize", "INPUT_0 is in L1"): 2},
    ),
    "ops_perf_results_2025_09_18_11_39_20.csv": (
        "blackhole_p150a",
        20,
        {"tilize": 65, "untilize": 23},
        {("Untilize", "INPUT_0 is sharded"): 43, ("Tilize", "INPUT_0 is sharded"): 15},
    ),
}


def _skips(skipped: dict[str, list[int]]) -> dict[tuple[str, str], int]:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for reason, lines in skipped.items():
        code, _, why = reason.partition(": ")
        counts[(code, why.split(" (")[0])] += len(lines)
    return dict(counts)


@pytest.mark.parametrize("name", sorted(FILES))
def test_compare_recognises_and_skips_per_op(name: str) -> None:
    device, cores, modelled, skipped = FILES[name]
    result = compare(DATA / name, device=device, worker_cores=cores, engines=("analytic",))
    per_op: collections.Counter[str] = collections.Counter()
    for row in result.rows:
        per_op[row.group.op_name] += len(row.group.lines)
        # The program built for the row runs on the cores tt-metal ran it on.
        assert row.core_count_model in row.group.core_counts, row.group.label()
        assert row.predicted_ns["analytic"] > 0
    assert dict(per_op) == modelled
    assert _skips(result.skipped) == skipped


def test_compare_cli_on_a_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "bh_p100_dlv3.csv")
    assert main(["compare", "--perf-csv", path, "--device", "blackhole_p100a", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert sum(len(r["lines"]) for r in payload["rows"]) == 12
    assert main(["compare", "--perf-csv", path, "--device", "blackhole_p100a", "--engine", "analytic"]) == 0
    text = capsys.readouterr().out
    assert "TilizeDeviceOperation" in text and "Kendall tau" in text and "INPUT_0 is in L1" in text


def test_worker_cores_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "ops_perf_results_2025_09_18_11_39_20.csv")
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--perf-csv", path, "--worker-cores", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
