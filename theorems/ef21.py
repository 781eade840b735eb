r"""Bernoulli-LoRA-EF21 (Theorem 7): M clients with contractive compressors C_i ∈ B(α).

Estimator: ``g_i^{t+1} = g_i^t + C_i(∇f_i(W^{t+1}) − g_i^t)``, ``G^t = (1/M)Σ g_i^t``; the error is
𝒢^t = (1/M)Σ‖g_i^t − ∇f_i(W^t)‖² (and ‖G − ∇f‖² <= 𝒢 by Jensen, so the descent lemma holds with 𝒢).
Recursion (:data:`theorems.lemmas.EF21_ERROR`): ``E 𝒢⁺ <= (1−θ)𝒢 + βL̃²‖W⁺ − W‖²`` with
θ = 1 − sqrt(1−α), β = (1−α)/(1 − sqrt(1−α)) (Young's inequality with s = 1/sqrt(1−α) − 1).

Non-convex: γ <= 1/(L + L̃ sqrt(λ_max^p β/θ)),

.. math:: \frac1T\sum_{t<T}\mathbb E\|\nabla f(W^t)\|^2 \le \frac{2\Delta_0}{\gamma\lambda_{\min}^pT}
          + \frac{\lambda_{\max}^p\,\mathcal G^0}{\theta\lambda_{\min}^pT}.

PŁ: γ <= min(1/(L + L̃ sqrt(2λ_max^p β/θ)), θ/(2μλ_min^p)), E Ψ_T <= (1 − γμλ_min^p)^T Ψ_0 with
Ψ = f − f* + (γλ_max^p/θ)𝒢.  With the identity compressor (α = 1: θ = 1, β = 0) this is GD.

Provenance: reconstructed from EF21 (Richtárik, Sokolov, Fatkhullin 2021, Thms 1–2; θ, β and the PŁ
stepsize are [C] in the EF21 code) and the projection lemma (docs/theory.md §5.7).
"""

from __future__ import annotations

import sympy as sp

from theorems.builders import variance_reduced_pair
from theorems.lemmas import EF21_BETA, EF21_ERROR, EF21_THETA
from theorems.record import Case, Provenance
from theorems.symbols import L_tilde, beta, theta

EF21_NC, EF21_PL = variance_reduced_pair(
    ids=("ef21-nc", "ef21-pl"), refs=("Theorem 7", "Theorem 7 (PŁ variant)"), title="Bernoulli-LoRA-EF21",
    provenance=Provenance("reconstructed", "EF21 (Richtárik et al. 2021) + projection lemma; docs/theory.md §5.7"),
    assumptions=("federated", "compressor"), estimator="ef21", error=EF21_ERROR, kappa=theta,
    K_root=L_tilde * sp.sqrt(beta), noise=sp.Integer(0),
    lyapunov_err="(1/M) sum_i ||g_i^t - grad f_i(W^t)||^2", doc=__doc__,
    definitions=((theta, EF21_THETA), (beta, EF21_BETA)),
)

THEOREMS = (EF21_NC, EF21_PL)


#: The check instances of these theorems (``verify.suite`` runs them; the tight one is found by
#: ``benchmarks/search_instances.py`` with the exact oracle).
CASES = {
    'ef21-nc': (
        Case('federated-ls:m=6,n=4,M=1,hetero=0,kappa=1',
             why=("one isotropic client: the search's best; the Young factor of the EF21 recursion keeps exact "
                  'slack >= 1.54'),
             p=0.7, r=1, iters=200, params=(('compressor', 'sparse-k:k=12'),), tight=True),
        Case('federated-ls:m=6,n=4,M=2,hetero=0',
             why='the former tight instance: sparse-k is linear, so EF21 gets an exact oracle (exact slack 1.84)',
             p=0.3, r=1, iters=200, params=(('compressor', 'sparse-k:k=12'),)),
        Case('federated-ls',
             why='top-k (deterministic, nonlinear) on the default federated problem',
             p=0.5, r=2, iters=200, params=(('compressor', 'top-k:k=24'),)),
    ),
    'ef21-pl': (
        Case('federated-ls:m=6,n=4,M=2,hetero=1,kappa=1',
             why="heterogeneous isotropic clients: the search's best (exact slack 1.18, detects 15 % / 49 %)",
             p=0.7, r=2, iters=200, params=(('compressor', 'sparse-k:k=12'),), tight=True),
        Case('federated-ls:m=6,n=4,M=2,hetero=1',
             why='the former tight instance (exact slack 1.07)',
             p=0.7, r=1, iters=100, params=(('compressor', 'sparse-k:k=6'),)),
        Case('federated-ls:M=8',
             why='Haar sketches, rank 3, eight clients, top-k',
             sketch='haar', p=0.3, r=3, iters=200, params=(('compressor', 'top-k:k=8'),)),
    ),
}
