r"""Convex non-smooth Bernoulli-LoRA (subgradient steps): constant and Polyak-type stepsizes.

Assumptions: f convex with a minimiser W*, L0-Lipschitz (‖G‖ <= L0 for every subgradient G), and
Assumption 1.  Step: ``W⁺ = W − γ_t ĤG^t``, ``G^t ∈ ∂f(W^t)``.

Distance recursion (:func:`theorems.lemmas.distance`) in the norm ‖X‖²_{𝓗⁻¹}, 𝓗 = E Ĥ:
``E_t‖W⁺ − W*‖²_{𝓗⁻¹} <= ‖W − W*‖²_{𝓗⁻¹} − 2γ(f(W) − f*) + γ²(λ_max^p/λ_min^p)‖G‖²`` and
‖W⁰ − W*‖²_{𝓗⁻¹} <= R0²/λ_min^p.

Constant stepsize (``ns-const``): summing over t < T and Jensen for the average iterate,

.. math:: \mathbb E f(\overline W^T) - f^* \le \frac1T\sum_{t<T}\mathbb E[f(W^t)-f^*]
          \le \frac{R_0^2}{2\gamma\lambda_{\min}^pT} + \frac{\gamma L_0^2\lambda_{\max}^p}{2\lambda_{\min}^p},

for every γ > 0; the recommended γ = R0/(L0 sqrt(λ_max^p T)) gives L0R0 sqrt(λ_max^p)/(λ_min^p sqrt(T)).

Polyak-type stepsize (``ns-polyak``): γ_t = (λ_min^p/λ_max^p)(f(W^t) − f*)/‖G^t‖² (the full subgradient,
measured before the sketch is drawn) minimises the right-hand side of the recursion, which becomes
``dist − (λ_min^p/λ_max^p)(f − f*)²/‖G‖² <= dist − λ_min^p(f − f*)²/(λ_max^p L0²)``.  Summing,
(1/T)Σ E(f(W^t) − f*)² <= λ_max^p L0² R0²/((λ_min^p)² T), and

.. math:: \mathbb E\min_{t<T}(f(W^t)-f^*) \le \min_{t<T}\mathbb E[f(W^t)-f^*]
          \le \sqrt{\tfrac1T\textstyle\sum_t \mathbb E(f(W^t)-f^*)^2}
          \le \frac{L_0R_0\sqrt{\lambda_{\max}^p}}{\lambda_{\min}^p\sqrt T}.

Provenance: reconstructed (docs/theory.md §5.8–5.9; the paper's non-smooth theorems were not retrieved;
the weighted-norm treatment of non-isotropic sketches is the project's own derivation).
"""

from __future__ import annotations

import sympy as sp

from theorems.lemmas import distance
from theorems.record import Case, OneStep, Provenance, Theorem
from theorems.symbols import L0, R0, Gsq, T, delta_t, dist_t, gamma, lambda_max_p, lambda_min_p, lip_excess

_LIPSCHITZ = ((Gsq, L0**2 / (1 + lip_excess)),)
_ASSUMPTIONS = ("positive_expected_projection", "convex", "lipschitz")
_PROVENANCE = Provenance("reconstructed", "docs/theory.md §5.8-5.9, re-derived in the H^-1 norm for general sketches")

_bound_const = R0**2 / (2 * gamma * lambda_min_p * T) + gamma * L0**2 * lambda_max_p / (2 * lambda_min_p)

NS_CONST = Theorem(
    id="ns-const", paper_ref="convex non-smooth, constant stepsize", title="Bernoulli-LoRA subgradient method",
    provenance=_PROVENANCE, setting="convex non-smooth", assumptions=_ASSUMPTIONS,
    stepsize_condition=(), gamma_max=R0 / (L0 * sp.sqrt(lambda_max_p * T)),
    bound=_bound_const, measure="gap_avg_iterate",
    one_step=OneStep(
        lyapunov="||W^t - W*||^2 in the norm of the inverse expected projection", phi=dist_t, k=sp.Integer(0),
        a=sp.Integer(1), c=2 * gamma, d=gamma**2 * L0**2 * lambda_max_p / lambda_min_p,
        Phi0=R0**2 / lambda_min_p, progress=delta_t, next_bound=distance(gamma), constraints=_LIPSCHITZ,
    ),
    unrolling="telescoping",
    doc=__doc__,
)

_ratio = lambda_min_p / lambda_max_p
_polyak_step = _ratio * delta_t / Gsq
_bound_polyak = L0 * R0 * sp.sqrt(lambda_max_p) / (lambda_min_p * sp.sqrt(T))

NS_POLYAK = Theorem(
    id="ns-polyak", paper_ref="convex non-smooth, Polyak-type stepsize", title="Bernoulli-LoRA with Polyak stepsize",
    provenance=_PROVENANCE, setting="convex non-smooth", assumptions=_ASSUMPTIONS,
    stepsize_condition=(), gamma_max=None, stepsize_rule="polyak",
    bound=_bound_polyak, measure="gap_best",
    one_step=OneStep(
        lyapunov="||W^t - W*||^2 in the norm of the inverse expected projection", phi=dist_t, k=sp.Integer(0),
        a=sp.Integer(1), c=_ratio / L0**2, d=sp.Integer(0), Phi0=R0**2 / lambda_min_p, progress=delta_t**2,
        next_bound=distance(_polyak_step), constraints=_LIPSCHITZ,
    ),
    unrolling="telescoping",
    doc=__doc__,
)

THEOREMS = (NS_CONST, NS_POLYAK)


#: The check instances of these theorems (``verify.suite`` runs them; the tight one is found by
#: ``benchmarks/search_instances.py`` with the exact oracle).
CASES = {
    'ns-const': (
        Case('norm-distance',
             why="the Polyak step's one-step inequality is an equality on norm-distance",
             p=0.5, r=2, iters=200, tight=True),
        Case('l1-regression',
             why='l1 regression: a non-smooth problem with kinks everywhere',
             p=0.5, r=2, iters=200),
    ),
    'ns-polyak': (
        Case('norm-distance',
             why="the Polyak step's one-step inequality is an equality on norm-distance",
             p=0.5, r=2, iters=200, tight=True),
        Case('l1-regression',
             why='l1 regression',
             p=0.5, r=2, iters=200),
        Case('norm-distance',
             why=('a non-isotropic sketch (Monte-Carlo lambda, lambda_max^p / lambda_min^p far from 1): the Polyak '
                  "step's ratio lambda_min^p / lambda_max^p matters"),
             sketch='scaled-gaussian', p=0.5, r=2, iters=200),
    ),
}
