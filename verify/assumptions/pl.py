r"""``pl``: the Polyak-Łojasiewicz inequality ``½‖∇f(W)‖² >= μ (f(W) − f*)`` (Assumption 6).

The **PŁ ratio** ``ρ(W) = ½‖∇f(W)‖²/(f(W) − f*)`` is sampled at the region points, along gradient descent
trajectories (Armijo backtracking, from ``W0`` and two region points: on a quadratic they align with the
slowest eigenvector, where ``ρ`` attains ``μ``), at the solver's end points and on rays from ``Ŵ``.
Gaps below the float64 floor (see :attr:`Landscape.gap_floor`) are skipped.

* estimate: ``μ̂ = min ρ``, an **upper** estimate of the best PŁ constant (the true one is ``inf ρ``);
* **violated** (a non-global stationary point): a point where a solver run or a descent stopped whose ratio is
  below ``STATIONARY_CONTRAST ×`` the median ratio of the region while ``f − f*`` is resolved;
* **violated** (a non-minimal stationary point): when no stopping point is a witness, stationary points that
  descent avoids (saddles, maxima) are searched by minimising ``½‖∇f‖²`` from several starts
  (:mod:`verify.assumptions.stationary`); a point where that search stops is a witness by the same rule
  (``ρ <= STATIONARY_CONTRAST ×`` median with ``f − f* >`` the float64 floor, so a minimiser whose gap is
  rounding is not), of kind ``"non-minimal stationary point"`` when the finite-difference Hessian there
  has a negative curvature (a saddle or a maximum), ``"non-global stationary point"`` otherwise;
* **violated** (``μ = 0`` at infinity): ``ρ`` decaying like ``1/‖W‖`` along rays (e.g. ``‖W − W*‖``).

A PŁ function has ``ρ >= μ`` everywhere, so none of its points is a witness unless ``μ`` is below
``STATIONARY_CONTRAST ×`` its median ratio.
"""

from __future__ import annotations

import numpy as np

from verify.assumptions.adapter import OracleError, Oracles
from verify.assumptions.curvature import radial_points
from verify.assumptions.findings import Budget, Finding, holds, unverified, violated
from verify.assumptions.landscape import Landscape, norms
from verify.assumptions.stationary import Search, curvature_at, search_stationary

__all__ = ["RADIAL", "STATIONARY_CONTRAST", "check_pl", "descend"]

STATIONARY_CONTRAST = 1e-8
"""A stopping point whose PŁ ratio is below this fraction of the median ratio is a non-global stationary point."""

RADIAL = (1.0, 10.0, 100.0)
"""Ray points from ``Ŵ`` at these multiples of the radius."""

DECAY = -0.5
"""A log10 decrease of the ratio per decade of distance below this, over both decades, is ``μ → 0``."""


def descend(orc: Oracles, X0: np.ndarray, steps: int, f_star: float, floor: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradient descent with Armijo backtracking (``f(Y) <= f(X) − ½ s‖∇f‖²``) from each row of ``X0``.

    A trajectory stops when its gap ``f − f*`` falls below ``floor`` or backtracking fails 60 times.

    Returns
    -------
    X, fX, gnorm : ndarrays
        Every iterate ``(T, m, n)``, its value ``(T,)`` and gradient norm ``(T,)``.
    last : (K,) ndarray of int
        Row of each trajectory's last iterate in ``X``.
    """
    X, fX, G = X0.copy(), orc.f(X0), orc.grad(X0)
    s = np.ones(len(X))
    active = fX - f_star > floor
    rows, vals, gn = [X.copy()], [fX.copy()], [norms(G)]
    last, count = np.arange(len(X)), len(X)  # count: rows so far
    for _ in range(steps):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        s[idx] *= 2.0
        todo = idx
        for _ in range(60):
            Y = X[todo] - s[todo, None, None] * G[todo]
            fY = orc.f(Y)
            ok = fY <= fX[todo] - 0.5 * s[todo] * norms(G[todo]) ** 2
            X[todo[ok]], fX[todo[ok]] = Y[ok], fY[ok]
            s[todo[~ok]] *= 0.5
            todo = todo[~ok]
            if todo.size == 0:
                break
        active[todo] = False
        moved = np.setdiff1d(idx, todo)
        if moved.size == 0:
            break
        G[moved] = orc.grad(X[moved])
        last[moved] = count + np.arange(moved.size)
        count += moved.size
        rows.append(X[moved].copy())
        vals.append(fX[moved].copy())
        gn.append(norms(G[moved]))
        active[moved] &= fX[moved] - f_star > floor
    return np.concatenate(rows), np.concatenate(vals), np.concatenate(gn), last


def _ratios(fx: np.ndarray, gnorm: np.ndarray, f_star: float, floor: float) -> np.ndarray:
    """``½‖∇f‖²/(f − f*)`` where the gap is resolved, NaN elsewhere."""
    gap = fx - f_star
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap > floor, 0.5 * gnorm**2 / gap, np.nan)


def _median(region: np.ndarray, traj: np.ndarray) -> float:
    """The median resolved ratio of the region, else of the descent iterates, else NaN (nothing resolved)."""
    for r in (region, traj):
        if np.any(np.isfinite(r)):
            return float(np.nanmedian(r))
    return float("nan")


def _stationary_witness(X: np.ndarray, fx: np.ndarray, gnorm: np.ndarray, f_star: float, floor: float,
                        median: float) -> dict | None:
    """The point of largest gap among those with ``ρ <= STATIONARY_CONTRAST × median`` and a resolved gap."""
    r = _ratios(fx, gnorm, f_star, floor)
    bad = np.flatnonzero(r <= STATIONARY_CONTRAST * median)
    if bad.size == 0:
        return None
    k = bad[np.argmax(fx[bad] - f_star)]
    return {"kind": "non-global stationary point", "point": X[k], "f": fx[k], "f_star": f_star,
            "gap": fx[k] - f_star, "grad_norm": gnorm[k], "ratio": r[k], "median_ratio_in_region": median,
            "rule": f"ratio <= {STATIONARY_CONTRAST:g} x median ratio with a resolved gap f - f* > {floor:.3g}"}


def _search_witness(orc: Oracles, land: Landscape, median: float, rng: np.random.Generator, budget: Budget
                    ) -> tuple[dict | None, Search]:
    """Minimise ``½‖∇f‖²`` (:func:`~verify.assumptions.stationary.search_stationary`): the witness among the
    stopping points, labelled by the curvature of ``f`` there, and the search."""
    found = search_stationary(orc, land, budget)
    witness = _stationary_witness(found.points, found.f, found.grad_norm, land.f_star, land.gap_floor, median)
    if witness is None:
        return None, found
    witness["found_by"] = (f"minimising (1/2)||grad f||^2 from {len(found.starts)} starts (L-BFGS-B, Hessian-vector "
                           "products by central differences of grad)")
    try:
        curv = curvature_at(orc, witness["point"], budget.power_iters, rng)
    except OracleError:  # the point stands as a witness; only its label needs the curvature
        return witness, found
    if curv.pop("saddle_or_maximum"):
        witness["kind"] = "non-minimal stationary point"
    witness.update(curv)
    return witness, found


def _search_method(found: Search, budget: Budget) -> str:
    """The method text of the search for stationary points."""
    text = (f"; no stopping point was stationary, so stationary points were searched by minimising (1/2)||grad f||^2 "
            f"(L-BFGS-B, Hessian-vector products by central differences of grad, at most {budget.stationary_iters} "
            f"iterations) from {len(found.starts)} starts (the origin, W0, (W0 + W_hat)/2, region points)")
    if found.interrupted:
        text += f", {found.interrupted} of them stopped by an error of the problem's code"
    return text


def _radial_witness(orc: Oracles, land: Landscape, f_star: float, rng: np.random.Generator) -> dict | None:
    P = radial_points(land.centres[1], land.radius, RADIAL, 3, rng)
    flat = P.reshape(-1, *orc.shape)
    r = _ratios(orc.f(flat), norms(orc.grad(flat)), f_star, land.gap_floor).reshape(P.shape[:2])
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.log10(r[:, 1:] / r[:, :-1]) / np.log10(np.array(RADIAL[1:]) / np.array(RADIAL[:-1]))
    for k in range(len(P)):
        if np.all(slopes[k] < DECAY):
            return {"kind": "ratio decays along a ray", "centre": land.centres[1], "points": P[k],
                    "distances": [land.radius * x for x in RADIAL], "ratios": r[k],
                    "rule": f"log10 ratio drops by more than {-DECAY} per decade of distance, twice: mu -> 0"}
    return None


def check_pl(orc: Oracles, land: Landscape, rng: np.random.Generator, budget: Budget) -> Finding:
    """Sampled PŁ ratios; violated at a non-global or non-minimal stationary point (where a descent or the solver
    stopped, or where the search for stationary points stopped) or when the ratio decays at infinity."""
    if land.f_star is None:
        return unverified("pl", f"no value of f* ({land.no_solution})")
    f_star, floor = land.f_star, land.gap_floor
    region_f, region_g = orc.f(land.points), norms(orc.grad(land.points))
    region = _ratios(region_f, region_g, f_star, floor)
    starts = np.concatenate([land.W0[None], land.points[[len(land.points) // 6, len(land.points) // 2]]])
    X, fx, gn, last = descend(orc, starts, budget.gd_steps, f_star, floor)
    traj = _ratios(fx, gn, f_star, floor)
    median = _median(region, traj)
    method = (f"PL ratio (1/2)||grad f||^2 / (f - f*) at {len(land.points)} region points, {len(X)} iterates of "
              f"{len(starts)} gradient-descent runs (Armijo), {len(land.endpoints)} solver end points, 9 ray points; "
              f"f* {land.f_star_how}; gaps below {floor:.2g} skipped")
    stops = np.concatenate([land.endpoints, X[last]])
    witness = _stationary_witness(stops, np.concatenate([land.endpoint_f, fx[last]]),
                                  np.concatenate([land.endpoint_grad_norm, gn[last]]), f_star, floor, median)
    searched = np.zeros(0)
    if witness is None:
        witness, found = _search_witness(orc, land, median, rng, budget)
        searched = _ratios(found.f, found.grad_norm, f_star, floor)
        method += _search_method(found, budget)
    witness = witness or _radial_witness(orc, land, f_star, rng)
    all_r = np.concatenate([region, traj, _ratios(land.endpoint_f, land.endpoint_grad_norm, f_star, floor),
                            searched])
    if np.all(np.isnan(all_r)):
        return unverified("pl", "every sampled gap f - f* is below the float64 floor", method + ".")
    k = int(np.nanargmin(all_r))
    mu = float(all_r[k])
    estimate = {"mu": mu, "kind": "upper estimate (smallest sampled ratio)", "f_star": f_star,
                "f_star_source": land.f_star_how, "median_ratio": median}
    if witness is not None:
        estimate["mu"] = float(witness["ratio"]) if "ratio" in witness else float(np.nanmin(witness["ratios"]))
        return violated("pl", estimate, method + ".",
                        "the witness is a concrete point (or ray) where the ratio is far below the rest; a PL "
                        "constant would have to be at most its ratio there. f* is "
                        + ("exact (given)." if orc.f_star is not None else "the solver's estimate."),
                        witness, f"not PL: {witness['kind']}")
    return holds("pl", estimate, method + ".",
                 "mu estimate is an UPPER estimate: the best PL constant is inf of the ratio, at most the smallest "
                 "sampled value; on quadratics the descent runs approach the infimum. "
                 + ("f* is exact (given)." if orc.f_star is not None else
                    "f* comes from a solver (an upper estimate of inf f), which makes ratios larger."),
                 f"mu <= {mu:.4g} (smallest sampled ratio)")
