r"""Builders for the theorem families that share a proof pattern (sympy only).

* :func:`unbiased_pair`: SGD under expected smoothness (ABC) and every method that is SGD with
  particular A, B, C (QGD).  Non-convex via Khaled–Richtárik weighted telescoping, PŁ via contraction.
* :func:`variance_reduced_pair`: methods with a biased estimator whose error ``err_t`` obeys
  ``E_t err_{t+1} <= (1 − κ)-type recursion + K step_sq + s`` (PAGE, MVR, MARINA, EF21).  The Lyapunov
  function is ``Phi = delta + k err`` with ``k = γλ_max^p/(2κ)`` (non-convex) or ``γλ_max^p/κ`` (PŁ),
  which makes the error term of the descent lemma telescope; the ``step_sq`` coefficient
  ``1/(2γ) − L/2 − kK`` is non-negative for ``γ <= 1/(L + sqrt(c λ_max^p K/κ))`` (c = 1 or 2), because
  ``1 − Lγ − c γ² λ_max^p K/κ >= 0`` there.
"""

from __future__ import annotations

import sympy as sp

from theorems.lemmas import DESCENT_BIASED, DESCENT_UNBIASED
from theorems.record import OneStep, Provenance, Theorem
from theorems.symbols import (
    E0,
    A,
    B,
    C,
    Delta0,
    L,
    T,
    delta_t,
    err_t,
    gamma,
    grad_sq,
    lambda_max_p,
    lambda_min_p,
    mu,
    pl_excess,
)

PL_CONSTRAINT = ((grad_sq, 2 * mu * delta_t + pl_excess),)


def unbiased_pair(*, ids: tuple[str, str], refs: tuple[str, str], title: str, provenance: Provenance,
                  assumptions: tuple[str, ...], estimator: str, abc: dict[sp.Symbol, sp.Expr] | None,
                  doc: str) -> tuple[Theorem, Theorem]:
    r"""Non-convex and PŁ theorems for ``W⁺ = W − γĤg`` with ``E g = ∇f``, ``E‖g‖² <= 2Aδ + B‖∇f‖² + C``.

    One step (:data:`~theorems.lemmas.DESCENT_UNBIASED` with γ <= λ_min^p/(L B λ_max^p)):
    ``E δ⁺ <= (1 + Lγ²λ_max^p A) δ − (γλ_min^p/2)‖∇f‖² + Lγ²λ_max^p C/2``.
    Non-convex: weights ``w_t = a^{−(t+1)}`` telescope (``w_t a = w_{t−1}``) and ``Σ w_t >= T w_{−1} a^{−T}``.
    PŁ (γ <= μλ_min^p/(2LAλ_max^p) in addition): ``E δ⁺ <= (1 − γμλ_min^p/2) δ + Lγ²λ_max^p C/2``.
    ``abc`` substitutes A, B, C (None keeps the symbols).
    """
    sub = abc or {}
    a_nc = (1 + L * gamma**2 * lambda_max_p * A).subs(sub)
    c_nc = gamma * lambda_min_p / 2
    d = (L * gamma**2 * lambda_max_p * C / 2).subs(sub)
    descent = DESCENT_UNBIASED.subs(sub)
    g1 = (lambda_min_p / (L * B * lambda_max_p)).subs(sub)
    g2 = (mu * lambda_min_p / (2 * L * A * lambda_max_p)).subs(sub)
    nc = Theorem(
        id=ids[0], paper_ref=refs[0], title=f"{title}, non-convex", provenance=provenance, setting="non-convex",
        assumptions=("positive_expected_projection", "smooth", "lower_bounded", *assumptions),
        estimator=estimator,
        stepsize_condition=(sp.Le(gamma, g1),), gamma_max=g1,
        bound=2 * a_nc**T * Delta0 / (gamma * lambda_min_p * T) + 2 * d / (gamma * lambda_min_p),
        measure="weighted_grad_sq",
        one_step=OneStep(
            lyapunov="f(W^t) - f^*", phi=delta_t, k=sp.Integer(0), a=a_nc, c=c_nc, d=d, Phi0=Delta0,
            progress=grad_sq, next_bound=descent,
            requirements=(("a >= 1 (the weights a^-(t+1) decrease)", a_nc - 1),),
        ),
        unrolling="telescoping",
        doc=doc,
    )
    rho = 1 - gamma * mu * lambda_min_p / 2
    pl_bound = rho**T * Delta0 + d / (gamma * mu * lambda_min_p / 2)
    pl = Theorem(
        id=ids[1], paper_ref=refs[1], title=f"{title} under PŁ", provenance=provenance, setting="PŁ",
        assumptions=("positive_expected_projection", "smooth", "lower_bounded", "pl", *assumptions),
        estimator=estimator,
        stepsize_condition=(sp.Le(gamma, g1), sp.Le(gamma, g2)), gamma_max=sp.Min(g1, g2),
        bound=pl_bound, measure="gap_last",
        one_step=OneStep(
            lyapunov="f(W^t) - f^*", phi=delta_t, k=sp.Integer(0), a=rho, c=sp.Integer(0), d=d, Phi0=Delta0,
            progress=grad_sq, next_bound=descent, pl_applied=True, constraints=PL_CONSTRAINT,
        ),
        unrolling="contraction",
        doc=doc,
    )
    return nc, pl


def variance_reduced_pair(*, ids: tuple[str, str], refs: tuple[str, str], title: str, provenance: Provenance,
                          assumptions: tuple[str, ...], estimator: str, error: sp.Expr, kappa: sp.Expr,
                          K_root: sp.Expr, noise: sp.Expr, lyapunov_err: str, doc: str,
                          definitions: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()) -> tuple[Theorem, Theorem]:
    r"""Non-convex and PŁ theorems for a biased estimator with error recursion ``error`` (in err_t, step_sq).

    ``kappa`` is the contraction of the recursion (q, θ, b), ``K = K_root²`` its ``step_sq`` coefficient
    (given by its non-negative square root, so that the stepsize needs no square root of a square),
    ``noise`` its constant term.  Non-convex: Φ = δ + k err with k = γλ_max^p/(2κ), γ <= 1/(L + sqrt(λ_max^p K/κ)),
    ``E Φ⁺ <= Φ − (γλ_min^p/2)‖∇f‖² + k·noise``, so the average of ‖∇f‖² is at most
    ``2(Δ⁰ + k E0)/(γλ_min^p T) + 2k·noise/(γλ_min^p)``.  PŁ: k = γλ_max^p/κ,
    γ <= min(1/(L + sqrt(2λ_max^p K/κ)), κ/(2μλ_min^p)), ``E Φ⁺ <= (1 − γμλ_min^p)Φ + k·noise``.
    """
    k_nc = gamma * lambda_max_p / (2 * kappa)
    g_nc = 1 / (L + K_root * sp.sqrt(lambda_max_p / kappa))
    d_nc = k_nc * noise
    phi0_nc = Delta0 + k_nc * E0
    bound_nc = 2 * phi0_nc / (gamma * lambda_min_p * T) + 2 * d_nc / (gamma * lambda_min_p)
    nc = Theorem(
        id=ids[0], paper_ref=refs[0], title=f"{title}, non-convex", provenance=provenance, setting="non-convex",
        assumptions=("positive_expected_projection", "smooth", "lower_bounded", *assumptions),
        estimator=estimator,
        stepsize_condition=(sp.Le(gamma, g_nc),), gamma_max=g_nc, bound=bound_nc, measure="avg_grad_sq",
        one_step=OneStep(
            lyapunov=f"f(W^t) - f^* + k {lyapunov_err}", phi=delta_t + k_nc * err_t, k=k_nc, a=sp.Integer(1),
            c=gamma * lambda_min_p / 2, d=d_nc, Phi0=phi0_nc, progress=grad_sq,
            next_bound=DESCENT_BIASED + k_nc * error,
        ),
        unrolling="telescoping",
        doc=doc, definitions=definitions,
    )
    k_pl = gamma * lambda_max_p / kappa
    g1 = 1 / (L + K_root * sp.sqrt(2 * lambda_max_p / kappa))
    g2 = kappa / (2 * mu * lambda_min_p)
    rho = 1 - gamma * mu * lambda_min_p
    d_pl = k_pl * noise
    bound_pl = rho**T * (Delta0 + k_pl * E0) + d_pl / (gamma * mu * lambda_min_p)
    pl = Theorem(
        id=ids[1], paper_ref=refs[1], title=f"{title} under PŁ", provenance=provenance, setting="PŁ",
        assumptions=("positive_expected_projection", "smooth", "lower_bounded", "pl", *assumptions),
        estimator=estimator,
        stepsize_condition=(sp.Le(gamma, g1), sp.Le(gamma, g2)), gamma_max=sp.Min(g1, g2),
        bound=bound_pl, measure="lyapunov",
        one_step=OneStep(
            lyapunov=f"f(W^t) - f^* + k {lyapunov_err}", phi=delta_t + k_pl * err_t, k=k_pl, a=rho,
            c=sp.Integer(0), d=d_pl, Phi0=Delta0 + k_pl * E0, progress=grad_sq,
            next_bound=DESCENT_BIASED + k_pl * error, pl_applied=True, constraints=PL_CONSTRAINT,
        ),
        unrolling="contraction",
        doc=doc, definitions=definitions,
    )
    return nc, pl
