r"""A check: a theorem × a problem × a sketch distribution × a run configuration → a verdict.

1. :func:`prepare` resolves the ids, validates the configuration (:class:`~verify.errors.UserError` on
   bad input), builds the theorem's estimator from ``params``, and instantiates the theorem's constants
   (:mod:`verify.constants`); ``lambda_min_p``/``lambda_max_p`` come from the sketch's closed form or, if
   it has none, from the Monte-Carlo interval at its conservative end (lower end of λ_min^p, upper end of
   λ_max^p: the bound gets larger and the stepsize condition stricter).  ``gamma = gamma_factor ·
   gamma_max`` must satisfy the stepsize condition unless ``outside_conditions`` is set; an adaptive
   (Polyak) rule uses ``gamma_factor`` as a multiplier of its theoretical ratio.
2. :func:`run_block` runs one block of the R chains (:mod:`verify.blocks`; one block unless R exceeds
   ``block_runs``) for T steps and keeps the moments of the measure at log-spaced checkpoints; block 0
   also draws the lemma-level one-step check (:mod:`verify.lemma`).  :func:`conclude` merges the blocks and
   decides (:mod:`verify.stats`, skew-aware bounds at the check's level) against ``bound_scale · bound``
   and decides the one-step check; a violated one-step inequality makes the check violated.
   :func:`execute` does both in this process.
3. If Assumption 1 fails (λ_min^p = 0, e.g. a degenerate sketch) the theorem does not apply: the runs
   are still made and recorded (they stall), and the verdict is ``not_applicable``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

import theorems
from theorems import Theorem
from verify import audit as audit_mod
from verify import problems, sketch, stats, symbolic
from verify.blocks import DEFAULT_BLOCK_RUNS, SAMPLE_CURVES, BlockResult, Moments, block_ranges, block_streams
from verify.blocks import merge as merge_blocks
from verify.constants import ConstantValue, theorem_constants
from verify.errors import UserError, require
from verify.estimators import make_estimator
from verify.exact.in_check import describe_certificate, exact_record
from verify.exact.model_check import two_sided
from verify.exact.prepared import theorem_values
from verify.jsonio import finite_or_none, json_safe
from verify.lemma import OneStepSample, decide_one_step, sample_one_step
from verify.measures import FIRST_T, NEEDS_EXACT_F_STAR, measure_values
from verify.projection import BernoulliProjector, estimate_lambda_p
from verify.resources import BOUND_SCALE_MAX
from verify.runner import Algorithm, grad_sq_norm, run
from verify.seeding import task_seed
from verify.sensitivity import sensitivity
from verify.stepsizes import ConstantStep, PolyakStep

PLOT_POINTS = 2000
#: Cochran's rule for the model check: a checkpoint is tested only where runs > COCHRAN x skewness².
COCHRAN = 25


@dataclass(frozen=True)
class CheckSpec:
    """What to check.  ``runs`` is R (the CLI's ``--seeds``), ``iters`` is T; the runs are made in blocks of
    at most ``block_runs`` (one task each, :mod:`verify.blocks`)."""

    theorem: str
    problem: str = "isotropic-quadratic"
    sketch: str = "gaussian"
    p: float = 0.5
    r: int = 1
    runs: int = 256
    iters: int = 100
    gamma_factor: float = 1.0
    bound_scale: float = 1.0
    lemma_states: int = 12
    lemma_samples: int = 1000
    lambda_samples: int = 20000
    outside_conditions: bool = False
    params: tuple[tuple[str, Any], ...] = ()
    block_runs: int = DEFAULT_BLOCK_RUNS
    estimate_constants: bool = False

    def key(self) -> str:
        """What identifies the check and seeds it (``bound_scale`` is not part of it, nor ``block_runs``: the
        numbers of block b depend on this key, b and the block's run count, see :mod:`verify.blocks`)."""
        return (f"{self.theorem}|{self.problem}|{self.sketch}|p={self.p!r}|r={self.r}|runs={self.runs}"
                f"|iters={self.iters}|gamma_factor={self.gamma_factor!r}|lemma={self.lemma_states}x"
                f"{self.lemma_samples}|lambda={self.lambda_samples}|params={sorted(self.params)!r}"
                + ("|estimated constants" if self.estimate_constants else ""))


@dataclass(frozen=True)
class Prepared:
    """A validated check, ready to run: resolved objects and instantiated constants."""

    spec: CheckSpec
    theorem: Theorem
    problem: Any
    projector: BernoulliProjector
    estimator: Any
    stepsize: Any
    constants: dict[str, ConstantValue]
    gamma: float | None
    gamma_max: float | None
    conditions_met: bool
    applicable: bool
    reason: str
    lambda_estimated: bool
    conditional: tuple[str, ...] = ()


def _theorem(theorem_id: str) -> Theorem:
    known = theorems.registry()
    require(theorem_id in known, f"unknown theorem id {theorem_id!r}; known: {', '.join(known)}")
    return known[theorem_id]


def _validate_spec(spec: CheckSpec) -> None:
    require(0.0 <= spec.p <= 1.0, f"p = {spec.p} is outside [0, 1]")
    require(spec.runs >= 2, f"seeds = {spec.runs}: need at least 2 runs for a confidence bound")
    require(spec.block_runs >= 1, f"block runs = {spec.block_runs}: need at least 1 run per block")
    require(spec.iters >= 1, f"iters = {spec.iters}: need at least 1 iteration")
    require(spec.gamma_factor > 0, f"gamma factor {spec.gamma_factor} must be > 0")
    require(0 < spec.bound_scale <= BOUND_SCALE_MAX,
            f"bound scale {spec.bound_scale} is outside (0, {BOUND_SCALE_MAX:g}]")
    require(spec.lemma_states >= 0, f"lemma states {spec.lemma_states} must be >= 0")
    require(spec.lemma_samples >= 2, f"lemma samples {spec.lemma_samples} must be >= 2")


def _lambda_constants(spec: CheckSpec, projector: BernoulliProjector, m: int, n: int,
                      rng: np.random.Generator, delta: float) -> tuple[dict[str, ConstantValue], bool]:
    closed = projector.lambda_closed_form(m, n)
    if closed is not None:
        how = f"closed form for {spec.sketch} sketches: p lambda(E H_B) + (1-p) lambda(E H_A)"
        return {"lambda_min_p": ConstantValue(closed[0], how), "lambda_max_p": ConstantValue(closed[1], how)}, False
    est = estimate_lambda_p(projector.left, projector.right, m, n, spec.r, spec.p, spec.lambda_samples, rng, delta)
    how = (f"Monte Carlo, {spec.lambda_samples} sketches per side, matrix-Bernstein interval at level "
           f"1-{delta:.2g}: conservative end used")
    return {
        "lambda_min_p": ConstantValue(est.lambda_min_p.lower, how),
        "lambda_max_p": ConstantValue(est.lambda_max_p.upper, how),
    }, True


def _estimator(thm: Theorem, spec: CheckSpec) -> Any:
    try:
        return make_estimator(thm.estimator, **dict(spec.params))
    except TypeError as exc:
        raise UserError(f"bad parameters {dict(spec.params)} for estimator {thm.estimator!r}: {exc}") from None


def prepare(spec: CheckSpec, lambda_rng: np.random.Generator | None = None, lambda_delta: float = 1e-4,
            theorem: Theorem | None = None) -> Prepared:
    """Validate ``spec`` and instantiate the theorem's constants (see the module docstring).

    ``theorem`` checks a :class:`Theorem` object that need not be registered (a user's own record);
    without it, ``spec.theorem`` is looked up in :func:`theorems.registry`.
    """
    thm = theorem if theorem is not None else _theorem(spec.theorem)
    _validate_spec(spec)
    problem = problems.make(spec.problem)
    if spec.estimate_constants:
        from verify.problems.user import with_estimates

        problem = with_estimates(problem, spec.problem, seed=0)
    m, n = problem.shape
    require(1 <= spec.r <= min(m, n), f"r = {spec.r} is outside [1, min(m, n)] = [1, {min(m, n)}]")
    dist = sketch.make(spec.sketch)
    projector = BernoulliProjector(p=spec.p, r=spec.r, left=dist, right=dist)
    estimator = _estimator(thm, spec)
    f_star = problem.constants.get("f_star")
    require(f_star is not None, f"theorem {thm.id!r} needs f_star, which problem {problem.name!r} does not certify")
    rng = lambda_rng if lambda_rng is not None else np.random.default_rng(task_seed(0, spec.key()))
    lam, estimated = _lambda_constants(spec, projector, m, n, rng, lambda_delta)
    consts = theorem_constants(thm, problem, estimator, lam, spec.iters, rng)
    require(thm.measure not in NEEDS_EXACT_F_STAR or f_star.kind in ("exact", "estimate"),
            f"theorem {thm.id!r} bounds {thm.measure}, which needs the exact f^*; problem {problem.name!r} "
            f"certifies only a lower bound")
    values = {k: v.value for k, v in consts.items()} | {"T": spec.iters}

    applicable = values["lambda_min_p"] > 0
    reason = ""
    if not applicable:
        # The theorem says nothing; run at the stepsize it would give with lambda_min_p := lambda_max_p
        # to show how the method behaves (it stalls in the directions the sketch never reaches).
        values["lambda_min_p"] = values["lambda_max_p"]
        reason = (f"lambda_min^p = {consts['lambda_min_p'].value:.3g} is not positive for sketch {spec.sketch!r}: "
                  "Assumption 1 (positive expected projection) fails, the theorem does not apply")
    f_star_value = float(f_star.value)
    if thm.stepsize_rule == "polyak":
        ratio = spec.gamma_factor * values["lambda_min_p"] / values["lambda_max_p"]
        ok = spec.gamma_factor == 1.0
        require(ok or spec.outside_conditions,
                f"gamma factor {spec.gamma_factor} changes the Polyak stepsize of {thm.id!r}, whose theorem needs "
                "factor 1; pass --outside-conditions to run it anyway")
        stepsize: Any = PolyakStep(f_star=f_star_value, ratio=ratio)
        gamma = gamma_max = None
    else:
        gamma_max = symbolic.gamma_max_value(thm, values)
        require(gamma_max is not None and np.isfinite(gamma_max),
                f"theorem {thm.id!r} gives no finite stepsize bound for these constants ({gamma_max})")
        gamma = spec.gamma_factor * gamma_max
        ok = symbolic.stepsize_satisfied(thm, {**values, "gamma": gamma})
        require(ok or spec.outside_conditions,
                f"gamma = {gamma:.6g} (factor {spec.gamma_factor}) violates the stepsize condition of {thm.id!r} "
                f"({', '.join(str(c) for c in thm.stepsize_condition)}, gamma_max = {gamma_max:.6g}); "
                "pass --outside-conditions to run it anyway")
        stepsize = ConstantStep(gamma)
    used = {s.name for s in thm.symbols} | {"f_star"}
    conditional = tuple(sorted(k for k, c in problem.constants.items() if c.kind == "estimate" and k in used))
    return Prepared(spec, thm, problem, projector, estimator, stepsize, consts, gamma, gamma_max,
                    ok and applicable, applicable, reason, estimated, conditional)


@dataclass
class CheckResult:
    """Everything a check measured; :meth:`to_dict` is its ``results.json`` record."""

    theorem: str
    paper_ref: str
    provenance: dict[str, str]
    measure: str
    bound_latex: str
    problem: str
    problem_params: dict[str, Any]
    sketch: str
    p: float
    r: int
    shape: tuple[int, int]
    verdict: str
    reason: str
    slack: float | None
    slack_T: int | None
    slack_interval: tuple[float, float] | None
    slack_final: float | None
    attained: bool
    gamma: float | None
    gamma_max: float | None
    gamma_factor: float
    stepsize_rule: str
    estimator: str
    params: dict[str, Any]
    conditions_met: bool
    applicable: bool
    seeds: int
    block_runs: int
    iters: int
    alpha: float
    alpha_each: float
    bound_scale: float
    root_seed: int
    spawn_key: list[int]
    constants: dict[str, dict[str, Any]]
    checkpoints: list[int]
    observed_mean: list[float]
    ci_lower: list[float]
    ci_upper: list[float]
    bound: list[float]
    diverged_at: int | None
    lemma: dict[str, Any] | None
    timings: dict[str, float]
    curve: dict[str, list] = field(repr=False)
    sensitivity: dict[str, float | None] | None = None
    exact: dict[str, Any] | None = None
    audit: dict[str, Any] | None = None
    conditional: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN and infinities become None (JSON has no such numbers)."""
        return json_safe(asdict(self))


def _lyapunov(prep: Prepared, values: dict[str, float]) -> tuple[Any, str]:
    """``phi(W, state, grad)`` evaluating the theorem's Phi_t per run, or None and why it cannot be."""
    thm, problem = prep.theorem, prep.problem
    f_star = float(problem.constants["f_star"].value)
    step = thm.one_step
    if step.phi.has(theorems.symbols.dist_t):
        lam_min, lam_max = values["lambda_min_p"], values["lambda_max_p"]
        if prep.lambda_estimated or lam_min != lam_max or not hasattr(problem, "W_star"):
            return None, "the H^-1 distance needs an isotropic sketch with a closed-form E[H] and a known W*"
        W_star = np.asarray(problem.W_star, dtype=float)
        return (lambda W, state, grad: grad_sq_norm(W - W_star) / lam_min), ""
    k = symbolic.value(step.k, values, thm)
    est = prep.estimator
    return (lambda W, state, grad: problem.f(W) - f_star + k * est.error(state, problem, W, grad)), ""


def _grids(prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoints of the verdict (log grid from the measure's first T) and the plot points."""
    T, measure = prep.spec.iters, prep.theorem.measure
    checkpoints = stats.log_grid(T, start=max(FIRST_T[measure], 1))
    plot_T = np.arange(1, T + 1) if T <= PLOT_POINTS else stats.log_grid(T, PLOT_POINTS)
    if FIRST_T[measure] == 0:
        plot_T = np.concatenate([[0], plot_T])
    return checkpoints, plot_T


def _alpha_each(prep: Prepared, alpha: float, n_checkpoints: int, model: bool = False, audit_tests: int = 0) -> float:
    """This check's level per test: ``alpha`` over its checkpoints, one-step states, λ interval and the
    sampled audit witnesses (:func:`verify.audit.tests`), and, with an exact oracle (``model``), the two-sided
    model test at every checkpoint."""
    tests = (n_checkpoints * (2 if model else 1) + prep.spec.lemma_states + (1 if prep.lambda_estimated else 0)
             + audit_tests)
    return alpha / tests


def blocks(spec: CheckSpec) -> list[tuple[int, int]]:
    """``(start, count)`` of the blocks of runs of ``spec`` (:mod:`verify.blocks`); UserError on bad input."""
    _validate_spec(spec)
    return block_ranges(spec.runs, spec.block_runs)


def run_block(prep: Prepared, root_seed: int, index: int, algorithm: Algorithm | None = None) -> BlockResult:
    """Run block ``index`` of a prepared check (its runs, and for block 0 the one-step check's draws).

    ``algorithm`` replaces the theorem's algorithm (mutation tests).  Nothing here depends on the level α:
    :func:`conclude` decides.  The numbers depend on the root seed, ``spec.key()``, ``index`` and the
    block's run count only (:func:`verify.blocks.block_streams`).
    """
    spec, thm, problem = prep.spec, prep.theorem, prep.problem
    start, count = blocks(spec)[index]
    t0 = time.perf_counter()
    rngs = block_streams(task_seed(root_seed, spec.key()), index)
    T = spec.iters
    checkpoints, plot_T = _grids(prep)
    lemma_here = index == 0 and prep.applicable
    snapshot_at = np.unique(np.round(np.linspace(0, T - 1, num=min(4, T))).astype(int)).tolist()
    if algorithm is None:
        algorithm = Algorithm(prep.estimator, prep.projector, prep.stepsize)
    trace = run(problem, algorithm, count, T, rngs["runs"], snapshot_at if lemma_here else (),
                average_iterate=thm.measure == "gap_avg_iterate")
    t_run = time.perf_counter() - t0

    values = theorem_values(prep)
    f_star = float(problem.constants["f_star"].value)
    shape = {"a": symbolic.value(thm.one_step.a, values, thm), "k": symbolic.value(thm.one_step.k, values, thm)}
    X = measure_values(thm.measure, trace, checkpoints, f_star, **shape)
    X_plot = measure_values(thm.measure, trace, plot_T, f_star, **shape)
    diverged = stats.first_nonfinite_step(trace.f)
    lemma: dict[str, Any] | None = None
    exact: dict[str, Any] | None = None
    audit: dict[str, Any] | None = None
    if index == 0:
        exact = exact_record(prep, checkpoints, plot_T)
        audit = audit_mod.audit_record(prep, trace, values, rngs["audit"], shape)
    if lemma_here:
        lemma = _one_step(prep, trace, algorithm, values, rngs["lemma"], diverged)
    return BlockResult(index=index, start=start, runs=count,
                       checkpoints=Moments.of(np.where(np.isfinite(X), X, np.nan)),
                       plot=Moments.of(X_plot), samples=X_plot[:SAMPLE_CURVES], diverged_at=diverged,
                       lemma=lemma, exact=json_safe(exact),
                       timings={"runs_s": t_run, "total_s": time.perf_counter() - t0}, audit=json_safe(audit))


def _one_step(prep: Prepared, trace: Any, algorithm: Algorithm, values: dict[str, float],
              rng: np.random.Generator, diverged: int | None) -> dict[str, Any] | None:
    """The draws of the lemma-level check (:class:`verify.lemma.OneStepSample` record), ``{"skipped": why}``,
    or None after divergence or with no states to test."""
    thm, problem = prep.theorem, prep.problem
    phi, note = _lyapunov(prep, values)
    if phi is None:
        return {"skipped": note}
    if diverged is not None or prep.spec.lemma_states == 0:
        return None
    f_star = float(problem.constants["f_star"].value)
    step = thm.one_step
    a, c, d = (symbolic.value(e, values, thm) for e in (step.a, step.c, step.d))
    progress = symbolic.substitute(step.progress, {}, thm)
    qs = theorems.symbols

    def rhs(W: np.ndarray, state: Any, grad: np.ndarray) -> np.ndarray:
        delta = problem.f(W) - f_star
        prog = {qs.grad_sq: grad_sq_norm(grad), qs.delta_t: delta, qs.delta_t**2: delta**2}[progress]
        return a * phi(W, state, grad) - c * prog + d

    return sample_one_step(problem, algorithm, trace, phi, rhs, prep.spec.lemma_states, prep.spec.lemma_samples,
                           rng).to_record()


def _lemma_result(record: dict[str, Any] | None, alpha_each: float) -> dict[str, Any] | None:
    """The one-step check's result from block 0's record: decided at ``alpha_each`` (non-finite numbers as
    None), or the record itself when it is ``{"skipped": why}`` or None."""
    if record is None or "skipped" in record:
        return record
    return json_safe(asdict(decide_one_step(OneStepSample.from_record(record), alpha_each)))


def _has_exact(rec: dict[str, Any] | None) -> bool:
    """Whether block 0's exact record holds an exact expectation (not None, not ``{"skipped": why}``)."""
    return bool(rec) and "checkpoints" in rec


def _exact_outcome(rec: dict[str, Any] | None, moments: Moments, checkpoints: np.ndarray,
                   bound: np.ndarray, bound_at: Any, alpha_each: float,
                   finite: bool) -> tuple[dict[str, Any] | None, stats.Verdict | None]:
    """What the exact oracle says (:mod:`verify.exact.in_check`): the result's ``exact`` record and a verdict
    that overrides the statistical one, or None.

    In this order: the exact expectation above the bound (the theorem is false on this instance, no
    statistics), the runs' means disagreeing with it two-sidedly at level ``alpha_each`` per checkpoint (the
    implementation is not the method; only checkpoints that pass Cochran's rule R > 25 g1², where the normal
    approximation of a mean is adequate, are tested), the one-step certificate failing (the lemma is false
    at some state).  Otherwise, when the runs agree with the exact expectation, the bound **holds** on this
    instance: the exact expectation is below it at every checkpoint, which the statistics of an attained bound
    cannot say.
    """
    if not _has_exact(rec):
        return rec, None
    exact = np.asarray(rec["checkpoints"], dtype=float)
    floor = stats.FLOOR * float(np.max(np.abs(exact)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((exact > floor) & (bound > floor), bound / exact, np.inf)
    k = int(np.argmin(ratio))
    out = dict(rec)
    out["slack"] = finite_or_none(ratio[k])
    out["slack_T"] = int(checkpoints[k])
    out["slack_final"] = finite_or_none(ratio[-1])
    out["sensitivity"] = asdict(sensitivity(exact, exact, bound, checkpoints, bound_at, floor))
    verdict = None
    if ratio[k] < 1 - stats.RTOL:
        verdict = stats.Verdict("violated", k, f"the exact expectation {exact[k]:.6g} exceeds the bound {bound[k]:.6g}")
    # Cochran's rule: the mean of R runs is near-normal only where R > 25 g1^2; a heavier tail (products of
    # random contractions late in a run are near log-normal) makes its sample mean fall short of the
    # expectation most of the time, which would read as "too fast".  Such checkpoints are not tested.
    skew = moments.skewness()
    tested = moments.count > COCHRAN * skew**2
    if finite and tested.any():
        model = two_sided(moments.mean[tested], moments.std()[tested], moments.count, exact[tested],
                          alpha=alpha_each * int(tested.sum()), skewness=skew[tested])
        out["model"] = {"verdict": model.verdict, "max_abs_z": model.max_abs_z, "critical": model.critical,
                        "tested": int(tested.sum()), "checkpoints": len(exact), "summary": model.describe()}
        if verdict is None and model.verdict != "agrees":
            verdict = stats.Verdict("violated", None, f"model check: the runs are not the method ({model.describe()})")
    cert = rec.get("certificate", {})
    if verdict is None and cert.get("holds") is False:
        verdict = stats.Verdict("violated", None, describe_certificate(cert))
    if verdict is None and out.get("model", {}).get("verdict") == "agrees":
        verdict = stats.Verdict("holds", None, f"exact expectation below the bound at every checkpoint (exact slack "
                                               f"{ratio[k]:.6g}) and the runs agree with it")
    return json_safe(out), verdict


def conclude(prep: Prepared, root_seed: int, alpha: float, results: Sequence[BlockResult]) -> CheckResult:
    """Merge the blocks of a check (all of them, any order) and decide (see the module docstring)."""
    spec, thm = prep.spec, prep.theorem
    t0 = time.perf_counter()
    ranges = blocks(spec)
    got = sorted(b.index for b in results)
    if got != list(range(len(ranges))):
        raise ValueError(f"check {spec.key()} has {len(ranges)} blocks, got blocks {got}")
    for b in results:
        if (b.start, b.runs) != ranges[b.index]:
            raise ValueError(f"block {b.index} of check {spec.key()} holds runs {b.start}+{b.runs}, "
                             f"expected {ranges[b.index][0]}+{ranges[b.index][1]}")
    checkpoints, plot_T = _grids(prep)
    block0 = next(b for b in results if b.index == 0)
    alpha_each = _alpha_each(prep, alpha, len(checkpoints), model=_has_exact(block0.exact),
                             audit_tests=audit_mod.tests(block0.audit))
    cp_moments, plot_moments, samples, diverged = merge_blocks(list(results))
    bounds = stats.moment_bounds(cp_moments, alpha_each)
    plot_bounds = stats.moment_bounds(plot_moments, alpha_each)
    lemma = _lemma_result(block0.lemma, alpha_each)
    values = theorem_values(prep)
    slk = None
    sens = None
    exact = block0.exact
    attained = False
    audit = None
    if not prep.applicable:
        bound_vals = np.full(len(checkpoints), np.nan)
        bound_plot = np.full(len(plot_T), np.nan)
        verdict = stats.Verdict("not_applicable", None, prep.reason)
    else:
        bound_fn = symbolic.in_T(thm.bound, values, thm, float64=True)

        def bound_at(T: np.ndarray) -> np.ndarray:  # for the sensitivity figures only
            return spec.bound_scale * bound_fn(T)

        bound_vals = spec.bound_scale * symbolic.evaluate(thm.bound, values, checkpoints, thm)
        bound_plot = spec.bound_scale * symbolic.evaluate(thm.bound, values, plot_T, thm)
        atol = stats.FLOOR * abs(float(bounds.mean[0]))
        if diverged is not None:
            verdict = stats.Verdict("violated", None, f"divergence: non-finite f at step {diverged}")
        else:
            verdict = stats.decide(bounds, bound_vals, atol=atol)
        slk = stats.slack(bounds, bound_vals, atol=atol)
        sens = asdict(sensitivity(bounds.lower, bounds.mean, bound_vals, checkpoints, bound_at, atol))
        attained = verdict.verdict == "inconclusive" and slk.interval[0] <= 1.0 <= slk.interval[1]
        if attained:
            verdict = stats.Verdict("inconclusive", slk.index,
                                    f"bound attained: bound/mean = {slk.value:.4f}, confidence interval "
                                    f"[{slk.interval[0]:.4f}, {slk.interval[1]:.4f}] contains 1")
        exact, exact_verdict = _exact_outcome(block0.exact, cp_moments, checkpoints, bound_vals, bound_at,
                                              alpha_each, diverged is None)
        if exact_verdict is not None and verdict.verdict != "violated":
            verdict = exact_verdict  # an exact answer (violated, or holds with agreeing runs) outranks a statistic
        if lemma is not None and lemma.get("verdict") == "violated" and verdict.verdict != "violated":
            verdict = stats.Verdict("violated", None, f"one-step inequality violated: {lemma['reason']}")
        audit, contradiction = audit_mod.decide(block0.audit, alpha_each)
        if contradiction is not None:  # the root cause comes first: every figure above used the wrong constant
            also = f"; with it: {verdict.reason}" if verdict.verdict == "violated" else ""
            verdict = stats.Verdict("violated", None, contradiction + also)
        attained = attained and verdict.verdict != "violated"
    m, n = prep.problem.shape
    seed = task_seed(root_seed, spec.key())
    t_runs = sum(b.timings["runs_s"] for b in results)
    t_total = sum(b.timings["total_s"] for b in results) + time.perf_counter() - t0
    return CheckResult(
        theorem=thm.id, paper_ref=thm.paper_ref,
        provenance={"tag": thm.provenance.tag, "source": thm.provenance.source},
        measure=thm.measure, bound_latex=thm.statement,
        problem=spec.problem, problem_params=dict(prep.problem.params), sketch=spec.sketch, p=spec.p, r=spec.r,
        shape=(m, n), verdict=verdict.verdict,
        reason=(f"conditional on estimated constants {', '.join(prep.conditional)}: " if prep.conditional else "")
        + verdict.reason + ("" if verdict.index is None else f" (T = {int(checkpoints[verdict.index])})"),
        slack=None if slk is None else finite_or_none(slk.value),
        slack_T=None if slk is None else int(checkpoints[slk.index]),
        slack_interval=None if slk is None else slk.interval, attained=attained,
        slack_final=None if slk is None or bounds.mean[-1] <= 0 else finite_or_none(bound_vals[-1] / bounds.mean[-1]),
        gamma=prep.gamma, gamma_max=prep.gamma_max, gamma_factor=spec.gamma_factor,
        stepsize_rule=thm.stepsize_rule, estimator=prep.estimator.name, params=dict(spec.params),
        conditions_met=prep.conditions_met, applicable=prep.applicable,
        seeds=spec.runs, block_runs=spec.block_runs, iters=spec.iters, alpha=alpha, alpha_each=alpha_each,
        bound_scale=spec.bound_scale, root_seed=root_seed, spawn_key=list(seed.spawn_key),
        constants={k: {"value": v.value, "how": v.how} for k, v in prep.constants.items()},
        checkpoints=checkpoints.tolist(), observed_mean=bounds.mean.tolist(),
        ci_lower=bounds.lower.tolist(), ci_upper=bounds.upper.tolist(), bound=bound_vals.tolist(),
        diverged_at=diverged, lemma=lemma,
        timings={"runs_s": t_runs, "total_s": t_total},
        curve={"T": plot_T.tolist(), "mean": plot_bounds.mean.tolist(), "lower": plot_bounds.lower.tolist(),
               "upper": plot_bounds.upper.tolist(), "bound": bound_plot.tolist(),
               "runs": samples.tolist()},
        sensitivity=sens, exact=exact, audit=audit, conditional=list(prep.conditional),
    )


def execute(prep: Prepared, root_seed: int, alpha: float, algorithm: Algorithm | None = None) -> CheckResult:
    """Run every block of a prepared check in this process and conclude; ``alpha`` is the check's share of
    the family-wise level.  ``algorithm`` replaces the theorem's algorithm (used by mutation tests to show
    a broken algorithm is caught)."""
    return conclude(prep, root_seed, alpha, [run_block(prep, root_seed, b, algorithm)
                                             for b in range(len(blocks(prep.spec)))])


def with_scale(spec: CheckSpec, bound_scale: float) -> CheckSpec:
    """The same check (same random numbers) against the bound multiplied by ``bound_scale``."""
    return replace(spec, bound_scale=bound_scale)
