r"""Up-front resource checks: refuse a plan that cannot fit on this machine before any work starts.

``verify run``, ``verify sweep`` and ``verify lambda`` call these checks before they build a problem or draw a
random number; the checks only do integer arithmetic on the requested sizes, so they take milliseconds
whatever the request.

**Memory model.**  Every number is a float64 (8 bytes).  The estimates are upper estimates of the peak
heap use: between about 1.1× and 3× the peaks that ``tracemalloc`` measures for the built-in checks and
for larger variants of them (problem builds and λ estimates: 1× to 1.9×), plus a fixed
:data:`PROCESS_BASE` per process (the interpreter, numpy, scipy, sympy and the theorem records: about
140 MiB resident).  For a task that runs ``R`` runs of ``T`` steps on ``m × n`` matrices:

* **per-step traces** (:class:`verify.runner.Trace`): ``f``, ``‖∇f‖²``, the estimator's error and
  ``f(W̄)`` for every run and every ``t = 0..T``, plus the measures' cumulative sums and a NaN mask:
  :data:`TRACE_ARRAYS` arrays of ``R × (T + 1)``;
* **plot points and checkpoints**: the measure at ``min(T, PLOT_POINTS) + 1`` plot points and about 25
  checkpoints, ``R`` values each, a few copies;
* **iterates and estimator states**: ``W``, ``W^{t+1}``, ``∇f``, ``G``, ``Ĝ``, the projection's
  temporaries and the lemma check's snapshots (:data:`ITERATE_ARRAYS` arrays of ``R × m × n``); for a
  federated estimator (QGD, MARINA, EF21) also :data:`CLIENT_ARRAYS` arrays of ``R × M × m × n`` (the
  clients' gradients and states);
* **sketches**: the ``R × m × r`` and ``R × n × r`` sketches of one step and their bases;
* **the one-step (lemma) check** of block 0: replicas of one state in chunks of at most
  ``min(samples, 2^23 / (m n))`` matrices (:mod:`verify.lemma`);
* **problem data**: per family, from the problem spec's parameters (e.g. ``nonconvex-reg`` keeps
  ``A`` of ``N × m n`` and its Gram matrix of ``(m n)²`` entries);
* **λ estimate** of a sketch without a closed form (:func:`verify.projection.estimate_expected_projection`):
  about :data:`LAMBDA_SQUARES` ``d × d`` matrices for ``d = m`` and ``d = n``, and the bounded sketch
  batches.

The parent process holds every check's problem, the block results of a check until its last block is in
(:data:`HELD_ARRAYS` arrays of plot points each) and one key per task.  With ``--jobs N`` local workers,
``min(N, tasks)`` tasks run at once, each in its own process holding its own copy of the problem.

**Limits.**  A plan is refused (:class:`~verify.errors.UserError`, one line, exit status 2) when its
peak exceeds :data:`HEADROOM` of the memory available now (``MemAvailable`` of ``/proc/meminfo``, else
the physical memory), or when it has more than :data:`MAX_TASKS` tasks.  A plan above
:data:`LARGE_BYTES` or :data:`LARGE_FRACTION` of that budget, or with more than :data:`LARGE_TASKS`
tasks, is allowed and described on one line on stderr.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from verify.errors import UserError

FLOAT = 8
#: Fraction of the available memory a plan may use (the rest is headroom for other processes).
HEADROOM = 0.8
#: Most tasks a run may plan (each is one file in OUT/tasks and one entry in the scheduler).
MAX_TASKS = 10_000
#: Plans with more tasks than this are described on stderr.
LARGE_TASKS = 1_000
#: Plans whose peak exceeds this many bytes, or this fraction of the budget, are described on stderr.
LARGE_BYTES = 2 * 2**30
LARGE_FRACTION = 0.25
#: Heap of a process before any task: Python, numpy, scipy, sympy and the theorem records.
PROCESS_BASE = 256 * 2**20
#: Largest ``--bound-scale``: a bound times this stays far from float64 overflow (about 1.8e308).
BOUND_SCALE_MAX = 1e6

#: Arrays of R × (T + 1) per task: the four traces, two cumulative sums of the measures, the NaN mask.
TRACE_ARRAYS = 7
#: Arrays of R × m × n per task: iterates, gradients, directions, projections, snapshots, oracle temporaries.
ITERATE_ARRAYS = 14
#: Arrays of R × M × m × n for the federated estimators (client gradients and states).
CLIENT_ARRAYS = 13
#: Arrays of R × (m + n) × r: the sketches of one step, their bases and the QR factors.
SKETCH_ARRAYS = 8
#: Arrays of k × m × n in the one-step check, k replicas of a state at once (:mod:`verify.lemma`).
LEMMA_ARRAYS = 9
#: Arrays of d × d in a λ estimate (the sum, its triangles, the symmetrised mean, the eigensolver's copy).
LAMBDA_SQUARES = 5
#: Arrays of plot points a stored or waiting block result holds (mean, M2, five sample curves, copies).
HELD_ARRAYS = 12
#: Bytes per task key and task object in the parent.
TASK_OVERHEAD = 4096

#: Checkpoints of a check's verdict (about 24, :func:`verify.stats.log_grid`).
CHECKPOINTS = 25
#: Estimators whose state holds one matrix per client.
FEDERATED_ESTIMATORS = ("qgd", "marina", "ef21")


def _limit(module: str, name: str, default: int) -> int:
    """The chunk or size limit ``name`` of ``module`` (the value the code uses), or ``default``."""
    import importlib

    try:
        return int(getattr(importlib.import_module(module), name))
    except (ImportError, AttributeError, TypeError, ValueError):
        return default


def _limits() -> dict[str, int]:
    """The chunk sizes the memory model depends on, read from the modules that use them."""
    return {
        "plot": _limit("verify.check", "PLOT_POINTS", 2000),  # at most this many plot points
        "lemma": _limit("verify.lemma", "_MAX_BATCH_ENTRIES", 2**23),  # one-step replicas at once
        "gather": _limit("verify.problems.stochastic", "GATHER_BUDGET", 4_000_000),  # minibatch rows at once
        "chunk": _limit("verify.projection", "_CHUNK_ELEMENTS", 2**19),  # λ estimate: sketch batch
        "update": _limit("verify.projection", "_UPDATE_ELEMENTS", 2**22),  # λ estimate: basis buffer
    }


def fmt_bytes(n: float) -> str:
    """``n`` bytes as a short text with a binary unit, e.g. ``"1.5 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def available_memory() -> int:
    """The memory available to new allocations now, in bytes.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux: free memory plus what the kernel can reclaim); where that
    is missing, the physical memory ``SC_PHYS_PAGES × SC_PAGE_SIZE``; 0 if neither can be read.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return 0


def budget(available: int | None = None) -> tuple[int, int]:
    """``(allowed, available)``: the bytes a plan may use, :data:`HEADROOM` of ``available`` (default: now)."""
    avail = available_memory() if available is None else int(available)
    return int(HEADROOM * avail), avail


def validate_bound_scale(scale: float) -> None:
    """Raise :class:`UserError` unless ``0 < scale <= BOUND_SCALE_MAX`` (no bound times it can overflow)."""
    if not (0 < scale <= BOUND_SCALE_MAX):
        raise UserError(f"--bound-scale {scale:g} is outside (0, {BOUND_SCALE_MAX:g}]: it multiplies every bound, "
                        "and a check turns to violated below its slack (about 1 to 10)")


# ----------------------------------------------------------------------------------------------------
# Pieces of a task
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemSize:
    """What the memory model needs of a problem spec: family, shape, data and per-run oracle entries.

    ``data`` is the float64 entries the built problem keeps, ``build`` the entries alive while it is built,
    ``per_run`` the oracle's temporary entries per run (on top of the iterates), ``row`` the entries of one
    sampled row of a minibatch oracle (gathered ``batch`` times per run) and ``clients`` the M of a
    federated problem (1 otherwise).
    """

    family: str
    m: int
    n: int
    data: int
    build: int
    per_run: int
    row: int = 0
    clients: int = 1


def _int(params: dict[str, Any], key: str, default: int) -> int:
    value = params.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else default


def problem_size(spec: str) -> ProblemSize | None:
    """The :class:`ProblemSize` of a built-in problem spec ``"name[:key=value,...]"``, or None when the
    spec cannot be read (the problem's own validation then reports it)."""
    from verify.problems import registry

    try:
        name, given = registry.parse_spec(spec)
        params = {**registry.defaults(name), **given}
    except UserError:
        return None
    m, n = _int(params, "m", 1), _int(params, "n", 1)
    d = m * n
    if name in ("isotropic-quadratic", "norm-distance"):
        return ProblemSize(name, m, n, data=4 * d, build=8 * d, per_run=2 * d, row=d)
    if name == "least-squares":
        N = _int(params, "N", m)
        return ProblemSize(name, m, n, data=2 * N * (m + n) + 4 * m * m + 4 * d,
                           build=4 * N * (m + n) + 8 * m * m + 6 * d, per_run=2 * N + 3 * d, row=m + n + d)
    if name == "nonconvex-reg":
        N = _int(params, "N", 2)
        k = min(N, d)
        return ProblemSize(name, m, n, data=N * d + d * d + k * d + 4 * d + N,
                           build=4 * N * d + 3 * d * d + 2 * k * d + 8 * d, per_run=2 * N + 4 * d, row=d + 1)
    if name == "pl-sine":
        return ProblemSize(name, m, n, data=3 * m * m + 2 * d, build=8 * m * m + 4 * d, per_run=4 * d)
    if name == "federated-ls":
        M, N_i = _int(params, "M", 1), _int(params, "N_i", m)
        return ProblemSize(name, m, n, data=M * (N_i * (m + n) + m * m + 2 * d) + 2 * m * m + 4 * d,
                           build=3 * M * (N_i * (m + n) + m * m + 2 * d) + 4 * m * m + 8 * d,
                           per_run=2 * M * d, clients=M)
    if name == "l1-regression":
        N = _int(params, "N", 1)
        return ProblemSize(name, m, n, data=N * d + 4 * d + N, build=5 * N * d + 6 * d, per_run=2 * N + 2 * d)
    return None


def lambda_bytes(d: int, r: int, samples: int) -> int:
    """Peak bytes of one side of a λ estimate on ``R^d`` with rank ``r`` over ``samples`` sketches.

    :data:`LAMBDA_SQUARES` ``d × d`` matrices, the sketch batch (``≤ max(2^19, d r)`` entries, a few copies)
    and the basis buffer (``≤ max(2^22, d r)`` entries), as :func:`verify.projection.estimate_expected_projection`
    allocates them.
    """
    d, r, samples = max(int(d), 1), max(int(r), 1), max(int(samples), 1)
    limits = _limits()
    chunk = max(1, min(samples, limits["chunk"] // (d * r)))
    batch = chunk * d * r
    buffer = max(batch, min(samples * d * r, limits["update"]))
    return FLOAT * (LAMBDA_SQUARES * d * d + 6 * batch + buffer)


def _has_closed_form(sketch: str, d: int, r: int) -> bool:
    from verify import sketch as sketch_mod

    try:
        return sketch_mod.make(sketch).expected_projection_eigs(d, r) is not None
    except (UserError, ValueError):
        return True  # not ours to report: prepare() does


@dataclass(frozen=True)
class TaskCost:
    """Peak bytes of one task, by part (``parts`` names what each number is), and a label for messages."""

    label: str
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """The sum of the parts."""
        return sum(self.parts.values())

    def largest(self) -> tuple[str, int]:
        """The part that dominates and its bytes."""
        return max(self.parts.items(), key=lambda kv: kv[1])


def task_cost(spec: Any, runs: int, *, lemma: bool, sweep: bool = False) -> TaskCost:
    """Peak bytes of one task of ``runs`` runs of the check ``spec`` (a :class:`~verify.check.CheckSpec`),
    without the process base; ``lemma`` adds the one-step check (block 0), ``sweep`` the sweep's medians."""
    size = problem_size(spec.problem)
    m, n = (size.m, size.n) if size is not None else (1, 1)
    clients = size.clients if size is not None else 1
    R, T, r, d = max(int(runs), 1), max(int(spec.iters), 0), max(int(spec.r), 1), m * n
    limits = _limits()
    points = min(T, limits["plot"]) + 1 + CHECKPOINTS
    estimator = _estimator_name(spec)
    federated = estimator in FEDERATED_ESTIMATORS
    per_run = ITERATE_ARRAYS * d + SKETCH_ARRAYS * (m + n) * r + 2 * (m + n)
    per_run += size.per_run if size is not None else 0
    gathered = _batch(spec) * (size.row if size is not None else 0)  # minibatch rows of one run

    def gather(copies: int) -> int:  # rows are gathered in chunks of runs of at most limits['gather'] entries
        return 5 * min(copies * gathered, max(limits["gather"], gathered)) // 4

    parts = {
        "per-step traces (runs x iterations)": FLOAT * (TRACE_ARRAYS + (2 if sweep else 0)) * R * (T + 1),
        "measures at the plot points": FLOAT * 4 * R * points,
        "iterates and estimator states (runs x m x n)": FLOAT * (R * per_run + gather(R)),
    }
    if federated:
        parts["client states (runs x clients x m x n)"] = FLOAT * CLIENT_ARRAYS * R * clients * d
    if lemma and getattr(spec, "lemma_states", 0) > 0:
        k = max(1, min(int(spec.lemma_samples), limits["lemma"] // max(d, 1)))
        parts["one-step check replicas"] = FLOAT * (LEMMA_ARRAYS * k * d * (clients if federated else 1) + gather(k))
    if size is not None:
        parts["problem data"] = FLOAT * size.data
    label = f"{spec.theorem} on {spec.problem}: a task of {R} runs x {T} iterations"
    return TaskCost(label, parts)


def _batch(spec: Any) -> int:
    """The largest minibatch size among the estimator parameters of ``spec`` (0 when there is none)."""
    sizes = [v for k, v in dict(spec.params).items()
             if k in ("batch", "batch_prime", "batch0") and isinstance(v, int) and not isinstance(v, bool)]
    return max([1, *sizes]) if _estimator_name(spec) in ("sgd", "page", "mvr") else 0


def _estimator_name(spec: Any) -> str:
    try:
        import theorems

        thm = theorems.registry().get(spec.theorem)
    except Exception:  # noqa: BLE001 - an unknown theorem is reported by prepare()
        return ""
    return "" if thm is None else thm.estimator


def prepare_cost(spec: Any) -> TaskCost:
    """Peak bytes of :func:`verify.check.prepare` of ``spec`` in the parent: building the problem and,
    for a sketch without a closed form, the λ estimates on ``R^m`` and ``R^n``."""
    size = problem_size(spec.problem)
    parts: dict[str, int] = {}
    if size is not None:
        parts["problem data while it is built"] = FLOAT * size.build
        r = max(int(spec.r), 1)
        if r <= min(size.m, size.n) and not _has_closed_form(spec.sketch, size.m, r):
            samples = getattr(spec, "lambda_samples", 20000)
            parts[f"lambda estimate (E[H] of {size.m} x {size.m} and {size.n} x {size.n})"] = max(
                lambda_bytes(size.m, r, samples), lambda_bytes(size.n, r, samples))
    return TaskCost(f"preparing {spec.theorem} on {spec.problem} with {spec.sketch} sketches", parts)


# ----------------------------------------------------------------------------------------------------
# Plans
# ----------------------------------------------------------------------------------------------------

#: What to change when a part dominates, by the start of the part's name.
_REMEDIES = {
    "per-step traces": "lower --iters, or --block-runs (fewer runs per task)",
    "measures": "lower --iters or --block-runs",
    "iterates": "lower --block-runs, --jobs or the problem size",
    "client states": "lower --block-runs, --jobs or the number of clients M",
    "one-step": "use a smaller problem",
    "problem data": "use a smaller problem (m, n, N)",
    "lambda estimate": "use smaller m, n or a sketch with a closed form (e.g. gaussian)",
    "block results": "lower --seeds or raise --block-runs",
    "task keys": "lower --seeds or raise --block-runs",
    "worker processes": "lower --jobs",
}
#: The same for ``verify sweep``, whose sizes come from its configuration file.
_SWEEP_REMEDIES = {
    "per-step traces": "lower iters or runs in the [sweep] table",
    "measures": "lower iters or runs in the [sweep] table",
    "iterates": "lower runs in the [sweep] table, --jobs or the grid's sizes",
    "client states": "lower runs in the [sweep] table or --jobs",
    "problem data": "use smaller grid sizes (m, n, N)",
    "lambda estimate": "use smaller m, n or a sketch with a closed form (e.g. gaussian)",
    "task keys": "use a smaller grid",
    "worker processes": "lower --jobs",
}


def _remedy(command: str, part: str) -> str:
    table = _SWEEP_REMEDIES if command == "verify sweep" else _REMEDIES
    return next((text for key, text in table.items() if part.startswith(key)), "ask for less")


@dataclass(frozen=True)
class Plan:
    """A run's tasks and its estimated peak memory on this machine.

    ``peak`` = parent + ``workers`` × (largest task + :data:`PROCESS_BASE`), or parent + largest task when
    the tasks run in this process; ``remote`` when the tasks run on a Dask scheduler elsewhere (their
    memory is then not counted).
    """

    command: str
    what: str
    tasks: int
    checks: int
    run_steps: int
    workers: int
    in_process: bool
    remote: bool
    parent: dict[str, int]
    task: TaskCost | None
    prepare: TaskCost | None

    @property
    def parent_bytes(self) -> int:
        """The parent process's peak: its base, held results, keys, and the largest preparation."""
        return sum(self.parent.values()) + (self.prepare.total if self.prepare is not None else 0)

    @property
    def task_bytes(self) -> int:
        """The largest task's peak (0 when it runs remotely)."""
        return 0 if self.task is None or self.remote else self.task.total

    @property
    def peak(self) -> int:
        """Estimated peak bytes on this machine (in this process, the task shares the parent's problem)."""
        if self.in_process:
            shared = self.task.parts.get("problem data", 0) if self.task is not None else 0
            return self.parent_bytes + self.task_bytes - shared
        return self.parent_bytes + self.workers * (self.task_bytes + (0 if self.remote else PROCESS_BASE))

    def dominant(self) -> tuple[str, int]:
        """The part of the peak that dominates, scaled by the number of workers for task parts."""
        candidates = dict(self.parent)
        if self.prepare is not None:
            candidates.update(self.prepare.parts)
        if self.task is not None and not self.remote:
            scale = 1 if self.in_process else self.workers
            candidates.update({k: v * scale for k, v in self.task.parts.items()})
            if not self.in_process:
                candidates["worker processes"] = self.workers * PROCESS_BASE
        return max(candidates.items(), key=lambda kv: kv[1])

    def describe(self) -> str:
        """One line: tasks, workers, and the peak with its largest part."""
        part, size = self.dominant()
        where = ("in this process" if self.in_process else
                 f"on a remote Dask cluster ({self.workers or 'its'} workers; their memory is not counted here)"
                 if self.remote else f"on {self.workers} worker processes")
        largest = "" if self.task is None else f"; largest task: {self.task.label}"
        return (f"{self.what}: {self.tasks} tasks ({self.run_steps:.3g} run-steps) {where}; estimated peak "
                f"memory {fmt_bytes(self.peak)} (largest part: {part}, {fmt_bytes(size)}){largest}")


def enforce(plan: Plan, progress: TextIO | None, available: int | None = None) -> None:
    """Refuse ``plan`` (:class:`UserError`, one line) when it has too many tasks or does not fit in memory;
    describe it on ``progress`` when it is large but feasible.

    Parameters
    ----------
    plan : Plan
        From :func:`run_plan` or :func:`sweep_plan`.
    progress : text stream or None
        Where a large plan is described (stderr for the CLI).
    available : int, optional
        The available memory in bytes (default: :func:`available_memory` now); tests pass a number.
    """
    if plan.tasks > MAX_TASKS:
        fewer = "use a smaller grid" if plan.command == "verify sweep" else "lower --seeds or raise --block-runs"
        raise UserError(f"{plan.command}: {plan.what} would make {plan.tasks} tasks; at most {MAX_TASKS} are "
                        f"allowed: {fewer}")
    allowed, avail = budget(available)
    if avail > 0 and plan.peak > allowed:
        part, size = plan.dominant()
        raise UserError(f"{plan.command}: {plan.what} would need about {fmt_bytes(plan.peak)} of memory (largest part: "
                        f"{part}, {fmt_bytes(size)}); at most {fmt_bytes(allowed)} is allowed "
                        f"({HEADROOM:.0%} of the {fmt_bytes(avail)} available): {_remedy(plan.command, part)}")
    large = plan.peak > min(LARGE_BYTES, LARGE_FRACTION * allowed) if avail > 0 else plan.peak > LARGE_BYTES
    if progress is not None and (large or plan.tasks > LARGE_TASKS):
        print(f"verify: plan: {plan.describe()}; {fmt_bytes(allowed)} allowed", file=progress, flush=True)


def _workers(executor: str, jobs: int | None, scheduler: str | None, tasks: int) -> tuple[int, bool, bool]:
    """``(workers at once, in this process, remote)`` for the executor options."""
    if executor == "dask":
        if scheduler is not None:
            return 0, False, True
        return max(1, min(jobs or os.cpu_count() or 1, tasks)), False, False
    jobs = jobs or 1
    if jobs <= 1:
        return 1, True, False
    return max(1, min(jobs, tasks)), False, False


def _largest_costs(specs: Sequence[Any], cost_of: Any) -> tuple[TaskCost | None, TaskCost | None, int]:
    """The largest task (``cost_of(spec)``) and preparation among ``specs`` (the first of equals; None for no
    specs), and the bytes of all their problems' data."""
    largest = max((cost_of(spec) for spec in specs), key=lambda c: c.total, default=None)
    prep = max((prepare_cost(spec) for spec in specs), key=lambda c: c.total, default=None)
    sizes = (problem_size(spec.problem) for spec in specs)
    return largest, prep, FLOAT * sum(size.data for size in sizes if size is not None)


def run_plan(specs: Sequence[Any], *, executor: str = "local", jobs: int | None = None,
             scheduler: str | None = None) -> Plan:
    """The :class:`Plan` of ``verify run`` for ``specs`` (:class:`~verify.check.CheckSpec`), from sizes only.

    A check of ``R`` runs with block size ``K`` makes ``⌈R/K⌉`` tasks; the largest task is the largest
    first block (it also runs the one-step check).  Invalid values (e.g. ``runs < 2``) are counted as the
    smallest valid ones and left to the specs' own validation.
    """
    largest, prep, problems = _largest_costs(
        specs, lambda spec: task_cost(spec, min(max(int(spec.runs), 1), max(int(spec.block_runs), 1)), lemma=True))
    tasks = steps = held = 0
    plot = _limits()["plot"]
    for spec in specs:
        runs, block = max(int(spec.runs), 1), max(int(spec.block_runs), 1)
        count = -(-runs // block)
        tasks += count
        steps += runs * max(int(spec.iters), 0)
        held = max(held, FLOAT * HELD_ARRAYS * count * (min(max(int(spec.iters), 0), plot) + 1 + CHECKPOINTS))
    workers, here, remote = _workers(executor, jobs, scheduler, tasks)
    parent = {"process base": PROCESS_BASE, "problem data of all checks": problems,
              "block results held until a check concludes": held, "task keys": TASK_OVERHEAD * tasks}
    what = f"{len(specs)} check{'s' if len(specs) != 1 else ''}"
    return Plan("verify run", what, tasks, len(specs), steps, workers, here, remote, parent, largest, prep)


def sweep_plan(specs: Sequence[Any], *, executor: str = "local", jobs: int | None = None,
               scheduler: str | None = None) -> Plan:
    """The :class:`Plan` of ``verify sweep``: one task per grid point (``specs``, one per point)."""
    largest, prep, problems = _largest_costs(specs, lambda spec: task_cost(spec, spec.runs, lemma=False, sweep=True))
    steps = sum(max(int(spec.runs), 1) * max(int(spec.iters), 0) for spec in specs)
    workers, here, remote = _workers(executor, jobs, scheduler, len(specs))
    parent = {"process base": PROCESS_BASE, "problem data of all grid points": problems,
              "task keys": TASK_OVERHEAD * len(specs)}
    return Plan("verify sweep", f"a grid of {len(specs)} points", len(specs), len(specs), steps, workers, here,
                remote, parent, largest, prep)


def check_grid_size(points: int) -> None:
    """Refuse a sweep grid of more than :data:`MAX_TASKS` points before its points are listed."""
    if points > MAX_TASKS:
        raise UserError(f"verify sweep: the grid has {points} points; at most {MAX_TASKS} are allowed "
                        "(fewer values on an axis)")


def check_lambda(m: int, n: int, r: int, p: float, samples: int, progress: TextIO | None,
                 available: int | None = None) -> None:
    """Refuse ``verify lambda`` when its ``d × d`` estimates do not fit in memory; describe a large one.

    Only the sides with positive weight are estimated: ``R^m`` when ``p > 0``, ``R^n`` when ``p < 1``; they
    run one after the other, and the first side's ``d × d`` mean is kept while the second runs.
    """
    sides = [d for d, w in ((m, p), (n, 1 - p)) if w > 0]
    peaks = [lambda_bytes(d, r, samples) for d in sides]
    kept = FLOAT * 2 * sides[0] * sides[0] if len(sides) == 2 else 0
    peak = PROCESS_BASE + max(peaks) + kept
    allowed, avail = budget(available)
    shape = " and ".join(f"{d} x {d}" for d in sides)
    if avail > 0 and peak > allowed:
        raise UserError(f"verify lambda: --m {m} --n {n} would need about {fmt_bytes(peak)} of memory (E[H] "
                        f"estimates of {shape} float64 matrices); at most {fmt_bytes(allowed)} is allowed "
                        f"({HEADROOM:.0%} of the {fmt_bytes(avail)} available): lower --m and --n")
    work = samples * sum(sides) * r
    if progress is not None and (peak > min(LARGE_BYTES, LARGE_FRACTION * allowed) or work > 10**10):
        print(f"verify: plan: lambda estimate of {shape} matrices from {samples} sketches per side; estimated peak "
              f"memory {fmt_bytes(peak)} of {fmt_bytes(allowed)} allowed; {work:.3g} sketch entries to draw",
              file=progress, flush=True)


__all__ = ["BOUND_SCALE_MAX", "HEADROOM", "MAX_TASKS", "Plan", "ProblemSize", "TaskCost", "available_memory",
           "budget", "check_grid_size", "check_lambda", "enforce", "fmt_bytes", "lambda_bytes",
           "prepare_cost", "problem_size", "run_plan", "sweep_plan", "task_cost", "validate_bound_scale"]
