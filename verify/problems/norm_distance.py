"""Non-smooth convex ``f(W) = L0 ‖W − W*‖``: the subgradient method's worst case in one line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from verify.problems import _validate as v
from verify.problems.base import Constant, ShapeFromW0, as_batch, frozen

NAME = "norm-distance"


@dataclass(frozen=True, eq=False)
class NormDistance(ShapeFromW0):
    """``f(W) = L0 ‖W − W*‖`` (Frobenius) on ``R^{m×n}``.

    Notes
    -----
    ``grad`` returns the subgradient ``L0 (W − W*)/‖W − W*‖``, and ``0`` at the kink ``W = W*`` (the
    subdifferential there is the ball of radius ``L0``).  Every subgradient away from ``W*`` has norm
    ``L0``: the Lipschitz constant is ``L0``, exact.  ``f* = 0`` at the unique minimiser ``W*``, and
    ``R0 = ‖W0 − W*‖``.
    """

    L0: float
    W_star: np.ndarray
    W0: np.ndarray
    params: Mapping[str, object]
    constants: Mapping[str, Constant]
    name: str = NAME

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f(W) = L0 ‖W − W*‖``: ``(R, m, n) → (R,)``."""
        D = as_batch(W, self.shape, f"{self.name}.f") - self.W_star
        return self.L0 * np.linalg.norm(D, axis=(1, 2))

    def grad(self, W: np.ndarray) -> np.ndarray:
        """The subgradient ``L0 (W − W*)/‖W − W*‖``, ``0`` at ``W*``: ``(R, m, n) → (R, m, n)``."""
        D = as_batch(W, self.shape, f"{self.name}.grad") - self.W_star
        norm = np.linalg.norm(D, axis=(1, 2))[:, None, None]
        return self.L0 * np.divide(D, norm, out=np.zeros_like(D), where=norm > 0)


def norm_distance(m: int = 8, n: int = 6, L0: float = 1.0, seed: int = 0) -> NormDistance:
    """Non-smooth convex ``L0 ‖W − W*‖`` with ``W*`` standard normal from ``seed``, ``W0 = 0``.

    Parameters
    ----------
    m, n : int
        Shape of ``W`` (``>= 1``).
    L0 : float
        Lipschitz constant (``> 0``).
    seed : int
        Seed of ``numpy.random.default_rng`` drawing ``W*`` (``>= 0``).

    Returns
    -------
    NormDistance
        Constants ``L0``, ``R0 = ‖W*‖``, ``f_star = 0``, all exact; no ``L`` (not smooth).
    """
    m = v.integer(NAME, "m", m, 1)
    n = v.integer(NAME, "n", n, 1)
    L0 = v.real(NAME, "L0", L0, 0.0, strict=True)
    seed = v.integer(NAME, "seed", seed, 0)
    W_star = np.random.default_rng(seed).standard_normal((m, n))
    W0 = np.zeros((m, n))
    constants = {
        "L0": Constant(L0, "closed form: every subgradient L0 (W - W*)/||W - W*|| away from W* has norm L0"),
        "R0": Constant(float(np.linalg.norm(W0 - W_star)), "closed form: ||W0 - W*||, W* the unique minimiser"),
        "f_star": Constant(0.0, "closed form: f >= 0 and f(W*) = 0"),
    }
    return NormDistance(L0=L0, W_star=frozen(W_star), W0=frozen(W0),
                        params={"m": m, "n": n, "L0": L0, "seed": seed}, constants=constants)
