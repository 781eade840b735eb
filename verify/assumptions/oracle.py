r"""``oracle``: are the problem's oracles consistent with each other?

Four tests, each at several points; the first failure is the witness.

1. **Gradient vs f.**  Central differences ``D(t) = (f(x + tv) − f(x − tv))/(2t)`` along random unit
   directions ``v``, against ``⟨∇f(x), v⟩``, at a ladder of steps ``t = (1 + ‖x‖)·10⁻ᵏ``, ``k = 2, …, 11``,
   relative to the point's scale.  The error of ``D(t)`` is about ``t²|f‴|/6 + ε|f|/t``: the best step
   depends on the curvature of ``f`` along ``v`` (far from the origin, a network's pre-activations can vary
   on a scale much smaller than ``‖x‖``), so the ladder goes down until a step agrees.  The relative error is
   measured against ``|⟨∇f, v⟩| + |D| + ‖∇f‖/√(mn)`` (the typical size of a directional derivative along a
   random direction).  A pair agrees when some step is within :data:`FD_RTOL`; it is a violation only when
   none is while two consecutive steps agree with each other to :data:`FD_CONVERGED` (the central
   difference has converged: its truncation error, about the difference of the two, and its rounding bound
   ``FD_ROUNDING_ULPS·u·|f|/t``, ``u`` the precision the values of ``f`` carry, are both below that), and
   it is *unresolved* (it counts for nothing) when no two steps do, e.g. when rounding swamps every step
   small enough for the curvature.  A kink between ``x ± tv`` spoils only the large steps.
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
from verify.assumptions.findings import Budget, Finding, holds, unverified, violated
from verify.assumptions.landscape import Landscape, norms

__all__ = ["AVG_RTOL", "FD_CONVERGED", "FD_LADDER", "FD_ROUNDING_ULPS", "FD_RTOL", "check_oracle",
           "unit_roundoff"]

FD_RTOL = 1e-4
"""Largest relative error of the best central difference that still counts as agreement."""

FD_LADDER = tuple(10.0**-k for k in range(2, 12))
"""Finite-difference steps, in units of the point's scale ``1 + ‖x‖``."""

FD_CONVERGED = 0.1 * FD_RTOL
"""Two consecutive steps of the ladder whose central differences differ by at most this (relative), each with
a rounding bound below it, have converged to the directional derivative of ``f``."""

FD_ROUNDING_ULPS = 8192
"""Rounding error allowed for one evaluation of ``f``, in units of the precision ``u`` its values carry
(``u = 2⁻⁵³`` for float64: ``8192 u ≈ 9e-13`` relative): a central difference at step ``t`` may be off by
``FD_ROUNDING_ULPS·u·|f|/t`` from rounding alone."""

AVG_RTOL = 1e-8
"""Relative tolerance (rounding only) for components / clients averaging to the gradient."""

CHUNK = 512
"""Components or clients evaluated per batched call."""

CONFIRM = 4
"""The confirmation of a flagged entry uses this many times the screening's samples."""


def _reference(D: np.ndarray, dd: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``|⟨∇f, v⟩| + |D| + ‖∇f‖/√(mn)``: the size against which a central difference ``D`` is judged."""
    return np.abs(dd) + np.abs(D) + scale


def _relative_error(D: np.ndarray, dd: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``|D − ⟨∇f, v⟩|`` over :func:`_reference`; 0 where the reference vanishes (both are exactly 0)."""
    ref = _reference(D, dd, scale)
    return np.abs(D - dd) / np.where(ref > 0, ref, 1.0)


def unit_roundoff(values: np.ndarray) -> float:
    """``2⁻ᵖ`` for the fewest mantissa bits ``p ∈ {8, 11, 24, 53}`` (bfloat16, float16, float32, float64) that
    represent every nonzero value exactly: values of ``f`` computed in single precision carry ``u = 2⁻²⁴``
    even after conversion to float64 (a float64 computation gives such values by chance with probability
    ``2⁻²⁹`` each)."""
    mantissa, _ = np.frexp(values[(values != 0) & np.isfinite(values)])
    for bits in (8, 11, 24):
        if np.all(np.ldexp(mantissa, bits) % 1 == 0):
            return 2.0**-bits
    return 2.0**-53


def _ladder(orc: Oracles, X: np.ndarray, V: np.ndarray, dd: np.ndarray, scale: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``f(x ± t_k v)`` of each pair down :data:`FD_LADDER`, ``t_k = (1 + ‖x‖)·FD_LADDER[k]``.

    A pair leaves the ladder after its second step whose central difference agrees with ``⟨∇f(x), v⟩``
    (relative error ``<= FD_RTOL``), or its first that agrees to ``FD_RTOL²``; its later entries stay NaN.

    Returns
    -------
    T, FP, FM : (P, len(FD_LADDER)) ndarrays
        The steps and the values ``f(x + t_k v)``, ``f(x − t_k v)``.
    """
    T = (1.0 + norms(X))[:, None] * np.asarray(FD_LADDER)[None, :]
    FP, FM = np.full(T.shape, np.nan), np.full(T.shape, np.nan)
    active, agreed = np.arange(len(X)), np.zeros(len(X), dtype=bool)
    for k in range(T.shape[1]):
        t = T[active, k]
        Xa, tV = X[active], t[:, None, None] * V[active]
        FP[active, k], FM[active, k] = orc.f(np.concatenate([Xa + tV, Xa - tV])).reshape(2, -1)
        err = _relative_error((FP[active, k] - FM[active, k]) / (2 * t), dd[active], scale[active])
        done = (err <= FD_RTOL**2) | ((err <= FD_RTOL) & agreed[active])
        agreed[active] |= err <= FD_RTOL
        active = active[~done]
        if active.size == 0:
            break
    return T, FP, FM


def _rounding(T: np.ndarray, FP: np.ndarray, FM: np.ndarray) -> np.ndarray:
    """Rounding bounds of the central differences, ``FD_ROUNDING_ULPS·u·(|f(x + tv)| + |f(x − tv)|)/(2t)`` with
    ``u`` the :func:`unit_roundoff` of all values.  A step too small to change ``f`` at all (``D = 0``) has a
    bound above ``|⟨∇f, v⟩|`` times ``FD_ROUNDING_ULPS``, so it never counts as converged."""
    u = unit_roundoff(np.concatenate([FP.ravel(), FM.ravel()]))
    return FD_ROUNDING_ULPS * u * (np.abs(FP) + np.abs(FM)) / (2 * T)


def _converged(D: np.ndarray, R: np.ndarray, dd: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Steps ``k`` where the central difference has converged: ``|D_k − D_{k+1}|``, ``R_k`` and ``R_{k+1}`` are
    all at most ``FD_CONVERGED (|⟨∇f, v⟩| + |D| + ‖∇f‖/√(mn))``: ``(P, S)``, False at the last step."""
    tol = FD_CONVERGED * _reference(D, dd[:, None], scale[:, None])
    with np.errstate(invalid="ignore"):
        quiet = R <= tol
        out = np.zeros(D.shape, dtype=bool)
        out[:, :-1] = (np.abs(D[:, :-1] - D[:, 1:]) <= tol[:, :-1]) & quiet[:, :-1] & quiet[:, 1:]
    return out


def _fd_test(orc: Oracles, X: np.ndarray, directions: int, rng: np.random.Generator) -> dict:
    r"""Finite-difference test of ``grad`` at the points ``X`` along ``directions`` random unit directions each.

    Each pair (point ``x``, direction ``v``) goes down the step ladder (:func:`_ladder`) and is

    * **in agreement** if some step's central difference is within ``FD_RTOL`` (relative) of ``⟨∇f, v⟩``;
    * **in disagreement** if not, while two consecutive steps ``t, t/10`` give central differences within
      ``FD_CONVERGED`` of each other, with rounding bounds ``≈ u|f|/t`` (:func:`_rounding`) below
      ``FD_CONVERGED`` as well: the difference has converged (its truncation error ``≈ t²|f‴|/6`` is about
      ``|D(t) − D(t/10)|·100/99``), the directional derivative of ``f`` is known to ``FD_CONVERGED``, and
      ``grad`` misses it by more than ``FD_RTOL``;
    * **unresolved** otherwise: no step is both small enough for the curvature of ``f`` along ``v`` and
      large enough for its rounding (e.g. ``∇f ≈ 0`` under a large ``|f|``).  It counts for nothing.

    Returns
    -------
    dict
        ``pairs``, ``unresolved``, ``max_error`` (the largest over resolved pairs of the best relative error:
        over all steps for a pair in agreement, over the converged steps for one in disagreement) and
        ``witness`` (the worst pair in disagreement, or None).
    """
    V = unit(rng, len(X) * directions, orc.shape)
    Xr = np.repeat(X, directions, axis=0)
    gr = np.repeat(orc.grad(X), directions, axis=0)
    dd, scale = inner(gr, V), norms(gr) / np.sqrt(orc.d)
    T, FP, FM = _ladder(orc, Xr, V, dd, scale)
    D = (FP - FM) / (2 * T)
    err = _relative_error(D, dd[:, None], scale[:, None])
    best = np.nanmin(err, axis=1)
    agree = best <= FD_RTOL
    at_converged = np.where(_converged(D, _rounding(T, FP, FM), dd, scale), err, np.inf)
    wrong = ~agree & np.isfinite(at_converged.min(axis=1))
    result = {"pairs": len(V), "unresolved": int(np.sum(~agree & ~wrong)),
              "max_error": float(max(np.max(best[agree], initial=0.0),
                                     np.max(at_converged[wrong].min(axis=1), initial=0.0))),
              "witness": None}
    if wrong.any():
        p = int(np.flatnonzero(wrong)[np.argmax(at_converged[wrong].min(axis=1))])
        k = int(np.argmin(at_converged[p]))
        result["witness"] = {
            "test": "grad vs central finite differences of f", "point": Xr[p], "direction": V[p],
            "f": float(orc.f(Xr[p][None])[0]), "step": T[p, k], "finite_difference": D[p, k],
            "finite_difference_at_step_over_10": D[p, k + 1], "directional_derivative_from_grad": dd[p],
            "relative_error": err[p, k], "tolerance": FD_RTOL, "ladder_steps": T[p], "ladder_differences": D[p],
            "note": f"the central differences at steps {T[p, k]:.3g} and {T[p, k + 1]:.3g} agree to "
                    f"{FD_CONVERGED:g} (converged) and no step of the ladder agrees with grad to {FD_RTOL:g}: "
                    "the gradient does not belong to f",
        }
    return result


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
    fd = _fd_test(orc, X, budget.fd_directions, rng)
    err = fd["max_error"]
    estimate: dict[str, object] = {"fd_max_relative_error": err, "fd_points": len(X), "fd_pairs": fd["pairs"],
                                   "fd_unresolved_pairs": fd["unresolved"]}
    method = (f"grad vs central differences of f at {len(X)} points (W0 and the sampling region), "
              f"{budget.fd_directions} random directions each, down the step ladder (1 + |x|) x "
              f"{FD_LADDER[0]:g} ... {FD_LADDER[-1]:g} until a step agrees (tolerance {FD_RTOL:g}); a disagreement "
              f"counts when two consecutive steps agree to {FD_CONVERGED:g} with rounding bounds "
              f"{FD_ROUNDING_ULPS} u |f| / t below that (u the precision of the values of f)")
    witness = fd["witness"]
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
    confidence = ("finite differences are deterministic: a violation is a central difference that has converged "
                  "(truncation and rounding below the tolerance) and still misses grad at every step; pairs "
                  "that never converge are left out, not counted against grad")
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
    if fd["unresolved"] == fd["pairs"]:
        return unverified("oracle", f"finite differences resolved none of the {fd['pairs']} directional derivatives "
                          "(no two steps of the ladder agree: f is too noisy or too curved)", method + ".", estimate)
    parts = [f"FD rel. error {err:.1e}" + (f" ({fd['unresolved']} of {fd['pairs']} pairs unresolved)"
                                           if fd["unresolved"] else "")]
    if sampled:
        parts.append(f"unbiased (max |t| {estimate['max_abs_t']:.2f}, critical {estimate['critical_value']:.2f})")
    elif orc.has_stochastic:
        parts.append("components average to grad")
    return holds("oracle", estimate, method + ".", confidence, "; ".join(parts))
