"""tilize and untilize from the command line: check names the factory and why, simulate runs, and the rows
`--perf-csv` writes are read back by `compare` as the op's own rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfmodel.cli import main
from perfmodel.io.compare import compare


def test_check_text_names_the_factory_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tilize", "--shape", "1,1,512,2048", "--device", "blackhole_p150a"]) == 0
    text = capsys.readouterr().out
    assert "factory: TilizeMultiCoreBlockProgramFactory (2-D split uses 64 cores" in text
    assert main(["check", "untilize", "--shape", "1,1,64,96"]) == 0
    assert "factory: UntilizeMultiCoreProgramFactory (Wt = 3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("op", "args", "op_code"),
    [
        ("tilize", ["--shape", "1,2,64,96", "--grid", "2x2"], "Tilize"),
        ("tilize", ["--shape", "1,1,1,256", "--padded-shape", "1,1,32,256"], "TilizeWithValPadding"),
        ("untilize", ["--shape", "1,2,64,96", "--grid", "3x1"], "Untilize"),
        ("untilize", ["--shape", "1,1,64,96", "--output-shape", "1,1,50,90"], "UntilizeWithUnpadding"),
    ],
)
def test_simulate_writes_rows_compare_reads_back(op: str, args: list[str], op_code: str, tmp_path: Path) -> None:
    out = tmp_path / "run.csv"
    assert main(["simulate", op, *args, "--device", "blackhole_p150a", "--perf-csv", str(out)]) == 0
    result = compare(out)
    assert not result.skipped, result.skipped
    (row,) = result.rows
    assert row.group.op_name == op and row.group.op_code == op_code
    assert row.core_count_model in row.group.core_counts
    assert abs(row.error("des")) < 1e-3  # the CSV holds whole nanoseconds
