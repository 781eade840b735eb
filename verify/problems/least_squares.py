"""Least squares ``f(W) = ‖XW − Y‖²/(2N)`` with a prescribed spectrum of ``XᵀX/N``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from verify.errors import require
from verify.problems import _validate as v
from verify.problems.base import Constant, as_batch, frozen

NAME = "least-squares"
SPECTRA = ("geometric", "linear")


@dataclass(frozen=True, eq=False)
class LeastSquares:
    """``f(W) = ‖XW − Y‖²/(2N)``, ``X ∈ R^{N×m}`` of full column rank, ``Y ∈ R^{N×n}``.

    Notes
    -----
    With ``XᵀX/N = V diag(s) Vᵀ`` and the least-squares solution ``Ŵ = (XᵀX)⁻¹XᵀY``,

    .. math:: f(W) = f^* + \\tfrac12 \\|\\operatorname{diag}(\\sqrt{s})V^\\top (W - \\hat W)\\|^2,
              \\qquad \\nabla f(W) = V \\operatorname{diag}(s) V^\\top (W - \\hat W) = X^\\top(XW - Y)/N,

    which is how the oracles evaluate it (cost ``O(m²n)`` per run, independent of ``N``; the gap
    ``f − f*`` is a sum of squares, so it is accurate down to rounding of ``W − Ŵ``).
    Hence ``L = max s`` and ``½‖∇f‖² = ½ Σ s_i² d_i² ≥ min s · ½ Σ s_i d_i² = mu (f − f*)``
    with ``d = Vᵀ(W − Ŵ)``; equality holds along the eigenvector of ``min s``.
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
    shape: tuple[int, int] = field(init=False)
    _root: np.ndarray = field(init=False, repr=False)
    _hess: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.W_hat.shape))
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
    spectrum: str = "geometric", noise: float = 0.0, seed: int = 0,
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
    seed : int
        Seed of ``numpy.random.default_rng``; draws, in order, ``U`` (``N×m``), ``V`` (``m×m``),
        ``W*``, ``E``.

    Returns
    -------
    LeastSquares
        ``X = U diag(√(N s)) Vᵀ``, ``W0 = 0``; constants ``L = max s``, ``mu = min s = L/kappa``, and
        ``f_star = noise²‖(I − UUᵀ)E‖²/(2N)``, all exact.
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
    params = {"m": m, "n": n, "N": N, "kappa": kappa, "L": L, "spectrum": spectrum, "noise": noise,
              "seed": seed}
    return LeastSquares(
        X=frozen(X), Y=frozen(Y), W_star=frozen(W_star), W_hat=frozen(W_hat), spectrum=frozen(s),
        eigvecs=frozen(V), f_star=f_star, W0=frozen(np.zeros((m, n))), params=params, constants=constants,
    )
