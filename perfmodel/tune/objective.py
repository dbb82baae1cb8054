"""Evaluating a point of a search space: the analytic model or the simulator, with the verdict and a cache.

An `Evaluation` is the frozen outcome for one point on one backend: the objective figures (time, cores, L1
bytes, and the numerical error when an objective needs it, see `perfmodel.tune.error`), whether the point is
feasible and, if not, why. Infeasible points are never dropped: they are
evaluations with `feasible=False` and a reason (the model's `infeasible_reason`, the static checks' violation
kinds, or the simulator's deadlock). `Evaluator` caches by point, so a repeat suggestion costs nothing.

`suggest_point` turns an optuna trial into a point by walking `space.knobs` (a conditional knob is suggested
only where it is active), and `constraints` is the `constraints_func` the samplers use (<= 0 feasible).

`analytic_table` is `estimate_many` plus the factory's verdict on the knobs that choose the design rather
than the split (the numeric ones: fidelity, Dst width, variant, block size) and those the analytic model does
not read (`SearchSpace.unmodelled_knobs`): one program is built per distinct value of them, on a point the
model accepts, so a point the factory refuses is infeasible with the factory's reason, never timed as if it
were another. (The split and buffering knobs are the model's own to judge; the simulator's confirmation in
`recommend` builds every candidate anyway.)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from perfmodel.errors import PerfModelError
from perfmodel.space import Knob, SearchSpace

BACKENDS = ("analytic", "des")
# Objective name -> the Evaluation field it minimises.
OBJECTIVES: Mapping[str, str] = {
    "time": "kernel_duration_ns",
    "cores": "num_cores",
    "l1_bytes": "l1_bytes_per_core",
    "error": "max_abs_error",
    "ulp": "max_ulp",
}
# Objectives read from the numerics model rather than the timing engines.
ERROR_OBJECTIVES = ("error", "ulp")
# Objective value of an infeasible point the analytic model cannot time either (an invalid row): large but
# finite, so samplers that sort values keep working; constraints mark the trial infeasible anyway.
UNTIMED_NS = 1e18
# The one user attribute a trial carries (one storage write): {"feasible", "reason", "cached", "evaluation"}.
TRIAL_ATTR = "perfmodel"


@dataclass(frozen=True)
class Evaluation:
    """One point on one backend. `kernel_duration_ns` is the backend's time (the simulator's for 'des'; the
    analytic model's stands in when the simulator did not run, e.g. for an infeasible point)."""

    point: Mapping[str, Any]
    backend: str
    feasible: bool
    reason: str
    kernel_duration_ns: float
    analytic_kernel_duration_ns: float
    num_cores: int
    l1_bytes_per_core: int
    bound: str | None
    simulated: bool = False
    max_abs_error: float | None = None
    max_ulp: int | None = None

    def values(self, objectives: Sequence[str]) -> tuple[float, ...]:
        """The objective values in the order of `objectives`, finite."""
        out = []
        for name in objectives:
            raw = getattr(self, OBJECTIVES[name])
            value = UNTIMED_NS if raw is None else float(raw)
            out.append(value if math.isfinite(value) else UNTIMED_NS)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "point": dict(self.point)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(**{**data, "point": dict(data["point"])})


def point_key(space: SearchSpace, point: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(point[name] for name in space.knob_names)


class Evaluator:
    """Evaluates points of `space` on `backend`, each distinct point once; counts what it evaluated."""

    def __init__(self, space: SearchSpace, backend: str, *, error: bool = False) -> None:
        self.space = space
        self.backend = backend
        self.error = error
        self._cache: dict[tuple[Any, ...], Evaluation] = {}
        self.counts = {"analytic": 0, "des": 0}
        self.cache_hits = 0

    def preload(self, evaluation: Evaluation) -> None:
        """Remember an evaluation made earlier (by this study, possibly in another process)."""
        if evaluation.backend == self.backend:
            self._cache.setdefault(point_key(self.space, evaluation.point), evaluation)

    def evaluate(self, point: Mapping[str, Any]) -> tuple[Evaluation, bool]:
        """(evaluation, whether it came from the cache)."""
        key = point_key(self.space, point)
        hit = self._cache.get(key)
        if hit is not None:
            self.cache_hits += 1
            return hit, True
        evaluation = self._analytic(point)
        if self.backend == "des" and evaluation.feasible:
            evaluation = self._simulate(evaluation)
        if self.error:
            from perfmodel.tune.error import numerical_error

            found = numerical_error(self.space, point)
            if found is not None:
                evaluation = _replace(evaluation, max_abs_error=found.max_abs_error, max_ulp=found.max_ulp)
        self._cache[key] = evaluation
        return evaluation, False

    def _analytic(self, point: Mapping[str, Any]) -> Evaluation:
        self.counts["analytic"] += 1
        row = analytic_table(self.space, self.space.table([point])).iloc[0]
        return evaluation_of_row(self.space, row, backend=self.backend)

    def _simulate(self, analytic: Evaluation) -> Evaluation:
        self.counts["des"] += 1
        reason, _, _, result = confirm_program(self.space, analytic.point)
        if result is None:
            return _replace(analytic, feasible=False, reason=reason)
        return _replace(
            analytic,
            kernel_duration_ns=result.kernel_duration_ns,
            bound=result.bound,
            simulated=True,
        )


def _replace(evaluation: Evaluation, **changes: Any) -> Evaluation:
    return dataclasses.replace(evaluation, **changes)


def analytic_table(space: SearchSpace, table: Any) -> Any:
    """`estimate_many` of `table` (rows of `space`), with rows the factory refuses for a design knob or a knob
    the analytic model does not read marked infeasible with the factory's reason (see the module docstring)."""
    from perfmodel.analytic import estimate_many

    out = estimate_many(space.op_name, table)
    unmodelled = set(space.unmodelled_knobs)
    names = [k.name for k in space.knobs if (k.numeric or k.name in unmodelled) and k.name in out.columns]
    if not names or out.empty:
        return out
    feasible = out["feasible"].to_numpy(dtype=bool).copy()
    reasons = out["infeasible_reason"].to_numpy(dtype=object).copy()
    keys = list(zip(*(out[n].tolist() for n in names), strict=True))
    # One program per distinct value of the unmodelled knobs, on a point the model accepts if there is one.
    probes: dict[tuple[Any, ...], int] = {}
    for i, key in enumerate(keys):
        if key not in probes or (feasible[i] and not feasible[probes[key]]):
            probes[key] = i
    verdicts: dict[tuple[Any, ...], str] = {}
    for key, probe in probes.items():
        try:
            space.program(space.point_of(out.iloc[probe]))
            verdicts[key] = ""
        except PerfModelError as exc:
            verdicts[key] = f"factory: {exc}"
    for i, key in enumerate(keys):
        if verdicts[key]:
            feasible[i] = False
            reasons[i] = reasons[i] or verdicts[key]
    out["feasible"] = feasible
    out["infeasible_reason"] = reasons
    return out


def evaluation_of_row(space: SearchSpace, row: Mapping[str, Any], *, backend: str = "analytic") -> Evaluation:
    """The Evaluation of one row of `estimate_many`'s output (analytic figures; the error when the row has it)."""
    time_ns = float(row["kernel_duration_ns"])
    error = row.get("max_abs_error")
    ulp = row.get("max_ulp")
    return Evaluation(
        point=space.point_of(row),
        backend=backend,
        feasible=bool(row["feasible"]),
        reason=str(row["infeasible_reason"] or ""),
        kernel_duration_ns=time_ns,
        analytic_kernel_duration_ns=time_ns,
        num_cores=int(row["num_cores"]),
        l1_bytes_per_core=int(row["l1_bytes_per_core"]),
        bound=None if row["bound"] is None or row["bound"] != row["bound"] else str(row["bound"]),
        max_abs_error=None if error is None or error != error else float(error),
        max_ulp=None if ulp is None or ulp != ulp else int(ulp),
    )


def confirm_program(space: SearchSpace, point: Mapping[str, Any]) -> tuple[str, Any, Any, Any]:
    """Build the point's Program, check it statically and simulate it.

    Returns (reason or '', program or None, check report or None, simulation result or None): the result is
    None when the factory refuses the point, a static check fails (reason: the violation kinds) or the
    simulator finds a deadlock.
    """
    from perfmodel.checks import check
    from perfmodel.des import DeadlockError, SimulationLimitError, simulate

    try:
        program = space.program(point)
    except PerfModelError as exc:
        return f"factory: {exc}", None, None, None
    report = check(program)
    if not report.ok:
        kinds = sorted({v.kind for v in report.violations})
        return "; ".join(kinds), program, report, None
    try:
        result = simulate(program)
    except DeadlockError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "deadlock"
        return f"deadlock: {first}", program, report, None
    except SimulationLimitError as exc:
        return f"simulation_limit: {exc}", program, report, None
    return "", program, report, result


def suggest_point(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """A point of `space` from an optuna trial: one suggestion per knob, by the knob's kind; a conditional
    knob is suggested only where active (optuna's conditional parameters), None elsewhere."""
    point: dict[str, Any] = {}
    for knob in space.knobs:
        point[knob.name] = _suggest(trial, knob) if knob.active(point) else None
    return point


def _suggest(trial: Any, knob: Knob) -> Any:
    choices = knob.choices
    if knob.kind == "int" and len(choices) > 1:
        step = choices[1] - choices[0]
        if step > 0 and tuple(range(choices[0], choices[-1] + 1, step)) == choices:
            return trial.suggest_int(knob.name, choices[0], choices[-1], step=step)
    if all(c is None or isinstance(c, bool | int | float | str) for c in choices):
        return trial.suggest_categorical(knob.name, list(choices))
    # Domains of other objects are suggested by position.
    return choices[trial.suggest_categorical(knob.name, list(range(len(choices))))]


def trial_params(space: SearchSpace, point: Mapping[str, Any]) -> dict[str, Any]:
    """The optuna params that `suggest_point` maps to `point` (for enqueued trials)."""
    params = {}
    for knob in space.knobs:
        value = point[knob.name]
        if not knob.active(point):
            continue
        primitive = all(c is None or isinstance(c, bool | int | float | str) for c in knob.choices)
        params[knob.name] = value if primitive else knob.choices.index(value)
    return params


def constraints(trial: Any) -> Sequence[float]:
    """optuna `constraints_func`: (0.0,) for a feasible trial, (1.0,) for an infeasible one."""
    record = trial.user_attrs.get(TRIAL_ATTR, {})
    return (0.0,) if record.get("feasible") else (1.0,)
