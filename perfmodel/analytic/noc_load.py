"""NoC link load of many cores streaming to or from interleaved DRAM, for the shared-bandwidth limits.

Pages are spread round-robin over the banks, so a core moves 1/B of its DRAM traffic on the route to each
bank. Summing those fractions over the active cores gives each link's load in "cores' worth of traffic";
the busiest link, shared by cores running in step, leaves each of them `link_bw / max load` bytes per
cycle. Routes are the simulator's own (`perfmodel.des.noc.NocModel.route`), so both engines see the same
links. Loads are prefix sums in the split's fill order: the first n cores of a grid are the active ones.
"""

from __future__ import annotations

import numpy as np

from perfmodel.des.noc import NocModel
from perfmodel.device.profile import DeviceProfile
from perfmodel.split import split_work_to_cores

# (id(device), grid, row_wise, noc, direction) -> (device, max link load of the first n cores, n = 0..)
_CACHE: dict[tuple, tuple[DeviceProfile, np.ndarray]] = {}
# (id(device), noc, direction) -> (device, {logical core: {link: fraction of the core's traffic}})
_INCIDENCE: dict[tuple, tuple[DeviceProfile, dict[tuple[int, int], dict[tuple, float]]]] = {}


def _incidence(device: DeviceProfile, noc: int, direction: str) -> dict[tuple[int, int], dict[tuple, float]]:
    key = (id(device), noc, direction)
    hit = _INCIDENCE.get(key)
    if hit is not None and hit[0] is device:
        return hit[1]
    model = NocModel(device)
    banks = [tuple(xy) for xy in device.dram.bank_noc_xy]
    share = 1.0 / len(banks)
    result: dict[tuple[int, int], dict[tuple, float]] = {}
    for cx in range(device.core.grid_x):
        for cy in range(device.core.grid_y):
            phys = model.core_xy((cx, cy))
            loads: dict[tuple, float] = {}
            for bank in banks:
                src, dst = (bank, phys) if direction == "read" else (phys, bank)
                for link in model.route(noc, src, dst):
                    loads[link] = loads.get(link, 0.0) + share
            result[(cx, cy)] = loads
    _INCIDENCE[key] = (device, result)
    return result


def max_link_load(device: DeviceProfile, grid: tuple[int, int], row_wise: bool, noc: int, direction: str) -> np.ndarray:
    """M[n]: the busiest link's load, in cores' worth of traffic, when the first n cores of `grid` stream."""
    key = (id(device), tuple(grid), bool(row_wise), noc, direction)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is device:
        return hit[1]
    incidence = _incidence(device, noc, direction)
    order = split_work_to_cores(grid, grid[0] * grid[1], row_wise=row_wise).cores_in_order()
    links = sorted({link for core in order for link in incidence[core]})
    column = {link: i for i, link in enumerate(links)}
    matrix = np.zeros((len(order) + 1, max(len(links), 1)))
    for i, core in enumerate(order, start=1):
        for link, value in incidence[core].items():
            matrix[i, column[link]] = value
    loads = np.cumsum(matrix, axis=0).max(axis=1)
    _CACHE[key] = (device, loads)
    return loads
