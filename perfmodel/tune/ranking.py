"""Ranking a search space with the analytic model: every point when the space is small enough, else a study.

A large space whose compute-config knobs (math fidelity, Dst width, Dst sync) multiply its structural knobs
(grid, buffering, design) is ranked in two stages: every structural point at the op's default compute
config, then every compute config of the REFINE_TOP best structural points. The compute knobs mostly move
a run's time by a few percent next to the grid and the design, so the best points of the product are
usually among those; ranking every point would cost 16 times as much. A structural point that wins only
with a non-default compute config (an fp32 Dst that halves a Dst section can double a single-core run) can
be missed; a space restricted to STAGED_LIMIT points or fewer is ranked exhaustively.

The ranked table is `estimate_many`'s output (knob columns plus the analytic result columns) sorted fastest
first among feasible points; infeasible points follow, kept with their reasons. `top_candidates` picks the
points worth simulating: the analytic model often ties points that differ only in knobs it finds irrelevant
(a deeper buffer on a DRAM-bound run), so one point per analytic time is kept, the one with the least L1 and
then the fewest cores, and the simulator's budget goes to genuinely different candidates.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from perfmodel.space import SearchSpace

if TYPE_CHECKING:
    from perfmodel.tune.simulations import Simulations

# Spaces up to this many points are ranked exhaustively by estimate_many (about 10^5 points a second);
# larger ones by an analytic optuna study of STUDY_TRIALS trials.
EXHAUSTIVE_LIMIT = 10**6
STUDY_TRIALS = 400
# Spaces above STAGED_LIMIT points with compute-config knobs are ranked in two stages (module docstring).
STAGED_LIMIT = 20_000
REFINE_TOP = 32
COMPUTE_KNOBS = ("math_fidelity", "fp32_dest_acc_en", "dst_full_sync_en")
# A helper computes the errors of every numeric-knob value of a space with at most this many values ahead
# (about 10 ms each: done before the first stage of a staged ranking ends).
SPECULATIVE_ERRORS = 64
# Analytic times equal to this relative precision are ties.
TIE_RELATIVE = 1e-9


def rank_space(
    space: SearchSpace,
    *,
    seed: int = 0,
    max_error: float | None = None,
    helper: Simulations | None = None,
) -> tuple[pd.DataFrame, str]:
    """(ranked table, 'exhaustive' or 'study'): analytic figures of the space's points, best feasible first.

    With `max_error`, the feasible points get their numerical error (`perfmodel.tune.error`), and a point whose
    max abs error exceeds the bound is infeasible ("error ... exceeds max_error ..."). `helper` (a
    `simulations.Simulations`) computes the errors ahead in its helper process, shares a large table's rows,
    and in a staged ranking starts the simulation of the first stage's best point; the table is the same.
    """
    from perfmodel.tune.objective import analytic_table

    analytic = analytic_table if helper is None else helper.analytic_table

    def prefetch(table: pd.DataFrame) -> pd.DataFrame:
        # The helper computes the errors the bound will need while this process ranks the rows: those of
        # `table`, then (while it has nothing else to do) those of the space's other numeric-knob values,
        # which the refined points of a staged ranking mostly need.
        if helper is not None and max_error is not None:
            helper.prefetch_errors(space, table)
            numeric = space.only(*space.numeric_knobs)
            if numeric.size <= SPECULATIVE_ERRORS:
                helper.prefetch_errors(space, numeric.table())
        return table

    def first_stage_done(refined: pd.DataFrame, leader: dict[str, Any]) -> None:
        prefetch(refined)
        if helper is not None:
            # The first stage's best point is nearly always among the candidates `recommend` simulates (the
            # refined points vary its compute config, which ties or moves its time by a few percent): the
            # helper simulates it while this process ranks the refined points.
            helper.start(space, leader)

    staged = _staged_points(space, analytic, prefetch, first_stage_done)
    if staged is not None:
        first, refined = staged
        # The first stage's rows are ranked already: only the refined points are new.
        parts = [first] if refined.empty else [first, analytic(space, refined)]
        ranked = pd.concat(parts, ignore_index=True)
        if max_error is not None:
            ranked = bound_error(space, ranked, max_error, helper)
        return sort_ranked(space, ranked), "staged"
    if space.size <= EXHAUSTIVE_LIMIT:
        table, method = space.table(), "exhaustive"
    else:
        from perfmodel.tune.study import tune

        result = tune(
            space.op_name, (), device=space.fixed.get("device"), space=space, n_trials=STUDY_TRIALS, seed=seed
        )
        table, method = space.table([t.config for t in result.trials if t.config]), "study"
        table = table.drop_duplicates(ignore_index=True)
    ranked = analytic(space, prefetch(table))
    if max_error is not None:
        ranked = bound_error(space, ranked, max_error, helper)
    return sort_ranked(space, ranked), method


def _staged_points(
    space: SearchSpace,
    analytic_table: Callable[[SearchSpace, pd.DataFrame], pd.DataFrame] | None = None,
    announce: Callable[[pd.DataFrame], object] | None = None,
    first_stage_done: Callable[[pd.DataFrame, dict[str, Any]], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """A two-stage ranking (module docstring): (the first stage's points with their analytic figures, the
    refined points not among them), or None when the space is ranked otherwise. `analytic_table`:
    `objective.analytic_table` or an equivalent (default: that one). `announce` is given the first stage's
    points before they are ranked, `first_stage_done` the refined points and the first stage's best point."""
    if analytic_table is None:
        from perfmodel.tune.objective import analytic_table
    compute = [n for n in COMPUTE_KNOBS if n in space.knob_names and len(space.knob(n).choices) > 1]
    if space.size <= STAGED_LIMIT or not compute:
        return None
    structural = space.only(*[n for n in space.knob_names if n not in compute])
    if structural.size > EXHAUSTIVE_LIMIT:
        return None
    first = structural.table()
    if announce is not None:
        announce(first)
    first_ranked = analytic_table(space, first)
    best = top_candidates(sort_ranked(space, first_ranked), REFINE_TOP)
    domains = [space.knob(n).choices for n in compute]
    points = [
        {**space.point_of(row), **dict(zip(compute, combo, strict=True))}
        for row in best.to_dict("records")
        for combo in itertools.product(*domains)
    ]
    table = pd.concat([first, space.table(points)], ignore_index=True)
    table = table.drop_duplicates(subset=list(space.knob_names), ignore_index=True)
    refined = table.iloc[len(first) :].reset_index(drop=True)
    if first_stage_done is not None and not best.empty:
        first_stage_done(refined, space.point_of(best.iloc[0].to_dict()))
    return first_ranked, refined


def bound_error(
    space: SearchSpace, ranked: pd.DataFrame, max_error: float, helper: Simulations | None = None
) -> pd.DataFrame:
    """The feasible rows' errors attached, and the rows over `max_error` made infeasible with the reason
    (`helper`: a helper process computes some of the errors)."""
    from perfmodel.tune.error import attach_errors

    feasible = ranked["feasible"].to_numpy(dtype=bool)
    if helper is not None:
        helper.share_errors(space, ranked[feasible])
    out = attach_errors(space, ranked, feasible)
    errors = out["max_abs_error"].to_numpy(float)
    over = feasible & ~(errors <= max_error)  # NaN (no numerics model) is never over: nothing to bound
    over &= ~np.isnan(errors)
    reasons = out["infeasible_reason"].to_numpy(dtype=object).copy()
    for i in np.flatnonzero(over):
        reasons[i] = f"error {errors[i]:.3g} exceeds max_error {max_error:g}"
    out["feasible"] = feasible & ~over
    out["infeasible_reason"] = reasons
    return out


def sort_ranked(space: SearchSpace, ranked: pd.DataFrame) -> pd.DataFrame:
    """Feasible rows fastest first (ties: less L1, fewer cores, fewer knobs moved from the op's default, then
    space order), infeasible rows after. A knob that buys nothing stays at its default (the fidelity a tie
    does not pay for, say)."""
    moved = np.zeros(len(ranked), dtype=np.int64)
    for name, value in space.default.items():
        if name in ranked.columns:
            moved += ranked[name].to_numpy(dtype=object) != value
    order = ranked.assign(
        _infeasible=~ranked["feasible"].astype(bool),
        _time=ranked["kernel_duration_ns"].fillna(np.inf),
        _moved=moved,
        _pos=np.arange(len(ranked)),
    )
    keys = ["_infeasible", "_time", "l1_bytes_per_core", "num_cores", "_moved", "_pos"]
    order = order.sort_values(keys, kind="stable")
    return order.drop(columns=["_infeasible", "_time", "_moved", "_pos"]).reset_index(drop=True)


def top_candidates(ranked: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """The first `k` feasible rows of a ranked table with one row per analytic time (all when k is None)."""
    feasible = ranked[ranked["feasible"].astype(bool)]
    times = feasible["kernel_duration_ns"].to_numpy(float)
    keep: list[int] = []
    last = None
    for i, t in enumerate(times):
        if last is not None and abs(t - last) <= TIE_RELATIVE * max(abs(last), 1.0):
            continue
        keep.append(i)
        last = t
        if k is not None and len(keep) >= k:
            break
    return feasible.iloc[keep]


def infeasible_reasons(ranked: pd.DataFrame) -> dict[str, int]:
    """How many points of the ranked table are infeasible, by reason."""
    bad = ranked.loc[~ranked["feasible"].astype(bool), "infeasible_reason"]
    return {str(k): int(v) for k, v in bad.value_counts().items()}
