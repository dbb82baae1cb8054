"""Files the tool reads and writes: safe output files (`output_file`, `write_text_safely`, `check_output_path`)
and real runs in and out: tt-metal's `ops_perf_results` profiler CSV (read, write) and the per-row op contract.

The profiler-CSV modules import pandas; import them from their modules (`perfmodel.io.perf_csv`, ...).
"""

from perfmodel.io.files import check_output_path, output_file, write_bytes_safely, write_text_safely

__all__ = ["check_output_path", "output_file", "write_bytes_safely", "write_text_safely"]
