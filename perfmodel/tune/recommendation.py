"""`recommend`: the configuration a program factory should build, confirmed by the simulator.

1. The analytic model ranks the op's search space (every point when it has at most 10^6, else an analytic
   study; see `ranking`).
2. Walking down the ranking (one point per analytic time), each candidate's Program is built, checked
   statically (L1, CB count and ranges, the kernels' dry run) and simulated (a hang is a rejection with its
   report line), until `top_k` candidates are confirmed (at most `MAX_ATTEMPTS_PER_K` x `top_k` tried).
3. The op's default configuration on the board (the baseline) is timed the same way. The recommendation is
   the confirmed candidate with the least simulated time; the baseline competes too, so a recommendation is
   never slower in simulation than what the factory builds untuned (the speedup is then 1.0).

Accuracy: `max_error` bounds the numerical error of a configuration (its max abs error on the probe input
of `perfmodel.tune.error`; default the op's tolerance, `SearchSpace.tolerance`). Points over the bound are
infeasible in the ranking with the reason, the baseline competes only within it, and every candidate reports
its error.

If no point of the space is feasible, or none confirms, the result says so (`ok=False`) with the reasons.

On a machine with a second core, a forked helper process (`simulations`) simulates the baseline and computes the
numerical errors while this process ranks, then takes about half of the simulations of steps 2-3.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from perfmodel.errors import InputError
from perfmodel.gcpause import collector_paused
from perfmodel.result import plain_value
from perfmodel.space import SearchSpace, search_space
from perfmodel.tune.objective import evaluation_of_row
from perfmodel.tune.ranking import infeasible_reasons, rank_space, top_candidates
from perfmodel.tune.simulations import Simulations, default_workers

MAX_ATTEMPTS_PER_K = 3


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Candidate:
    """A configuration timed by both engines (`des_kernel_duration_ns` None when it was not confirmed)."""

    config: Mapping[str, Any]
    kernel_duration_ns: float | None
    des_kernel_duration_ns: float | None
    l1_bytes_per_core: int | None
    bound: str | None
    confirmed: bool
    reason: str = ""
    max_abs_error: float | None = None
    max_ulp: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", _frozen(self.config))

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": dict(self.config),
            "kernel_duration_ns": self.kernel_duration_ns,
            "des_kernel_duration_ns": self.des_kernel_duration_ns,
            "l1_bytes_per_core": self.l1_bytes_per_core,
            "bound": self.bound,
            "confirmed": self.confirmed,
            "reason": self.reason,
            "max_abs_error": self.max_abs_error,
            "max_ulp": self.max_ulp,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        """The candidate `to_dict` wrote."""
        return cls(
            config=data["config"],
            kernel_duration_ns=data.get("kernel_duration_ns"),
            des_kernel_duration_ns=data.get("des_kernel_duration_ns"),
            l1_bytes_per_core=data.get("l1_bytes_per_core"),
            bound=data.get("bound"),
            confirmed=bool(data["confirmed"]),
            reason=str(data.get("reason", "")),
            max_abs_error=data.get("max_abs_error"),
            max_ulp=data.get("max_ulp"),
        )


@dataclass(frozen=True)
class Recommendation:
    """The configuration to build and its proof; `ok` False (with `reasons`) when nothing fits."""

    op_name: str
    shape: tuple[int, ...]
    device: str
    dtype: str
    ok: bool
    config: Mapping[str, Any] | None
    cb_table: tuple[Mapping[str, Any], ...]
    core_groups: tuple[Mapping[str, Any], ...]
    compile_time_args: tuple[Mapping[str, Any], ...]
    runtime_args: tuple[Mapping[str, Any], ...]
    l1_bytes_per_core: int | None
    l1_budget_bytes: int | None
    kernel_duration_ns: float | None
    des_kernel_duration_ns: float | None
    bound: str | None
    dram_roofline_ns: float | None
    alternatives: tuple[Candidate, ...]
    rejected: tuple[Candidate, ...]
    baseline: Candidate
    speedup: float | None
    space_size: int
    ranking: str
    feasible_points: int
    infeasible_reasons: Mapping[str, int] = field(default_factory=_frozen)
    reasons: tuple[str, ...] = ()
    wall_seconds: float = 0.0
    max_error: float | None = None
    max_abs_error: float | None = None
    max_ulp: int | None = None

    def __post_init__(self) -> None:
        if self.config is not None:
            object.__setattr__(self, "config", _frozen(self.config))
        object.__setattr__(self, "infeasible_reasons", _frozen(self.infeasible_reasons))

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op_name,
            "shape": list(self.shape),
            "device": self.device,
            "dtype": self.dtype,
            "ok": self.ok,
            "config": None if self.config is None else dict(self.config),
            "cb_table": [dict(c) for c in self.cb_table],
            "core_groups": [plain_value(g) for g in self.core_groups],
            "compile_time_args": [plain_value(a) for a in self.compile_time_args],
            "runtime_args": [plain_value(a) for a in self.runtime_args],
            "l1_bytes_per_core": self.l1_bytes_per_core,
            "l1_budget_bytes": self.l1_budget_bytes,
            "kernel_duration_ns": self.kernel_duration_ns,
            "des_kernel_duration_ns": self.des_kernel_duration_ns,
            "bound": self.bound,
            "dram_roofline_ns": self.dram_roofline_ns,
            "alternatives": [a.to_dict() for a in self.alternatives],
            "rejected": [r.to_dict() for r in self.rejected],
            "baseline": self.baseline.to_dict(),
            "speedup": self.speedup,
            "space_size": self.space_size,
            "ranking": self.ranking,
            "feasible_points": self.feasible_points,
            "infeasible_reasons": dict(self.infeasible_reasons),
            "reasons": list(self.reasons),
            "wall_seconds": self.wall_seconds,
            "max_error": self.max_error,
            "max_abs_error": self.max_abs_error,
            "max_ulp": self.max_ulp,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recommendation:
        """The recommendation `to_dict` wrote (e.g. answered by a server); `to_dict` gives `data` back."""
        return cls(
            op_name=str(data["op"]),
            shape=tuple(int(d) for d in data["shape"]),
            device=str(data["device"]),
            dtype=str(data["dtype"]),
            ok=bool(data["ok"]),
            config=data.get("config"),
            cb_table=tuple(data.get("cb_table", ())),
            core_groups=tuple(data.get("core_groups", ())),
            compile_time_args=tuple(data.get("compile_time_args", ())),
            runtime_args=tuple(data.get("runtime_args", ())),
            l1_bytes_per_core=data.get("l1_bytes_per_core"),
            l1_budget_bytes=data.get("l1_budget_bytes"),
            kernel_duration_ns=data.get("kernel_duration_ns"),
            des_kernel_duration_ns=data.get("des_kernel_duration_ns"),
            bound=data.get("bound"),
            dram_roofline_ns=data.get("dram_roofline_ns"),
            alternatives=tuple(Candidate.from_dict(c) for c in data.get("alternatives", ())),
            rejected=tuple(Candidate.from_dict(c) for c in data.get("rejected", ())),
            baseline=Candidate.from_dict(data["baseline"]),
            speedup=data.get("speedup"),
            space_size=int(data["space_size"]),
            ranking=str(data["ranking"]),
            feasible_points=int(data["feasible_points"]),
            infeasible_reasons=data.get("infeasible_reasons", {}),
            reasons=tuple(data.get("reasons", ())),
            wall_seconds=float(data.get("wall_seconds", 0.0)),
            max_error=data.get("max_error"),
            max_abs_error=data.get("max_abs_error"),
            max_ulp=data.get("max_ulp"),
        )


@collector_paused()
def recommend(
    op: Any,
    shape: Sequence[int],
    *,
    device: Any = "wormhole_b0_n150",
    dtype: str = "bfloat16",
    top_k: int = 5,
    space: SearchSpace | None = None,
    seed: int = 0,
    max_error: float | None = None,
    workers: int | None = None,
) -> Recommendation:
    """The configuration of `op` to build for `shape` on `device`, confirmed by the simulator (module doc).

    `space` replaces the op's declared search space; the baseline stays the op's own default. `max_error`
    bounds the max abs error of the recommended configuration (None: the op's tolerance; `math.inf`: no bound).
    `workers`: processes that share the ranking and the simulations, 1 or 2 (None: 2 when a helper can be
    forked, see `simulations.default_workers`; 1: this process only). The result is the same either way.
    """
    from perfmodel.tune.objective import analytic_table
    from perfmodel.tune.ranking import bound_error

    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InputError(f"top_k must be an integer >= 1, got {top_k!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers not in (1, 2)):
        raise InputError(f"workers must be 1 or 2 (this process and at most one helper), got {workers!r}")
    if max_error is not None and (
        isinstance(max_error, bool) or not isinstance(max_error, int | float) or not max_error >= 0
    ):
        raise InputError(f"max_error must be a number >= 0, got {max_error!r}")
    wall0 = time.perf_counter()
    op_name = op if isinstance(op, str) else str(op.name)
    declared = search_space(op_name, shape, device=device, dtype=dtype)
    if space is not None and space.op_name != op_name:
        raise InputError(f"space is for op {space.op_name!r}, not {op_name!r}")
    space = space or declared
    bound = declared.tolerance if max_error is None else float(max_error)
    with Simulations((space, declared), default_workers() if workers is None else workers) as sims:
        # A helper process (if any) simulates the baseline and computes the numerical errors while this
        # process ranks the space, then takes its share of the candidates' simulations.
        base_point = (declared, declared.point_of(declared.default))
        sims.start(*base_point)
        ranked, method = rank_space(space, seed=seed, max_error=bound, helper=sims)
        feasible_points = int(ranked["feasible"].astype(bool).sum())

        confirmed: list[tuple[Candidate, Any, Any, Any]] = []
        rejected: list[Candidate] = []
        rows = top_candidates(ranked, MAX_ATTEMPTS_PER_K * top_k).to_dict("records")
        points = [space.point_of(row) for row in rows]
        for index, row in enumerate(rows):
            if len(confirmed) >= top_k:
                break
            window = [(space, p) for p in points[index : index + top_k - len(confirmed)]]
            _share_work(sims, [*window, base_point])
            candidate, outcome = _confirm(space, row, sims)
            if candidate.confirmed:
                confirmed.append((candidate, *outcome))
            else:
                rejected.append(candidate)

        base_table = analytic_table(declared, declared.table([declared.default]))
        if bound is not None:
            base_table = bound_error(declared, base_table, bound)
        base_row = base_table.iloc[0].to_dict()
        base_over = str(base_row["infeasible_reason"]).startswith("error ")
        if base_over:  # timed all the same: the speedup is over what the factory builds untuned
            base_row["feasible"], base_row["infeasible_reason"] = True, ""
        baseline, base_outcome = _confirm(declared, base_row, sims)
    if baseline.confirmed and not base_over:
        in_list = [c for c in confirmed if dict(c[0].config) == dict(baseline.config)]
        if not in_list:
            confirmed.append((baseline, *base_outcome))

    common = {
        "op_name": op_name,
        "shape": tuple(int(d) for d in shape),
        "device": str(space.fixed.get("device", device)),
        "dtype": str(space.fixed.get("dtype", dtype)),
        "baseline": baseline,
        "rejected": tuple(rejected),
        "space_size": space.size,
        "ranking": method,
        "feasible_points": feasible_points,
        "infeasible_reasons": infeasible_reasons(ranked),
        "max_error": bound,
    }
    if not confirmed:
        reasons = _verdict(ranked, rejected, feasible_points)
        return Recommendation(
            ok=False,
            config=None,
            cb_table=(),
            core_groups=(),
            compile_time_args=(),
            runtime_args=(),
            l1_bytes_per_core=None,
            l1_budget_bytes=None,
            kernel_duration_ns=None,
            des_kernel_duration_ns=None,
            bound=None,
            dram_roofline_ns=None,
            alternatives=(),
            speedup=None,
            reasons=reasons,
            wall_seconds=time.perf_counter() - wall0,
            **common,
        )

    confirmed.sort(key=lambda c: (c[0].des_kernel_duration_ns, c[0].l1_bytes_per_core, c[0].config["num_cores"]))
    best, program, report, result = confirmed[0]
    speedup = None
    if baseline.confirmed and best.des_kernel_duration_ns:
        speedup = baseline.des_kernel_duration_ns / best.des_kernel_duration_ns
    return Recommendation(
        ok=True,
        config=best.config,
        cb_table=tuple(_cb_entry(cb) for cb in program.cbs),
        core_groups=_core_groups(program),
        compile_time_args=_args_per_group(program, "compile_time_args"),
        runtime_args=_args_per_group(program, "runtime_args"),
        l1_bytes_per_core=program.l1_bytes_per_core,
        l1_budget_bytes=report.l1_budget_bytes,
        kernel_duration_ns=best.kernel_duration_ns,
        des_kernel_duration_ns=best.des_kernel_duration_ns,
        bound=result.bound,
        dram_roofline_ns=result.dram_roofline_ns,
        alternatives=tuple(c[0] for c in confirmed[1:]),
        speedup=speedup,
        wall_seconds=time.perf_counter() - wall0,
        max_abs_error=best.max_abs_error,
        max_ulp=best.max_ulp,
        **common,
    )


def _share_work(sims: Simulations, work: Sequence[tuple[SearchSpace, Mapping[str, Any]]]) -> None:
    """Before the outcome of `work[0]` is asked for (`work`: the candidates still needed if every one confirms,
    then the baseline), share the unsimulated points between this process and the helper: the helper takes
    them from the back, two at a time so that it never waits for this process, and this process from the
    front (it simulates the first one itself while the helper runs `work[0]`)."""
    unknown = [item for item in work if not sims.known(*item)]
    while len(unknown) >= 2 and sims.queued() < 2 and sims.start(*unknown[-1]):
        unknown.pop()
    if unknown and sims.pending(*work[0]):
        sims.outcome(*unknown[0])


def _confirm(space: SearchSpace, row: Mapping[str, Any], sims: Simulations) -> tuple[Candidate, tuple[Any, Any, Any]]:
    """A Candidate for an `estimate_many` row: checked and simulated when the analytic model finds it feasible;
    with its numerical error. `sims` holds the outcomes of the points already simulated in this call."""
    from perfmodel.tune.error import numerical_error

    candidate, outcome = _confirm_timed(space, row, sims)
    found = numerical_error(space, candidate.config)
    if found is not None:
        candidate = dataclasses.replace(candidate, max_abs_error=found.max_abs_error, max_ulp=found.max_ulp)
    return candidate, outcome


def _confirm_timed(
    space: SearchSpace, row: Mapping[str, Any], sims: Simulations
) -> tuple[Candidate, tuple[Any, Any, Any]]:
    evaluation = evaluation_of_row(space, row)
    config = {**evaluation.point, "num_cores": evaluation.num_cores}
    analytic_ns = evaluation.kernel_duration_ns if math.isfinite(evaluation.kernel_duration_ns) else None
    if not evaluation.feasible:
        candidate = Candidate(config, analytic_ns, None, evaluation.l1_bytes_per_core, None, False, evaluation.reason)
        return candidate, (None, None, None)
    reason, program, report, result = sims.outcome(space, evaluation.point)
    if result is None:
        candidate = Candidate(config, analytic_ns, None, evaluation.l1_bytes_per_core, None, False, reason)
        return candidate, (program, report, None)
    config["num_cores"] = program.num_cores
    candidate = Candidate(
        config, analytic_ns, result.kernel_duration_ns, program.l1_bytes_per_core, result.bound, True, ""
    )
    return candidate, (program, report, result)


def _verdict(ranked: Any, rejected: Sequence[Candidate], feasible_points: int) -> tuple[str, ...]:
    if feasible_points == 0:
        counts = infeasible_reasons(ranked)
        return tuple(f"no feasible point in the space: {n} x {reason}" for reason, n in counts.items())
    return tuple(f"candidate {dict(c.config)} rejected: {c.reason}" for c in rejected)


def _cb_entry(cb: Any) -> dict[str, Any]:
    return {
        "index": cb.index,
        "name": cb.name,
        "page_size": cb.page_size_bytes,
        "num_pages": cb.num_pages,
        "data_format": cb.data_format,
        "bytes": cb.total_bytes,
    }


def _core_groups(program: Any) -> tuple[dict[str, Any], ...]:
    groups = []
    for number, (ranges, units) in enumerate(program.core_groups, start=1):
        groups.append(
            {
                "group": number,
                "ranges": [[list(r.start), list(r.end)] for r in ranges],
                "num_cores": sum(r.num_cores for r in ranges),
                "units_per_core": units,
            }
        )
    return tuple(groups)


def _args_per_group(program: Any, which: str) -> tuple[dict[str, Any], ...]:
    """Per core group, the first core's arguments of every kernel."""
    out = []
    for group in sorted({c.group for c in program.cores}):
        first = next(c for c in program.cores if c.group == group)
        kernels = getattr(first, which)
        out.append({"group": group, "core": list(first.core), "kernels": {k: dict(v) for k, v in kernels.items()}})
    return tuple(out)
