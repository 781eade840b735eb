r"""The exact second-moment recursion of Bernoulli-LoRA on a quadratic.

One step of the runner (:mod:`verify.runner`) on ``f(W) = f* + ½ wᵀ A w``, ``w = vec(W − W*)`` (column-major):

.. math:: w^{t+1} = w^t - \gamma\, P^t K s^t,\qquad s^{t+1} = U^t\, (w^{t+1}, w^t, s^t, 1),

where ``s`` is the estimator state, ``G = K s``, ``P^t`` the projection of step t and ``U^t`` the
estimator's random affine update (:class:`verify.exact.maps.Transition`), all draws independent of the
past and of each other.  In the runner's ``vec`` convention

.. math:: P = I_n \otimes H_B \ (\text{prob. } p),\qquad P = H_A \otimes I_m \ (\text{prob. } 1-p),

because ``vec(H_B G) = (I_n ⊗ H_B) vec G`` and ``vec(G H_A) = (H_A ⊗ I_m) vec G``.  With the homogeneous state
``ẑ = (w, s, 1)`` and ``Σ = E[ẑ ẑᵀ]`` (blocks ``Σ_ww``, ``Σ_ws``, …; the last column is the first moment):

* **move.**  With ``J ẑ = w`` and ``K̂ ẑ = G``, ``y = (w⁺, ẑ)`` has second moment
  ``E[w⁺ ẑᵀ] = J Σ − γ E[P] K̂ Σ`` and

  .. math:: E[w^+ w^{+\top}] = J\Sigma J^\top - \gamma\,E[P]\,\hat K\Sigma J^\top - \gamma\,J\Sigma\hat K^\top E[P]
            + \gamma^2\, E[P\,(\hat K\Sigma\hat K^\top)\,P];

  ``E[P] = p (I_n ⊗ E H_B) + (1−p)(E H_A ⊗ I_m)`` and ``E[P Y P]`` is computed blockwise with the sketches'
  :class:`~verify.moments.SecondMoment`: the ``m×m`` map on each of the ``n²`` blocks ``Y[k m:(k+1)m, l m:(l+1)m]``
  (left) and the ``n×n`` map on each of the ``m²`` matrices ``(Y[i + m k, j + m l])_{k,l}`` (right).  No
  ``mn × mn`` projection is formed.
* **update.**  ``ẑ⁺ = (w⁺, U y, y_one)``: ``E[s⁺ w⁺ᵀ] = Ū Σ_y[:, w⁺]``, ``E[s⁺ s⁺ᵀ] = 𝒰(Σ_y)`` (the estimator's
  maps), the rest copied from ``Σ_y``.

Every operation is linear in ``Σ`` and accepts a batch ``(..., D, D)``.  Expectations of the measures:
``E[f − f*] = ½ tr(A Σ_ww)``, ``E‖∇f‖² = tr(A² Σ_ww)``, ``E‖W − W*‖² = tr Σ_ww``, ``E err = ⟨E_err, Σ⟩``.

Adjoints
--------
Each operation is ``Σ ↦ E[M̂ Σ M̂ᵀ]`` for a random matrix ``M̂`` of the lifted state (the constant 1 is a
coordinate, so the affine parts and the noise are columns of ``M̂``), and its adjoint for the Frobenius inner
product on symmetric matrices is ``Y ↦ E[M̂ᵀ Y M̂]``: ``⟨Y, E[M̂ Σ M̂ᵀ]⟩ = ⟨E[M̂ᵀ Y M̂], Σ⟩``.  It maps a
quadratic form of the output state to the form of the input state with the same expectation, so
``E_t ẑ_{t+1}ᵀ Φ̂ ẑ_{t+1} = ẑ_tᵀ 𝒯*(Φ̂) ẑ_t`` with ``𝒯* = move* ∘ update*`` (the reverse order of
``𝒯 = update ∘ move``):

* **move***, ``M̂ = [J − γ P K̂; I]``: with ``Y`` in blocks ``(w⁺, ẑ)``,

  .. math:: \mathrm{move}^*(Y) = Y_{zz} + B^\top Y_{w z} + Y_{z w} B + J^\top Y_{ww} J
            - \gamma\,(J^\top Y_{ww} E[P] \hat K + \hat K^\top E[P]^\top Y_{ww} J)
            + \gamma^2\,\hat K^\top E[P^\top Y_{ww} P]\,\hat K,\qquad B = J - \gamma E[P]\hat K;

  ``P`` is a symmetric projection, so ``Y ↦ E[Pᵀ Y P] = E[P Y P]`` is the same :class:`SketchOperator` map
  (it is self-adjoint);
* **update***, ``M̂`` the rows ``(w⁺, U, 1)``: ``U``'s adjoint ``𝒰*`` on the ``(s, s)`` block of ``Y``, the
  cross blocks through ``Ū``, the ``(w⁺, 1)`` block copied;
* **lift*** likewise with the estimator's ``init``.

One application costs about one forward step.

Sizes: ``m·n ≤`` :data:`~verify.exact.maps.MAX_MN` (100) and ``m·n + D_s ≤``
:data:`~verify.exact.maps.MAX_STATE` (400); a step costs a few dense products of ``(2mn + D_s + 1)``-square
matrices (and, for a finite sum of ``K`` components, ``K`` small ones).  Float64 throughout: the recursion is
a product of contractions, and its relative rounding error grows like ``T·D·ε`` (checked in the tests
against Monte Carlo and exact enumeration, far below any statistical resolution).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verify.exact.maps import MAX_MN, MAX_STATE, ExactUnsupported, Transition
from verify.exact.quadratic import Quadratic
from verify.moments import SecondMoment

__all__ = ["MEASURES", "ExactChain", "ExactTrajectory", "SketchOperator", "exact_chain", "sketch_operator"]

#: Measures with an exact expectation (``gap_avg_iterate`` and ``gap_best`` are not linear in ``Σ_t``).
MEASURES = ("avg_grad_sq", "weighted_grad_sq", "gap_last", "lyapunov", "dist_last")


@dataclass(frozen=True, eq=False)
class SketchOperator:
    r"""``E[P]`` and ``Y ↦ E[P Y P]`` on ``mn × mn`` matrices (column-major ``vec``; module docstring).

    ``P`` is symmetric (``H_B``, ``H_A`` are orthogonal projections), so ``Y ↦ E[P Y P]`` is self-adjoint for
    the Frobenius inner product (``⟨Z, P Y P⟩ = ⟨P Z P, Y⟩``): :meth:`second` is also ``Y ↦ E[Pᵀ Y P]``.

    Attributes
    ----------
    m, n : int
        Shape of ``W``.
    p : float
        Probability of the left sketch.
    left, right : SecondMoment or None
        ``Y ↦ E[H_B Y H_B]`` on ``m×m`` and ``Y ↦ E[H_A Y H_A]`` on ``n×n`` (None for a side of weight 0).
    """

    m: int
    n: int
    p: float
    left: SecondMoment | None
    right: SecondMoment | None
    mean: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        m, n = self.m, self.n
        mean = np.zeros((m * n, m * n))
        if self.left is not None:
            mean += self.p * np.kron(np.eye(n), self.left.expected_projection())
        if self.right is not None:
            mean += (1 - self.p) * np.kron(self.right.expected_projection(), np.eye(m))
        object.__setattr__(self, "mean", mean)

    def second(self, Y: np.ndarray) -> np.ndarray:
        """``E[P Y P]`` for ``Y`` of shape ``(..., mn, mn)``."""
        m, n = self.m, self.n
        lead = Y.shape[:-2]
        Y4 = Y.reshape(*lead, n, m, n, m)  # [k, i, l, j] = Y[i + m k, j + m l]
        out = np.zeros_like(Y4)
        if self.left is not None:  # blocks (k, l): the m×m matrix over (i, j)
            out += self.p * np.swapaxes(self.left.apply(np.swapaxes(Y4, -3, -2)), -3, -2)
        if self.right is not None:  # entries (i, j): the n×n matrix over (k, l)
            b = len(lead)
            perm = [*range(b), b + 1, b + 3, b, b + 2]  # (k, i, l, j) -> (i, j, k, l)
            Z = self.right.apply(np.transpose(Y4, perm))
            out += (1 - self.p) * np.transpose(Z, np.argsort(perm))
        return out.reshape(Y.shape)


def sketch_operator(projector: Any, m: int, n: int) -> SketchOperator:
    """The :class:`SketchOperator` of a :class:`~verify.projection.BernoulliProjector` on ``m×n`` matrices.

    Raises
    ------
    ExactUnsupported
        A side of positive weight whose distribution has no closed-form ``second_moment``.
    """
    projector.validate(m, n)
    p, r = float(projector.p), int(projector.r)
    left = projector.left.second_moment(m, r) if p > 0 else None
    right = projector.right.second_moment(n, r) if p < 1 else None
    for weight, dist, mom, side in ((p, projector.left, left, "left"), (1 - p, projector.right, right, "right")):
        if weight > 0 and mom is None:
            raise ExactUnsupported(f"the {side} sketch {dist.name!r} has no closed-form second moment E[HYH] "
                                   f"at r = {r}; the exact recursion needs one")
    return SketchOperator(m, n, p, left, right)


def _gamma(stepsize: Any) -> float:
    if isinstance(stepsize, (int, float, np.floating)):
        return float(stepsize)
    gamma = getattr(stepsize, "gamma", None)
    if gamma is None:
        raise ExactUnsupported(f"stepsize {stepsize!r} is not constant: the exact recursion needs a constant gamma")
    return float(gamma)


@dataclass(frozen=True, eq=False)
class ExactTrajectory:
    """Exact expectations at ``t = 0..T`` (arrays of length ``T + 1``).

    Attributes
    ----------
    gap, grad_sq, err, dist : ndarray
        ``E[f(W^t) − f*]``, ``E‖∇f(W^t)‖²``, ``E err_t`` (the estimator's Lyapunov error term) and
        ``E‖W^t − W*‖²``.
    second_moments : list of ndarray or None
        ``Σ_t`` when asked for (``keep=True``).
    """

    gap: np.ndarray
    grad_sq: np.ndarray
    err: np.ndarray
    dist: np.ndarray
    second_moments: list[np.ndarray] | None = None

    @property
    def iters(self) -> int:
        return len(self.gap) - 1

    def measure(self, measure: str, T_points: Any, a: float = 1.0, k: float = 0.0) -> np.ndarray:
        """The exact ``E[measure]`` at the checkpoints, as :func:`verify.measures.measure_values` defines it.

        ``avg_grad_sq``: ``(1/T) Σ_{t<T} E‖∇f‖²``; ``weighted_grad_sq``: weights ``a^{−(t+1)}``; ``gap_last``;
        ``lyapunov``: ``E[f − f*] + k E err``; ``dist_last``: ``E‖W^T − W*‖²``.
        """
        T = np.asarray(T_points, dtype=int)
        if measure == "avg_grad_sq":
            return np.cumsum(self.grad_sq[:-1])[T - 1] / T
        if measure == "weighted_grad_sq":
            t = np.arange(self.iters)
            w = np.exp(-(t + 1) * np.log(a) + np.log(a))
            return np.cumsum(self.grad_sq[:-1] * w)[T - 1] / np.cumsum(w)[T - 1]
        if measure == "gap_last":
            return self.gap[T]
        if measure == "lyapunov":
            return self.gap[T] + k * self.err[T]
        if measure == "dist_last":
            return self.dist[T]
        raise ExactUnsupported(f"measure {measure!r} has no exact expectation here; exact measures: "
                               f"{', '.join(MEASURES)}")


@dataclass(frozen=True, eq=False)
class ExactChain:
    """The linear map ``Σ_t ↦ Σ_{t+1}`` of one method on one quadratic (module docstring)."""

    quad: Quadratic
    transition: Transition
    sketch: SketchOperator
    gamma: float

    @property
    def layout(self) -> Any:
        return self.transition.layout

    def _K(self) -> np.ndarray:
        lay = self.layout
        K = np.zeros((lay.N, lay.Dz))
        K[:, lay.N:lay.N + lay.Ds] = self.transition.direction
        return K

    def move(self, S: np.ndarray) -> np.ndarray:
        """``Σ_y = E[y yᵀ]`` of ``y = (w⁺, w, s, 1)`` from ``Σ = E[ẑ ẑᵀ]`` (batched)."""
        N, g = self.layout.N, self.gamma
        K = self._K()
        EP = self.sketch.mean
        KS = K @ S                                     # E[G ẑᵀ]
        wS = S[..., :N, :] - g * (EP @ KS)             # E[w⁺ ẑᵀ]
        ww = (wS[..., :N] - g * (S[..., :N, :] @ K.T) @ EP
              + g * g * self.sketch.second(KS @ K.T))
        top = np.concatenate([ww, wS], axis=-1)
        bottom = np.concatenate([np.swapaxes(wS, -1, -2), S], axis=-1)
        return np.concatenate([top, bottom], axis=-2)

    def update(self, Sy: np.ndarray) -> np.ndarray:
        """``Σ⁺ = E[ẑ⁺ ẑ⁺ᵀ]`` with ``ẑ⁺ = (w⁺, U y, y_one)`` from ``Σ_y`` (batched)."""
        lay, U = self.layout, self.transition.update
        N, one = lay.N, lay.one
        keep = np.r_[0:N, one]                          # w⁺ and the constant
        Ubar = U.mean
        sk = Ubar @ Sy[..., :, keep]                    # E[s⁺ (w⁺, 1)ᵀ]
        ss = U.second(Sy)
        kk = Sy[..., keep[:, None], keep[None, :]]
        out = np.empty((*Sy.shape[:-2], lay.Dz, lay.Dz))
        idx_k = np.r_[0:N, lay.Dz - 1]
        idx_s = np.arange(N, N + lay.Ds)
        out[..., idx_k[:, None], idx_k[None, :]] = kk
        out[..., idx_s[:, None], idx_k[None, :]] = sk
        out[..., idx_k[:, None], idx_s[None, :]] = np.swapaxes(sk, -1, -2)
        out[..., idx_s[:, None], idx_s[None, :]] = ss
        return 0.5 * (out + np.swapaxes(out, -1, -2))

    def step(self, S: np.ndarray) -> np.ndarray:
        """``Σ_{t+1}`` from ``Σ_t`` (batched, linear)."""
        return self.update(self.move(S))

    # -- adjoints (module docstring): Y ↦ E[M̂ᵀ Y M̂] on symmetric Y, batched ------------------------------
    def adjoint_move(self, Y: np.ndarray) -> np.ndarray:
        """The adjoint of :meth:`move`: ``(Dy, Dy) → (Dz, Dz)``."""
        N, g = self.layout.N, self.gamma
        K = self._K()
        EP = self.sketch.mean
        Yww, Ywz = Y[..., :N, :N], Y[..., :N, N:]
        B = -g * (EP @ K)                               # E[w⁺ row map] = J − γ E[P] K̂
        B[:, :N] += np.eye(N)
        cross = B.T @ Ywz
        out = Y[..., N:, N:] + cross + np.swapaxes(cross, -1, -2)
        YPK = Yww @ (EP @ K)                            # Y_ww E[P] K̂, (N, Dz)
        out[..., :N, :N] += Yww
        out[..., :N, :] -= g * YPK
        out[..., :, :N] -= g * np.swapaxes(YPK, -1, -2)
        out += g * g * (K.T @ self.sketch.second(Yww) @ K)   # E[Pᵀ Y P] = E[P Y P]
        return 0.5 * (out + np.swapaxes(out, -1, -2))

    def adjoint_update(self, Y: np.ndarray) -> np.ndarray:
        """The adjoint of :meth:`update`: ``(Dz, Dz) → (Dy, Dy)``."""
        lay, U = self.layout, self.transition.update
        N = lay.N
        keep = np.r_[0:N, lay.one]
        idx_k = np.r_[0:N, lay.Dz - 1]
        idx_s = np.arange(N, N + lay.Ds)
        out = U.adjoint_second(Y[..., idx_s[:, None], idx_s[None, :]])
        ksU = Y[..., idx_k[:, None], idx_s[None, :]] @ U.mean   # (N + 1, Dy)
        out[..., keep, :] += ksU
        out[..., :, keep] += np.swapaxes(ksU, -1, -2)
        out[..., keep[:, None], keep[None, :]] += Y[..., idx_k[:, None], idx_k[None, :]]
        return 0.5 * (out + np.swapaxes(out, -1, -2))

    def adjoint_step(self, Y: np.ndarray) -> np.ndarray:
        """The adjoint of :meth:`step`: ``ẑ_tᵀ adjoint_step(Y) ẑ_t = E_t[ẑ_{t+1}ᵀ Y ẑ_{t+1}]``."""
        return self.adjoint_move(self.adjoint_update(Y))

    def lift(self, X: np.ndarray) -> np.ndarray:
        """``Σ`` of ``ẑ = (w, s⁰(w), 1)`` from ``X = E[x xᵀ]``, ``x = (w, 1)``: the estimator's init draw (batched)."""
        lay, I0 = self.layout, self.transition.init
        N = lay.N
        out = np.empty((*X.shape[:-2], lay.Dz, lay.Dz))
        idx_x = np.r_[0:N, lay.Dz - 1]
        idx_s = np.arange(N, N + lay.Ds)
        sx = I0.mean @ X
        out[..., idx_x[:, None], idx_x[None, :]] = X
        out[..., idx_s[:, None], idx_x[None, :]] = sx
        out[..., idx_x[:, None], idx_s[None, :]] = np.swapaxes(sx, -1, -2)
        out[..., idx_s[:, None], idx_s[None, :]] = I0.second(X)
        return 0.5 * (out + np.swapaxes(out, -1, -2))

    def adjoint_lift(self, Y: np.ndarray) -> np.ndarray:
        """The adjoint of :meth:`lift`: ``(Dz, Dz) → (N + 1, N + 1)``."""
        lay, I0 = self.layout, self.transition.init
        N = lay.N
        idx_x = np.r_[0:N, lay.Dz - 1]
        idx_s = np.arange(N, N + lay.Ds)
        xsI = Y[..., idx_x[:, None], idx_s[None, :]] @ I0.mean  # (N + 1, N + 1)
        out = Y[..., idx_x[:, None], idx_x[None, :]] + xsI + np.swapaxes(xsI, -1, -2)
        out = out + I0.adjoint_second(Y[..., idx_s[:, None], idx_s[None, :]])
        return 0.5 * (out + np.swapaxes(out, -1, -2))

    def initial(self, W0: np.ndarray) -> np.ndarray:
        """``Σ_0`` for the deterministic start ``W0`` (the runner's ``problem.W0``)."""
        x = np.append(self.quad.w(W0), 1.0)
        return self.lift(np.outer(x, x))

    # -- linear functionals of Σ ---------------------------------------------------------------------
    def gap(self, S: np.ndarray) -> np.ndarray:
        """``E[f − f*] = ½ tr(A Σ_ww)``."""
        N = self.layout.N
        return 0.5 * np.einsum("ij,...ij->...", self.quad.A, S[..., :N, :N])

    def grad_sq(self, S: np.ndarray) -> np.ndarray:
        """``E‖∇f‖² = tr(A² Σ_ww)``."""
        N = self.layout.N
        return np.einsum("ij,...ij->...", self.quad.A @ self.quad.A, S[..., :N, :N])

    def err(self, S: np.ndarray) -> np.ndarray:
        """``E err = ⟨E_err, Σ⟩`` (0 for a memoryless estimator)."""
        E = self.transition.error
        if E is None:
            return np.zeros(S.shape[:-2])
        return np.einsum("ij,...ij->...", E, S)

    def dist(self, S: np.ndarray) -> np.ndarray:
        """``E‖W − W*‖² = tr Σ_ww``."""
        N = self.layout.N
        return np.trace(S[..., :N, :N], axis1=-2, axis2=-1)

    def run(self, W0: np.ndarray, iters: int, keep: bool = False) -> ExactTrajectory:
        """Exact expectations for ``t = 0..iters`` from ``W0``."""
        S = self.initial(W0)
        rows: list[tuple[float, float, float, float]] = []
        kept: list[np.ndarray] | None = [] if keep else None
        for t in range(iters + 1):
            rows.append((float(self.gap(S)), float(self.grad_sq(S)), float(self.err(S)), float(self.dist(S))))
            if kept is not None:
                kept.append(S)
            if t < iters:
                S = self.step(S)
        gap, grad_sq, err, dist = (np.array(c) for c in zip(*rows, strict=True))
        return ExactTrajectory(gap, grad_sq, err, dist, kept)


def exact_chain(problem: Any, estimator: Any, projector: Any, stepsize: Any) -> ExactChain:
    """Compose a problem's quadratic structure, an estimator's transition and the sketches' moments.

    Parameters
    ----------
    problem
        A problem with ``quadratic()`` (isotropic quadratic, least squares, federated least squares).
    estimator
        An estimator with ``exact_transition(quad)`` (:mod:`verify.estimators`).
    projector : BernoulliProjector
        Its ``left``/``right`` distributions need a closed-form ``second_moment`` (gaussian, haar,
        coordinates, coordinates-wr, rademacher r ≤ 2, degenerate).
    stepsize
        A constant: a float or an object with ``gamma`` (:class:`~verify.stepsizes.ConstantStep`).

    Raises
    ------
    ExactUnsupported
        Anything outside the scope (module docstring), with the reason.
    """
    m, n = problem.shape
    if m * n > MAX_MN:
        raise ExactUnsupported(f"m n = {m * n} is above the exact recursion's limit {MAX_MN} "
                               f"(its second moment is dense in vec(W))")
    if not callable(getattr(problem, "quadratic", None)):
        raise ExactUnsupported(f"problem {getattr(problem, 'name', problem)!r} exposes no quadratic structure "
                               "(quadratic()); the exact recursion needs a quadratic objective")
    if not callable(getattr(estimator, "exact_transition", None)):
        raise ExactUnsupported(f"estimator {getattr(estimator, 'name', estimator)!r} has no exact_transition")
    gamma = _gamma(stepsize)
    sk = sketch_operator(projector, m, n)
    quad = problem.quadratic()
    transition = estimator.exact_transition(quad)
    if transition.layout.N + transition.layout.Ds > MAX_STATE:
        raise ExactUnsupported(f"the joint state has {transition.layout.N + transition.layout.Ds} entries, above "
                               f"the exact recursion's limit {MAX_STATE}")
    return ExactChain(quad, transition, sk, gamma)
