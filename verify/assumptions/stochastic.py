r"""Assumptions on the stochastic gradient ``g(W; ξ)`` (one sample), all per draw of one ``ξ``.

* ``expected_smoothness`` (ABC with ``B = 1``): ``E‖g − ∇f‖² <= 2A (f − f*) + C``.  The variance
  ``V(W) = E‖g(W; ξ) − ∇f(W)‖²`` is estimated at ``Ŵ``, 12 region points and 6 ray points with a
  one-sided Student-t upper bound ``V⁺`` (Bonferroni over the points); ``(A, C)`` is the linear program
  ``min 2A ḡ + C`` s.t. ``2A gap_k + C >= V⁺_k``, ``A, C >= 0`` (``ḡ`` the median gap): the lowest line
  above every upper bound.  **Violated** when ``V/gap`` grows along a ray more than tenfold in each of the last
  two decades of ``radius × {1, 10, 100, 1000}`` (``V⁻/gap`` above 10 × the previous ``V⁺/gap``): ``V`` grows
  faster than the gap, so no finite ``(A, C)``.  (An additive constant in ``f`` far from ``Ŵ`` can make ``V/gap``
  grow over one decade, never over two.)
* ``bounded_variance``: ``σ² = sup_W V(W)``; estimate ``max_k V̂_k`` (a lower bound on the sup) with its
  interval.  **Violated** when ``V`` grows along a ray: ``V⁻`` at ``1000·radius`` above 10 × ``V⁺`` at
  ``100·radius``.
* ``mean_square_smooth``: ``E‖g(x; ξ) − g(y; ξ)‖² <= Lms²‖x − y‖²`` with the same ``ξ`` at ``x`` and
  ``y``, at pairs at distance ``{1, 10⁻², 10⁻⁴}·radius``; ``L̂ms = sqrt(max mean ratio²)``, a lower bound.
  **Violated** when the ratio² at ``10⁻⁴`` is above 100 × the one at ``1`` with confidence (it grows
  as the pair closes in: kinks in the samples).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize as so
from scipy import stats as sps

from verify.assumptions.adapter import Oracles
from verify.assumptions.curvature import radial_points, unit
from verify.assumptions.findings import Budget, Finding, holds, unverified, violated
from verify.assumptions.landscape import Landscape, norms

__all__ = ["check_bounded_variance", "check_expected_smoothness", "check_mean_square_smooth", "variance_profile"]

RADIAL = (1.0, 10.0, 100.0, 1000.0)
"""Ray points from ``Ŵ`` at these multiples of the radius."""

GROWTH = 10.0
"""Growth per decade of distance (with confidence) that counts as unbounded."""
MSS_SCALES = (1.0, 1e-2, 1e-4)
NO_ORACLE = "no stochastic oracle (give stochastic_grad(W, rng), or n_components and component_grad(W, i))"


def _bounds(D: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Mean of ``D`` with two one-sided Student-t bounds at level ``1 − alpha`` each: (mean, lower, upper)."""
    S = len(D)
    mean, sd = float(D.mean()), float(D.std(ddof=1))
    half = float(sps.t.ppf(1 - alpha, df=S - 1)) * sd / np.sqrt(S)
    return mean, mean - half, mean + half


def variance_profile(orc: Oracles, X: np.ndarray, samples: int, alpha: float, rng: np.random.Generator
                     ) -> np.ndarray:
    """``(mean, lower, upper)`` of ``V(x) = E‖g(x; ξ) − ∇f(x)‖²`` at each point: ``(K, 3)``.

    The bounds are one-sided at level ``1 − alpha/K`` each (Bonferroni over the points).
    """
    g = orc.grad(X)
    out = np.empty((len(X), 3))
    for k, x in enumerate(X):
        E = orc.stochastic_grad(np.repeat(x[None], samples, axis=0), orc.sample(rng, samples)) - g[k]
        out[k] = _bounds(np.einsum("kij,kij->k", E, E), alpha / len(X))
    return out


def _points(land: Landscape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``Ŵ`` and 12 region points, and 2 rays ``(2, 3, m, n)`` from ``Ŵ``."""
    per = max(1, len(land.points) // 12)
    inner = np.concatenate([land.centres[1][None], land.points[::per][:12]])
    return inner, radial_points(land.centres[1], land.radius, RADIAL, 2, rng)


def _fit_abc(gap: np.ndarray, upper: np.ndarray) -> tuple[float, float]:
    """The LP ``min 2A median(gap) + C`` s.t. ``2A gap_k + C >= upper_k``, ``A, C >= 0``."""
    gap = np.maximum(gap, 0.0)
    res = so.linprog(c=[2 * np.median(gap), 1.0], A_ub=-np.column_stack([2 * gap, np.ones_like(gap)]), b_ub=-upper,
                     bounds=[(0, None), (0, None)], method="highs")
    if not res.success:
        return float("inf"), float(upper.max())
    return float(res.x[0]), float(res.x[1])


def _profiles(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget):
    inner, rays = _points(land, rng)
    flat = np.concatenate([inner, rays.reshape(-1, *orc.shape)])
    V = variance_profile(orc, flat, budget.variance_samples, budget.alpha, rng)
    return flat, V, len(inner), rays.shape[:2]


def check_expected_smoothness(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """Fitted ``(A, C)`` with ``B = 1``; violated when the variance outgrows the gap along a ray."""
    if not orc.has_stochastic:
        return unverified("expected_smoothness", NO_ORACLE)
    if land.f_star is None:
        return unverified("expected_smoothness", f"no value of f* ({land.no_solution})")
    X, V, n_in, (n_rays, n_fac) = _profiles(orc, land, rng, budget)
    gap = orc.f(X) - land.f_star
    A, C = _fit_abc(gap, V[:, 2])
    method = (f"V(W) = E||g - grad f||^2 from {budget.variance_samples} one-sample draws at {len(X)} points (best "
              f"point, region, 2 rays at radius x {RADIAL}); one-sided t upper bounds (Bonferroni, level "
              f"{budget.alpha:g}); (A, C) = lowest line 2A (f - f*) + C above every upper bound (linear program), "
              "B = 1; "
              f"f* {land.f_star_how}")
    estimate = {"A": A, "B": 1.0, "C": C, "kind": "fitted to upper confidence bounds at the sampled points",
                "per_sample": "one sample; a minibatch of b divides A and C by b",
                "fitted_at_gap": float(np.median(np.maximum(gap, 0.0)))}
    gr, Vr = gap[n_in:].reshape(n_rays, n_fac), V[n_in:].reshape(n_rays, n_fac, 3)
    for k in range(n_rays):
        if np.all(gr[k, -3:] > land.gap_floor):
            lo, hi = Vr[k, -3:, 1] / gr[k, -3:], Vr[k, -3:, 2] / gr[k, -3:]
            if lo[1] > GROWTH * hi[0] and lo[2] > GROWTH * hi[1]:
                witness = {"points": X[n_in:].reshape(n_rays, n_fac, *orc.shape)[k], "gaps": gr[k],
                           "variance_mean_lower_upper": Vr[k], "variance_over_gap": Vr[k, :, 0] / gr[k]}
                return violated("expected_smoothness", estimate, method + ".",
                                f"family-wise level {budget.alpha:g} (Student-t): V / (f - f*) grows more than "
                                f"{GROWTH:g}-fold per decade of distance, twice.", witness,
                                "variance grows faster than f - f*: no finite A, C")
    return holds("expected_smoothness", estimate, method + ".",
                 f"(A, C) dominate the upper {1 - budget.alpha:g} confidence bounds at every sampled point; points "
                 "not sampled may need larger values.", f"A = {A:.4g}, B = 1, C = {C:.4g} (fitted)")


def check_bounded_variance(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """``σ² = max`` of the sampled variance; violated when the variance grows along a ray."""
    if not orc.has_stochastic:
        return unverified("bounded_variance", NO_ORACLE)
    X, V, n_in, (n_rays, n_fac) = _profiles(orc, land, rng, budget)
    k = int(np.argmax(V[:, 0]))
    estimate = {"sigma2": float(V[k, 0]), "confidence_interval": [float(V[k, 1]), float(V[k, 2])],
                "kind": "largest sampled variance (a lower estimate of the sup)"}
    method = (f"V(W) = E||g - grad f||^2 from {budget.variance_samples} one-sample draws at {len(X)} points (best "
              f"point, region, 2 rays at radius x {RADIAL}); sigma2 = largest mean; growth test: lower bound at "
              f"{RADIAL[-1]:g} x radius above {GROWTH:g} x the upper bound at {RADIAL[-2]:g} x radius")
    Vr = V[n_in:].reshape(n_rays, n_fac, 3)
    for r in range(n_rays):
        if Vr[r, -1, 1] > GROWTH * Vr[r, -2, 2]:
            witness = {"points": X[n_in:].reshape(n_rays, n_fac, *orc.shape)[r],
                       "distances": [land.radius * x for x in RADIAL], "variance_mean_lower_upper": Vr[r]}
            return violated("bounded_variance", estimate, method + ".",
                            f"family-wise level {budget.alpha:g} (Student-t): the variance grows with the distance.",
                            witness, f"variance grows along a ray ({Vr[r, -2, 0]:.3g} -> {Vr[r, -1, 0]:.3g})")
    return holds("bounded_variance", estimate, method + ".",
                 "sigma2 is the largest sampled variance, a lower estimate of the sup; no growth along rays.",
                 f"sigma2 ~ {V[k, 0]:.4g} [{V[k, 1]:.3g}, {V[k, 2]:.3g}] (largest sampled)")


def _reproducible(orc: Oracles, x: np.ndarray, rng: np.random.Generator) -> bool:
    xi = orc.sample(rng, 2)
    X = np.repeat(x[None], 2, axis=0)
    return bool(np.array_equal(orc.stochastic_grad(X, xi), orc.stochastic_grad(X, xi)))


def check_mean_square_smooth(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """``L̂ms`` from pairs with a shared ``ξ``; violated when the ratio grows as the pairs close in."""
    if not orc.has_stochastic:
        return unverified("mean_square_smooth", NO_ORACLE)
    if not _reproducible(orc, land.W0, rng):
        return unverified("mean_square_smooth", "stochastic_grad does not reproduce its sample from the same rng "
                          "seed, so xi cannot be shared between two points (draw all randomness from rng)")
    per = max(1, len(land.points) // 6)
    X = land.points[::per][:6]
    U = unit(rng, len(X), orc.shape)
    S = budget.mss_samples
    q = np.empty((len(X), len(MSS_SCALES), 3))
    level = budget.alpha / q[..., 0].size
    for i, x in enumerate(X):
        for j, t in enumerate(MSS_SCALES):
            y = x + t * land.radius * U[i]
            xi = orc.sample(rng, S)
            D = orc.stochastic_grad(np.repeat(x[None], S, axis=0), xi) - orc.stochastic_grad(
                np.repeat(y[None], S, axis=0), xi)
            q[i, j] = _bounds(norms(D) ** 2 / (t * land.radius) ** 2, level)
    k = np.unravel_index(int(np.argmax(q[..., 0])), q.shape[:2])
    Lms = float(np.sqrt(max(q[k][0], 0.0)))
    estimate = {"Lms": Lms, "kind": "lower bound (largest sampled mean ratio, square root)",
                "confidence_interval": [float(np.sqrt(max(q[k][1], 0.0))), float(np.sqrt(q[k][2]))]}
    method = (f"E||g(x; xi) - g(y; xi)||^2 / ||x - y||^2 with the same xi, {S} draws per pair, {len(X)} region points "
              f"x distances {MSS_SCALES} x radius; growth test: ratio^2 at the smallest distance above 100 x the "
              "one at the largest, with confidence")
    grows = np.flatnonzero(q[:, -1, 1] > 100 * q[:, 0, 2])
    if grows.size:
        i = int(grows[0])
        witness = {"x": X[i], "direction": U[i], "distances": [t * land.radius for t in MSS_SCALES],
                   "ratio2_mean_lower_upper": q[i]}
        return violated("mean_square_smooth", estimate, method + ".",
                        f"family-wise level {budget.alpha:g} (Student-t): the ratio grows as the pair closes in.",
                        witness, "not mean-square smooth: ratio grows as the distance shrinks")
    return holds("mean_square_smooth", estimate, method + ".",
                 "estimate is a lower bound on Lms (sampled pairs); replace it by a certified value before trusting "
                 "a theorem's bound.", f"Lms >= {Lms:.4g} (lower bound)")
