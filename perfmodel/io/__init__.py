"""Files the tool reads and writes: safe output files (`write_text_safely`, `check_output_path`)."""

from perfmodel.io.files import check_output_path, write_bytes_safely, write_text_safely

__all__ = ["check_output_path", "write_bytes_safely", "write_text_safely"]
