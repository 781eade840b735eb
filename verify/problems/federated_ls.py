"""Federated least squares: ``M`` clients with their own data, ``f = (1/M) Σ_i ‖X_i W − Y_i‖²/(2 N_i)``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from verify.errors import require
from verify.problems import _validate as v
from verify.problems.base import Constant, ShapeFromW0, as_batch, frozen
from verify.problems.least_squares import _haar, prescribed_spectrum

if TYPE_CHECKING:
    from verify.exact.quadratic import Quadratic

NAME = "federated-ls"


@dataclass(frozen=True, eq=False)
class FederatedLeastSquares(ShapeFromW0):
    """``f(W) = (1/M) Σ_i f_i(W)``, ``f_i(W) = ‖X_i W − Y_i‖²/(2 N_i)``, ``X_i ∈ R^{N_i×m}`` of full rank.

    Notes
    -----
    With ``H_i = X_iᵀX_i/N_i``, the client minimiser ``Ŵ_i = (X_iᵀX_i)⁻¹X_iᵀY_i`` and
    ``f_i* = ‖(I − P_i)Y_i‖²/(2N_i)`` (``P_i`` the projection onto the range of ``X_i``),

    .. math:: f_i(W) = f_i^* + \\tfrac12 \\operatorname{tr}((W - \\hat W_i)^\\top H_i (W - \\hat W_i)),
              \\qquad \\nabla f_i(W) = H_i (W - \\hat W_i).

    Averaging, ``H = (1/M) Σ H_i``, ``Ŵ = H⁻¹ (1/M) Σ H_i Ŵ_i`` and
    ``f(W) = f* + ½ tr((W − Ŵ)ᵀH(W − Ŵ))`` with
    ``f* = (1/M) Σ_i [f_i* + ½ tr((Ŵ − Ŵ_i)ᵀH_i(Ŵ − Ŵ_i))]``.  Hence, all exact (eigenvalues by
    ``eigvalsh``): ``L = λ_max(H)``, ``mu = λ_min(H)`` (PŁ, as for least squares), ``L_i = λ_max(H_i)``,
    ``L_max = max L_i``, ``L_tilde = sqrt((1/M) Σ L_i²)`` and
    ``Delta_inf = f* − (1/M) Σ f_i* = (1/(2M)) Σ_i tr((Ŵ − Ŵ_i)ᵀH_i(Ŵ − Ŵ_i)) ≥ 0``, computed as that sum
    of squares (0 exactly when every ``Ŵ_i`` equals ``W*``).
    """

    X: np.ndarray
    Y: np.ndarray
    H: np.ndarray
    client_hess: np.ndarray
    client_min: np.ndarray
    W_hat: np.ndarray
    f_star: float
    W0: np.ndarray
    params: Mapping[str, object]
    constants: Mapping[str, Constant]
    name: str = NAME
    clients: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clients", len(self.client_hess))

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f(W) = f* + ½ tr((W − Ŵ)ᵀH(W − Ŵ))``: ``(R, m, n) → (R,)``."""
        D = as_batch(W, self.shape, f"{self.name}.f") - self.W_hat
        return self.f_star + 0.5 * np.einsum("rij,ik,rkj->r", D, self.H, D)

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``∇f(W) = H(W − Ŵ)``: ``(R, m, n) → (R, m, n)``."""
        return self.H @ (as_batch(W, self.shape, f"{self.name}.grad") - self.W_hat)

    def client_grads(self, W: np.ndarray) -> np.ndarray:
        """``∇f_i(W) = H_i(W − Ŵ_i)`` for every client: ``(R, m, n) → (R, M, m, n)``."""
        W = as_batch(W, self.shape, f"{self.name}.client_grads")
        return self.client_hess @ (W[:, None] - self.client_min)

    def quadratic(self) -> Quadratic:
        """The exact quadratic structure (:mod:`verify.exact.quadratic`).

        ``A = I_n ⊗ H`` on column-major ``vec``, minimiser ``Ŵ``, the exact ``f*``, and the clients
        ``∇f_i(W) = (I_n ⊗ H_i) vec(W − Ŵ) + vec(H_i(Ŵ − Ŵ_i))``.  There is no stochastic oracle.
        """
        from verify.exact.quadratic import AffineFamily, Quadratic, vec

        m, n = self.shape
        eye_n = np.eye(n)
        ops = np.array([np.kron(eye_n, Hi) for Hi in self.client_hess])
        offsets = vec(self.client_hess @ (self.W_hat - self.client_min))
        return Quadratic(self.shape, np.kron(eye_n, self.H), np.array(self.W_hat), float(self.f_star),
                         clients=AffineFamily(ops, offsets))


def federated_ls(
    m: int = 12, n: int = 8, M: int = 4, N_i: int = 24, kappa: float = 10.0, hetero: float = 1.0,
    noise: float = 0.1, seed: int = 0,
) -> FederatedLeastSquares:
    """Federated least squares over ``M`` clients with controlled spectra and heterogeneity.

    Parameters
    ----------
    m, n : int
        Shape of ``W`` (``>= 1``).
    M : int
        Number of clients (``>= 1``).
    N_i : int
        Samples per client, ``N_i >= m`` (each ``X_i`` has full column rank).
    kappa : float
        Condition number of each client's ``H_i = X_iᵀX_i/N_i`` (``>= 1``; ``m = 1`` needs 1).
    hetero : float
        Spread of the clients' planted solutions ``W* + hetero·D_i`` (``>= 0``).
    noise : float
        ``Y_i = X_i(W* + hetero·D_i) + noise·E_i`` (``>= 0``); ``hetero = noise = 0`` gives
        ``Delta_inf = 0``.
    seed : int
        Seed of ``numpy.random.default_rng``; draws, in order, ``W*``, then per client ``U_i``
        (``N_i×m``), ``V_i`` (``m×m``), ``D_i``, ``E_i`` (standard normal).

    Returns
    -------
    FederatedLeastSquares
        ``X_i = U_i diag(√(N_i s_i)) V_iᵀ`` with ``s_i`` geometric from ``c_i`` down to ``c_i/kappa``, where
        the client scales ``c_i`` are equally spaced from 1 down to ``1/2`` (so the ``L_i`` differ);
        ``W0 = 0``; constants ``L``, ``mu``, ``f_star``, ``L_max``, ``L_tilde``, ``Delta_inf``, all exact,
        and the lists ``L_i``, ``f_i_star`` in ``params``.
    """
    m = v.integer(NAME, "m", m, 1)
    n = v.integer(NAME, "n", n, 1)
    M = v.integer(NAME, "M", M, 1)
    N_i = v.integer(NAME, "N_i", N_i, 1)
    require(N_i >= m, f"{NAME}: N_i={N_i} is not allowed; N_i must be >= m={m} so that each X_i has full "
                      "column rank")
    kappa = v.real(NAME, "kappa", kappa, 1.0)
    require(m > 1 or kappa == 1.0,
            f"{NAME}: kappa={kappa} is not allowed with m=1; a single eigenvalue needs kappa=1")
    hetero = v.real(NAME, "hetero", hetero, 0.0)
    noise = v.real(NAME, "noise", noise, 0.0)
    seed = v.integer(NAME, "seed", seed, 0)

    rng = np.random.default_rng(seed)
    W_star = rng.standard_normal((m, n))
    scales = np.linspace(1.0, 0.5, M) if M > 1 else np.ones(1)
    X, Y, hess, mins, f_i_star, L_i = [], [], [], [], [], []
    for c in scales:
        U = _haar(rng, N_i, m)
        V = _haar(rng, m, m)
        D = rng.standard_normal((m, n))
        E = rng.standard_normal((N_i, n))
        s = prescribed_spectrum(m, float(c), kappa, "geometric")
        root = np.sqrt(N_i * s)
        Xi = (U * root) @ V.T
        X.append(Xi)
        Y.append(Xi @ (W_star + hetero * D) + noise * E)
        # Closed forms as in least squares: Ŵ_i − W* = hetero D + noise V diag(1/√(N_i s)) Uᵀ E.
        UtE = U.T @ E
        mins.append(hetero * D + noise * (V / root) @ UtE)
        f_i_star.append(noise**2 * float(np.sum((E - U @ UtE) ** 2)) / (2 * N_i))
        Hi = (V * s) @ V.T
        hess.append(0.5 * (Hi + Hi.T))
        L_i.append(float(np.linalg.eigvalsh(hess[-1])[-1]))
    hess_arr, shift = np.array(hess), np.array(mins)  # shift[i] = Ŵ_i − W*
    H = hess_arr.mean(axis=0)
    eig = np.linalg.eigvalsh(H)
    # One client: Ŵ = Ŵ_1 exactly (a solve would leave rounding in Delta_inf = 0).
    W_hat_shift = shift[0] if M == 1 else np.linalg.solve(H, np.mean(hess_arr @ shift, axis=0))
    gaps = W_hat_shift - shift
    Delta_inf = 0.5 * float(np.mean(np.einsum("kij,kil,klj->k", gaps, hess_arr, gaps)))
    f_star = float(np.mean(f_i_star)) + Delta_inf

    ev = "eigvalsh of the closed-form H_i = V_i diag(s_i) V_i^T"
    constants = {
        "L": Constant(float(eig[-1]), f"closed form: lambda_max(H), H = (1/M) sum_i X_i^T X_i / N_i ({ev})"),
        "mu": Constant(float(eig[0]), "closed form: PL constant lambda_min(H) of the convex quadratic f "
                                      "(H positive definite)"),
        "f_star": Constant(f_star, "closed form: (1/M) sum_i f_i* + Delta_inf"),
        "L_max": Constant(max(L_i), f"closed form: max_i L_i, L_i = lambda_max(X_i^T X_i / N_i) ({ev})"),
        "L_tilde": Constant(float(np.sqrt(np.mean(np.square(L_i)))), "closed form: sqrt((1/M) sum_i L_i^2)"),
        "Delta_inf": Constant(Delta_inf, "closed form: f* - (1/M) sum_i f_i* = (1/(2M)) sum_i "
                                         "tr((W_hat - W_hat_i)^T H_i (W_hat - W_hat_i)) >= 0, a sum of squares"),
    }
    params = {"m": m, "n": n, "M": M, "N_i": N_i, "kappa": kappa, "hetero": hetero, "noise": noise, "seed": seed,
              "client_scales": [float(c) for c in scales], "L_i": L_i, "f_i_star": f_i_star}
    return FederatedLeastSquares(
        X=frozen(np.array(X)), Y=frozen(np.array(Y)), H=frozen(H), client_hess=frozen(hess_arr),
        client_min=frozen(W_star + shift), W_hat=frozen(W_star + W_hat_shift), f_star=f_star,
        W0=frozen(np.zeros((m, n))), params=params, constants=constants,
    )
