"""Which configuration to build: `tune` (an optuna study over an op's search space, analytic or simulated)
and `recommend` (the analytic ranking confirmed by the simulator and the static checks).

Modules: `storage` (study storage URLs), `objective` (evaluating a point, the cache, optuna suggestions and
constraints), `error` (the numerical error of a configuration, for the error objective and bound),
`ranking` (the analytic ranking of a space), `study` (`tune`), `result` (`TuneResult`, the
Pareto front), `recommendation` (`recommend`, `Recommendation`). Depends on the engines, never the reverse.

The names below are imported on first use (PEP 562): importing the package costs nothing until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfmodel._lazy import lazy_exports

if TYPE_CHECKING:
    from perfmodel.tune.objective import BACKENDS, OBJECTIVES, Evaluation
    from perfmodel.tune.recommendation import Candidate, Recommendation, recommend
    from perfmodel.tune.result import ParetoEntry, TrialRecord, TuneResult
    from perfmodel.tune.study import tune

_EXPORTS = {
    "BACKENDS": "perfmodel.tune.objective",
    "OBJECTIVES": "perfmodel.tune.objective",
    "Evaluation": "perfmodel.tune.objective",
    "Candidate": "perfmodel.tune.recommendation",
    "Recommendation": "perfmodel.tune.recommendation",
    "recommend": "perfmodel.tune.recommendation",
    "ParetoEntry": "perfmodel.tune.result",
    "TrialRecord": "perfmodel.tune.result",
    "TuneResult": "perfmodel.tune.result",
    "tune": "perfmodel.tune.study",
}

__all__ = [
    "BACKENDS",
    "OBJECTIVES",
    "Candidate",
    "Evaluation",
    "ParetoEntry",
    "Recommendation",
    "TrialRecord",
    "TuneResult",
    "recommend",
    "tune",
]


__getattr__, __dir__ = lazy_exports("perfmodel.tune", _EXPORTS, globals())
