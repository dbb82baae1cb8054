"""A sweep killed with SIGKILL mid-run resumes from its checkpoint and ends with the uninterrupted table."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from perfmodel.sweep import SweepSpec, checkpoint_path, read_table, run_sweep

# 48 DES points of a few to some tens of milliseconds each: a second or two on two workers.
SPEC = """
op = "centralize_w_rm"
backend = ["des", "analytic"]
[axes]
N = [1]
C = [1]
H = [128, 512]
W = [256, 512, 1024]
dtype = ["bfloat16"]
device = ["wormhole_b0_n150", "blackhole_p150a"]
grid_x = [2, 4]
grid_y = [2, 4]
"""


def stored_rows(path: Path) -> int:
    """Rows committed to the checkpoint so far (0 while the file or its table does not exist yet)."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(SPEC)
    spec = SweepSpec.from_toml(spec_path)
    total = spec.num_points * len(spec.backends)
    out = tmp_path / "killed.parquet"
    store = checkpoint_path(out)
    argv = [sys.executable, "-m", "perfmodel", "sweep", str(spec_path), "--out", str(out), "--workers", "2"]
    # Its own session, so that the kill takes the sweep and its worker processes at once, as kill -9 of a job does.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            done = stored_rows(store)
            # Past the analytic rows (committed in one chunk) and into the simulator's points.
            if spec.num_points + 3 <= done < total:
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.communicate()}"
        assert 0 < done < total, done
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when an assertion above failed
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    # Read-only count: a commit whose WAL frames were written just before the kill, but whose index update
    # was not, becomes visible only when the next writer recovers the WAL, so the resume may find one more
    # batch than this count. Nothing committed may be lost, and every point is counted exactly once.
    kept = stored_rows(store)
    assert done <= kept < total

    # The same sweep again (in this process: the command's code path, without a second interpreter start).
    summary = run_sweep(spec_path, out, workers=2)
    assert kept <= summary.resumed_rows < total
    assert summary.resumed_rows + summary.computed_rows == total

    reference = tmp_path / "reference.parquet"
    run_sweep(spec, reference, workers=2)
    pd.testing.assert_frame_equal(read_table(out), read_table(reference))
    assert len(read_table(out)) == total
    assert not read_table(out).duplicated(subset=[*spec.axis_names, "backend"]).any()
