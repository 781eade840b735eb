r"""Bernoulli-LoRA-QGD (Theorem 5): M clients, independent unbiased compressors Q_i ∈ U(ω).

``G^t = (1/M) Σ_i Q_i(∇f_i(W^t))`` is unbiased and, by independence of the Q_i,

.. math:: \mathbb E\|G\|^2 = \|\nabla f\|^2 + \frac1{M^2}\sum_i\mathbb E\|Q_i(\nabla f_i)-\nabla f_i\|^2
          \le \|\nabla f\|^2 + \frac{\omega}{M^2}\sum_i\|\nabla f_i\|^2
          \le \|\nabla f\|^2 + \frac{2\omega L_{\max}}{M}\big(f - f^* + \Delta^{\inf}\big),

using ``‖∇f_i‖² <= 2L_i(f_i − f_i^*)`` and ``(1/M)Σ(f_i − f_i^*) = f − f^* + Δ^inf``.  So QGD is SGD with
``A = ωL_max/M``, ``B = 1``, ``C = 2ωL_maxΔ^inf/M`` (docs/theory.md §5.5), and the bounds are those of
:mod:`theorems.sgd` with these constants.  With the identity compressor (ω = 0) they reduce to GD's
(with the PŁ rate halved).

Provenance: reconstructed (the paper's QGD setting, single-node or distributed, is not known; this is
the distributed one, which the public summaries group with MARINA and EF21).
"""

from __future__ import annotations

from theorems.builders import unbiased_pair
from theorems.record import Case, Provenance
from theorems.symbols import A, B, C, Delta_inf, L_max, M, omega

QGD_ABC = {A: omega * L_max / M, B: 1, C: 2 * omega * L_max * Delta_inf / M}

QGD_NC, QGD_PL = unbiased_pair(
    ids=("qgd-nc", "qgd-pl"), refs=("Theorem 5", "Theorem 5 (PŁ variant)"), title="Bernoulli-LoRA-QGD",
    provenance=Provenance("reconstructed", "docs/theory.md §5.5: SGD theorems with the ABC constants of "
                          "independent unbiased compressors (Khaled & Richtárik 2020)"),
    assumptions=("federated", "compressor"), estimator="qgd", abc=QGD_ABC, doc=__doc__,
)

THEOREMS = (QGD_NC, QGD_PL)


#: The check instances of these theorems (``verify.suite`` runs them; the tight one is found by
#: ``benchmarks/search_instances.py`` with the exact oracle).
CASES = {
    'qgd-nc': (
        Case('federated-ls:m=6,n=4,M=2,hetero=1,kappa=1',
             why=("heterogeneous isotropic clients: the search's best; the weighted bound's (1 + L gamma^2 lambda "
                  'A)^T keeps exact slack >= 2.15'),
             p=0.7, r=1, iters=10, params=(('compressor', 'rand-k:k=12'),), tight=True),
        Case('federated-ls:m=6,n=4,M=4,hetero=0',
             why='the former tight instance (exact slack 2.77): homogeneous clients',
             p=0.3, r=1, iters=10, params=(('compressor', 'rand-k:k=12'),)),
        Case('federated-ls',
             why='QSGD random dithering (nonlinear: no exact oracle) on the default federated problem',
             p=0.5, r=2, iters=100, params=(('compressor', 'dither:s=4'),)),
        Case('federated-ls:m=6,n=4,M=2,hetero=1,kappa=1',
             why=('heterogeneous clients with isotropic spectra (kappa = 1): A = omega L_max/M and C = 2 omega '
                  'L_max Delta_inf/M both bind (the exact certificate fails when either is halved)'),
             p=0.3, r=1, iters=10, params=(('compressor', 'rand-k:k=2'),)),
    ),
    'qgd-pl': (
        Case('federated-ls:m=6,n=4,M=2,hetero=0',
             why="rand-2 on homogeneous clients, short horizon: the search's best (exact slack 1.003)",
             p=0.7, r=1, iters=10, params=(('compressor', 'rand-k:k=2'),), tight=True),
        Case('federated-ls:m=6,n=4,M=2,hetero=0',
             why='the former tight instance (exact slack 1.01)',
             p=0.7, r=1, iters=100, params=(('compressor', 'rand-k:k=6'),)),
        Case('federated-ls:m=6,n=4,M=2,hetero=1,kappa=1',
             why='heterogeneous isotropic clients: C binds (the exact certificate fails when it is halved)',
             p=0.7, r=1, iters=100, params=(('compressor', 'rand-k:k=6'),)),
    ),
}
