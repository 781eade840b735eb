r"""Sketch projections, the Bernoulli step direction, and Monte-Carlo estimates of ``E[H]``.

One Bernoulli-LoRA step on ``W ∈ R^{m×n}`` replaces the estimator ``G`` by

.. math::

    \hat G = \begin{cases} H_B G & c = 1 \text{ (left sketch, probability } p) \\
                           G H_A & c = 0 \text{ (right sketch)} \end{cases},\qquad
    H_B = B_S (B_S^\top B_S)^\dagger B_S^\top,\quad H_A = A_S^\top (A_S A_S^\top)^\dagger A_S .

With ``Q`` an orthonormal basis of the sketch's column space, ``H_B G = Q (Qᵀ G)`` and
``G H_A = (G Q) Qᵀ``; no ``m×m`` or ``n×n`` matrix is formed and no pseudo-inverse is computed.

The constants of the theorems are the extreme eigenvalues of the expected projection operator
``X ↦ p E[H_B] X + (1−p) X E[H_A]`` (a Kronecker sum), namely

.. math::

    \lambda_{\min}^p = p\,\lambda_{\min}(E H_B) + (1-p)\,\lambda_{\min}(E H_A),\qquad
    \lambda_{\max}^p = p\,\lambda_{\max}(E H_B) + (1-p)\,\lambda_{\max}(E H_A).

:func:`estimate_lambda_p` estimates them with a rigorous confidence interval (matrix Bernstein plus Weyl).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg.blas

from verify.errors import require
from verify.sketch import SketchDistribution, validate_rank

__all__ = [
    "RANK_RTOL",
    "BernoulliProjector",
    "Interval",
    "LambdaEstimate",
    "ProjectionEstimate",
    "SketchDraw",
    "estimate_expected_projection",
    "estimate_lambda_p",
    "orthonormal_basis",
    "project_left",
    "project_right",
]

RANK_RTOL = 1e-10
"""Relative rank tolerance: singular values ``<= RANK_RTOL * s_max`` count as zero (see
:func:`orthonormal_basis`)."""

_CHUNK_ELEMENTS = 2**19
"""Sketch entries per chunk in :func:`estimate_expected_projection` (4 MiB of float64)."""

_UPDATE_ELEMENTS = 2**22
"""Basis entries per rank-k update in :func:`estimate_expected_projection` (32 MiB of float64)."""


# ----------------------------------------------------------------------------------------------------
# Orthonormal bases and projections
# ----------------------------------------------------------------------------------------------------


def _svd_basis(S: np.ndarray) -> np.ndarray:
    """Left singular vectors with ``s > RANK_RTOL * s_max``, the others zeroed; ``(R, d, r)``."""
    R, d, r = S.shape
    U, s, _ = np.linalg.svd(S, full_matrices=False)
    keep = s > RANK_RTOL * s[:, :1]
    Q = np.zeros((R, d, r))
    Q[:, :, : U.shape[2]] = U * keep[:, None, :]
    return Q


def _inverse_triangular(Rf: np.ndarray) -> np.ndarray:
    """``R_i⁻¹`` of upper-triangular ``(R, r, r)`` factors by back-substitution, vectorised over the runs.

    Row ``i`` of ``X = R⁻¹`` solves ``R_ii X_i + Σ_{k>i} R_ik X_k = e_i``; ``r`` batched operations instead
    of ``R`` LAPACK calls.  A zero diagonal gives ``inf``/``nan`` entries (the caller rejects those runs).
    """
    R, r, _ = Rf.shape
    X = np.zeros_like(Rf)
    eye = np.eye(r)
    for i in range(r - 1, -1, -1):
        rhs = eye[i] - np.einsum("rk,rkj->rj", Rf[:, i, i + 1:], X[:, i + 1:, :])
        X[:, i, :] = rhs / Rf[:, i, i:i + 1]
    return X


def orthonormal_basis(S: np.ndarray) -> np.ndarray:
    r"""An orthonormal basis of ``col(S)`` for each run, padded with zero columns.

    Parameters
    ----------
    S : ndarray, shape (R, d, r)
        ``R`` sketches.

    Returns
    -------
    Q : ndarray, shape (R, d, r)
        If ``rank(S_i) = k``, then ``k`` columns of ``Q_i`` are orthonormal and span ``col(S_i)`` and the
        other ``r − k`` columns are exactly zero.  Hence ``Q_i Q_iᵀ = S_i (S_iᵀ S_i)^† S_i^ᵀ`` is the
        orthogonal projection onto ``col(S_i)`` whatever its rank.

    Notes
    -----
    ``r = 1``: ``Q_i = S_i/‖S_i‖``, and ``Q_i = 0`` for ``S_i = 0`` (the only rank-deficient case).

    ``r > 1``, fast path: batched Householder QR, ``S_i = Q_i R_i``.  If ``S_i`` has full column rank,
    ``Q_i`` is the answer; but for a rank-deficient ``S_i`` unpivoted QR returns ``r`` orthonormal columns,
    some of them arbitrary directions outside ``col(S_i)``.  A run is therefore accepted only if

    .. math:: \|R_i\|_F\,\|R_i^{-1}\|_F < 1/\tau,\qquad \tau = \mathrm{RANK\_RTOL} = 10^{-10},

    which implies :math:`\sigma_{\min}(R_i) \ge 1/\|R_i^{-1}\|_F > \tau\|R_i\|_F \ge \tau\,
    \sigma_{\max}(R_i)`.  ``R_i⁻¹`` comes from a back-substitution vectorised over the runs
    (:func:`_inverse_triangular`, ``r`` array operations; a batched SVD of the factors costs ``R`` LAPACK
    calls and was the largest part of a small-problem step).  The singular values of ``R_i`` are those
    of ``S_i`` up to the backward error of QR (``≈ ε‖S_i‖``).  The simpler test ``min|R_jj| ≤
    tol·max|R_jj|`` is not used: it bounds ``σ_min`` only from above (``σ_min(R) ≤ min|R_jj|``) and misses
    nearly singular ``R`` such as Kahan's matrix.  Rejected runs are redone with a batched thin SVD of
    ``S_i``, keeping the left singular vectors with ``s > RANK_RTOL · s_max`` (all of them dropped for
    ``S_i = 0``); ``r > d`` always goes this way.  The test is sufficient, not necessary: a run with
    ``σ_min/σ_max`` within a factor ``r`` above ``τ`` may be redone by SVD, which then keeps every
    direction, so the projection is the same.

    Choice of ``RANK_RTOL = 1e-10``: an exactly rank-deficient sketch computed in floating point
    (products ``C D``, repeated or zero columns) has spurious singular values of order
    ``max(d, r)·ε·s_max ≲ 10^{-13} s_max`` for ``d ≤ 10^3``, far below ``1e-10``.  A full-rank random
    sketch with ``κ(S) > 10^{10}`` is rare (for Gaussian sketches ``P(κ > d·x) = O(1/x)``, Edelman 1988)
    and its column space is fixed by the data only to about ``ε·κ ≈ 10^{-6}``; treating it as rank
    deficient changes ``H`` by a direction the data does not determine.
    """
    S = np.asarray(S, dtype=float)
    if S.ndim != 3:
        raise ValueError(f"S must have shape (R, d, r), got {S.shape}")
    R, d, r = S.shape
    if R == 0:
        return np.zeros((0, d, r))
    if r > d:
        return _svd_basis(S)
    if r == 1:
        norm = np.sqrt(np.einsum("rdk,rdk->rk", S, S))[:, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(norm > 0, S / norm, 0.0)
    Q, Rf = np.linalg.qr(S)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv = _inverse_triangular(Rf)
        cond = np.sqrt(np.einsum("rij,rij->r", Rf, Rf) * np.einsum("rij,rij->r", inv, inv))
    bad = ~(cond < 1.0 / RANK_RTOL)
    if bad.any():
        Q[bad] = _svd_basis(S[bad])
    return Q


def project_left(Q: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``H_B G = Q (Qᵀ G)`` run by run; ``Q`` is ``(R, m, r)`` from :func:`orthonormal_basis`, ``G`` is
    ``(R, m, n)``.  (For ``r = 1`` einsum beats numpy's stacked matmul by about 2×.)"""
    if Q.shape[2] == 1:
        return np.einsum("rik,rkj->rij", Q, np.einsum("rik,rij->rkj", Q, G))
    return Q @ (Q.transpose(0, 2, 1) @ G)


def project_right(Q: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``G H_A = (G Q) Qᵀ`` run by run; ``Q`` is ``(R, n, r)`` from :func:`orthonormal_basis`, ``G`` is
    ``(R, m, n)``.  (For ``r = 1`` einsum beats numpy's stacked matmul by about 2×.)"""
    if Q.shape[2] == 1:
        return np.einsum("rik,rjk->rij", np.einsum("rij,rjk->rik", G, Q), Q)
    return (G @ Q) @ Q.transpose(0, 2, 1)


# ----------------------------------------------------------------------------------------------------
# The Bernoulli step direction
# ----------------------------------------------------------------------------------------------------


def _validate_p(p: float) -> None:
    require(
        isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool) and 0 <= p <= 1,
        f"p={p!r} is not a probability: need 0 <= p <= 1 (p is the probability of the left sketch)",
    )


@dataclass(frozen=True, eq=False)
class SketchDraw:
    """The sketches of one Bernoulli-LoRA step for ``R`` runs.

    Attributes
    ----------
    left : ndarray of bool, shape (R,)
        The coin ``c``: True where the left sketch ``B_S`` is drawn (``Ĝ = H_B G``).
    B_S, Q_B : ndarray, shape (n_left, m, r)
        Left sketches of the runs with ``c = 1`` (in run order) and orthonormal bases of their columns.
    A_S : ndarray, shape (n_right, r, n)
        Right sketches of the runs with ``c = 0``, in the paper's orientation.
    Q_A : ndarray, shape (n_right, n, r)
        Orthonormal bases of the row spaces of ``A_S`` (``H_A = Q_A Q_Aᵀ``).
    """

    left: np.ndarray
    B_S: np.ndarray
    A_S: np.ndarray
    Q_B: np.ndarray
    Q_A: np.ndarray


@dataclass(frozen=True)
class BernoulliProjector:
    """The random projection of one Bernoulli-LoRA step.

    Attributes
    ----------
    p : float
        Probability of the LEFT sketch (``B_S`` drawn, ``A`` trained, ``Ĝ = H_B G``), ``0 <= p <= 1``.
    r : int
        LoRA rank, ``1 <= r <= min(m, n)``.
    left, right : SketchDistribution
        Distributions of ``B_S`` (column sketches of size ``m×r``) and of ``A_Sᵀ`` (size ``n×r``).

    Notes
    -----
    :meth:`draw` takes from ``rng``, in this order: the ``R`` coins (:meth:`coins`), the left sketches of
    the runs with ``c = 1``, the right sketches of the others.  A test can build a deliberately broken
    projector by overriding :meth:`coins` in a subclass.
    """

    p: float
    r: int
    left: SketchDistribution
    right: SketchDistribution

    def __post_init__(self) -> None:
        _validate_p(self.p)
        require(
            isinstance(self.r, (int, np.integer)) and not isinstance(self.r, bool) and self.r >= 1,
            f"rank r={self.r!r} is out of range: need an integer r >= 1",
        )

    def validate(self, m: int, n: int) -> None:
        """Raise :class:`~verify.errors.UserError` unless ``1 <= r <= min(m, n)``."""
        require(
            self.r <= min(m, n),
            f"rank r={self.r!r} is out of range for {m}x{n} matrices: need 1 <= r <= min(m, n) = {min(m, n)}",
        )

    def coins(self, rng: np.random.Generator, R: int) -> np.ndarray:
        """The coins ``c ~ Bernoulli(p)`` of ``R`` runs, shape ``(R,)`` bool (True = left sketch)."""
        return rng.random(R) < self.p

    def draw(self, rng: np.random.Generator, R: int, m: int, n: int) -> SketchDraw:
        """Draw the coins and the sketches of one step for ``R`` runs on ``m×n`` matrices."""
        self.validate(m, n)
        left = np.asarray(self.coins(rng, R), dtype=bool)
        n_left = int(left.sum())
        S_B = self.left.sample(rng, n_left, m, self.r)
        S_A = self.right.sample(rng, R - n_left, n, self.r)
        return SketchDraw(
            left=left,
            B_S=S_B,
            A_S=S_A.transpose(0, 2, 1),
            Q_B=orthonormal_basis(S_B),
            Q_A=orthonormal_basis(S_A),
        )

    def apply(self, draw: SketchDraw, G: np.ndarray) -> np.ndarray:
        """``Ĝ``, shape ``(R, m, n)``: ``H_B G`` on the runs with ``c = 1``, ``G H_A`` on the others."""
        G = np.asarray(G, dtype=float)
        if G.ndim != 3 or G.shape[0] != draw.left.shape[0]:
            raise ValueError(f"G must have shape (R, m, n) with R = {draw.left.shape[0]}, got {G.shape}")
        n_left = draw.Q_B.shape[0]
        if n_left == len(G):  # all runs on one side: no masked copies
            return project_left(draw.Q_B, G)
        if n_left == 0:
            return project_right(draw.Q_A, G)
        out = np.empty_like(G)
        out[draw.left] = project_left(draw.Q_B, G[draw.left])
        out[~draw.left] = project_right(draw.Q_A, G[~draw.left])
        return out

    def lambda_closed_form(self, m: int, n: int) -> tuple[float, float] | None:
        """``(λ_min^p, λ_max^p)`` from the distributions' closed forms, or ``None`` if one is unknown.

        Only the sides with positive weight are needed: at ``p = 1`` the right distribution is never
        used (and the left one is never used at ``p = 0``).
        """
        self.validate(m, n)
        p = float(self.p)
        eig_B = self.left.expected_projection_eigs(m, self.r) if p > 0 else (0.0, 0.0)
        eig_A = self.right.expected_projection_eigs(n, self.r) if p < 1 else (0.0, 0.0)
        if eig_B is None or eig_A is None:
            return None
        return (p * eig_B[0] + (1 - p) * eig_A[0], p * eig_B[1] + (1 - p) * eig_A[1])


# ----------------------------------------------------------------------------------------------------
# Monte-Carlo estimates of E[H] with confidence intervals
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval ``[lower, upper]``."""

    estimate: float
    lower: float
    upper: float

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def contains(self, x: float) -> bool:
        return self.lower <= x <= self.upper


@dataclass(frozen=True, eq=False)
class ProjectionEstimate:
    """Monte-Carlo estimate of ``E[H]`` for one sketch distribution on ``R^d``.

    Attributes
    ----------
    mean : ndarray, shape (d, d)
        ``Ê = (1/K) Σ_k H_k``.
    eigenvalues : ndarray, shape (d,)
        Eigenvalues of ``Ê``, ascending.
    lambda_min, lambda_max : Interval
        Confidence intervals for ``λ_min(E[H])`` and ``λ_max(E[H])``, jointly at level ``1 − delta``.
    radius : float
        ``t`` with ``‖Ê − E[H]‖ < t`` on the confidence event.
    variance_proxy : float
        The bound ``v ≥ ‖E[(H − EH)²]‖`` used in the Bernstein inequality.
    """

    sketch: str
    d: int
    r: int
    samples: int
    delta: float
    mean: np.ndarray
    eigenvalues: np.ndarray
    lambda_min: Interval
    lambda_max: Interval
    radius: float
    variance_proxy: float
    closed_form: tuple[float, float] | None


def _validate_mc(samples: int, delta: float) -> None:
    require(
        isinstance(samples, (int, np.integer)) and not isinstance(samples, bool) and samples >= 1,
        f"samples={samples!r} is invalid: need an integer >= 1",
    )
    require(
        isinstance(delta, (int, float, np.floating)) and 0 < delta < 1,
        f"delta={delta!r} is invalid: need 0 < delta < 1",
    )


def _bernstein_radius(samples: int, d: int, delta: float, v: float) -> float:
    """Smallest ``t`` with ``2d exp(−K t²/2 / (v + t/3)) <= delta``."""
    L = math.log(2 * d / delta)
    a = L / (3 * samples)
    return a + math.sqrt(a * a + 2 * L * v / samples)


def _radius(eigenvalues: np.ndarray, samples: int, d: int, r: int, delta: float) -> tuple[float, float]:
    """``(t, v)``: the confidence radius and the variance proxy, see :func:`estimate_expected_projection`."""
    slack = d * (samples * r + 10 * d) * np.finfo(float).eps
    v = 0.25
    for _ in range(200):
        t = _bernstein_radius(samples, d, delta, v) + slack
        lo = np.clip(eigenvalues - t, 0.0, 1.0)
        hi = np.clip(eigenvalues + t, 0.0, 1.0)
        mu = np.clip(0.5, lo, hi)
        g = float(np.max(mu * (1.0 - mu)))
        if g >= v * (1 - 1e-9):
            break
        v = g
    return float(_bernstein_radius(samples, d, delta, v) + slack), v


def estimate_expected_projection(
    dist: SketchDistribution,
    d: int,
    r: int,
    samples: int,
    rng: np.random.Generator,
    delta: float = 1e-3,
) -> ProjectionEstimate:
    r"""Monte-Carlo estimate of ``E[H]`` and rigorous confidence intervals for its extreme eigenvalues.

    Parameters
    ----------
    dist : SketchDistribution
        The sketch distribution; ``H`` is the projection onto ``col(S)``, ``S ∈ R^{d×r}``.
    d, r : int
        Dimension and rank, ``1 <= r <= d``.
    samples : int
        Number ``K`` of independent sketches.
    rng : numpy.random.Generator
        The only source of randomness.
    delta : float
        The intervals for ``λ_min(E[H])`` and ``λ_max(E[H])`` hold jointly with probability
        ``>= 1 − delta``.

    Returns
    -------
    ProjectionEstimate

    Notes
    -----
    ``Ê = (1/K) Σ_k Q_k Q_kᵀ`` is accumulated as ``Q_cat Q_catᵀ`` over chunks of sketches, so memory
    stays bounded; the ``d×d`` matrix ``Ê`` (the object being estimated) is the only one formed.

    **Concentration.**  Matrix Bernstein, Tropp (2012), *User-friendly tail bounds for sums of random
    matrices*, Found. Comput. Math. 12:389–434, Theorem 1.4: for independent self-adjoint ``d×d``
    ``X_k`` with ``E X_k = 0`` and ``λ_max(X_k) <= R_0`` a.s.,
    ``P(λ_max(Σ X_k) >= t) <= d exp(−(t²/2)/(σ² + R_0 t/3))`` with ``σ² = ‖Σ_k E X_k²‖``.  Apply it to
    ``X_k = ±(H_k − E H)/K`` and add the two tails:

    .. math::

        P(\|\hat E - E H\| \ge t) \le 2d \exp\Big(-\frac{K t^2/2}{v + t/3}\Big),

    valid because ``0 ≼ H_k, E H ≼ I`` gives ``‖H_k − E H‖ <= 1`` (so ``R_0 = 1/K``) and ``H_k² = H_k``
    gives ``E(H − EH)² = E H − (E H)²``, whose norm is ``v* = max_i μ_i(1 − μ_i) <= 1/4`` (``μ_i`` the
    eigenvalues of ``E H``); so any ``v >= v*`` may be used.  Setting the right side to ``delta``
    with ``L = log(2d/delta)``:

    .. math:: t(v) = \frac{L}{3K} + \sqrt{\Big(\frac{L}{3K}\Big)^2 + \frac{2 L v}{K}} .

    **Weyl.**  ``|λ_i(Ê) − λ_i(E H)| <= ‖Ê − E H‖`` for the sorted eigenvalues, so on the event
    ``‖Ê − EH‖ < t`` both ``λ_min(E H)`` and ``λ_max(E H)`` lie within ``t`` of ``λ_min(Ê)``,
    ``λ_max(Ê)``; the intervals are clipped to ``[0, 1]``.

    **Variance, self-consistently and rigorously.**  Start from ``v_0 = 1/4 >= v*`` and iterate
    ``v_{j+1} = min(v_j, g(t(v_j)))``, where ``g(t) = max_i max{μ(1−μ) : |μ − λ_i(Ê)| <= t, 0 <= μ <= 1}``.
    On the event ``‖Ê − EH‖ < t(v*)`` (probability ``>= 1 − delta``) Weyl gives ``v* <= g(t(v*))``; since
    ``t`` and ``g`` are non-decreasing, ``v* <= v_j`` implies ``v* <= g(t(v_j))``, so by induction every
    iterate is ``>= v*`` and ``t(v_j) >= t(v*)``: stopping at any ``j`` keeps the level.  This shrinks
    ``t`` when the eigenvalues are far from 1/2 (e.g. ``r/d`` small, or a degenerate ``E H``).

    **Rounding.**  ``t`` is increased by ``d (K r + 10 d) ε``.  Each entry of ``K Ê`` is a sum of ``K r``
    products ``q_aj q_bj`` with ``Σ_j |q_aj q_bj| <= K`` (Cauchy–Schwarz: the rows of ``Q_cat`` have squared
    norm ``<= K``), so its rounding error is at most ``γ_{Kr} K ≈ K r ε K`` (Higham, *Accuracy and
    Stability of Numerical Algorithms*, §3.1); over ``d²`` entries the spectral error of ``Ê`` is at most
    ``d K r ε``, and ``10 d² ε`` covers the orthonormality error of ``Q`` and the eigensolver.
    """
    validate_rank(r, d)
    _validate_mc(samples, delta)
    chunk = max(1, min(samples, _CHUNK_ELEMENTS // (d * r)))
    # Bases of several sampling chunks are gathered in Q_cat (d, width), then one rank-``width`` update
    # total += Q_cat Q_catᵀ (BLAS syrk: upper triangle only, half the flops of a matmul).
    per_update = max(1, min(-(-samples // chunk), _UPDATE_ELEMENTS // (d * r * chunk)))
    Q_cat = np.empty((d, min(samples, per_update * chunk) * r))
    total = np.zeros((d, d), order="F")
    done = filled = 0
    while done < samples:
        size = min(chunk, samples - done)
        Q = orthonormal_basis(dist.sample(rng, size, d, r))
        Q_cat[:, filled:filled + size * r].reshape(d, size, r)[...] = Q.transpose(1, 0, 2)
        filled += size * r
        done += size
        if filled + min(chunk, samples - done) * r > Q_cat.shape[1] or done == samples:
            # Q_cat[:, :filled] is C-ordered, so its transpose is the Fortran (filled, d) matrix syrk wants.
            total = scipy.linalg.blas.dsyrk(1.0, Q_cat[:, :filled].T, beta=1.0, c=total, trans=1, lower=0,
                                            overwrite_c=1)
            filled = 0
    total = np.triu(total) + np.triu(total, 1).T
    mean = total / samples
    mean = (mean + mean.T) / 2
    eigenvalues = np.linalg.eigvalsh(mean)
    t, v = _radius(eigenvalues, samples, d, r, delta)

    def interval(x: float) -> Interval:
        x = min(max(x, 0.0), 1.0)
        return Interval(x, max(x - t, 0.0), min(x + t, 1.0))

    return ProjectionEstimate(
        sketch=dist.name,
        d=d,
        r=r,
        samples=samples,
        delta=delta,
        mean=mean,
        eigenvalues=eigenvalues,
        lambda_min=interval(float(eigenvalues[0])),
        lambda_max=interval(float(eigenvalues[-1])),
        radius=t,
        variance_proxy=v,
        closed_form=dist.expected_projection_eigs(d, r),
    )


@dataclass(frozen=True, eq=False)
class LambdaEstimate:
    """Confidence intervals for ``λ_min^p`` and ``λ_max^p`` (jointly at level ``1 − delta``).

    ``left`` / ``right`` are the per-side estimates of ``E[H_B]`` / ``E[H_A]`` (``None`` for a side of
    weight 0); ``closed_form`` is :meth:`BernoulliProjector.lambda_closed_form`.
    """

    lambda_min_p: Interval
    lambda_max_p: Interval
    closed_form: tuple[float, float] | None
    samples: int
    delta: float
    method: str
    left: ProjectionEstimate | None
    right: ProjectionEstimate | None

    @property
    def conservative(self) -> tuple[float, float]:
        """``(lower end of λ_min^p, upper end of λ_max^p)``: the ends that make every bound larger."""
        return (self.lambda_min_p.lower, self.lambda_max_p.upper)


def estimate_lambda_p(
    left: SketchDistribution,
    right: SketchDistribution,
    m: int,
    n: int,
    r: int,
    p: float,
    samples: int,
    rng: np.random.Generator,
    delta: float = 1e-3,
) -> LambdaEstimate:
    r"""Estimate ``λ_min^p = p λ_min(E H_B) + (1−p) λ_min(E H_A)`` and ``λ_max^p`` likewise.

    Parameters
    ----------
    left, right : SketchDistribution
        Distributions of ``B_S`` (on ``R^m``) and of ``A_Sᵀ`` (on ``R^n``).
    m, n, r, p
        Shape of ``W``, rank (``1 <= r <= min(m, n)``) and probability of the left sketch.
    samples : int
        Sketches per side.
    rng : numpy.random.Generator
        The left side is estimated first, then the right side.
    delta : float
        Joint error probability of the two intervals.

    Notes
    -----
    Each side is estimated by :func:`estimate_expected_projection` at level ``delta/2`` (union bound) and
    the intervals are combined linearly: ``[p a_lo + (1−p) b_lo, p a_hi + (1−p) b_hi]``, which contains
    ``λ^p`` whenever both side intervals hold.  A side of weight 0 is not sampled and gets all of ``delta``
    to the other side.
    """
    projector = BernoulliProjector(p, r, left, right)
    projector.validate(m, n)
    _validate_mc(samples, delta)
    p = float(p)
    weights = [(p, left, m), (1 - p, right, n)]
    used = sum(w > 0 for w, _, _ in weights)
    side_delta = delta / used
    estimates = [
        estimate_expected_projection(dist, d, r, samples, rng, side_delta) if w > 0 else None
        for w, dist, d in weights
    ]

    sides = [(w, est) for (w, _, _), est in zip(weights, estimates, strict=True) if est is not None]

    def combine(which: str) -> Interval:
        parts = [(w, getattr(est, which)) for w, est in sides]
        return Interval(
            sum(w * iv.estimate for w, iv in parts),
            sum(w * iv.lower for w, iv in parts),
            sum(w * iv.upper for w, iv in parts),
        )

    method = (
        f"Monte Carlo mean of H over {samples} sketches per side; matrix Bernstein (Tropp 2012, Thm 1.4, "
        f"two-sided, variance proxy bounded self-consistently) plus Weyl's inequality, error probability "
        f"{side_delta:g} for each of {used} side(s) (union bound: joint confidence 1 - {delta:g})"
    )
    return LambdaEstimate(
        lambda_min_p=combine("lambda_min"),
        lambda_max_p=combine("lambda_max"),
        closed_form=projector.lambda_closed_form(m, n),
        samples=samples,
        delta=delta,
        method=method,
        left=estimates[0],
        right=estimates[1],
    )
