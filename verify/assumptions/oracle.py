r"""``oracle``: are the problem's oracles consistent with each other?

Four tests, each at several points; the first failure is the witness.

1. **Gradient vs f.**  Central differences ``(f(x + tv) − f(x − tv))/(2t)`` along random unit directions
   ``v`` at steps ``t ∈ {10⁻², 10⁻³, 10⁻⁴, 10⁻⁵}·radius``, against ``⟨∇f(x), v⟩``.  The relative error of a
   pair (point, direction) is the smallest over the steps (a kink between ``x ± tv`` spoils only the large
   steps), measured against ``|⟨∇f, v⟩| + |FD| + ‖∇f‖/√(mn)`` (the typical size of a directional derivative
   along a random direction).  Violated above :data:`FD_RTOL`.
2. **Stochastic gradient unbiased.**  At each point ``S`` independent samples; for every entry ``j`` a
   two-sided t-test of ``E[g_j] = ∇f_j``, Bonferroni over the ``mn`` entries and the points; the most
   significant entry, if any is flagged, is confirmed on ``CONFIRM·S`` fresh samples at level ``alpha``.
   The variance ``σ²(x) = E‖g − ∇f‖²`` is reported at ``W0``.  A stochastic gradient that is a uniformly
   sampled component is unbiased exactly when the components average to ``∇f`` (test 4), so it is not sampled.
3. **ξ reproducible.**  Two calls with the same randomness give the same sample (needed to reuse ``ξ`` at
   two points).
4. **Components / clients average to the gradient**: ``‖(1/N) Σ_i ∇f_i − ∇f‖ <= AVG_RTOL (‖∇f‖ + mean_i ‖∇f_i‖)``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from verify.assumptions.adapter import Oracles
from verify.assumptions.curvature import inner, unit
from verify.assumptions.findings import Budget, Finding, holds, violated
from verify.assumptions.landscape import Landscape, norms

__all__ = ["AVG_RTOL", "FD_RTOL", "FD_STEPS", "check_oracle"]

FD_RTOL = 1e-4
"""Largest relative error of the best central difference that still counts as agreement."""

FD_STEPS = (1e-2, 1e-3, 1e-4, 1e-5)
"""Finite-difference steps, in units of the sampling radius ``sigma·√(mn)``."""

AVG_RTOL = 1e-8
"""Relative tolerance (rounding only) for components / clients averaging to the gradient."""

CHUNK = 512
"""Components or clients evaluated per batched call."""

CONFIRM = 4
"""The confirmation of a flagged entry uses this many times the screening's samples."""


def _fd_test(orc: Oracles, X: np.ndarray, radius: float, directions: int, rng: np.random.Generator
             ) -> tuple[float, dict | None]:
    """Max over (point, direction) of the best relative error; the witness of the worst pair if above tolerance."""
    K = len(X)
    V = unit(rng, K * directions, orc.shape)
    Xr = np.repeat(X, directions, axis=0)
    g = orc.grad(X)
    gr = np.repeat(g, directions, axis=0)
    fx = np.repeat(orc.f(X), directions)
    dd = inner(gr, V)
    scale = norms(gr) / np.sqrt(orc.d)
    best = np.full(len(V), np.inf)
    best_fd = np.zeros(len(V))
    best_t = np.zeros(len(V))
    for step in FD_STEPS:
        t = step * radius
        fp, fm = orc.f(np.concatenate([Xr + t * V, Xr - t * V])).reshape(2, -1)
        fd = (fp - fm) / (2 * t)
        floor = 1e-8 * (1.0 + np.abs(fx)) / t
        err = np.abs(fd - dd) / (np.abs(dd) + np.abs(fd) + scale + floor)
        better = err < best
        best, best_fd, best_t = np.where(better, err, best), np.where(better, fd, best_fd), np.where(better, t, best_t)
    worst = int(np.argmax(best))
    if best[worst] <= FD_RTOL:
        return float(best[worst]), None
    return float(best[worst]), {
        "test": "grad vs central finite differences of f", "point": Xr[worst], "direction": V[worst],
        "f": fx[worst], "step": best_t[worst], "finite_difference": best_fd[worst],
        "directional_derivative_from_grad": dd[worst], "relative_error": best[worst],
        "tolerance": FD_RTOL, "note": "smallest error over the steps " + ", ".join(f"{s:g}" for s in FD_STEPS)
        + " x radius; the gradient does not belong to f",
    }


def _entry_t(E: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-entry t statistics of ``mean(E) = 0`` for samples ``E`` ``(S, m, n)``: ``(t, mean, sd)``.

    An entry with zero spread is infinitely significant when its mean is off by more than rounding of ``g``."""
    mean, sd = E.mean(axis=0), E.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(sd == 0, np.where(np.abs(mean) > 1e-12 * (1 + np.abs(g)), np.inf, 0.0),
                     mean / (sd / np.sqrt(len(E))))
    return t, mean, sd


def _errors(orc: Oracles, x: np.ndarray, g: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``g(x; ξ_s) − ∇f(x)`` for ``samples`` independent ``ξ_s``: ``(S, m, n)``."""
    return orc.stochastic_grad(np.repeat(x[None], samples, axis=0), orc.sample(rng, samples)) - g


def _bias_test(orc: Oracles, X: np.ndarray, samples: int, alpha: float, rng: np.random.Generator
               ) -> tuple[dict, dict | None]:
    """Screen every entry at every point (t-tests, Bonferroni), then confirm the most significant one.

    The confirmation draws ``CONFIRM × samples`` fresh samples at the flagged point and tests the flagged entry
    alone at level ``alpha`` (two-sided): it is independent of the selection, so a false violation needs a
    false confirmation, and skewed samples (finite sums) that fool the far tail of the screening's t
    approximation are not reported."""
    tests = orc.d * len(X)
    crit = float(sps.t.ppf(1 - alpha / (2 * tests), df=samples - 1))
    g = orc.grad(X)
    worst, where, sigma2 = 0.0, (0, (0, 0)), []
    for k, x in enumerate(X):
        E = _errors(orc, x, g[k], samples, rng)
        sigma2.append(float(np.mean(np.einsum("kij,kij->k", E, E))))
        t, _, _ = _entry_t(E, g[k])
        j = np.unravel_index(int(np.argmax(np.abs(t))), t.shape)
        if abs(t[j]) >= worst:
            worst, where = float(abs(t[j])), (k, (int(j[0]), int(j[1])))
    summary = {"max_abs_t": worst, "critical_value": crit, "sigma2_at_W0": sigma2[0]}
    if worst <= crit:
        return summary, None
    k, j = where
    S2 = CONFIRM * samples
    t2, mean, sd = _entry_t(_errors(orc, X[k], g[k], S2, rng), g[k])
    crit2 = float(sps.t.ppf(1 - alpha / 2, df=S2 - 1))
    summary["screening_flag"] = {"point_index": k, "entry": list(j), "t": worst, "confirmed": bool(abs(t2[j]) > crit2)}
    if abs(t2[j]) <= crit2:
        return summary, None
    half = crit2 * sd[j] / np.sqrt(S2)
    return summary, {
        "test": "stochastic gradient unbiased (per-entry t-test, confirmed on fresh samples)", "point": X[k],
        "entry": list(j), "mean_stochastic_grad": float(mean[j] + g[k][j]), "grad": float(g[k][j]),
        "confidence_interval": [float(mean[j] + g[k][j] - half), float(mean[j] + g[k][j] + half)],
        "t_statistic": float(t2[j]), "critical_value": crit2, "samples": S2, "screening_t": worst,
    }


def _reproducible(orc: Oracles, x: np.ndarray, rng: np.random.Generator) -> dict | None:
    """Witness if the same ``ξ`` does not give the same sample."""
    xi = orc.sample(rng, 2)
    a = orc.stochastic_grad(np.repeat(x[None], 2, axis=0), xi)
    b = orc.stochastic_grad(np.repeat(x[None], 2, axis=0), xi)
    if np.array_equal(a, b):
        return None
    return {"test": "stochastic_grad reproducible from its rng", "point": x,
            "max_abs_difference": float(np.max(np.abs(a - b))),
            "note": "two calls with generators from the same seed differ: stochastic_grad must draw all its "
                    "randomness from the rng it is given"}


def _average(fn, count: int, x: np.ndarray) -> tuple[np.ndarray, float]:
    """``(1/count) Σ_i fn(x, i)`` and ``mean_i ‖fn(x, i)‖``, in chunks."""
    total, size = np.zeros_like(x), 0.0
    for start in range(0, count, CHUNK):
        idx = np.arange(start, min(count, start + CHUNK))
        G = fn(np.repeat(x[None], len(idx), axis=0), idx)
        total += G.sum(axis=0)
        size += float(norms(G).sum())
    return total / count, size / count


def _average_test(orc: Oracles, X: np.ndarray, which: str, scale: float) -> tuple[float, dict | None]:
    """Relative error of the average of all components / clients against ``grad``; ``scale`` is a gradient
    norm of the problem (at ``W0``) that keeps the test meaningful where ``∇f`` and every ``∇f_i`` vanish."""
    fn, count = ((orc.component_grad, orc.n_components) if which == "components"
                 else (orc.client_grad, orc.n_clients))
    g = orc.grad(X)
    worst, witness = 0.0, None
    for k, x in enumerate(X):
        avg, size = _average(fn, count, x)
        ref = np.linalg.norm(g[k]) + size + 1e-6 * scale + np.finfo(float).tiny
        err = float(np.linalg.norm(avg - g[k]) / ref)
        if err > worst:
            worst = err
            if err > AVG_RTOL:
                witness = {"test": f"{which} average to the gradient", "point": x, "count": count,
                           "norm_of_difference": float(np.linalg.norm(avg - g[k])),
                           "grad_norm": float(np.linalg.norm(g[k])), "relative_error": err, "tolerance": AVG_RTOL}
    return worst, witness


def check_oracle(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """Finite differences, unbiasedness, reproducibility and averaging (see the module docstring)."""
    X = np.concatenate([land.W0[None], land.points])
    err, witness = _fd_test(orc, X, land.radius, budget.fd_directions, rng)
    estimate: dict[str, object] = {"fd_max_relative_error": err, "fd_points": len(X)}
    method = (f"grad vs central differences of f at {len(X)} points (W0 and the sampling region), "
              f"{budget.fd_directions} random directions each, steps {', '.join(f'{s:g}' for s in FD_STEPS)} x "
              f"radius (best step per pair), tolerance {FD_RTOL:g}")
    witnesses = [witness]
    anchors = np.stack(land.centres + [land.points[len(land.points) // 2 - 1], land.points[-1]])
    sampled = orc.has_stochastic and not orc.stochastic_is_components
    if sampled:
        summary, w = _bias_test(orc, anchors, budget.bias_samples, budget.alpha, rng)
        estimate.update(summary)
        witnesses.append(w)
        method += (f"; stochastic gradient ({orc.stochastic_source}): {budget.bias_samples} samples at each of "
                   f"{len(anchors)} points, two-sided per-entry t-tests (Bonferroni over {orc.d} entries x "
                   f"{len(anchors)} points), the most significant confirmed on {CONFIRM}x fresh samples")
    if orc.has_stochastic:
        witnesses.append(_reproducible(orc, land.W0, rng))
        method += "; reproducibility of xi"
        if orc.stochastic_is_components:
            method += "; the stochastic gradient is a uniformly sampled component: unbiased iff the components average"
    for which, count in (("components", orc.n_components), ("clients", orc.n_clients)):
        if count is not None:
            e, w = _average_test(orc, anchors[[0, 3]], which, float(np.linalg.norm(land.g0)))
            estimate[f"{which}_max_relative_error"] = e
            witnesses.append(w)
            method += f"; {which}: average of all {count} gradients vs grad at W0 and a region point (tolerance " \
                      f"{AVG_RTOL:g})"
    confidence = ("finite differences are deterministic: a gradient error above the tolerance at every step size "
                  "is not truncation or rounding")
    if sampled:
        confidence += (f"; a bias is reported only when confirmed on fresh samples at level {budget.alpha:g} "
                       "(Student-t approximation).")
    elif orc.n_components is not None or orc.n_clients is not None:
        confidence += "; averaging is deterministic (its tolerance covers rounding only)."
    else:
        confidence += ". No stochastic oracle to test."
    bad = next((w for w in witnesses if w is not None), None)
    if bad is not None:
        return violated("oracle", estimate, method + ".", confidence, bad, f"inconsistent: {bad['test']}")
    parts = [f"FD rel. error {err:.1e}"]
    if sampled:
        parts.append(f"unbiased (max |t| {estimate['max_abs_t']:.2f}, critical {estimate['critical_value']:.2f})")
    elif orc.has_stochastic:
        parts.append("components average to grad")
    return holds("oracle", estimate, method + ".", confidence, "; ".join(parts))
