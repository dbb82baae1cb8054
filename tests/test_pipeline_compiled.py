"""The compiled pipeline evaluation (`pipeline_fast`, `pipeline_kernels`) against the plain one, on random
pipelines: chains of kernels joined by CBs pushed and popped in random chunks, a CB filled once by a
prologue, random capacities (too small ones hang), bandwidth shares, rate bounds and lockstep units."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfmodel.analytic import pipeline_kernels
from perfmodel.analytic.pipeline import pipeline_times
from perfmodel.analytic.signature import KernelStages, Node, StageSignature

CONSTANT_CB = 99  # filled once by the first kernel's prologue, waited on by the last kernel every unit


def _chunks(draw, total: int) -> list[int]:
    """A random composition of `total` pages into calls."""
    cuts = sorted(draw(st.sets(st.integers(1, total - 1), max_size=total - 1))) if total > 1 else []
    edges = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(edges)]


@st.composite
def pipelines(draw):
    n_kernels = draw(st.integers(2, 4))
    totals = [draw(st.integers(1, 6)) for _ in range(n_kernels - 1)]  # pages per unit on each link
    produce = [_chunks(draw, t) for t in totals]
    consume = [_chunks(draw, t) for t in totals]
    constant = draw(st.booleans())
    structure = []
    for k in range(n_kernels):
        calls_in = [("wait", k - 1, c) for c in consume[k - 1]] if k > 0 else []
        calls_out = [("reserve", k, c) for c in produce[k]] if k < n_kernels - 1 else []
        # Interleave the kernel's input and output calls in a random order (each list keeps its own order).
        merged, a, b = [], 0, 0
        while a < len(calls_in) or b < len(calls_out):
            take_in = b == len(calls_out) or (a < len(calls_in) and draw(st.booleans()))
            if take_in:
                call, cb, pages = calls_in[a]
                merged += [(call, cb, pages), ("pop", cb, pages)]
                a += 1
            else:
                call, cb, pages = calls_out[b]
                merged += [(call, cb, pages), ("push", cb, pages)]
                b += 1
        if constant and k == n_kernels - 1:
            merged.insert(0, ("wait", CONSTANT_CB, 1))
        structure.append(merged)
    n_sigs = draw(st.integers(1, 3))
    # Works that round when added (so an operation done in another order shows), and zeros (ties).
    work = st.one_of(st.just(0.0), st.floats(0.1, 500.0, allow_nan=False, allow_infinity=False))
    works = [[[draw(work) for _ in calls] for calls in structure] for _ in range(n_sigs)]
    # The kernels' order in the signature: a consumer listed before its producer is evaluated first in a unit.
    position = draw(st.permutations(range(n_kernels)))
    return n_kernels, totals, structure, constant, works, position


def _signature(structure, constant, works, position, moves_bytes: bool) -> StageSignature:
    kernels = []
    for k, calls in enumerate(structure):
        name = f"k{k}"
        body = tuple(
            Node(
                name,
                call,
                cb,
                pages,
                work,
                read_bytes=64.0 * pages if (moves_bytes and k == 0) else 0.0,
                write_bytes=64.0 * pages if (moves_bytes and k == len(structure) - 1) else 0.0,
                dram_fixed_cycles=5.0 if moves_bytes else 0.0,
            )
            for (call, cb, pages), work in zip(calls, works[k], strict=True)
        )
        prologue = ()
        if constant and k == 0:
            prologue = (Node(name, "reserve", CONSTANT_CB, 1, 3.0), Node(name, "push", CONSTANT_CB, 1, 2.0))
        kernels.append(KernelStages(name, k % 2, prologue, 4.1, body, 2.3 + k, 6.7, 0.0, 0.0))
    return StageSignature(
        device="synthetic",
        kernels=tuple(kernels[k] for k in position),
        cross_cbs=tuple(range(len(structure) - 1)),
        read_bytes_per_unit=0.0,
        write_bytes_per_unit=0.0,
        read_packets_per_unit=0,
        write_packets_per_unit=0,
        setup_cycles=11.3,
        first_read_cycles=0.0,
        last_write_cycles=0.0,
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipeline=pipelines(), seed=st.integers(0, 2**32 - 1), options=st.integers(0, 7))
def test_compiled_pipeline_equals_plain(pipeline, seed: int, options: int, same_pipeline_times) -> None:
    n_kernels, totals, structure, constant, works, position = pipeline
    shared, rated, lockstep = bool(options & 1), bool(options & 2), bool(options & 4)
    sigs = [_signature(structure, constant, w, position, moves_bytes=shared) for w in works]
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 40))
    which = rng.integers(0, len(sigs), rows)
    units = rng.integers(0, 70, rows)
    biggest = [
        max(
            max(c for call, cb, c in calls if cb == link)
            for calls in structure
            if any(cb == link for _, cb, _ in calls)
        )
        for link in range(n_kernels - 1)
    ]
    # From below the largest reservation (a hang) to several units' worth, and now and then far more than a
    # run needs (a reservation that never waits within the explicit horizon).
    capacities = {
        link: np.where(
            rng.random(rows) < 0.1,
            float(40 * totals[link]),
            rng.integers(max(biggest[link] - 1, 0), 3 * totals[link] + 2, rows).astype(float),
        )
        for link in range(n_kernels - 1)
    }
    names = [f"k{k}" for k in range(n_kernels)]
    shares = {(k, d): rng.choice([0.25, 2.0, 64.0], rows) for k in names for d in ("read", "write")} if shared else None
    rates = {k: rng.choice([0.0, 15.0, 400.0], rows) for k in names} if rated else None
    lockstep_units = int(rng.integers(1, 5)) if lockstep else None
    same_pipeline_times(*both_times(sigs, which, units, capacities, shares, rates, lockstep_units))


def both_times(sigs, which, units, capacities, shares=None, rates=None, lockstep_units=None) -> tuple:
    """(the compiled evaluation, the plain one), which `same_pipeline_times` holds equal."""
    return tuple(
        pipeline_times(
            sigs,
            which,
            units,
            capacities,
            share_bytes_per_cycle=shares,
            rate_cycles=rates,
            lockstep_units=lockstep_units,
            reference=reference,
        )
        for reference in (False, True)
    )


def test_a_release_read_after_the_same_unit_overwrote_a_shorter_ring(same_pipeline_times) -> None:
    """The consumer listed first pops chunk a of unit k before the producer's second reservation reads chunk a
    of unit k - 1: the ring of the last units must hold both."""
    structure = [
        [("reserve", 0, 1), ("push", 0, 1), ("reserve", 0, 1), ("push", 0, 1)],
        [("wait", 0, 1), ("pop", 0, 1), ("wait", 0, 1), ("pop", 0, 1)],
    ]
    works = [[[3.0, 1.0, 2.5, 1.0], [0.5, 7.0, 0.25, 9.0]]]
    sigs = [_signature(structure, False, w, (1, 0), moves_bytes=False) for w in works]
    rows = 6
    units = np.array([1, 5, 24, 40, 60, 100])
    same_pipeline_times(*both_times(sigs, np.zeros(rows, dtype=np.int64), units, {0: np.full(rows, 3.0)}))


def test_release_kernel_matches_plain_release() -> None:
    """The compiled release search (binary search per row) picks the same node and shift as the plain one."""
    from perfmodel.analytic.pipeline import _release

    rng = np.random.default_rng(3)
    for _ in range(200):
        count, rows = int(rng.integers(1, 6)), 8
        pages = rng.integers(1, 4, (count, rows)).astype(float)
        cum = np.cumsum(pages, axis=0)
        need = rng.integers(-10, 20, rows).astype(float)
        nodes = list(range(10, 10 + count))
        want_node, want_shift = _release(0, nodes, cum, need, bool(np.all(cum == cum[:, :1])))
        for r in range(rows):
            node, shift = pipeline_kernels._release(np.asarray(nodes), cum, 0, count, need[r], r)
            assert (node, shift) == (want_node[r], want_shift[r])


def test_without_a_writable_cache_the_kernels_compile_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only install with no writable cache directory: numba refuses `cache=True`; the kernel is then
    compiled without a disk cache and still computes."""
    import numba

    real = numba.njit
    asked = []

    def refusing(*args, **kwargs):
        asked.append(kwargs.get("cache"))
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", refusing)

    def add(a: float, b: float) -> float:
        return a + b

    compiled = pipeline_kernels._compiled(add)
    assert asked == [True, False]
    assert compiled(1.5, 2.0) == 3.5


def test_estimate_many_runs_where_numba_can_cache_nothing(tmp_path) -> None:
    """A read-only install with no writable cache directory: numba finds no cache location (here: a locator
    that never finds one), the kernels are compiled in the process, and the figures are the same."""
    import json
    import os
    import subprocess
    import sys

    (tmp_path / "nowhere.py").write_text(
        "class Nowhere:\n    @classmethod\n    def from_function(cls, py_func, py_file):\n        return None\n"
    )
    code = (
        "import json, perfmodel\n"
        "from perfmodel.space import search_space\n"
        "space = search_space('centralize_w_rm', (1, 1, 64, 1024), device='wormhole_b0_n150')\n"
        "table = space.only('grid_x', 'in_buffering').table()\n"
        "out = perfmodel.estimate_many('centralize_w_rm', table)\n"
        "print(json.dumps(out['kernel_duration_ns'].tolist()))"
    )
    env = {
        **os.environ,
        "NUMBA_CACHE_LOCATOR_CLASSES": "nowhere.Nowhere",
        "NUMBA_CACHE_DIR": "",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "PERFMODEL_CACHE_DIR": "off",
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    import perfmodel
    from perfmodel.space import search_space

    space = search_space("centralize_w_rm", (1, 1, 64, 1024), device="wormhole_b0_n150")
    want = perfmodel.estimate_many("centralize_w_rm", space.only("grid_x", "in_buffering").table())
    assert json.loads(done.stdout) == want["kernel_duration_ns"].tolist()
