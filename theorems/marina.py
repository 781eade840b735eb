r"""Bernoulli-LoRA-MARINA (Theorem 6): M clients, probability q, unbiased compressors Q_i ∈ U(ω).

Estimator: ``G^0 = ∇f(W^0)``; w.p. q ``G^{t+1} = ∇f(W^{t+1})``, else
``G^{t+1} = G^t + (1/M)Σ_i Q_i(∇f_i(W^{t+1}) − ∇f_i(W^t))``.  Error recursion
(:data:`theorems.lemmas.MARINA_ERROR`): ``E‖e⁺‖² <= (1−q)‖e‖² + (1−q)(ω/M)L̃²‖W⁺ − W‖²`` with
L̃² = (1/M)Σ L_i².

Non-convex: γ <= 1/(L + L̃ sqrt(λ_max^p(1−q)ω/(qM))),
:math:`\frac1T\sum_{t<T}\mathbb E\|\nabla f(W^t)\|^2 \le \frac{2\Delta_0}{\gamma\lambda_{\min}^pT}`.
PŁ: γ <= min(1/(L + L̃ sqrt(2λ_max^p(1−q)ω/(qM))), q/(2μλ_min^p)),
E Φ_T <= (1 − γμλ_min^p)^T Δ0 with Φ = f − f* + (γλ_max^p/q)‖G − ∇f‖².  With q = 1 or ω = 0 this is GD.

Provenance: reconstructed from MARINA (Gorbunov, Burlachenko, Li, Richtárik 2021, Thm 2.1) and the
projection lemma (docs/theory.md §5.6).
"""

from __future__ import annotations

import sympy as sp

from theorems.builders import variance_reduced_pair
from theorems.lemmas import MARINA_ERROR
from theorems.record import Provenance
from theorems.symbols import L_tilde, M, omega, q

MARINA_NC, MARINA_PL = variance_reduced_pair(
    ids=("marina-nc", "marina-pl"), refs=("Theorem 6", "Theorem 6 (PŁ variant)"), title="Bernoulli-LoRA-MARINA",
    provenance=Provenance("reconstructed", "MARINA (Gorbunov et al. 2021) + projection lemma; docs/theory.md §5.6"),
    assumptions=("federated", "compressor"), estimator="marina", error=MARINA_ERROR, kappa=q,
    K_root=L_tilde * sp.sqrt((1 - q) * omega / M), noise=sp.Integer(0),
    lyapunov_err="||G^t - grad f(W^t)||^2", doc=__doc__,
)

THEOREMS = (MARINA_NC, MARINA_PL)
