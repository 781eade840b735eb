r"""Search for stationary points of ``f`` that gradient descent avoids: saddles, maxima, other minima.

Every zero of ``∇f`` is a global minimiser (value 0) of the **stationarity residual**

.. math:: g(W) = ½‖∇f(W)‖², \qquad ∇g(W) = ∇²f(W)\,∇f(W),

whatever its kind: minima, saddles and maxima of ``f`` alike, while gradient descent on ``f`` leaves
saddles and maxima.  ``g`` is minimised by L-BFGS-B (``scipy.optimize.minimize``) from several starts,
with ``∇g`` a finite-difference Hessian-vector product along ``u = ∇f/‖∇f‖``:

.. math:: ∇g(W) ≈ ‖∇f(W)‖ \, \frac{∇f(W + hu) − ∇f(W − hu)}{2h}, \qquad h = \mathrm{HVP\_STEP}\,(1 + ‖W‖).

``g`` is divided by its value at the start (the search is scale free).  The starts are the origin, ``W0``,
the midpoint of ``W0`` and ``Ŵ`` (a saddle often lies between basins) and points of the sampling region.
Only where the search stops matters: ``f`` and ``∇f`` are evaluated there exactly, so an inaccurate ``∇g``
can make the search miss a stationary point but never invent one.  A run that reaches a point where the
problem's code fails is dropped (and counted).

At a stopping point the **smallest curvature** is estimated by a shifted power iteration on the
finite-difference Hessian (:func:`~verify.assumptions.curvature.power_iteration`): a negative Rayleigh
quotient ``⟨v, ∇²f v⟩ < 0`` shows a saddle or a maximum.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import scipy.optimize as so

from verify.assumptions.adapter import OracleError, Oracles
from verify.assumptions.curvature import power_iteration
from verify.assumptions.findings import Budget
from verify.assumptions.landscape import Landscape
from verify.assumptions.lockstep import Ask, lockstep

__all__ = ["HVP_STEP", "NEGATIVE_CURVATURE_RTOL", "Search", "curvature_at", "search_stationary", "stationary_starts"]

HVP_STEP = 1e-6
"""Finite-difference step of the Hessian-vector products, in units of ``1 + ‖W‖``."""

NEGATIVE_CURVATURE_RTOL = 1e-6
"""A smallest curvature below ``−NEGATIVE_CURVATURE_RTOL ×`` the largest one is negative beyond rounding."""


@dataclass(frozen=True, eq=False)
class Search:
    """Where the minimisation of ``½‖∇f‖²`` stopped.

    Attributes
    ----------
    starts : (S, m, n) ndarray
        The starts.
    points : (R, m, n) ndarray
        The stopping points of the ``R <= S`` runs that finished.
    f, grad_norm : (R,) ndarray
        ``f`` and ``‖∇f‖`` at the stopping points.
    interrupted : int
        ``S − R``: runs ended by an error of the problem's code (a point where ``f`` or ``grad`` fails).
    """

    starts: np.ndarray
    points: np.ndarray
    f: np.ndarray
    grad_norm: np.ndarray
    interrupted: int


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """One BLAS thread while L-BFGS iterates (small vectors: on a busy machine idle BLAS threads spinning cost
    more than the search), when ``threadpoolctl`` is installed."""
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(1, user_api="blas")


def _hvp_step(W: np.ndarray) -> float:
    return HVP_STEP * (1.0 + float(np.linalg.norm(W)))


def _residual(ask: Ask, W: np.ndarray) -> tuple[float, np.ndarray]:
    """``(½‖∇f(W)‖², ∇²f(W)∇f(W))``, the product by central differences of ``∇f`` along ``∇f/‖∇f‖``."""
    G = ask("grad", W[None])[0]
    size = float(np.linalg.norm(G))
    if size == 0.0:
        return 0.0, np.zeros_like(W)
    h, u = _hvp_step(W), G / size
    plus, minus = ask("grad", np.stack([W + h * u, W - h * u]))
    return 0.5 * size * size, size * (plus - minus) / (2 * h)


def _minimise(ask: Ask, W: np.ndarray, iters: int) -> np.ndarray:
    """L-BFGS-B on ``g(W)/g(start)`` from ``W``; a start with ``∇f = 0`` is returned as it is."""
    g0, _ = _residual(ask, W)
    if g0 == 0.0:
        return W

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = _residual(ask, x.reshape(W.shape))
        return value / g0, grad.ravel() / g0

    res = so.minimize(fun, W.ravel(), jac=True, method="L-BFGS-B",
                      options={"maxiter": iters, "gtol": 0.0, "ftol": 0.0})
    return res.x.reshape(W.shape)


def _run(ask: Ask, W: np.ndarray, iters: int) -> tuple[np.ndarray, float, float]:
    """:func:`_minimise` from ``W``, then ``f`` and ``‖∇f‖`` at the stopping point."""
    P = _minimise(ask, W, iters)
    return P, float(ask("f", P[None])[0]), float(np.linalg.norm(ask("grad", P[None])[0]))


def stationary_starts(land: Landscape, count: int) -> np.ndarray:
    """The origin, ``W0``, ``(W0 + Ŵ)/2`` and region points spread over the centres and scales: ``count``
    distinct starts at most."""
    region = land.points[np.linspace(0, len(land.points) - 1, max(count - 3, 0)).astype(int)]
    candidates = np.concatenate([np.zeros((1, *land.W0.shape)), land.W0[None],
                                 (0.5 * (land.W0 + land.centres[1]))[None], region])
    _, first = np.unique(candidates.reshape(len(candidates), -1), axis=0, return_index=True)
    return candidates[np.sort(first)][:count]


def search_stationary(orc: Oracles, land: Landscape, budget: Budget) -> Search:
    """Minimise ``½‖∇f‖²`` from each of :func:`stationary_starts` (``budget.stationary_starts`` of them, at most
    ``budget.stationary_iters`` L-BFGS iterations each) and evaluate ``f`` and ``‖∇f‖`` where each run stops.
    The runs go side by side with their oracle calls batched (:func:`~verify.assumptions.lockstep.lockstep`);
    a run that meets an :class:`OracleError` is dropped (the search is a heuristic, its failures are not the
    problem's).

    Each run costs up to about ``1.2 × stationary_iters`` evaluations of ``grad`` at 3 points."""
    starts = stationary_starts(land, budget.stationary_starts)
    searches = [lambda ask, W=W: _run(ask, W, budget.stationary_iters) for W in starts]
    with _one_blas_thread():
        runs = lockstep(searches, {"f": orc.f, "grad": orc.grad})
    for ok, out in runs:
        if not ok and not isinstance(out, OracleError):
            raise out
    done = [out for ok, out in runs if ok]
    return Search(starts=starts, points=np.array([P for P, _, _ in done]).reshape(-1, *orc.shape),
                  f=np.array([v for _, v, _ in done]), grad_norm=np.array([g for _, _, g in done]),
                  interrupted=len(runs) - len(done))


def curvature_at(orc: Oracles, W: np.ndarray, iters: int, rng: np.random.Generator) -> dict[str, object]:
    """The extreme curvatures of ``f`` at ``W`` by power iteration on the finite-difference Hessian.

    Returns
    -------
    dict
        ``largest_curvature`` (the largest secant ratio, ``≈ ‖∇²f(W)‖``); ``smallest_curvature``, the Rayleigh
        quotient ``⟨v, ∇²f(W) v⟩`` of the shifted iteration's direction ``v`` (an upper estimate of
        ``λ_min(∇²f(W))``); ``direction_of_smallest_curvature``, ``v``; and ``saddle_or_maximum``: the smallest
        curvature is below ``−NEGATIVE_CURVATURE_RTOL ×`` the largest, more negative than the finite-difference
        error explains.
    """
    h = _hvp_step(W)
    top = power_iteration(orc.grad, W[None], h, iters // 2, rng)
    low = power_iteration(orc.grad, W[None], h, iters, rng, shift=1.05 * top.ratio + 1e-300)
    lam, size = float(low.rayleigh[0]), float(top.ratio[0])
    return {"smallest_curvature": lam, "largest_curvature": size, "direction_of_smallest_curvature": low.direction[0],
            "saddle_or_maximum": bool(lam < -NEGATIVE_CURVATURE_RTOL * size)}
