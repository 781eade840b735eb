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
from theorems.record import Provenance
from theorems.symbols import A, B, C, Delta_inf, L_max, M, omega

QGD_ABC = {A: omega * L_max / M, B: 1, C: 2 * omega * L_max * Delta_inf / M}

QGD_NC, QGD_PL = unbiased_pair(
    ids=("qgd-nc", "qgd-pl"), refs=("Theorem 5", "Theorem 5 (PŁ variant)"), title="Bernoulli-LoRA-QGD",
    provenance=Provenance("reconstructed", "docs/theory.md §5.5: SGD theorems with the ABC constants of "
                          "independent unbiased compressors (Khaled & Richtárik 2020)"),
    assumptions=("federated", "compressor"), estimator="qgd", abc=QGD_ABC, doc=__doc__,
)

THEOREMS = (QGD_NC, QGD_PL)
