r"""Bernoulli-LoRA-MVR (Theorem 3): momentum variance reduction with parameter b ∈ (0, 1].

Estimator (authors' code, [C]): ``G^{t+1} = g(W^{t+1};ξ) + (1 − b)(G^t − g(W^t;ξ))`` with the same ξ at
both points.  Error recursion (:data:`theorems.lemmas.MVR_ERROR`; σ² bounds the variance, ℒ the
mean-squared smoothness of the oracle at the minibatch used):
``E‖e⁺‖² <= (1−b)²‖e‖² + 2(1−b)²ℒ²‖W⁺ − W‖² + 2b²σ²``.

Non-convex: Φ = f − f* + (γλ_max^p/(2b))‖G − ∇f‖², γ <= 1/(L + ℒ(1−b) sqrt(2λ_max^p/b)),

.. math:: \frac1T\sum_{t<T}\mathbb E\|\nabla f(W^t)\|^2 \le \frac{2\Phi_0}{\gamma\lambda_{\min}^pT}
          + \frac{2b\sigma^2\lambda_{\max}^p}{\lambda_{\min}^p},
          \quad \Phi_0 = \Delta_0 + \frac{\gamma\lambda_{\max}^p}{2b}E_0,\ E_0 = \mathbb E\|G^0-\nabla f(W^0)\|^2.

PŁ: Φ = f − f* + (γλ_max^p/b)‖G − ∇f‖², γ <= min(1/(L + 2ℒ(1−b) sqrt(λ_max^p/b)), b/(2μλ_min^p)),
E Φ_T <= (1 − γμλ_min^p)^T Φ_0 + 2bσ²λ_max^p/(μλ_min^p).  The error coefficient of the combined
recursion is k(1 − 3b/2 + b²) <= k(1 − b/2) because b² <= b.

Provenance: reconstructed (docs/theory.md §5.4; cf. the DASHA-MVR/STORM analyses); Theorem 3 carries the
symbol b (reviewer, [S]).  With b = 1, G = g(W; ξ) is plain SGD.
"""

from __future__ import annotations

import sympy as sp

from theorems.builders import variance_reduced_pair
from theorems.lemmas import MVR_ERROR
from theorems.record import Case, Provenance
from theorems.symbols import Lms, b, sigma2

MVR_NC, MVR_PL = variance_reduced_pair(
    ids=("mvr-nc", "mvr-pl"), refs=("Theorem 3", "Theorem 3 (PŁ variant)"), title="Bernoulli-LoRA-MVR",
    provenance=Provenance("reconstructed", "docs/theory.md §5.4, re-derived; momentum update from the authors' code"),
    assumptions=("bounded_variance", "mean_square_smooth"), estimator="mvr", error=MVR_ERROR, kappa=b,
    K_root=sp.sqrt(2) * (1 - b) * Lms, noise=2 * b**2 * sigma2, lyapunov_err="||G^t - grad f(W^t)||^2", doc=__doc__,
)

THEOREMS = (MVR_NC, MVR_PL)


#: The check instances of these theorems (``verify.suite`` runs them; the tight one is found by
#: ``benchmarks/search_instances.py`` with the exact oracle).
CASES = {
    'mvr-nc': (
        Case('isotropic-quadratic:m=6,n=4,sigma=0.3',
             why="Young's inequality in the MVR error recursion: exact slack >= 1.82 in the family",
             p=0.7, r=1, iters=200, params=(('b', 0.1),), tight=True),
        Case('least-squares:sigma=0.5',
             why='noisy least squares, rank 2',
             p=0.5, r=2, iters=300, params=(('b', 0.1),)),
    ),
    'mvr-pl': (
        Case('isotropic-quadratic:m=6,n=4,sigma=0.3',
             why="the family's best MVR-PL instance (the proof keeps b/2 of the contraction)",
             p=0.3, r=2, iters=200, params=(('b', 0.6),), tight=True),
    ),
}
