"""Tests of the gradient estimators: exact special cases, the one-step error recursions the theorems rest on
(Monte Carlo at fixed ``W^t``, ``W^{t+1}``, with exact expectations where they exist), deliberately broken
variants that must violate them, and bad input."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from verify import stats
from verify.compressors import Dither, Identity, RandK, TopK
from verify.errors import UserError
from verify.estimators import (
    EF21,
    MARINA,
    MVR,
    PAGE,
    QGD,
    SGD,
    FullGradient,
    make_estimator,
    sq_norm,
    take,
)

ALPHA = 1e-4  # false-alarm rate of each statistical test below
K = 40_000  # Monte Carlo draws of one step from a fixed state


# ----------------------------------------------------------------------------------------------------
# Test problems (fixtures): a finite sum with a stochastic oracle, and a federated quadratic
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FiniteSumLS:
    r"""``f = (1/N) Σ_i f_i``, ``f_i(W) = ½‖Wᵀx_i − y_i‖²``, ``∇f_i(W) = x_i (x_iᵀW − y_iᵀ)``.

    Average smoothness: ``(1/N) Σ_i ‖∇f_i(W) − ∇f_i(V)‖² = tr(Dᵀ S D) <= λ_max(S)‖D‖²``,
    ``S = (1/N) Σ_i ‖x_i‖² x_i x_iᵀ``, ``D = W − V``; so ``ℒ² = λ_max(S)`` (attained).
    ``xi``: (R, batch) indices drawn uniformly with replacement.
    """

    x: np.ndarray  # (N, m)
    y: np.ndarray  # (N, n)
    name: str = "finite-sum-ls"

    @property
    def shape(self) -> tuple[int, int]:
        return self.x.shape[1], self.y.shape[1]

    @property
    def Lms2(self) -> float:
        S = np.einsum("i,ia,ib->ab", (self.x**2).sum(axis=1), self.x, self.x) / len(self.x)
        return float(np.linalg.eigvalsh(S)[-1])

    @property
    def hessian(self) -> np.ndarray:
        return self.x.T @ self.x / len(self.x)

    def component_grads(self, W: np.ndarray) -> np.ndarray:
        """(R, N, m, n)."""
        r = np.einsum("im,rmn->rin", self.x, W) - self.y
        return self.x[None, :, :, None] * r[:, :, None, :]

    def f(self, W: np.ndarray) -> np.ndarray:
        r = np.einsum("im,rmn->rin", self.x, W) - self.y
        return 0.5 * (r**2).sum(axis=(1, 2)) / len(self.x)

    def grad(self, W: np.ndarray) -> np.ndarray:
        r = np.einsum("im,rmn->rin", self.x, W) - self.y
        return np.einsum("im,rin->rmn", self.x, r) / len(self.x)

    def sample_xi(self, rng: np.random.Generator, R: int, batch: int) -> np.ndarray:
        return rng.integers(0, len(self.x), (R, batch))

    def stochastic_grad(self, W: np.ndarray, xi: np.ndarray) -> np.ndarray:
        xs = self.x[xi]  # (R, b, m)
        r = np.einsum("rbm,rmn->rbn", xs, W) - self.y[xi]
        return np.einsum("rbm,rbn->rmn", xs, r) / xi.shape[1]


@dataclass(frozen=True)
class FederatedQuadratic:
    """``f = (1/M) Σ_i f_i``, ``f_i(W) = ½⟨W − C_i, A_i (W − C_i)⟩``, ``∇f_i = A_i (W − C_i)``, ``L_i = λ_max(A_i)``."""

    A: np.ndarray  # (M, m, m), symmetric positive semi-definite
    C: np.ndarray  # (M, m, n)
    name: str = "federated-quadratic"

    @property
    def shape(self) -> tuple[int, int]:
        return self.C.shape[1], self.C.shape[2]

    @property
    def clients(self) -> int:
        return len(self.A)

    @property
    def Lt2(self) -> float:
        """``L̃² = (1/M) Σ_i L_i²``."""
        return float(np.mean(np.linalg.eigvalsh(self.A)[:, -1] ** 2))

    def client_grads(self, W: np.ndarray) -> np.ndarray:
        return np.einsum("iab,ribn->rian", self.A, W[:, None] - self.C)

    def f(self, W: np.ndarray) -> np.ndarray:
        D = W[:, None] - self.C
        return 0.5 * np.einsum("rian,iab,ribn->r", D, self.A, D) / self.clients

    def grad(self, W: np.ndarray) -> np.ndarray:
        return self.client_grads(W).mean(axis=1)


def finite_sum(seed: int = 0, N: int = 12, m: int = 3, n: int = 2, same: bool = False) -> FiniteSumLS:
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((N, m)), rng.standard_normal((N, n))
    if same:  # every component equal: the stochastic gradient has no noise
        x, y = np.broadcast_to(x[:1], x.shape).copy(), np.broadcast_to(y[:1], y.shape).copy()
    return FiniteSumLS(x, y)


def federated(seed: int = 0, M: int = 4, m: int = 3, n: int = 2) -> FederatedQuadratic:
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((M, m, m))
    return FederatedQuadratic(B @ B.transpose(0, 2, 1) / m + 0.1 * np.eye(m), rng.standard_normal((M, m, n)))


def trajectory(problem: Any, R: int, steps: int, seed: int) -> list[np.ndarray]:
    """A fixed sequence of points ``(R, m, n)`` for the estimators to follow."""
    rng = np.random.default_rng(seed)
    m, n = problem.shape
    return [rng.standard_normal((R, m, n)) for _ in range(steps + 1)]


def follow(est: Any, problem: Any, Ws: list[np.ndarray], seed: int) -> tuple[list[np.ndarray], list[Any]]:
    """Directions ``G^t`` and states of ``est`` along ``Ws``."""
    rng = np.random.default_rng(seed)
    state = est.init(problem, Ws[0], problem.grad(Ws[0]), rng)
    Gs, states = [est.direction(state)], [state]
    for W_old, W_new in zip(Ws[:-1], Ws[1:], strict=True):
        state = est.update(state, problem, W_new, problem.grad(W_new), W_old, rng)
        Gs.append(est.direction(state))
        states.append(state)
    return Gs, states


def one_step(est: Any, problem: Any, state: Any, W_old: np.ndarray, W_new: np.ndarray, seed: int) -> Any:
    """K independent draws of the state after the step ``W_old -> W_new`` from the same (R = 1) state."""
    rep = np.zeros(K, dtype=int)
    Wn = W_new[rep]
    return est.update(take(state, rep), problem, Wn, problem.grad(Wn), W_old[rep], np.random.default_rng(seed))


def ci(x: np.ndarray, alpha: float) -> stats.MeanBounds:
    """One-sided bounds at level 1 − alpha on the mean of the sample ``x`` (K,)."""
    return stats.mean_bounds(x[:, None], alpha)


def assert_mean_is(x: np.ndarray, exact: float) -> None:
    b = ci(x, ALPHA / 2)
    assert b.lower[0] <= exact <= b.upper[0], (b.lower[0], exact, b.upper[0])


def assert_not_above(x: np.ndarray, bound: float) -> None:
    """One-sided test of ``E x <= bound``: fails only if the lower confidence bound exceeds it."""
    assert ci(x, ALPHA).lower[0] <= bound, (ci(x, ALPHA).lower[0], bound)


def assert_above(x: np.ndarray, bound: float) -> None:
    """``E x > bound`` established at level ALPHA."""
    assert ci(x, ALPHA).lower[0] > bound, (ci(x, ALPHA).lower[0], bound)


def top_direction(H: np.ndarray, n: int) -> np.ndarray:
    """A unit ``(1, m, n)`` matrix ``v uᵀ`` with ``v`` the top eigenvector of ``H``: ``‖H D‖ = λ_max ‖D‖``."""
    v = np.linalg.eigh(H)[1][:, -1]
    return np.outer(v, np.eye(n)[0])[None]


# ----------------------------------------------------------------------------------------------------
# Special cases, exactly
# ----------------------------------------------------------------------------------------------------


def test_full_gradient_and_its_errors() -> None:
    fs, fed = finite_sum(), federated()
    Ws = trajectory(fs, 3, 3, 1)
    Gs, _ = follow(FullGradient(), fs, Ws, 0)
    for W, G in zip(Ws, Gs, strict=True):
        np.testing.assert_array_equal(G, fs.grad(W))
    for est, prob in [(FullGradient(), fs), (SGD(2), fs), (QGD(RandK(2)), fed)]:
        W = trajectory(prob, 3, 0, 2)[0]
        state = est.init(prob, W, prob.grad(W), np.random.default_rng(0))
        np.testing.assert_array_equal(est.error(state, prob, W, prob.grad(W)), np.zeros(3))


def test_page_with_q_one_is_gd() -> None:
    fs = finite_sum()
    Ws = trajectory(fs, 4, 6, 1)
    Gs, _ = follow(PAGE(q=1.0, batch_prime=2), fs, Ws, 0)
    for W, G in zip(Ws, Gs, strict=True):
        np.testing.assert_array_equal(G, fs.grad(W))


def test_page_with_q_below_one_is_not_gd() -> None:
    """Control for the test above: with q < 1 the direction does differ from the gradient."""
    fs = finite_sum()
    Ws = trajectory(fs, 4, 6, 1)
    Gs, _ = follow(PAGE(q=0.5, batch_prime=2), fs, Ws, 0)
    assert any(not np.allclose(G, fs.grad(W)) for W, G in zip(Ws, Gs, strict=True))


def test_page_batch0_starts_from_a_minibatch() -> None:
    fs = finite_sum()
    W = trajectory(fs, 2, 0, 1)[0]
    G0 = PAGE(q=0.5, batch0=3).init(fs, W, fs.grad(W), np.random.default_rng(4))
    rng = np.random.default_rng(4)
    np.testing.assert_array_equal(G0, fs.stochastic_grad(W, fs.sample_xi(rng, 2, 3)))


def test_marina_with_q_one_is_gd() -> None:
    fed = federated()
    Ws = trajectory(fed, 4, 6, 1)
    Gs, states = follow(MARINA(q=1.0, compressor=RandK(1)), fed, Ws, 0)
    for W, G, state in zip(Ws, Gs, states, strict=True):
        np.testing.assert_array_equal(G, fed.grad(W))
        np.testing.assert_array_equal(state[1], fed.client_grads(W))  # the cache is at the current point


def test_mvr_with_b_one_is_sgd() -> None:
    fs = finite_sum()
    Ws = trajectory(fs, 4, 6, 1)
    mvr, _ = follow(MVR(b=1.0, batch=2, batch0=2), fs, Ws, 7)
    sgd, _ = follow(SGD(batch=2), fs, Ws, 7)
    for a, b in zip(mvr, sgd, strict=True):
        np.testing.assert_array_equal(a, b)
    mom, _ = follow(MVR(b=0.5, batch=2, batch0=2), fs, Ws, 7)  # control: momentum changes the directions
    assert not np.allclose(mom[-1], sgd[-1])


def test_sgd_without_noise_is_gd() -> None:
    fs = finite_sum(same=True)
    Ws = trajectory(fs, 3, 4, 1)
    for est in (SGD(batch=1), SGD(batch=3), MVR(b=0.4, batch=2), PAGE(q=0.3, batch_prime=2, batch0=5)):
        Gs, _ = follow(est, fs, Ws, 0)
        for W, G in zip(Ws, Gs, strict=True):
            np.testing.assert_allclose(G, fs.grad(W), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("est", [QGD(Identity()), MARINA(q=0.3, compressor=Identity()),
                                 EF21(Identity()), EF21(Identity(), g0="full")])
def test_identity_compressor_gives_the_full_gradient(est: Any) -> None:
    fed = federated()
    Ws = trajectory(fed, 3, 5, 1)
    Gs, states = follow(est, fed, Ws, 0)
    for W, G, state in zip(Ws, Gs, states, strict=True):
        np.testing.assert_allclose(G, fed.grad(W), rtol=1e-12, atol=1e-13)
        if isinstance(est, EF21):  # g_i^t = ∇f_i(W^t), so the EF21 error is 0
            np.testing.assert_allclose(state[0], fed.client_grads(W), rtol=1e-12, atol=1e-13)
            assert est.error(state, fed, W, fed.grad(W)).max() < 1e-20


def test_ef21_error_is_the_mean_client_error_and_bounds_the_estimator_error() -> None:
    fed = federated()
    Ws = trajectory(fed, 5, 3, 1)
    _, states = follow(EF21(TopK(2)), fed, Ws, 0)
    for W, state in zip(Ws, states, strict=True):
        err = EF21(TopK(2)).error(state, fed, W, fed.grad(W))
        np.testing.assert_allclose(err, sq_norm(state[0] - fed.client_grads(W)).mean(axis=1), rtol=1e-12)
        assert (sq_norm(state[0].mean(axis=1) - fed.grad(W)) <= err * (1 + 1e-12)).all()  # Jensen
        assert (err > 0).all()


def test_states_can_be_taken_per_run() -> None:
    fed = federated()
    W = trajectory(fed, 4, 0, 1)[0]
    state = EF21(TopK(2)).init(fed, W, fed.grad(W), np.random.default_rng(0))
    sub = take(state, np.array([2, 2, 0]))
    np.testing.assert_array_equal(sub[0], state[0][[2, 2, 0]])
    np.testing.assert_array_equal(EF21(TopK(2)).direction(sub), state[0][[2, 2, 0]].mean(axis=1))


# ----------------------------------------------------------------------------------------------------
# One-step recursions (Monte Carlo at fixed W^t, W^{t+1}, e^t)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageWithoutCorrection(PAGE):
    """Broken PAGE: ``G^{t+1} = G^t`` on the lazy branch."""

    def update(self, state: Any, problem: Any, W_new: np.ndarray, grad_new: np.ndarray, W_old: np.ndarray,
               rng: np.random.Generator) -> Any:
        lazy = ~(rng.random(W_new.shape[0]) < self.q)
        return np.where(lazy[:, None, None], state, grad_new)


@dataclass(frozen=True)
class EF21WithoutFeedback(EF21):
    """Broken EF21: ``g_i^{t+1} = C(∇f_i(W^{t+1}))``."""

    def update(self, state: Any, problem: Any, W_new: np.ndarray, grad_new: np.ndarray, W_old: np.ndarray,
               rng: np.random.Generator) -> Any:
        cg = problem.client_grads(W_new)
        return self.compressor.compress(cg, rng), cg


def page_setup(fs: FiniteSumLS, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``W^t``, ``W^{t+1}`` (a step mostly along the top Hessian direction) and ``e^t = −3(∇f(W^{t+1}) − ∇f(W^t))``.

    Without the correction ``e^{t+1} = e^t − Δ̄ = −4Δ̄`` on the lazy branch: ``16‖Δ̄‖²`` against the bound's
    ``9‖Δ̄‖² + ℒ²‖ΔW‖²/b'``, violated when ``7‖Δ̄‖² > ℒ²‖ΔW‖²/b'``.
    """
    rng = np.random.default_rng(seed)
    m, n = fs.shape
    W_old = rng.standard_normal((1, m, n))
    W_new = W_old + 0.7 * top_direction(fs.hessian, n) + 0.1 * rng.standard_normal((1, m, n))
    e = -3 * (fs.grad(W_new) - fs.grad(W_old))
    return W_old, W_new, e


@pytest.mark.parametrize(("q", "bp"), [(0.3, 1), (0.2, 4), (0.7, 8)])
def test_page_recursion(q: float, bp: int) -> None:
    r"""``E‖e^{t+1}‖² = (1−q)(‖e^t‖² + V/b') <= (1−q)‖e^t‖² + (1−q)(ℒ²/b')‖ΔW‖²``, ``V`` the variance of
    ``∇f_i(W^{t+1}) − ∇f_i(W^t)`` over i (sampling with replacement)."""
    fs = finite_sum(seed=3)
    W_old, W_new, e = page_setup(fs, 1)
    est = PAGE(q=q, batch_prime=bp)
    state = fs.grad(W_old) + e
    G = one_step(est, fs, state, W_old, W_new, 5)
    err = sq_norm(G - fs.grad(W_new[[0]]))
    Delta = fs.component_grads(W_new)[0] - fs.component_grads(W_old)[0]  # (N, m, n)
    V = sq_norm(Delta - Delta.mean(axis=0)).mean()
    e2, dW2 = sq_norm(e)[0], sq_norm(W_new - W_old)[0]
    exact = (1 - q) * (e2 + V / bp)
    bound = (1 - q) * e2 + (1 - q) * fs.Lms2 / bp * dW2
    assert exact <= bound
    assert_mean_is(err, exact)
    assert_not_above(err, bound)
    np.testing.assert_allclose(est.error(G[:3], fs, W_new[[0, 0, 0]], fs.grad(W_new[[0, 0, 0]])), err[:3])


@pytest.mark.parametrize(("q", "bp"), [(0.3, 1), (0.2, 4), (0.7, 8)])
def test_page_without_correction_violates_the_recursion(q: float, bp: int) -> None:
    fs = finite_sum(seed=3)
    W_old, W_new, e = page_setup(fs, 1)
    G = one_step(PageWithoutCorrection(q=q, batch_prime=bp), fs, fs.grad(W_old) + e, W_old, W_new, 5)
    err = sq_norm(G - fs.grad(W_new[[0]]))
    bound = (1 - q) * sq_norm(e)[0] + (1 - q) * fs.Lms2 / bp * sq_norm(W_new - W_old)[0]
    assert_above(err, bound)


@pytest.mark.parametrize(("b", "batch"), [(0.1, 1), (0.5, 1), (0.3, 3)])
def test_mvr_recursion(b: float, batch: int) -> None:
    r"""``E‖e^{t+1}‖² = (1−b)²‖e^t‖² + (1/B) E_i‖(1−b)(Δ_i − Δ̄) + b(∇f_i(W^{t+1}) − ∇f(W^{t+1}))‖²
    <= (1−b)²‖e^t‖² + 2(1−b)²ℒ²‖ΔW‖²/B + 2b²σ²/B``, σ² the one-sample variance at ``W^{t+1}``."""
    fs = finite_sum(seed=4)
    W_old, W_new, _ = page_setup(fs, 2)
    e = np.random.default_rng(9).standard_normal(W_old.shape)
    G = one_step(MVR(b=b, batch=batch), fs, fs.grad(W_old) + e, W_old, W_new, 6)
    err = sq_norm(G - fs.grad(W_new[[0]]))
    cg_old, cg_new = fs.component_grads(W_old)[0], fs.component_grads(W_new)[0]
    Delta = cg_new - cg_old
    noise = cg_new - cg_new.mean(axis=0)
    sigma2 = sq_norm(noise).mean()
    e2, dW2 = sq_norm(e)[0], sq_norm(W_new - W_old)[0]
    exact = (1 - b) ** 2 * e2 + sq_norm((1 - b) * (Delta - Delta.mean(axis=0)) + b * noise).mean() / batch
    bound = (1 - b) ** 2 * e2 + 2 * (1 - b) ** 2 * fs.Lms2 * dW2 / batch + 2 * b**2 * sigma2 / batch
    assert exact <= bound
    assert_mean_is(err, exact)
    assert_not_above(err, bound)


@pytest.mark.parametrize(("q", "comp"), [(0.3, RandK(1)), (0.6, RandK(4)), (0.3, Dither(1)), (0.5, Dither(2))])
def test_marina_recursion(q: float, comp: RandK | Dither) -> None:
    r"""``E‖e^{t+1}‖² = (1−q)(‖e^t‖² + (1/M²) Σ_i E‖Q(Δ_i) − Δ_i‖²) <= (1−q)‖e^t‖² + (1−q)(ω/M)L̃²‖ΔW‖²``
    (equality in the middle term, with ``ω‖Δ_i‖²``, for rand-k)."""
    fed = federated(seed=5)
    m, n = fed.shape
    d, M = m * n, fed.clients
    rng = np.random.default_rng(3)
    W_old = rng.standard_normal((1, m, n))
    W_new = W_old + 0.5 * rng.standard_normal((1, m, n))
    e = rng.standard_normal((1, m, n))
    est = MARINA(q=q, compressor=comp)
    state = (fed.grad(W_old) + e, fed.client_grads(W_old))
    G, cg = one_step(est, fed, state, W_old, W_new, 8)
    np.testing.assert_array_equal(cg, fed.client_grads(W_new[[0] * K]))
    err = sq_norm(G - fed.grad(W_new[[0]]))
    Delta = (fed.client_grads(W_new) - fed.client_grads(W_old))[0]
    e2, dW2, omega = sq_norm(e)[0], sq_norm(W_new - W_old)[0], comp.omega(d)
    middle = omega * sq_norm(Delta).sum() / M**2
    bound = (1 - q) * e2 + (1 - q) * omega / M * fed.Lt2 * dW2
    assert (1 - q) * (e2 + middle) <= bound
    if isinstance(comp, RandK):
        assert_mean_is(err, (1 - q) * (e2 + middle))
    assert_not_above(err, bound)
    assert_above(err, (1 - q) * e2)  # the compression noise is there


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 5])
def test_ef21_recursion(seed: int, k: int) -> None:
    r"""Top-k is deterministic: ``𝒢^{t+1} <= (1−θ)𝒢^t + β L̃²‖ΔW‖²`` at every state,
    ``θ = 1 − sqrt(1−α)``, ``β = (1−α)/(1−sqrt(1−α))``."""
    fed = federated(seed=seed)
    m, n = fed.shape
    rng = np.random.default_rng(seed)
    W_old = rng.standard_normal((1, m, n))
    W_new = W_old + rng.uniform(0, 1) * rng.standard_normal((1, m, n))
    g = fed.client_grads(W_old) + rng.uniform(0, 2) * rng.standard_normal((1, fed.clients, m, n))
    est = EF21(TopK(k))
    state = (g, fed.client_grads(W_old))
    new = est.update(state, fed, W_new, fed.grad(W_new), W_old, rng)
    alpha = TopK(k).alpha(m * n)
    theta = 1 - math.sqrt(1 - alpha)
    beta = (1 - alpha) / (1 - math.sqrt(1 - alpha))
    G_old = est.error(state, fed, W_old, fed.grad(W_old))[0]
    G_new = est.error(new, fed, W_new, fed.grad(W_new))[0]
    assert G_new <= (1 - theta) * G_old + beta * fed.Lt2 * sq_norm(W_new - W_old)[0] + 1e-12


def test_ef21_without_feedback_violates_the_recursion() -> None:
    """At ``W^{t+1} = W^t`` with ``g_i^t = ∇f_i(W^t)`` the bound is 0: EF21 stays exact, the broken one does
    not."""
    fed = federated()
    m, n = fed.shape
    W = np.random.default_rng(1).standard_normal((1, m, n))
    state = (fed.client_grads(W), fed.client_grads(W))
    for est, broken in [(EF21(TopK(2)), False), (EF21WithoutFeedback(TopK(2)), True)]:
        new = est.update(state, fed, W, fed.grad(W), W, np.random.default_rng(0))
        err = est.error(new, fed, W, fed.grad(W))[0]
        assert (err > 0.05 * sq_norm(fed.client_grads(W)).mean()) if broken else (err == 0)


@pytest.mark.parametrize("comp", [RandK(1), RandK(3), Dither(1), Dither(3)])
def test_qgd_is_unbiased_with_bounded_variance(comp: RandK | Dither) -> None:
    r"""``E G = ∇f`` and ``E‖G − ∇f‖² <= (ω/M²) Σ_i ‖∇f_i‖²`` (equality for rand-k)."""
    fed = federated(seed=2)
    m, n = fed.shape
    W = np.random.default_rng(4).standard_normal((1, m, n))
    rep = np.zeros(K, dtype=int)
    G = QGD(comp).init(fed, W[rep], fed.grad(W[rep]), np.random.default_rng(5))
    grad, cg = fed.grad(W)[0], fed.client_grads(W)[0]
    err = sq_norm(G - grad)
    # unbiased: z-test per entry, the sample variance standing in for the exact one
    z = np.abs(G.mean(axis=0) - grad) / (G.std(axis=0, ddof=1) / math.sqrt(K))
    assert z.max() < sps.norm.ppf(1 - ALPHA / (2 * m * n))
    bound = comp.omega(m * n) * sq_norm(cg).sum() / fed.clients**2
    if isinstance(comp, RandK):
        assert_mean_is(err, bound)
    assert_not_above(err, bound)


# ----------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [
    lambda: PAGE(q=0), lambda: PAGE(q=1.5), lambda: PAGE(q=float("nan")), lambda: PAGE(q=True),
    lambda: PAGE(q=0.5, batch_prime=0), lambda: PAGE(q=0.5, batch0=0), lambda: PAGE(q=0.5, batch_prime=1.5),
    lambda: MARINA(q=0, compressor=RandK(1)), lambda: MARINA(q=1.5, compressor=RandK(1)),
    lambda: MVR(b=0), lambda: MVR(b=1.2), lambda: MVR(b=0.5, batch=0), lambda: MVR(b=0.5, batch0=0),
    lambda: SGD(batch=0), lambda: SGD(batch=-1), lambda: SGD(batch="2"),
    lambda: QGD(TopK(1)), lambda: MARINA(q=0.5, compressor=TopK(1)), lambda: EF21(RandK(1)),
    lambda: EF21(Dither(1)), lambda: QGD("unknown:k=1"), lambda: QGD("rand-k:k=0"), lambda: QGD(3),
    lambda: EF21(TopK(1), g0="zero"),
])
def test_bad_parameters_are_user_errors(build: Any) -> None:
    with pytest.raises(UserError):
        build()


@pytest.mark.parametrize("est", [QGD(RandK(7)), MARINA(q=0.5, compressor=RandK(7)), EF21(TopK(7), g0="full")])
def test_k_larger_than_d_is_caught_at_init(est: Any) -> None:
    fed = federated()  # d = 6
    W = trajectory(fed, 2, 0, 0)[0]
    with pytest.raises(UserError, match=r"k=7.*d=6"):
        est.init(fed, W, fed.grad(W), np.random.default_rng(0))


@pytest.mark.parametrize(("est", "problem", "oracle"), [
    (SGD(), federated(), "sample_xi"), (PAGE(q=0.5), federated(), "sample_xi"), (MVR(b=0.5), federated(), "sample_xi"),
    (QGD(RandK(1)), finite_sum(), "clients"), (MARINA(q=0.5, compressor=RandK(1)), finite_sum(), "clients"),
    (EF21(TopK(1)), finite_sum(), "clients"),
])
def test_missing_oracles_are_user_errors(est: Any, problem: Any, oracle: str) -> None:
    W = trajectory(problem, 2, 0, 0)[0]
    with pytest.raises(UserError, match=f"estimator {est.name} needs a problem with {oracle}; problem {problem.name}"):
        est.init(problem, W, problem.grad(W), np.random.default_rng(0))


def test_make_estimator() -> None:
    assert make_estimator("page", q=0.5, batch_prime=2) == PAGE(0.5, 2)
    assert make_estimator("gd") == FullGradient() == make_estimator("subgradient")
    assert make_estimator("ef21", compressor="top-k:k=2") == EF21(TopK(2))
    assert make_estimator("marina", q=0.2, compressor="dither:s=2").compressor == Dither(2)
    for name, params in [("adam", {}), ("page", {}), ("page", {"q": 0.5, "p": 0.1}), ("gd", {"q": 1}),
                         ("mvr", {"b": 0})]:
        with pytest.raises(UserError):
            make_estimator(name, **params)
