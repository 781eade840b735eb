r"""The ingredient lemmas every one-step inequality is assembled from (sympy only).

Each lemma is an upper bound on a conditional expectation ``E_t[...]`` at step t+1, written as a
polynomial in the state quantities of :mod:`theorems.symbols` (``delta_t``, ``grad_sq``, ``err_t``,
``step_sq`` = E_t‖W^{t+1} − W^t‖², ``dist_t``, ``Gsq``).  A theorem's ``OneStep.next_bound`` combines them;
``verify.symbolic.prove_one_step`` proves that the combination implies the theorem's one-step inequality.

Notation: Ĥ is the random projection of step t (``X ↦ H_B X`` w.p. p, ``X ↦ X H_A`` otherwise), a
symmetric idempotent operator on (R^{m×n}, ⟨·,·⟩_F), drawn independently of the past;
𝓗 = E Ĥ with λ_min^p I ≼ 𝓗 ≼ λ_max^p I (docs/theory.md §3.4).  ``e_t = G^t − ∇f(W^t)``.

Descent lemma for a biased estimator (:data:`DESCENT_BIASED`).  L-smoothness and W^{t+1} − W^t = −γĤG:
f(W^{t+1}) ≤ f − γ⟨∇f, ĤG⟩ + (Lγ²/2)‖ĤG‖².  Since ⟨∇f, ĤG⟩ = ⟨Ĥ∇f, ĤG⟩ =
½(‖Ĥ∇f‖² + ‖ĤG‖² − ‖Ĥe‖²) and ‖W^{t+1} − W^t‖² = γ²‖ĤG‖²,

.. math:: f(W^{t+1}) \le f(W^t) - \tfrac\gamma2\|\hat H\nabla f\|^2
          - \big(\tfrac1{2\gamma} - \tfrac L2\big)\|W^{t+1}-W^t\|^2 + \tfrac\gamma2\|\hat H e_t\|^2;

taking E_t with E‖Ĥ∇f‖² ≥ λ_min^p‖∇f‖² and E‖Ĥe‖² ≤ λ_max^p‖e‖² gives the lemma.  With e = 0 it is
the GD step.

Descent lemma for an unbiased estimator with expected smoothness (:data:`DESCENT_UNBIASED`).
E_t⟨∇f, ĤG⟩ = ⟨∇f, 𝓗∇f⟩ ≥ λ_min^p‖∇f‖² and E_t‖ĤG‖² = E⟨G, 𝓗G⟩ ≤ λ_max^p E‖G‖² ≤
λ_max^p(2Aδ + B‖∇f‖² + C).

Estimator-error recursions (docs/theory.md §5.3–5.7, re-derived):

* PAGE, minibatch b' with replacement: e⁺ = e + (1/b')Σ(Δ_i − Δ) w.p. 1 − q, 0 w.p. q, the Δ_i being
  component-gradient differences; the cross term vanishes and Var ≤ (1/b')E‖Δ_i‖² ≤ (ℒ²/b')‖ΔW‖².
* MVR: e⁺ = (1−b)e + Z, E Z = 0, Z = (1−b)[(g(W⁺;ξ) − g(W;ξ)) − (∇f⁺ − ∇f)] + b[g(W⁺;ξ) − ∇f⁺], so
  E‖Z‖² ≤ 2(1−b)²ℒ²‖ΔW‖² + 2b²σ².
* MARINA, M clients, independent Q_i ∈ U(ω): E‖e⁺‖² ≤ (1−q)(‖e‖² + (ω/M²)Σ‖Δ_i‖²) ≤
  (1−q)‖e‖² + (1−q)(ω/M)L̃²‖ΔW‖².
* EF21, C_i ∈ B(α), 𝒢 = (1/M)Σ‖g_i − ∇f_i‖²: E‖g_i⁺ − ∇f_i⁺‖² ≤ (1−α)‖∇f_i⁺ − g_i‖² ≤
  (1−α)(1+s)‖g_i − ∇f_i‖² + (1−α)(1+1/s)L_i²‖ΔW‖²; s = 1/√(1−α) − 1 gives 1 − θ and β
  (:data:`EF21_S`, checked in the tests).

Distance recursion for the convex non-smooth case (:data:`DISTANCE`), in the norm ‖X‖²_{𝓗⁻¹}:
E‖W⁺ − W*‖²_{𝓗⁻¹} = ‖W − W*‖²_{𝓗⁻¹} − 2γ⟨𝓗G, 𝓗⁻¹(W − W*)⟩ + γ² E‖ĤG‖²_{𝓗⁻¹}, and
⟨G, W − W*⟩ ≥ f(W) − f* (convexity), ‖ĤG‖²_{𝓗⁻¹} ≤ ‖ĤG‖²/λ_min^p, E‖ĤG‖² ≤ λ_max^p‖G‖².
"""

from __future__ import annotations

import sympy as sp

from theorems.symbols import (
    A,
    B,
    C,
    Gsq,
    L,
    L_tilde,
    Lms,
    M,
    b,
    b_prime,
    beta,
    delta_t,
    dist_t,
    err_t,
    gamma,
    grad_sq,
    lambda_max_p,
    lambda_min_p,
    omega,
    q,
    sigma2,
    step_sq,
    theta,
)

DESCENT_BIASED: sp.Expr = (delta_t - gamma * lambda_min_p / 2 * grad_sq
                           - (1 / (2 * gamma) - L / 2) * step_sq + gamma * lambda_max_p / 2 * err_t)

DESCENT_UNBIASED: sp.Expr = (delta_t - gamma * lambda_min_p * grad_sq
                             + L * gamma**2 * lambda_max_p / 2 * (2 * A * delta_t + B * grad_sq + C))

PAGE_ERROR: sp.Expr = (1 - q) * err_t + (1 - q) * Lms**2 / b_prime * step_sq
MVR_ERROR: sp.Expr = (1 - b) ** 2 * err_t + 2 * (1 - b) ** 2 * Lms**2 * step_sq + 2 * b**2 * sigma2
MARINA_ERROR: sp.Expr = (1 - q) * err_t + (1 - q) * omega / M * L_tilde**2 * step_sq
EF21_ERROR: sp.Expr = (1 - theta) * err_t + beta * L_tilde**2 * step_sq

#: The Young parameter s of the EF21 recursion and the identities it must satisfy.
alpha_ = sp.Symbol("alpha_c", positive=True)
EF21_S: sp.Expr = 1 / sp.sqrt(1 - alpha_) - 1
EF21_THETA: sp.Expr = 1 - sp.sqrt(1 - alpha_)
EF21_BETA: sp.Expr = (1 - alpha_) / (1 - sp.sqrt(1 - alpha_))


def distance(step: sp.Expr) -> sp.Expr:
    """Upper bound on E_t‖W^{t+1} − W*‖²_{𝓗⁻¹} for a subgradient step of size ``step``."""
    return dist_t - 2 * step * delta_t + step**2 * lambda_max_p / lambda_min_p * Gsq
