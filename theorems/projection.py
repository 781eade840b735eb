r"""Expected-projection constants (sympy only).

For the Bernoulli draw (left sketch with probability p), the expected projection operator is
:math:`\mathcal H(X) = p\,\mathbb E[H_B]X + (1-p)\,X\,\mathbb E[H_A]`.  In vec form it is the Kronecker
sum :math:`p(I_n\otimes \mathbb E H_B) + (1-p)(\mathbb E H_A^\top\otimes I_m)`, whose eigenvalues are
:math:`p\mu_i + (1-p)\nu_j`; hence

.. math:: \lambda_{\min}^p = p\,\lambda_{\min}(\mathbb E H_B) + (1-p)\,\lambda_{\min}(\mathbb E H_A),

and the same for :math:`\lambda_{\max}^p` (docs/theory.md §3.1).

Gaussian sketches (paper, Appendix B; docs/theory.md §3.3): H_B projects onto a uniformly random
r-dimensional subspace of R^m, so E[H_B] = c I by rotation invariance and tr E[H_B] = r gives
c = r/m; likewise E[H_A] = (r/n) I.
"""

from __future__ import annotations

import sympy as sp

from theorems.symbols import lambda_max_A, lambda_max_B, lambda_min_A, lambda_min_B, m, n, p, r

lambda_min_p_expr: sp.Expr = p * lambda_min_B + (1 - p) * lambda_min_A
lambda_max_p_expr: sp.Expr = p * lambda_max_B + (1 - p) * lambda_max_A

#: Closed forms of the one-sided constants for Gaussian (and Haar, coordinate) sketches with r <= min(m, n).
GAUSSIAN: dict[sp.Symbol, sp.Expr] = {
    lambda_min_B: r / m,
    lambda_max_B: r / m,
    lambda_min_A: r / n,
    lambda_max_A: r / n,
}
