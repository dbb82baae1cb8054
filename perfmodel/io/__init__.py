"""Real runs in and out: tt-metal's `ops_perf_results` profiler CSV (read, write) and the per-row op contract."""

from perfmodel.io.perf_csv import PerfFile, read_perf_csv
from perfmodel.io.perf_out import COLUMNS, result_row, write_perf_csv
from perfmodel.io.perf_row import Problem, Skip, parse_cell

__all__ = ["COLUMNS", "PerfFile", "Problem", "Skip", "parse_cell", "read_perf_csv", "result_row", "write_perf_csv"]
