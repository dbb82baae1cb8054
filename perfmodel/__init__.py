"""tensix-perfmodel: performance models, static checks and numerics for Tenstorrent Tensix ops.

The public API: boards (`load_device`, `list_devices`), ops (`get_op`), the work split
(`split_work_to_cores`), static checks (`check`), the engines (`simulate`, `estimate`, `estimate_many`),
search spaces (`search_space`), the tuner (`tune`, `recommend`) and the error family (`PerfModelError`,
`InputError`, `ProfileError`, `DeadlockError`).
"""

from perfmodel.analytic import estimate, estimate_many
from perfmodel.checks import CheckReport, Violation, check
from perfmodel.des import DeadlockError, simulate
from perfmodel.device import DeviceProfile, list_devices, load_device
from perfmodel.errors import InputError, PerfModelError, ProfileError
from perfmodel.op import get_op, list_ops
from perfmodel.program import Program
from perfmodel.space import SearchSpace, search_space
from perfmodel.split import WorkSplit, split_work_to_cores
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
    "search_space",
    "simulate",
    "split_work_to_cores",
    "tune",
]
