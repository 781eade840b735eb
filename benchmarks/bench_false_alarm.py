r"""False-alarm rate of the **violated** verdict on instances where the bound is attained (issue 11).

On each instance below the theorem's inequality holds with equality somewhere (the end-to-end bound at
some checkpoint, or the one-step inequality at every state), so every "violated" verdict is a false alarm.
A check at family-wise level α must say "violated" for at most a fraction α of root seeds.  For every
instance and α the benchmark runs the check for ``--seeds`` root seeds (0, 1, …), counts the violated
verdicts, splits them by what decided them (the end-to-end checkpoints or the one-step check) and gives
the exact (Clopper–Pearson) 95 % binomial interval of the rate.  Target: no interval lies above α.

The other side of the same rule is **power**: ``--power`` runs every theorem's tight instance
(:data:`verify.suite.TIGHT`) at the per-check level of the default ``verify run`` (family-wise 1e-3 over the
suite's checks) and, with the same random numbers, concludes it against the bound scaled to 0.95/slack and
0.9/slack (the slack of that seed): the fraction of seeds turned to violated.

Run ``python benchmarks/bench_false_alarm.py`` (4000 seeds per cell, about half an hour on 2 cores) or
``--seeds 200`` for a quick look; ``--jobs`` sets the worker processes (one BLAS thread each).  The tables
are Markdown, pasted into ``benchmarks/README.md``.  ``tests/test_false_alarm.py`` (slow-marked) runs a
smaller version.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

if __package__ in (None, ""):  # ``python benchmarks/bench_false_alarm.py`` from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scipy import stats as sps  # noqa: E402

from verify.check import CheckSpec, conclude, prepare, run_block, with_scale  # noqa: E402
from verify.suite import BUILTIN, TIGHT  # noqa: E402

#: The per-check level of a default ``verify run``: family-wise 1e-3 split over the built-in checks.
SUITE_ALPHA = 1e-3 / len(BUILTIN)
SCALES = (0.95, 0.9)


@dataclass(frozen=True)
class Instance:
    """An attained instance: a label, the check, and where its equality lies."""

    label: str
    spec: CheckSpec
    attained: str


def instances(runs: Sequence[int] = (8, 16, 256)) -> list[Instance]:
    """The attained instances of issue 11: gd-pl and gd-nc on the isotropic quadratic, one non-smooth one.

    * ``gd-pl``, isotropic quadratic, γ = 1/L: E[f(W^T) − f*] = (1 − λ_min^p)^T Δ0 exactly, at every T,
      and the one-step inequality is an equality at every state.
    * ``gd-nc``, same problem: the one-step inequality E_t f(W^{t+1}) = f(W^t) − (γ λ_min^p/2)‖∇f‖² is an
      equality (the end-to-end bound is 1/(1 − (1−λ)^T) ≈ 1.13 above the mean at T = 20).
    * ``ns-polyak``, ``norm-distance``: the Polyak step's one-step inequality is an equality.
    """
    out = []
    for R in runs:
        out.append(Instance(f"gd-pl isotropic r=1 R={R}",
                            CheckSpec("gd-pl", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=R, iters=20),
                            "bound and one-step"))
        out.append(Instance(f"gd-nc isotropic r=1 R={R}",
                            CheckSpec("gd-nc", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=R, iters=20),
                            "one-step"))
    out.append(Instance("ns-polyak norm-distance r=2 R=16",
                        CheckSpec("ns-polyak", "norm-distance", "gaussian", p=0.5, r=2, runs=16, iters=20),
                        "one-step"))
    return out


def _count(args: tuple[CheckSpec, Sequence[float], range]) -> dict[float, tuple[int, int]]:
    """For each α: (violated verdicts, of which decided by the one-step check) over the seeds."""
    spec, alphas, seeds = args
    prep = prepare(spec)
    counts = {a: [0, 0] for a in alphas}
    for seed in seeds:
        block = run_block(prep, seed, 0)
        for a in alphas:
            res = conclude(prep, seed, a, [block])
            if res.verdict == "violated":
                counts[a][0] += 1
                counts[a][1] += res.reason.startswith("one-step")
    return {a: (c[0], c[1]) for a, c in counts.items()}


def measure(inst: Instance, alphas: Sequence[float], seeds: int, jobs: int) -> dict[float, tuple[int, int]]:
    """Violated counts of one instance over root seeds 0 … seeds−1, split over ``jobs`` processes."""
    chunks = [range(s, min(s + 50, seeds)) for s in range(0, seeds, 50)]
    total = {a: [0, 0] for a in alphas}
    with ProcessPoolExecutor(jobs) as pool:
        for part in pool.map(_count, [(inst.spec, alphas, c) for c in chunks]):
            for a, (v, one) in part.items():
                total[a][0] += v
                total[a][1] += one
    return {a: (v[0], v[1]) for a, v in total.items()}


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact two-sided binomial confidence interval of a rate k/n."""
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def _power(args: tuple[CheckSpec, range]) -> tuple[list[float], dict[float, int]]:
    """Slacks over the seeds, and for each scale s how often the bound times s/slack is violated."""
    spec, seeds = args
    prep = prepare(spec)
    slacks, hits = [], {s: 0 for s in SCALES}
    for seed in seeds:
        block = [run_block(prep, seed, 0)]
        res = conclude(prep, seed, SUITE_ALPHA, block)
        slacks.append(res.slack)
        for s in SCALES:
            scaled = replace(prep, spec=with_scale(spec, s / res.slack))
            hits[s] += conclude(scaled, seed, SUITE_ALPHA, block).verdict == "violated"
    return slacks, hits


def power_table(seeds: int, jobs: int) -> None:
    """Print the power table of the tight instances (see the module docstring)."""
    print("| theorem | instance | seeds | median slack | violated at 0.95/slack | violated at 0.9/slack |")
    print("|---|---|---|---|---|---|")
    with ProcessPoolExecutor(jobs) as pool:
        outcomes = pool.map(_power, [(s, range(seeds)) for s in TIGHT.values()])
        for thm, (slacks, hits) in zip(TIGHT, outcomes, strict=True):
            spec = TIGHT[thm]
            med = sorted(slacks)[len(slacks) // 2]
            print(f"| {thm} | {spec.problem} r={spec.r} R={spec.runs} T={spec.iters} | {seeds} | {med:.3g} "
                  f"| {hits[0.95]}/{seeds} | {hits[0.9]}/{seeds} |", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4000)
    parser.add_argument("--alpha", type=float, action="append", help="family-wise level(s) (default 0.05, 0.01)")
    parser.add_argument("--runs", type=int, action="append", help="runs R per check (default 8, 16, 256)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--instance", action="append", metavar="TEXT",
                        help="only the instances whose label contains TEXT (repeatable)")
    parser.add_argument("--power", action="store_true", help="the power table of the tight instances instead")
    args = parser.parse_args(argv)
    if args.power:
        power_table(args.seeds, args.jobs)
        return 0
    alphas = args.alpha or [0.05, 0.01]
    print("| instance | equality | α | seeds | violated | of which one-step | rate | 95 % interval | ≤ α |")
    print("|---|---|---|---|---|---|---|---|---|")
    bad = 0
    chosen = [i for i in instances(args.runs or (8, 16, 256))
              if not args.instance or any(text in i.label for text in args.instance)]
    for inst in chosen:
        t0 = time.perf_counter()
        counts = measure(inst, alphas, args.seeds, args.jobs)
        for a in alphas:
            k, one = counts[a]
            lo, hi = clopper_pearson(k, args.seeds)
            ok = lo <= a
            bad += not ok
            print(f"| {inst.label} | {inst.attained} | {a:g} | {args.seeds} | {k} | {one} | {k / args.seeds:.4f} "
                  f"| [{lo:.4f}, {hi:.4f}] | {'yes' if ok else '**no**'} |", flush=True)
        print(f"<!-- {inst.label}: {time.perf_counter() - t0:.0f} s -->", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
