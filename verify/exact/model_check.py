r"""Two-sided model check: do the Monte-Carlo means of real runs equal the exact expectations?

The one-sided verdicts of :mod:`verify.stats` cannot see an implementation that converges **faster** than
the method it claims to be (a wrong coin, a dropped noise term, a larger step): the bound still holds.  On a
quadratic the expectation is known exactly (:mod:`verify.exact.engine`), so the runs can be tested against
it in both directions.

At each of the ``K`` checkpoints, with ``R`` runs, sample mean ``X̄``, standard deviation ``s`` and
``q = t_{R−1, 1 − α/(2K)}`` (two-sided, Bonferroni over the checkpoints), the confidence interval for the
mean is

.. math:: \Big[\bar X - \frac{s}{\sqrt R}\max(q, g^{-1}(q)),\ \bar X - \frac{s}{\sqrt R}\min(-q, g^{-1}(-q))\Big],

with Hall's transformation ``g`` of :func:`verify.stats.hall_inverse` when the skewness is given (the wider
of the corrected and the Student-t end on each side, as :func:`verify.stats.moment_bounds` does), the plain
Student-t interval otherwise.  An exact value below the interval means the runs are **too slow** (their
measure is larger than the method's), above it **too fast**.  Under a correct implementation the
probability of any flag is at most α up to the accuracy of the approximation.  Differences below
``rtol·|exact| + atol`` are rounding (``atol`` defaults to :data:`verify.stats.FLOOR` times the largest
``|exact|``, the floating-point floor), e.g. a deterministic checkpoint whose runs all agree.

:func:`exact_slack` is the slack of the bound against the exact expectation instead of a noisy mean:
``bound_T / E[measure_T]`` at every checkpoint, and its minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from verify import stats, symbolic
from verify.exact.prepared import exact_measure, theorem_values

__all__ = ["ExactSlack", "ModelCheck", "check_prepared", "exact_slack", "two_sided", "two_sided_moments"]


@dataclass(frozen=True)
class ModelCheck:
    """Outcome of :func:`two_sided`.

    Attributes
    ----------
    verdict : {"agrees", "too_fast", "too_slow", "too_fast_and_slow"}
        ``too_fast``: at some checkpoint the exact expectation lies above the interval (the runs' measure is
        significantly smaller); ``too_slow``: below it.
    flags : list of str
        Per checkpoint ``""``, ``"fast"`` or ``"slow"``.
    z : ndarray
        ``(X̄ − exact)/(s/√R)`` (``±inf`` where ``s = 0`` and the difference exceeds rounding).
    lower, upper : ndarray
        The confidence interval of each mean.
    exact, mean : ndarray
    alpha : float
        Family-wise level over the checkpoints.
    critical : float
        ``q``.
    """

    verdict: str
    flags: list[str]
    z: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    exact: np.ndarray
    mean: np.ndarray
    runs: int
    alpha: float
    critical: float

    @property
    def max_abs_z(self) -> float:
        return float(np.max(np.abs(self.z))) if self.z.size else 0.0

    def describe(self) -> str:
        """One line: the verdict, the largest |z| and where the first flag is."""
        where = next((i for i, f in enumerate(self.flags) if f), None)
        at = "" if where is None else (f"; first flag at checkpoint {where}: mean {self.mean[where]:.6g}, exact "
                                       f"{self.exact[where]:.6g}, interval [{self.lower[where]:.6g}, "
                                       f"{self.upper[where]:.6g}]")
        return f"{self.verdict}: max |z| = {self.max_abs_z:.3g} (critical {self.critical:.3g}, {self.runs} runs){at}"


def two_sided(mean: Any, std: Any, runs: int, exact: Any, alpha: float = 1e-3, skewness: Any = None,
              rtol: float = stats.RTOL, atol: float | None = None) -> ModelCheck:
    """Test ``E X_k = exact_k`` at every checkpoint k, two-sided, Bonferroni over the checkpoints (module docstring).

    Parameters
    ----------
    mean, std : array_like, shape (K,)
        Per-checkpoint sample mean and standard deviation (ddof = 1) of ``runs`` independent runs.
    runs : int
        ``R >= 2``.
    exact : array_like, shape (K,)
        The exact expectations.
    alpha : float
        Family-wise level over the K checkpoints.
    skewness : array_like, shape (K,), optional
        Sample skewness; enables Hall's correction.
    rtol, atol : float
        Rounding tolerance (see the module docstring).
    """
    mean, std, exact = (np.asarray(x, dtype=float) for x in (mean, std, exact))
    if runs < 2:
        raise ValueError(f"need at least 2 runs, got {runs}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    K = mean.size
    q = float(sps.t.ppf(1 - alpha / (2 * K), df=runs - 1))
    scale = std / np.sqrt(runs)
    lo_q, hi_q = q, -q
    if skewness is not None:
        g = np.asarray(skewness, dtype=float)
        lo_q = np.maximum(q, stats.hall_inverse(q, g, runs))
        hi_q = np.minimum(-q, stats.hall_inverse(-q, g, runs))
    with np.errstate(invalid="ignore"):
        lower = mean - scale * lo_q
        upper = mean - scale * hi_q
    floor = stats.FLOOR * float(np.max(np.abs(exact))) if atol is None else atol
    tol = rtol * np.abs(exact) + floor
    slow = exact < lower - tol
    fast = exact > upper + tol
    diff = mean - exact
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(np.abs(diff) <= tol, 0.0, diff / scale)
    flags = ["slow" if s else "fast" if f else "" for s, f in zip(slow, fast, strict=True)]
    verdict = ("too_fast_and_slow" if slow.any() and fast.any() else "too_slow" if slow.any()
               else "too_fast" if fast.any() else "agrees")
    return ModelCheck(verdict, flags, z, lower, upper, exact, mean, int(runs), float(alpha), q)


def two_sided_moments(moments: Any, exact: Any, alpha: float = 1e-3, **kwargs: Any) -> ModelCheck:
    """:func:`two_sided` from mergeable :class:`verify.blocks.Moments` (a check's checkpoint moments),
    with Hall's correction from their skewness."""
    return two_sided(moments.mean, moments.std(), moments.count, exact, alpha, skewness=moments.skewness(), **kwargs)


@dataclass(frozen=True)
class ExactSlack:
    """``ratio[k] = bound_k / E[measure_k]`` at the checkpoints; ``value`` its minimum at checkpoint ``T``."""

    checkpoints: np.ndarray
    bound: np.ndarray
    exact: np.ndarray
    ratio: np.ndarray
    value: float
    T: int


def exact_slack(checkpoints: Any, bound: Any, exact: Any, atol: float = 0.0) -> ExactSlack:
    """Slack of a bound against the exact expectation (checkpoints where either is ``<= atol`` are skipped)."""
    T = np.asarray(checkpoints, dtype=int)
    bound, exact = np.asarray(bound, dtype=float), np.asarray(exact, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((exact > atol) & (bound > atol), bound / exact, np.inf)
    k = int(np.argmin(ratio))
    return ExactSlack(T, bound, exact, ratio, float(ratio[k]), int(T[k]))


def check_prepared(prep: Any, moments: Any, checkpoints: Any, alpha: float = 1e-3) -> tuple[ModelCheck, ExactSlack]:
    """Model check and exact slack of a prepared check (:func:`verify.check.prepare`) from its runs' checkpoint
    moments (e.g. :func:`verify.check.run_block` merged).

    Returns
    -------
    (ModelCheck, ExactSlack)
        The two-sided test of the runs against the exact expectation of the theorem's measure, and
        ``bound / exact`` (with ``bound_scale``) at every checkpoint above the floating-point floor.
    """
    exact = exact_measure(prep, checkpoints)
    values = theorem_values(prep)
    bound = prep.spec.bound_scale * symbolic.evaluate(prep.theorem.bound, values, checkpoints, prep.theorem)
    floor = stats.FLOOR * float(np.max(np.abs(exact)))
    return two_sided_moments(moments, exact, alpha), exact_slack(checkpoints, bound, exact, atol=floor)
