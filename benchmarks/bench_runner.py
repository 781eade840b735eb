"""Throughput of the batched Bernoulli-LoRA runner against a per-run ``pinv`` loop (issue 6, speed part).

Run ``python benchmarks/bench_runner.py`` (full grid, a few minutes) or ``--quick`` (reduced grid, < 60 s).
Everything is measured in the same process: the machine's own large-matmul GFLOP/s, the batched runner
(:func:`verify.runner.run` with ``FullGradient``, a gaussian ``BernoulliProjector`` and ``ConstantStep(1/L)``)
and the reference loop of published experiment code, which forms ``H_B = B (BᵀB)^+ Bᵀ`` (or
``H_A = A_Sᵀ (A_S A_Sᵀ)^+ A_S``) with ``np.linalg.pinv`` for every run at every step, on the §7.1 problem
``nonconvex-reg``.  Timing lives here, never in unit tests; ``tests/test_benchmarks_smoke.py`` only checks
that the reference computes the same iterates as the runner.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

if __package__ in (None, ""):  # ``python benchmarks/bench_runner.py`` from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from verify import problems, sketch  # noqa: E402
from verify.estimators import FullGradient  # noqa: E402
from verify.projection import BernoulliProjector, estimate_expected_projection  # noqa: E402
from verify.runner import Algorithm, run  # noqa: E402
from verify.stepsizes import ConstantStep  # noqa: E402
from verify.suite import TIGHT, run_tasks  # noqa: E402

P_LEFT = 0.5


# ----------------------------------------------------------------------------------------------------
# The two implementations
# ----------------------------------------------------------------------------------------------------


def make_algorithm(problem: Any, r: int, p: float = P_LEFT) -> Algorithm:
    """Bernoulli-LoRA-GD with gaussian sketches on both sides and ``gamma = 1/L``."""
    gauss = sketch.make("gaussian")
    projector = BernoulliProjector(p=p, r=r, left=gauss, right=gauss)
    return Algorithm(FullGradient(), projector, ConstantStep(1.0 / problem.constants["L"].value))


def batched(problem: Any, r: int, runs: int, iters: int, seed: int = 0) -> np.ndarray:
    """The batched runner; returns ``f`` of shape (runs, iters + 1)."""
    return run(problem, make_algorithm(problem, r), runs, iters, np.random.default_rng(seed)).f


def pinv_reference(problem: Any, r: int, runs: int, iters: int, seed: int = 0,
                   p: float = P_LEFT) -> tuple[np.ndarray, np.ndarray]:
    """A straightforward per-run loop forming ``H`` with ``np.linalg.pinv`` at every step.

    The random stream is consumed exactly as :meth:`BernoulliProjector.draw` does (per step: ``runs``
    coins, then the left sketches of the runs with ``c = 1``, then the right sketches of the others), so
    for the same seed it follows the same sketches as :func:`batched`.  Per step and run it evaluates
    ``f`` and ``∇f`` (one run at a time) and applies ``H_B G`` or ``G H_A``.

    Returns
    -------
    W : ndarray, shape (runs, m, n)
        The final iterates.
    f : ndarray, shape (runs, iters + 1)
        ``f(W^t)``.
    """
    rng = np.random.default_rng(seed)
    m, n = problem.shape
    gamma = 1.0 / problem.constants["L"].value
    W = [np.array(problem.W0, dtype=float) for _ in range(runs)]
    f = np.empty((runs, iters + 1))
    for t in range(iters + 1):
        grads = []
        for i in range(runs):
            f[i, t] = problem.f(W[i][None])[0]
            grads.append(problem.grad(W[i][None])[0])
        if t == iters:
            break
        left = rng.random(runs) < p
        B = rng.standard_normal((int(left.sum()), m, r))
        A = rng.standard_normal((runs - int(left.sum()), n, r)).transpose(0, 2, 1)
        iB = iA = 0
        for i in range(runs):
            if left[i]:
                Bi = B[iB]
                iB += 1
                H = Bi @ np.linalg.pinv(Bi.T @ Bi) @ Bi.T
                W[i] = W[i] - gamma * (H @ grads[i])
            else:
                Ai = A[iA]
                iA += 1
                H = Ai.T @ np.linalg.pinv(Ai @ Ai.T) @ Ai
                W[i] = W[i] - gamma * (grads[i] @ H)
    return np.stack(W), f


# ----------------------------------------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------------------------------------


def _best_time(fn: Callable[[], Any], repeat: int = 2) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(size: int = 2048, repeat: int = 3) -> float:
    """GFLOP/s of one ``size×size`` float64 matmul (best of ``repeat``): the machine's practical peak."""
    a = np.random.default_rng(0).standard_normal((size, size))
    a @ a
    return 2 * size**3 / _best_time(lambda: a @ a, repeat) / 1e9


def flops_per_step(problem: Any, r: int) -> float:
    """Matmul flops of one runner step for one run: projection ``4 m n r``, sketch QR ``≈ 4 d r²``
    (``d`` the sketched side, averaged over the coin) and the gradient ``2 (mn)²``; plus ``2 k mn`` for
    ``f(W^t)`` (``k`` the rows of the Gram root) unless the problem has ``value_and_grad``, whose value
    reuses the gradient's product (``f`` at the average iterate is evaluated only for the measure that
    needs it, not here)."""
    m, n = problem.shape
    d = m * n
    value = 0 if hasattr(problem, "value_and_grad") else 2 * problem.root.shape[0] * d
    return 4 * m * n * r + 2 * (m + n) * r * r + 2 * d * d + value


@dataclass(frozen=True)
class Row:
    size: str
    r: int
    runs: int
    iters: int
    batched_rate: float
    reference_rate: float
    gflops: float

    @property
    def speedup(self) -> float:
        return self.batched_rate / self.reference_rate


def measure(problem: Any, r: int, runs: int, iters: int, reference_runs: int, reference_iters: int) -> Row:
    """Seed-iterations per second of both implementations, and the runner's GFLOP/s.

    The per-run loop's cost is linear in the number of runs, so it is timed on ``min(runs,
    reference_runs)`` runs and its rate (seed-iterations / s) is reported for ``runs``.
    """
    batched(problem, r, runs, 1)  # warm-up
    t_b = _best_time(lambda: batched(problem, r, runs, iters), repeat=3)
    ref_runs = min(runs, reference_runs)
    t_r = _best_time(lambda: pinv_reference(problem, r, ref_runs, reference_iters), repeat=2)
    m, n = problem.shape
    return Row(f"{m}x{n}", r, runs, iters, runs * iters / t_b, ref_runs * reference_iters / t_r,
               flops_per_step(problem, r) * runs * iters / t_b / 1e9)


def linear_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares ``y ≈ slope x + intercept``; returns ``(slope, intercept, max relative residual)``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept), float(np.max(np.abs(slope * x + intercept - y) / y))


def scaling(problem: Any, r: int, Ts: Sequence[int], Rs: Sequence[int], T_fixed: int, R_fixed: int) -> dict:
    """Time of the runner vs ``T`` (at ``R_fixed`` runs) and vs ``R`` (at ``T_fixed`` steps), with fits."""
    batched(problem, r, R_fixed, 1)
    tT = [_best_time(lambda T=T: batched(problem, r, R_fixed, T)) for T in Ts]
    tR = [_best_time(lambda R=R: batched(problem, r, R, T_fixed)) for R in Rs]
    return {"T": (list(Ts), tT, linear_fit(Ts, tT)), "R": (list(Rs), tR, linear_fit(Rs, tR))}


def lambda_mc(d: int = 1024, r: int = 8, samples: int = 10_000) -> tuple[float, float]:
    """Seconds for :func:`estimate_expected_projection` (gaussian, ``d``, ``r``, ``samples``) and ``λ_min(Ê)``."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    est = estimate_expected_projection(sketch.make("gaussian"), d, r, samples, rng)
    return time.perf_counter() - start, float(est.eigenvalues[0])


def blocks_cost(runs: int, block_sizes: Sequence[int], jobs: int = 2, iters: int = 200) -> list[tuple[int, int, float]]:
    """Seconds for gd-pl's tight check (least squares, r = 2) with ``runs`` runs cut into blocks of each size,
    in this process and on ``jobs`` local processes (:func:`verify.suite.run_tasks`): ``(size, jobs, s)``."""
    spec = replace(TIGHT["gd-pl"], runs=runs, iters=iters)
    out = []
    for size in block_sizes:
        for workers in sorted({1, jobs}):
            specs = [replace(spec, block_runs=size)]
            start = time.perf_counter()
            outcome = run_tasks(specs, 1e-3, 0, jobs=workers)
            assert not outcome.failures and outcome.tasks == -(-runs // size)
            out.append((size, workers, time.perf_counter() - start))
    return out


# ----------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------

#: (problem spec, iterations of the runner, iterations of the reference, max runs of the reference)
FULL = [
    ("nonconvex-reg:m=16,n=16", 100, 20, 64),
    ("nonconvex-reg:m=32,n=32", 20, 5, 32),
    ("nonconvex-reg:m=64,n=64,N=128", 5, 2, 8),
]
QUICK = [
    ("nonconvex-reg:m=16,n=16", 40, 20, 16),
    ("nonconvex-reg:m=32,n=32", 10, 4, 8),
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced grid, under a minute")
    args = parser.parse_args(argv)
    grid = QUICK if args.quick else FULL
    runs_grid = (1, 64, 256)
    ranks = (1, 4)

    peak = matmul_gflops()
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"machine: {os.cpu_count()} cores, numpy {np.__version__}, OPENBLAS_NUM_THREADS={threads}; "
          f"2048x2048 float64 matmul: {peak:.1f} GFLOP/s\n")
    print(f"{'problem':>8} {'r':>2} {'runs':>5} {'T':>4} {'batched it/s':>13} {'pinv it/s':>10} "
          f"{'speedup':>8} {'GFLOP/s':>8} {'% matmul':>8}")
    for spec, iters, ref_iters, ref_runs in grid:
        start = time.perf_counter()
        problem = problems.make(spec)
        built = time.perf_counter() - start
        print(f"# {spec}: built in {built:.1f} s (N = {problem.N})")
        for r in ranks:
            for runs in runs_grid:
                row = measure(problem, r, runs, iters, ref_runs, ref_iters)
                print(f"{row.size:>8} {row.r:>2} {row.runs:>5} {row.iters:>4} {row.batched_rate:>13.1f} "
                      f"{row.reference_rate:>10.1f} {row.speedup:>7.1f}x {row.gflops:>8.2f} "
                      f"{100 * row.gflops / peak:>7.1f}%", flush=True)

    problem = problems.make("nonconvex-reg:m=16,n=16")
    if args.quick:
        sc = scaling(problem, 4, Ts=(10, 20, 40), Rs=(32, 64, 128), T_fixed=10, R_fixed=64)
    else:
        sc = scaling(problem, 4, Ts=(10, 20, 40, 80), Rs=(32, 64, 128, 256), T_fixed=20, R_fixed=64)
    print("\nlinearity (16x16, r = 4): time = slope * x + intercept")
    for key, unit in (("T", "s/step at R=64"), ("R", "s/run")):
        xs, ts, (slope, intercept, resid) = sc[key]
        pts = ", ".join(f"{x}: {t * 1e3:.1f} ms" for x, t in zip(xs, ts, strict=True))
        print(f"  vs {key}: {pts}; slope {slope * 1e3:.3f} m{unit}, intercept {intercept * 1e3:.1f} ms, "
              f"max rel. residual {100 * resid:.1f}%")

    runs = 512 if args.quick else 4096
    print(f"\nblocks of runs (gd-pl tight check, {runs} runs x 200 steps; wall time incl. start-up of the workers)")
    for size, workers, secs in blocks_cost(runs, (runs, runs // 8)):
        print(f"  block runs {size:>5} ({-(-runs // size)} tasks), jobs {workers}: {secs:.2f} s")

    secs, lam = lambda_mc(samples=2_000 if args.quick else 10_000)
    samples = 2_000 if args.quick else 10_000
    print(f"\nlambda_min Monte Carlo (gaussian, n = 1024, r = 8, {samples} samples): {secs:.2f} s "
          f"(lambda_min(E_hat) = {lam:.5f}, exact r/n = {8 / 1024:.5f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
