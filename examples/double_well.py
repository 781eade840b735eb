r"""A function with non-global stationary points: a tilted double well in every entry.

``f(W) = Σ_ij φ(W_ij)``, ``φ(w) = (w² − 1)² + c w`` with ``c = 1/2``.  ``φ`` has a global minimum near
``w = −1.06``, a local minimum near ``w = +0.93`` and a local maximum in between, so ``f`` has ``2^{mn}``
local minima and only one global one: ``f`` is neither convex nor PŁ.  ``W0 = 0.5`` in every entry lies in
the basin of the local minimum, so gradient descent from ``W0`` stops at a stationary point with
``f − f* > 0``.

    verify assumptions examples.double_well:make_problem
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TILT = 0.5


def phi(w: np.ndarray) -> np.ndarray:
    """``(w² − 1)² + c w`` entrywise."""
    return (w * w - 1.0) ** 2 + TILT * w


def phi_min() -> float:
    """``min_w φ(w)``: the smallest value of ``φ`` at the real roots of ``φ'(w) = 4w³ − 4w + c``."""
    roots = np.roots([4.0, 0.0, -4.0, TILT])
    return float(np.min(phi(roots[np.abs(roots.imag) < 1e-12].real)))


@dataclass
class DoubleWell:
    """``f(W) = Σ φ(W_ij)`` on ``(m, n)`` matrices, with ``f_star = m n min φ``."""

    m: int = 4
    n: int = 3
    shape: tuple[int, int] = field(init=False)
    W0: np.ndarray = field(init=False)
    f_star: float = field(init=False)

    def __post_init__(self) -> None:
        self.shape = (self.m, self.n)
        self.W0 = np.full(self.shape, 0.5)
        self.f_star = self.m * self.n * phi_min()

    def f(self, W: np.ndarray) -> float:
        return float(np.sum(phi(W)))

    def grad(self, W: np.ndarray) -> np.ndarray:
        return 4.0 * W * (W * W - 1.0) + TILT


def make_problem() -> DoubleWell:
    """The factory for ``verify assumptions``: a 4x3 double well."""
    return DoubleWell()
