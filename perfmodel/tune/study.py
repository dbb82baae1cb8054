"""`tune`: an optuna study over an op's search space, on the analytic model or the simulator.

Choices the API makes:
- `n_trials` is the size the study should reach: trials already complete in the storage (by an earlier,
  interrupted run or by other processes sharing it) count toward it, so rerunning the same command resumes
  an interrupted study and, once it is complete, adds nothing. A trial interrupted mid-evaluation stays FAIL
  and does not count. Several processes given the same storage, study and `n_trials` share the work and
  stop together (give them different seeds, or they start by suggesting the same points).
- The study name defaults to one derived from the problem (op, the space's fixed columns, a hash of the
  knob domains, backend, objectives), so the same command finds the same study; a loaded study made for
  another problem is refused.
- Every objective is minimised. The default sampler is optuna's TPE (multi-objective TPE when there is more
  than one objective), seeded by `seed` plus the number of trials already complete (a resumed study does not
  replay its first random points) and told the constraints; a fresh study with the same seed is the same
  study. A caller-supplied sampler is used as given.
- Infeasible points are COMPLETE trials whose constraint is violated (`Trial.set_constraint` on optuna >= 5,
  the sampler's `constraints_func` before), with the reason in the user attributes; they never reach `best`
  or `pareto_front`. A point the simulator finds hanging is such a trial. Their objective values are the
  analytic model's figures (the simulator does not run them).
- `objectives` may include "error" (max abs error) and "ulp" (max ULP) of the point's numbers
  (`perfmodel.tune.error`: the op's validate on a fixed probe input, memoised by the numeric knobs);
  `("time", "error")` gives the Pareto front of time against accuracy.
- `backend="des"`: before sampling, the analytic model ranks the space and its best distinct candidates are
  enqueued (`warm_start` of them; on a multi-objective study, the analytic Pareto front first), so the
  simulator starts where the cheap model says the optimum is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from perfmodel.errors import InputError
from perfmodel.space import SearchSpace, search_space
from perfmodel.tune.objective import (
    BACKENDS,
    ERROR_OBJECTIVES,
    OBJECTIVES,
    TRIAL_ATTR,
    Evaluation,
    Evaluator,
    constraints,
    suggest_point,
    trial_params,
)
from perfmodel.tune.result import TrialRecord, TuneResult, pareto_front
from perfmodel.tune.storage import open_storage, parse_storage

PROBLEM_ATTR = "perfmodel_problem"
WARM_START_MAX = 10
# Trials that count toward n_trials. A FAIL (an interrupted or crashed evaluation) does not: it is run again.
FINISHED = ("COMPLETE", "PRUNED")


def tune(
    op: Any,
    shape: Sequence[int],
    *,
    device: Any = "wormhole_b0_n150",
    dtype: str = "bfloat16",
    backend: str = "analytic",
    n_trials: int,
    objectives: Sequence[str] = ("time",),
    storage: str | None = None,
    study_name: str | None = None,
    sampler: Any = None,
    seed: int = 0,
    timeout: float | None = None,
    space: SearchSpace | None = None,
    warm_start: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> TuneResult:
    """Search `op`'s configurations for `shape` on `device`; see the module docstring for the choices made.

    `space` replaces the op's declared search space (e.g. `search_space(...).restrict(grid_x=(1, 2))`);
    `warm_start` is the number of analytic candidates enqueued for the 'des' backend (default
    min(10, max(1, n_trials // 4))). A `sampler` given is used as is (`seed` then only seeds the analytic
    ranking); it sees the constraints through `Trial.set_constraint` on optuna >= 5, and through
    `perfmodel.tune.objective.constraints` passed as its `constraints_func` before. `on_progress(done, n_trials)`,
    when given, is called with the finished trials (those that count toward `n_trials`) before sampling and after
    each trial.
    """
    import optuna

    objectives = _check_objectives(objectives)
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise InputError(f"n_trials must be an integer >= 1, got {n_trials!r}")
    if timeout is not None and not timeout > 0:
        raise InputError(f"timeout must be > 0 seconds, got {timeout!r}")
    if sampler is not None and not isinstance(sampler, optuna.samplers.BaseSampler):
        raise InputError(f"sampler must be an optuna sampler, got {type(sampler).__name__}")
    spec = parse_storage(storage)
    op_name = op if isinstance(op, str) else str(op.name)
    if space is None:
        space = search_space(op_name, shape, device=device, dtype=dtype)
    elif space.op_name != op_name:
        raise InputError(f"space is for op {space.op_name!r}, not {op_name!r}")
    wants_error = any(o in ERROR_OBJECTIVES for o in objectives)
    if wants_error:
        from perfmodel.tune.error import has_error

        if not has_error(space):
            raise InputError(f"op {op_name!r} has no numerics model (validate): it has no error objective")
    problem = _problem(space, backend, objectives)
    name = study_name or _default_name(space, backend, objectives, problem)

    wall0 = time.perf_counter()
    with _quiet():
        study = optuna.create_study(
            storage=open_storage(spec),
            sampler=sampler or optuna.samplers.RandomSampler(seed=seed),  # replaced below when not given
            study_name=name,
            directions=["minimize"] * len(objectives),
            load_if_exists=True,
        )
        _claim(study, problem, name)
        done = sum(t.state.name in FINISHED for t in study.get_trials(deepcopy=False))
        if sampler is None:
            # Offset by the trials already done, so a resumed study does not replay its first random points.
            study.sampler = _default_sampler(seed + done, len(objectives))
        evaluator = Evaluator(space, backend, error=wants_error)
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if TRIAL_ATTR in trial.user_attrs:
                evaluator.preload(Evaluation.from_dict(trial.user_attrs[TRIAL_ATTR]["evaluation"]))
        if backend == "des":
            count = warm_start if warm_start is not None else min(WARM_START_MAX, max(1, n_trials // 4))
            _enqueue_analytic(study, space, objectives, count, seed)
        ran: list[int] = []
        finished = sum(t.state.name in FINISHED for t in study.get_trials(deepcopy=False))
        callbacks: list[Any] = [optuna.study.MaxTrialsCallback(n_trials, states=_states(FINISHED))]
        if on_progress is not None:
            on_progress(min(finished, n_trials), n_trials)
            callbacks.append(_ProgressCallback(on_progress, finished, n_trials))
        if finished < n_trials:
            study.optimize(
                _Objective(space, evaluator, objectives, ran),
                n_trials=n_trials - finished,
                timeout=timeout,
                callbacks=callbacks,
                catch=(),
            )
        trials = tuple(_record(t) for t in study.get_trials(deepcopy=False))

    feasible = [t for t in trials if t.state == "COMPLETE" and t.feasible]
    infeasible = [t for t in trials if t.state == "COMPLETE" and t.feasible is False]
    return TuneResult(
        op_name=op_name,
        shape=tuple(int(d) for d in shape),
        device=str(space.fixed.get("device", device)),
        dtype=str(space.fixed.get("dtype", dtype)),
        backend=backend,
        objectives=objectives,
        study_name=name,
        storage=spec.label,
        n_trials=n_trials,
        pareto_front=pareto_front(trials),
        trial_counts=dict(Counter(t.state for t in trials)),
        feasible_trials=len(feasible),
        infeasible_trials=len(infeasible),
        infeasible_reasons=dict(Counter(t.reason for t in infeasible)),
        evaluations=dict(evaluator.counts),
        cache_hits=evaluator.cache_hits,
        trials_run=tuple(ran),
        trials=trials,
        space_size=space.size,
        wall_seconds=time.perf_counter() - wall0,
    )


class _Objective:
    """The function optuna calls: suggest a point, evaluate it (cached), record the verdict on the trial."""

    def __init__(self, space: SearchSpace, evaluator: Evaluator, objectives: tuple[str, ...], ran: list[int]):
        self.space = space
        self.evaluator = evaluator
        self.objectives = objectives
        self.ran = ran

    def __call__(self, trial: Any) -> tuple[float, ...] | float:
        self.ran.append(trial.number)
        point = suggest_point(trial, self.space)
        evaluation, cached = self.evaluator.evaluate(point)
        record = {
            "feasible": evaluation.feasible,
            "reason": evaluation.reason,
            "cached": cached,
            "evaluation": evaluation.to_dict(),
        }
        trial.set_user_attr(TRIAL_ATTR, record)
        if hasattr(trial, "set_constraint"):  # optuna >= 5: samplers read constraints set on the trial
            trial.set_constraint("feasible", 0.0 if evaluation.feasible else 1.0)
        values = evaluation.values(self.objectives)
        return values[0] if len(values) == 1 else values


class _ProgressCallback:
    """An optuna callback counting the finished trials of this run on top of those the study had."""

    def __init__(self, on_progress: Callable[[int, int], None], finished: int, n_trials: int) -> None:
        self.on_progress = on_progress
        self.finished = finished
        self.n_trials = n_trials

    def __call__(self, _study: Any, trial: Any) -> None:
        if trial.state.name in FINISHED:
            self.finished += 1
        self.on_progress(min(self.finished, self.n_trials), self.n_trials)


def _check_objectives(objectives: Sequence[str]) -> tuple[str, ...]:
    if isinstance(objectives, str):
        objectives = [o.strip() for o in objectives.split(",")]
    names = tuple(objectives)
    if not names:
        raise InputError("objectives must name at least one of: " + ", ".join(OBJECTIVES))
    for name in names:
        if name not in OBJECTIVES:
            raise InputError(f"unknown objective {name!r} (known: {', '.join(OBJECTIVES)})")
    if len(set(names)) != len(names):
        raise InputError(f"objective listed twice in {','.join(names)}")
    return names


def _problem(space: SearchSpace, backend: str, objectives: tuple[str, ...]) -> dict[str, Any]:
    """What a study is about, stored on it so a later run cannot mix another problem into it."""
    return json.loads(
        json.dumps(
            {
                "op": space.op_name,
                "fixed": dict(space.fixed),
                "knobs": {k.name: list(k.choices) for k in space.knobs},
                "backend": backend,
                "objectives": list(objectives),
            },
            default=str,
        )
    )


def _default_name(space: SearchSpace, backend: str, objectives: tuple[str, ...], problem: dict[str, Any]) -> str:
    fixed = ",".join(f"{k}={v}" for k, v in space.fixed.items())
    digest = hashlib.sha1(json.dumps(problem["knobs"], sort_keys=True).encode()).hexdigest()[:8]
    return f"{space.op_name}[{fixed}] {backend}:{'+'.join(objectives)} #{digest}"


def _claim(study: Any, problem: dict[str, Any], name: str) -> None:
    """Mark a new study with its problem; refuse a loaded one made for another."""
    existing = study.user_attrs.get(PROBLEM_ATTR)
    if existing is None:
        study.set_user_attr(PROBLEM_ATTR, problem)
    elif existing != problem:
        diff = sorted(k for k in problem if existing.get(k) != problem[k])
        raise InputError(f"study {name!r} in this storage was made for another problem (differs in {', '.join(diff)})")


def _default_sampler(seed: int, n_objectives: int) -> Any:
    import optuna

    # optuna >= 5 reads the constraints each trial sets (`Trial.set_constraint`) and deprecates
    # `constraints_func`; older versions need the function.
    legacy = {} if hasattr(optuna.trial.Trial, "set_constraint") else {"constraints_func": constraints}
    return optuna.samplers.TPESampler(seed=seed, multivariate=n_objectives == 1, **legacy)


def _enqueue_analytic(study: Any, space: SearchSpace, objectives: tuple[str, ...], count: int, seed: int) -> None:
    """Enqueue the analytic model's best `count` distinct candidates (skipped if the study already has them)."""
    from perfmodel.tune.objective import evaluation_of_row
    from perfmodel.tune.ranking import rank_space, top_candidates
    from perfmodel.tune.result import pareto_front as front_of

    if count <= 0:
        return
    ranked, _ = rank_space(space, seed=seed)
    picks: list[dict[str, Any]] = []
    if len(objectives) > 1:
        records = []
        candidates = top_candidates(ranked)
        if any(o in ERROR_OBJECTIVES for o in objectives):
            from perfmodel.tune.error import attach_errors

            candidates = attach_errors(space, candidates)
        for i, row in enumerate(candidates.to_dict("records")):
            ev = evaluation_of_row(space, row)
            records.append(TrialRecord(i, "COMPLETE", ev.point, ev.values(objectives), True, ""))
        picks += [dict(e.config) for e in front_of(records)]
    for row in top_candidates(ranked, count).to_dict("records"):
        point = space.point_of(row)
        if point not in picks:
            picks.append(point)
    for point in picks[:count]:
        study.enqueue_trial(trial_params(space, point), user_attrs={"enqueued": "analytic"}, skip_if_exists=True)


def _record(trial: Any) -> TrialRecord:
    attrs = trial.user_attrs.get(TRIAL_ATTR, {})
    evaluation = attrs.get("evaluation")
    config = dict(evaluation["point"]) if evaluation else dict(trial.params)
    metrics = {}
    if evaluation:
        metrics = {
            k: evaluation[k]
            for k in ("kernel_duration_ns", "analytic_kernel_duration_ns", "num_cores", "l1_bytes_per_core", "bound")
        }
        if evaluation.get("max_abs_error") is not None:
            metrics.update({k: evaluation.get(k) for k in ("max_abs_error", "max_ulp")})
    return TrialRecord(
        number=trial.number,
        state=trial.state.name,
        config=config,
        values=None if trial.values is None else tuple(float(v) for v in trial.values),
        feasible=attrs.get("feasible"),
        reason=str(attrs.get("reason", "")),
        cached=bool(attrs.get("cached", False)),
        enqueued="enqueued" in trial.user_attrs,
        metrics=metrics,
    )


def _states(names: Sequence[str]) -> tuple[Any, ...]:
    import optuna

    return tuple(optuna.trial.TrialState[n] for n in names)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """optuna's per-trial log lines and experimental-feature warnings off, restored afterwards."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)
