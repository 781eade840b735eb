r"""Symbolic checks of the theorem records, and their numeric evaluation.

Proofs (each returns a :class:`Proof`; the tests require ``ok`` for every registered theorem):

* :func:`prove_requirements`: every coefficient the proof needs is non-negative on the whole
  admissible domain.  Positivity is proved by **reparametrising the domain**: ``gamma = g_i/(1+u)``
  for a stepsize bound ``gamma <= g_i`` (every gamma in (0, g_i] is reached by exactly one u >= 0),
  ``mu = L/(1+u_mu)`` (an L-smooth PŁ function has mu <= L), ``lambda_min_p = lambda_max_p/(1+u_l)``,
  ``lambda_max_p = 1/(1+u_L)`` (projections: lambda_min_p <= lambda_max_p <= 1), all u >= 0.  The
  expression is brought to one fraction; sympy's assumption system must then decide the signs of the
  expanded numerator and denominator.  Since gamma <= min_i g_i implies gamma <= g_i, a proof under
  any one bound is a proof under the condition.  Nothing is sampled.
* :func:`prove_unrolling`: the ``one_step`` inequality implies ``bound``.  ``telescoping``: the
  invariant ``J(T) = Phi_T + c S_T - Phi_0 - T d <= 0`` (``S_T = sum_{t<T} ||grad f(W^t)||^2``) has
  ``J(0) = 0`` and ``J(T+1) <= J(T)`` is a sympy identity; dropping ``Phi_T >= 0`` gives
  ``S_T/T <= (Phi_0 + T d)/(c T)``, which must be ``<= bound``.  ``contraction``: PŁ turns the step
  into ``E Phi_{t+1} <= rho Phi_t + d`` with ``rho = a - 2 mu c`` (needs c >= 0 and rho >= 0); the
  induction ``B(T+1) - rho B(T) - d >= 0``, ``B(0) >= Phi_0`` is proved for the claimed bound B.
* :func:`prove_gamma_max`: ``gamma_max`` is one of the stepsize bounds and satisfies all of them.

Numeric evaluation (:func:`evaluate`) substitutes the constants and evaluates with mpmath at 50
significant digits, so ``(1 - x)^T`` with tiny x or huge T does not lose precision in float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from theorems import Theorem
from theorems.symbols import BY_NAME, T, gamma, grad_sq, lambda_max_p, lambda_min_p, mu

_DIGITS = 50

_u_gamma = sp.Symbol("u_gamma", nonnegative=True)
_u_mu = sp.Symbol("u_mu", nonnegative=True)
_u_lmin = sp.Symbol("u_lambda_min", nonnegative=True)
_u_lmax = sp.Symbol("u_lambda_max", nonnegative=True)
_L = BY_NAME["L"]


@dataclass(frozen=True)
class Proof:
    """Outcome of one symbolic check: ``ok`` and a one-line ``detail``."""

    name: str
    ok: bool
    detail: str


def stepsize_bounds(thm: Theorem) -> tuple[sp.Expr, ...]:
    """The right-hand sides g_i of the stepsize condition ``gamma <= g_i``."""
    bounds = []
    for rel in thm.stepsize_condition:
        if not (isinstance(rel, sp.core.relational.LessThan) and rel.lhs == gamma):
            raise ValueError(f"{thm.id}: stepsize condition {rel} is not of the form gamma <= g")
        bounds.append(rel.rhs)
    return tuple(bounds)


def _domain_substitutions(thm: Theorem) -> list[list[tuple[sp.Symbol, sp.Expr]]]:
    structural = [
        (mu, _L / (1 + _u_mu)),
        (lambda_min_p, lambda_max_p / (1 + _u_lmin)),
        (lambda_max_p, 1 / (1 + _u_lmax)),
    ]
    return [[(gamma, g / (1 + _u_gamma)), *structural] for g in stepsize_bounds(thm)]


def _sign_decided(expr: sp.Expr) -> bool:
    """True if sympy proves ``expr >= 0`` (as one fraction with expanded numerator and denominator)."""
    num, den = sp.fraction(sp.together(sp.simplify(expr)))
    for candidate in (sp.expand(num), sp.factor(num)):
        den_e = sp.expand(den)
        if candidate.is_nonnegative and den_e.is_positive:
            return True
        if candidate.is_nonpositive and den_e.is_negative:
            return True
    return False


def prove_nonnegative(expr: sp.Expr, thm: Theorem) -> bool:
    """Prove ``expr >= 0`` for every admissible gamma, mu, lambda (see the module docstring)."""
    if _sign_decided(expr):
        return True
    for subs in _domain_substitutions(thm):
        if _sign_decided(expr.subs(subs)):
            return True
    return False


def prove_requirements(thm: Theorem) -> list[Proof]:
    """Each of ``one_step.requirements`` and ``c`` is non-negative under the stepsize condition."""
    items = [*thm.one_step.requirements, ("c >= 0 (the gradient term is a decrease)", thm.one_step.c)]
    return [
        Proof(f"{thm.id}: {name}", ok := prove_nonnegative(expr, thm),
              f"{sp.simplify(expr)} >= 0 " + ("proved" if ok else "NOT proved"))
        for name, expr in items
    ]


def contraction_factor(thm: Theorem) -> sp.Expr:
    """``rho = a - 2 mu c``: the one-step inequality after PŁ, ``||grad f||^2 >= 2 mu Phi_t``."""
    return sp.simplify(thm.one_step.a - 2 * mu * thm.one_step.c)


def prove_unrolling(thm: Theorem) -> list[Proof]:
    """Prove that unrolling ``one_step`` for T steps gives ``bound`` (see the module docstring)."""
    step = thm.one_step
    a, c, d, phi0 = step.a, step.c, step.d, step.Phi0
    proofs: list[Proof] = []
    if thm.unrolling == "telescoping":
        phi_t, s_t = sp.symbols("Phi_T S_T", nonnegative=True)
        ok_a = sp.simplify(a - 1) == 0
        proofs.append(Proof(f"{thm.id}: telescoping needs a = 1", ok_a, f"a = {a}"))
        j_t = phi_t + c * s_t - phi0 - T * d
        j_next = (a * phi_t - c * grad_sq + d) + c * (s_t + grad_sq) - phi0 - (T + 1) * d
        ok_step = sp.simplify(j_next - j_t) == 0
        proofs.append(Proof(f"{thm.id}: induction step J(T+1) <= J(T)", ok_step,
                            f"J(T+1) - J(T) = {sp.simplify(j_next - j_t)}"))
        ok_base = sp.simplify(j_t.subs({T: 0, s_t: 0, phi_t: phi0})) == 0
        proofs.append(Proof(f"{thm.id}: base case J(0) = 0", ok_base, "Phi_0 - Phi_0 = 0"))
        derived = (phi0 + T * d) / (c * T)
        gap = sp.simplify(thm.bound - derived)
        ok_final = gap == 0 or prove_nonnegative(gap, thm)
        proofs.append(Proof(f"{thm.id}: (Phi_0 + T d)/(c T) <= bound", ok_final, f"bound - derived = {gap}"))
    else:
        rho = contraction_factor(thm)
        ok_lyap = step.lyapunov == "f(W^t) - f^*"
        proofs.append(Proof(f"{thm.id}: PŁ applies to the Lyapunov function", ok_lyap, step.lyapunov))
        proofs.append(Proof(f"{thm.id}: rho = a - 2 mu c >= 0", prove_nonnegative(rho, thm), f"rho = {rho}"))
        # rho >= 0 is proved above; a non-negative symbol for it lets sympy combine the powers.
        rho_s = sp.Symbol("rho", nonnegative=True)
        bound_rho = thm.bound.subs(rho, rho_s)
        step_gap = sp.simplify(bound_rho.subs(T, T + 1) - rho_s * bound_rho - d.subs(rho, rho_s))
        ok_step = step_gap == 0 or prove_nonnegative(step_gap, thm)
        proofs.append(Proof(f"{thm.id}: induction step B(T+1) >= rho B(T) + d", ok_step,
                            f"B(T+1) - rho B(T) - d = {step_gap}"))
        base_gap = sp.simplify(thm.bound.subs(T, 0) - phi0)
        ok_base = base_gap == 0 or prove_nonnegative(base_gap, thm)
        proofs.append(Proof(f"{thm.id}: base case B(0) >= Phi_0", ok_base, f"B(0) - Phi_0 = {base_gap}"))
    return proofs


def prove_gamma_max(thm: Theorem) -> Proof:
    """``gamma_max`` equals one stepsize bound and is below all of them."""
    bounds = stepsize_bounds(thm)
    is_one = any(sp.simplify(thm.gamma_max - g) == 0 for g in bounds)
    below_all = all(sp.simplify(g - thm.gamma_max) == 0 or prove_nonnegative(g - thm.gamma_max, thm)
                    for g in bounds)
    return Proof(f"{thm.id}: gamma_max = min of the stepsize bounds", is_one and below_all,
                 f"gamma_max = {thm.gamma_max}, bounds = {bounds}")


def all_proofs(thm: Theorem) -> list[Proof]:
    """Every symbolic check of one theorem."""
    return [*prove_requirements(thm), *prove_unrolling(thm), prove_gamma_max(thm)]


# --- numeric evaluation -------------------------------------------------------------------------

def substitute(expr: sp.Expr, values: Mapping[str, float]) -> sp.Expr:
    """Replace every symbol named in ``values`` by its value as an exact binary float."""
    subs = {BY_NAME[name]: sp.Float(float(v), _DIGITS) for name, v in values.items() if name in BY_NAME}
    return expr.xreplace(subs)


def evaluate(expr: sp.Expr, values: Mapping[str, float], T_values: Sequence[int] | np.ndarray) -> np.ndarray:
    """Evaluate ``expr`` at each T in ``T_values`` with mpmath at 50 digits; returns float64.

    Every free symbol other than ``T`` must be given in ``values``.
    """
    e = substitute(expr, values)
    missing = sorted(s.name for s in e.free_symbols if s != T)
    if missing:
        raise ValueError(f"no value for {missing} when evaluating {expr}")
    fn = sp.lambdify(T, e, modules="mpmath")
    with mpmath.workdps(_DIGITS):
        return np.array([float(fn(mpmath.mpf(int(t)))) for t in np.asarray(T_values)], dtype=float)


def value(expr: sp.Expr, values: Mapping[str, float]) -> float:
    """A T-free expression evaluated at ``values`` (mpmath, 50 digits)."""
    return float(evaluate(expr, values, [0])[0])


def stepsize_satisfied(thm: Theorem, values: Mapping[str, float], rtol: float = 1e-12) -> bool:
    """Whether ``gamma = values['gamma']`` satisfies every ``gamma <= g_i`` (up to float rounding rtol)."""
    g = float(values["gamma"])
    return all(g <= value(b, values) * (1 + rtol) for b in stepsize_bounds(thm))
