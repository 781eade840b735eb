"""The fixed symbol table shared by every theorem.

Anyone can evaluate a bound by substituting values for these names.  The names follow the paper
(arXiv 2508.03820): ``gamma`` is the stepsize in W-space, ``lambda_min_p`` and ``lambda_max_p`` are the
extreme eigenvalues of the expected projection operator
``X ↦ p E[H_B] X + (1 − p) X E[H_A]``, ``Delta0 = f(W^0) − f^*``.

Symbols used only inside proofs (the Lyapunov value ``Phi_t``, the squared gradient norm ``grad_sq``)
are defined here too so that a theorem's ``one_step`` inequality is a plain sympy expression.
"""

from __future__ import annotations

import sympy as sp

T = sp.Symbol("T", integer=True, nonnegative=True)
gamma = sp.Symbol("gamma", positive=True)
L = sp.Symbol("L", positive=True)
mu = sp.Symbol("mu", positive=True)
Delta0 = sp.Symbol("Delta0", nonnegative=True)
lambda_min_p = sp.Symbol("lambda_min_p", positive=True)
lambda_max_p = sp.Symbol("lambda_max_p", positive=True)
p = sp.Symbol("p", nonnegative=True)
r = sp.Symbol("r", positive=True, integer=True)
m = sp.Symbol("m", positive=True, integer=True)
n = sp.Symbol("n", positive=True, integer=True)

# One-sided sketch constants: lambda_min(E[H_B]), lambda_min(E[H_A]) and the max counterparts.
lambda_min_B = sp.Symbol("lambda_min_B", positive=True)
lambda_min_A = sp.Symbol("lambda_min_A", positive=True)
lambda_max_B = sp.Symbol("lambda_max_B", positive=True)
lambda_max_A = sp.Symbol("lambda_max_A", positive=True)

# RAC-LoRA's constant lambda_min(E[H]) for a one-sided chain.
lambda_min_H = sp.Symbol("lambda_min_H", positive=True)

# Proof-only symbols: the Lyapunov value at step t and ||grad f(W^t)||_F^2.
Phi_t = sp.Symbol("Phi_t", nonnegative=True)
grad_sq = sp.Symbol("grad_sq", nonnegative=True)

BY_NAME: dict[str, sp.Symbol] = {
    s.name: s
    for s in (T, gamma, L, mu, Delta0, lambda_min_p, lambda_max_p, p, r, m, n,
              lambda_min_B, lambda_min_A, lambda_max_B, lambda_max_A, lambda_min_H)
}
