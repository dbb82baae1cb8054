"""Files the tool reads and writes: safe output files (`output_file`, `write_text_safely`, `check_output_path`)."""

from perfmodel.io.files import check_output_path, output_file, write_bytes_safely, write_text_safely

__all__ = ["check_output_path", "output_file", "write_bytes_safely", "write_text_safely"]
