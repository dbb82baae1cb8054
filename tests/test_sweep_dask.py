"""A sweep on a Dask cluster (a LocalCluster of two worker processes started here) gives the local run's table."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from perfmodel.cli import main
from perfmodel.sweep import read_table, run_sweep

distributed = pytest.importorskip("distributed")

SPEC = """
op = "centralize_w_rm"
backend = ["analytic", "des"]
[axes]
N = [1]
C = [1]
H = [64, 512]
W = [256, 1024]
dtype = ["bfloat16"]
device = ["wormhole_b0_n150", "blackhole_p150a"]
grid_x = [1, 4]
"""


def test_sweep_on_a_local_dask_cluster_equals_the_local_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    local = tmp_path / "local.parquet"
    run_sweep(spec, local, workers=2)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        assert len(cluster.workers) == 2
        remote = tmp_path / "dask.parquet"
        assert main(["sweep", str(spec), "--out", str(remote), "--scheduler", cluster.scheduler_address]) == 0
        # Both workers took points.
        with distributed.Client(cluster.scheduler_address) as client:
            tasks = client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
        assert all(n > 0 for n in tasks.values()), tasks
    assert "32 rows" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_table(remote), read_table(local))
