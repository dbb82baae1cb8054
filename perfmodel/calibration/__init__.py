"""Calibration: fit a board profile's data-movement parameters to measurements and write the fitted profile."""

from perfmodel.calibration.dram_unary import dram_unary_cycles
from perfmodel.calibration.fit import CalibrationResult, RowError, calibrate, predict, read_measurements, shipped_data
from perfmodel.calibration.writer import render, write_profile

__all__ = [
    "CalibrationResult",
    "RowError",
    "calibrate",
    "dram_unary_cycles",
    "predict",
    "read_measurements",
    "render",
    "shipped_data",
    "write_profile",
]
