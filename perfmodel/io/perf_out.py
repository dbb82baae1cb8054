"""Write predictions as tt-metal `ops_perf_results` rows, so tt-perf-report and spreadsheets read them.

`result_row(result, program)` turns one engine result into a row (column name -> cell text, the column
names spelled exactly as tt-metal's profiler writes them); `write_perf_csv(path, rows)` writes any list
of such rows safely (`perfmodel.io.files.write_text_safely`: temporary file, fsync, rename), so a reader never sees
half a file. The per-RISC-V durations come from the simulator's per-core kernel spans, or from the
analytic model's per-kernel end times: both engines fill them, from kernel start (all kernels of an op start
together in both engines) to that RISC-V's last kernel end on any core.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfmodel.errors import InputError
from perfmodel.io.files import check_output_path, write_text_safely
from perfmodel.io.perf_csv import ARCH, AVAILABLE_CORES, DIMS, DURATION, OP_CODE, dim_column
from perfmodel.numerics.formats import get_format
from perfmodel.numerics.tiles import TILE_HEIGHT, TILE_WIDTH

if TYPE_CHECKING:
    from perfmodel.program import DramBuffer, Program
    from perfmodel.result import RunResult

RISCS = ("BRISC", "NCRISC", "TRISC0", "TRISC1", "TRISC2")
# The simulator's RISC-V names -> the profiler's; the compute kernel runs on all three TRISCs.
_RISC_COLUMNS = {"brisc": ("BRISC",), "ncrisc": ("NCRISC",), "trisc": ("TRISC0", "TRISC1", "TRISC2")}


def _tensor_columns(prefix: str) -> tuple[str, ...]:
    return (*(dim_column(prefix, d, "v2") for d in DIMS), f"{prefix}_LAYOUT", f"{prefix}_DATATYPE", f"{prefix}_MEMORY")


COLUMNS: tuple[str, ...] = (
    OP_CODE,
    "OP TYPE",
    "GLOBAL CALL COUNT",
    "DEVICE ID",
    ARCH,
    "ATTRIBUTES",
    "MATH FIDELITY",
    "CORE COUNT",
    AVAILABLE_CORES,
    "OP TO OP LATENCY [ns]",
    DURATION,
    *(f"DEVICE {r} KERNEL DURATION [ns]" for r in RISCS),
    *_tensor_columns("INPUT_0"),
    *_tensor_columns("OUTPUT_0"),
    "PM IDEAL [ns]",
)


def format_attributes(config: Mapping[str, Any]) -> str:
    """An op config in the profiler's ATTRIBUTES style: {'grid': '8x8'; 'row_wise': 'false'; ...}."""

    def cell(value: Any) -> str:
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | tuple):
            return "x".join(cell(v) for v in value)
        return str(value)

    return "{" + "; ".join(f"'{k}': '{cell(v)}'" for k, v in config.items()) + "}"


def _ns(value: float) -> str:
    return f"{value:.0f}"


def _riscv_durations_ns(result: RunResult, program: Program) -> dict[str, str]:
    """Per profiler RISC-V column: the latest end of its kernel over all cores, in ns (empty when unknown)."""
    ends: dict[str, float] = {}
    if result.per_core:
        for entry in result.per_core:
            for stats in entry.values():
                if isinstance(stats, Mapping) and "risc" in stats and stats.get("end_cycles") is not None:
                    for col in _RISC_COLUMNS.get(str(stats["risc"]), ()):
                        ends[col] = max(ends.get(col, 0.0), float(stats["end_cycles"]))
    else:
        for spec in program.kernels:
            end = result.stages.get(f"{spec.name}_end_cycles")
            if end is not None:
                for col in _RISC_COLUMNS.get(spec.risc, ()):
                    ends[col] = max(ends.get(col, 0.0), float(end))
    return {
        f"DEVICE {r} KERNEL DURATION [ns]": _ns(program.device.cycles_to_ns(ends[r])) if r in ends else ""
        for r in RISCS
    }


def _buffer_columns(prefix: str, buf: DramBuffer | None, program: Program) -> dict[str, str]:
    """Dims, layout, data type and memory of one DRAM tensor: ROW_MAJOR when a page is a stick, TILE when a tile."""
    if buf is None or len(program.shape) < 1:
        return dict.fromkeys(_tensor_columns(prefix), "")
    try:
        fmt = get_format(buf.data_format)
    except InputError:  # a raw byte buffer (a microbenchmark) is no tensor
        return dict.fromkeys(_tensor_columns(prefix), "")
    # An op whose output differs from its input shape (unpadding) or whose tensors say their layout tells so in
    # its attributes (output_shape, padded_shape, input_layout / output_layout); else the input's shape, and
    # TILE when a page is a tile and not a stick.
    side = "input" if prefix == "INPUT_0" else "output"
    shape = list(program.attributes.get("output_shape") or program.shape) if side == "output" else list(program.shape)
    if len(shape) > 4:  # the profiler writes 4-D shapes: outer dims fold into W
        outer = 1
        for d in shape[:-3]:
            outer *= d
        shape = [outer, *shape[-3:]]
    shape = [1] * (4 - len(shape)) + shape
    layout = program.attributes.get(f"{side}_layout")
    if layout is not None:
        tiled = layout == "TILE"
    else:
        tiled = buf.page_size_bytes == fmt.tile_bytes and buf.page_size_bytes != shape[-1] * fmt.element_bytes
    padded = list(shape)
    if tiled:
        padded[-2] = -(-shape[-2] // TILE_HEIGHT) * TILE_HEIGHT
        padded[-1] = -(-shape[-1] // TILE_WIDTH) * TILE_WIDTH
        explicit = program.attributes.get("padded_shape") if side == "output" else None
        if explicit is not None and len(explicit) == len(padded):
            padded = list(explicit)
    cells = {dim_column(prefix, d, "v2"): f"{p}[{lg}]" for d, p, lg in zip(DIMS, padded, shape, strict=True)}
    cells[f"{prefix}_LAYOUT"] = "TILE" if tiled else "ROW_MAJOR"
    cells[f"{prefix}_DATATYPE"] = fmt.name.upper()
    cells[f"{prefix}_MEMORY"] = "DEV_0_DRAM_INTERLEAVED"
    return cells


def result_row(result: RunResult, program: Program, *, call_count: int = 1) -> dict[str, str]:
    """One profiler row for `result`, the engine's answer for `program`."""
    device = program.device
    buffers = {b.name: b for b in program.buffers}
    row = {
        OP_CODE: str(program.attributes.get("op_code") or program.op_name),
        "OP TYPE": "tt_dnn_device",
        "GLOBAL CALL COUNT": str(call_count),
        "DEVICE ID": "0",
        ARCH: device.arch,
        "ATTRIBUTES": format_attributes(result.config),
        "MATH FIDELITY": "",
        "CORE COUNT": str(result.num_cores),
        AVAILABLE_CORES: str(device.core.num_workers),
        "OP TO OP LATENCY [ns]": _ns(device.dispatch.op_to_op_gap_ns),
        DURATION: _ns(result.kernel_duration_ns),
        **_riscv_durations_ns(result, program),
        **_buffer_columns("INPUT_0", buffers.get("input"), program),
        **_buffer_columns("OUTPUT_0", buffers.get("output"), program),
        "PM IDEAL [ns]": _ns(result.dram_roofline_ns),
    }
    return row


def render_perf_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text: `COLUMNS` first, then any other column the rows carry, in order of first appearance."""
    rows = list(rows)
    header = list(COLUMNS)
    for row in rows:
        header += [k for k in row if k not in header]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def write_perf_csv(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write `rows` as an ops_perf_results CSV at `path`, safely (all of the file or none of it); returns it."""
    return write_text_safely(path, render_perf_csv(rows), what="--perf-csv")


def check_target(path: str | Path) -> None:
    """Fail before a long run, not after it, when the output file cannot be written there."""
    check_output_path(path, what="--perf-csv")
