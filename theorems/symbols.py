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

#: One line per symbol: what it means.  The one home of these meanings (``verify show`` prints them, and
#: ``docs/theory.md`` §1 is the same table with the derivations around it).
DESCRIPTIONS: dict[str, str] = {
    # the run
    "T": "number of steps (iterations) of the chain",
    "gamma": "stepsize in W-space: W^{t+1} = W^t - gamma G_hat^t",
    # the problem
    "L": "smoothness constant: ||grad f(W) - grad f(V)|| <= L ||W - V|| (Frobenius norms)",
    "mu": "PL constant: ||grad f(W)||^2 / 2 >= mu (f(W) - f^*)",
    "Delta0": "initial gap f(W^0) - f^*",
    "L0": "Lipschitz constant of f (non-smooth): every subgradient has norm <= L0",
    "R0": "initial distance ||W^0 - W*|| to a minimiser W*",
    # the sketches
    "lambda_min_p": "smallest eigenvalue of the expected projection X -> p E[H_B] X + (1 - p) X E[H_A]",
    "lambda_max_p": "largest eigenvalue of the expected projection X -> p E[H_B] X + (1 - p) X E[H_A]",
    "p": "probability of the left sketch (B_S drawn, H_B G applied); 1 - p: right sketch (G H_A)",
    "r": "sketch rank (columns of B_S, rows of A_S)",
    "m": "number of rows of W",
    "n": "number of columns of W",
    "lambda_min_B": "lambda_min(E[H_B]), the left sketch's smallest expected-projection eigenvalue",
    "lambda_min_A": "lambda_min(E[H_A]), the right sketch's smallest expected-projection eigenvalue",
    "lambda_max_B": "lambda_max(E[H_B]), the left sketch's largest expected-projection eigenvalue",
    "lambda_max_A": "lambda_max(E[H_A]), the right sketch's largest expected-projection eigenvalue",
    "lambda_min_H": "RAC-LoRA's lambda_min(E[H]) for a one-sided chain (p = 0 or 1)",
    # stochastic gradients
    "A": "expected smoothness (ABC): coefficient of 2 (f - f^*) in E||g||^2 <= 2A(f - f^*) + B||grad f||^2 + C",
    "B": "expected smoothness (ABC): coefficient of ||grad f||^2 in the bound on E||g||^2",
    "C": "expected smoothness (ABC): constant term of the bound on E||g||^2",
    "sigma2": "variance bound of the stochastic gradient: E||g(W; xi) - grad f(W)||^2 <= sigma2",
    "Lms": "mean-squared smoothness: E||g(W; xi) - g(V; xi)||^2 <= Lms^2 ||W - V||^2 (script L)",
    # variance reduction and compression
    "b": "MVR momentum parameter, 0 < b <= 1 (b = 1: plain SGD)",
    "q": "PAGE / MARINA probability of computing a full gradient, 0 < q <= 1",
    "b_prime": "PAGE minibatch size b' of the gradient-difference step",
    "omega": "variance of the unbiased compressors, class U(omega): E||Q(X) - X||^2 <= omega ||X||^2",
    "M": "number of clients, f = (1/M) sum_i f_i",
    "L_max": "max_i L_i, the largest smoothness constant of the clients",
    "L_tilde": "sqrt((1/M) sum_i L_i^2), the quadratic mean of the clients' smoothness constants",
    "Delta_inf": "heterogeneity f^* - (1/M) sum_i f_i^*  (>= 0)",
    "alpha_c": "contraction of the compressors, class B(alpha): E||C(X) - X||^2 <= (1 - alpha_c) ||X||^2",
    "theta": "EF21 contraction 1 - sqrt(1 - alpha_c)",
    "beta": "EF21 constant (1 - alpha_c) / (1 - sqrt(1 - alpha_c))",
    "E0": "initial estimator error E||G^0 - grad f(W^0)||^2 (EF21: (1/M) sum_i ||g_i^0 - grad f_i(W^0)||^2)",
    # proof-only quantities at step t
    "Phi_t": "Lyapunov value at step t (the one-step inequality's Phi)",
    "delta_t": "gap f(W^t) - f^* at step t",
    "grad_sq": "||grad f(W^t)||^2 at step t",
    "err_t": "estimator error at step t: ||G^t - grad f(W^t)||^2 (EF21: (1/M) sum_i ||g_i^t - grad f_i(W^t)||^2)",
    "step_sq": "E_t ||W^{t+1} - W^t||^2, the expected squared step",
    "dist_t": "||W^t - W*||^2 in the norm of the inverse expected projection",
    "Gsq": "||G^t||^2 for the subgradient G^t",
    "pl_excess": "||grad f(W^t)||^2 - 2 mu delta_t, >= 0 under PL",
    "lip_excess": "L0^2 / ||G^t||^2 - 1, >= 0 under L0-Lipschitz continuity",
}
