r"""Search each smooth theorem's instance family for the one on which the exact oracle sees the smallest errors.

For every candidate (problem parameters, spectrum κ, noise, p, r, m ≠ n, estimator parameters q, b′, b,
compressor k, clients M, horizon T) the exact expectation ``E[measure_T]`` of the theorem's measure is computed
with :mod:`verify.exact` (no sampling), and with it the two errors a check on that instance detects
*deterministically* (:mod:`verify.sensitivity` with the exact curve in place of the confidence bounds):

* ``const``: the smallest ε such that the bound ``(1 − ε)B`` falls below the exact expectation somewhere,
  ``1 − 1/exact slack``;
* ``rate``: the smallest ε such that ``B((1 + ε)T)`` does (None: not even at a factor 2).

The score is the larger of the two (a missing rate counts as 1), then the exact slack at the horizon; the
best candidate of each theorem is what :data:`verify.suite.TIGHT` uses.  Run
``python benchmarks/search_instances.py [--only ID ...]`` (a few minutes on 2 cores); the table goes into
``benchmarks/README.md``.

``--expose MUTANT`` asks the opposite question for one mutant of the catalog (``benchmarks/mutants.py``):
on which candidates does the mutated package's exact oracle see the error, i.e. the exact expectation
rises above the (mutated) bound or the exact one-step certificate fails?  The script applies the mutant to
a temporary copy of the package and reruns itself there, printing every exposing candidate.  A mutant of a
theorem's constant that no candidate exposes is a mutated theorem that is still **true** on the whole
family: no check on these instances can see it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Iterator, Sequence

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

if __package__ in (None, ""):
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # after PYTHONPATH (--expose)

import numpy as np  # noqa: E402

from verify import stats, symbolic  # noqa: E402
from verify.check import CheckSpec, _grids, prepare  # noqa: E402
from verify.errors import UserError  # noqa: E402
from verify.exact.certificate import certify  # noqa: E402
from verify.exact.prepared import exact_measure, theorem_values, trajectory_for  # noqa: E402
from verify.sensitivity import constant_error, rate_error  # noqa: E402

SIZE = "m=6,n=4"
PS = (0.3, 0.7)
RS = (1, 2)


def _grid(theorem: str, problems: Sequence[str], params: Sequence[tuple], iters: Sequence[int]) -> Iterator[CheckSpec]:
    for problem, p, r, par, T in itertools.product(problems, PS, RS, params, iters):
        yield CheckSpec(theorem, problem, "gaussian", p=p, r=r, runs=2, iters=T, params=par, lemma_states=0)


def candidates(theorem: str) -> list[CheckSpec]:
    """The search grid of one theorem (its instance family and method parameters)."""
    iso = f"isotropic-quadratic:{SIZE}"
    lsq = [f"least-squares:{SIZE},N=24,kappa={k}" for k in (1, 4)]
    noisy = [f"isotropic-quadratic:{SIZE},sigma={s}" for s in (0.3, 1.0)]
    fed = [f"federated-ls:{SIZE},M={M},hetero={h}" for M in (2, 4) for h in (0, 1)]
    # identical isotropic clients' spectra (kappa = 1): ||A_i x|| = L_i ||x||, so L_tilde^2 ||W+ - W||^2 is
    # attained by the compression variance and the omega terms of QGD and MARINA bind
    fed_iso = [f"federated-ls:{SIZE},M=1,hetero=0,kappa=1", f"federated-ls:{SIZE},M=2,hetero=1,kappa=1"]
    family = theorem.rsplit("-", 1)[0]
    T_short, T_long = (20, 40, 80), (100, 200)
    if family == "gd":
        return list(_grid(theorem, [iso, *lsq], [()], T_short))
    if family == "sgd":
        return list(_grid(theorem, noisy, [(("batch", 1),)], T_long))
    if family == "mvr":
        return list(_grid(theorem, noisy, [(("b", b),) for b in (0.1, 0.3, 0.6)], T_long))
    if family == "page":
        lsq_noise = [f"least-squares:{SIZE},N=24,kappa={k},noise=0.5" for k in (1, 4)]
        return list(_grid(theorem, [*lsq_noise, *noisy],
                          [(("q", q), ("batch_prime", b)) for q in (0.2, 0.5) for b in (1, 4)], T_long))
    if family == "qgd":  # the weighted bound of qgd-nc grows like (1 + L gamma^2 A)^T: short horizons too
        return list(_grid(theorem, fed + fed_iso, [(("compressor", f"rand-k:k={k}"),) for k in (2, 6, 12)],
                          (10, 20, *T_long)))
    if family == "marina":
        return list(_grid(theorem, fed + fed_iso, [(("q", q), ("compressor", f"rand-k:k={k}")) for q in (0.1, 0.2, 0.5)
                                                   for k in (2, 6, 12)], T_long))
    if family == "ef21":
        return list(_grid(theorem, fed + fed_iso, [(("compressor", f"sparse-k:k={k}"),) for k in (2, 6, 12)], T_long))
    raise ValueError(f"no exact instance family for {theorem!r}")


def score(spec: CheckSpec) -> dict[str, float | None] | None:
    """Exact slack (min and at the horizon) and the deterministic detectable errors of one candidate."""
    try:
        prep = prepare(spec)
        checkpoints, _ = _grids(prep)
        exact = exact_measure(prep, checkpoints, trajectory_for(prep))
    except UserError:
        return None
    values = theorem_values(prep)
    bound = symbolic.evaluate(prep.theorem.bound, values, checkpoints, prep.theorem)
    bound_at = symbolic.in_T(prep.theorem.bound, values, prep.theorem, float64=True)
    floor = stats.FLOOR * float(np.max(np.abs(exact)))
    ok = (exact > floor) & (bound > floor)
    ratio = bound[ok] / exact[ok]
    const = constant_error(exact, bound, floor)
    rate = rate_error(exact, checkpoints, bound_at, floor)
    return {"slack": float(ratio.min()), "slack_final": float(ratio[-1]), "const": const, "rate": rate,
            "score": max(const if const is not None else 1.0, rate if rate is not None else 1.0)}


def exposes(spec: CheckSpec) -> str | None:
    """How the exact oracle sees an error on ``spec`` ("exact slack 0.93 at T = 40", "certificate margin
    -0.02"), or None when the bound and the one-step inequality hold there exactly."""
    sc = score(spec)
    if sc is None:
        return None
    if sc["slack"] < 1 - stats.RTOL:
        return f"exact slack {sc['slack']:.4g}"
    try:
        cert = certify(prepare(spec))
    except Exception:  # noqa: BLE001 - no certificate for this candidate (no exact transition, ...)
        return None
    return None if cert.holds else f"certificate fails (margin {cert.margin:.3g})"


def _expose_in_copy(mutant_id: str, ids: Sequence[str]) -> int:
    """Apply ``mutant_id`` to a temporary copy of the package and run ``--expose-here`` there."""
    import subprocess
    import tempfile
    from pathlib import Path

    import mutants

    (mutant,) = mutants.by_id([mutant_id])
    with tempfile.TemporaryDirectory() as tmp:
        pkg = mutants.copy_package(Path(tmp) / "pkg")
        mutants.apply_mutant(mutant, pkg)
        env = dict(os.environ, PYTHONPATH=str(pkg))
        cmd = [sys.executable, os.path.abspath(__file__), "--expose-here", mutant_id, "--only", *ids]
        return subprocess.run(cmd, env=env, cwd=pkg, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="theorem ids (default: every smooth theorem)")
    parser.add_argument("--top", type=int, default=1, help="candidates to print per theorem")
    parser.add_argument("--expose", metavar="MUTANT", help="list the candidates on which this mutant is seen")
    parser.add_argument("--expose-here", metavar="MUTANT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    ids = args.only or ["gd-nc", "gd-pl", "sgd-nc", "sgd-pl", "mvr-nc", "mvr-pl", "page-nc", "page-pl", "qgd-nc",
                        "qgd-pl", "marina-nc", "marina-pl", "ef21-nc", "ef21-pl"]
    if args.expose:
        return _expose_in_copy(args.expose, ids)
    if args.expose_here:
        import verify
        print(f"# {args.expose_here}: package {os.path.dirname(verify.__file__)}", flush=True)
        for thm in ids:
            seen = [(s, how) for s in candidates(thm) if (how := exposes(s)) is not None]
            print(f"{thm}: exposed on {len(seen)} of {len(candidates(thm))} candidates", flush=True)
            for spec, how in seen[:args.top]:
                print(f"  {spec.problem} p={spec.p} r={spec.r} T={spec.iters} {dict(spec.params)}: {how}", flush=True)
        return 0
    print("| theorem | instance | p | r | T | params | exact slack | at T | const ε | rate ε | candidates |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for thm in ids:
        t0 = time.perf_counter()
        scored = [(s, sc) for s in candidates(thm) if (sc := score(s)) is not None]
        scored.sort(key=lambda x: (x[1]["score"], x[1]["slack_final"]))
        for spec, sc in scored[:args.top]:
            rate = "none" if sc["rate"] is None else f"{sc['rate']:.3g}"
            params = ", ".join(f"{k}={v}" for k, v in spec.params) or "-"
            print(f"| {thm} | `{spec.problem}` | {spec.p} | {spec.r} | {spec.iters} | {params} | {sc['slack']:.4g} "
                  f"| {sc['slack_final']:.4g} | {sc['const']:.3g} | {rate} | {len(scored)} "
                  f"({time.perf_counter() - t0:.0f} s) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
