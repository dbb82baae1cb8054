"""`perfmodel recommend`: the configuration to build, its simulated time against the default, its CBs and split."""

from __future__ import annotations

import argparse
import math

from perfmodel.cli.common import add_problem_arguments, add_restrict_argument, emit_json, parse_restrict, parse_shape


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("recommend", help="the factory configuration to build, confirmed by the simulator")
    add_problem_arguments(parser, dtype_help="bfloat16 or float32")
    parser.add_argument("--top-k", type=int, default=5, help="candidates confirmed by the simulator (default: 5)")
    parser.add_argument(
        "--max-error",
        type=_bound,
        default=None,
        help="largest max abs error a recommended configuration may have (default: the op's tolerance; inf: none)",
    )
    add_restrict_argument(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def _knobs(config: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in config.items() if k != "num_cores")


def _bound(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number >= 0")
    return value


def _err(error: float | None, ulp: int | None) -> str:
    if error is None:
        return "-"
    return f"{error:.3g}" + ("" if ulp is None else f" ({ulp} ULP)")


def _us(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1000:,.2f} us"


def run(args: argparse.Namespace) -> int:
    from perfmodel.space import search_space
    from perfmodel.tune import recommend

    shape = parse_shape(args.shape)
    space = None
    if args.restrict:
        space = parse_restrict(search_space(args.op, shape, device=args.device, dtype=args.dtype), args.restrict)
    rec = recommend(
        args.op,
        shape,
        device=args.device,
        dtype=args.dtype,
        top_k=args.top_k,
        space=space,
        max_error=args.max_error,
    )
    if args.json:
        emit_json(rec.to_dict())
        return 0 if rec.ok else 1
    d = rec.to_dict()
    head = f"{rec.op_name} {list(rec.shape)} {rec.dtype} on {rec.device}"
    if not rec.ok:
        print(f"NO CONFIGURATION: {head}: nothing in the {rec.space_size} points of the space fits")
        for reason in rec.reasons:
            print(f"  {reason}")
        return 1
    base = d["baseline"]
    print(f"{head}: {_knobs(d['config'])} ({d['config']['num_cores']} cores)")
    speedup = f"{rec.speedup:.2f}x" if rec.speedup else "-"
    print(
        f"  simulated {_us(rec.des_kernel_duration_ns)} vs {_us(base['des_kernel_duration_ns'])} for the default"
        f" ({_knobs(base['config'])}): {speedup}"
    )
    if not base["confirmed"]:
        print(f"  the default does not run: {base['reason']}")
    print(f"  analytic  {_us(rec.kernel_duration_ns)} vs {_us(base['kernel_duration_ns'])}")
    if rec.max_abs_error is not None:
        bound = "none" if rec.max_error is None or math.isinf(rec.max_error) else f"{rec.max_error:g}"
        print(
            f"  max abs error {_err(rec.max_abs_error, rec.max_ulp)} vs {_err(base['max_abs_error'], base['max_ulp'])}"
            f" for the default (bound {bound})"
        )
    assert rec.dram_roofline_ns and rec.des_kernel_duration_ns
    print(
        f"  DRAM roofline {_us(rec.dram_roofline_ns)} ({rec.des_kernel_duration_ns / rec.dram_roofline_ns:.2f}x of it),"
        f" bound: {rec.bound}; L1 {rec.l1_bytes_per_core:,} of {rec.l1_budget_bytes:,} B per core"
    )
    print("  circular buffers (every core):")
    for cb in rec.cb_table:
        print(
            f"    c_{cb['index']:<3} {cb['name']:<16} {cb['num_pages']:>5} pages x {cb['page_size']:>6} B"
            f" = {cb['bytes']:>8} B  {cb['data_format']}"
        )
    print("  core groups (split_work_to_cores):")
    for group in d["core_groups"]:
        ranges = ", ".join(f"CoreRange({{{a[0]}, {a[1]}}}, {{{b[0]}, {b[1]}}})" for a, b in group["ranges"])
        print(f"    group {group['group']}: {ranges}: {group['num_cores']} cores x {group['units_per_core']} units")
    for ct, rt in zip(d["compile_time_args"], d["runtime_args"], strict=True):
        print(f"  group {ct['group']}, first core {tuple(ct['core'])}:")
        for kernel, values in ct["kernels"].items():
            runtime = rt["kernels"].get(kernel, {})
            print(f"    {kernel:<8} compile-time {_args(values)}; runtime {_args(runtime)}")
    if rec.alternatives:
        print("  alternatives (simulated / analytic, max abs error):")
        for alt in rec.alternatives:
            times = f"{_us(alt.des_kernel_duration_ns)} / {_us(alt.kernel_duration_ns)}"
            print(f"    {_knobs(dict(alt.config))}: {times}, {_err(alt.max_abs_error, alt.max_ulp)}")
    return 0


def _args(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"
