r"""``smooth``: ``‖∇f(x) − ∇f(y)‖ <= L‖x − y‖`` (Assumption 3).

Three samplers of the secant ratio ``‖∇f(x) − ∇f(y)‖/‖x − y‖`` (each value a lower bound on ``L``):

* near and far pairs: each region point with a random neighbour at distance ``10⁻¹`` and ``10⁻³`` of the
  radius, and region points paired with each other;
* finite-difference Hessian power iteration (:func:`~verify.assumptions.curvature.power_iteration`) at
  ``W0``, the best point ``Ŵ`` and six region points, step ``h = 10⁻⁴·radius``; on a quadratic it converges
  to ``λ_max`` of the Hessian, where the supremum ``L`` is attained;
* a scale sweep for kinks (:func:`~verify.assumptions.curvature.jump_search`): segments through ``Ŵ`` and
  random segments, a grid of 32 and 40 bisections.  A gradient difference that keeps its size while the
  distance shrinks 1024-fold makes the ratio grow like ``1/h``: **violated**, with the pair;
* curvature far away: the power iteration at ray points from ``Ŵ`` at ``radius × {1, 10, 100}``; a local
  ``L`` growing at least like ``distance^GROWTH`` over the last decade (e.g. ``f ~ ‖W‖⁴``) is **violated**: no
  global ``L``.
"""

from __future__ import annotations

import numpy as np

from verify.assumptions.adapter import Oracles
from verify.assumptions.curvature import (
    JUMP_HALVINGS,
    jump_search,
    power_iteration,
    radial_points,
    secant_ratios,
    unit,
)
from verify.assumptions.findings import Budget, Finding, holds, violated
from verify.assumptions.landscape import Landscape

__all__ = ["GRID", "check_smooth", "estimate_L", "kink_segments"]

GRID = 32
"""Grid points per segment of the jump search."""

LOWER = "lower bound (sampled secant ratio)"

MIN_DIST = 1e-10
"""Pairs of the jump search closer than this fraction of the radius are not used."""

RADIAL = (1.0, 10.0, 100.0)
"""Ray points from ``Ŵ`` at these multiples of the radius, for the growth of the local ``L``."""

GROWTH = 0.5
"""Smallest log-log slope of the local ``L`` against the distance, over the last decade, that counts as unbounded."""


def power_anchors(land: Landscape) -> np.ndarray:
    """``W0``, ``Ŵ`` and the first point of each (centre, scale) group of the region: ``(8, m, n)``."""
    per = len(land.points) // 6
    return np.concatenate([np.stack(land.centres), land.points[::per]])


def kink_segments(land: Landscape, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half the segments pass through ``Ŵ`` (off-centre, length ~0.6 radius), half join random region points."""
    through = count // 2
    centre = land.centres[1]
    U = unit(rng, through, centre.shape) * land.radius
    a = rng.uniform(0.2, 0.4, through)[:, None, None]
    b = rng.uniform(0.2, 0.4, through)[:, None, None]
    i = rng.choice(len(land.points), size=(count - through, 2), replace=True)
    A = np.concatenate([centre - a * U, land.points[i[:, 0]]])
    B = np.concatenate([centre + b * U, land.points[i[:, 1]]])
    return A, B


def estimate_L(G, land: Landscape, rng: np.random.Generator, budget: Budget) -> tuple[float, dict]:
    """The largest secant ratio of the pair sampler and the power iteration, with counts per sampler."""
    X = land.points
    near = [secant_ratios(G, X, X + s * land.radius * unit(rng, len(X), X.shape[1:])) for s in (1e-1, 1e-3)]
    perm = rng.permutation(len(X))
    far = secant_ratios(G, X[perm], X[np.roll(perm, 1)])
    power = power_iteration(G, power_anchors(land), 1e-4 * land.radius, budget.power_iters, rng)
    parts = {"near_pairs": float(max(r.max() for r in near)), "far_pairs": float(far.max(initial=0.0)),
             "power_iteration": float(power.ratio.max())}
    return max(parts.values()), parts


def _thin(trace: list[tuple[float, float]], count: int) -> list[list[float]]:
    """At most ``count`` evenly spaced entries of ``trace``, first and last included."""
    idx = np.unique(np.linspace(0, len(trace) - 1, count).round().astype(int))
    return [[float(d), float(r)] for d, r in (trace[i] for i in idx)]


def curvature_growth(G, land: Landscape, rng: np.random.Generator, budget: Budget) -> tuple[np.ndarray, dict | None]:
    """Power-iteration ratios at ray points ``(rays, len(RADIAL))`` and a witness if they grow without limit."""
    P = radial_points(land.centres[1], land.radius, RADIAL, 3, rng)
    power = power_iteration(G, P.reshape(-1, *P.shape[2:]), 1e-4 * land.radius, budget.power_iters, rng)
    ratios = power.ratio.reshape(P.shape[:2])
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.log10(ratios[:, 1:] / ratios[:, :-1]) / np.log10(np.array(RADIAL[1:]) / np.array(RADIAL[:-1]))
    grows = np.flatnonzero(slopes[:, -1] >= GROWTH)
    if grows.size == 0:
        return ratios, None
    k = int(grows[0])
    return ratios, {"kind": "local L grows along a ray", "centre": land.centres[1], "points": P[k],
                    "distances": [land.radius * x for x in RADIAL], "local_L": ratios[k], "log_log_slopes": slopes[k]}


def check_smooth(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """Sampled ``L`` (a lower bound) and the scale sweep for kinks; see the module docstring."""
    L, parts = estimate_L(orc.grad, land, rng, budget)
    A, B = kink_segments(land, budget.segments, rng)
    search = jump_search(orc.grad, A, B, GRID, budget.halvings, MIN_DIST * land.radius)
    method = (f"secant ratios ||grad f(x) - grad f(y)|| / ||x - y|| at {2 * len(land.points)} near pairs "
              f"(distance 1e-1 and 1e-3 x radius) and {len(land.points)} far pairs; finite-difference Hessian power "
              f"iteration ({budget.power_iters} iterations, h = 1e-4 x radius) at 8 points; scale sweep for kinks on "
              f"{budget.segments} segments (grid {GRID}, {budget.halvings} bisections; a gradient jump that keeps "
              f"half its size over {JUMP_HALVINGS} halvings, ratio ~ 1/h, means no finite L)")
    ray_L, growth = curvature_growth(orc.grad, land, rng, budget)
    method += (f"; growth of the local L (power iteration) at 9 ray points, distance radius x {RADIAL} "
               f"(slope >= {GROWTH} in log-log over the last decade = no global L)")
    jump = search.jump()
    if jump is None and growth is not None:
        return violated("smooth", {"L": float(ray_L.max()), "kind": "lower bound; grows with the distance"},
                        method + ".", "the witness ray's secant ratios (each a lower bound on the local L) grow like "
                        "a power of the distance: no global L (smoothness on a bounded set may still hold).", growth,
                        f"not L-smooth: local L grows ~ distance^{growth['log_log_slopes'][-1]:.2f}")
    if jump is not None:
        witness = {"x": jump.x, "y": jump.y, "distance": jump.distance, "grad_difference": jump.grad_difference,
                   "ratio": jump.ratio, "ratio_by_distance": _thin(jump.trace, 6)}
        return violated(
            "smooth", {"L": jump.ratio, "kind": "lower bound; the ratio grows like 1/distance"}, method + ".",
            "certain up to floating point: the witness pair's gradients differ by "
            f"{jump.grad_difference:.3g} at distance {jump.distance:.3g}, so L >= {jump.ratio:.3g}, and the "
            "difference did not shrink with the distance (a kink).", witness,
            f"not L-smooth: ratio {jump.ratio:.3g} at distance {jump.distance:.2g}, grows ~1/h")
    parts["kink_sweep"] = search.max_ratio()
    parts["rays"] = float(ray_L.max())
    L = max(parts.values())
    return holds(
        "smooth", {"L": L, "kind": LOWER, "by_sampler": parts}, method + ".",
        "estimate is a lower bound: every value is the secant ratio of a concrete pair (up to rounding "
        "~eps ||grad f|| / distance); no kink was found on the segments. Sampling cannot prove smoothness; "
        "replace L by a certified value before trusting a theorem's bound.",
        f"L >= {L:.4g} (lower bound)")
