"""The value of every theorem constant for one check, and how it was obtained.

Sources, in this order: the sketch (``lambda_min_p``, ``lambda_max_p``), the problem's certified
constants (``L``, ``mu``, ``L_max``, ``L_tilde``, ``Delta_inf``, ``L0``, ``R0``), ``Delta0 = f(W^0) − f*``,
the estimator's parameters and what they imply:

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


def _problem_constant(problem: Any, key: str, thm: Theorem) -> ConstantValue:
    if key not in problem.constants:
        raise UserError(f"theorem {thm.id!r} needs the constant {key!r} ({BELONGS_TO.get(key, 'assumption')}), "
                        f"which problem {problem.name!r} does not certify")
    c = problem.constants[key]
    return ConstantValue(float(c.value), f"{c.how} [{c.kind}]")


def _batch(estimator: Any, name: str) -> int:
    return int(getattr(estimator, name))


def initial_error(thm: Theorem, problem: Any, estimator: Any, values: dict[str, ConstantValue],
                  rng: np.random.Generator) -> ConstantValue:
    """``E0``: the expected estimator error at W^0 (exact, or a certified upper bound)."""
    name = estimator.name
    if name in ("page", "marina") and getattr(estimator, "batch0", None) is None:
        return ConstantValue(0.0, "G^0 = grad f(W^0): no initial error")
    if name == "ef21":
        W0 = np.asarray(problem.W0, dtype=float)[None]
        grad = problem.grad(W0)
        errs = [float(estimator.error(estimator.init(problem, W0, grad, np.random.default_rng(s)), problem, W0,
                                      grad)[0]) for s in (1, 2)]
        if errs[0] == errs[1]:
            return ConstantValue(errs[0], "EF21's G^0 = (1/M) sum_i ||g_i^0 - grad f_i(W^0)||^2 computed at W^0")
        # a random compressor C in B(alpha): E||C(x) - x||^2 <= (1 - alpha)||x||^2, with equality for sparse-k
        alpha = estimator.compressor.alpha(int(np.prod(problem.shape)))
        cg = problem.client_grads(W0)[0]
        bound = (1 - alpha) * float(np.mean(np.sum(cg**2, axis=(-2, -1))))
        return ConstantValue(bound, "EF21's E G^0 <= (1 - alpha)(1/M) sum_i ||grad f_i(W^0)||^2 (contractive class "
                                    f"B(alpha), alpha = {alpha:.6g})")
    batch0 = _batch(estimator, "batch0")
    if "sigma2" in problem.constants:
        s2 = _problem_constant(problem, "sigma2", thm).value
        return ConstantValue(s2 / batch0, f"sigma2/batch0 with batch0 = {batch0}")
    var_A = _problem_constant(problem, "var_A", thm).value
    var_C = _problem_constant(problem, "var_C", thm).value
    bound = (2 * var_A * values["Delta0"].value + var_C) / batch0
    return ConstantValue(bound, f"(2 var_A Delta0 + var_C)/batch0 with batch0 = {batch0}")


def theorem_constants(thm: Theorem, problem: Any, estimator: Any, lam: dict[str, ConstantValue], iters: int,
                      rng: np.random.Generator) -> dict[str, ConstantValue]:
    """Every constant ``thm`` needs (its free symbols except gamma and T), with how it was obtained."""
    needed = {s.name for s in thm.symbols} - {"gamma", "T"}
    out: dict[str, ConstantValue] = dict(lam)
    f_star = problem.constants["f_star"]
    f0 = float(problem.f(np.asarray(problem.W0, dtype=float)[None])[0])
    out["Delta0"] = ConstantValue(f0 - float(f_star.value), f"f(W0) - f_star ({f_star.kind} f_star)")
    m, n = problem.shape
    for key in FROM_PROBLEM:
        if key in needed:
            out[key] = _problem_constant(problem, key, thm)
    if {"A", "B", "C"} & needed:
        b = _batch(estimator, "batch")
        out["A"] = ConstantValue(_problem_constant(problem, "var_A", thm).value / b, f"var_A / batch ({b})")
        out["B"] = ConstantValue(1.0, "E||g||^2 = ||grad f||^2 + Var: B = 1")
        out["C"] = ConstantValue(_problem_constant(problem, "var_C", thm).value / b, f"var_C / batch ({b})")
    if estimator.name == "mvr":
        b = _batch(estimator, "batch")
        s2 = _problem_constant(problem, "sigma2", thm)
        lms = _problem_constant(problem, "Lms", thm)
        out["sigma2"] = ConstantValue(s2.value / b, f"{s2.how}; divided by the batch {b}")
        out["Lms"] = ConstantValue(lms.value / np.sqrt(b), f"{lms.how}; divided by sqrt(batch {b})")
        out["b"] = ConstantValue(float(estimator.b), "MVR momentum parameter")
    if estimator.name == "page":
        out["Lms"] = _problem_constant(problem, "Lms", thm)
        out["q"] = ConstantValue(float(estimator.q), "PAGE probability of a full gradient")
        out["b_prime"] = ConstantValue(float(estimator.batch_prime), "PAGE minibatch size")
    if estimator.name == "marina":
        out["q"] = ConstantValue(float(estimator.q), "MARINA probability of a full gradient")
    if "M" in needed:
        if not hasattr(problem, "clients"):
            raise UserError(f"theorem {thm.id!r} needs a federated problem (clients); {problem.name!r} is not")
        out["M"] = ConstantValue(float(problem.clients), "number of clients")
    comp = getattr(estimator, "compressor", None)
    if "omega" in needed:
        out["omega"] = ConstantValue(float(comp.omega(m * n)), f"{comp!r} at d = {m * n}")
    if "alpha_c" in needed:
        out["alpha_c"] = ConstantValue(float(comp.alpha(m * n)), f"{comp!r} at d = {m * n}")
    if "E0" in needed:
        out["E0"] = initial_error(thm, problem, estimator, out, rng)
    missing = sorted(needed - set(out))
    if missing:
        key = missing[0]
        raise UserError(f"theorem {thm.id!r} needs the constant {key!r} ({BELONGS_TO.get(key, 'assumption')}), "
                        f"which problem {problem.name!r} with estimator {estimator.name!r} does not provide")
    return out
