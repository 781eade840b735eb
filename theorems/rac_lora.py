r"""RAC-LoRA (Malinovsky et al., arXiv 2410.08305), the one-sided predecessor, as reference statements.

Bernoulli-LoRA with p = 1 (left sketches only) or p = 0 (right sketches only) is RAC-LoRA; its
theorems must be recovered by substituting ``lambda_min_p -> lambda_min_H``.  Statements as quoted by
public reviews of RAC-LoRA (docs/theory.md §6, tag [S]):

* Thm 5.3: :math:`\mathbb E\|\nabla f(\widetilde W^T)\|^2 \le \frac{2(f(W^0)-f^*)}{\lambda_{\min}^H\gamma T}`;
* Thm 5.5: :math:`\mathbb E[f(W^T)-f^*] \le (1-\gamma\mu\lambda_{\min}^H)^T(f(W^0)-f^*)`.
"""

from __future__ import annotations

import sympy as sp

from theorems.symbols import Delta0, T, gamma, lambda_min_H, mu

THM_5_3: sp.Expr = 2 * Delta0 / (lambda_min_H * gamma * T)
THM_5_5: sp.Expr = (1 - gamma * mu * lambda_min_H) ** T * Delta0

#: Bernoulli-LoRA theorem id -> the RAC-LoRA bound it must reduce to at p in {0, 1}.
REDUCES_TO: dict[str, sp.Expr] = {"gd-nc": THM_5_3, "gd-pl": THM_5_5}
