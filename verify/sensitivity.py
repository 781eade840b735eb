r"""How small an error in a theorem's bound a check can see: its **sensitivity figures**, and the rate slack.

A check compares a curve that lies *below the truth* with the bound ``B(T)`` at its checkpoints
``T_1 < … < T_K``: the lower confidence bounds ``lo_k`` of the Monte-Carlo mean (what the verdict rests on,
:mod:`verify.stats`), or an exact expectation where one is known (then the figure is what any perfect check
could see on this instance).  A bound error is *detected* when the wrong bound falls below that curve at
some checkpoint above the floating-point floor.  Two families of errors:

* **constant**: the bound is ``(1 − ε) B``.  Detected iff ``(1 − ε) B_k < lo_k`` for some k, so the smallest
  detectable error is

  .. math:: \varepsilon_{\rm const} = 1 - \max_k \frac{\mathrm{lo}_k}{B_k}

  (0 when the check is already violated; 1 when no ``lo_k`` is positive).
* **rate**: the bound's dependence on the horizon runs (1 + ε) times faster, ``B((1 + ε)T)``.  For a
  contraction ``(1 − γμλ)^T Δ0`` this is the exponent (≈ μ → (1 + ε)μ); for ``C/T`` it equals a constant
  error ``1/(1 + ε)``; for a bound with a noise floor it moves only the transient.  ``ε_rate`` is the
  smallest ε in (0, ``eps_max``] with ``B((1 + ε)T_k) < lo_k`` at some k, found on a log grid and refined
  by bisection; None when even ``eps_max`` (default 1: a factor 2 in the rate) is not detected.

**Rate slack.**  The constant slack min_k B_k/mean_k of a PŁ theorem sits at T = 1, where every bound is
≈ Φ0 whatever its rate, so it says nothing about the rate.  The rate slack compares the log-decrease of
the observed curve with that of the bound over the second half of the horizon (from the checkpoint
nearest T/2 to the last one above the floor):

.. math:: \mathrm{rate\ slack} = \frac{\log(\mathrm{mean}_b/\mathrm{mean}_a)}{\log(B_b/B_a)},

1 when the bound's rate is attained, above 1 when the observed curve decays faster; None when the bound
or the mean does not decrease there (e.g. a curve at its noise floor) or the mean is not positive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Largest rate error searched: a factor 2.
EPS_MAX = 1.0
_GRID = 48


@dataclass(frozen=True)
class Sensitivity:
    """Smallest detectable relative errors (``None``: not detectable up to :data:`EPS_MAX`) and rate slack."""

    constant: float | None
    rate: float | None
    rate_slack: float | None


def constant_error(lower: np.ndarray, bound: np.ndarray, atol: float = 0.0) -> float | None:
    """``1 − max_k lo_k/B_k`` over the checkpoints with ``B_k > atol`` (module docstring); None if none."""
    lower, bound = np.asarray(lower, dtype=float), np.asarray(bound, dtype=float)
    ok = (bound > atol) & np.isfinite(lower) & np.isfinite(bound)
    if not ok.any():
        return None
    best = float(np.max(lower[ok] / bound[ok]))
    return min(1.0, max(0.0, 1.0 - best))


def rate_error(lower: np.ndarray, checkpoints: np.ndarray, bound_at: Callable[[np.ndarray], np.ndarray],
               atol: float = 0.0, eps_max: float = EPS_MAX) -> float | None:
    """Smallest ε in (0, eps_max] with ``bound_at((1+ε)T_k) < lo_k`` at some checkpoint (module docstring).

    ``bound_at(T)`` evaluates the bound at real horizons T (:func:`verify.symbolic.in_T`).
    """
    lower = np.asarray(lower, dtype=float)
    T = np.asarray(checkpoints, dtype=float)
    base = bound_at(T)
    use = (base > atol) & np.isfinite(lower) & (lower > 0)
    if not use.any():
        return None

    def caught(eps: float) -> bool:
        b = bound_at(T[use] * (1 + eps))
        return bool(np.any(lower[use] > b))

    if caught(0.0):
        return 0.0
    grid = np.geomspace(1e-4, eps_max, _GRID)
    hits = [e for e in grid if caught(float(e))]
    if not hits:
        return None
    hi = float(hits[0])
    below = grid[grid < hi]
    lo = float(below[-1]) if below.size else 0.0
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if caught(mid) else (mid, hi)
    return hi


def rate_slack(mean: np.ndarray, bound: np.ndarray, checkpoints: np.ndarray, atol: float = 0.0) -> float | None:
    """Observed over bound log-decrease on the second half of the horizon (module docstring)."""
    mean, bound = np.asarray(mean, dtype=float), np.asarray(bound, dtype=float)
    T = np.asarray(checkpoints, dtype=float)
    above = np.flatnonzero((mean > atol) & (bound > atol) & np.isfinite(mean) & np.isfinite(bound))
    if above.size < 2:
        return None
    b = int(above[-1])
    a = int(above[np.argmin(np.abs(T[above] - T[b] / 2))])
    if a == b or mean[a] <= 0 or bound[b] >= bound[a] or mean[b] >= mean[a]:
        return None
    return float(np.log(mean[b] / mean[a]) / np.log(bound[b] / bound[a]))


def sensitivity(lower: np.ndarray, mean: np.ndarray, bound: np.ndarray, checkpoints: np.ndarray,
                bound_at: Callable[[np.ndarray], np.ndarray], atol: float = 0.0) -> Sensitivity:
    """All three figures of one curve against one bound (``bound`` = ``bound_at(checkpoints)``)."""
    return Sensitivity(constant_error(lower, bound, atol), rate_error(lower, checkpoints, bound_at, atol),
                       rate_slack(mean, bound, checkpoints, atol))
