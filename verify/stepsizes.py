r"""Stepsize rules: ``gamma_t = rule(t, W, G, problem)``, a scalar or one value per run of shape (R, 1, 1).

``W = W^t`` and ``G = G^t`` (the estimator's direction, **before** projection) have shape (R, m, n).  A rule
never sees the sketch drawn at step t: the theorems take expectations over that sketch with ``gamma_t``
fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from verify.estimators import sq_norm
from verify.problems._validate import real

__all__ = ["ConstantStep", "PolyakStep"]


@dataclass(frozen=True)
class ConstantStep:
    """``gamma_t = gamma`` for every t (by default the theorem's ``gamma_max`` times a factor)."""

    gamma: float
    name: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        real(self.name, "gamma", self.gamma, 0.0, strict=True)

    def __call__(self, t: int, W: np.ndarray, G: np.ndarray, problem: Any) -> float:
        return float(self.gamma)


@dataclass(frozen=True)
class PolyakStep:
    r"""Polyak-type stepsize of the convex non-smooth theorem (docs/theory.md §5.9), per run:

    .. math:: \gamma_t = \text{ratio}\cdot\frac{f(W^t) - f^*}{\|G^t\|^2},\qquad
              \text{ratio} = \lambda_{\min}^p/\lambda_{\max}^p \ (1 \text{ for isotropic sketches}),

    and ``gamma_t = 0`` where ``G^t = 0``, or where ``f(W^t) < f*`` (then ``f_star`` is not a lower bound
    and the run stops moving instead of climbing).  ``G^t`` is the full (sub)gradient **before** projection,
    not the projected ``Ĝ^t``: the stepsize must not depend on the sketch drawn at step t, since the proof
    takes the expectation over that sketch with ``gamma_t`` fixed; a sketch-dependent step
    ``(f − f*)/‖Ĝ^t‖²`` does not admit the proof.  Costs one ``problem.f`` call per step.

    Parameters
    ----------
    f_star : float
        ``f* = min f`` (the theorem needs the exact value).
    ratio : float, default 1.0
        ``λ_min^p / λ_max^p``; any positive value is accepted, so that runs outside the theorem's
        conditions (``ratio > 1``) can be made on purpose.
    """

    f_star: float
    ratio: float = 1.0
    name: ClassVar[str] = "polyak"

    def __post_init__(self) -> None:
        real(self.name, "f_star", self.f_star)
        real(self.name, "ratio", self.ratio, 0.0, strict=True)

    def __call__(self, t: int, W: np.ndarray, G: np.ndarray, problem: Any) -> np.ndarray:
        """``gamma_t`` of shape (R, 1, 1); NaN where ``f(W^t)`` is NaN (and ``G^t ≠ 0``): divergence stays visible."""
        gap = np.asarray(problem.f(W), dtype=np.float64) - self.f_star
        gap = np.where(gap < 0, 0.0, gap)
        g2 = sq_norm(G)
        gamma = np.divide(self.ratio * gap, g2, out=np.zeros_like(gap), where=g2 > 0)
        return gamma[:, None, None]
