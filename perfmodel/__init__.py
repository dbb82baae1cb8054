"""tensix-perfmodel: performance models, static checks and numerics for Tenstorrent Tensix ops.

The public API: boards (`load_device`, `list_devices`), ops (`get_op`), the work split
(`split_work_to_cores`), static checks (`check`), the engines (`simulate`, `estimate`, `estimate_many`),
search spaces (`search_space`), the tuner (`tune`, `recommend`), sweep jobs (`run_sweep`, `SweepSpec`; the
package `perfmodel.sweep`) and the error family (`PerfModelError`,
`InputError`, `ProfileError`, `DeadlockError`).
"""

from pathlib import Path as _Path

from perfmodel._layout import mount_project_folders as _mount_project_folders
from perfmodel.analytic import estimate, estimate_many
from perfmodel.checks import CheckReport, Violation, check
from perfmodel.des import DeadlockError, simulate
from perfmodel.device import DeviceProfile, list_devices, load_device
from perfmodel.errors import InputError, PerfModelError, ProfileError
from perfmodel.op import get_op, list_ops
from perfmodel.program import Program
from perfmodel.space import SearchSpace, search_space
from perfmodel.split import WorkSplit, split_work_to_cores
from perfmodel.sweep import SweepSpec, SweepSummary, run_sweep
from perfmodel.tune import Recommendation, TuneResult, recommend, tune

__all__ = [
    "CheckReport",
    "DeadlockError",
    "DeviceProfile",
    "InputError",
    "PerfModelError",
    "ProfileError",
    "Program",
    "Recommendation",
    "SearchSpace",
    "SweepSpec",
    "SweepSummary",
    "TuneResult",
    "Violation",
    "WorkSplit",
    "check",
    "estimate",
    "estimate_many",
    "get_op",
    "list_devices",
    "list_ops",
    "load_device",
    "recommend",
    "run_sweep",
    "search_space",
    "simulate",
    "split_work_to_cores",
    "tune",
]

# From a checkout, `perfmodel.ops` and `perfmodel.device_profiles` are the top-level folders (see _layout.py).
_mount_project_folders(__name__, _Path(__file__).resolve().parent)
