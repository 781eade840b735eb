"""The isotropic quadratic ``f(W) = (L/2)‖W − W*‖²``, on which GD's bounds are attained at ``γ = 1/L``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from verify.problems import _validate as v
from verify.problems.base import Constant, ShapeFromW0, as_batch, frozen
from verify.problems.stochastic import AdditiveNoiseOracle, noise_constants

if TYPE_CHECKING:
    from verify.exact.quadratic import Quadratic

NAME = "isotropic-quadratic"


@dataclass(frozen=True, eq=False)
class IsotropicQuadratic(ShapeFromW0):
    """``f(W) = (L/2)‖W − W*‖²`` on ``R^{m×n}``.

    Notes
    -----
    ``∇f(W) = L (W − W*)`` and ``∇²f = L·I``, so ``‖∇f(W) − ∇f(V)‖ = L‖W − V‖`` (smoothness with
    equality) and ``½‖∇f(W)‖² = L (f(W) − 0)`` (PŁ with equality, ``mu = L``, ``f* = 0``).
    """

    L: float
    W_star: np.ndarray
    W0: np.ndarray
    params: Mapping[str, object]
    constants: Mapping[str, Constant]
    name: str = NAME
    sigma: float = 0.0

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f(W) = (L/2)‖W − W*‖²``: ``(R, m, n) → (R,)``."""
        D = as_batch(W, self.shape, f"{self.name}.f") - self.W_star
        return 0.5 * self.L * np.einsum("rij,rij->r", D, D)

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``∇f(W) = L (W − W*)``: ``(R, m, n) → (R, m, n)``."""
        return self.L * (as_batch(W, self.shape, f"{self.name}.grad") - self.W_star)

    def quadratic(self) -> Quadratic:
        """The exact quadratic structure (:mod:`verify.exact.quadratic`): ``A = L I_{mn}``, ``f* = 0``.

        With ``sigma > 0`` the oracle is additive noise with one-sample covariance ``sigma² I_{mn}``.
        """
        from verify.exact.quadratic import Quadratic

        N = self.shape[0] * self.shape[1]
        noisy = isinstance(self, AdditiveNoiseOracle)
        return Quadratic(self.shape, self.L * np.eye(N), np.array(self.W_star), 0.0,
                         noise_cov=self.sigma**2 * np.eye(N) if noisy else None)


@dataclass(frozen=True, eq=False)
class NoisyIsotropicQuadratic(AdditiveNoiseOracle, IsotropicQuadratic):
    """:class:`IsotropicQuadratic` with the additive-noise oracle ``∇f(W) + ξ``, ``ξ ~ N(0, sigma²/batch)``.

    Constants from :func:`~verify.problems.stochastic.noise_constants`: ``sigma2 = sigma² m n``,
    ``var_A = 0``, ``var_C = sigma2``, ``Lms = L``, all exact.
    """


def isotropic_quadratic(
    m: int = 12, n: int = 8, L: float = 1.0, sigma: float = 0.0, seed: int = 0,
) -> IsotropicQuadratic:
    """Isotropic quadratic ``(L/2)‖W − W*‖²`` with ``W*`` standard normal from ``seed``, ``W0 = 0``.

    Parameters
    ----------
    m, n : int
        Shape of ``W`` (``>= 1``).
    L : float
        Curvature (``> 0``); smoothness and PŁ constant.
    sigma : float
        ``> 0``: the problem has the additive-noise stochastic oracle (:class:`NoisyIsotropicQuadratic`);
        ``0`` (default): no stochastic oracle.
    seed : int
        Seed of ``numpy.random.default_rng`` drawing ``W*`` (``>= 0``).

    Returns
    -------
    IsotropicQuadratic
        Constants ``L`` (exact), ``mu = L`` (exact), ``f_star = 0`` (exact), and with ``sigma > 0``
        ``sigma2``, ``var_A``, ``var_C``, ``Lms`` (exact).
    """
    m = v.integer(NAME, "m", m, 1)
    n = v.integer(NAME, "n", n, 1)
    L = v.real(NAME, "L", L, 0.0, strict=True)
    sigma = v.real(NAME, "sigma", sigma, 0.0)
    seed = v.integer(NAME, "seed", seed, 0)
    W_star = np.random.default_rng(seed).standard_normal((m, n))
    constants = {
        "L": Constant(L, "closed form: the Hessian of (L/2)||W - W*||^2 is L times the identity"),
        "mu": Constant(L, "closed form: (1/2)||grad f||^2 = L^2 ||W - W*||^2 / 2 = L (f - f*) with equality"),
        "f_star": Constant(0.0, "closed form: f(W*) = 0 and f >= 0"),
    }
    if sigma > 0:
        constants.update(noise_constants(sigma, (m, n), constants["L"]))
    cls = NoisyIsotropicQuadratic if sigma > 0 else IsotropicQuadratic
    return cls(
        L=L, W_star=frozen(W_star), W0=frozen(np.zeros((m, n))),
        params={"m": m, "n": n, "L": L, "sigma": sigma, "seed": seed}, constants=constants, sigma=sigma,
    )
