"""The value of every theorem constant for one check, and how it was obtained.

Sources, in this order: the sketch (``lambda_min_p``, ``lambda_max_p``), the problem's certified
constants (``L``, ``mu``, ``L_max``, ``L_tilde``, ``Delta_inf``, ``L0``, ``R0``), ``Delta0 = f(W^0) − f*``,
and what the estimator declares itself (``theory_constants`` in :mod:`verify.estimators`: the method is the
unit of extension, so nothing here switches on its name):

* SGD with a minibatch of size b: ``A = var_A/b``, ``B = 1``, ``C = var_C/b`` (the problem certifies the
  one-sample variance ``E‖g − ∇f‖² <= 2 var_A (f − f*) + var_C``, and a mean of b i.i.d. samples
  divides it by b; then ``E‖g‖² = ‖∇f‖² + Var``);
* MVR with a minibatch of size b: ``sigma2 = sigma2_1/b`` and ``Lms = Lms_1/sqrt(b)``;
* PAGE: ``q``, ``b_prime`` and the one-sample ``Lms``;
* QGD, MARINA, EF21: ``M`` = number of clients, ``omega`` or ``alpha_c`` of the compressor at
  d = m·n entries;
* ``E0``, the initial estimator error: 0 when G^0 = ∇f(W^0); the certified variance bound divided by
  the initial batch for a stochastic G^0; EF21's 𝒢^0 computed at W^0 (its compressors are deterministic).

A constant the theorem needs that none of these provides is a :class:`~verify.errors.UserError`
naming the constant, the assumption it belongs to and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from theorems import Theorem
from verify.errors import UserError

#: Theorem symbols read directly from the problem's certified constants.
FROM_PROBLEM = ("L", "mu", "L_max", "L_tilde", "Delta_inf", "L0", "R0")
#: The assumption a constant belongs to (for error messages).
BELONGS_TO = {
    "L": "smooth", "mu": "pl", "Lms": "mean_square_smooth", "sigma2": "bounded_variance", "A": "expected_smoothness",
    "C": "expected_smoothness", "L_max": "federated", "L_tilde": "federated", "Delta_inf": "federated",
    "L0": "lipschitz", "R0": "convex", "omega": "compressor", "alpha_c": "compressor", "M": "federated",
}


@dataclass(frozen=True)
class ConstantValue:
    """A constant used by a check and how it was obtained."""

    value: float
    how: str


def problem_constant(problem: Any, key: str, thm_id: str) -> ConstantValue:
    """The problem's certified constant ``key`` (UserError naming the assumption if it has none)."""
    if key not in problem.constants:
        raise UserError(f"theorem {thm_id!r} needs the constant {key!r} ({BELONGS_TO.get(key, 'assumption')}), "
                        f"which problem {problem.name!r} does not certify")
    c = problem.constants[key]
    return ConstantValue(float(c.value), f"{c.how} [{c.kind}]")


def stochastic_initial_error(problem: Any, batch0: int, thm_id: str, values: dict[str, ConstantValue]
                             ) -> ConstantValue:
    """``E0`` of a minibatch ``G^0`` of size ``batch0``: the certified variance bound divided by ``batch0``."""
    if "sigma2" in problem.constants:
        s2 = problem_constant(problem, "sigma2", thm_id).value
        return ConstantValue(s2 / batch0, f"sigma2/batch0 with batch0 = {batch0}")
    var_A = problem_constant(problem, "var_A", thm_id).value
    var_C = problem_constant(problem, "var_C", thm_id).value
    bound = (2 * var_A * values["Delta0"].value + var_C) / batch0
    return ConstantValue(bound, f"(2 var_A Delta0 + var_C)/batch0 with batch0 = {batch0}")


def compressor_constants(comp: Any, d: int, needed: set[str]) -> dict[str, ConstantValue]:
    """``omega`` and/or ``alpha_c`` of the compressor at ``d`` entries, those among ``needed``."""
    out = {}
    if "omega" in needed:
        out["omega"] = ConstantValue(float(comp.omega(d)), f"{comp!r} at d = {d}")
    if "alpha_c" in needed:
        out["alpha_c"] = ConstantValue(float(comp.alpha(d)), f"{comp!r} at d = {d}")
    return out


def theorem_constants(thm: Theorem, problem: Any, estimator: Any, lam: dict[str, ConstantValue], iters: int,
                      rng: np.random.Generator) -> dict[str, ConstantValue]:
    """Every constant ``thm`` needs (its free symbols except gamma and T), with how it was obtained: the sketch's
    ``lam``, ``Delta0``, the problem's certified constants, ``M``, then whatever the estimator declares
    (``estimator.theory_constants(problem, needed, values, thm_id)``: its parameters, the compressor's
    ``omega``/``alpha_c``, its ``E0``, …)."""
    needed = {s.name for s in thm.symbols} - {"gamma", "T"}
    out: dict[str, ConstantValue] = dict(lam)
    f_star = problem.constants["f_star"]
    f0 = float(problem.f(np.asarray(problem.W0, dtype=float)[None])[0])
    out["Delta0"] = ConstantValue(f0 - float(f_star.value), f"f(W0) - f_star ({f_star.kind} f_star)")
    for key in FROM_PROBLEM:
        if key in needed:
            out[key] = problem_constant(problem, key, thm.id)
    if "M" in needed:
        if not hasattr(problem, "clients"):
            raise UserError(f"theorem {thm.id!r} needs a federated problem (clients); {problem.name!r} is not")
        out["M"] = ConstantValue(float(problem.clients), "number of clients")
    out.update(estimator.theory_constants(problem, needed, out, thm.id))
    missing = sorted(needed - set(out))
    if missing:
        key = missing[0]
        raise UserError(f"theorem {thm.id!r} needs the constant {key!r} ({BELONGS_TO.get(key, 'assumption')}), "
                        f"which problem {problem.name!r} with estimator {estimator.name!r} does not provide")
    return out
