"""The built-in suite: every theorem on the problems it applies to, and how a run is assembled.

Each entry is a :class:`~verify.check.CheckSpec`.  Every theorem has a **tight** instance (:data:`TIGHT`):
for the smooth theorems the 6x4 member of its family (p != 1/2) on which the exact oracle sees the smallest
constant and rate errors (``benchmarks/search_instances.py``; table in ``benchmarks/README.md``).  For
example, on ``isotropic-quadratic`` with Gaussian sketches at gamma = 1/L, ``E_t Phi_{t+1} = (1 - lambda)
Phi_t`` exactly, so ``gd-pl`` is attained with equality at every T and ``gd-nc`` up to the factor
``1 - (1-lambda)^T``; with additive noise the SGD one-step inequality is an equality too; on
``norm-distance`` the Polyak step's one-step inequality is an equality.  :data:`MORE` adds larger problems,
other sketches, compressors and the paper's §7.1 problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import theorems
from verify import resources
from verify.blocks import BlockResult, from_record
from verify.check import CheckResult, CheckSpec, Prepared, blocks, conclude, prepare
from verify.driver import drive
from verify.errors import require
from verify.executors import DEFAULT_BLAS_THREADS, Failure
from verify.tasks import Task, block_key

_RANDK = (("compressor", "rand-k:k=24"),)
_TOPK = (("compressor", "top-k:k=24"),)

#: The tight instance of every theorem, found by ``benchmarks/search_instances.py``: the member of the
#: theorem's instance family (6x4 problems, so m != n, with p != 1/2) on which the exact oracle
#: (:mod:`verify.exact`) sees the smallest constant and rate errors.  Each is small enough (m n <= 40) for
#: the exact expectation, the two-sided model check and the one-step certificate to run inside the check.
_SMALL = "m=6,n=4"
_ISO = f"isotropic-quadratic:{_SMALL}"
TIGHT: dict[str, CheckSpec] = {
    # E Delta_{t+1} = (1 - lambda) Delta_t exactly: the telescoped bound is attained up to (1 - lambda)^T
    "gd-nc": CheckSpec("gd-nc", _ISO, "gaussian", p=0.3, r=2, runs=256, iters=80),
    # E[f(W^T) - f*] = (1 - lambda)^T Delta0: bound and rate attained at every T
    "gd-pl": CheckSpec("gd-pl", _ISO, "gaussian", p=0.7, r=1, runs=256, iters=80),
    # additive noise: the one-step inequality is an equality, exact slack 1.01
    "sgd-nc": CheckSpec("sgd-nc", f"{_ISO},sigma=0.3", "gaussian", p=0.3, r=2, runs=256, iters=200,
                        params=(("batch", 1),)),
    # the proof keeps half the PL decrease, so exact slack >= 1.69 on every instance of the family
    "sgd-pl": CheckSpec("sgd-pl", f"{_ISO},sigma=0.3", "gaussian", p=0.3, r=2, runs=256, iters=200,
                        params=(("batch", 1),)),
    # Young's inequality in the MVR error recursion: exact slack >= 1.82 in the family
    "mvr-nc": CheckSpec("mvr-nc", f"{_ISO},sigma=0.3", "gaussian", p=0.7, r=1, runs=256, iters=200,
                        params=(("b", 0.1),)),
    "mvr-pl": CheckSpec("mvr-pl", f"{_ISO},sigma=0.3", "gaussian", p=0.3, r=2, runs=256, iters=200,
                        params=(("b", 0.6),)),
    # shared-noise PAGE on the isotropic quadratic: exact slack 1.18 (nc), 1.04 (PL)
    "page-nc": CheckSpec("page-nc", f"{_ISO},sigma=0.3", "gaussian", p=0.7, r=1, runs=256, iters=200,
                         params=(("q", 0.5), ("batch_prime", 4))),
    "page-pl": CheckSpec("page-pl", f"{_ISO},sigma=0.3", "gaussian", p=0.7, r=1, runs=256, iters=100,
                         params=(("q", 0.5), ("batch_prime", 4))),
    # the weighted bound's (1 + L gamma^2 A)^T: exact slack >= 2.77 on every instance searched
    "qgd-nc": CheckSpec("qgd-nc", f"federated-ls:{_SMALL},M=4,hetero=0", "gaussian", p=0.3, r=1, runs=256,
                        iters=10, params=(("compressor", "rand-k:k=12"),)),
    "qgd-pl": CheckSpec("qgd-pl", f"federated-ls:{_SMALL},M=2,hetero=0", "gaussian", p=0.7, r=1, runs=256,
                        iters=100, params=(("compressor", "rand-k:k=6"),)),
    "marina-nc": CheckSpec("marina-nc", f"federated-ls:{_SMALL},M=4,hetero=0", "gaussian", p=0.3, r=1, runs=256,
                           iters=100, params=(("q", 0.5), ("compressor", "rand-k:k=12"))),
    "marina-pl": CheckSpec("marina-pl", f"federated-ls:{_SMALL},M=4,hetero=0", "gaussian", p=0.3, r=2, runs=256,
                           iters=200, params=(("q", 0.5), ("compressor", "rand-k:k=12"))),
    # sparse-k is linear, so EF21 gets an exact oracle; the EF21 recursion's Young factor: exact slack 1.84
    "ef21-nc": CheckSpec("ef21-nc", f"federated-ls:{_SMALL},M=2,hetero=0", "gaussian", p=0.3, r=1, runs=256,
                         iters=200, params=(("compressor", "sparse-k:k=12"),)),
    "ef21-pl": CheckSpec("ef21-pl", f"federated-ls:{_SMALL},M=2,hetero=1", "gaussian", p=0.7, r=1, runs=256,
                         iters=100, params=(("compressor", "sparse-k:k=6"),)),
    # no exact oracle (non-smooth): one-step equality of the Polyak step on norm-distance
    "ns-const": CheckSpec("ns-const", "norm-distance", "gaussian", p=0.5, r=2, runs=256, iters=200),
    "ns-polyak": CheckSpec("ns-polyak", "norm-distance", "gaussian", p=0.5, r=2, runs=256, iters=200),
}

#: Further instances: other problems, sketches, p, compressors, and the paper's §7.1 problem.
MORE: tuple[CheckSpec, ...] = (
    CheckSpec("gd-nc", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=256, iters=20),
    CheckSpec("gd-nc", "least-squares", "gaussian", p=0.5, r=2, runs=256, iters=200),
    CheckSpec("gd-nc", "least-squares", "scaled-gaussian", p=0.3, r=2, runs=256, iters=200),
    CheckSpec("gd-nc", "nonconvex-reg", "gaussian", p=0.5, r=2, runs=256, iters=300),
    CheckSpec("gd-nc", "isotropic-quadratic", "degenerate", p=0.5, r=2, runs=64, iters=200),
    CheckSpec("gd-pl", "least-squares", "gaussian", p=0.5, r=2, runs=256, iters=200),
    CheckSpec("gd-pl", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=256, iters=20),
    CheckSpec("gd-pl", "least-squares", "coordinates", p=0.8, r=3, runs=256, iters=200),
    CheckSpec("gd-pl", "least-squares:m=8,n=8", "haar", p=0.5, r=2, runs=256, iters=200),
    CheckSpec("gd-pl", "pl-sine", "gaussian", p=0.5, r=2, runs=256, iters=200),
    CheckSpec("sgd-nc", "least-squares:noise=0.5", "gaussian", p=0.5, r=2, runs=256, iters=200, params=(("batch", 4),)),
    CheckSpec("sgd-pl", "least-squares:sigma=0.5", "coordinates", p=0.3, r=2, runs=256, iters=300,
              params=(("batch", 1),)),
    CheckSpec("mvr-nc", "least-squares:sigma=0.5", "gaussian", p=0.5, r=2, runs=256, iters=300, params=(("b", 0.1),)),
    CheckSpec("page-pl", "least-squares:noise=0.5", "gaussian", p=0.5, r=2, runs=256, iters=200,
              params=(("q", 0.2), ("batch_prime", 4))),
    CheckSpec("page-nc", "nonconvex-reg", "gaussian", p=0.5, r=2, runs=128, iters=300,
              params=(("q", 0.1), ("batch_prime", 8))),
    # finite-sum rows with b' = 1: the only family member on which PAGE's L^2/b' term binds (the exact
    # certificate fails when it is halved); q != 1/2 so that a coin read as 1 - q changes the method
    CheckSpec("page-nc", f"least-squares:{_SMALL},N=24,kappa=1,noise=0.5", "gaussian", p=0.3, r=1, runs=256,
              iters=100, params=(("q", 0.2), ("batch_prime", 1))),
    CheckSpec("qgd-nc", "federated-ls", "gaussian", p=0.5, r=2, runs=256, iters=100,
              params=(("compressor", "dither:s=4"),)),
    # heterogeneous clients with isotropic spectra (kappa = 1): A = omega L_max / M and C = 2 omega L_max
    # Delta_inf / M both bind (the exact certificate fails when either is halved)
    CheckSpec("qgd-nc", f"federated-ls:{_SMALL},M=2,hetero=1,kappa=1", "gaussian", p=0.3, r=1, runs=256, iters=10,
              params=(("compressor", "rand-k:k=2"),)),
    CheckSpec("qgd-pl", f"federated-ls:{_SMALL},M=2,hetero=1,kappa=1", "gaussian", p=0.7, r=1, runs=256,
              iters=100, params=(("compressor", "rand-k:k=6"),)),
    CheckSpec("marina-nc", "federated-ls", "rademacher", p=0.7, r=2, runs=256, iters=200,
              params=(("q", 0.5), ("compressor", "dither:s=4"))),
    # kappa = 1, rare full gradients (q = 0.1) and rand-2 (omega = 11): the compression term
    # omega L_tilde^2 / M binds (exact slack 1.25, 0.67 when halved)
    CheckSpec("marina-nc", f"federated-ls:{_SMALL},M=2,hetero=1,kappa=1", "gaussian", p=0.3, r=1, runs=256,
              iters=100, params=(("q", 0.1), ("compressor", "rand-k:k=2"))),
    CheckSpec("marina-pl", f"federated-ls:{_SMALL},M=1,hetero=0,kappa=1", "gaussian", p=0.3, r=1, runs=256,
              iters=100, params=(("q", 0.1), ("compressor", "rand-k:k=2"))),
    CheckSpec("ef21-nc", "federated-ls", "gaussian", p=0.5, r=2, runs=256, iters=200, params=_TOPK),
    CheckSpec("ef21-pl", "federated-ls:M=8", "haar", p=0.3, r=3, runs=256, iters=200,
              params=(("compressor", "top-k:k=8"),)),
    CheckSpec("ns-const", "l1-regression", "gaussian", p=0.5, r=2, runs=256, iters=200),
    CheckSpec("ns-polyak", "l1-regression", "gaussian", p=0.5, r=2, runs=256, iters=200),
    # a non-isotropic sketch (Monte-Carlo lambda, lambda_max^p / lambda_min^p far from 1): the Polyak step's
    # ratio lambda_min^p / lambda_max^p matters
    CheckSpec("ns-polyak", "norm-distance", "scaled-gaussian", p=0.5, r=2, runs=256, iters=200),
)

BUILTIN: tuple[CheckSpec, ...] = tuple(
    spec for thm_id in TIGHT for spec in (TIGHT[thm_id], *(s for s in MORE if s.theorem == thm_id))
)


def select(ids: Sequence[str] = (), problem: str | None = None, sketch: str | None = None,
           params: dict[str, object] | None = None, **overrides: object) -> list[CheckSpec]:
    """Suite entries for ``ids`` (all theorems if empty), with the given fields replaced.

    ``problem``/``sketch`` replace those of every selected entry (duplicates are merged); ``params``
    replace or add estimator parameters.  Other keyword arguments (``runs``, ``iters``, ...) that are not
    None replace the entry's values.
    """
    known = theorems.registry()
    for i in ids:
        require(i in known, f"unknown theorem id {i!r}; known: {', '.join(known)}")
    wanted = list(ids) or list(known)
    specs: list[CheckSpec] = []
    for thm_id in wanted:
        entries = [s for s in BUILTIN if s.theorem == thm_id]
        for entry in entries:
            changes = {k: v for k, v in overrides.items() if v is not None}
            if problem is not None:
                changes["problem"] = problem
            if sketch is not None:
                changes["sketch"] = sketch
            if params:
                changes["params"] = tuple(sorted({**dict(entry.params), **params}.items()))
            spec = replace(entry, **changes)
            if spec not in specs:
                specs.append(spec)
    return specs


@dataclass(frozen=True)
class Outcome:
    """What a run produced: the finished checks in suite order, the tasks that failed, how many tasks there
    were and how many were resumed (a task is one block of runs of a check)."""

    results: list[CheckResult]
    failures: list[Failure]
    tasks: int
    resumed: int


def run_tasks(specs: Sequence[CheckSpec], alpha: float, seed: int, progress: TextIO | None = None,
              on_result: Callable[[CheckResult], None] | None = None, *, executor: str = "local",
              jobs: int | None = None, scheduler: str | None = None, run_dir: Path | None = None,
              resume: bool = False, blas_threads: int | None = DEFAULT_BLAS_THREADS) -> Outcome:
    """Run every block of runs of every check as a task (:mod:`verify.tasks`) on an executor
    (:mod:`verify.executors`), and conclude each check (:func:`verify.check.conclude`) once its blocks are in.

    The family-wise level ``alpha`` is split equally over all the checks (Bonferroni), resumed or not.
    With ``run_dir``, each finished block is stored in ``run_dir/tasks`` as soon as it finishes; with
    ``resume`` too, the stored blocks whose key matches are read back instead of run.  Every check is
    prepared (validated) before any block runs, so bad input fails before any work.  ``on_result`` gets each
    check as it is concluded.  Progress lines, and one line per failed task naming its key, go to
    ``progress`` when it is given; a check with a failed block is left out of the results.

    Before anything is prepared, :func:`verify.resources.run_plan` estimates the tasks and the peak memory
    from the sizes alone: a plan with too many tasks or that does not fit in the available memory is
    refused with a one-line :class:`~verify.errors.UserError`, and a large one is described on
    ``progress``.  ``blas_threads`` caps the BLAS/OpenMP threads of every task (default 1; 0: no cap).
    """
    require(0 < alpha < 1, f"alpha = {alpha} is outside (0, 1)")
    if not specs:
        return Outcome([], [], 0, 0)
    counts = [len(blocks(spec)) for spec in specs]  # validates every spec: bad input fails before the plan
    resources.enforce(resources.run_plan(specs, executor=executor, jobs=jobs, scheduler=scheduler), progress)
    alpha_each = alpha / len(specs)
    owners = [(c, b) for c, count in enumerate(counts) for b in range(count)]
    keys = [block_key(specs[c], seed, alpha_each, b) for c, b in owners]
    position = {key: i for i, key in enumerate(keys)}
    preps: dict[int, Prepared] = {}
    waiting: dict[int, dict[int, BlockResult]] = {c: {} for c in range(len(specs))}
    checks: list[CheckResult | None] = [None] * len(specs)

    def prep(c: int) -> Prepared:
        if c not in preps:
            preps[c] = prepare(specs[c])
        return preps[c]

    def collect(i: int, block: BlockResult) -> None:
        c, b = owners[i]
        waiting[c][b] = block
        if len(waiting[c]) == counts[c]:
            checks[c] = conclude(prep(c), seed, alpha_each, list(waiting.pop(c).values()))
            if on_result is not None:
                on_result(checks[c])

    def describe(task: Task, block: BlockResult) -> str:
        c, _ = owners[position[task.key]]
        out = checks[c]
        if c in waiting or out is None:
            return f"{task.part} done ({block.timings['total_s']:.1f} s): {task.label}"
        slack = "" if out.slack is None else f", slack {out.slack:.3g}"
        merged = f", {counts[c]} blocks merged" if task.part else ""
        return f"{out.verdict}{slack} ({out.timings['total_s']:.1f} s{merged}): {task.label}"

    driven = drive(keys, lambda i: Task(prep(owners[i][0]), seed, alpha_each, owners[i][1]),
                   encode=BlockResult.to_record, decode=from_record, describe=describe, noun="tasks",
                   run_dir=run_dir, resume=resume, progress=progress, executor=executor, jobs=jobs,
                   scheduler=scheduler, on_result=collect, blas_threads=blas_threads)
    return Outcome([r for r in checks if r is not None], driven.failures, len(keys), driven.resumed)


def run_checks(specs: Sequence[CheckSpec], alpha: float, seed: int,
               progress: TextIO | None = None,
               on_result: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run the checks in this process (:func:`run_tasks`) and return their results in order.

    The family-wise level ``alpha`` is split equally over the checks (Bonferroni).  Progress lines go
    to ``progress`` when it is given.  Raises RuntimeError naming the key of a check that raised.
    """
    outcome = run_tasks(specs, alpha, seed, progress=progress, on_result=on_result)
    if outcome.failures:
        raise RuntimeError("; ".join(f"task {f.key} failed: {f.message}" for f in outcome.failures))
    return outcome.results
