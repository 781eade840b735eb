r"""Confidence bounds on means over runs, verdicts, slack.

A check observes, at each checkpoint k, one value per run, ``X[:, k]`` (R runs).  The theorem bounds the
**expectation** ``E X[:, k]``.  For each checkpoint we form one-sided confidence bounds at level
``1 − alpha_each`` from the studentised mean ``T = √R (X̄ − μ)/s``.

**Skew-aware critical values.**  The plain Student-t bounds ``X̄ ∓ t_{R−1,1−α} s/√R`` are exact only for
normal data.  For skewed data the studentised mean is itself skewed: its one-term Edgeworth expansion
(Hall 1992, *The Bootstrap and Edgeworth Expansion*, §2.6) is

.. math:: P(T \le x) = \Phi(x) + \frac{\gamma}{6\sqrt R}(2x^2 + 1)\,\phi(x) + O(R^{-1}),

with γ the skewness of one run.  For **left**-skewed data (γ < 0: one-step draws
``Φ_{t+1} = Φ_t(1 − cos²θ)``, early gap values) the upper tail of T is heavier than the t distribution's,
so the plain *lower* bound, on which a **violated** verdict rests, is anti-conservative (measured: a
1.5 % false-alarm rate at α = 1 %).  For right-skewed data (late gap values, products of contractions) the
plain *upper* bound, on which **holds** rests, is the anti-conservative one.  Hall's (1992, *JRSS B* 54,
221–228) monotone transformation removes the O(R^{−1/2}) term:

.. math:: g(t) = t + a t^2 + \tfrac{a^2}{3} t^3 + c,\qquad a = \frac{\hat\gamma}{3\sqrt R},\quad
          c = \frac{\hat\gamma}{6\sqrt R},

so that ``g(T)`` is standard normal to O(R^{−1}) (substituting ``g^{-1}(y) ≈ y − a y² − c`` into the
expansion cancels the γ term).  With ``q = t_{R−1, 1−α}`` the corrected bounds are

.. math:: \mathrm{lo} = \bar X - \frac{s}{\sqrt R}\, g^{-1}(q),\qquad
          \mathrm{hi} = \bar X - \frac{s}{\sqrt R}\, g^{-1}(-q),\qquad
          g^{-1}(y) = \frac{\sqrt[3]{1 + 3a(y - c)} - 1}{a},

with γ̂ = (M₃/R)/(M₂/R)^{3/2} the sample skewness (:meth:`verify.blocks.Moments.skewness`).  The
correction is applied **only where it is conservative**: ``lo`` is the smaller of the plain-t and the
corrected lower bound, ``hi`` the larger of the two upper bounds.  Where the t bound is already
conservative (right skew for ``lo``, left skew for ``hi``) it is kept, so no verdict is less cautious
than a t-test's.  ``benchmarks/bench_false_alarm.py`` measures the resulting false-alarm rates on
instances where the bound is attained (the table is in ``benchmarks/README.md``).

**Minimum runs.**  γ̂ from a handful of runs is unreliable (|γ̂| ≤ (R − 2)/√(R − 1) whatever the
data), so with fewer than :data:`MIN_RUNS_VIOLATED` runs a check whose measure is left-skewed at the
deciding checkpoint (γ̂ < 0) does not say **violated** from that checkpoint: it says **inconclusive**
and why.  Divergence (NaN/Inf) is violated at any R.

Verdict of a check against bound values ``B_k``:

* **violated** if some ``lo_k > B_k`` (or a run produced NaN/Inf: divergence inside the theorem's
  conditions, reported with its step);
* **holds** if every ``hi_k <= B_k``;
* **inconclusive** otherwise (in particular when the bound is attained: E X = B exactly).

``alpha_each`` is a Bonferroni share of the family-wise level, so the probability of any false
**violated** verdict over all checkpoints of all checks is at most the family-wise α, to the accuracy of
the corrected approximation (O(R^{−1}) instead of O(R^{−1/2})).  Comparisons allow a relative ``rtol``
(default 1e-9) for floating-point rounding only, so that a deterministic run that attains its bound
exactly is not flagged.  Below the **floating-point floor** ``atol`` (by default ``FLOOR = 1e-12`` times
the check's initial scale: the measure at its first checkpoint, or Φ at W^0 for one-step tests) float64
cannot resolve the quantities (e.g. ``‖W − W*‖²`` is at about ``(eps‖W*‖)²``), so a checkpoint whose
bound is below ``atol`` is not tested and does not count for the slack.

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
#: Below this many runs a left-skewed checkpoint cannot decide "violated" (see the module docstring).
MIN_RUNS_VIOLATED = 16


@dataclass(frozen=True)
class MeanBounds:
    """Per-checkpoint sample mean, one-sided confidence bounds, std and skewness, arrays of shape (K,)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    std: np.ndarray
    skewness: np.ndarray
    runs: int
    alpha_each: float


def mean_bounds(X: np.ndarray, alpha_each: float) -> MeanBounds:
    """Skew-aware one-sided bounds on the mean of each column of ``X`` (R, K) at level 1 − alpha_each."""
    return moment_bounds(Moments.of(X), alpha_each)


def hall_inverse(y: float, gamma: np.ndarray, R: int) -> np.ndarray:
    r"""``g^{-1}(y)`` of Hall's transformation with skewness ``gamma`` (per column) and ``R`` runs.

    ``g(t) = t + a t² + a² t³/3 + c = ((1 + a t)³ − 1)/(3a) + c`` is increasing, so
    ``g^{-1}(y) = (∛(1 + 3a(y − c)) − 1)/a``, computed as ``expm1(log1p(u)/3)/a`` with ``u = 3a(y − c)``
    where ``u > −1`` (no cancellation for small ``a``); ``g^{-1}(y) = y`` at ``a = 0``.
    """
    a = np.asarray(gamma, dtype=float) / (3 * np.sqrt(R))
    c = a / 2
    u = 3 * a * (y - c)
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.where(u > -1, np.expm1(np.log1p(np.maximum(u, -1 + 1e-300)) / 3), np.cbrt(1 + u) - 1)
        return np.where(a == 0, y, root / np.where(a == 0, 1.0, a))


def moment_bounds(moments: Moments, alpha_each: float) -> MeanBounds:
    """Skew-aware one-sided bounds on the means from the runs' :class:`Moments` at level 1 − alpha_each.

    ``lower = X̄ − s/√R · max(q, g^{-1}(q))`` and ``upper = X̄ − s/√R · min(−q, g^{-1}(−q))`` with
    ``q = t_{R−1, 1−alpha_each}`` and Hall's ``g`` (module docstring): the skewness correction where it is
    conservative, the Student-t bound where that is.
    """
    R = moments.count
    if R < 2:
        raise ValueError(f"need at least 2 runs for a confidence bound, got {R}")
    if not 0 < alpha_each < 1:
        raise ValueError(f"alpha_each must be in (0, 1), got {alpha_each}")
    std = moments.std()
    gamma = moments.skewness()
    q = float(sps.t.ppf(1 - alpha_each, df=R - 1))
    scale = std / np.sqrt(R)
    with np.errstate(invalid="ignore"):
        lower = moments.mean - scale * np.maximum(q, hall_inverse(q, gamma, R))
        upper = moments.mean - scale * np.minimum(-q, hall_inverse(-q, gamma, R))
    return MeanBounds(moments.mean, lower, upper, std, gamma, R, alpha_each)


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
    undecidable = above & (bounds.runs < MIN_RUNS_VIOLATED) & (bounds.skewness < 0)
    if (above & ~undecidable).any():
        k = int(np.argmax(above & ~undecidable))
        return Verdict("violated", k, f"lower confidence bound {bounds.lower[k]:.6g} > bound {bound[k]:.6g}")
    if undecidable.any():
        k = int(np.argmax(undecidable))
        return Verdict("inconclusive", k,
                       f"lower confidence bound {bounds.lower[k]:.6g} > bound {bound[k]:.6g}, but the measure is "
                       f"left-skewed there (skewness {bounds.skewness[k]:.2g}) and {bounds.runs} runs are fewer "
                       f"than the {MIN_RUNS_VIOLATED} a skewed violated verdict needs")
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
