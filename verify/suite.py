"""The built-in suite: every theorem on the problems it applies to, and how a run is assembled.

The instances are declared next to each theorem, as ``CASES`` of plain :class:`theorems.Case` data in its
module of ``theorems/`` (:func:`theorems.cases` refuses a theorem without one, or without exactly one tight
instance); this module turns them into :class:`~verify.check.CheckSpec` entries.  Every theorem has a **tight**
instance (:data:`TIGHT`): for the smooth theorems the 6x4 member of its family (p != 1/2) on which the exact
oracle sees the smallest constant and rate errors (``benchmarks/search_instances.py``; table in
``benchmarks/README.md``).  For
example, on ``isotropic-quadratic`` with Gaussian sketches at gamma = 1/L, ``E_t Phi_{t+1} = (1 - lambda)
Phi_t`` exactly, so ``gd-pl`` is attained with equality at every T and ``gd-nc`` up to the factor
``1 - (1-lambda)^T``; with additive noise the SGD one-step inequality is an equality too; on
``norm-distance`` the Polyak step's one-step inequality is an equality.  The other instances add larger
problems, other sketches, compressors, the paper's §7.1 problem, and members of a family on which a particular
constant binds.
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


def _spec(theorem_id: str, case: theorems.Case) -> CheckSpec:
    return CheckSpec(theorem_id, case.problem, case.sketch, p=case.p, r=case.r, runs=case.runs, iters=case.iters,
                     params=tuple(case.params))


#: Every theorem's instances, in the paper's order of the theorems, each theorem's tight one first.
BUILTIN: tuple[CheckSpec, ...] = tuple(_spec(tid, case) for tid, cases in theorems.cases().items() for case in cases)
#: The tight instance of every theorem (its ``Case`` with ``tight=True``): for the smooth theorems the 6x4
#: member of its family on which the exact oracle sees the smallest constant and rate errors
#: (``benchmarks/search_instances.py``), small enough (m n <= 40) for the exact expectation, the model check and
#: the one-step certificate to run inside the check.
TIGHT: dict[str, CheckSpec] = {tid: _spec(tid, cases[0]) for tid, cases in theorems.cases().items()}


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
