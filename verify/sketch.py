r"""Sketch distributions for the left sketch ``B_S`` and the right sketch ``A_S``.

A distribution samples *column sketches* ``S ∈ R^{d×r}``.  The left sketch is ``B_S = S`` with
``d = m``; the right sketch is ``A_S = Sᵀ`` with ``d = n``.  In both cases the projection the algorithm
applies is the orthogonal projection onto ``col(S)``,

.. math::

    H(S) = S (S^\top S)^\dagger S^\top ,\qquad H_B = H(B_S),\qquad
    H_A = A_S^\top (A_S A_S^\top)^\dagger A_S = H(A_S^\top),

which depends only on the column space of ``S`` (so rescaling a sketch never changes ``H``).  Assumption 1
of the paper asks for ``λ_min(E[H]) > 0``; each distribution knows ``(λ_min(E[H]), λ_max(E[H]))`` in
closed form where one exists (``expected_projection_eigs``) and returns ``None`` otherwise, in which
case :mod:`verify.projection` estimates it by Monte Carlo.  Likewise each knows the second-moment map
``Y ↦ E[H Y H]`` on ``d×d`` matrices (``second_moment``, a :class:`verify.moments.SecondMoment`) where a
closed form exists, and returns ``None`` otherwise; the right side's ``E[H_A Y H_A]`` is the same map
with ``d = n``.

Built-ins (``make(name)``): ``gaussian`` (the default), ``rademacher``, ``haar``, ``coordinates``,
``coordinates-wr``, ``scaled-gaussian`` (non-isotropic) and ``degenerate`` (a fixed subspace, so
Assumption 1 fails).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from verify import moments
from verify.errors import UserError, require

__all__ = [
    "DEFAULT",
    "Coordinates",
    "CoordinatesWithReplacement",
    "Degenerate",
    "Gaussian",
    "Haar",
    "Rademacher",
    "ScaledGaussian",
    "SketchDistribution",
    "make",
    "names",
    "validate_rank",
]

DEFAULT = "gaussian"
SCALE_MIN = 0.25
"""Smallest row scale of ``scaled-gaussian``: ``D = diag(linspace(1, SCALE_MIN, d))``."""


@runtime_checkable
class SketchDistribution(Protocol):
    """A distribution of column sketches ``S ∈ R^{d×r}``; ``H`` is the projection onto ``col(S)``."""

    name: str

    def sample(self, rng: np.random.Generator, R: int, d: int, r: int) -> np.ndarray:
        """Draw ``R`` independent sketches, shape ``(R, d, r)``, using only ``rng``."""
        ...

    def expected_projection_eigs(self, d: int, r: int) -> tuple[float, float] | None:
        """Closed form ``(λ_min(E[H]), λ_max(E[H]))``, or ``None`` if none is known."""
        ...

    def second_moment(self, d: int, r: int) -> moments.SecondMoment | None:
        """Closed form of the map ``Y ↦ E[H Y H]`` on ``d×d`` matrices, or ``None`` if none is known."""
        ...

    def describe(self) -> str:
        """One line: what is sampled and the closed form of ``E[H]`` where known."""
        ...


def validate_rank(r: int, d: int) -> None:
    """Raise :class:`UserError` unless ``r`` is an integer with ``1 <= r <= d``."""
    require(
        isinstance(r, (int, np.integer)) and not isinstance(r, bool) and 1 <= r <= d,
        f"rank r={r!r} is out of range: need an integer 1 <= r <= d = {d}",
    )


def _validate(R: int, d: int, r: int) -> None:
    require(
        isinstance(R, (int, np.integer)) and not isinstance(R, bool) and R >= 0,
        f"number of sketches R={R!r} is invalid: need an integer R >= 0",
    )
    validate_rank(r, d)


def _coordinate_sketches(idx: np.ndarray, d: int) -> np.ndarray:
    """Sketches whose column ``j`` is the coordinate vector ``e_{idx[:, j]}``; ``idx`` is ``(R, r)``."""
    R, r = idx.shape
    S = np.zeros((R, d, r))
    S[np.arange(R)[:, None], idx, np.arange(r)[None, :]] = 1.0
    return S


@dataclass(frozen=True)
class Gaussian:
    r"""I.i.d. ``N(0, 1)`` entries.

    ``col(S)`` is a uniformly random ``r``-dimensional subspace, so ``E[H]`` commutes with every
    orthogonal matrix and has trace ``r``: ``E[H] = (r/d) I_d`` (the paper's Lemma 2 / Appendix B).
    """

    name: str = field(default="gaussian", init=False)

    def sample(self, rng: np.random.Generator, R: int, d: int, r: int) -> np.ndarray:
        _validate(R, d, r)
        return rng.standard_normal((R, d, r))

    def expected_projection_eigs(self, d: int, r: int) -> tuple[float, float] | None:
        validate_rank(r, d)
        return (r / d, r / d)

    def second_moment(self, d: int, r: int) -> moments.SecondMoment | None:
        """``E[HYH] = a Y + b (Yᵀ + tr(Y) I)``: ``col(S)`` is uniform, the map is rotation invariant.

        ``a = r(rd + r − 2)/(d(d−1)(d+2))`` and ``b = r(d − r)/(d(d−1)(d+2))`` (``a = 1, b = 0`` at ``r = d``);
        derivation in :func:`verify.moments.isotropic_coefficients`.
        """
        validate_rank(r, d)
        return moments.isotropic(d, r)

    def describe(self) -> str:
        return "gaussian: i.i.d. N(0,1) entries; E[H] = (r/d) I"


@dataclass(frozen=True)
class Rademacher:
    r"""I.i.d. ``±1`` entries with probability 1/2 each.

    The law of ``S`` is invariant under signed permutations of its rows, so ``E[H] = (E rank(S)/d) I``.
    ``E rank(S)`` is exact for ``r = 1`` (rank 1) and ``r = 2``: the rank is 1 iff the second column
    is ``±`` the first, which has probability ``2·2^{-d}``, so ``E rank(S) = 2 − 2^{1−d}``.  For
    ``r ≥ 3`` no closed form is used (``None``).
    """

    name: str = field(default="rademacher", init=False)

    def sample(self, rng: np.random.Generator, R: int, d: int, r: int) -> np.ndarray:
        _validate(R, d, r)
        return 2.0 * rng.integers(0, 2, size=(R, d, r)) - 1.0

    def expected_projection_eigs(self, d: int, r: int) -> tuple[float, float] | None:
        validate_rank(r, d)
        if r == 1:
            return (1 / d, 1 / d)
        if r == 2:
            lam = (2.0 - 2.0 ** (1 - d)) / d
            return (lam, lam)
        return None

    def second_moment(self, d: int, r: int) -> moments.SecondMoment | None:
        """Exact for ``r = 1`` (``a = b = 1/d²``, ``c = −2/d²``) and ``r = 2``; ``None`` for ``r ≥ 3``.

        The law is invariant under signed permutations of the rows but not under rotations, so
        ``E[HYH] = a Y + b (Yᵀ + tr(Y) I) + c Diag(Y)`` with ``c ≠ 0``; derivation in
        :func:`verify.moments.rademacher_diagonal_moments`.
        """
        validate_rank(r, d)
        return moments.rademacher(d, r)

    def describe(self) -> str:
        return (
            "rademacher: i.i.d. ±1 entries; E[H] = (E rank(S)/d) I, closed form for r = 1 (1/d) "
            "and r = 2 ((2 - 2^(1-d))/d), else estimated"
        )


@dataclass(frozen=True)
class Haar:
    r"""Uniformly random orthonormal columns (Haar measure on the Stiefel manifold).

    ``S = Z R^{-1}`` from the QR factorisation ``Z = QR`` of a Gaussian ``Z``, with the signs fixed so
    that ``diag(R) > 0`` (without the fix the LAPACK ``Q`` is not Haar distributed).  ``col(S) = col(Z)``,
    so ``E[H] = (r/d) I``.
    """

    name: str = field(default="haar", init=False)

    def sample(self, rng: np.random.Generator, R: int, d: int, r: int) -> np.ndarray:
        _validate(R, d, r)
        Z = rng.standard_normal((R, d, r))
        if R == 0:
            return Z
        Q, Rf = np.linalg.qr(Z)
        signs = np.sign(np.diagonal(Rf, axis1=-2, axis2=-1))
        signs[signs == 0] = 1.0
        return Q * signs[:, None, :]

    def expected_projection_eigs(self, d: int, r: int) -> tuple[float, float] | None:
        validate_rank(r, d)
        return (r / d, r / d)

    def second_moment(self, d: int, r: int) -> moments.SecondMoment | None:
        """As :meth:`Gaussian.second_moment`: ``col(S)`` is uniform, so the map is rotation invariant."""
        validate_rank(r, d)
        return moments.isotropic(d, r)

    def describe(self) -> str:
        return "haar: uniformly random orthonormal columns; E[H] = (r/d) I"


@dataclass(frozen=True)
class Coordinates:
    r"""``r`` distinct coordinate vectors of ``R^d``, chosen uniformly without replacement.

    ``H = Σ_{i∈I} e_i e_iᵀ`` with ``I`` a uniform ``r``-subset, so ``E[H] = (r/d) I``.
    """

    name: str = field(default="coordinates", init=False)

    def sample(self, rng: np.random.Generator, R: int, d: int, r: int) -> np.ndarray:
        _validate(R, d, r)
        idx = np.argsort(rng.random((R, d)), axis=1)[:, :r]
        return _coordinate_sketches(idx, d)

    def expected_projection_eigs(self, d: int, r: int) -> tuple[float, float] | None:
        validate_rank(r, d)
        return (r / d, r / d)

    def second_moment(self, d: int, r: int) -> moments.SecondMoment | None:
        """``E[HYH]_ij = q_ij Y_ij`` with ``q_ii = r/d`` and ``q_ij = r(r − 1)/(d(d − 1))`` for ``i ≠ j``."""
        validate_rank(r, d)
        return moments.coordinates(d, r, replacement=False)

    def describe(self) -> str:
        return "coordinates: r distinct coordinate vectors (without replacement); E[H] = (r/d) I"


@dataclass(frozen=True)
class CoordinatesWithReplacement:
    r"""``r`` coordinate vectors drawn uniformly WITH replacement (rank deficient on a repeat).

    ``H = Σ_{i∈I} e_i e_iᵀ`` with ``I`` the set of distinct indices drawn, and
    ``P(i ∈ I) = 1 − (1 − 1/d)^r``, so ``E[H] = (1 − (1 − 1/d)^r) I``.
    """

    name: str = field(default="coordinates-wr", init=False)

    def sample(self, rng: np.random.Generator, R: int, d: int, r: int) -> np.ndarray:
        _validate(R, d, r)
        return _coordinate_sketches(rng.integers(0, d, size=(R, r)), d)

    def expected_projection_eigs(self, d: int, r: int) -> tuple[float, float] | None:
        validate_rank(r, d)
        lam = 1.0 - (1.0 - 1.0 / d) ** r
        return (lam, lam)

    def second_moment(self, d: int, r: int) -> moments.SecondMoment | None:
        """``E[HYH]_ij = q_ij Y_ij`` with the inclusion probabilities of the distinct indices drawn.

        ``q_ii = 1 − (1 − 1/d)^r`` and ``q_ij = 1 − 2(1 − 1/d)^r + (1 − 2/d)^r`` for ``i ≠ j``.
        """
        validate_rank(r, d)
        return moments.coordinates(d, r, replacement=True)

    def describe(self) -> str:
        return "coordinates-wr: r coordinate vectors with replacement; E[H] = (1 - (1-1/d)^r) I"


@dataclass(frozen=True)
class ScaledGaussian:
    r"""Non-isotropic: ``S = D Z`` with ``D = diag(linspace(1, 1/4, d))`` fixed and ``Z`` Gaussian.

    ``E[H]`` is diagonal (the law is invariant under row sign flips) but not a multiple of ``I`` when
    ``r < d``: directions with a larger scale are more likely to be captured.  No closed form is used
    (``None``); the extreme eigenvalues are estimated by Monte Carlo.
    """

    name: str = field(default="scaled-gaussian", init=False)

    def sample(self, rng: np.random.Generator, R: int, d: int, r: int) -> np.ndarray:
        _validate(R, d, r)
        return np.linspace(1.0, SCALE_MIN, d)[:, None] * rng.standard_normal((R, d, r))

    def expected_projection_eigs(self, d: int, r: int) -> tuple[float, float] | None:
        validate_rank(r, d)
        return None

    def second_moment(self, d: int, r: int) -> moments.SecondMoment | None:
        """``None``: ``E[HYH]`` depends on the row scales; no closed form is used."""
        validate_rank(r, d)
        return None

    def describe(self) -> str:
        return "scaled-gaussian: S = diag(linspace(1, 1/4, d)) Z, Z Gaussian; E[H] diagonal, not isotropic"


@dataclass(frozen=True)
class Degenerate:
    r"""A fixed subspace: ``S = [I_r; 0] Z`` with ``Z`` an ``r×r`` Gaussian (invertible a.s.).

    ``H = diag(1,…,1,0,…,0)`` (``r`` ones) for every draw, so ``E[H]`` has ``λ_max = 1`` and
    ``λ_min = 0`` when ``r < d``: Assumption 1 fails.
    """

    name: str = field(default="degenerate", init=False)

    def sample(self, rng: np.random.Generator, R: int, d: int, r: int) -> np.ndarray:
        _validate(R, d, r)
        S = np.zeros((R, d, r))
        S[:, :r, :] = rng.standard_normal((R, r, r))
        return S

    def expected_projection_eigs(self, d: int, r: int) -> tuple[float, float] | None:
        validate_rank(r, d)
        return (1.0 if r == d else 0.0, 1.0)

    def second_moment(self, d: int, r: int) -> moments.SecondMoment | None:
        """``H = diag(1_r, 0)`` is fixed, so ``E[HYH] = H Y H`` exactly."""
        validate_rank(r, d)
        return moments.fixed_support(d, r)

    def describe(self) -> str:
        return "degenerate: col(S) = span(e_1..e_r) always; E[H] = diag(1,...,1,0,...,0), lambda_min = 0"


_REGISTRY: dict[str, SketchDistribution] = {
    dist.name: dist
    for dist in (
        Gaussian(),
        Rademacher(),
        Haar(),
        Coordinates(),
        CoordinatesWithReplacement(),
        ScaledGaussian(),
        Degenerate(),
    )
}


def names() -> list[str]:
    """The names of the built-in sketch distributions, default first."""
    return list(_REGISTRY)


def make(name: str) -> SketchDistribution:
    """The built-in sketch distribution called ``name``.

    Raises
    ------
    UserError
        If ``name`` is not one of :func:`names`.
    """
    if name not in _REGISTRY:
        raise UserError(f"unknown sketch distribution {name!r}: allowed are {', '.join(names())}")
    return _REGISTRY[name]
