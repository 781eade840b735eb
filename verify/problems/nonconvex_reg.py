"""The paper's §7.1 problem: linear regression plus the non-convex regulariser ``lam Σ x²/(1+x²)``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.linalg.blas

from verify.errors import UserError
from verify.problems import _validate as v
from verify.problems.base import Constant, ShapeFromW0, as_batch, frozen
from verify.problems.stochastic import FiniteSumOracle, run_chunks
from verify.problems.synthetic import low_rank_regression, rescale_globally, standardize_columns

NAME = "nonconvex-reg"
PRETRAIN_MAX_ITERS = 10_000
PRETRAIN_TOL = 1e-8
UPPER_GD_STEPS = 200
#: Relative margin added to a computed value of ``f`` to make it a certified upper bound (rounding).
ROUNDING_MARGIN = 1e-9


def regularizer_grad(x: np.ndarray) -> np.ndarray:
    """``φ'(x) = 2x/(1+x²)²`` entrywise, for ``φ(x) = x²/(1+x²)``."""
    x = np.asarray(x, dtype=float)
    den = x * x
    den += 1.0
    np.square(den, out=den)
    out = 2.0 * x
    out /= den  # the same operations as 2x / (1 + x²)², with fewer temporaries
    return out


def regularizer_hess(x: np.ndarray) -> np.ndarray:
    """``φ''(x) = 2(1−3x²)/(1+x²)³`` entrywise; its range over ``R`` is ``[−1/2, 2]``.

    The maximum 2 is at ``x = 0``, the minimum ``−1/2`` at ``x² = 1``.
    """
    x2 = x * x
    return 2.0 * (1.0 - 3.0 * x2) / (1.0 + x2) ** 3


@dataclass(frozen=True, eq=False)
class NonconvexReg(FiniteSumOracle, ShapeFromW0):
    """``f(x) = ‖Ax − b‖²/(2N) + lam Σ_j x_j²/(1+x_j²)``, ``x = vec(W)`` (row-major), ``d = m n``.

    Notes
    -----
    The oracles use the Gram form (cost ``O(d²)`` per run, independent of ``N``): with the thin QR
    ``A = QR`` and ``x̂`` a least-squares solution (``Rᵀ(Rx̂ − Qᵀb) = 0``),

    .. math:: \\frac{\\|Ax-b\\|^2}{2N} = f_{LS}^* + \\frac{\\|R(x-\\hat x)\\|^2}{2N}, \\qquad
              \\nabla f(x) = \\frac{A^\\top A}{N}(x - \\hat x) + 2\\lambda \\frac{x}{(1+x^2)^2},

    where ``A^T A / N = R^T R / N = G`` and ``f_LS* = min ‖Ax − b‖²/(2N)``.  The Hessian is
    ``G + diag(2 lam (1−3x²)/(1+x²)³)`` with the diagonal in ``[−lam/2, 2 lam]``, so
    ``sup_x ‖∇²f(x)‖ = λ_max(G) + 2 lam`` (attained at ``x = 0``; the most negative eigenvalue is
    ``>= −lam/2``): this is ``L``, exact.  ``f ≥ f_LS*`` because the regulariser is non-negative, so
    ``f_star = f_LS*`` is a certified lower bound on ``inf f``.  No PŁ constant is certified.

    Finite-sum oracle over the ``N`` rows: ``f = (1/N) Σ_i f_i`` with
    ``f_i(x) = ½(a_iᵀx − b_i)² + lam Σ_j x_j²/(1+x_j²)`` (every ``f_i`` carries the whole regulariser).

    * ``L_i = ‖a_i‖² + 2 lam`` (``∇²f_i = a_i a_iᵀ + lam diag(φ'')``, ``φ'' ∈ [−1/2, 2]``; attained at
      ``x = 0``), ``L_max = max_i L_i``, exact.
    * ``Lms``: ``∇f_i(x) − ∇f_i(y) = a_i a_iᵀ(x − y) + lam (φ'(x) − φ'(y))``; the triangle inequality in
      ``L²(i)`` gives ``ℒ ≤ sqrt(λ_max((1/N) Σ_i ‖a_i‖² a_i a_iᵀ)) + 2 lam`` (``φ'`` is 2-Lipschitz),
      an upper bound.
    * ABC: ``f_i ≥ 0`` and ``f_i`` is ``L_i``-smooth, so ``‖∇f_i‖² ≤ 2 L_i f_i`` and
      ``Var ≤ (1/N) Σ ‖∇f_i‖² ≤ 2 L_max f(x) ≤ 2 L_max (f(x) − f*) + 2 L_max f_up`` with ``f_up ≥ f*``:
      ``var_A = L_max``, ``var_C = 2 L_max f_up`` (upper).  Since ``f_star ≤ f*`` the inequality also
      holds with the certified ``f_star`` in place of ``f*``.  ``f_up`` is ``f`` at ``W_up`` (GD from
      ``W0``), evaluated from the data, plus a relative rounding margin.
    """

    A: np.ndarray
    b: np.ndarray
    G: np.ndarray
    x_hat: np.ndarray
    lam: float
    f_star: float
    W0: np.ndarray
    params: Mapping[str, object]
    constants: Mapping[str, Constant]
    root: np.ndarray = field(repr=False)
    W_up: np.ndarray = field(repr=False)
    name: str = NAME

    def __post_init__(self) -> None:
        root = self.root
        triangular = (root.ndim == 2 and root.shape[0] == root.shape[1] and root.dtype == np.float64
                      and not np.tril(root, -1).any())
        object.__setattr__(self, "_root_is_triangular", bool(triangular))

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f(W) = f_LS* + ½‖(R/√N)(x − x̂)‖² + lam Σ x²/(1+x²)``: ``(R, m, n) → (R,)``."""
        x = as_batch(W, self.shape, f"{self.name}.f").reshape(len(W), self.shape[0] * self.shape[1])
        D = x - self.x_hat
        if self._root_is_triangular:
            # Z = D rootᵀ with the square upper-triangular root: half the flops of a general matmul.
            Z = scipy.linalg.blas.dtrmm(1.0, self.root.T, D.T, side=0, lower=1, trans_a=1, overwrite_b=1).T
        else:
            Z = D @ self.root.T
        x2 = x * x
        reg = x2 + 1.0
        np.divide(x2, reg, out=reg)
        return self.f_star + 0.5 * np.einsum("ri,ri->r", Z, Z) + self.lam * reg.sum(axis=1)

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``∇f(W) = G(x − x̂) + lam·2x/(1+x²)²`` reshaped to ``(R, m, n)``."""
        x = as_batch(W, self.shape, f"{self.name}.grad").reshape(len(W), self.shape[0] * self.shape[1])
        g = (x - self.x_hat) @ self.G
        reg = regularizer_grad(x)
        reg *= self.lam
        g += reg
        return g.reshape((len(x), *self.shape))

    def value_and_grad(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``f`` and ``∇f`` with one Gram product: with ``D = x − x̂`` and ``g = G D``,

        ``f = f_LS* + max(½⟨D, g⟩, 0) + lam Σ φ(x)`` (``‖R D‖²/(2N) = ½ Dᵀ G D ≥ 0``; the max removes a
        rounding error of sign) and ``∇f = g + lam φ'(x)``, so a step costs one ``d×d`` product per run
        instead of two (:meth:`f` uses the triangular root instead).
        """
        x = as_batch(W, self.shape, f"{self.name}.value_and_grad").reshape(len(W), self.shape[0] * self.shape[1])
        D = x - self.x_hat
        g = D @ self.G
        quad = np.einsum("ri,ri->r", D, g)
        np.maximum(quad, 0.0, out=quad)
        x2 = x * x
        den = x2 + 1.0
        np.divide(x2, den, out=x2)  # φ(x) = x²/(1+x²)
        value = self.f_star + 0.5 * quad + self.lam * x2.sum(axis=1)
        np.square(den, out=den)
        reg = np.divide(x, den, out=den)
        reg *= 2.0 * self.lam  # lam φ'(x) = 2 lam x/(1+x²)²
        g += reg
        return value, g.reshape((len(x), *self.shape))

    @property
    def N(self) -> int:
        """Number of components (rows of ``A``)."""
        return self.A.shape[0]

    def mean_component_grad(self, W: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``(1/batch) Σ_b a_{i_b}(a_{i_b}ᵀx − b_{i_b}) + lam φ'(x)`` for ``idx`` ``(R, batch)``: ``(R, m, n)``.

        The rows are gathered in chunks of runs (at most ``GATHER_BUDGET`` numbers at once).
        """
        x = W.reshape(len(W), self.shape[0] * self.shape[1])
        batch = idx.shape[1]
        g = self.lam * regularizer_grad(x)
        for c in run_chunks(len(x), batch * x.shape[1]):
            Ab = self.A[idx[c]]
            res = np.einsum("rbd,rd->rb", Ab, x[c]) - self.b[idx[c]]
            g[c] += np.einsum("rb,rbd->rd", res, Ab) / batch
        return g.reshape(W.shape)


def gram_top_eigenvalue(A: np.ndarray) -> float:
    """``λ_max(AᵀA)`` from the smaller of ``AᵀA`` (``d×d``) and ``AAᵀ`` (``N×N``): the same non-zero
    eigenvalues, and for the paper's 64×64 fine-tuning with few samples a far smaller eigenproblem."""
    N, d = A.shape
    M = A @ A.T if N < d else A.T @ A
    M = 0.5 * (M + M.T)
    return float(scipy.linalg.eigh(M, eigvals_only=True, subset_by_index=[len(M) - 1] * 2)[0])


def _pretrained_point(
    A: np.ndarray, h: np.ndarray, L_ls: float, lam: float, x: np.ndarray
) -> tuple[np.ndarray, int, float]:
    """GD with step ``1/L``, ``L = L_ls + 2 lam``, ``L_ls = λ_max(AᵀA/N)``, on
    ``‖Ax‖²/(2N) − hᵀx + lam Σ x²/(1+x²)``.

    The Hessian-vector product ``AᵀA x/N`` is formed as ``Aᵀ(Ax)/N`` when ``N < d`` (``2Nd`` flops instead
    of ``d²``), with the Gram matrix otherwise.  Stops after ``PRETRAIN_MAX_ITERS`` steps or when
    ``‖∇‖² < PRETRAIN_TOL``.  Returns the point, the number of steps taken and the final ``‖∇‖²``.
    """
    N, d = A.shape
    if N < d:
        def gram(v: np.ndarray) -> np.ndarray:
            return A.T @ (A @ v) / N
    else:
        G = A.T @ A / N
        G = 0.5 * (G + G.T)

        def gram(v: np.ndarray) -> np.ndarray:
            return G @ v
    step = 1.0 / (L_ls + 2.0 * lam)
    for it in range(PRETRAIN_MAX_ITERS + 1):
        g = gram(x) - h + lam * regularizer_grad(x)
        gsq = float(g @ g)
        if gsq < PRETRAIN_TOL or it == PRETRAIN_MAX_ITERS:
            return x, it, gsq
        x = x - step * g
    raise AssertionError("unreachable")


def _row_constants(
    A: np.ndarray, b: np.ndarray, G: np.ndarray, lam: float, L: float, x0: np.ndarray,
) -> tuple[dict[str, Constant], np.ndarray, int]:
    """``L_max``, ``Lms``, ``var_A``, ``var_C`` of the row oracle, the point ``x_up`` and its GD steps.

    ``x_up`` is ``UPPER_GD_STEPS`` steps of GD with step ``1/L`` from ``x0`` (monotone by the descent
    lemma); ``f_up = f(x_up)(1 + ROUNDING_MARGIN)`` evaluated from ``A``, ``b`` directly.
    """
    N = A.shape[0]
    sq = np.einsum("ij,ij->i", A, A)
    L_max = float(sq.max()) + 2.0 * lam
    top = gram_top_eigenvalue(A * np.sqrt(sq / N)[:, None])  # λ_max((1/N) Σ_i ‖a_i‖² a_i a_iᵀ)
    h = A.T @ b / N
    x = x0
    for _ in range(UPPER_GD_STEPS):
        x = x - (G @ x - h + lam * regularizer_grad(x)) / L
    f_up = (float(np.sum((A @ x - b) ** 2)) / (2 * N) + lam * float(np.sum(x * x / (1.0 + x * x))))
    f_up *= 1.0 + ROUNDING_MARGIN
    constants = {
        "L_max": Constant(L_max, "closed form: max_i ||a_i||^2 + 2 lam; Hess f_i = a_i a_i^T + lam diag(phi'') "
                                 "with phi'' in [-1/2, 2], attained at x = 0"),
        "Lms": Constant(float(np.sqrt(top)) + 2.0 * lam,
                        "triangle inequality in L2(i): sqrt(lambda_max((1/N) sum_i ||a_i||^2 a_i a_i^T)) (eigh of "
                        "the smaller Gram matrix) "
                        "+ 2 lam (the regulariser's gradient is 2 lam-Lipschitz)", "upper"),
        "var_A": Constant(L_max, "f_i >= 0 is L_i-smooth, so Var <= (1/N) sum ||grad f_i||^2 <= 2 L_max f(x) "
                                 "<= 2 L_max (f - f*) + 2 L_max f_up: var_A = L_max", "upper"),
        "var_C": Constant(2.0 * L_max * f_up,
                          f"2 L_max f_up, f_up = f after {UPPER_GD_STEPS} GD steps (step 1/L) from W0, evaluated "
                          f"from the data, times (1 + {ROUNDING_MARGIN:g}); an upper bound on f*", "upper"),
    }
    return constants, x, f_up


def nonconvex_reg(
    m: int = 8, n: int = 8, N: int = 256, effective_rank: float | str = "auto", tail_strength: float = 0.9,
    noise: float = 50.0, lam: float | str = "auto", seed: int = 0,
) -> NonconvexReg:
    """The §7.1 fine-tuning problem ``‖Ax − b‖²/(2N) + lam Σ x_j²/(1+x_j²)`` on ``W ∈ R^{m×n}``.

    The paper's size is ``m = n = 64, N = 10000`` (and it used ``effective_rank = 32``).

    Parameters
    ----------
    m, n : int
        Shape of ``W`` (``>= 1``); ``d = m n``.
    N : int
        Fine-tuning samples (``>= 2``: the global rescaling needs a non-constant ``b``).
    effective_rank : float or "auto"
        Width of the singular profile of ``A`` (``> 0``); ``"auto"`` is ``max(1, d // 8)``.
    tail_strength : float
        Weight of the slowly decaying tail of the profile, in ``[0, 1]``.
    noise : float
        Standard deviation of the noise added to ``b`` before rescaling, in ``make_regression`` units
        (``>= 0``).  The paper's value 50 makes ``b`` mostly noise: the signal ``A w`` has per-sample
        standard deviation of order ``100 sqrt(Σ s_i²/(3N))``, a few units at the paper's size.
    lam : float or "auto"
        Regularisation weight (``>= 0``); ``"auto"`` is ``λ_max(AᵀA/N)``, as in the authors' code.
    seed : int
        ``SeedSequence(seed).spawn(3)`` gives the streams of the fine-tuning data, the pre-training
        data and the pre-training GD start.

    Returns
    -------
    NonconvexReg
        Data: ``A = U diag(s) Vᵀ`` (:func:`~verify.problems.synthetic.low_rank_regression`, ``d // 2``
        informative coefficients, bias 10), then ``A`` and ``b`` rescaled globally to mean 1 and standard
        deviation 2, as the paper's fine-tuning set.  ``W0`` is the approximate minimiser of a
        pre-training loss of the same form (``N`` samples, effective rank ``2 × effective_rank`` as in the
        paper's 64 vs 32, tail 0.8, noise 20, no bias, all coefficients informative, ``A`` standardised
        per column and ``b`` standardised, ``lam = λ_max``), found by GD with step ``1/L_pre`` from a
        standard normal start for at most 10000 steps or until ``‖∇‖² < 1e−8``.
        Constants: ``L = λ_max(AᵀA/N) + 2 lam`` (exact), ``f_star = min ‖Ax − b‖²/(2N)`` (lower), and
        those of the row oracle (see :class:`NonconvexReg`): ``L_max`` (exact), ``Lms``, ``var_A``,
        ``var_C`` (upper).
    """
    m = v.integer(NAME, "m", m, 1)
    n = v.integer(NAME, "n", n, 1)
    N = v.integer(NAME, "N", N, 2)
    d = m * n
    if effective_rank == "auto":
        effective_rank = max(1, d // 8)
    elif isinstance(effective_rank, str):
        raise UserError(f"{NAME}: effective_rank={effective_rank!r} is not allowed; "
                        "effective_rank must be 'auto' or a finite number > 0")
    else:
        effective_rank = v.real(NAME, "effective_rank", effective_rank, 0.0, strict=True)
    tail_strength = v.real(NAME, "tail_strength", tail_strength, 0.0, maximum=1.0)
    noise = v.real(NAME, "noise", noise, 0.0)
    if isinstance(lam, str) and lam != "auto":
        raise UserError(f"{NAME}: lam={lam!r} is not allowed; lam must be 'auto' or a finite number >= 0")
    lam_rule = "auto" if lam == "auto" else "given"
    if lam_rule == "given":
        lam = v.real(NAME, "lam", lam, 0.0)
    seed = v.integer(NAME, "seed", seed, 0)
    ft_seq, pre_seq, start_seq = np.random.SeedSequence(seed).spawn(3)

    # Pre-training data and W0.
    pre_rank = 2 * effective_rank
    A_pre, b_pre, _ = low_rank_regression(
        np.random.default_rng(pre_seq), N, d, pre_rank, 0.8, informative=d, noise=20.0, bias=0.0)
    A_pre = standardize_columns(A_pre)
    b_pre = standardize_columns(b_pre[:, None])[:, 0]
    h_pre = A_pre.T @ b_pre / N
    lam_pre = gram_top_eigenvalue(A_pre) / N
    x0 = np.random.default_rng(start_seq).standard_normal(d)
    x_pre, pre_iters, pre_gsq = _pretrained_point(A_pre, h_pre, lam_pre, lam_pre, x0)
    del A_pre, b_pre

    # Fine-tuning data and its Gram form.
    A, b, _ = low_rank_regression(
        np.random.default_rng(ft_seq), N, d, effective_rank, tail_strength, informative=max(1, d // 2),
        noise=noise, bias=10.0)
    A = rescale_globally(A, 1.0, 2.0)
    b = rescale_globally(b, 1.0, 2.0)
    Q, R = np.linalg.qr(A)
    c = Q.T @ b
    rho = float(np.sum((b - Q @ c) ** 2))
    del Q
    x_hat = scipy.linalg.lstsq(R, c, lapack_driver="gelsy", check_finite=False)[0]  # rank-revealing QR
    f_star = (rho + float(np.sum((R @ x_hat - c) ** 2))) / (2 * N)
    G = R.T @ R / N
    G = 0.5 * (G + G.T)
    lam_max = gram_top_eigenvalue(R) / N
    if lam_rule == "auto":
        lam = lam_max
    L = lam_max + 2.0 * lam

    constants = {
        "L": Constant(L, "closed form: lambda_max(A^T A / N) (eigh of the smaller of R^T R, R R^T, A = QR) + 2 lam; "
                         "the regulariser's Hessian "
                         "diag(2 lam (1-3x^2)/(1+x^2)^3) lies in [-lam/2, 2 lam], so this is sup ||Hess f||, "
                         "attained at x = 0"),
        "f_star": Constant(f_star, "min ||Ax - b||^2 / (2N) (thin QR, then lstsq by rank-revealing QR); "
                                   "a lower bound on inf f because the regulariser is >= 0", kind="lower"),
    }
    rows, x_up, f_up = _row_constants(A, b, G, lam, L, x_pre)
    constants.update(rows)
    params = {
        "m": m, "n": n, "N": N, "d": d, "effective_rank": effective_rank, "tail_strength": tail_strength,
        "noise": noise, "lam": lam, "lam_rule": lam_rule, "seed": seed, "informative": max(1, d // 2),
        "bias": 10.0, "rescale": "A and b globally to mean 1.0, std 2.0",
        "pretrain_N": N, "pretrain_effective_rank": pre_rank, "pretrain_tail_strength": 0.8,
        "pretrain_noise": 20.0, "pretrain_lam": lam_pre, "pretrain_iters": pre_iters,
        "pretrain_grad_sq": pre_gsq, "f_up": f_up, "f_up_gd_steps": UPPER_GD_STEPS,
        "streams": "SeedSequence(seed).spawn(3): fine-tuning data, pre-training data, pre-training GD start",
    }
    return NonconvexReg(
        A=frozen(A), b=frozen(b), G=frozen(G), x_hat=frozen(x_hat), lam=lam, f_star=f_star,
        W0=frozen(x_pre.reshape(m, n)), params=params, constants=constants, root=frozen(R / np.sqrt(N)),
        W_up=frozen(x_up.reshape(m, n)),
    )
