"""Which configuration to build: `tune` (an optuna study over an op's search space, analytic or simulated)
and `recommend` (the analytic ranking confirmed by the simulator and the static checks).

Modules: `storage` (study storage URLs), `objective` (evaluating a point, the cache, optuna suggestions and
constraints), `error` (the numerical error of a configuration, for the error objective and bound),
`ranking` (the analytic ranking of a space), `study` (`tune`), `result` (`TuneResult`, the
Pareto front), `recommend` (`recommend`, `Recommendation`). Depends on the engines, never the reverse.
"""

from perfmodel.tune.objective import BACKENDS, OBJECTIVES, Evaluation
from perfmodel.tune.recommend import Candidate, Recommendation, recommend
from perfmodel.tune.result import ParetoEntry, TrialRecord, TuneResult
from perfmodel.tune.study import tune

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
