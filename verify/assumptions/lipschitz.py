r"""``lipschitz``: ``|f(x) − f(y)| <= L0 ‖x − y‖``, i.e. every subgradient has norm ``<= L0`` (Assumption 9).

* estimate: ``L0̂ = max(‖s(W)‖, |f(x) − f(y)|/‖x − y‖)`` over the region points, their pairs and ray points
  (``s`` the subgradient oracle, or ``grad``): a **lower** bound on ``L0``;
* **violated** when ``‖s‖`` grows along a ray from ``Ŵ`` at least like ``distance^GROWTH`` over the last decade
  of ``radius × {1, 10, 100}`` (e.g. ``‖∇f‖ = L‖W − W*‖`` for a quadratic): no finite ``L0``.
"""

from __future__ import annotations

import numpy as np

from verify.assumptions.adapter import Oracles
from verify.assumptions.curvature import radial_points
from verify.assumptions.findings import Budget, Finding, holds, violated
from verify.assumptions.landscape import Landscape, norms

__all__ = ["GROWTH", "check_lipschitz"]

GROWTH = 0.5
"""Smallest log-log slope of ``‖s‖`` against the distance, over the last decade, that counts as unbounded growth."""

RADIAL = (1.0, 10.0, 100.0)


def check_lipschitz(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """Sampled ``L0`` (lower bound) and the growth of ``‖s‖`` along rays."""
    P = radial_points(land.centres[1], land.radius, RADIAL, 3, rng)
    rays = norms(orc.subgrad(P.reshape(-1, *orc.shape))).reshape(P.shape[:2])
    X = land.points
    perm = rng.permutation(len(X))
    fx = orc.f(X)
    secant = np.abs(fx[perm] - fx[np.roll(perm, 1)]) / norms(X[perm] - X[np.roll(perm, 1)])
    L0 = float(max(norms(orc.subgrad(X)).max(), rays.max(), secant.max()))
    method = (f"max of ||subgradient|| at {len(X)} region points and 9 ray points (distance radius x {RADIAL}), and "
              f"|f(x) - f(y)| / ||x - y|| at {len(X)} pairs; growth test along 3 rays (slope >= {GROWTH} in log-log "
              "over the last decade = unbounded)")
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.log10(rays[:, 1:] / rays[:, :-1])
    grows = np.flatnonzero(slopes[:, -1] >= GROWTH)
    if grows.size:
        k = int(grows[0])
        witness = {"centre": land.centres[1], "points": P[k], "distances": [land.radius * r for r in RADIAL],
                   "subgrad_norms": rays[k], "log10_slopes": slopes[k]}
        return violated("lipschitz", {"L0": float(rays[k, -1]), "kind": "lower bound; grows without limit"},
                        method + ".", "the witness ray shows ||grad f|| growing like a power of the distance; "
                        "no finite L0 (Lipschitz on a bounded set may still hold).", witness,
                        f"not Lipschitz: ||grad f|| grows ~ distance^{slopes[k, -1]:.2f}")
    return holds("lipschitz", {"L0": L0, "kind": "lower bound (sampled)"}, method + ".",
                 "estimate is a lower bound: each value is a norm of a subgradient or a secant ratio at a concrete "
                 "point; replace it by a certified value before trusting a theorem's bound.",
                 f"L0 >= {L0:.4g} (lower bound)")
