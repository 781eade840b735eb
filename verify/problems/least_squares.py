"""Least squares ``f(W) = ‖XW − Y‖²/(2N)`` with a prescribed spectrum of ``XᵀX/N``.

The stochastic oracle is the finite sum over the ``N`` rows (``sigma = 0``, :class:`LeastSquaresRows`)
or additive Gaussian noise on the exact gradient (``sigma > 0``, :class:`NoisyLeastSquares`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from verify.errors import require
from verify.problems import _validate as v
from verify.problems.base import Constant, ShapeFromW0, as_batch, frozen
from verify.problems.stochastic import AdditiveNoiseOracle, FiniteSumOracle, noise_constants

if TYPE_CHECKING:
    from verify.exact.quadratic import Quadratic

NAME = "least-squares"
SPECTRA = ("geometric", "linear")


@dataclass(frozen=True, eq=False)
class LeastSquares(ShapeFromW0):
    """``f(W) = ‖XW − Y‖²/(2N)``, ``X ∈ R^{N×m}`` of full column rank, ``Y ∈ R^{N×n}``.

    Notes
    -----
    With ``XᵀX/N = V diag(s) Vᵀ`` and the least-squares solution ``Ŵ = (XᵀX)⁻¹XᵀY``,

    .. math:: f(W) = f^* + \\tfrac12 \\|\\operatorname{diag}(\\sqrt{s})V^\\top (W - \\hat W)\\|^2,
              \\qquad \\nabla f(W) = V \\operatorname{diag}(s) V^\\top (W - \\hat W) = X^\\top(XW - Y)/N,

    which is how the oracles evaluate it (cost ``O(m²n)`` per run, independent of ``N``; the gap
    ``f − f*`` is a sum of squares, so it is accurate down to rounding of ``W − Ŵ``).
    Hence ``L = max s`` and ``½‖∇f‖² = ½ Σ s_i² d_i² ≥ min s · ½ Σ s_i d_i² = mu (f − f*)``
    with ``d = Vᵀ(W − Ŵ)``; equality holds along the eigenvector of ``min s``.  The factory returns one
    of the two subclasses, which differ only in the stochastic oracle.
    """

    X: np.ndarray
    Y: np.ndarray
    W_star: np.ndarray
    W_hat: np.ndarray
    spectrum: np.ndarray
    eigvecs: np.ndarray
    f_star: float
    W0: np.ndarray
    params: Mapping[str, object]
    constants: Mapping[str, Constant]
    name: str = NAME
    sigma: float = 0.0
    _root: np.ndarray = field(init=False, repr=False)
    _hess: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        V, s = self.eigvecs, self.spectrum
        object.__setattr__(self, "_root", frozen(np.sqrt(s)[:, None] * V.T))
        hess = (V * s) @ V.T
        object.__setattr__(self, "_hess", frozen(0.5 * (hess + hess.T)))

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f(W) = f* + ½‖diag(√s)Vᵀ(W − Ŵ)‖²``: ``(R, m, n) → (R,)``."""
        Z = self._root @ (as_batch(W, self.shape, f"{self.name}.f") - self.W_hat)
        return self.f_star + 0.5 * np.einsum("rij,rij->r", Z, Z)

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``∇f(W) = (XᵀX/N)(W − Ŵ)``: ``(R, m, n) → (R, m, n)``."""
        return self._hess @ (as_batch(W, self.shape, f"{self.name}.grad") - self.W_hat)

    def quadratic(self) -> Quadratic:
        """The exact quadratic structure (:mod:`verify.exact.quadratic`).

        ``A = I_n ⊗ XᵀX/N`` on column-major ``vec`` (``vec(H D) = (I_n ⊗ H) vec D``), the minimiser ``Ŵ``
        (``W_hat``; ``W_star`` of this class is the planted matrix) and the exact ``f*``.  The oracle is
        additive noise with one-sample covariance ``sigma² I_{mn}`` (:class:`NoisyLeastSquares`) or the
        ``N`` rows (:class:`LeastSquaresRows`): ``∇f_i(W) = (I_n ⊗ x_i x_iᵀ) vec(W − Ŵ) + vec(x_i(x_iᵀŴ − y_i))``.
        """
        from verify.exact.quadratic import AffineFamily, Quadratic
        from verify.problems.stochastic import AdditiveNoiseOracle, FiniteSumOracle

        m, n = self.shape
        eye_n = np.eye(n)
        A = np.kron(eye_n, self._hess)
        noise_cov = self.sigma**2 * np.eye(m * n) if isinstance(self, AdditiveNoiseOracle) else None
        components = None
        if isinstance(self, FiniteSumOracle):
            X, Y = self.X, self.Y
            ops = np.einsum("kl,ia,ib->ikalb", eye_n, X, X).reshape(len(X), m * n, m * n)
            resid = X @ self.W_hat - Y                       # row i: x_iᵀŴ − y_iᵀ
            offsets = np.einsum("ia,ij->ija", X, resid).reshape(len(X), m * n)  # vec(x_i r_iᵀ), column-major
            components = AffineFamily(ops, offsets)
        return Quadratic(self.shape, A, np.array(self.W_hat), float(self.f_star), noise_cov=noise_cov,
                         components=components)


@dataclass(frozen=True, eq=False)
class LeastSquaresRows(FiniteSumOracle, LeastSquares):
    """:class:`LeastSquares` with the finite-sum oracle over its rows, ``f = (1/N) Σ_i f_i``.

    Notes
    -----
    ``f_i(W) = ½‖Wᵀx_i − y_i‖²`` with ``x_i``, ``y_i`` row ``i`` of ``X``, ``Y``, so
    ``∇f_i(W) = x_i (x_iᵀW − y_iᵀ)`` and ``∇f_i(W) − ∇f_i(V) = x_i x_iᵀ (W − V)``.

    * ``L_i = ‖x_i‖²`` (the Hessian of ``f_i`` is ``x_i x_iᵀ`` on each column), ``f_i* = 0``,
      ``L_max = max_i ‖x_i‖²``, exact.
    * ``Lms``: ``E_i‖x_i x_iᵀ D‖² = tr(Dᵀ M D)`` with ``M = (1/N) Σ_i ‖x_i‖² x_i x_iᵀ``, so
      ``Lms = sqrt(λ_max(M))``, exact (attained at ``D = v uᵀ``, ``v`` the top eigenvector of ``M``).
    * ABC: ``E‖∇f_i − ∇f‖² ≤ E‖∇f_i‖² = (1/N) Σ ‖x_i‖² · 2 f_i(W) ≤ 2 L_max f(W)
      = 2 L_max (f(W) − f*) + 2 L_max f*``, so ``var_A = L_max``, ``var_C = 2 L_max f*`` (an upper
      pair; ``var_C > 0`` needs ``noise > 0``).  There is no ``sigma2``: the variance grows with ``W``.
    """

    @property
    def N(self) -> int:
        """Number of components (rows of ``X``)."""
        return self.X.shape[0]

    def mean_component_grad(self, W: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``(1/batch) Σ_b x_{i_b}(x_{i_b}ᵀW − y_{i_b}ᵀ)`` for indices ``idx`` ``(R, batch)``: ``(R, m, n)``."""
        Xb = self.X[idx]
        return Xb.transpose(0, 2, 1) @ (Xb @ W - self.Y[idx]) / idx.shape[1]


@dataclass(frozen=True, eq=False)
class NoisyLeastSquares(AdditiveNoiseOracle, LeastSquares):
    """:class:`LeastSquares` with the additive-noise oracle ``∇f(W) + ξ``, ``ξ ~ N(0, sigma²/batch)``.

    Constants from :func:`~verify.problems.stochastic.noise_constants`: ``sigma2 = sigma² m n``,
    ``var_A = 0``, ``var_C = sigma2``, ``Lms = L``, all exact.  There is no ``N``.
    """


def prescribed_spectrum(m: int, L: float, kappa: float, spectrum: str) -> np.ndarray:
    """The eigenvalues ``s`` of ``XᵀX/N``, decreasing from ``L`` to ``L/kappa``.

    ``"geometric"``: ``s_i = L kappa^{−i/(m−1)}``; ``"linear"``: equally spaced; ``m = 1``: ``s = [L]``.
    """
    if m == 1:
        return np.array([L])
    if spectrum == "geometric":
        return L * kappa ** (-np.arange(m) / (m - 1))
    return np.linspace(L, L / kappa, m)


def _haar(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A ``rows × cols`` matrix with orthonormal columns, Haar distributed (thin QR with sign fix)."""
    Q, R = np.linalg.qr(rng.standard_normal((rows, cols)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def least_squares(
    m: int = 12, n: int = 8, N: int = 48, kappa: float = 10.0, L: float = 1.0,
    spectrum: str = "geometric", noise: float = 0.0, sigma: float = 0.0, seed: int = 0,
) -> LeastSquares:
    """Least squares ``‖XW − Y‖²/(2N)`` whose ``XᵀX/N`` has eigenvalues prescribed on ``[L/kappa, L]``.

    Parameters
    ----------
    m, n : int
        Shape of ``W`` (``>= 1``).
    N : int
        Number of samples, ``N >= m`` (so that ``X`` has full column rank).
    kappa : float
        Condition number ``L/mu >= 1`` (``m = 1`` needs ``kappa = 1``).
    L : float
        Largest eigenvalue of ``XᵀX/N`` (``> 0``).
    spectrum : {"geometric", "linear"}
        Spacing of the eigenvalues.
    noise : float
        ``Y = X W* + noise·E`` with ``W*`` and ``E`` standard normal (``noise >= 0``).
    sigma : float
        ``0`` (default): the stochastic oracle samples rows (:class:`LeastSquaresRows`); ``> 0``: it adds
        ``N(0, sigma²)`` noise to each entry of the gradient (:class:`NoisyLeastSquares`).
    seed : int
        Seed of ``numpy.random.default_rng``; draws, in order, ``U`` (``N×m``), ``V`` (``m×m``),
        ``W*``, ``E``.

    Returns
    -------
    LeastSquares
        ``X = U diag(√(N s)) Vᵀ``, ``W0 = 0``; constants ``L = max s``, ``mu = min s = L/kappa``, and
        ``f_star = noise²‖(I − UUᵀ)E‖²/(2N)``, all exact, and those of the stochastic oracle (see
        :class:`LeastSquaresRows` and :class:`NoisyLeastSquares`).
    """
    m = v.integer(NAME, "m", m, 1)
    n = v.integer(NAME, "n", n, 1)
    N = v.integer(NAME, "N", N, 1)
    require(N >= m, f"{NAME}: N={N} is not allowed; N must be >= m={m} so that X has full column rank")
    kappa = v.real(NAME, "kappa", kappa, 1.0)
    require(m > 1 or kappa == 1.0,
            f"{NAME}: kappa={kappa} is not allowed with m=1; a single eigenvalue needs kappa=1")
    L = v.real(NAME, "L", L, 0.0, strict=True)
    spectrum = v.choice(NAME, "spectrum", spectrum, SPECTRA)
    noise = v.real(NAME, "noise", noise, 0.0)
    sigma = v.real(NAME, "sigma", sigma, 0.0)
    seed = v.integer(NAME, "seed", seed, 0)

    rng = np.random.default_rng(seed)
    U = _haar(rng, N, m)
    V = _haar(rng, m, m)
    W_star = rng.standard_normal((m, n))
    E = rng.standard_normal((N, n))
    s = prescribed_spectrum(m, L, kappa, spectrum)
    root = np.sqrt(N * s)
    X = (U * root) @ V.T
    Y = X @ W_star + noise * E
    # Closed forms: Y − XŴ = noise (I − UUᵀ) E and Ŵ = W* + noise V diag(1/√(Ns)) Uᵀ E.
    UtE = U.T @ E
    W_hat = W_star + noise * (V / root) @ UtE
    f_star = noise**2 * float(np.sum((E - U @ UtE) ** 2)) / (2 * N)

    eig = np.linalg.eigvalsh(X.T @ X / N)
    if not np.allclose(eig, np.sort(s), rtol=1e-10, atol=1e-12 * L):
        raise RuntimeError(f"{NAME}: eigvalsh(X^T X / N) = {eig} does not match the prescribed spectrum {s}")

    how = f"closed form: X = U diag(sqrt(N s)) V^T, so X^T X / N has the prescribed {spectrum} spectrum s"
    constants = {
        "L": Constant(float(s[0]), f"{how}; L = max s (eigvalsh agrees to 1e-10)"),
        "mu": Constant(float(s[-1]), f"{how}; PL constant mu = min s = L/kappa, X of full column rank"),
        "f_star": Constant(f_star, "closed form: residual of the least-squares solution, "
                                   "noise^2 ||(I - U U^T) E||^2 / (2N)"),
    }
    if sigma > 0:
        constants.update(noise_constants(sigma, (m, n), constants["L"]))
    else:
        constants.update(_row_constants(X, f_star))
    params = {"m": m, "n": n, "N": N, "kappa": kappa, "L": L, "spectrum": spectrum, "noise": noise,
              "sigma": sigma, "seed": seed}
    cls = NoisyLeastSquares if sigma > 0 else LeastSquaresRows
    return cls(
        X=frozen(X), Y=frozen(Y), W_star=frozen(W_star), W_hat=frozen(W_hat), spectrum=frozen(s),
        eigvecs=frozen(V), f_star=f_star, W0=frozen(np.zeros((m, n))), params=params, constants=constants,
        sigma=sigma,
    )


def _row_constants(X: np.ndarray, f_star: float) -> dict[str, Constant]:
    """``L_max``, ``Lms``, ``var_A``, ``var_C`` of the row oracle (derivations in :class:`LeastSquaresRows`)."""
    N = X.shape[0]
    sq = np.einsum("ij,ij->i", X, X)
    L_max = float(sq.max())
    M = (X * (sq / N)[:, None]).T @ X
    Lms = float(np.sqrt(np.linalg.eigvalsh(0.5 * (M + M.T))[-1]))
    return {
        "L_max": Constant(L_max, "closed form: f_i = (1/2)||W^T x_i - y_i||^2 has Hessian x_i x_i^T per column, "
                                 "L_i = ||x_i||^2; max over the N rows"),
        "Lms": Constant(Lms, "closed form: grad f_i(W) - grad f_i(V) = x_i x_i^T (W - V), so "
                             "Lms = sqrt(lambda_max((1/N) sum_i ||x_i||^2 x_i x_i^T)) (eigvalsh), attained "
                             "along its top eigenvector"),
        "var_A": Constant(L_max, "Var <= (1/N) sum ||grad f_i||^2 = (1/N) sum ||x_i||^2 2 f_i(W) <= 2 L_max f(W) "
                                 "= 2 L_max (f - f*) + 2 L_max f*: var_A = L_max", "upper"),
        "var_C": Constant(2.0 * L_max * f_star, "same derivation as var_A: var_C = 2 L_max f* "
                                                "(f* exact, closed form)", "upper"),
    }
