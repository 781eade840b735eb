"""Smoke test of benchmarks/bench_runner.py: the per-run pinv reference follows the batched runner.

Timing is never asserted here (it lives in ``benchmarks/``); this checks that the reference the speedups
are measured against computes the same thing, and that the benchmark functions run on a tiny grid.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_module import loaded

from verify import problems
from verify.runner import run


@pytest.fixture(scope="module")
def bench():
    with loaded("bench_runner") as module:
        yield module


@pytest.fixture(scope="module")
def problem():
    return problems.make("nonconvex-reg:m=6,n=5,N=40")


@pytest.mark.parametrize("r", [1, 3])
def test_pinv_reference_matches_batched_runner(bench, problem, r):
    """Same seed, same sketches: the pinv loop and the batched runner give the same W^T and f(W^t)."""
    runs, iters, seed = 9, 7, 5
    trace = run(problem, bench.make_algorithm(problem, r), runs, iters, np.random.default_rng(seed),
                snapshot_at=(iters,))
    W_ref, f_ref = bench.pinv_reference(problem, r, runs, iters, seed=seed)
    W_T = trace.snapshots[iters][0]
    assert np.abs(W_T - problem.W0).max() > 1e-3  # the runs moved, so the comparison is not vacuous
    np.testing.assert_allclose(W_ref, W_T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(f_ref, trace.f, rtol=1e-10)
    np.testing.assert_allclose(bench.batched(problem, r, runs, iters, seed=seed), trace.f, rtol=0, atol=0)


def test_pinv_reference_detects_a_different_seed(bench, problem):
    """Metamorphic: another seed draws other sketches, so the iterates differ."""
    W_a, _ = bench.pinv_reference(problem, 2, 3, 4, seed=0)
    W_b, _ = bench.pinv_reference(problem, 2, 3, 4, seed=1)
    assert np.abs(W_a - W_b).max() > 1e-6


def test_benchmark_functions_on_tiny_grid(bench, problem):
    row = bench.measure(problem, 2, runs=4, iters=3, reference_runs=2, reference_iters=2)
    assert row.batched_rate > 0 and row.reference_rate > 0 and row.gflops > 0
    m, n = problem.shape
    d = m * n
    # f comes with the gradient's product (value_and_grad): one d x d product per step
    assert bench.flops_per_step(problem, 2) == 4 * m * n * 2 + 2 * (m + n) * 4 + 2 * d * d
    sc = bench.scaling(problem, 1, Ts=(2, 4), Rs=(2, 4), T_fixed=2, R_fixed=2)
    assert sc["T"][0] == [2, 4] and len(sc["R"][1]) == 2
    slope, intercept, resid = bench.linear_fit([1, 2, 3], [3.0, 5.0, 7.0])
    assert slope == pytest.approx(2.0) and intercept == pytest.approx(1.0) and resid < 1e-12
    costs = bench.blocks_cost(8, (8, 4), jobs=1, iters=3)
    assert [(size, jobs) for size, jobs, _ in costs] == [(8, 1), (4, 1)]
    secs, lam = bench.lambda_mc(d=16, r=2, samples=200)
    assert secs > 0 and 0 < lam <= 2 / 16
