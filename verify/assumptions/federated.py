r"""``federated``: ``f = (1/M) Σ_i f_i`` over ``M`` clients, each ``f_i`` ``L_i``-smooth and bounded below.

Only the client gradients ``∇f_i`` are needed (their average is tested by the ``oracle`` check):

* ``L_i``: the largest secant ratio of ``∇f_i`` (pairs and power iteration, as for ``smooth``), a lower
  bound; ``L_max = max_i L_i`` and ``L_tilde = sqrt((1/M) Σ_i L_i²)``;
* ``Ŵ_i``: gradient descent on ``f_i`` with step ``1/L_i`` (halved whenever ``‖∇f_i‖`` grows tenfold) from
  ``Ŵ``, until ``‖∇f_i‖ <= 10⁻¹⁰ ‖∇f_i(Ŵ)‖``; **violated** if a run escapes beyond ``10⁶·radius`` (``f_i``
  unbounded below), **unverified** if it has not converged after ``CLIENT_STEPS`` steps;
* ``Δ_inf = f* − (1/M) Σ_i inf f_i = (1/M) Σ_i (f_i(Ŵ) − f_i(Ŵ_i))`` with ``Ŵ = argmin f``, each
  difference the line integral ``∫_0^1 ⟨∇f_i(Ŵ_i + t(Ŵ − Ŵ_i)), Ŵ − Ŵ_i⟩ dt`` by 8-point Gauss–Legendre
  quadrature (exact for polynomials of degree up to 16).  For non-convex clients the descent may stop at a
  local minimum, which underestimates ``Δ_inf``.
"""

from __future__ import annotations

import numpy as np

from verify.assumptions.adapter import Oracles
from verify.assumptions.curvature import inner, power_iteration, secant_ratios, unit
from verify.assumptions.findings import Budget, Finding, holds, unverified, violated
from verify.assumptions.landscape import Landscape

__all__ = ["QUADRATURE_NODES", "check_federated"]

QUADRATURE_NODES = 8
ESCAPE = 1e6
CLIENT_STEPS = 2000
CONVERGED = 1e-10
"""A client's descent has converged when ``‖∇f_i‖`` is this fraction of its value at the start."""


def _client_map(orc: Oracles, i: int):
    return lambda W: orc.client_grad(W, np.full(len(W), i))


def _client_L(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> np.ndarray:
    anchors = np.stack(land.centres + [land.points[0], land.points[-1]])
    out = np.empty(orc.n_clients)
    for i in range(orc.n_clients):
        G = _client_map(orc, i)
        near = secant_ratios(G, land.points, land.points + 0.1 * land.radius * unit(rng, len(land.points), orc.shape))
        power = power_iteration(G, anchors, 1e-4 * land.radius, budget.power_iters, rng)
        out[i] = max(near.max(), power.ratio.max())
    return out


def _client_minimum(orc: Oracles, i: int, start: np.ndarray, L: float, limit: float) -> tuple[np.ndarray, str]:
    """Gradient descent on ``f_i`` from ``start``: the last point, and ``"converged"``, ``"escaped"`` or
    ``"stalled"``."""
    G = _client_map(orc, i)
    W, step = start.copy(), 1.0 / max(L, np.finfo(float).tiny)
    g = G(W[None])[0]
    target = CONVERGED * np.linalg.norm(g)
    for _ in range(CLIENT_STEPS):
        if np.linalg.norm(g) <= target:
            return W, "converged"
        W_new = W - step * g
        g_new = G(W_new[None])[0]
        if np.linalg.norm(g_new) > 10 * np.linalg.norm(g):
            step *= 0.5
            continue
        W, g = W_new, g_new
        if np.linalg.norm(W - start) > limit:
            return W, "escaped"
    return W, "converged" if np.linalg.norm(g) <= target else "stalled"


def _line_integral(G, a: np.ndarray, b: np.ndarray) -> float:
    """``∫_0^1 ⟨G(a + t(b − a)), b − a⟩ dt = f(b) − f(a)`` by Gauss–Legendre quadrature."""
    nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    t = 0.5 * (nodes + 1.0)
    P = a + t[:, None, None] * (b - a)
    return float(0.5 * np.dot(weights, inner(G(P), np.broadcast_to(b - a, P.shape))))


def check_federated(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """Client constants ``M``, ``L_max``, ``L_tilde`` and ``Δ_inf``; see the module docstring."""
    if orc.n_clients is None:
        return unverified("federated", "no client oracles (give n_clients and client_grad(W, i))")
    if land.W_hat is None:
        return unverified("federated", f"no minimiser estimate of f ({land.no_solution})")
    M = orc.n_clients
    L = _client_L(orc, land, rng, budget)
    limit = ESCAPE * land.radius
    gaps = np.empty(M)
    for i in range(M):
        W_i, state = _client_minimum(orc, i, land.W_hat, float(L[i]), limit)
        witness = {"client": i, "point": W_i, "distance_from_best_point": float(np.linalg.norm(W_i - land.W_hat))}
        if state == "escaped":
            return violated("federated", {"M": M, "L_i": L}, "gradient descent on each client from the best point.",
                            f"the run escaped beyond {ESCAPE:g} x radius while decreasing f_i: f_i looks unbounded "
                            "below.", witness, f"client {i} looks unbounded below")
        if state == "stalled":
            return unverified("federated", f"gradient descent on client {i} did not converge in {CLIENT_STEPS} steps; "
                              "Delta_inf is unknown", "gradient descent on each client from the best point.",
                              {"M": M, "L_i": L}, witness)
        gaps[i] = _line_integral(_client_map(orc, i), W_i, land.W_hat)
    estimate = {"M": M, "L_max": float(L.max()), "L_tilde": float(np.sqrt(np.mean(L**2))),
                "Delta_inf": float(max(gaps.mean(), 0.0)), "L_i": L,
                "kind": "L_i: lower bounds (secant ratios); Delta_inf: estimate (local client minima)"}
    method = (f"per client: secant ratios and finite-difference power iteration ({budget.power_iters} iterations) "
              f"for L_i; gradient descent (step 1/L_i, {CLIENT_STEPS} steps) from the best point for argmin f_i; "
              f"Delta_inf = mean_i [f_i(W_hat) - f_i(W_hat_i)] by {QUADRATURE_NODES}-point Gauss-Legendre line "
              "integrals of grad f_i")
    return holds("federated", estimate, method + ".",
                 "L_max and L_tilde are lower bounds; Delta_inf is exact for convex quadratic clients up to the "
                 "descent's convergence and is underestimated if a client's descent stops at a local minimum.",
                 f"M = {M}, L_max >= {L.max():.4g}, Delta_inf ~ {estimate['Delta_inf']:.4g}")
