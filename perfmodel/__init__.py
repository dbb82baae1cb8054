"""tensix-perfmodel: performance models, static checks and numerics for Tenstorrent Tensix ops.

The public API: boards (`load_device`, `list_devices`), ops (`get_op`), the work split
(`split_work_to_cores`), static checks (`check`), the engines (`simulate`, `estimate`, `estimate_many`),
search spaces (`search_space`), the tuner (`tune`, `recommend`), sweep jobs (`run_sweep`, `SweepSpec`; the
package `perfmodel.sweep`) and the error family (`PerfModelError`,
`InputError`, `ProfileError`, `DeadlockError`).

The names are imported on first use (PEP 562), so `import perfmodel` stays cheap: the engines pull in numpy,
pandas, simpy and ml_dtypes, optuna comes with the tuner, and a caller that only loads a board profile should
not pay for them.
"""

from __future__ import annotations

import importlib
from pathlib import Path as _Path
from typing import TYPE_CHECKING, Any

from perfmodel._layout import mount_project_folders as _mount_project_folders
from perfmodel._lazy import lazy_exports
from perfmodel.errors import InputError, PerfModelError, ProfileError

if TYPE_CHECKING:
    from perfmodel.analytic import estimate, estimate_many
    from perfmodel.checks import CheckReport, Violation, check
    from perfmodel.des import DeadlockError, simulate
    from perfmodel.device import DeviceProfile, list_devices, load_device
    from perfmodel.op import get_op, list_ops
    from perfmodel.program import Program
    from perfmodel.space import SearchSpace, search_space
    from perfmodel.split import WorkSplit, split_work_to_cores
    from perfmodel.sweep import SweepSpec, SweepSummary, run_sweep
    from perfmodel.tune import Recommendation, TuneResult, recommend

# Public name -> the module that defines it.
_EXPORTS = {
    "estimate": "perfmodel.analytic",
    "estimate_many": "perfmodel.analytic",
    "CheckReport": "perfmodel.checks",
    "Violation": "perfmodel.checks",
    "check": "perfmodel.checks",
    "DeadlockError": "perfmodel.des",
    "simulate": "perfmodel.des",
    "DeviceProfile": "perfmodel.device",
    "list_devices": "perfmodel.device",
    "load_device": "perfmodel.device",
    "get_op": "perfmodel.op",
    "list_ops": "perfmodel.op",
    "Program": "perfmodel.program",
    "SearchSpace": "perfmodel.space",
    "search_space": "perfmodel.space",
    "WorkSplit": "perfmodel.split",
    "split_work_to_cores": "perfmodel.split",
    "SweepSpec": "perfmodel.sweep",
    "SweepSummary": "perfmodel.sweep",
    "run_sweep": "perfmodel.sweep",
    "Recommendation": "perfmodel.tune.recommendation",
    "recommend": "perfmodel.tune.recommendation",
    "TuneResult": "perfmodel.tune.result",
}

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


__getattr__, __dir__ = lazy_exports("perfmodel", _EXPORTS, globals())


# The package `perfmodel.tune` and the function `perfmodel.tune` share a name. The package is imported here
# (its __init__ is light), so that importing any of its modules later never rebinds `perfmodel.tune`, and
# the name is then bound to the function, which loads the study module (and optuna) on its first call.
importlib.import_module("perfmodel.tune")


def tune(*args: Any, **kwargs: Any) -> Any:
    """An optuna study over an op's search space: see `perfmodel.tune.study.tune` for the arguments."""
    from perfmodel.tune.study import tune as _tune

    return _tune(*args, **kwargs)


# From a checkout, `perfmodel.ops` and `perfmodel.device_profiles` are the top-level folders (see _layout.py).
_mount_project_folders(__name__, _Path(__file__).resolve().parent)
