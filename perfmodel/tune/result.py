"""The frozen result of `tune`: best configuration(s), Pareto front, every trial with its verdict, counts.

Only plain values are kept (no optuna objects), mappings read-only, so a result can be compared, kept and
written as JSON (`to_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class TrialRecord:
    """One trial of the study: its point, state and, when finished, its verdict and objective values."""

    number: int
    state: str
    config: Mapping[str, Any]
    values: tuple[float, ...] | None
    feasible: bool | None
    reason: str
    cached: bool = False
    enqueued: bool = False
    metrics: Mapping[str, Any] = field(default_factory=_frozen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "config": dict(self.config),
            "values": None if self.values is None else list(self.values),
            "feasible": self.feasible,
            "reason": self.reason,
            "cached": self.cached,
            "enqueued": self.enqueued,
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        """The record `to_dict` wrote (e.g. read back from JSON)."""
        values = data.get("values")
        return cls(
            number=int(data["number"]),
            state=str(data["state"]),
            config=_frozen(data.get("config")),
            values=None if values is None else tuple(float(v) for v in values),
            feasible=data.get("feasible"),
            reason=str(data.get("reason", "")),
            cached=bool(data.get("cached", False)),
            enqueued=bool(data.get("enqueued", False)),
            metrics=_frozen(data.get("metrics")),
        )


@dataclass(frozen=True)
class ParetoEntry:
    """A non-dominated feasible configuration: `values` has one value per objective, in their order."""

    config: Mapping[str, Any]
    values: tuple[float, ...]
    trial: int
    metrics: Mapping[str, Any] = field(default_factory=_frozen)

    def to_dict(self) -> dict[str, Any]:
        return {"config": dict(self.config), "values": list(self.values), "trial": self.trial, **_metrics(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoEntry:
        """The entry `to_dict` wrote."""
        return cls(
            config=_frozen(data["config"]),
            values=tuple(float(v) for v in data["values"]),
            trial=int(data["trial"]),
            metrics=_frozen(data.get("metrics")),
        )


def _metrics(entry: ParetoEntry) -> dict[str, Any]:
    return {"metrics": dict(entry.metrics)} if entry.metrics else {}


@dataclass(frozen=True)
class TuneResult:
    """What a study found. `pareto_front` is sorted by the objectives in order; `best` is its first entry
    (None when no trial was feasible). `trial_counts` counts the study's trials by optuna state;
    `evaluations` counts the distinct model evaluations this call made, by engine."""

    op_name: str
    shape: tuple[int, ...]
    device: str
    dtype: str
    backend: str
    objectives: tuple[str, ...]
    study_name: str
    storage: str
    n_trials: int
    pareto_front: tuple[ParetoEntry, ...]
    trial_counts: Mapping[str, int]
    feasible_trials: int
    infeasible_trials: int
    infeasible_reasons: Mapping[str, int]
    evaluations: Mapping[str, int]
    cache_hits: int
    trials_run: tuple[int, ...]
    trials: tuple[TrialRecord, ...]
    space_size: int
    wall_seconds: float

    def __post_init__(self) -> None:
        for name in ("trial_counts", "infeasible_reasons", "evaluations"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def best(self) -> ParetoEntry | None:
        return self.pareto_front[0] if self.pareto_front else None

    @property
    def best_config(self) -> Mapping[str, Any] | None:
        return None if self.best is None else self.best.config

    @property
    def ok(self) -> bool:
        """True when at least one feasible configuration was found."""
        return bool(self.pareto_front)

    def to_dict(self, *, trials: bool = True) -> dict[str, Any]:
        """JSON-ready fields; `trials=False` leaves out the per-trial list."""
        out = {
            "op": self.op_name,
            "shape": list(self.shape),
            "device": self.device,
            "dtype": self.dtype,
            "backend": self.backend,
            "objectives": list(self.objectives),
            "study_name": self.study_name,
            "storage": self.storage,
            "n_trials": self.n_trials,
            "ok": self.ok,
            "best": None if self.best is None else self.best.to_dict(),
            "pareto_front": [e.to_dict() for e in self.pareto_front],
            "trial_counts": dict(self.trial_counts),
            "feasible_trials": self.feasible_trials,
            "infeasible_trials": self.infeasible_trials,
            "infeasible_reasons": dict(self.infeasible_reasons),
            "evaluations": dict(self.evaluations),
            "cache_hits": self.cache_hits,
            "trials_run": list(self.trials_run),
            "space_size": self.space_size,
            "wall_seconds": self.wall_seconds,
        }
        if trials:
            out["trials"] = [t.to_dict() for t in self.trials]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuneResult:
        """The result `to_dict` wrote (e.g. by a server); `trials` is empty when it was written without them."""
        return cls(
            op_name=str(data["op"]),
            shape=tuple(int(d) for d in data["shape"]),
            device=str(data["device"]),
            dtype=str(data["dtype"]),
            backend=str(data["backend"]),
            objectives=tuple(str(o) for o in data["objectives"]),
            study_name=str(data["study_name"]),
            storage=str(data["storage"]),
            n_trials=int(data["n_trials"]),
            pareto_front=tuple(ParetoEntry.from_dict(e) for e in data["pareto_front"]),
            trial_counts={str(k): int(v) for k, v in data["trial_counts"].items()},
            feasible_trials=int(data["feasible_trials"]),
            infeasible_trials=int(data["infeasible_trials"]),
            infeasible_reasons={str(k): int(v) for k, v in data["infeasible_reasons"].items()},
            evaluations={str(k): int(v) for k, v in data["evaluations"].items()},
            cache_hits=int(data["cache_hits"]),
            trials_run=tuple(int(n) for n in data["trials_run"]),
            trials=tuple(TrialRecord.from_dict(t) for t in data.get("trials", ())),
            space_size=int(data["space_size"]),
            wall_seconds=float(data["wall_seconds"]),
        )


def pareto_front(records: Sequence[TrialRecord]) -> tuple[ParetoEntry, ...]:
    """The non-dominated feasible records (minimising every value), sorted by values.

    One entry per distinct value vector: configurations that tie on every objective are represented by the
    earliest trial."""
    seen: set[tuple[float, ...]] = set()
    candidates = []
    for r in sorted(records, key=lambda r: r.number):
        if r.state != "COMPLETE" or not r.feasible or r.values is None or r.values in seen:
            continue
        seen.add(r.values)
        candidates.append(r)
    if not candidates:
        return ()
    values = np.array([r.values for r in candidates], dtype=float)
    keep = []
    for i, v in enumerate(values):
        dominated = np.any(np.all(values <= v, axis=1) & np.any(values < v, axis=1))
        if not dominated:
            keep.append(i)
    keep.sort(key=lambda i: (tuple(values[i]), candidates[i].number))
    return tuple(
        ParetoEntry(
            _frozen(candidates[i].config),
            tuple(float(x) for x in values[i]),
            candidates[i].number,
            candidates[i].metrics,
        )
        for i in keep
    )


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when `a` is no worse than `b` in every value and better in one (all minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))
