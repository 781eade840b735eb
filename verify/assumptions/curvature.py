r"""Secant ratios, finite-difference Hessian power iteration, and the search for gradient jumps.

Everything here evaluates a gradient map ``G : (K, m, n) → (K, m, n)`` (``∇f``, a subgradient, or one
client's gradient) and reports **secant ratios** ``‖G(x) − G(y)‖/‖x − y‖`` of concrete pairs of points.
Every such ratio is a lower bound on the smoothness constant of the map (up to rounding of the two
gradients, ``≈ ε‖G‖/‖x − y‖``), whatever the pair: the finite-difference Hessian-vector product
``(G(x + hv) − G(x − hv))/(2h)`` with ``‖v‖ = 1`` is the secant of the pair ``x ± hv``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from verify.assumptions.landscape import norms

__all__ = ["JUMP_HALVINGS", "Jump", "JumpSearch", "PowerResult", "inner", "jump_search", "power_iteration",
           "radial_points", "secant_ratios", "unit"]

GradMap = Callable[[np.ndarray], np.ndarray]

JUMP_HALVINGS = 10
"""A gradient difference that keeps at least half its size over this many halvings of the distance
(the distance shrinks 1024-fold, the secant ratio grows ~1/h) is a jump: no finite L explains it."""

JUMP_RTOL = 1e-8
"""Gradient differences below ``JUMP_RTOL (‖G(x)‖ + ‖G(y)‖)`` are treated as rounding noise."""


def inner(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Batched Frobenius inner products: ``(K, m, n), (K, m, n) → (K,)``."""
    return np.einsum("kij,kij->k", A, B)


def unit(rng: np.random.Generator, K: int, shape: tuple[int, int]) -> np.ndarray:
    """``K`` directions uniform on the unit sphere of ``R^{m×n}``: ``(K, m, n)``."""
    Z = rng.standard_normal((K, *shape))
    return Z / norms(Z)[:, None, None]


def secant_ratios(G: GradMap, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``‖G(x_k) − G(y_k)‖/‖x_k − y_k‖``: ``(K,)``."""
    GX, GY = G(np.concatenate([X, Y])).reshape(2, *X.shape)
    return norms(GX - GY) / norms(X - Y)


@dataclass(frozen=True, eq=False)
class PowerResult:
    """Outcome of :func:`power_iteration` at ``K`` anchors.

    Attributes
    ----------
    ratio : (K,) ndarray
        The largest secant ratio seen at each anchor (a lower bound on the local ``‖∇²f‖``).
    direction : (K, m, n) ndarray
        The final iterate ``v`` (unit norm).
    rayleigh : (K,) ndarray
        ``⟨v, Hv⟩`` for the final ``v``: an estimate of the curvature along ``v``.
    """

    ratio: np.ndarray
    direction: np.ndarray
    rayleigh: np.ndarray


def power_iteration(G: GradMap, X: np.ndarray, h: float, iters: int, rng: np.random.Generator,
                    shift: np.ndarray | None = None) -> PowerResult:
    r"""Power iteration on the finite-difference Hessian ``Hv = (G(x + hv) − G(x − hv))/(2h)`` at each anchor.

    Parameters
    ----------
    G : callable
        Batched gradient map.
    X : (K, m, n) ndarray
        Anchors.
    h : float
        Finite-difference step (``‖hv‖ = h``).
    iters : int
        Iterations.
    rng : numpy.random.Generator
        Draws the starting directions.
    shift : (K,) ndarray, optional
        Iterate on ``c I − H`` instead of ``H`` (``c`` = shift per anchor, ``c >= ‖H‖``): ``v`` then
        converges to the eigenvector of the smallest eigenvalue of ``H`` and ``rayleigh`` estimates it.
    """
    V = unit(rng, len(X), X.shape[1:])
    best = np.zeros(len(X))
    for _ in range(iters):
        HV = _hv(G, X, V, h)
        r = norms(HV)
        best = np.maximum(best, r)
        nxt = HV if shift is None else shift[:, None, None] * V - HV
        size = norms(nxt)
        V = np.where(size[:, None, None] > 0, nxt / np.where(size > 0, size, 1.0)[:, None, None], V)
    HV = _hv(G, X, V, h)
    best = np.maximum(best, norms(HV))
    return PowerResult(ratio=best, direction=V, rayleigh=inner(V, HV))


def _hv(G: GradMap, X: np.ndarray, V: np.ndarray, h: float) -> np.ndarray:
    """``(G(X + hV) − G(X − hV))/(2h)``."""
    plus, minus = G(np.concatenate([X + h * V, X - h * V])).reshape(2, *X.shape)
    return (plus - minus) / (2 * h)


@dataclass(frozen=True, eq=False)
class Jump:
    """A gradient jump found by :func:`jump_search` on one segment.

    Attributes
    ----------
    x, y : (m, n) ndarray
        The closest pair of the persistent stretch.
    distance, grad_difference, ratio : float
        ``‖x − y‖``, ``‖G(x) − G(y)‖`` and their ratio.
    trace : list of (distance, ratio)
        The secant ratio at each bisection level of the segment, largest distance first.
    """

    x: np.ndarray
    y: np.ndarray
    distance: float
    grad_difference: float
    ratio: float
    trace: list[tuple[float, float]]


@dataclass(frozen=True, eq=False)
class JumpSearch:
    """All bisection levels of :func:`jump_search`: distances, gradient differences, floors, endpoints."""

    dist: np.ndarray      # (levels, S)
    diff: np.ndarray      # (levels, S)
    floor: np.ndarray     # (levels, S)
    lo: np.ndarray        # (levels, S, m, n)
    hi: np.ndarray        # (levels, S, m, n)

    min_dist: float

    def valid(self) -> np.ndarray:
        """Levels whose gradient difference is above the rounding floor and whose points are at least
        ``min_dist`` apart: ``(levels, S)``."""
        return (self.diff >= self.floor) & (self.dist >= self.min_dist) & (self.dist > 0)

    def max_ratio(self) -> float:
        """The largest valid secant ratio over all levels and segments (a lower bound on L)."""
        ok = self.valid()
        if not ok.any():
            return 0.0
        return float(np.max(np.where(ok, self.diff / np.where(self.dist > 0, self.dist, 1.0), 0.0)))

    def jump(self) -> Jump | None:
        """The most persistent jump (deepest level), or None: a stretch of :data:`JUMP_HALVINGS` halvings over
        which the gradient difference keeps at least half its size while staying above the floor."""
        ok = self.valid()
        levels, S = self.diff.shape
        found: tuple[int, int] | None = None
        for s in range(S):
            for j in range(levels - JUMP_HALVINGS):
                k = j + JUMP_HALVINGS
                if ok[j, s] and ok[k, s] and self.diff[k, s] >= 0.5 * self.diff[j, s]:
                    while k + 1 < levels and ok[k + 1, s] and self.diff[k + 1, s] >= 0.5 * self.diff[j, s]:
                        k += 1
                    if found is None or self.diff[k, s] / self.dist[k, s] > self.diff[found] / self.dist[found]:
                        found = (k, s)
                    break
        if found is None:
            return None
        k, s = found
        trace = [(float(self.dist[i, s]), float(self.diff[i, s] / self.dist[i, s]))
                 for i in range(levels) if ok[i, s]]
        return Jump(x=self.lo[k, s], y=self.hi[k, s], distance=float(self.dist[k, s]),
                    grad_difference=float(self.diff[k, s]), ratio=float(self.diff[k, s] / self.dist[k, s]),
                    trace=trace)


def jump_search(G: GradMap, A: np.ndarray, B: np.ndarray, grid: int, halvings: int, min_dist: float = 0.0
                ) -> JumpSearch:
    r"""Look for a jump of ``G`` on the segments ``[A_s, B_s]`` by a grid and bisection.

    The gradient is evaluated at ``grid + 1`` equally spaced points of each segment; the consecutive pair
    with the largest ``‖ΔG‖`` is bisected ``halvings`` times, keeping the half with the larger ``‖ΔG‖``.
    For a smooth ``G``, ``‖ΔG‖ ≈ ‖∇²f v‖ h`` shrinks with the distance ``h``; across a kink it stays
    near the size of the jump while ``h → 0``, so the secant ratio grows like ``1/h``.  Levels closer than
    ``min_dist`` are ignored (their points differ in the last few bits only).
    """
    S = len(A)
    ts = np.linspace(0.0, 1.0, grid + 1)
    P = A[:, None] + ts[None, :, None, None] * (B - A)[:, None]
    GP = G(P.reshape(-1, *A.shape[1:])).reshape(P.shape)
    steps = norms((GP[:, 1:] - GP[:, :-1]).reshape(-1, *A.shape[1:])).reshape(S, grid)
    k = np.argmax(steps, axis=1)
    rows = np.arange(S)
    lo, hi, glo, ghi = P[rows, k], P[rows, k + 1], GP[rows, k], GP[rows, k + 1]
    dist, diff, floor, los, his = [], [], [], [], []

    def record() -> None:
        dist.append(norms(hi - lo))
        diff.append(norms(ghi - glo))
        floor.append(JUMP_RTOL * (norms(glo) + norms(ghi)) + np.finfo(float).tiny)
        los.append(lo.copy())
        his.append(hi.copy())

    record()
    for _ in range(halvings):
        mid = 0.5 * (lo + hi)
        gmid = G(mid)
        left = norms(gmid - glo) >= norms(ghi - gmid)
        sel = left[:, None, None]
        lo, glo = np.where(sel, lo, mid), np.where(sel, glo, gmid)
        hi, ghi = np.where(sel, mid, hi), np.where(sel, gmid, ghi)
        record()
    return JumpSearch(dist=np.array(dist), diff=np.array(diff), floor=np.array(floor), lo=np.array(los),
                      hi=np.array(his), min_dist=min_dist)


def radial_points(centre: np.ndarray, radius: float, factors: tuple[float, ...], directions: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``centre + radius·factor·u`` for ``directions`` unit directions ``u``: ``(directions, len(factors), m, n)``."""
    U = unit(rng, directions, centre.shape)
    f = np.asarray(factors, dtype=float)
    return centre + radius * f[None, :, None, None] * U[:, None]
