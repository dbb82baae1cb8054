"""NoC link load of many cores streaming to or from interleaved DRAM, for the shared-bandwidth limits.

Pages are spread round-robin over the banks, so a core moves 1/B of its DRAM traffic on the route to each
bank. Summing those fractions over the active cores gives each link's load in "cores' worth of traffic";
the busiest link, shared by cores running in step, leaves each of them `link_bw / max load` bytes per
cycle. Routes are the simulator's own (`perfmodel.des.noc.NocModel.route`), so both engines see the same
links. Loads are prefix sums in the split's fill order: the first n cores of a grid are the active ones.
"""

from __future__ import annotations

import functools

import numpy as np

from perfmodel.des.noc import NocModel
from perfmodel.device.profile import DeviceProfile
from perfmodel.split import split_work_to_cores

# (id(device), grid, row_wise, noc, direction) -> (device, max link load of the first n cores, n = 0..)
_CACHE: dict[tuple, tuple[DeviceProfile, np.ndarray]] = {}
# (id(device), noc, direction) -> (device, (grid_x * grid_y, links) matrix of each core's traffic fractions)
_INCIDENCE: dict[tuple, tuple[DeviceProfile, np.ndarray]] = {}


def _incidence(device: DeviceProfile, noc: int, direction: str) -> np.ndarray:
    """Row x * grid_y + y: the fraction of logical core (x, y)'s DRAM traffic that crosses each link."""
    key = (id(device), noc, direction)
    hit = _INCIDENCE.get(key)
    if hit is not None and hit[0] is device:
        return hit[1]
    model = NocModel(device)
    banks = [tuple(xy) for xy in device.dram.bank_noc_xy]
    share = 1.0 / len(banks)
    columns: dict[tuple, int] = {}
    entries: list[tuple[int, int, float]] = []
    for cx in range(device.core.grid_x):
        for cy in range(device.core.grid_y):
            phys = model.core_xy((cx, cy))
            for bank in banks:
                src, dst = (bank, phys) if direction == "read" else (phys, bank)
                for link in model.route(noc, src, dst):
                    entries.append((cx * device.core.grid_y + cy, columns.setdefault(link, len(columns)), share))
    matrix = np.zeros((device.core.grid_x * device.core.grid_y, max(len(columns), 1)))
    for row, col, value in entries:
        matrix[row, col] += value
    _INCIDENCE[key] = (device, matrix)
    return matrix


@functools.lru_cache(maxsize=4096)
def _fill_order(grid: tuple[int, int], row_wise: bool) -> tuple[tuple[int, int], ...]:
    """The logical cores of `grid` in the order the split fills them (the same for every board and NoC)."""
    return tuple(split_work_to_cores(grid, grid[0] * grid[1], row_wise=row_wise).cores_in_order())


def max_link_load(device: DeviceProfile, grid: tuple[int, int], row_wise: bool, noc: int, direction: str) -> np.ndarray:
    """M[n]: the busiest link's load, in cores' worth of traffic, when the first n cores of `grid` stream."""
    key = (id(device), tuple(grid), bool(row_wise), noc, direction)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is device:
        return hit[1]
    matrix = _incidence(device, noc, direction)
    rows = [x * device.core.grid_y + y for x, y in _fill_order(tuple(grid), bool(row_wise))]
    loads = np.concatenate([[0.0], np.cumsum(matrix[rows], axis=0).max(axis=1)])
    _CACHE[key] = (device, loads)
    return loads
