"""The discrete-event simulator: `simulate(program)` -> RunResult (time, stalls, utilisation, data) or DeadlockError.

Modules: `engine` (the run and its result), `context` (the kernel API on simpy time), `helpers` (the compute
helper library, shared with the dry-run checker), `cb` (page counters), `noc` (NoC / DRAM reservation
calendar), `memory` (functional bytes), `deadlock` (hang report), `trace` (Perfetto JSON).
"""

from perfmodel.des.deadlock import BlockedWait, CbCounters, DeadlockError, SimulationLimitError
from perfmodel.des.engine import simulate

__all__ = ["BlockedWait", "CbCounters", "DeadlockError", "SimulationLimitError", "simulate"]
