"""A user's own problem, written as a new user would: multinomial logistic regression with ridge.

    f(W) = (1/N) Σ_i [logsumexp(x_iᵀW) − x_iᵀW e_{y_i}] + (lam/2)‖W‖²,   W ∈ R^{features × classes}

with plain numpy ``f`` and ``grad`` on ONE matrix (and, optionally, their batched twins ``f_batch`` and
``grad_batch`` over a leading axis of matrices, which the suite then calls instead).  Constants, and how
they were obtained:

* ``L = σ_max(X)²/(2N) + lam``: the softmax Hessian diag(p) − ppᵀ is at most ½ I (Gershgorin: row j sums
  to 2 p_j (1 − p_j) <= ½), so ∇²f ⪯ XᵀX/(2N) ⊗ I + lam I;
* ``mu = lam``: f is lam-strongly convex, hence PŁ with mu = lam;
* ``f_star``: L-BFGS-B to gradient norm 1e-12 (f is strongly convex, so this is inf f to ~1e-20).

Use it with ``verify assumptions examples/logreg.py:make_problem`` and
``verify run gd-nc gd-pl --problem examples/logreg.py:make_problem``.
"""

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax


class LogReg:
    def __init__(self, features=5, classes=3, N=60, lam=0.1, seed=0, declare=True, L_factor=1.0):
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((N, features))
        self.y = rng.integers(0, classes, size=N)
        self.lam = lam
        self.shape = (features, classes)
        self.W0 = np.zeros(self.shape)
        self.name = "logreg"
        if declare:
            L = np.linalg.norm(self.X, 2) ** 2 / (2 * N) + lam
            self.constants = {"L": (L_factor * L, "sigma_max(X)^2/(2N) + lam"), "mu": (lam, "lam-strong convexity"),
                              "f_star": (self._solve(), "L-BFGS-B, gradient norm 1e-12")}

    def f(self, W):
        Z = self.X @ W
        return float(np.mean(logsumexp(Z, axis=1) - Z[np.arange(len(Z)), self.y]) + self.lam / 2 * np.sum(W * W))

    def grad(self, W):
        P = softmax(self.X @ W, axis=1)
        P[np.arange(len(P)), self.y] -= 1.0
        return self.X.T @ P / len(P) + self.lam * W

    # Optional batched twins over a leading axis of K matrices: used instead of K calls when offered.
    def f_batch(self, W):
        Z = np.einsum("na,kac->knc", self.X, W)
        fit = logsumexp(Z, axis=2) - Z[:, np.arange(self.X.shape[0]), self.y]
        return fit.mean(axis=1) + self.lam / 2 * np.einsum("kac,kac->k", W, W)

    def grad_batch(self, W):
        P = softmax(np.einsum("na,kac->knc", self.X, W), axis=2)
        P[:, np.arange(self.X.shape[0]), self.y] -= 1.0
        return np.einsum("na,knc->kac", self.X, P) / self.X.shape[0] + self.lam * W

    def _solve(self):
        res = minimize(lambda w: self.f(w.reshape(self.shape)), np.zeros(self.X.shape[1] * len(self.W0[0])),
                       jac=lambda w: self.grad(w.reshape(self.shape)).ravel(), method="L-BFGS-B",
                       options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 10000})
        return float(res.fun)


def make_problem():
    """Every constant declared."""
    return LogReg()


def make_problem_undeclared():
    """No constant declared: ``verify run --estimate-constants`` takes them from verify assumptions."""
    return LogReg(declare=False)


def make_problem_wrong_L():
    """A slip: L declared 4x too small (the 1/2 of the softmax bound squared twice)."""
    return LogReg(L_factor=0.25)
