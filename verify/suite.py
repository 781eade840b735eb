"""The built-in suite: every theorem on the problems it applies to, and how a run is assembled.

Each entry is a :class:`~verify.check.CheckSpec`.  The instances are chosen so that every theorem has
at least one **tight** instance (slack close to 1, so that a bound error of a few percent is caught):
on ``isotropic-quadratic`` with Gaussian sketches at gamma = 1/L, ``E_t Phi_{t+1} = (1 - lambda) Phi_t``
exactly, so ``gd-pl`` is attained with equality and ``gd-nc`` up to the factor ``1 - (1-lambda)^T``.
``T = 20`` keeps that factor near 0.89 (λ = p r/m + (1-p) r/n = 0.104 at m = 12, n = 8, r = 1, p = 0.5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TextIO

import theorems
from verify.check import CheckResult, CheckSpec, Prepared, execute, prepare
from verify.errors import require

BUILTIN: tuple[CheckSpec, ...] = (
    CheckSpec("gd-nc", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=256, iters=20),
    CheckSpec("gd-nc", "least-squares", "gaussian", p=0.5, r=2, runs=256, iters=200),
    CheckSpec("gd-nc", "least-squares", "scaled-gaussian", p=0.3, r=2, runs=256, iters=200),
    CheckSpec("gd-nc", "nonconvex-reg", "gaussian", p=0.5, r=2, runs=256, iters=300),
    CheckSpec("gd-nc", "isotropic-quadratic", "degenerate", p=0.5, r=2, runs=64, iters=200),
    CheckSpec("gd-pl", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=256, iters=20),
    CheckSpec("gd-pl", "least-squares", "gaussian", p=0.5, r=2, runs=256, iters=200),
    CheckSpec("gd-pl", "least-squares", "coordinates", p=0.8, r=3, runs=256, iters=200),
    CheckSpec("gd-pl", "least-squares:m=8,n=8", "haar", p=0.5, r=2, runs=256, iters=200),
)


def select(ids: Sequence[str] = (), problem: str | None = None, sketch: str | None = None,
           **overrides: object) -> list[CheckSpec]:
    """Suite entries for ``ids`` (all theorems if empty), with the given fields replaced.

    ``problem``/``sketch`` replace those of every selected entry (duplicates are merged); a theorem with
    no built-in entry gets a default one.  Other keyword arguments (``runs``, ``iters``, ...) that are
    not None replace the entry's values.
    """
    known = theorems.registry()
    for i in ids:
        require(i in known, f"unknown theorem id {i!r}; known: {', '.join(known)}")
    wanted = list(ids) or list(known)
    specs: list[CheckSpec] = []
    for thm_id in wanted:
        entries = [s for s in BUILTIN if s.theorem == thm_id] or [CheckSpec(thm_id)]
        for entry in entries:
            changes = {k: v for k, v in overrides.items() if v is not None}
            if problem is not None:
                changes["problem"] = problem
            if sketch is not None:
                changes["sketch"] = sketch
            spec = replace(entry, **changes)
            if spec not in specs:
                specs.append(spec)
    return specs


def run_checks(specs: Sequence[CheckSpec], alpha: float, seed: int,
               progress: TextIO | None = None,
               on_result: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Prepare every check first (so bad input fails before any work), then run them in order.

    The family-wise level ``alpha`` is split equally over the checks (Bonferroni).  Progress lines go
    to ``progress`` when it is given.
    """
    require(0 < alpha < 1, f"alpha = {alpha} is outside (0, 1)")
    prepared: list[Prepared] = [prepare(s) for s in specs]
    results = []
    for i, prep in enumerate(prepared, start=1):
        s = prep.spec
        if progress is not None:
            print(f"[{i}/{len(prepared)}] {s.theorem} on {s.problem} with {s.sketch} sketches "
                  f"(p={s.p}, r={s.r}, {s.runs} runs x {s.iters} steps) ...", file=progress, flush=True)
        res = execute(prep, seed, alpha / len(prepared))
        if progress is not None:
            slack = "" if res.slack is None else f", slack {res.slack:.3g}"
            print(f"    {res.verdict}{slack} ({res.timings['total_s']:.1f} s)", file=progress, flush=True)
        if on_result is not None:
            on_result(res)
        results.append(res)
    return results
