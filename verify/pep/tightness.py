r"""Worst-case tightness of a theorem's bound: the exact worst case (a PEP) next to the encoded bound.

For a theorem, a finite-outcome sketch (:mod:`verify.pep.sketch`), p and T, :func:`tightness` builds the
PEP of the theorem's method (:mod:`verify.pep.problems`), solves it (CLARABEL, falling back to SCS when
CLARABEL fails) and evaluates the theorem's bound from its sympy record with
:func:`verify.symbolic.evaluate` at the same constants (λ_min^p, λ_max^p of the sketch, γ = γ_max).

Two kinds of rows (``initial``):

* a trajectory (``telescoped``, ``gap``, ``distance``): worst case of the theorem's measure after T steps
  against ``bound(T)``;
* ``one-step``: the proof's inequality ``E_tΦ_{t+1} ≤ aΦ_t − c·progress_t + d`` (a = 1 for every covered
  theorem).  With d = 0 the inequality is homogeneous, the PEP fixes ``progress_t = 1`` and the row
  compares ``sup E_tΦ_{t+1} − Φ_t`` with ``bound = −c``; with d > 0 the row compares
  ``sup E_tΦ_{t+1} − Φ_t + c·progress_t`` (finite without normalisation) with ``bound = d``.

``ratio`` is how far the bound is from the worst case: bound/worst_case when both are positive,
worst_case/bound when both are negative (so ratio ≥ 1 iff worst_case ≤ bound, and 1 when tight), None
when the signs differ or one is 0 (then ``verdict`` says which side).  ``bound_scale`` S < 1 asks for a
stronger claim: a trajectory bound B becomes S·B, a one-step right-hand side d − c becomes S·d − c/S.

Verdicts, with ``tol = max(accuracy, rtol·max(|worst_case|, |bound|))`` (rtol 1e-5 when the solver
reports ``optimal``, 1e-4 otherwise; ``accuracy`` = the larger of the duality gap and the largest
violation of a constraint or of positive semidefiniteness at the solution):

* exact PEP: ``violated`` if worst_case > bound + tol (the PEP's solution is the witness), ``tight`` if
  |worst_case − bound| ≤ tol, else ``holds``;
* upper (relaxed class): ``holds`` if worst_case ≤ bound + tol, else ``inconclusive``;
* lower (restricted class): ``violated`` if worst_case > bound + tol, ``attained`` if within tol, else
  ``not refuted``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import theorems
from verify import symbolic
from verify.errors import UserError, require
from verify.pep.sketch import FiniteSketch

#: The PEPs each covered theorem has, by initial condition (``one-step``: the proof's one-step inequality).
COVERED: dict[str, tuple[str, ...]] = {
    "gd-nc": ("telescoped", "gap", "one-step"),
    "gd-pl": ("gap", "one-step"),
    "sgd-nc": ("one-step",),
    "ns-const": ("distance", "one-step"),
    "ns-polyak": ("one-step",),
}

#: Constants of the PEPs (the class parameters and the theorems' constants share these values).
CONSTANTS: dict[str, float] = {"L": 1.0, "Delta0": 1.0, "mu": 0.2, "sigma2": 1.0, "A": 0.0, "B": 1.0,
                               "L0": 1.0, "R0": 1.0}

SOLVERS = ("CLARABEL", "SCS")
VERDICTS = ("tight", "holds", "violated", "attained", "not refuted", "inconclusive")


@dataclass(frozen=True)
class Row:
    """One PEP against one bound.  ``seconds`` is the wall time of building and solving (all attempts)."""

    theorem: str
    sketch: str
    p: float
    T: int
    initial: str
    measure: str
    nature: str
    worst_case: float
    bound: float
    ratio: float | None
    verdict: str
    solver: str
    status: str
    accuracy: float
    seconds: float
    note: str = ""

    def as_dict(self) -> dict:
        """The row as a JSON-ready dict (the keys of :func:`verify.pep.cached_tightness`)."""
        return asdict(self)


@dataclass(frozen=True)
class Solved:
    """A solved PEP: the primal optimal value (a worst-case instance's value) and how it was obtained."""

    value: float
    nature: str
    solver: str
    status: str
    accuracy: float
    seconds: float
    note: str


def theorem_values(thm_id: str, sketch: FiniteSketch, p: float, T: int) -> dict[str, float]:
    """The constants at which the theorem's bound is evaluated: :data:`CONSTANTS`, the sketch's λ's, p, T,
    C = σ² (bounded variance is the ABC condition with A = 0, B = 1, C = σ²) and γ = γ_max."""
    values = {**CONSTANTS, "C": CONSTANTS["sigma2"], "p": p, "T": T,
              "lambda_min_p": sketch.lambda_min_p, "lambda_max_p": sketch.lambda_max_p}
    thm = theorems.registry()[thm_id]
    gamma = symbolic.gamma_max_value(thm, values)
    if gamma is not None:
        values["gamma"] = gamma
    return values


def tightness_ratio(worst_case: float, bound: float) -> float | None:
    """bound/worst_case if both > 0, worst_case/bound if both < 0, else None (≥ 1 iff worst_case ≤ bound)."""
    if worst_case > 0 and bound > 0:
        return bound / worst_case
    if worst_case < 0 and bound < 0:
        return worst_case / bound
    return None


def verdict(worst_case: float, bound: float, nature: str, accuracy: float, status: str) -> str:
    """The verdict of the module docstring."""
    rtol = 1e-5 if status == "optimal" else 1e-4
    tol = max(accuracy, rtol * max(abs(worst_case), abs(bound)))
    excess = worst_case - bound
    if nature == "exact":
        return "violated" if excess > tol else "tight" if excess >= -tol else "holds"
    if nature == "upper":
        return "holds" if excess <= tol else "inconclusive"
    return "violated" if excess > tol else "attained" if excess >= -tol else "not refuted"


def _accuracy(pep, dual: float, primal: float) -> float:
    """Duality gap and the largest primal infeasibility (scalar constraints, Gram matrix, other LMIs)."""
    import numpy as np

    worst = abs(dual - primal)
    for con in pep._list_of_constraints_sent_to_wrapper:  # PEPit >= 0.5 keeps the constraints it sent here
        value = float(con.eval())
        worst = max(worst, value if con.equality_or_inequality == "inequality" else abs(value))
    worst = max(worst, -float(np.min(np.linalg.eigvalsh(pep.G_value))))
    for psd in pep._list_of_psd_sent_to_wrapper:
        worst = max(worst, -float(np.min(np.linalg.eigvalsh(psd.eval().astype(float)))))
    return worst


def solve(build: Callable[[], object], solver: str = "CLARABEL") -> Solved:
    """Build and solve a PEP with ``solver``; if CLARABEL raises, or ends neither optimal nor
    optimal_inaccurate, build it again and solve with SCS (``note`` says why).  ``seconds`` is the wall time
    of every attempt, building included.  Raises RuntimeError when no solver succeeds."""
    import cvxpy

    require(solver in SOLVERS, f"--solver {solver!r} is not one of {SOLVERS}")
    attempts = [solver] + (["SCS"] if solver == "CLARABEL" else [])
    notes = []
    start = time.perf_counter()
    for name in attempts:
        built = build()
        try:
            with warnings.catch_warnings():  # "solution may be inaccurate": the status and accuracy report it
                warnings.simplefilter("ignore", UserWarning)
                dual = built.pep.solve(wrapper="cvxpy", solver=name, verbose=0)
        except (cvxpy.error.SolverError, ArithmeticError, ValueError) as exc:
            notes.append(f"{name} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        seconds = time.perf_counter() - start
        status = built.pep.wrapper.prob.status
        if dual is None or status not in ("optimal", "optimal_inaccurate"):
            notes.append(f"{name} ended {status}")
            continue
        primal = float(built.pep.objective.eval())
        return Solved(primal, built.nature, name, status, _accuracy(built.pep, float(dual), primal), seconds,
                      "; ".join(notes))
    raise RuntimeError("no solver solved the PEP: " + "; ".join(notes))


def _one_step_coefficients(thm, values: dict[str, float]) -> tuple[float, float, float]:
    step = thm.one_step
    a, c, d = (symbolic.value(e, values, thm) for e in (step.a, step.c, step.d))
    if abs(a - 1.0) > 1e-12:
        raise UserError(f"{thm.id}: one-step PEPs need a = 1, got a = {a}")
    return a, c, d


def _case(thm_id: str, initial: str, sketch: FiniteSketch, T: int, values: dict[str, float],
          bound_scale: float) -> tuple[Callable[[], object], float, str]:
    """The builder of the PEP, the (scaled) bound it is compared with, and what is measured."""
    from verify.pep import problems

    thm = theorems.registry()[thm_id]
    gamma = values.get("gamma")
    L, L0 = values["L"], values["L0"]
    if initial != "one-step":
        bound = bound_scale * float(symbolic.evaluate(thm.bound, values, [T], thm)[0])
        if thm_id == "ns-const":
            return (lambda: problems.subgradient_trajectory(sketch, T, gamma, L0, values["R0"]), bound,
                    "E f(xbar^T) - f*, xbar^T = mean of x^0..x^{T-1}")
        mu = values["mu"] if thm_id == "gd-pl" else None
        measure = thm.measure
        text = "(1/T) sum_{t<T} E||grad f(x^t)||^2" if measure == "avg_grad_sq" else "E f(x^T) - f*"
        return (lambda: problems.gd_trajectory(sketch, T, gamma, L, values["Delta0"], initial, measure, mu),
                bound, text)
    _, c, d = _one_step_coefficients(thm, values)
    if d == 0:
        bound = -c / bound_scale
    else:
        bound = bound_scale * d
    if thm_id in ("gd-nc", "gd-pl"):
        return (lambda: problems.gd_one_step(sketch, gamma, L), bound,
                "sup E_t f(x^{t+1}) - f(x^t) at ||grad f(x^t)||^2 = 1")
    if thm_id == "sgd-nc":
        return (lambda: problems.sgd_one_step(sketch, gamma, L, values["sigma2"], c), bound,
                "sup E_t f(x^{t+1}) - f(x^t) + c||grad f(x^t)||^2, 2-point noise with variance <= sigma2")
    if thm_id == "ns-const":
        return (lambda: problems.subgradient_one_step(sketch, gamma, L0, c=c), bound,
                "sup E_t dist_{t+1} - dist_t + c (f(x^t) - f*), dist in the H^-1 norm")
    return (lambda: problems.subgradient_one_step(sketch, None, L0, polyak_G=L0**2), bound,
            "sup E_t dist_{t+1} - dist_t at f(x^t) - f* = 1, ||g^t||^2 = L0^2, dist in the H^-1 norm")


def tightness(thm_id: str, sketch: FiniteSketch, p: float, T: int, initial: str, solver: str = "CLARABEL",
              bound_scale: float = 1.0) -> Row:
    """Solve the PEP of ``thm_id`` with ``initial`` (a key of :data:`COVERED`) and compare it with the bound."""
    require(thm_id in COVERED, f"no PEP for theorem {thm_id!r}; covered: {', '.join(COVERED)}")
    require(initial in COVERED[thm_id], f"--initial {initial!r} is not available for {thm_id}; "
                                        f"allowed: {', '.join(COVERED[thm_id])}")
    require(T >= 1, f"--T {T} must be >= 1")
    require(0 < bound_scale <= 1e6 and math.isfinite(bound_scale), f"--bound-scale {bound_scale} must be in (0, 1e6]")
    if initial == "one-step":
        T = 1
    branches = sketch.branches(T if thm_id != "ns-const" else T - 1)
    require(branches <= 256, f"--T {T} with the {sketch.name} sketch gives {branches} outcome sequences; "
                             "at most 256 (a PEP of that size takes minutes)")
    values = theorem_values(thm_id, sketch, p, T)
    build, bound, measure = _case(thm_id, initial, sketch, T, values, bound_scale)
    solved = solve(build, solver)
    return Row(theorem=thm_id, sketch=sketch.name, p=p, T=T, initial=initial, measure=measure, nature=solved.nature,
               worst_case=solved.value, bound=bound, ratio=tightness_ratio(solved.value, bound),
               verdict=verdict(solved.value, bound, solved.nature, solved.accuracy, solved.status),
               solver=solved.solver, status=solved.status, accuracy=solved.accuracy, seconds=solved.seconds,
               note=solved.note)


__all__ = ["CONSTANTS", "COVERED", "SOLVERS", "VERDICTS", "Row", "Solved", "solve", "theorem_values", "tightness",
           "tightness_ratio", "verdict"]
