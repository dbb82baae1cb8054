"""Sweep jobs: a TOML spec of points, every (point, backend) into one tidy Parquet or CSV table, resumable.

Modules: `spec` (the spec form and its points), `evaluate` (one point with either engine), `runners` (local
process pool or Dask cluster), `store` (the SQLite checkpoint), `output` (atomic writes, provenance) and
`run` (`run_sweep`, which ties them together).
"""

from perfmodel.sweep.evaluate import RESULT_COLUMNS
from perfmodel.sweep.output import PROVENANCE_COLUMNS, read_table
from perfmodel.sweep.run import SweepSummary, run_sweep
from perfmodel.sweep.spec import BACKENDS, SweepSpec, load_spec
from perfmodel.sweep.store import checkpoint_path

__all__ = [
    "BACKENDS",
    "PROVENANCE_COLUMNS",
    "RESULT_COLUMNS",
    "SweepSpec",
    "SweepSummary",
    "checkpoint_path",
    "load_spec",
    "read_table",
    "run_sweep",
]
