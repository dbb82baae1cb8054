"""`estimate(program)`: the analytic engine's answer for one built program, as a `RunResult`."""

from __future__ import annotations

import time

import numpy as np

from perfmodel.analytic.engine import (
    BOUND_NAMES,
    RowDevices,
    capacities_of,
    evaluate,
    kernels_key,
    noc_pairs,
    op_model,
    signature,
    unit_programs,
)
from perfmodel.analytic.liveness import find_deadlock
from perfmodel.kernel_lib import pseudo_cbs
from perfmodel.program import Program
from perfmodel.result import RunResult


def estimate(program: Program) -> RunResult:
    """Device kernel duration of `program` by the analytic model (backend 'analytic').

    The model prices the kernels the program carries. A program whose kernels cannot finish gets no time:
    `DeadlockError`, as from `simulate`, with the blocked waits (and no cycle: the verdict is untimed).
    """
    started = time.perf_counter()
    device = program.device
    model = op_model(program.op_name)
    key = model.shape_key(program)
    # The op's own kernels share the signatures of `estimate_many` (cached under None).
    default = unit_programs(program.op_name, device, key)[0]
    kernels = None if kernels_key(program.kernels) == kernels_key(default.kernels) else program.kernels
    # The compute config the key implies, unless the program was built with another one.
    config = None if program.compute_config == default.compute_config else program.compute_config
    hang = find_deadlock(program, lambda: unit_programs(program.op_name, device, key, kernels, config))
    if hang is not None:
        raise hang
    sig = signature(program.op_name, device, key, kernels, config)
    slowest = max((core.num_units for core in program.cores), default=0)
    caps = capacities_of((*program.cbs, *pseudo_cbs(program)), sig.cross_cbs)
    grid = program.split.grid
    dev = RowDevices.build(
        [device],
        np.zeros(1, dtype=np.int64),
        np.array([grid[0]]),
        np.array([grid[1]]),
        np.array([program.split.row_wise]),
        np.array([program.num_cores]),
        noc_pairs([sig]),
    )
    ev = evaluate(
        [sig],
        np.zeros(1, dtype=np.int64),
        dev,
        units_total=np.array([program.units]),
        units_slowest=np.array([slowest]),
        num_cores=np.array([program.num_cores]),
        capacities={cb: np.array([pages]) for cb, pages in caps.items()},
    )
    cycles = float(ev.cycles[0])
    return RunResult.for_program(
        program,
        backend="analytic",
        cycles=cycles,
        bound=BOUND_NAMES[int(ev.bound[0])],
        stages={name: float(values[0]) for name, values in ev.stages.items()},
        details={
            "deadlock": bool(ev.deadlock[0]),
            "cross_cbs": list(sig.cross_cbs),
            "wall_seconds": time.perf_counter() - started,
        },
    )
