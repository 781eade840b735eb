"""A problem you can copy: ridge regression on one matrix, in plain numpy.

Check it with (from the repository root)::

    verify assumptions examples.my_problem:make_problem

``verify assumptions`` needs an object with ``shape``, ``f(W) -> float`` and ``grad(W) -> (m, n)`` on ONE
``(m, n)`` matrix.  Everything else is optional and unlocks more checks:

* ``W0`` (default zeros) and ``f_star`` (``inf f``; without it a solver estimates it);
* ``stochastic_grad(W, rng)``: one stochastic gradient whose randomness comes only from the
  ``numpy.random.Generator`` passed in (the checks reuse the same ``rng`` seed at two points);
* ``n_components`` with ``component_grad(W, i)``; ``n_clients`` with ``client_grad(W, i)``; ``subgrad(W)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RidgeRegression:
    r"""``f(W) = ‖XW − Y‖²/(2N) + (lam/2)‖W‖²`` with ``X ∈ R^{N×m}``, ``Y ∈ R^{N×n}``, ``W ∈ R^{m×n}``.

    ``∇f(W) = Xᵀ(XW − Y)/N + lam W``.  The stochastic gradient picks one row ``i`` uniformly:
    ``g(W; i) = x_i (x_iᵀW − y_iᵀ) + lam W``, whose mean over ``i`` is ``∇f(W)``.
    """

    X: np.ndarray
    Y: np.ndarray
    lam: float = 0.1
    shape: tuple[int, int] = field(init=False)
    W0: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.shape = (self.X.shape[1], self.Y.shape[1])
        self.W0 = np.zeros(self.shape)

    def f(self, W: np.ndarray) -> float:
        R = self.X @ W - self.Y
        return 0.5 * float(np.sum(R * R)) / len(self.X) + 0.5 * self.lam * float(np.sum(W * W))

    def grad(self, W: np.ndarray) -> np.ndarray:
        return self.X.T @ (self.X @ W - self.Y) / len(self.X) + self.lam * W

    def stochastic_grad(self, W: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        i = rng.integers(len(self.X))
        x = self.X[i]
        return np.outer(x, x @ W - self.Y[i]) + self.lam * W


def make_problem() -> RidgeRegression:
    """The factory ``verify assumptions`` calls (with no arguments): a 12x8 ridge regression on 64 samples."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 12)) / np.sqrt(12)
    Y = X @ rng.standard_normal((12, 8)) + 0.1 * rng.standard_normal((64, 8))
    return RidgeRegression(X, Y, lam=0.1)
