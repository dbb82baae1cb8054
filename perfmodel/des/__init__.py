"""The discrete-event simulator: `simulate(program)` -> RunResult (time, stalls, utilisation, data) or DeadlockError.

Modules: `engine` (the run and its result), `context` (the kernel API on simpy time), `helpers` (the compute
helper library, shared with the dry-run checker), `cb` (page counters), `noc` (NoC / DRAM reservation
calendar), `memory` (functional bytes), `deadlock` (hang report), `trace` (Perfetto JSON).

`simulate` runs exact fast equivalents of the plain implementation: `noc_fast` (the NoC calendar),
`context_fast` (the kernel calls) and `env_fast` (simpy's event loop, same event order); `simulate(...,
reference=True)` runs the plain `noc`, `context` and simpy, and tests/test_des_fast_equals_reference.py
checks that both give the same results bit for bit.
"""

from perfmodel.des.deadlock import BlockedWait, CbCounters, DeadlockError, SimulationLimitError
from perfmodel.des.engine import simulate

__all__ = ["BlockedWait", "CbCounters", "DeadlockError", "SimulationLimitError", "simulate"]
