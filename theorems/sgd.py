r"""Bernoulli-LoRA-SGD: Theorem 2 (non-convex) and Theorem 8 (PŁ).

Assumption (expected smoothness, Khaled & Richtárik 2020): ``E g(W) = ∇f(W)`` and
:math:`\mathbb E\|g(W)\|^2 \le 2A(f(W)-f^*) + B\|\nabla f(W)\|^2 + C`.

Non-convex (Theorem 2): for :math:`0<\gamma\le \lambda_{\min}^p/(LB\lambda_{\max}^p)` and weights
:math:`w_t \propto (1+L\gamma^2\lambda_{\max}^pA)^{-(t+1)}`,

.. math:: \frac{\sum_{t<T} w_t\,\mathbb E\|\nabla f(W^t)\|^2}{\sum_{t<T} w_t}
          \le \frac{2(1+L\gamma^2\lambda_{\max}^pA)^T}{\gamma\lambda_{\min}^pT}\Delta_0
          + \frac{L\gamma C\lambda_{\max}^p}{\lambda_{\min}^p}.

PŁ (Theorem 8): for γ also at most :math:`\mu\lambda_{\min}^p/(2LA\lambda_{\max}^p)`,

.. math:: \mathbb E[f(W^T)-f^*] \le \Big(1-\frac{\gamma\mu\lambda_{\min}^p}{2}\Big)^T\Delta_0
          + \frac{L\gamma C\lambda_{\max}^p}{\mu\lambda_{\min}^p}.

Derivation: :data:`theorems.lemmas.DESCENT_UNBIASED`; with γ <= λ_min^p/(LBλ_max^p) the gradient
coefficient γλ_min^p − Lγ²λ_max^pB/2 is at least γλ_min^p/2.  Under PŁ, ‖∇f‖² >= 2μδ and
Lγ²λ_max^pA <= γμλ_min^p/2 give the contraction 1 − γμλ_min^p/2; the fixed point of
``x = ρx + Lγ²λ_max^pC/2`` is the noise term.  With A = 0, B = 1, C = σ² this is the bounded-variance
case; with C = 0 and A = 0 (zero noise) it is Theorem 1 with the constant 2 in place of 1 in the PŁ rate.

Provenance: the PŁ form ``(1 − γμλ_min^p/2)^T Δ0 + noise`` is confirmed by the project brief (Theorem 8);
the exact constants, the non-convex statement and the weights are reconstructed here (docs/theory.md §5.2).
B >= 1 for every oracle of this suite (the ABC constants are certified with B = 1).
"""

from __future__ import annotations

from theorems.builders import unbiased_pair
from theorems.record import Case, Provenance

SGD_NC, SGD_PL = unbiased_pair(
    ids=("sgd-nc", "sgd-pl"), refs=("Theorem 2", "Theorem 8"), title="Bernoulli-LoRA-SGD",
    provenance=Provenance("reconstructed", "docs/theory.md §5.2, re-derived; Theorem 8's PŁ form confirmed by the "
                          "project brief; Khaled & Richtárik (2020) weighted telescoping"),
    assumptions=("expected_smoothness",), estimator="sgd", abc=None, doc=__doc__,
)

THEOREMS = (SGD_NC, SGD_PL)


#: The check instances of these theorems (``verify.suite`` runs them; the tight one is found by
#: ``benchmarks/search_instances.py`` with the exact oracle).
CASES = {
    'sgd-nc': (
        Case('isotropic-quadratic:m=6,n=4,sigma=0.3',
             why='additive noise: the one-step inequality is an equality, exact slack 1.01',
             p=0.3, r=2, iters=200, params=(('batch', 1),), tight=True),
        Case('least-squares:noise=0.5',
             why='finite-sum rows with a minibatch of 4: the ABC constants of sampling',
             p=0.5, r=2, iters=200, params=(('batch', 4),)),
    ),
    'sgd-pl': (
        Case('isotropic-quadratic:m=6,n=4,sigma=0.3',
             why='the proof keeps half the PL decrease, so exact slack >= 1.69 on every instance of the family',
             p=0.3, r=2, iters=200, params=(('batch', 1),), tight=True),
        Case('least-squares:sigma=0.5',
             why='random-coordinate sketches on noisy least squares',
             sketch='coordinates', p=0.3, r=2, iters=300, params=(('batch', 1),)),
    ),
}
