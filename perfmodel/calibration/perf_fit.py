"""Fit a board profile to real op runs: the rows of a tt-metal profiler CSV that the ops model.

Which parameters: every profile cost the rows' ops could depend on (`params.candidate_keys`) is moved by
5 % and the analytic predictions of the rows re-computed (finite differences of log time against log
parameter). A key no row responds to is not exercised. Among the exercised ones, a QR decomposition with
column pivoting of those sensitivities keeps the keys the rows can tell apart and refuses the rest (a
Jacobian column that is, within 1 % of the strongest, a combination of the kept ones: e.g. per-call and
per-tile costs when every row has the same tiles per call). The kept keys are fitted by
`scipy.optimize.least_squares` on log(predicted / measured), in log parameters (positive, bounded to a
factor 10 of the start). The analytic engine predicts: it answers in milliseconds, which finite
differences over every row need; `perfmodel compare` then reports both engines on the fitted profile.

Held out: with `holdout` > 0 that share of the problems (a seeded random choice) is left out of the
discovery and the fit, and their error before and after is reported separately.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import qr
from scipy.optimize import least_squares

from perfmodel.calibration.params import candidate_keys, get_param, set_params
from perfmodel.des import DeadlockError
from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.io.rows import Group, build, select

STEP = 0.05  # log-parameter step of the sensitivity probe
EXERCISED = 1e-3  # |d log time / d log parameter| below this on every row: the rows do not see the key
IDENTIFIABLE = 1e-2  # QR pivot below this share of the strongest: not identifiable from these rows


@dataclass(frozen=True)
class ProblemFit:
    """One modelled problem: what it is, its measurement, the prediction before and after the fit."""

    description: dict[str, Any]
    measured_ns: float
    before_ns: float
    after_ns: float
    held_out: bool

    @property
    def error_before(self) -> float:
        return (self.before_ns - self.measured_ns) / self.measured_ns

    @property
    def error_after(self) -> float:
        return (self.after_ns - self.measured_ns) / self.measured_ns


@dataclass(frozen=True)
class PerfFitResult:
    profile: DeviceProfile
    values: dict[str, float]
    start: dict[str, float]
    refused: dict[str, str]
    not_exercised: tuple[str, ...]
    problems: tuple[ProblemFit, ...]
    data_file: str
    date: str
    skipped: dict[str, int] = field(default_factory=dict)

    def errors(self, *, held_out: bool, after: bool = True) -> np.ndarray:
        return np.array(
            [abs(p.error_after if after else p.error_before) for p in self.problems if p.held_out == held_out]
        )

    def summary(self, *, held_out: bool, after: bool = True) -> dict[str, float] | None:
        errs = self.errors(held_out=held_out, after=after)
        if not errs.size:
            return None
        return {
            "problems": int(errs.size),
            "median_abs_error": float(np.median(errs)),
            "max_abs_error": float(errs.max()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.profile.name,
            "data_file": self.data_file,
            "fitted": self.values,
            "start": self.start,
            "refused": self.refused,
            "not_exercised": list(self.not_exercised),
            "fit": {"before": self.summary(held_out=False, after=False), "after": self.summary(held_out=False)},
            "held_out": {"before": self.summary(held_out=True, after=False), "after": self.summary(held_out=True)},
            "problems": [
                {
                    **p.description,
                    "measured_ns": p.measured_ns,
                    "before_ns": p.before_ns,
                    "after_ns": p.after_ns,
                    "error_before": p.error_before,
                    "error_after": p.error_after,
                    "held_out": p.held_out,
                }
                for p in self.problems
            ],
            "skipped": self.skipped,
        }


def _on(base: DeviceProfile, board: DeviceProfile, group: Group) -> DeviceProfile:
    """The group's device with trial parameters: every group runs on the whole board (its grid is in its config)."""
    return base


def _predictor(board: DeviceProfile, groups: Sequence[Group]) -> Callable[[dict[str, float]], np.ndarray]:
    from perfmodel.analytic import estimate

    def predict(values: dict[str, float]) -> np.ndarray:
        base = set_params(board, values) if values else board
        return np.array([estimate(build(g.op_name, g.problem, _on(base, board, g))).kernel_duration_ns for g in groups])

    return predict


def _bounds(board: DeviceProfile, key: str, start: float) -> tuple[float, float]:
    low, high = start / 10.0, start * 10.0
    if key == "dram.interleaved_fraction":
        high = min(high, board.dram.sustained_fraction)
    return low, high


def fit_perf_rows(
    path: str | Path,
    device: str | DeviceProfile,
    *,
    keys: Sequence[str] | None = None,
    holdout: float = 0.0,
    seed: int = 0,
) -> PerfFitResult:
    """Fit `device`'s parameters that the modelled rows of the profiler CSV `path` identify."""
    board = load_device(device)
    if not 0.0 <= holdout < 1.0:
        raise InputError(f"--holdout {holdout} must be a fraction in [0, 1)")
    selection = select(path, device=board)
    skipped = {reason: len(lines) for reason, lines in selection.skipped.items()}
    groups = []
    for g in selection.groups:
        try:
            _predictor(board, [g])({})
        except (InputError, DeadlockError) as exc:
            skipped[f"{g.op_code}: not buildable: {exc}"] = len(g.lines)
            continue
        groups.append(g)
    if not groups:
        raise InputError(f"{path}: no rows of an op this tool models on {board.name}; nothing to fit")
    order = np.random.default_rng(seed).permutation(len(groups))
    n_out = round(holdout * len(groups)) if len(groups) > 1 else 0
    held = set(order[:n_out].tolist())
    train = [g for i, g in enumerate(groups) if i not in held]
    measured = np.array([g.median_ns for g in train])

    candidates = list(keys) if keys else list(candidate_keys(board, sorted({g.problem.dtype for g in groups})))
    start = {k: get_param(board, k) for k in candidates}
    predict = _predictor(board, train)
    base = predict({})
    # Sensitivities: d log time / d log parameter, one column per candidate with a non-zero value.
    columns, probed = [], []
    for k in candidates:
        if start[k] <= 0:
            continue
        _, high = _bounds(board, k, start[k])
        step = STEP if start[k] * np.exp(STEP) <= high else -STEP
        moved = predict({k: start[k] * np.exp(step)})
        columns.append((np.log(moved) - np.log(base)) / step)
        probed.append(k)
    sens = np.array(columns).T if columns else np.zeros((len(train), 0))
    exercised = [k for i, k in enumerate(probed) if np.max(np.abs(sens[:, i])) > EXERCISED]
    not_exercised = tuple(k for k in candidates if k not in exercised)
    refused: dict[str, str] = {}
    fitted_keys: list[str] = []
    if exercised:
        jac = sens[:, [probed.index(k) for k in exercised]]
        _, r, pivots = qr(jac, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int(np.sum(diag > IDENTIFIABLE * diag[0])) if diag.size else 0
        fitted_keys = [exercised[i] for i in pivots[:rank]]
        for i in pivots[rank:]:
            refused[exercised[i]] = (
                f"not identifiable from these {len(train)} problems: its effect on them is, within "
                f"{100 * IDENTIFIABLE:g} %, a combination of the fitted keys'"
            )
    values = dict(start)
    if fitted_keys:
        x0 = np.log([start[k] for k in fitted_keys])
        bounds = np.log(np.array([_bounds(board, k, start[k]) for k in fitted_keys])).T

        def residuals(x: np.ndarray) -> np.ndarray:
            return np.log(predict(dict(zip(fitted_keys, np.exp(x), strict=True))) / measured)

        fit = least_squares(residuals, np.clip(x0, bounds[0], bounds[1]), bounds=bounds, loss="soft_l1", f_scale=0.1)
        values.update(dict(zip(fitted_keys, (float(v) for v in np.exp(fit.x)), strict=True)))
    fitted = {k: values[k] for k in fitted_keys}
    profile = set_params(board, fitted) if fitted else board
    before = _predictor(board, groups)({})
    after = _predictor(board, groups)(fitted)
    problems = tuple(
        ProblemFit(g.describe(), g.median_ns, float(b), float(a), i in held)
        for i, (g, b, a) in enumerate(zip(groups, before, after, strict=True))
    )
    return PerfFitResult(
        profile=profile,
        values=fitted,
        start={k: start[k] for k in fitted_keys},
        refused=refused,
        not_exercised=not_exercised,
        problems=problems,
        data_file=str(path),
        date=_dt.date.today().isoformat(),
        skipped=skipped,
    )
