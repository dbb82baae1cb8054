"""`perfmodel tune`: an optuna study over the op's configurations; best configuration or Pareto front."""

from __future__ import annotations

import argparse

from perfmodel.cli.common import add_problem_arguments, add_restrict_argument, emit_json, parse_restrict, parse_shape


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tune", help="optuna study over the op's factory configurations")
    add_problem_arguments(parser, dtype_help="bfloat16 or float32")
    parser.add_argument("--trials", type=int, required=True, help="trials the study should reach (finished ones count)")
    parser.add_argument("--backend", default="analytic", help="analytic (default) or des (the simulator)")
    parser.add_argument(
        "--objectives",
        default="time",
        help="comma-separated: time, cores, l1_bytes, error (max abs error), ulp (max ULP) (default: time)",
    )
    add_restrict_argument(parser)
    parser.add_argument(
        "--storage", default=None, help="sqlite:///FILE.db, postgresql://..., journal:///FILE.log (default: memory)"
    )
    parser.add_argument("--study", default=None, help="study name (default: derived from the problem)")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (default: 0)")
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--json", action="store_true", help="machine-readable output (with every trial)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from perfmodel.space import search_space
    from perfmodel.tune import tune

    shape = parse_shape(args.shape)
    space = None
    if args.restrict:
        space = parse_restrict(search_space(args.op, shape, device=args.device, dtype=args.dtype), args.restrict)
    result = tune(
        args.op,
        shape,
        space=space,
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        n_trials=args.trials,
        objectives=[o.strip() for o in args.objectives.split(",")],
        storage=args.storage,
        study_name=args.study,
        seed=args.seed,
        timeout=args.timeout,
    )
    if args.json:
        emit_json(result.to_dict())
        return 0 if result.ok else 1
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(result.trial_counts.items()))
    evaluations = ", ".join(f"{n} {engine}" for engine, n in result.evaluations.items() if n)
    print(
        f"{result.op_name} {list(result.shape)} {result.dtype} on {result.device}: study {result.study_name!r}"
        f" in {result.storage}"
    )
    print(
        f"  trials: {counts}; {result.feasible_trials} feasible, {result.infeasible_trials} infeasible;"
        f" this run evaluated {evaluations or 'nothing'} ({result.cache_hits} repeats from the cache)"
    )
    for reason, n in result.infeasible_reasons.items():
        print(f"  infeasible: {n} x {reason}")
    if not result.ok:
        print("  NO FEASIBLE CONFIGURATION found")
        return 1
    label = "best" if len(result.objectives) == 1 else "Pareto front"
    print(f"  {label} ({', '.join(result.objectives)}; backend {result.backend}):")
    for entry in result.pareto_front:
        values = ", ".join(_value(name, v) for name, v in zip(result.objectives, entry.values, strict=True))
        knobs = " ".join(f"{k}={v}" for k, v in entry.config.items())
        print(f"    {values}: {knobs} (trial {entry.trial})")
    return 0


def _value(name: str, value: float) -> str:
    if name == "time":
        return f"{value / 1000:,.2f} us"
    if name == "l1_bytes":
        return f"{value:,.0f} B L1"
    if name == "error":
        return f"max abs error {value:.3g}"
    if name == "ulp":
        return f"{value:.0f} ULP"
    return f"{value:.0f} {name}"
