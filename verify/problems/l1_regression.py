"""Non-smooth convex ``f(W) = (1/N) Σ_i |⟨X_i, W⟩ − y_i|`` with orthogonal ``X_i`` and a planted solution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from verify.errors import require
from verify.problems import _validate as v
from verify.problems.base import Constant, ShapeFromW0, as_batch, frozen

NAME = "l1-regression"


@dataclass(frozen=True, eq=False)
class L1Regression(ShapeFromW0):
    """``f(W) = (1/N) Σ_i |⟨X_i, W⟩ − y_i|``, ``y_i = ⟨X_i, W_planted⟩``, ``X_i`` mutually orthogonal.

    Notes
    -----
    ``grad`` returns the subgradient ``(1/N) Σ_i sign(r_i) X_i``, ``r_i = ⟨X_i, W⟩ − y_i``, with
    ``sign(0) = 0`` at a kink (a valid choice: any value in ``[−1, 1]`` is).  By orthogonality
    ``‖Σ_i s_i X_i‖² = Σ_i s_i² ‖X_i‖²``, maximised over ``|s_i| ≤ 1`` at ``|s_i| = 1``:
    ``L0 = sqrt(Σ_i ‖X_i‖²)/N``, exact (every subgradient away from the kinks has this norm).
    ``f ≥ 0`` with equality iff ``W − W_planted ⊥ span{X_i}``: ``f* = 0`` and the minimisers are
    ``W_planted + span{X_i}^⊥``; the closest to ``W0`` is ``W_star = W_planted + P⊥(W0 − W_planted)``
    and ``R0 = ‖P_span(W0 − W_planted)‖``, both exact.
    """

    X: np.ndarray
    y: np.ndarray
    W_planted: np.ndarray
    W_star: np.ndarray
    W0: np.ndarray
    params: Mapping[str, object]
    constants: Mapping[str, Constant]
    name: str = NAME

    def residuals(self, W: np.ndarray) -> np.ndarray:
        """``r_i = ⟨X_i, W⟩ − y_i``, evaluated as ``⟨X_i, W − W_planted⟩`` (exactly 0 at the plant): ``(R, N)``."""
        W = as_batch(W, self.shape, f"{self.name}.residuals")
        return np.einsum("kij,rij->rk", self.X, W - self.W_planted)

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f(W) = (1/N) Σ_i |r_i|``: ``(R, m, n) → (R,)``."""
        return np.mean(np.abs(self.residuals(W)), axis=1)

    def grad(self, W: np.ndarray) -> np.ndarray:
        """The subgradient ``(1/N) Σ_i sign(r_i) X_i`` (``sign(0) = 0``): ``(R, m, n) → (R, m, n)``."""
        return np.einsum("rk,kij->rij", np.sign(self.residuals(W)), self.X) / len(self.X)


def l1_regression(m: int = 8, n: int = 6, N: int = 24, seed: int = 0) -> L1Regression:
    """Non-smooth convex ``(1/N) Σ|⟨X_i, W⟩ − y_i|`` with orthogonal ``X_i`` and planted ``f* = 0``.

    Parameters
    ----------
    m, n : int
        Shape of ``W`` (``>= 1``).
    N : int
        Number of terms, ``1 <= N <= m n`` (``N`` orthogonal matrices must fit in ``R^{m×n}``).
    seed : int
        Seed of ``numpy.random.default_rng``; draws, in order, a Gaussian ``(m n) × N`` (its thin QR gives
        orthonormal directions), the scales ``Uniform[0.5, 2]`` and ``W_planted`` (standard normal).

    Returns
    -------
    L1Regression
        ``X_i = scale_i · reshape(Q[:, i])``, ``y_i = ⟨X_i, W_planted⟩``, ``W0 = 0``; constants ``L0``,
        ``R0``, ``f_star = 0``, all exact; no ``L`` (not smooth).
    """
    m = v.integer(NAME, "m", m, 1)
    n = v.integer(NAME, "n", n, 1)
    N = v.integer(NAME, "N", N, 1)
    require(N <= m * n, f"{NAME}: N={N} is not allowed; N must be <= m*n={m * n} for N orthogonal X_i")
    seed = v.integer(NAME, "seed", seed, 0)
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((m * n, N)))
    scales = rng.uniform(0.5, 2.0, N)
    W_planted = rng.standard_normal((m, n))
    X = (Q * scales).T.reshape(N, m, n)
    y = np.einsum("kij,ij->k", X, W_planted)
    W0 = np.zeros((m, n))
    coef = Q.T @ (W0 - W_planted).ravel()  # coordinates of W0 − W_planted in the orthonormal span
    in_span = (Q @ coef).reshape(m, n)
    W_star = W0 - in_span  # = W_planted + P⊥(W0 − W_planted)
    constants = {
        "L0": Constant(float(np.sqrt(np.sum(scales**2))) / N,
                       "closed form: sqrt(sum_i ||X_i||^2) / N; the X_i are orthogonal, so the subgradient norm "
                       "||sum_i s_i X_i|| / N is maximal at |s_i| = 1 (attained wherever no r_i = 0)"),
        "R0": Constant(float(np.linalg.norm(coef)), "closed form: ||P_span(W0 - W_planted)||, the distance from "
                                                    "W0 to the minimisers W_planted + span{X_i}^perp"),
        "f_star": Constant(0.0, "closed form: f >= 0 and f = 0 at the planted solution"),
    }
    params = {"m": m, "n": n, "N": N, "seed": seed}
    return L1Regression(X=frozen(X), y=frozen(y), W_planted=frozen(W_planted), W_star=frozen(W_star),
                        W0=frozen(W0), params=params, constants=constants)
