r"""The quadratic structure a problem exposes through ``problem.quadratic()``.

A quadratic problem is

.. math:: f(W) = f^* + \tfrac12\, w^\top A\, w,\qquad \nabla f(W) = \operatorname{mat}(A w),
          \qquad w = \operatorname{vec}(W - W^*),

with ``vec`` column-major (``w[i + m j] = (W − W*)_ij``, ``W.ravel(order="F")``), ``A`` the symmetric
``mn × mn`` matrix of the Hessian operator 𝒜 and ``W*`` a minimiser.  Its oracles are affine in ``w``:

* additive noise: ``g(W; ξ) = ∇f(W) + ξ`` with ``E ξ = 0`` and one-sample covariance ``noise_cov``
  (a minibatch of ``b`` divides it by ``b``);
* a finite sum ``f = (1/K) Σ_i f_i`` sampled uniformly with replacement: ``∇f_i(W) = A_i w + β_i``
  (:class:`AffineFamily` ``components``);
* clients ``f = (1/M) Σ_i f_i``: ``∇f_i(W) = A_i w + β_i`` (:class:`AffineFamily` ``clients``).

:meth:`Quadratic.sample_map` turns the stochastic oracle into a random affine map
(:mod:`verify.exact.maps`) for any linear combination of points evaluated with the **same** samples,
which is what SGD, PAGE and MVR need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from verify.exact.maps import ExactUnsupported, Fixed, MeanOfIid, Noise, RandomAffine, Sum, Uniform

__all__ = ["AffineFamily", "Quadratic", "vec"]


def vec(W: np.ndarray) -> np.ndarray:
    """Column-major ``vec``: ``(..., m, n) → (..., m n)`` with entry ``i + m j`` equal to ``W_ij``."""
    W = np.asarray(W, dtype=float)
    return np.swapaxes(W, -1, -2).reshape(*W.shape[:-2], W.shape[-1] * W.shape[-2])


def unvec(w: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`vec`: ``(..., m n) → (..., m, n)``."""
    m, n = shape
    w = np.asarray(w, dtype=float)
    return np.swapaxes(w.reshape(*w.shape[:-1], n, m), -1, -2)


@dataclass(frozen=True, eq=False)
class AffineFamily:
    """``K`` affine gradient maps ``g_i(w) = ops[i] w + offsets[i]`` on ``w = vec(W − W*)``.

    Attributes
    ----------
    ops : ndarray, shape (K, N, N)
        ``A_i``, the Hessians of the ``f_i`` as operators on column-major ``vec``.
    offsets : ndarray, shape (K, N)
        ``β_i = vec(∇f_i(W*))``.
    """

    ops: np.ndarray
    offsets: np.ndarray

    @property
    def count(self) -> int:
        return self.ops.shape[0]


@dataclass(frozen=True, eq=False)
class Quadratic:
    """``f(W) = f* + ½ wᵀ A w``, ``w = vec(W − W*)`` (module docstring), and its oracles.

    Attributes
    ----------
    shape : tuple[int, int]
        ``(m, n)``.
    A : ndarray, shape (m n, m n)
        Symmetric Hessian operator on column-major ``vec``.
    W_star : ndarray, shape (m, n)
        A minimiser.
    f_star : float
        ``f(W*)``.
    noise_cov : ndarray, shape (m n, m n), or None
        One-sample covariance of the additive-noise oracle.
    components : AffineFamily or None
        The finite-sum components (uniform sampling with replacement).
    clients : AffineFamily or None
        The federated clients, ``f = (1/M) Σ_i f_i``.
    """

    shape: tuple[int, int]
    A: np.ndarray
    W_star: np.ndarray
    f_star: float
    noise_cov: np.ndarray | None = None
    components: AffineFamily | None = None
    clients: AffineFamily | None = None

    @property
    def N(self) -> int:
        """``m·n``."""
        return self.shape[0] * self.shape[1]

    def w(self, W: np.ndarray) -> np.ndarray:
        """``vec(W − W*)`` for ``W`` of shape ``(..., m, n)``."""
        return vec(np.asarray(W, dtype=float) - self.W_star)

    def W(self, w: np.ndarray) -> np.ndarray:
        """``W* + mat(w)``: the point of a state vector."""
        return self.W_star + unvec(w, self.shape)

    def sample_map(self, cols: int, blocks: Sequence[tuple[slice, float]], one: int, batch: int) -> RandomAffine:
        r"""The random map ``y ↦ Σ_j α_j g(x_j; ξ)`` with one minibatch ``ξ`` of size ``batch`` for all j.

        Parameters
        ----------
        cols : int
            Length of the vector ``y`` the map acts on.
        blocks : sequence of (slice, float)
            ``(columns of x_j in y, α_j)``: the points ``x_j = vec(W_j − W*)``.
        one : int
            Index of the constant coordinate of ``y``.
        batch : int
            Minibatch size ``b``.

        Returns
        -------
        RandomAffine
            Additive noise: ``Fixed(Σ α_j A at x_j)`` plus ``Noise((Σα_j)² noise_cov / b)`` (the same ``ξ`` at
            every point).  Finite sum: the mean of ``b`` i.i.d. uniform components
            ``Σ_j α_j (A_i x_j) + (Σ α_j) β_i``.

        Raises
        ------
        ExactUnsupported
            The problem has no stochastic oracle.
        """
        N = self.N
        total = float(sum(a for _, a in blocks))
        if self.components is not None:
            K = self.components.count
            mats = np.zeros((K, N, cols))
            for sl, a in blocks:
                mats[:, :, sl] += a * self.components.ops
            mats[:, :, one] += total * self.components.offsets
            return MeanOfIid(Uniform(mats), int(batch))
        if self.noise_cov is not None:
            M = np.zeros((N, cols))
            for sl, a in blocks:
                M[:, sl] += a * self.A
            if total == 0.0:
                return Fixed(M)
            return Sum([Fixed(M), Noise(total**2 * self.noise_cov / batch, cols, one)])
        raise ExactUnsupported("the problem has no stochastic oracle (no additive noise, no finite-sum components)")

    def client_family(self) -> AffineFamily:
        """The clients, or :class:`ExactUnsupported` for a problem without clients."""
        if self.clients is None:
            raise ExactUnsupported("the problem has no clients (a federated method needs client gradients)")
        return self.clients
