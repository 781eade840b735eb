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
from theorems.record import Case, Provenance
from theorems.symbols import L_tilde, M, omega, q

MARINA_NC, MARINA_PL = variance_reduced_pair(
    ids=("marina-nc", "marina-pl"), refs=("Theorem 6", "Theorem 6 (PŁ variant)"), title="Bernoulli-LoRA-MARINA",
    provenance=Provenance("reconstructed", "MARINA (Gorbunov et al. 2021) + projection lemma; docs/theory.md §5.6"),
    assumptions=("federated", "compressor"), estimator="marina", error=MARINA_ERROR, kappa=q,
    K_root=L_tilde * sp.sqrt((1 - q) * omega / M), noise=sp.Integer(0),
    lyapunov_err="||G^t - grad f(W^t)||^2", doc=__doc__,
)

THEOREMS = (MARINA_NC, MARINA_PL)


#: The check instances of these theorems (``verify.suite`` runs them; the tight one is found by
#: ``benchmarks/search_instances.py`` with the exact oracle).
CASES = {
    'marina-nc': (
        Case('federated-ls:m=6,n=4,M=1,hetero=0,kappa=1',
             why="one isotropic client, q = 0.1, rand-2: the search's best (exact slack 1.15, detects 13 % / 15 %)",
             p=0.3, r=2, iters=200, params=(('q', 0.1), ('compressor', 'rand-k:k=2')), tight=True),
        Case('federated-ls:m=6,n=4,M=4,hetero=0',
             why='the former tight instance (exact slack 1.43)',
             p=0.3, r=1, iters=100, params=(('q', 0.5), ('compressor', 'rand-k:k=12'))),
        Case('federated-ls',
             why='Rademacher sketches and QSGD dithering (no exact oracle)',
             sketch='rademacher', p=0.7, r=2, iters=200, params=(('q', 0.5), ('compressor', 'dither:s=4'))),
        Case('federated-ls:m=6,n=4,M=2,hetero=1,kappa=1',
             why=('kappa = 1, rare full gradients (q = 0.1) and rand-2 (omega = 11): the compression term omega '
                  'L_tilde^2/M binds (exact slack 1.25, 0.67 when halved)'),
             p=0.3, r=1, iters=100, params=(('q', 0.1), ('compressor', 'rand-k:k=2'))),
    ),
    'marina-pl': (
        Case('federated-ls:m=6,n=4,M=1,hetero=0,kappa=1',
             why=("one isotropic client, q = 0.1, rand-2: the search's best (exact slack 1.004, detects 0.4 % / 9 "
                  '%)'),
             p=0.3, r=2, iters=100, params=(('q', 0.1), ('compressor', 'rand-k:k=2')), tight=True),
        Case('federated-ls:m=6,n=4,M=4,hetero=0',
             why='the former tight instance (exact slack 1.27)',
             p=0.3, r=2, iters=200, params=(('q', 0.5), ('compressor', 'rand-k:k=12'))),
        Case('federated-ls:m=6,n=4,M=1,hetero=0,kappa=1',
             why='one isotropic client, q = 0.1, rand-2: exact slack 1.003 (0.33 when omega L_tilde^2/M is halved)',
             p=0.3, r=1, iters=100, params=(('q', 0.1), ('compressor', 'rand-k:k=2'))),
    ),
}
