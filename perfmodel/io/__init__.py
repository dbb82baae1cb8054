"""Files the tool reads and writes: safe output files (`output_file`, `write_text_safely`, `check_output_path`)
and the data tt-metal tools exchange (the ops_perf_results CSV)."""

from perfmodel.io.files import check_output_path, output_file, write_bytes_safely, write_text_safely

__all__ = ["check_output_path", "output_file", "write_bytes_safely", "write_text_safely"]
