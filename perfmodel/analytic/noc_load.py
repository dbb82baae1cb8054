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

# Loads depend on the chip's layout only, not on its costs: boards that differ in a cost (what-if studies,
# calibration trials) share them. (layout, grid, row_wise, noc, direction) -> max link load of the first n cores.
_CACHE: dict[tuple, np.ndarray] = {}
# (layout, noc, direction) -> (grid_x * grid_y, links) matrix of each core's traffic fractions
_INCIDENCE: dict[tuple, np.ndarray] = {}


def _layout(device: DeviceProfile) -> tuple:
    """What the routes depend on: the NoC size, the worker and bank coordinates, the worker grid."""
    noc = device.noc
    return (
        noc.size_x,
        noc.size_y,
        noc.worker_noc_x,
        noc.worker_noc_y,
        device.dram.bank_noc_xy,
        device.core.grid_x,
        device.core.grid_y,
    )


def _incidence(device: DeviceProfile, noc: int, direction: str) -> np.ndarray:
    """Row x * grid_y + y: the fraction of logical core (x, y)'s DRAM traffic that crosses each link."""
    key = (_layout(device), noc, direction)
    hit = _INCIDENCE.get(key)
    if hit is not None:
        return hit
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
    if len(_INCIDENCE) > 256:
        _INCIDENCE.clear()
    _INCIDENCE[key] = matrix
    return matrix


@functools.lru_cache(maxsize=4096)
def _fill_order(grid: tuple[int, int], row_wise: bool) -> tuple[tuple[int, int], ...]:
    """The logical cores of `grid` in the order the split fills them (the same for every board and NoC)."""
    return tuple(split_work_to_cores(grid, grid[0] * grid[1], row_wise=row_wise).cores_in_order())


def max_link_load(device: DeviceProfile, grid: tuple[int, int], row_wise: bool, noc: int, direction: str) -> np.ndarray:
    """M[n]: the busiest link's load, in cores' worth of traffic, when the first n cores of `grid` stream."""
    key = (_layout(device), tuple(grid), bool(row_wise), noc, direction)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    matrix = _incidence(device, noc, direction)
    rows = [x * device.core.grid_y + y for x, y in _fill_order(tuple(grid), bool(row_wise))]
    loads = np.concatenate([[0.0], np.cumsum(matrix[rows], axis=0).max(axis=1)])
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[key] = loads
    return loads
