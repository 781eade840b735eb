r"""Second moments of sketch projections: the linear map ``Y ↦ E[H Y H]``.

For a sketch ``S ∈ R^{d×r}`` drawn from a distribution of :mod:`verify.sketch`, ``H`` is the orthogonal
projection onto ``col(S)``.  The left sketch has ``d = m`` and ``H = H_B``; the right sketch has
``d = n`` and ``H = H_A`` (``A_Sᵀ`` is a column sketch of ``R^n``), so ``Y ↦ E[H_A Y H_A]`` on ``n×n``
matrices is the same formula with ``d = n``.  With this map the second moments of a Bernoulli-LoRA
iterate on a quadratic problem follow a linear recursion (the exact oracles of :mod:`verify.exact`).

Every closed form of the built-in distributions has the shape

.. math::

    E[H Y H] = M \circ Y + b\,(Y^\top + \operatorname{tr}(Y)\, I),\qquad
    M = (a\,\mathbf 1 \mathbf 1^\top + c\, I) \circ u u^\top ,

with ``∘`` the entrywise product, scalars ``a, b, c`` and ``u ∈ {0, 1}^d`` (``u = 1`` except for a
sketch with a fixed support).  :class:`SecondMoment` stores ``(d, a, b, c, u)`` and applies the map to
batches without forming ``d²×d²`` matrices.

Derivation
----------
Write ``T_{ijkl} = E[H_{ij} H_{kl}]``, so ``E[HYH]_{il} = Σ_{jk} T_{ijkl} Y_{jk}``.  If the law of ``S``
is invariant under ``S ↦ P S`` for every signed permutation ``P`` (true for ``gaussian``, ``haar``,
``rademacher``, ``coordinates`` and ``coordinates-wr``), then ``PHPᵀ`` has the law of ``H``: ``T``
vanishes unless every index value occurs an even number of times, and it depends only on which indices
are equal.  With ``H = Hᵀ`` this leaves

.. math::

    T_{ijkl} = a\,\delta_{ij}\delta_{kl} + b\,(\delta_{ik}\delta_{jl} + \delta_{il}\delta_{jk})
               + c\,\delta_{ijkl}
    \quad\Longrightarrow\quad
    E[HYH] = aY + b\,(Y^\top + \operatorname{tr}(Y) I) + c \operatorname{Diag}(Y),

where ``a = E[H_11 H_22]``, ``b = E[H_12²]`` and ``a + 2b + c = E[H_11²]``.  Two identities of a
projection tie these to moments of the diagonal: ``H² = H`` gives ``Σ_k H_1k² = H_11``, so

.. math:: E[H_{11}^2] + (d-1)\, b = E[H_{11}] ,

and ``tr H = rank(S)`` gives ``E[H_11 rank(S)] = E[H_11²] + (d − 1) a``.  So three numbers,
``E[H_11]``, ``E[H_11²]`` and ``E[H_11 H_22]`` (or ``E[H_11 rank S]``), determine the map
(:func:`from_diagonal_moments`).  If the law is moreover invariant under every orthogonal ``S ↦ OS``
(``gaussian``, ``haar``), ``T`` is an ``O(d)``-invariant tensor, a combination of the three pairings
only, so ``c = 0``; see :func:`isotropic_coefficients` for ``a`` and ``b``.

Vectorisation
-------------
:meth:`SecondMoment.matrix` is the ``d²×d²`` operator on ``vec(Y)`` with the column-major convention
``vec(Y)[i + d j] = Y_ij`` (``Y.ravel(order="F")``).  It is
``Diag(vec M) + b (K_dd + vec(I) vec(I)ᵀ)`` with ``K_dd`` the commutation matrix; ``M`` is symmetric, so
the same matrix is also the operator for the row-major convention.  For a step on ``vec(W)``,
``W ∈ R^{m×n}`` (column-major), ``vec(H_B G) = (I_n ⊗ H_B) vec(G)`` and
``vec(G H_A) = (H_A ⊗ I_m) vec(G)``: ``E[(I_n ⊗ H_B) X (I_n ⊗ H_B)]`` applies the ``m×m`` map to each of
the ``n²`` blocks ``X[k m:(k+1) m, l m:(l+1) m]``, and ``E[(H_A ⊗ I_m) X (H_A ⊗ I_m)]`` applies the
``n×n`` map to each of the ``m²`` matrices ``(X[i + m k, j + m l])_{k,l}`` — one batched
:meth:`SecondMoment.apply` each.

The coefficient functions (:func:`isotropic_coefficients`, :func:`inclusion_probabilities`,
:func:`rademacher_diagonal_moments`, :func:`from_diagonal_moments`) use only ``+ − × / **``, so they
accept ``fractions.Fraction`` (exact rationals; the constructors below use them and round once) and
sympy symbols (the tests derive the same formulas symbolically).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = [
    "SecondMoment",
    "coordinates",
    "fixed_support",
    "from_diagonal_moments",
    "inclusion_probabilities",
    "isotropic",
    "isotropic_coefficients",
    "rademacher",
    "rademacher_diagonal_moments",
]


@dataclass(frozen=True)
class SecondMoment:
    r"""The linear map ``Y ↦ E[H Y H]`` on ``d×d`` matrices, ``E[HYH] = M ∘ Y + b (Yᵀ + tr(Y) I)``.

    Attributes
    ----------
    d : int
        Dimension of ``H`` (``m`` for the left sketch ``H_B``, ``n`` for the right sketch ``H_A``).
    a, b, c : float
        Coefficients of ``Y``, of ``Yᵀ + tr(Y) I`` and of ``Diag(Y)`` (the diagonal part of ``Y``).
    support : tuple of bool, length d, or None
        ``u``: with ``U = diag(u)``, ``M ∘ Y = U (a Y + c Diag(Y)) U``.  ``None`` means ``u = 1``.  A
        sketch with a fixed support (``degenerate``) has ``H = U`` for every draw, ``a = 1``,
        ``b = c = 0``, and ``E[HYH] = U Y U`` exactly.

    Notes
    -----
    The multiplier is ``M = (a 11ᵀ + c I) ∘ u uᵀ`` (:meth:`multiplier`).  See the module docstring for
    the derivation of the form and for how the map lifts to ``vec(W)``.  ``apply(I) = E[H]`` because
    ``H² = H`` (:meth:`expected_projection`), and ``tr E[HYH] = tr(E[H] Y)`` for every ``Y``.
    """

    d: int
    a: float
    b: float
    c: float = 0.0
    support: tuple[bool, ...] | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.d, (int, np.integer)) and not isinstance(self.d, bool) and self.d >= 1):
            raise ValueError(f"d={self.d!r} is invalid: need an integer d >= 1")
        if self.support is not None and len(self.support) != self.d:
            raise ValueError(f"support has length {len(self.support)}, need d = {self.d}")

    def multiplier(self) -> np.ndarray:
        """``M = (a 11ᵀ + c I) ∘ u uᵀ``, shape ``(d, d)``: the entrywise part of the map."""
        M = np.full((self.d, self.d), float(self.a)) + float(self.c) * np.eye(self.d)
        if self.support is not None:
            u = np.asarray(self.support, dtype=float)
            M *= np.outer(u, u)
        return M

    def apply(self, Y: np.ndarray) -> np.ndarray:
        """``E[H Y H]`` for each matrix of a batch.

        Parameters
        ----------
        Y : array_like, shape (..., d, d)
            Any real matrices (not necessarily symmetric).

        Returns
        -------
        ndarray, shape (..., d, d)
            ``M ∘ Y + b (Yᵀ + tr(Y) I)`` matrix by matrix; ``O(d²)`` work per matrix.
        """
        Y = np.asarray(Y, dtype=float)
        d = self.d
        if Y.ndim < 2 or Y.shape[-2:] != (d, d):
            raise ValueError(f"Y must have shape (..., {d}, {d}), got {Y.shape}")
        idx = np.arange(d)
        out = float(self.a) * Y
        if self.c:
            out[..., idx, idx] += float(self.c) * Y[..., idx, idx]
        if self.support is not None:
            u = np.asarray(self.support, dtype=float)
            out *= u[:, None] * u[None, :]
        if self.b:
            out += float(self.b) * np.swapaxes(Y, -1, -2)
            out[..., idx, idx] += float(self.b) * np.trace(Y, axis1=-2, axis2=-1)[..., None]
        return out

    def matrix(self) -> np.ndarray:
        """The operator on ``vec(Y)``, shape ``(d², d²)``, column-major: ``vec(Y)[i + d j] = Y_ij``.

        ``matrix() @ Y.ravel(order="F") == apply(Y).ravel(order="F")``.  Equal to
        ``Diag(vec M) + b (K_dd + vec(I) vec(I)ᵀ)`` (``K_dd`` the commutation matrix); since ``M`` is
        symmetric it is also the operator for row-major ``vec``.  Meant for small ``d`` (exact
        recursions); use :meth:`apply` otherwise.
        """
        d = self.d
        out = np.diag(self.multiplier().ravel(order="F"))
        if self.b:
            k = np.arange(d * d)
            out[k, (k % d) * d + k // d] += float(self.b)  # K_dd: vec(Y) -> vec(Yᵀ)
            e = np.eye(d).ravel(order="F")
            out += float(self.b) * np.outer(e, e)
        return out

    def expected_projection(self) -> np.ndarray:
        """``E[H] = E[H I H]``, shape ``(d, d)`` (``H² = H``)."""
        return self.apply(np.eye(self.d))


# ----------------------------------------------------------------------------------------------------
# Coefficients (generic arithmetic: Fraction in, Fraction out; sympy symbols in, sympy out)
# ----------------------------------------------------------------------------------------------------


def from_diagonal_moments(d: Any, m1: Any, m2: Any, m11: Any) -> tuple[Any, Any, Any]:
    r"""``(a, b, c)`` of a signed-permutation-invariant sketch from moments of its diagonal.

    Parameters
    ----------
    d : int, Fraction or sympy expression
        Dimension, ``d >= 2``.
    m1, m2, m11
        ``E[H_11]``, ``E[H_11²]`` and ``E[H_11 H_22]``.

    Returns
    -------
    (a, b, c)
        ``a = E[H_11 H_22]``, ``b = (E[H_11] − E[H_11²])/(d − 1)``, ``c = E[H_11²] − a − 2b``.

    Notes
    -----
    ``b = E[H_12²]`` follows from ``Σ_k H_1k² = (H²)_11 = H_11``; ``c`` from
    ``E[H_11²] = T_1111 = a + 2b + c`` (module docstring).
    """
    b = (m1 - m2) / (d - 1)
    return m11, b, m2 - m11 - 2 * b


def isotropic_coefficients(d: Any, r: Any) -> tuple[Any, Any]:
    r"""``(a, b)`` with ``E[HYH] = a Y + b (Yᵀ + tr(Y) I)`` for a uniformly random rank-``r`` ``H``.

    .. math::

        a = \frac{r\,(r d + r - 2)}{d\,(d-1)(d+2)},\qquad b = \frac{r\,(d - r)}{d\,(d-1)(d+2)}
        \qquad (d \ge 2).

    Notes
    -----
    ``col(S)`` is uniform on the Grassmannian (``gaussian``, ``haar``), so ``c = 0`` (module docstring).
    ``H_11 = ‖H e_1‖²`` has the law of the squared norm of the first ``r`` coordinates of a uniform unit
    vector of ``R^d``, ``Beta(r/2, (d − r)/2)``, so ``E[H_11] = r/d`` and
    ``E[H_11²] = r(r + 2)/(d(d + 2))``.  Idempotence gives
    ``b = (r/d − r(r + 2)/(d(d + 2)))/(d − 1) = r(d − r)/(d(d − 1)(d + 2))``, and
    ``a = E[H_11²] − 2b``.  The third identity, ``tr H = r``, i.e. ``E[H_11²] + (d − 1) a = r²/d``,
    holds as well (a check, not an input).  Consequences: ``r = d`` gives ``a = 1, b = 0``; ``r = 1``
    gives ``a = b = 1/(d(d + 2))`` (the fourth moments of a uniform unit vector); ``a + (d + 1) b = r/d``
    (``E[H] = (r/d) I``); and ``I − H`` is uniform of rank ``d − r``, so ``b(d − r) = b(r)`` and
    ``a(d − r) = 1 − 2r/d + a(r)``.  (Equivalently the order-2 Weingarten calculus of ``O(d)``.)
    """
    den = d * (d - 1) * (d + 2)
    return r * (r * d + r - 2) / den, r * (d - r) / den


def inclusion_probabilities(d: Any, r: Any, replacement: bool) -> tuple[Any, Any]:
    r"""``(q1, q2) = (P(i ∈ I), P(i, j ∈ I))``, ``i ≠ j``, for ``r`` uniform coordinates of ``R^d``.

    Without replacement ``q1 = r/d`` and ``q2 = r(r − 1)/(d(d − 1))``.  With replacement, by the
    complements, ``q1 = 1 − (1 − 1/d)^r`` and ``q2 = 1 − 2(1 − 1/d)^r + (1 − 2/d)^r``
    (``P(i ∉ I or j ∉ I) = P(i ∉ I) + P(j ∉ I) − P(i, j ∉ I)``).  Needs ``d >= 2``.

    Notes
    -----
    ``H = Σ_{i∈I} e_i e_iᵀ`` is diagonal, so ``E[HYH]_ij = P(i, j ∈ I) Y_ij``: ``a = q2``, ``b = 0``,
    ``c = q1 − q2``.
    """
    if replacement:
        miss = (1 - 1 / d) ** r
        return 1 - miss, 1 - 2 * miss + (1 - 2 / d) ** r
    return r / d, r * (r - 1) / (d * (d - 1))


def rademacher_diagonal_moments(d: int, r: int) -> tuple[Fraction, Fraction, Fraction] | None:
    r"""Exact ``(E[H_11], E[H_11²], E[H_11 H_22])`` of a ``±1`` sketch for ``r ∈ {1, 2}``, else ``None``.

    Notes
    -----
    ``r = 1``: ``H = s sᵀ/d``, so ``H_11 = H_22 = 1/d`` and all three moments are ``1/d, 1/d², 1/d²``.

    ``r = 2``, columns ``s, t``: replacing ``t`` by ``−t`` does not change ``H``, so take
    ``s_1 t_1 = 1``.  Let ``K ~ Bin(d − 1, 1/2)`` count the rows ``i ≥ 2`` with ``s_i t_i = −1``; then
    ``c = sᵀt = d − 2K``.  For ``K ≥ 1``, ``H = (d(ssᵀ + ttᵀ) − c(stᵀ + tsᵀ))/(d² − c²)`` and
    ``H_11 = 2(d − c)/(d² − c²) = 1/(d − K)``; for ``K = 0``, ``t = s``, ``H = ssᵀ/d`` and again
    ``H_11 = 1/(d − K)``.  So ``E[H_11^k] = Σ_K C(d−1, K) 2^{1−d} (d − K)^{−k}`` (``k = 1`` recovers
    ``(2 − 2^{1−d})/d``), and with ``rank = 2 − [K = 0]``,
    ``E[H_11 rank] = 2E[H_11] − 2^{1−d}/d`` and ``E[H_11 H_22] = (E[H_11 rank] − E[H_11²])/(d − 1)``.
    ``r ≥ 3``: no closed form is used.
    """
    if r == 1:
        return Fraction(1, d), Fraction(1, d * d), Fraction(1, d * d)
    if r == 2:
        w = [Fraction(math.comb(d - 1, k), 2 ** (d - 1)) for k in range(d)]
        m1 = sum(wk / (d - k) for k, wk in enumerate(w))
        m2 = sum(wk / (d - k) ** 2 for k, wk in enumerate(w))
        m_rank = 2 * m1 - w[0] / d
        return m1, m2, (m_rank - m2) / (d - 1)
    return None


# ----------------------------------------------------------------------------------------------------
# The maps of the built-in sketch distributions (exact rationals, rounded once)
# ----------------------------------------------------------------------------------------------------


def _identity(d: int) -> SecondMoment:
    return SecondMoment(d, 1.0, 0.0)


def isotropic(d: int, r: int) -> SecondMoment:
    """Uniformly random rank-``r`` projection (``gaussian``, ``haar``): :func:`isotropic_coefficients`."""
    if r == d:
        return _identity(d)
    a, b = isotropic_coefficients(Fraction(d), int(r))
    return SecondMoment(d, float(a), float(b))


def coordinates(d: int, r: int, replacement: bool) -> SecondMoment:
    """``r`` random coordinates: ``E[HYH]_ij = P(i, j ∈ I) Y_ij`` (:func:`inclusion_probabilities`)."""
    if d == 1:
        return _identity(d)
    q1, q2 = inclusion_probabilities(Fraction(d), int(r), replacement)
    return SecondMoment(d, float(q2), 0.0, float(q1 - q2))


@functools.cache
def rademacher(d: int, r: int) -> SecondMoment | None:
    """``±1`` sketches: exact for ``r ∈ {1, 2}`` (:func:`rademacher_diagonal_moments`), else ``None``.

    Cached: the exact binomial sum of ``r = 2`` costs about a second at ``d = 2048``.
    """
    if d == 1:
        return _identity(d)
    moments = rademacher_diagonal_moments(d, int(r))
    if moments is None:
        return None
    a, b, c = from_diagonal_moments(d, *moments)
    return SecondMoment(d, float(a), float(b), float(c))


def fixed_support(d: int, r: int) -> SecondMoment:
    """``H = diag(1_r, 0_{d−r})`` for every draw (``degenerate``): ``E[HYH] = HYH``."""
    if r == d:
        return _identity(d)
    return SecondMoment(d, 1.0, 0.0, 0.0, (True,) * r + (False,) * (d - r))
