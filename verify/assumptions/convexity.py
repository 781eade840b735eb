r"""``convex``: ``f(y) >= f(x) + ⟨s(x), y − x⟩`` for a (sub)gradient ``s``, with a minimiser ``W*``.

Three searches for a violation, each verified on values of ``f`` (never on a finite-difference estimate
alone):

* the first-order gap ``f(y) − f(x) − ⟨s(x), y − x⟩`` and the midpoint gap
  ``½(f(x) + f(y)) − f((x + y)/2)`` at random pairs of region points, at near pairs, and at every pair of
  solver end points (two distinct local minima break midpoint convexity);
* negative curvature: shifted power iteration on the finite-difference Hessian at 8 points finds the
  direction ``v`` of the smallest eigenvalue; if ``⟨v, Hv⟩ < 0`` the first-order gap is evaluated at
  ``y = x + t v`` for ``t ∈ {10⁻¹, …, 10⁻⁴}·radius``.

A gap below ``−CONVEX_RTOL (|f(x)| + |f(y)| + |⟨s(x), y − x⟩| + |f(W0)|)`` (far beyond rounding) is a violation.
``R0 = ‖W0 − Ŵ‖`` is reported for the non-smooth theorems.  The assumption includes a minimiser ``W*``: an
``f`` that looks unbounded below (see :mod:`verify.assumptions.landscape`) violates it.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from verify.assumptions.adapter import Oracles
from verify.assumptions.curvature import inner, power_iteration, unit
from verify.assumptions.findings import Budget, Finding, holds, violated
from verify.assumptions.landscape import Landscape
from verify.assumptions.smoothness import power_anchors

__all__ = ["CONVEX_RTOL", "check_convex"]

CONVEX_RTOL = 1e-9
"""Relative size of a convexity gap that rounding of ``f`` cannot explain."""

STEPS = (1e-1, 1e-2, 1e-3, 1e-4)
"""Steps along a negative-curvature direction, in units of the radius."""


def _first_order(orc: Oracles, X: np.ndarray, Y: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """First-order gaps, their tolerances, and the values used: ``(K,)``, ``(K,)``, dict of arrays.

    ``scale`` (``|f(W0)|``) is added to the magnitudes in the tolerance: values of ``f`` near 0 carry the
    rounding of the terms they were computed from."""
    fx, fy = orc.f(np.concatenate([X, Y])).reshape(2, -1)
    lin = inner(orc.subgrad(X), Y - X)
    gap = fy - fx - lin
    tol = CONVEX_RTOL * (np.abs(fx) + np.abs(fy) + np.abs(lin) + scale) + np.finfo(float).tiny
    return gap, tol, {"f_x": fx, "f_y": fy, "inner_subgrad_x_y_minus_x": lin}


def _midpoint(orc: Oracles, X: np.ndarray, Y: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """Midpoint gaps ``½(f(x) + f(y)) − f((x+y)/2)`` (negative = violation) and tolerances."""
    fx, fy, fm = orc.f(np.concatenate([X, Y, 0.5 * (X + Y)])).reshape(3, -1)
    gap = 0.5 * (fx + fy) - fm
    tol = CONVEX_RTOL * (np.abs(fx) + np.abs(fy) + np.abs(fm) + scale) + np.finfo(float).tiny
    return gap, tol, {"f_x": fx, "f_y": fy, "f_midpoint": fm}


def _pairs(land: Landscape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = land.points
    perm = rng.permutation(len(X))
    near = X + 0.1 * land.radius * unit(rng, len(X), X.shape[1:])
    A, B = [X[perm], X, near], [X[np.roll(perm, 1)], near, X]
    ends = list(combinations(range(len(land.endpoints)), 2))
    if ends:
        i, j = np.array(ends).T
        A.append(land.endpoints[i])
        B.append(land.endpoints[j])
    return np.concatenate(A), np.concatenate(B)


def _curvature_pairs(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """Pairs ``(x, x + t v)`` along negative-curvature directions, and the smallest Rayleigh quotient."""
    anchors = power_anchors(land)
    h = 1e-4 * land.radius
    top = power_iteration(orc.subgrad, anchors, h, budget.power_iters // 2, rng)
    low = power_iteration(orc.subgrad, anchors, h, budget.power_iters, rng, shift=1.05 * top.ratio + 1e-300)
    neg = np.flatnonzero(low.rayleigh < 0)
    if neg.size == 0:
        return np.zeros((0, *orc.shape)), np.zeros((0, *orc.shape)), float(low.rayleigh.min())
    X = np.repeat(anchors[neg], len(STEPS), axis=0)
    t = np.tile(np.array(STEPS) * land.radius, neg.size)
    return X, X + t[:, None, None] * np.repeat(low.direction[neg], len(STEPS), axis=0), float(low.rayleigh.min())


def _worst(kind: str, X: np.ndarray, Y: np.ndarray, gap: np.ndarray, tol: np.ndarray, values: dict
           ) -> tuple[float, dict | None]:
    """The most negative gap relative to its tolerance; a witness if it breaks the tolerance."""
    if len(gap) == 0:
        return np.inf, None
    score = gap / tol
    k = int(np.argmin(score))
    if score[k] >= -1:
        return float(gap.min()), None
    return float(gap[k]), {"test": kind, "x": X[k], "y": Y[k], "gap": gap[k], "tolerance": tol[k],
                           **{key: v[k] for key, v in values.items()}}


def check_convex(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """First-order, midpoint and negative-curvature searches; see the module docstring."""
    X, Y = _pairs(land, rng)
    CX, CY, min_curv = _curvature_pairs(orc, land, rng, budget)
    scale = abs(land.f0)
    fo = _worst("first order: f(y) >= f(x) + <s(x), y - x>", X, Y, *_first_order(orc, X, Y, scale))
    mid = _worst("midpoint: f((x+y)/2) <= (f(x) + f(y))/2", X, Y, *_midpoint(orc, X, Y, scale))
    curv = _worst("first order along a negative-curvature direction", CX, CY, *_first_order(orc, CX, CY, scale))
    R0 = None if land.W_hat is None else float(np.linalg.norm(land.W0 - land.W_hat))
    estimate = {"min_first_order_gap": min(fo[0], curv[0]), "min_midpoint_gap": mid[0], "min_curvature": min_curv,
                "R0": R0,
                "R0_kind": "distance from W0 to the best point found: an upper estimate if that point is a minimiser"}
    method = (f"first-order and midpoint gaps at {len(X)} pairs (random and near region pairs, all pairs of solver "
              f"end points); smallest Hessian eigenvalue by shifted finite-difference power iteration at 8 points, "
              f"then first-order gaps along its direction at steps {', '.join(f'{s:g}' for s in STEPS)} x radius; "
              f"violation = gap below -{CONVEX_RTOL:g} x (|f(x)| + |f(y)| + |<s, y - x>| + |f(W0)|)")
    witness = next((w for _, w in (fo, mid, curv) if w is not None), None)
    if witness is None and land.unbounded is not None:
        return violated("convex", estimate, method + ".", "a solver run found the witness: f decreases without bound, "
                        "so there is no minimiser W*.", land.unbounded, "no minimiser: f looks unbounded below")
    if witness is not None:
        return violated("convex", estimate, method + ".",
                        "certain up to floating point: the witness pair's values of f break the inequality by far "
                        "more than rounding.", witness, f"not convex: gap {witness['gap']:.3g} ({witness['test']})")
    return holds("convex", estimate, method + ".",
                 "no violation among the sampled pairs and directions; sampling cannot prove convexity.",
                 f"no violation (smallest curvature seen {min_curv:.3g})")
