r"""``positive_expected_projection``: ``λ_min^p = p λ_min(E H_B) + (1−p) λ_min(E H_A) > 0`` (Assumption 1).

:func:`verify.projection.estimate_lambda_p` gives a rigorous interval (matrix Bernstein + Weyl, joint
confidence ``1 − delta``).  **holds** if its lower end is ``> 0``; **violated** if the Monte-Carlo mean
``Ê`` has a common null direction (``λ_min(Ê) <= NULL_TOL``: every sampled projection annihilates it,
as for a fixed-subspace sketch); **unverified** otherwise (the interval touches 0).

The number of sketches doubles (``Budget.projection_samples`` times ``1, 2, …, 2^(ATTEMPTS−1)``) until the
interval decides; each attempt runs at level ``delta/ATTEMPTS`` (Bonferroni), so the reported interval
holds with probability ``>= 1 − delta`` whichever attempt stops.
"""

from __future__ import annotations

import numpy as np

from verify import sketch as sketch_mod
from verify.assumptions.findings import Budget, Finding, holds, unverified, violated
from verify.projection import BernoulliProjector, estimate_lambda_p

__all__ = ["NULL_TOL", "check_projection"]

NULL_TOL = 1e-12
ATTEMPTS = 5


def _null_direction(est) -> dict | None:
    for side, e in (("left (B_S, R^m)", est.left), ("right (A_S^T, R^n)", est.right)):
        if e is not None and e.eigenvalues[0] <= NULL_TOL:
            w, V = np.linalg.eigh(e.mean)
            return {"side": side, "direction": V[:, 0], "lambda_min_of_mean": float(w[0]), "samples": e.samples,
                    "note": "every sampled projection H maps this direction to (numerically) zero"}
    return None


def check_projection(sketch: str, r: int, p: float, shape: tuple[int, int], rng: np.random.Generator,
                     budget: Budget, delta: float = 1e-3) -> Finding:
    """``λ_min^p`` of the sketch with its interval; see the module docstring."""
    dist = sketch_mod.make(sketch)
    m, n = shape
    BernoulliProjector(p, r, dist, dist).validate(m, n)
    for attempt in range(ATTEMPTS):
        est = estimate_lambda_p(dist, dist, m, n, r, p, budget.projection_samples * 2**attempt, rng, delta / ATTEMPTS)
        null = _null_direction(est)
        if null is not None or est.lambda_min_p.lower > 0:
            break
    lo, hi = est.lambda_min_p, est.lambda_max_p
    estimate = {"lambda_min_p": lo.estimate, "lambda_min_p_interval": [lo.lower, lo.upper],
                "lambda_max_p": hi.estimate, "lambda_max_p_interval": [hi.lower, hi.upper],
                "closed_form": None if est.closed_form is None else {"lambda_min_p": est.closed_form[0],
                                                                     "lambda_max_p": est.closed_form[1]},
                "sketch": sketch, "r": r, "p": p, "conservative": {"lambda_min_p": lo.lower, "lambda_max_p": hi.upper}}
    method = (f"{est.method}; sketches doubled from {budget.projection_samples} until decided (attempt "
              f"{attempt + 1} of at most {ATTEMPTS}, each at level {delta / ATTEMPTS:g}).")
    confidence = f"the intervals hold jointly with probability >= {1 - delta:g}."
    if null is not None:
        return violated("positive_expected_projection", estimate, method, confidence + " The mean of "
                        f"{est.samples} projections has an exact null direction.", null,
                        f"lambda_min^p = 0 ({sketch} sketch; interval [{lo.lower:.3g}, {lo.upper:.3g}])")
    if lo.lower > 0:
        return holds("positive_expected_projection", estimate, method, confidence,
                     f"lambda_min^p = {lo.estimate:.4g} [{lo.lower:.4g}, {lo.upper:.4g}] ({sketch}, r={r}, p={p:g})")
    return unverified("positive_expected_projection", f"the interval [{lo.lower:.3g}, {lo.upper:.3g}] for "
                      "lambda_min^p touches 0; more samples may decide", method, estimate)
