r"""Confidence bounds on means over runs, verdicts, slack.

A check observes, at each checkpoint k, one value per run, ``X[:, k]`` (R runs).  The theorem bounds the
**expectation** ``E X[:, k]``.  For each checkpoint we form one-sided Student-t confidence bounds at
level ``1 − alpha_each``:

.. math:: \mathrm{lo}_k = \bar X_k - t_{R-1,1-\alpha}\, s_k/\sqrt R,\qquad
          \mathrm{hi}_k = \bar X_k + t_{R-1,1-\alpha}\, s_k/\sqrt R.

Verdict of a check against bound values ``B_k``:

* **violated** if some ``lo_k > B_k`` (or a run produced NaN/Inf: divergence inside the theorem's
  conditions, reported with its step);
* **holds** if every ``hi_k <= B_k``;
* **inconclusive** otherwise (in particular when the bound is attained: E X = B exactly).

``alpha_each`` is a Bonferroni share of the family-wise level, so the probability of any false
**violated** verdict over all checkpoints of all checks is at most the family-wise α, to the accuracy of
the t approximation.  The t bounds are asymptotic (CLT).  Our measures are non-negative and
right-skewed; for such data a large sample mean comes with a large sample variance, which makes the
*lower* bound conservative (the one a violated verdict rests on) and the *upper* bound, which a holds
verdict rests on, possibly anti-conservative.  Comparisons allow a relative ``rtol`` (default 1e-9)
for floating-point rounding only, so that a deterministic run that attains its bound exactly is not
flagged.  Below the **floating-point floor** ``atol`` (by default ``FLOOR = 1e-12`` times the check's
initial scale: the measure at its first checkpoint, or Φ at W^0 for one-step tests) float64 cannot
resolve the quantities (e.g. ``‖W − W*‖²`` is at about ``(eps‖W*‖)²``), so a checkpoint whose bound is
below ``atol`` is not tested and does not count for the slack.

**Slack** = min over checkpoints of ``B_k / mean_k``: the factor by which the bound could shrink before
the observed mean would cross it.  A slack near 1 means the check can catch small bound errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from verify.blocks import Moments

VERDICTS = ("holds", "violated", "inconclusive", "not_applicable")
RTOL = 1e-9
FLOOR = 1e-12


@dataclass(frozen=True)
class MeanBounds:
    """Per-checkpoint sample mean and one-sided confidence bounds, arrays of shape (K,)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    std: np.ndarray
    runs: int
    alpha_each: float


def mean_bounds(X: np.ndarray, alpha_each: float) -> MeanBounds:
    """One-sided Student-t bounds on the mean of each column of ``X`` (R, K) at level 1 − alpha_each."""
    return moment_bounds(Moments.of(X), alpha_each)


def moment_bounds(moments: Moments, alpha_each: float) -> MeanBounds:
    """One-sided Student-t bounds on the means from the runs' :class:`Moments` at level 1 − alpha_each."""
    R = moments.count
    if R < 2:
        raise ValueError(f"need at least 2 runs for a confidence bound, got {R}")
    if not 0 < alpha_each < 1:
        raise ValueError(f"alpha_each must be in (0, 1), got {alpha_each}")
    std = moments.std()
    half = sps.t.ppf(1 - alpha_each, df=R - 1) * std / np.sqrt(R)
    return MeanBounds(moments.mean, moments.mean - half, moments.mean + half, std, R, alpha_each)


@dataclass(frozen=True)
class Verdict:
    """The verdict of one check, with the checkpoint index that decided it (or None) and why."""

    verdict: str
    index: int | None
    reason: str


def first_nonfinite_step(X: np.ndarray) -> int | None:
    """The first column index of ``X`` (R, K) holding NaN or Inf in any run, or None."""
    bad = ~np.isfinite(X).all(axis=0)
    return int(np.argmax(bad)) if bad.any() else None


def decide(bounds: MeanBounds, bound: np.ndarray, rtol: float = RTOL, atol: float = 0.0) -> Verdict:
    """Compare confidence bounds with the theorem's bound values (see the module docstring)."""
    bound = np.asarray(bound, dtype=float)
    limit = np.where(bound > atol, bound * (1 + rtol), np.inf)
    above = bounds.lower > limit
    if above.any():
        k = int(np.argmax(above))
        return Verdict("violated", k, f"lower confidence bound {bounds.lower[k]:.6g} > bound {bound[k]:.6g}")
    below = bounds.upper <= limit
    if below.all():
        return Verdict("holds", None, "upper confidence bound below the bound at every checkpoint")
    k = int(np.argmin(np.where(below, np.inf, limit - bounds.upper)))
    return Verdict("inconclusive", k,
                   f"bound {bound[k]:.6g} lies inside the confidence interval "
                   f"[{bounds.lower[k]:.6g}, {bounds.upper[k]:.6g}]")


@dataclass(frozen=True)
class Slack:
    """``value`` = min_k bound_k/mean_k at checkpoint ``index``; ``interval`` = bound/upper, bound/lower there."""

    value: float
    index: int
    interval: tuple[float, float]


def slack(bounds: MeanBounds, bound: np.ndarray, atol: float = 0.0) -> Slack:
    """Slack of a check: the smallest ratio bound/observed mean over the checkpoints above the floor."""
    bound = np.asarray(bound, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((bounds.mean > 0) & (bound > atol), bound / bounds.mean, np.inf)
    k = int(np.argmin(ratio))
    with np.errstate(divide="ignore"):
        lo = bound[k] / bounds.upper[k] if bounds.upper[k] > 0 else np.inf
        hi = bound[k] / bounds.lower[k] if bounds.lower[k] > 0 else np.inf
    return Slack(float(ratio[k]), k, (float(lo), float(hi)))


def log_grid(T: int, points: int = 24, start: int = 1) -> np.ndarray:
    """About ``points`` distinct integers from ``start`` to ``T`` (inclusive), evenly spaced in log scale."""
    if T < start:
        raise ValueError(f"T = {T} is below the first checkpoint {start}")
    if T - start + 1 <= points:
        return np.arange(start, T + 1)
    return np.unique(np.round(np.geomspace(start, T, num=points)).astype(int))
