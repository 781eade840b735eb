r"""Bernoulli-LoRA-PAGE (Theorem 4): probability q of a full gradient, minibatch b' otherwise.

Estimator: ``G^{t+1} = ∇f(W^{t+1})`` w.p. q, else ``G^t + (1/b')Σ_{i∈I}(∇f_i(W^{t+1}) − ∇f_i(W^t))``;
``G^0 = ∇f(W^0)`` (so E0 = 0).  Error recursion (:data:`theorems.lemmas.PAGE_ERROR`, minibatch with
replacement, ℒ the mean-squared smoothness of the components):
``E‖e⁺‖² <= (1 − q)‖e‖² + (1 − q)(ℒ²/b')‖W⁺ − W‖²``.

Non-convex: Φ = f − f* + (γλ_max^p/(2q))‖G − ∇f‖², γ <= 1/(L + ℒ sqrt(λ_max^p(1−q)/(q b'))),

.. math:: \frac1T\sum_{t<T}\mathbb E\|\nabla f(W^t)\|^2 \le \frac{2\Phi_0}{\gamma\lambda_{\min}^pT}.

PŁ: Φ = f − f* + (γλ_max^p/q)‖G − ∇f‖², γ <= min(1/(L + ℒ sqrt(2λ_max^p(1−q)/(q b'))), q/(2μλ_min^p)),
E Φ_T <= (1 − γμλ_min^p)^T Φ_0.  With q = 1 both reduce to GD (Theorem 1).

Provenance: reconstructed from PAGE (Li, Bao, Zhang, Richtárik 2021, Thm 1) and the projection lemma;
the paper's Theorem 4 carries the symbol q (reviewer, [S]); docs/theory.md §5.3.
"""

from __future__ import annotations

import sympy as sp

from theorems.builders import variance_reduced_pair
from theorems.lemmas import PAGE_ERROR
from theorems.record import Case, Provenance
from theorems.symbols import Lms, b_prime, q

PAGE_NC, PAGE_PL = variance_reduced_pair(
    ids=("page-nc", "page-pl"), refs=("Theorem 4", "Theorem 4 (PŁ variant)"), title="Bernoulli-LoRA-PAGE",
    provenance=Provenance("reconstructed", "PAGE (Li et al. 2021) + projection lemma; docs/theory.md §5.3, re-derived"),
    assumptions=("mean_square_smooth",), estimator="page", error=PAGE_ERROR, kappa=q,
    K_root=Lms * sp.sqrt((1 - q) / b_prime), noise=sp.Integer(0), lyapunov_err="||G^t - grad f(W^t)||^2", doc=__doc__,
)

THEOREMS = (PAGE_NC, PAGE_PL)


#: The check instances of these theorems (``verify.suite`` runs them; the tight one is found by
#: ``benchmarks/search_instances.py`` with the exact oracle).
CASES = {
    'page-nc': (
        Case('isotropic-quadratic:m=6,n=4,sigma=0.3',
             why='shared additive noise: exact slack 1.18',
             p=0.7, r=1, iters=200, params=(('q', 0.5), ('batch_prime', 4)), tight=True),
        Case('nonconvex-reg',
             why="the paper's §7.1 problem with rare full gradients (q = 0.1) and minibatch 8",
             p=0.5, r=2, runs=128, iters=300, params=(('q', 0.1), ('batch_prime', 8))),
        Case('least-squares:m=6,n=4,N=24,kappa=1,noise=0.5',
             why=("finite-sum rows with b' = 1: the only family member on which PAGE's L^2/b' term binds (the exact"
                  ' certificate fails when it is halved); q != 1/2 so that a coin read as 1 - q changes the method'),
             p=0.3, r=1, iters=100, params=(('q', 0.2), ('batch_prime', 1))),
    ),
    'page-pl': (
        Case('isotropic-quadratic:m=6,n=4,sigma=0.3',
             why='shared additive noise: exact slack 1.04',
             p=0.7, r=1, iters=100, params=(('q', 0.5), ('batch_prime', 4)), tight=True),
        Case('least-squares:noise=0.5',
             why='finite-sum rows with q = 0.2',
             p=0.5, r=2, iters=200, params=(('q', 0.2), ('batch_prime', 4))),
    ),
}
