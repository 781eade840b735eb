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

# Constants of the stochastic, variance-reduced, federated and non-smooth theorems.
A = sp.Symbol("A", nonnegative=True)            # expected smoothness (ABC): E||g||^2 <= 2A(f - f*) + B||grad||^2 + C
B = sp.Symbol("B", positive=True)
C = sp.Symbol("C", nonnegative=True)
sigma2 = sp.Symbol("sigma2", nonnegative=True)  # variance bound of the stochastic gradient (MVR)
Lms = sp.Symbol("Lms", positive=True)           # mean-squared smoothness constant (script L)
b = sp.Symbol("b", positive=True)               # MVR momentum, 0 < b <= 1
q = sp.Symbol("q", positive=True)               # PAGE / MARINA probability of a full gradient, 0 < q <= 1
b_prime = sp.Symbol("b_prime", positive=True)   # PAGE minibatch size
omega = sp.Symbol("omega", nonnegative=True)    # unbiased compressor variance, class U(omega)
M = sp.Symbol("M", positive=True, integer=True) # number of clients
L_max = sp.Symbol("L_max", positive=True)       # max_i L_i
L_tilde = sp.Symbol("L_tilde", positive=True)   # sqrt(mean_i L_i^2)
Delta_inf = sp.Symbol("Delta_inf", nonnegative=True)  # f* - mean_i f_i*
alpha_c = sp.Symbol("alpha_c", positive=True)   # contractive compressor constant, class B(alpha), 0 < alpha <= 1
theta = sp.Symbol("theta", positive=True)       # EF21: 1 - sqrt(1 - alpha)
beta = sp.Symbol("beta", nonnegative=True)      # EF21: (1 - alpha)/(1 - sqrt(1 - alpha))
E0 = sp.Symbol("E0", nonnegative=True)          # initial estimator error (E||G^0 - grad f(W^0)||^2, or EF21's G^0)
L0 = sp.Symbol("L0", positive=True)             # Lipschitz constant of f (non-smooth)
R0 = sp.Symbol("R0", positive=True)          # ||W^0 - W*||

# Proof-only symbols: quantities at step t, all non-negative.
Phi_t = sp.Symbol("Phi_t", nonnegative=True)    # Lyapunov value
delta_t = sp.Symbol("delta_t", nonnegative=True)  # f(W^t) - f*
grad_sq = sp.Symbol("grad_sq", nonnegative=True)  # ||grad f(W^t)||^2
err_t = sp.Symbol("err_t", nonnegative=True)    # estimator error (||G^t - grad f(W^t)||^2, or EF21's G^t)
step_sq = sp.Symbol("step_sq", nonnegative=True)  # E_t ||W^{t+1} - W^t||^2
dist_t = sp.Symbol("dist_t", nonnegative=True)  # ||W^t - W*||^2 in the norm of the inverse expected projection
Gsq = sp.Symbol("Gsq", positive=True)           # ||G^t||^2 for a subgradient G^t
pl_excess = sp.Symbol("pl_excess", nonnegative=True)  # ||grad||^2 - 2 mu delta_t >= 0 under PŁ
lip_excess = sp.Symbol("lip_excess", nonnegative=True)  # L0^2/||G||^2 - 1 >= 0 under Lipschitz continuity

#: The state quantities a one-step inequality is a polynomial in.
QUANTITIES = (delta_t, grad_sq, err_t, step_sq, dist_t, Gsq, pl_excess, lip_excess)

BY_NAME: dict[str, sp.Symbol] = {
    s.name: s
    for s in (T, gamma, L, mu, Delta0, lambda_min_p, lambda_max_p, p, r, m, n,
              lambda_min_B, lambda_min_A, lambda_max_B, lambda_max_A, lambda_min_H,
              A, B, C, sigma2, Lms, b, q, b_prime, omega, M, L_max, L_tilde, Delta_inf, alpha_c, theta, beta,
              E0, L0, R0)
}

#: LaTeX names for printing (``sympy.latex(expr, symbol_names=LATEX_NAMES)``).
LATEX_NAMES: dict[sp.Symbol, str] = {
    lambda_min_p: r"\lambda_{\min}^p", lambda_max_p: r"\lambda_{\max}^p", Delta0: r"\Delta_0",
    Delta_inf: r"\Delta^{\inf}", L_tilde: r"\widetilde L", L_max: r"L_{\max}", Lms: r"\mathcal{L}",
    sigma2: r"\sigma^2", b_prime: "b'", alpha_c: r"\alpha", E0: "E_0",
}


def latex(expr: sp.Expr) -> str:
    """LaTeX of ``expr`` with the paper's symbol names."""
    return sp.latex(expr, symbol_names=LATEX_NAMES)
