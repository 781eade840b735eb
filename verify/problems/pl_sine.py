"""A non-convex PŁ function: ``f(W) = Σ_ij φ(Z_ij)``, ``Z = A(W − W*)``, ``φ(z) = z² + 3 sin² z``."""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass

import mpmath
import numpy as np

from verify.errors import require
from verify.problems import _validate as v
from verify.problems.base import Constant, ShapeFromW0, as_batch, frozen
from verify.problems.least_squares import _haar

NAME = "pl-sine"
#: The certified bound on ``μ_φ`` is within this relative distance of the best ratio found.
MU_PHI_RTOL = 1e-4
#: Taylor bound below ``MU_PHI_NEAR``, interval branch and bound on ``[MU_PHI_NEAR, MU_PHI_FAR]``,
#: monotone analytic bound above ``MU_PHI_FAR``.
MU_PHI_NEAR = 0.5
MU_PHI_FAR = 10.0


def phi(z: np.ndarray) -> np.ndarray:
    """``φ(z) = z² + 3 sin² z`` entrywise."""
    return z * z + 3.0 * np.sin(z) ** 2


def phi_grad(z: np.ndarray) -> np.ndarray:
    """``φ'(z) = 2z + 3 sin 2z`` entrywise."""
    return 2.0 * z + 3.0 * np.sin(2.0 * z)


def phi_hess(z: np.ndarray) -> np.ndarray:
    """``φ''(z) = 2 + 6 cos 2z`` entrywise; its range is ``[−4, 8]`` (8 at ``z = 0``)."""
    return 2.0 + 6.0 * np.cos(2.0 * z)


def pl_ratio(z: np.ndarray) -> np.ndarray:
    """``φ'(z)²/(2φ(z))`` for ``z ≠ 0``: the PŁ ratio of ``φ`` (its infimum is ``μ_φ``)."""
    return phi_grad(z) ** 2 / (2.0 * phi(z))


@dataclass(frozen=True)
class MuPhi:
    """A certified lower bound on ``μ_φ = inf_{z≠0} φ'(z)²/(2φ(z))`` and how it was obtained.

    Attributes
    ----------
    lower : float
        Certified: ``μ_φ ≥ lower``.
    best_z, best_ratio : float
        The point where the branch and bound saw the smallest ratio, and that ratio (``≥ μ_φ``).
    intervals : int
        Number of intervals examined.
    """

    lower: float
    best_z: float
    best_ratio: float
    intervals: int


def _enclosure(a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
    """Rigorous lower bound of ``φ'(z)²/(2φ(z))`` over ``z ∈ [a, b] ⊂ (0, ∞)`` (mpmath interval arithmetic)."""
    iv = mpmath.iv
    Z = iv.mpf([a, b])
    d = 2 * Z + 3 * iv.sin(2 * Z)
    p = Z * Z + 3 * iv.sin(Z) ** 2
    if d.a <= 0:
        return mpmath.mpf(0)
    return (d * d / (2 * p)).a


@functools.cache
def certified_mu_phi(rtol: float = MU_PHI_RTOL) -> MuPhi:
    """Certify a lower bound on ``μ_φ = inf_{z≠0} φ'(z)²/(2φ(z))`` for ``φ(z) = z² + 3 sin² z``.

    Notes
    -----
    ``φ`` is even, so ``z > 0`` suffices; the range splits in three (``δ = MU_PHI_NEAR``,
    ``Z = MU_PHI_FAR``):

    * ``0 < z ≤ δ``: ``sin 2z ≥ 2z − (2z)³/6`` gives ``φ'(z) ≥ 8z − 4z³ > 0`` and ``sin² z ≤ z²`` gives
      ``φ(z) ≤ 4z²``, so the ratio is ``≥ (8z − 4z³)²/(8z²) = 2(2 − z²)² ≥ 2(2 − δ²)²``.
    * ``δ ≤ z ≤ Z``: branch and bound with ``mpmath.iv`` (outward-rounded interval arithmetic): an
      interval whose rigorous lower bound is at least ``(1 − rtol)`` times the smallest ratio seen at any
      midpoint is closed with that bound; others are bisected.
    * ``z ≥ Z``: ``|φ'(z)| ≥ 2z − 3`` and ``φ(z) ≤ z² + 3``; ``(2z − 3)²/(2(z² + 3))`` is increasing for
      ``z > 3/2`` (derivative ``∝ (2z − 3)(3z + 6)``), so it is ``≥`` its value at ``Z``.

    The result is the minimum of the three bounds, rounded down to a float.  Cached.
    """
    iv = mpmath.iv
    near = 2 * (2 - iv.mpf(MU_PHI_NEAR) ** 2) ** 2
    far = (2 * iv.mpf(MU_PHI_FAR) - 3) ** 2 / (2 * (iv.mpf(MU_PHI_FAR) ** 2 + 3))
    lower = min(near.a, far.a)
    best_z = 0.5 * (MU_PHI_NEAR + MU_PHI_FAR)
    best = float(pl_ratio(np.array(best_z)))
    heap = [(0.0, mpmath.mpf(MU_PHI_NEAR), mpmath.mpf(MU_PHI_FAR))]  # (priority, a, b): smallest bound first
    closed = []
    count = 0
    while heap:
        _, a, b = heapq.heappop(heap)
        count += 1
        mid = (a + b) / 2
        r_mid = float(pl_ratio(np.array(float(mid))))
        if r_mid < best:
            best, best_z = r_mid, float(mid)
        bound = _enclosure(a, b)
        if bound >= (1 - rtol) * best:
            closed.append(bound)
        else:
            heapq.heappush(heap, (float(bound), a, mid))
            heapq.heappush(heap, (float(bound), mid, b))
    lower = min([lower, *closed])
    # float(mpf) rounds to nearest: step one ulp down to keep the bound certified.
    return MuPhi(lower=math.nextafter(float(lower), -math.inf), best_z=best_z, best_ratio=best, intervals=count)


@dataclass(frozen=True, eq=False)
class PLSine(ShapeFromW0):
    """``f(W) = Σ_ij φ(Z_ij)``, ``Z = A(W − W*)``, ``φ(z) = z² + 3 sin² z``; ``A ∈ R^{m×m}`` invertible.

    Notes
    -----
    ``∇f(W) = Aᵀ φ'(Z)`` and ``∇²f[D] = Aᵀ(φ''(Z) ⊙ AD)``.  With ``φ'' ∈ [−4, 8]``,
    ``‖∇²f‖ ≤ 8 σ_max(A)²``, with equality at ``W = W*`` (``φ''(0) = 8``): ``L = 8 σ_max(A)²``, exact.
    ``f ≥ 0 = f(W*)``: ``f* = 0``.  PŁ: ``½‖Aᵀφ'(Z)‖² ≥ σ_min(A)² Σ ½φ'(Z_ij)² ≥ σ_min(A)² μ_φ Σ φ(Z_ij)``,
    so ``mu = μ_φ σ_min(A)²`` with ``μ_φ`` certified from below by :func:`certified_mu_phi`.  Since
    ``μ_φ > 0``, ``∇f = 0`` only at ``W*`` (``A`` invertible), yet ``f`` is not convex
    (``φ''(π/2) = −4``), in the manner of Karimi, Nutini & Schmidt (2016).
    """

    A: np.ndarray
    W_star: np.ndarray
    W0: np.ndarray
    params: Mapping[str, object]
    constants: Mapping[str, Constant]
    name: str = NAME

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f(W) = Σ_ij φ((A(W − W*))_ij)``: ``(R, m, n) → (R,)``."""
        Z = self.A @ (as_batch(W, self.shape, f"{self.name}.f") - self.W_star)
        return np.sum(phi(Z), axis=(1, 2))

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``∇f(W) = Aᵀ φ'(A(W − W*))``: ``(R, m, n) → (R, m, n)``."""
        Z = self.A @ (as_batch(W, self.shape, f"{self.name}.grad") - self.W_star)
        return self.A.T @ phi_grad(Z)


def pl_sine(m: int = 8, n: int = 6, cond: float = 2.0, seed: int = 0) -> PLSine:
    """Non-convex PŁ function ``Σ φ(A(W − W*))`` with ``φ(z) = z² + 3 sin² z`` (Karimi et al. 2016).

    Parameters
    ----------
    m, n : int
        Shape of ``W`` (``>= 1``).
    cond : float
        Condition number of ``A`` (``>= 1``; ``m = 1`` needs 1): singular values geometrically spaced
        from 1 down to ``1/cond``.
    seed : int
        Seed of ``numpy.random.default_rng``; draws, in order, ``U``, ``V`` (Haar ``m×m``) and ``W*``.

    Returns
    -------
    PLSine
        ``A = U diag(s) Vᵀ``, ``W0 = 0``; constants ``L = 8 σ_max(A)²`` (exact), ``f_star = 0`` (exact),
        ``mu = μ_φ σ_min(A)²`` (lower, ``μ_φ`` certified by interval arithmetic).

    References
    ----------
    H. Karimi, J. Nutini, M. Schmidt, "Linear convergence of gradient and proximal-gradient methods
    under the Polyak-Łojasiewicz condition", ECML PKDD 2016 (the example ``x² + 3 sin² x``).
    """
    m = v.integer(NAME, "m", m, 1)
    n = v.integer(NAME, "n", n, 1)
    cond = v.real(NAME, "cond", cond, 1.0)
    require(m > 1 or cond == 1.0,
            f"{NAME}: cond={cond} is not allowed with m=1; a single singular value needs cond=1")
    seed = v.integer(NAME, "seed", seed, 0)
    rng = np.random.default_rng(seed)
    U = _haar(rng, m, m)
    V = _haar(rng, m, m)
    W_star = rng.standard_normal((m, n))
    s = cond ** (-np.arange(m) / (m - 1)) if m > 1 else np.ones(1)
    A = (U * s) @ V.T
    sv = np.linalg.svd(A, compute_uv=False)
    if not np.allclose(sv, s, rtol=1e-12):
        raise RuntimeError(f"{NAME}: singular values {sv} of A do not match the prescribed {s}")
    mu_phi = certified_mu_phi()
    constants = {
        "L": Constant(8.0 * s[0] ** 2, "closed form: phi'' = 2 + 6 cos 2z in [-4, 8], so ||Hess f|| <= 8 "
                                       "sigma_max(A)^2, with equality at W = W* (phi''(0) = 8)"),
        "mu": Constant(mu_phi.lower * s[-1] ** 2,
                       f"mu_phi sigma_min(A)^2 with mu_phi >= {mu_phi.lower:.10g} certified: Taylor bound on "
                       f"(0, {MU_PHI_NEAR}], mpmath interval branch and bound on [{MU_PHI_NEAR}, {MU_PHI_FAR}] "
                       f"({mu_phi.intervals} intervals, within {MU_PHI_RTOL:g} of the ratio "
                       f"{mu_phi.best_ratio:.10g} seen at z = {mu_phi.best_z:.6g}), monotone bound "
                       f"(2z-3)^2/(2(z^2+3)) beyond", "lower"),
        "f_star": Constant(0.0, "closed form: f >= 0 and f(W*) = 0"),
    }
    params = {"m": m, "n": n, "cond": cond, "seed": seed, "mu_phi_lower": mu_phi.lower,
              "mu_phi_best_z": mu_phi.best_z, "mu_phi_best_ratio": mu_phi.best_ratio}
    return PLSine(A=frozen(A), W_star=frozen(W_star), W0=frozen(np.zeros((m, n))), params=params,
                  constants=constants)
