"""Closed-form time of the `dram_unary` benchmark (one core, N transfers of S bytes to one DRAM bank, one barrier).

The rules are the simulator's, priced by `perfmodel.costs`: every transfer is split into packets; the
RISC-V is busy `issue_cycles` per packet, so packet i (0-based, over all transfers) enters the NoC at
(i + 1) x issue; it starts when its resources are free. All packets share the same resources here (the
core's NoC interface, the bank, the route), so packet i cannot start before packet i - 1's start plus
g_{i-1} = the largest of its core, bank and link cycles (`PacketCost.service_cycles`). Unrolled, this
max-plus recursion is

    start_last = max_i ( entry_i + sum_{j=i}^{last-1} g_j )
    cycles     = start_last + service_last + latency_last

measured from the first issue to the barrier's return, like the profiler zone of the benchmark.
"""

from __future__ import annotations

import numpy as np

from perfmodel import costs
from perfmodel.device.profile import DeviceProfile


def dram_unary_cycles(
    device: DeviceProfile, direction: costs.Direction, transaction_bytes: int, num_transactions: int
) -> float:
    """Cycles of one dram_unary run: `num_transactions` transfers of `transaction_bytes`, then a barrier."""
    per_transfer = costs.packet_sizes(int(transaction_bytes), device.noc.max_packet_bytes)
    if not per_transfer or int(num_transactions) <= 0:
        return 0.0
    by_size = {s: costs.packet_cost(device, direction, s) for s in set(per_transfer)}
    # Every transfer splits into the same packets: price one transfer, repeat it (numpy, not a Python loop).
    issue = np.tile([by_size[s].issue_cycles for s in per_transfer], int(num_transactions))
    gap = np.tile([by_size[s].service_cycles for s in per_transfer], int(num_transactions))
    entry = np.cumsum(issue)
    # sum_{j=i}^{last-1} g_j for every i: the suffix sums of the gaps, without the last packet's own gap.
    suffix = np.cumsum(gap[::-1])[::-1] - gap[-1]
    start_last = float(np.max(entry + suffix))
    last = by_size[per_transfer[-1]]
    return start_last + last.service_cycles + last.latency_cycles
