r"""Random affine maps and their second moments: the algebra estimators declare their updates in.

A random affine map is a random matrix ``U`` (``rows × cols``) acting on a vector ``y`` whose last
coordinate is the constant 1 (homogeneous coordinates, so ``U y`` is affine in the rest of ``y``).  For a
``y`` independent of ``U`` with second moment ``S = E[y yᵀ]`` the two things the exact recursion needs are

.. math:: \bar U = \mathbb E\,U \qquad\text{and}\qquad \mathcal U(S) = \mathbb E[U S U^\top],

since ``E[U y yᵀ] = Ū S`` and ``E[(U y)(U y)ᵀ] = 𝒰(S)``.  Every map here is **linear** in ``S`` (the
constant coordinate enters through ``S[one, one]``, never as a literal 1), and accepts a batch of
matrices ``S`` of shape ``(..., cols, cols)``.

Each map also gives the **adjoint** of ``𝒰`` for the Frobenius inner product ``⟨X, Y⟩ = tr(Xᵀ Y)``,

.. math:: \mathcal U^*(Y) = \mathbb E[U^\top Y U],\qquad
          \langle Y, \mathcal U(S)\rangle = \langle \mathcal U^*(Y), S\rangle,

on ``(..., rows, rows)`` batches (``adjoint_second``).  It pulls a quadratic form ``y ↦ yᵀ Y y`` of the
output back to the form ``x ↦ E[(Ux)ᵀ Y (Ux)] = xᵀ 𝒰*(Y) x`` of the input: one application of the adjoint
gives the form that ``D(D+1)/2`` applications of ``𝒰`` to a basis would (the one-step certificates use
it).  Additive noise ``U = ξ e_oneᵀ`` pulls back to ``tr(Σ_ξ Y)`` on the constant coordinate only
(``𝒰*(Y) = tr(Σ_ξ Y) e_one e_oneᵀ``).  The adjoint column of the table below follows from the ``𝒰`` column
by transposing each product (``Sum``, ``MeanOfIid`` use the same independence); for ``Compressed`` it is
``𝒰_X*(𝒬*(Y))``, and ``𝒬* = 𝒬`` because every :class:`~verify.moments.SecondMoment` map,
``Y ↦ M ∘ Y + b (Yᵀ + tr(Y) I)``, is self-adjoint (``⟨Z, M∘Y⟩ = ⟨M∘Z, Y⟩``, ``⟨Z, Yᵀ⟩ = ⟨Zᵀ, Y⟩``,
``⟨Z, tr(Y) I⟩ = tr Z tr Y``).

Combinators (``M`` a fixed matrix, ``X_k`` independent random maps):

=================== =========================================== ===================================================
map                 ``Ū``                                        ``𝒰(S)``
=================== =========================================== ===================================================
``Fixed(M)``        ``M``                                        ``M S Mᵀ``
``Noise(Σ_ξ)``      ``0``                                        ``Σ_ξ · S[one, one]`` (``U = ξ e_oneᵀ``, ``E ξ = 0``)
``Uniform(M_i)``    ``(1/K) Σ M_i``                              ``(1/K) Σ M_i S M_iᵀ`` (one of K, uniformly)
``Sum(X_k)``        ``Σ Ū_k``                                    ``(ΣŪ_k) S (ΣŪ_k)ᵀ + Σ_k (𝒰_k(S) − Ū_k S Ū_kᵀ)``
``MeanOfIid(X, b)`` ``Ū``                                        ``Ū S Ūᵀ + (𝒰(S) − Ū S Ūᵀ)/b``
``Mixture(π_k,X_k)`` ``Σ π_k Ū_k``                               ``Σ π_k 𝒰_k(S)`` (branch k with probability π_k)
``Compressed(Q,X)`` ``s Ū``                                      ``𝒬(𝒰(S))`` (``Q`` independent of ``X``,
                                                                 ``E Q = s I``, ``𝒬(Y) = E[Q Y Qᵀ]``)
``Embed(X, o, R)``  ``Ū`` in rows ``o..o+rows`` of ``R`` rows     ``𝒰(S)`` in that diagonal block, zeros elsewhere
=================== =========================================== ===================================================

and their adjoints (``Ū = Σ Ū_k`` for ``Sum``):

==================== =================================================================================
map                  ``𝒰*(Y)``
==================== =================================================================================
``Fixed(M)``         ``Mᵀ Y M``
``Noise(Σ_ξ)``       ``tr(Σ_ξ Y)`` at ``[one, one]``, zeros elsewhere
``Uniform(M_i)``     ``(1/K) Σ M_iᵀ Y M_i``
``Sum(X_k)``         ``Ūᵀ Y Ū + Σ_k (𝒰_k*(Y) − Ū_kᵀ Y Ū_k)``
``MeanOfIid(X, b)``  ``Ūᵀ Y Ū + (𝒰*(Y) − Ūᵀ Y Ū)/b``
``Mixture(π_k,X_k)`` ``Σ π_k 𝒰_k*(Y)``
``Compressed(Q,X)``  ``𝒰*(𝒬(Y))`` (``𝒬* = 𝒬``)
``Embed(X, o, R)``   ``𝒰*`` of the diagonal block ``Y[o..o+rows, o..o+rows]``
==================== =================================================================================

``Sum`` uses independence: ``E[X_k S X_lᵀ] = Ū_k S Ū_lᵀ`` for ``k ≠ l``.  ``Mixture`` is a coin (PAGE,
MARINA).  ``MeanOfIid`` is a minibatch drawn with replacement.

Layout of the state
-------------------
``vec`` is column-major throughout: ``w = vec(W − W*)``, ``w[i + m j] = (W − W*)_ij``
(``W.ravel(order="F")``).  An estimator with state ``s ∈ R^{D_s}`` (e.g. ``G^t``, or EF21's ``g_1..g_M``)
gives the joint state ``ẑ = (w, s, 1)`` of length ``N + D_s + 1`` (``N = mn``).  A step first moves,
``w⁺ = w − γ P G`` with ``G = K s``, and then the estimator updates from
``y = (w⁺, w, s, 1)`` (length ``2N + D_s + 1``, :class:`Layout`), so an update may use both iterates with
the same samples (PAGE, MVR).  Initialisation maps act on ``x = (w⁰, 1)`` (length ``N + 1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from verify.errors import UserError
from verify.moments import SecondMoment

__all__ = [
    "MAX_MN",
    "MAX_STATE",
    "Compressed",
    "Embed",
    "ExactUnsupported",
    "Fixed",
    "Layout",
    "MeanOfIid",
    "Mixture",
    "Noise",
    "RandomAffine",
    "Sum",
    "Transition",
    "Uniform",
]

MAX_MN = 100
"""Largest ``m·n`` the exact recursion accepts (``vec(W)`` has ``m·n`` entries)."""

MAX_STATE = 400
"""Largest joint state ``N + D_s`` (the second moment is a dense ``(N + D_s + 1)²`` matrix)."""


class ExactUnsupported(UserError):
    """The exact recursion does not apply: a nonlinear method or compressor, a sketch without a closed-form
    second moment, a non-quadratic problem, or a size above :data:`MAX_MN` / :data:`MAX_STATE`."""


class RandomAffine(Protocol):
    """A random ``rows × cols`` matrix ``U``, independent of what it is applied to."""

    rows: int
    cols: int

    @property
    def mean(self) -> np.ndarray:
        """``E U``, shape ``(rows, cols)``."""
        ...

    def second(self, S: np.ndarray) -> np.ndarray:
        """``E[U S Uᵀ]`` for ``S`` of shape ``(..., cols, cols)``; shape ``(..., rows, rows)``."""
        ...

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        """``E[Uᵀ Y U]`` for ``Y`` of shape ``(..., rows, rows)``; shape ``(..., cols, cols)``: the adjoint of
        :meth:`second` (``⟨Y, E[U S Uᵀ]⟩ = ⟨E[Uᵀ Y U], S⟩``)."""
        ...


def _sandwich(M: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``M S Mᵀ`` for a batch ``S`` ``(..., c, c)``, using only the non-zero columns of ``M``."""
    used = np.flatnonzero(np.any(M != 0, axis=0))
    if used.size == 0:
        return np.zeros((*S.shape[:-2], M.shape[0], M.shape[0]))
    Mu = M[:, used]
    Su = S[..., used[:, None], used[None, :]]
    return Mu @ Su @ Mu.T


def _adjoint_sandwich(M: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``Mᵀ Y M`` for a batch ``Y`` ``(..., r, r)``, computed on the non-zero columns of ``M`` only."""
    used = np.flatnonzero(np.any(M != 0, axis=0))
    out = np.zeros((*Y.shape[:-2], M.shape[1], M.shape[1]))
    if used.size:
        Mu = M[:, used]
        out[..., used[:, None], used[None, :]] = Mu.T @ Y @ Mu
    return out


@dataclass(frozen=True, eq=False)
class Fixed:
    """A deterministic matrix ``M``: ``Ū = M``, ``𝒰(S) = M S Mᵀ``."""

    matrix: np.ndarray

    @property
    def rows(self) -> int:
        return self.matrix.shape[0]

    @property
    def cols(self) -> int:
        return self.matrix.shape[1]

    @property
    def mean(self) -> np.ndarray:
        return self.matrix

    def second(self, S: np.ndarray) -> np.ndarray:
        return _sandwich(self.matrix, S)

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        return _adjoint_sandwich(self.matrix, Y)


@dataclass(frozen=True, eq=False)
class Noise:
    """An additive zero-mean vector ``ξ`` with covariance ``cov``, independent of everything.

    As a map on ``y`` it is ``U = ξ e_oneᵀ``: ``Ū = 0``, ``𝒰(S) = cov · S[one, one]`` and
    ``𝒰*(Y) = E[e_one ξᵀ Y ξ e_oneᵀ] = tr(cov Y) e_one e_oneᵀ`` (the noise only adds a constant to a form).
    """

    cov: np.ndarray
    cols: int
    one: int

    @property
    def rows(self) -> int:
        return self.cov.shape[0]

    @property
    def mean(self) -> np.ndarray:
        return np.zeros((self.rows, self.cols))

    def second(self, S: np.ndarray) -> np.ndarray:
        return self.cov * S[..., self.one, self.one][..., None, None]

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        out = np.zeros((*Y.shape[:-2], self.cols, self.cols))
        out[..., self.one, self.one] = np.einsum("ij,...ij->...", self.cov, Y)  # ⟨cov, Y⟩ = tr(cov Y)
        return out


@dataclass(frozen=True, eq=False)
class Uniform:
    """One of ``K`` matrices ``M_i``, uniformly: ``Ū = (1/K) Σ M_i``, ``𝒰(S) = (1/K) Σ M_i S M_iᵀ``.

    ``matrices`` has shape ``(K, rows, cols)``; only the columns some ``M_i`` uses are read from ``S``.
    """

    matrices: np.ndarray
    _used: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_used", np.flatnonzero(np.any(self.matrices != 0, axis=(0, 1))))

    @property
    def rows(self) -> int:
        return self.matrices.shape[1]

    @property
    def cols(self) -> int:
        return self.matrices.shape[2]

    @property
    def mean(self) -> np.ndarray:
        return self.matrices.mean(axis=0)

    def second(self, S: np.ndarray) -> np.ndarray:
        used = self._used
        Mu = self.matrices[:, :, used]
        Su = S[..., used[:, None], used[None, :]]
        K, rows, c = Mu.shape
        if Su.ndim == 2:  # two GEMMs: (K rows × c)(c × c), then (rows × K c)(K c × rows)
            X = (Mu.reshape(K * rows, c) @ Su).reshape(K, rows, c)
            return np.tensordot(X, Mu, axes=([0, 2], [0, 2])) / K
        MS = Mu @ Su[..., None, :, :]                      # (..., K, rows, c), batched BLAS products
        return (MS @ np.swapaxes(Mu, -1, -2)).mean(axis=-3)

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        used = self._used
        Mu = self.matrices[:, :, used]
        K, rows, c = Mu.shape
        out = np.zeros((*Y.shape[:-2], self.cols, self.cols))
        if Y.ndim == 2:  # two GEMMs: (rows × rows)(rows × K c), then (c × K rows)(K rows × c)
            X = Y @ np.swapaxes(Mu, 0, 1).reshape(rows, K * c)        # [r, (k, a)] = (Y M_k)[r, a]
            inner = np.tensordot(Mu, X.reshape(rows, K, c), axes=([0, 1], [1, 0])) / K
        else:
            YM = Y[..., None, :, :] @ Mu                              # (..., K, rows, c)
            inner = (np.swapaxes(Mu, -1, -2) @ YM).mean(axis=-3)
        out[..., used[:, None], used[None, :]] = inner
        return out


@dataclass(frozen=True, eq=False)
class Sum:
    """A sum of independent random maps (see the module table)."""

    parts: Sequence[RandomAffine]

    @property
    def rows(self) -> int:
        return self.parts[0].rows

    @property
    def cols(self) -> int:
        return self.parts[0].cols

    @property
    def mean(self) -> np.ndarray:
        return sum(p.mean for p in self.parts)

    def _moment(self, S: np.ndarray, sandwich: Any, part_second: Any) -> np.ndarray:
        """``sandwich(mean) + Σ_parts (part_second(part) − sandwich(part.mean))`` over the parts that fluctuate
        (independent parts: the cross terms vanish; a Noise part has mean 0)."""
        out = sandwich(self.mean, S)
        for part in self.parts:
            if isinstance(part, Fixed):  # no fluctuation
                continue
            out = out + part_second(part, S)
            if not isinstance(part, Noise):
                out = out - sandwich(part.mean, S)
        return out

    def second(self, S: np.ndarray) -> np.ndarray:
        return self._moment(S, _sandwich, lambda part, X: part.second(X))

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        return self._moment(Y, _adjoint_sandwich, lambda part, X: part.adjoint_second(X))


@dataclass(frozen=True, eq=False)
class MeanOfIid:
    """The mean of ``count`` independent copies of ``part`` (a minibatch drawn with replacement)."""

    part: RandomAffine
    count: int

    @property
    def rows(self) -> int:
        return self.part.rows

    @property
    def cols(self) -> int:
        return self.part.cols

    @property
    def mean(self) -> np.ndarray:
        return self.part.mean

    def second(self, S: np.ndarray) -> np.ndarray:
        centre = _sandwich(self.part.mean, S)
        return centre + (self.part.second(S) - centre) / self.count

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        centre = _adjoint_sandwich(self.part.mean, Y)
        return centre + (self.part.adjoint_second(Y) - centre) / self.count


@dataclass(frozen=True, eq=False)
class Mixture:
    """Branch ``k`` with probability ``weights[k]`` (the weights sum to 1)."""

    weights: Sequence[float]
    parts: Sequence[RandomAffine]

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.parts) or abs(sum(self.weights) - 1.0) > 1e-12:
            raise ValueError(f"mixture weights {list(self.weights)} must match the parts and sum to 1")

    @property
    def rows(self) -> int:
        return self.parts[0].rows

    @property
    def cols(self) -> int:
        return self.parts[0].cols

    @property
    def mean(self) -> np.ndarray:
        return sum(w * p.mean for w, p in zip(self.weights, self.parts, strict=True))

    def second(self, S: np.ndarray) -> np.ndarray:
        return sum(w * p.second(S) for w, p in zip(self.weights, self.parts, strict=True) if w > 0)

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        return sum(w * p.adjoint_second(Y) for w, p in zip(self.weights, self.parts, strict=True) if w > 0)


@dataclass(frozen=True, eq=False)
class Compressed:
    """``Q X`` with a random linear compressor ``Q`` independent of the random map ``X``.

    ``scale`` and ``moment`` are a compressor's :meth:`linear_moments` (``E Q = scale · I`` and
    ``moment.apply(Y) = E[Q Y Qᵀ]`` on ``rows × rows`` matrices).  ``E[Qᵀ Y Q]``, the adjoint of that map, is
    ``moment.apply(Y)`` too: a :class:`~verify.moments.SecondMoment` map is self-adjoint (module docstring).
    """

    scale: float
    moment: SecondMoment
    inner: RandomAffine

    def __post_init__(self) -> None:
        if self.moment.d != self.inner.rows:
            raise ValueError(f"compressor acts on R^{self.moment.d}, the inner map has {self.inner.rows} rows")

    @property
    def rows(self) -> int:
        return self.inner.rows

    @property
    def cols(self) -> int:
        return self.inner.cols

    @property
    def mean(self) -> np.ndarray:
        return self.scale * self.inner.mean

    def second(self, S: np.ndarray) -> np.ndarray:
        return self.moment.apply(self.inner.second(S))

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        return self.inner.adjoint_second(self.moment.apply(Y))


@dataclass(frozen=True, eq=False)
class Embed:
    """``part`` placed in rows ``offset .. offset + part.rows`` of a map with ``rows`` rows (zeros elsewhere)."""

    part: RandomAffine
    offset: int
    rows: int

    @property
    def cols(self) -> int:
        return self.part.cols

    @property
    def mean(self) -> np.ndarray:
        out = np.zeros((self.rows, self.cols))
        out[self.offset:self.offset + self.part.rows] = self.part.mean
        return out

    def second(self, S: np.ndarray) -> np.ndarray:
        out = np.zeros((*S.shape[:-2], self.rows, self.rows))
        sl = slice(self.offset, self.offset + self.part.rows)
        out[..., sl, sl] = self.part.second(S)
        return out

    def adjoint_second(self, Y: np.ndarray) -> np.ndarray:
        sl = slice(self.offset, self.offset + self.part.rows)
        return self.part.adjoint_second(Y[..., sl, sl])


@dataclass(frozen=True)
class Layout:
    """Index blocks of ``ẑ = (w, s, 1)``, ``y = (w⁺, w, s, 1)`` and ``x = (w⁰, 1)`` (module docstring).

    Attributes
    ----------
    N : int
        ``m·n``, the length of ``w = vec(W − W*)``.
    Ds : int
        Length of the estimator state ``s``.
    """

    N: int
    Ds: int

    @property
    def Dz(self) -> int:
        """Length of ``ẑ``: ``N + Ds + 1``."""
        return self.N + self.Ds + 1

    @property
    def Dy(self) -> int:
        """Length of ``y``: ``2N + Ds + 1``."""
        return 2 * self.N + self.Ds + 1

    # blocks of y
    @property
    def w_new(self) -> slice:
        return slice(0, self.N)

    @property
    def w(self) -> slice:
        return slice(self.N, 2 * self.N)

    @property
    def s(self) -> slice:
        return slice(2 * self.N, 2 * self.N + self.Ds)

    @property
    def one(self) -> int:
        return 2 * self.N + self.Ds

    def on_y(self, rows: int, **blocks: np.ndarray) -> np.ndarray:
        """A ``(rows, Dy)`` matrix from blocks named ``w_new``, ``w``, ``s`` (matrices) and ``one`` (a vector).

        A block given as ``(offset, M)`` with key ``s`` is placed at columns ``s.start + offset``.
        """
        out = np.zeros((rows, self.Dy))
        for name, M in blocks.items():
            if name == "one":
                out[:, self.one] += np.asarray(M, dtype=float)
            elif name == "s" and isinstance(M, tuple):
                offset, block = M
                start = self.s.start + offset
                out[:, start:start + block.shape[1]] += block
            else:
                out[:, getattr(self, name)] += M
        return out

    def on_x(self, rows: int, w: np.ndarray | None = None, one: np.ndarray | None = None) -> np.ndarray:
        """A ``(rows, N + 1)`` matrix acting on ``x = (w⁰, 1)``."""
        out = np.zeros((rows, self.N + 1))
        if w is not None:
            out[:, :self.N] = w
        if one is not None:
            out[:, self.N] = one
        return out


@dataclass(frozen=True, eq=False)
class Transition:
    r"""An estimator's exact description on a quadratic (returned by ``estimator.exact_transition(quad)``).

    Attributes
    ----------
    layout : Layout
        ``N`` and the state length ``Ds``.
    direction : ndarray, shape (N, Ds)
        ``K`` with ``vec(G^t) = K s^t``.
    init : RandomAffine
        ``s⁰`` as a random map of ``x = (w⁰, 1)`` (``Ds × (N + 1)``).
    update : RandomAffine
        ``s^{t+1}`` as a random map of ``y = (w^{t+1}, w^t, s^t, 1)`` (``Ds × Dy``), its draws independent
        of the sketch of step t and of the past.
    error : ndarray, shape (Dz, Dz), or None
        Symmetric ``E_err`` with the estimator's Lyapunov error term ``err_t = ẑᵀ E_err ẑ`` (``error`` of
        :mod:`verify.estimators`); None for 0.
    memoryless : bool
        ``G^t`` is a fresh draw at ``W^t`` (the estimator's ``memoryless``): ``init`` is that draw, and a
        one-step expectation ``E_t`` averages over it.
    """

    layout: Layout
    direction: np.ndarray
    init: RandomAffine
    update: RandomAffine
    error: np.ndarray | None
    memoryless: bool

    def __post_init__(self) -> None:
        lay = self.layout
        if self.direction.shape != (lay.N, lay.Ds):
            raise ValueError(f"direction has shape {self.direction.shape}, need {(lay.N, lay.Ds)}")
        if (self.init.rows, self.init.cols) != (lay.Ds, lay.N + 1):
            raise ValueError(f"init is {self.init.rows}x{self.init.cols}, need {lay.Ds}x{lay.N + 1}")
        if (self.update.rows, self.update.cols) != (lay.Ds, lay.Dy):
            raise ValueError(f"update is {self.update.rows}x{self.update.cols}, need {lay.Ds}x{lay.Dy}")
        if self.error is not None and self.error.shape != (lay.Dz, lay.Dz):
            raise ValueError(f"error form has shape {self.error.shape}, need {(lay.Dz, lay.Dz)}")


def error_form(layout: Layout, maps: Sequence[np.ndarray], weight: float = 1.0) -> np.ndarray:
    """``E_err = weight · Σ_i F_iᵀ F_i`` for linear maps ``F_i`` of ``ẑ`` (``err = weight Σ ‖F_i ẑ‖²``)."""
    out = np.zeros((layout.Dz, layout.Dz))
    for F in maps:
        out += F.T @ F
    return weight * out


def on_z(layout: Layout, rows: int, w: np.ndarray | None = None, s: tuple[int, np.ndarray] | None = None,
         one: np.ndarray | None = None) -> np.ndarray:
    """A ``(rows, Dz)`` matrix acting on ``ẑ = (w, s, 1)``; ``s = (offset, block)`` places a block in ``s``."""
    out = np.zeros((rows, layout.Dz))
    if w is not None:
        out[:, :layout.N] = w
    if s is not None:
        offset, block = s
        start = layout.N + offset
        out[:, start:start + block.shape[1]] = block
    if one is not None:
        out[:, layout.Dz - 1] = one
    return out
