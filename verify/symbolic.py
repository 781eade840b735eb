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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from theorems import Theorem
from theorems.symbols import (
    BY_NAME,
    QUANTITIES,
    B,
    L,
    T,
    alpha_c,
    b,
    delta_t,
    gamma,
    lambda_max_p,
    lambda_min_p,
    mu,
    q,
    theta,
)

_DIGITS = 50
_T_POSITIVE = sp.Symbol("T", positive=True, integer=True)


def _u(name: str) -> sp.Symbol:
    return sp.Symbol(f"u_{name}", nonnegative=True)


#: Facts that hold for every admissible constant, as reparametrisations by u >= 0 (applied in order):
#: mu <= L; lambda_min_p <= lambda_max_p <= 1; q, b, theta, alpha in (0, 1]; B >= 1 (ABC as certified here).
STRUCTURAL: tuple[tuple[sp.Symbol, sp.Expr], ...] = (
    (mu, L / (1 + _u("mu"))),
    (lambda_min_p, lambda_max_p / (1 + _u("lambda_min"))),
    (lambda_max_p, 1 / (1 + _u("lambda_max"))),
    (q, 1 / (1 + _u("q"))),
    (b, 1 / (1 + _u("b"))),
    (theta, 1 / (1 + _u("theta"))),
    (alpha_c, 1 / (1 + _u("alpha"))),
    (B, 1 + _u("B")),
)


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


def _structural(expr: sp.Expr, solved: set[sp.Symbol]) -> sp.Expr:
    for sym, rep in STRUCTURAL:
        if sym not in solved:
            expr = expr.subs(sym, rep)
    return expr


def _domain_substitutions(thm: Theorem) -> list[tuple[list[tuple[sp.Symbol, sp.Expr]], set[sp.Symbol]]]:
    """Reparametrisations of the admissible domain: one per stepsize bound, and a joint one.

    Single: ``gamma = g_i/(1+u)`` (only ``gamma <= g_i`` is used, which the condition implies).  Joint:
    ``gamma = g_1/(1+u_1)`` and, for every other bound, ``g_j = gamma (1+u_j)`` solved for a constant that
    only ``g_j`` contains; this covers exactly the set where all bounds hold at once.
    """
    bounds = stepsize_bounds(thm)
    out: list[tuple[list[tuple[sp.Symbol, sp.Expr]], set[sp.Symbol]]] = [
        ([(gamma, g / (1 + _u("gamma")))], set()) for g in bounds
    ]
    if len(bounds) > 1:
        subs: list[tuple[sp.Symbol, sp.Expr]] = []
        solved: set[sp.Symbol] = set()
        used = set(bounds[0].free_symbols)
        for j, g in enumerate(bounds[1:], start=2):
            own = sorted(g.free_symbols - used - solved - {gamma}, key=lambda s: s.name)
            for sym in own:
                sols = [x for x in sp.solve(sp.Eq(g, gamma * (1 + _u(f"g{j}"))), sym) if x.is_positive is not False]
                if len(sols) == 1:
                    subs.append((sym, sols[0]))
                    solved.add(sym)
                    break
            used |= g.free_symbols
        subs.append((gamma, bounds[0] / (1 + _u("gamma"))))
        out.append((subs, solved))
    return out


def _sign_of_fraction(expr: sp.Expr) -> bool:
    """True if sympy proves ``expr >= 0`` as one fraction with expanded numerator and denominator."""
    num, den = sp.fraction(sp.together(expr))
    den_e = sp.expand(den)
    if not (den_e.is_positive or den_e.is_negative):
        return False
    num_e = sp.expand(num)
    return bool(num_e.is_nonnegative and den_e.is_positive or num_e.is_nonpositive and den_e.is_negative)


def prove_nonnegative(expr: sp.Expr, thm: Theorem) -> bool:
    """Prove ``expr >= 0`` for every admissible gamma and constants (see the module docstring).

    Derived constants (EF21's theta, beta) stay symbols: the proofs use only their ranges.
    """
    expr = expr.subs(T, _T_POSITIVE)  # bounds are claimed for T >= 1
    candidates = [expr, _structural(expr, set())]
    for subs, solved in _domain_substitutions(thm):
        e = expr
        for sym, rep in subs:
            e = e.subs(sym, rep)
        candidates.append(_structural(e, solved))
    return any(_sign_of_fraction(e) for e in candidates)


def expand_definitions(expr: sp.Expr, thm: Theorem) -> sp.Expr:
    """Replace derived constants (``thm.definitions``) by their definitions."""
    for sym, definition in thm.definitions:
        expr = expr.subs(sym, definition)
    return expr


def prove_requirements(thm: Theorem) -> list[Proof]:
    """Each of ``one_step.requirements`` and ``c`` is non-negative under the stepsize condition."""
    items = [*thm.one_step.requirements, ("c >= 0 (the gradient term is a decrease)", thm.one_step.c)]
    return [
        Proof(f"{thm.id}: {name}", ok := prove_nonnegative(expr, thm),
              f"{sp.simplify(expr)} >= 0 " + ("proved" if ok else "NOT proved"))
        for name, expr in items
    ]


def contraction_factor(thm: Theorem) -> sp.Expr:
    """``rho``: ``a`` if PŁ is already applied, else ``a - 2 mu c`` (PŁ: ``||grad f||^2 >= 2 mu Phi_t``)."""
    step = thm.one_step
    return sp.simplify(step.a if step.pl_applied else step.a - 2 * mu * step.c)


def prove_one_step(thm: Theorem) -> list[Proof]:
    """The ingredient lemmas (``next_bound``) imply ``E Phi_{t+1} <= a Phi_t - c progress + d``.

    ``D = a phi - c progress + d - next_bound``, after the ``constraints``, is a polynomial in the
    non-negative state quantities; each of its coefficients is proved non-negative under the stepsize
    condition, which proves ``D >= 0``.
    """
    step = thm.one_step
    D = step.a * step.phi - step.c * step.progress + step.d - step.next_bound
    for sym, rep in step.constraints:
        D = D.subs(sym, rep)
    num, den = sp.fraction(sp.together(D))
    proofs = [Proof(f"{thm.id}: one-step common denominator > 0", bool(sp.expand(den).is_positive)
                    or prove_nonnegative(den, thm), f"{den}")]
    num = sp.expand(num)
    gens = [s for s in QUANTITIES if s in num.free_symbols]
    terms = sp.Poly(num, *gens).terms() if gens else [((), num)]
    for monom, coeff in terms:
        name = "*".join(f"{g}^{e}" if e > 1 else str(g) for g, e in zip(gens, monom, strict=True) if e) or "1"
        ok = prove_nonnegative(coeff, thm)
        proofs.append(Proof(f"{thm.id}: one-step coefficient of {name} >= 0", ok,
                            f"{sp.simplify(coeff)} " + ("proved" if ok else "NOT proved")))
    return proofs


def prove_unrolling(thm: Theorem) -> list[Proof]:
    """Prove that unrolling ``one_step`` for T steps gives ``bound`` (see the module docstring)."""
    step = thm.one_step
    a, c, d, phi0 = step.a, step.c, step.d, step.Phi0
    proofs: list[Proof] = []
    if thm.unrolling == "telescoping":
        # Weighted telescoping, w_t = a^-(t+1) (w_t = 1 when a = 1); J(T) = w_{T-1} Phi_T + c S_T - Phi_0 - d W_T
        # with S_T = sum_{t<T} w_t progress_t, W_T = sum_{t<T} w_t.
        phi_t, s_t, w_sum = sp.symbols("Phi_T S_T W_T", nonnegative=True)
        prog = sp.Symbol("progress_T", nonnegative=True)
        w_prev, w_now = a ** (-T), a ** (-(T + 1))
        j_t = w_prev * phi_t + c * s_t - phi0 - d * w_sum
        j_next = w_now * (a * phi_t - c * prog + d) + c * (s_t + w_now * prog) - phi0 - d * (w_sum + w_now)
        gap = sp.simplify(j_next - j_t)
        proofs.append(Proof(f"{thm.id}: induction step J(T+1) <= J(T)", gap == 0, f"J(T+1) - J(T) = {gap}"))
        base = sp.simplify(j_t.subs({T: 0, s_t: 0, w_sum: 0, phi_t: phi0}))
        proofs.append(Proof(f"{thm.id}: base case J(0) = 0", base == 0, f"J(0) = {base}"))
        proofs.append(Proof(f"{thm.id}: weights decrease, a >= 1", prove_nonnegative(a - 1, thm), f"a = {a}"))
        # S_T/W_T <= Phi_0/(c W_T) + d/c and W_T >= T a^-T  =>  average <= a^T Phi_0/(c T) + d/c.
        derived = a**T * phi0 / (c * T) + d / c
        final = thm.bound**2 if step.progress == delta_t**2 else thm.bound
        why = "bound^2 (min E <= sqrt(mean E^2))" if step.progress == delta_t**2 else "bound"
        fgap = sp.expand(final - derived)
        ok_final = fgap == 0 or prove_nonnegative(fgap, thm)
        proofs.append(Proof(f"{thm.id}: a^T Phi_0/(c T) + d/c <= {why}", ok_final, f"difference = {fgap}"))
    else:
        rho = contraction_factor(thm)
        ok_form = step.pl_applied and step.c == 0 or step.phi == delta_t
        proofs.append(Proof(f"{thm.id}: PŁ applies to the Lyapunov function", ok_form,
                            "PŁ applied in one_step" if step.pl_applied else step.lyapunov))
        proofs.append(Proof(f"{thm.id}: rho >= 0", prove_nonnegative(rho, thm), f"rho = {rho}"))
        # rho >= 0 is proved above; a non-negative symbol for it lets sympy combine the powers.
        rho_s = sp.Symbol("rho", nonnegative=True)
        bound_rho = thm.bound.subs(rho, rho_s)
        step_gap = sp.simplify(bound_rho.subs(T, T + 1) - rho_s * bound_rho - d.subs(rho, rho_s))
        ok_step = step_gap == 0 or prove_nonnegative(step_gap.subs(rho_s, rho), thm)
        proofs.append(Proof(f"{thm.id}: induction step B(T+1) >= rho B(T) + d", ok_step,
                            f"B(T+1) - rho B(T) - d = {step_gap}"))
        base_gap = sp.simplify(thm.bound.subs(T, 0) - phi0)
        ok_base = base_gap == 0 or prove_nonnegative(base_gap, thm)
        proofs.append(Proof(f"{thm.id}: base case B(0) >= Phi_0", ok_base, f"B(0) - Phi_0 = {base_gap}"))
    return proofs


def prove_gamma_max(thm: Theorem) -> Proof:
    """``gamma_max`` is the minimum of the stepsize bounds (or, with no condition, a positive default)."""
    bounds = stepsize_bounds(thm)
    if not bounds:
        ok = thm.gamma_max is None or bool(thm.gamma_max.subs(T, _T_POSITIVE).is_positive)
        return Proof(f"{thm.id}: no stepsize condition; default stepsize positive", ok, f"{thm.gamma_max}")
    ok = sp.simplify(thm.gamma_max - sp.Min(*bounds)) == 0
    return Proof(f"{thm.id}: gamma_max = min of the stepsize bounds", ok,
                 f"gamma_max = {thm.gamma_max}, bounds = {bounds}")


def all_proofs(thm: Theorem) -> list[Proof]:
    """Every symbolic check of one theorem."""
    return [*prove_requirements(thm), *prove_one_step(thm), *prove_unrolling(thm), prove_gamma_max(thm)]


# --- numeric evaluation -------------------------------------------------------------------------

def substitute(expr: sp.Expr, values: Mapping[str, float], thm: Theorem | None = None) -> sp.Expr:
    """Replace every symbol named in ``values`` by its value as an exact binary float.

    With ``thm``, its derived constants are first replaced by their definitions.
    """
    if thm is not None:
        expr = expand_definitions(expr, thm)
    subs = {BY_NAME[name]: sp.Float(float(v), _DIGITS) for name, v in values.items() if name in BY_NAME}
    return expr.xreplace(subs)


def in_T(expr: sp.Expr, values: Mapping[str, float], thm: Theorem | None = None,
         float64: bool = False) -> Callable[[Any], np.ndarray]:
    """``expr`` as a function of T alone: ``fn(T_values) -> float64 array``, evaluated with mpmath at 50 digits.

    Every free symbol other than ``T`` must be given in ``values`` (or be defined by ``thm``).  T may be any
    positive real (:mod:`verify.sensitivity` evaluates a bound at (1 + ε)T); the expression is substituted
    and lambdified once, so repeated evaluations are cheap.  ``float64=True`` evaluates with numpy instead
    (about 100x faster, relative error about 1e-13 for the bounds here): for reported figures such as
    sensitivities, never for a verdict.
    """
    e = substitute(expr, {k: v for k, v in values.items() if k != "T"}, thm)
    missing = sorted(s.name for s in e.free_symbols if s != T)
    if missing:
        raise ValueError(f"no value for {missing} when evaluating {expr}")
    if float64:
        vec = sp.lambdify(T, e, modules="numpy")

        def at_float(T_values: Any) -> np.ndarray:
            t = np.ravel(np.asarray(T_values, dtype=float))
            with np.errstate(all="ignore"):
                return np.broadcast_to(np.asarray(vec(t), dtype=float), t.shape).copy()
        return at_float
    fn = sp.lambdify(T, e, modules="mpmath")

    def at(T_values: Any) -> np.ndarray:
        with mpmath.workdps(_DIGITS):
            return np.array([float(fn(mpmath.mpf(float(t)))) for t in np.ravel(T_values)], dtype=float)
    return at


def evaluate(expr: sp.Expr, values: Mapping[str, float], T_values: Sequence[int] | np.ndarray,
             thm: Theorem | None = None) -> np.ndarray:
    """Evaluate ``expr`` at each T in ``T_values`` with mpmath at 50 digits; returns float64.

    Every free symbol other than ``T`` must be given in ``values`` (or be defined by ``thm``).
    """
    return in_T(expr, values, thm)(T_values)


def value(expr: sp.Expr, values: Mapping[str, float], thm: Theorem | None = None) -> float:
    """A T-free expression evaluated at ``values`` (mpmath, 50 digits); a division by zero gives inf."""
    e = substitute(expr, values, thm)  # a T-free expression: a value for T (ns-const's horizon) may be given
    if e.has(sp.zoo, sp.oo) or e.has(sp.nan):
        return float("inf")
    try:
        return float(evaluate(e, {}, [int(values.get("T", 0))])[0])
    except ZeroDivisionError:
        return float("inf")


def gamma_max_value(thm: Theorem, values: Mapping[str, float]) -> float | None:
    """The largest admissible stepsize (inf if the condition does not bind), the default, or None."""
    bounds = stepsize_bounds(thm)
    if bounds:
        return min(value(g, values, thm) for g in bounds)
    return None if thm.gamma_max is None else value(thm.gamma_max, values, thm)


def stepsize_satisfied(thm: Theorem, values: Mapping[str, float], rtol: float = 1e-12) -> bool:
    """Whether ``gamma = values['gamma']`` satisfies every ``gamma <= g_i`` (up to float rounding rtol)."""
    g = float(values["gamma"])
    return all(g <= value(bnd, values, thm) * (1 + rtol) for bnd in stepsize_bounds(thm))
