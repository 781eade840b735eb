"""Tests of the stochastic oracles: unbiasedness, variance (ABC, sigma2), mean-squared smoothness, L_max.

For finite sums the one-sample moments are computed **exactly** by enumerating all ``N`` components
through the oracle itself (``ξ = [[i]]``); Monte Carlo z-tests (at level ~1e-6 per test) check the
sampling (``sample_xi``) and the minibatch scaling.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from verify.errors import UserError
from verify.problems import FiniteSum, Problem, Stochastic, make, transpose

FINITE = [
    "least-squares",
    "least-squares:m=5,n=3,N=7,noise=0.3,seed=2",
    "nonconvex-reg",
    "nonconvex-reg:m=3,n=5,N=40,lam=0.5,noise=1.0,effective_rank=2.5,seed=7",
]
NOISY = [
    "least-squares:m=4,n=3,N=9,sigma=0.5,seed=5",
    "isotropic-quadratic:m=3,n=2,sigma=0.7,seed=1",
    "isotropic-quadratic:sigma=2",
]
Z = 5.0  # two-sided z-test threshold: false alarm probability 5.7e-7 per comparison


@functools.cache
def built(spec: str) -> Problem:
    return make(spec)


def points(p: Problem, R: int, seed: int, lo: float = -2.0, hi: float = 1.0) -> np.ndarray:
    """``R`` points around ``W0`` at per-entry scales from ``10**lo`` to ``10**hi``."""
    rng = np.random.default_rng(seed)
    return p.W0 + np.logspace(lo, hi, R)[:, None, None] * rng.standard_normal((R, *p.shape))


def components(p: Problem, W: np.ndarray) -> np.ndarray:
    """``∇f_i(W_r)`` for every ``i``, through the oracle: ``(R, m, n) → (R, N, m, n)``."""
    R, N = len(W), p.N
    rep = np.repeat(W, N, axis=0)
    idx = np.tile(np.arange(N), R)[:, None]
    return p.stochastic_grad(rep, idx).reshape(R, N, *p.shape)


def component_values(p: Problem, W: np.ndarray) -> np.ndarray:
    """``f_i(W_r)`` from the data: ``(R, N)``."""
    if p.name == "least-squares":
        return 0.5 * np.sum((np.einsum("im,rmn->rin", p.X, W) - p.Y) ** 2, axis=2)
    x = W.reshape(len(W), -1)
    return 0.5 * (x @ p.A.T - p.b) ** 2 + p.lam * np.sum(x**2 / (1 + x**2), axis=1)[:, None]


def component_grads_direct(p: Problem, W: np.ndarray) -> np.ndarray:
    """``∇f_i(W_r)`` from the data: ``(R, N, m, n)``."""
    if p.name == "least-squares":
        res = np.einsum("im,rmn->rin", p.X, W) - p.Y
        return np.einsum("im,rin->rimn", p.X, res)
    x = W.reshape(len(W), -1)
    g = (x @ p.A.T - p.b)[:, :, None] * p.A[None] + (p.lam * 2 * x / (1 + x**2) ** 2)[:, None, :]
    return g.reshape(len(W), p.N, *p.shape)


def one_sample_variance(p: Problem, W: np.ndarray) -> np.ndarray:
    """Exact ``E_i‖∇f_i(W) − ∇f(W)‖²`` by enumeration: ``(R,)``."""
    return np.mean(np.sum((components(p, W) - p.grad(W)[:, None]) ** 2, axis=(2, 3)), axis=1)


def sq(A: np.ndarray) -> np.ndarray:
    return np.sum(A**2, axis=(-2, -1))


# ---------------------------------------------------------------- which problems have which oracle


def test_oracles_are_offered_exactly_where_they_make_sense():
    for spec in FINITE:
        p = built(spec)
        assert isinstance(p, FiniteSum) and p.N == len(p.X if hasattr(p, "X") else p.A)
        assert "sigma2" not in p.constants  # the variance grows with W
    for spec in NOISY:
        p = built(spec)
        assert isinstance(p, Stochastic) and not hasattr(p, "N") and not isinstance(p, FiniteSum)
    for spec in ("isotropic-quadratic", "pl-sine", "federated-ls", "l1-regression", "norm-distance"):
        assert not hasattr(built(spec), "stochastic_grad") and not hasattr(built(spec), "sample_xi")
    assert hasattr(built("least-squares:sigma=0"), "N")


# ---------------------------------------------------------------- finite sums


@pytest.mark.parametrize("spec", FINITE)
def test_components_sum_to_f_and_their_gradients_to_grad(spec):
    p = built(spec)
    W = points(p, 5, 1)
    np.testing.assert_allclose(component_values(p, W).mean(axis=1), p.f(W), rtol=1e-10)
    G = components(p, W)
    np.testing.assert_allclose(G, component_grads_direct(p, W), rtol=1e-9, atol=1e-10 * np.abs(G).max())
    np.testing.assert_allclose(G.mean(axis=1), p.grad(W), rtol=1e-8, atol=1e-10 * np.abs(G).max())


@pytest.mark.parametrize("spec", FINITE)
def test_component_gradients_match_central_differences(spec):
    p = built(spec)
    W = points(p, 3, 2)
    rng = np.random.default_rng(3)
    D = rng.standard_normal(W.shape)
    h = 1e-6
    fd = (component_values(p, W + h * D) - component_values(p, W - h * D)) / (2 * h)
    an = np.einsum("rimn,rmn->ri", components(p, W), D)
    assert np.abs(fd - an).max() < 1e-6 * np.abs(an).max()


@pytest.mark.parametrize("spec", FINITE)
def test_minibatch_is_the_mean_of_its_components(spec):
    p = built(spec)
    W = points(p, 4, 4)
    xi = p.sample_xi(np.random.default_rng(5), 4, 7)
    assert xi.shape == (4, 7) and np.issubdtype(xi.dtype, np.integer) and 0 <= xi.min() and xi.max() < p.N
    G = components(p, W)
    expected = np.stack([G[r, xi[r]].mean(axis=0) for r in range(4)])
    np.testing.assert_allclose(p.stochastic_grad(W, xi), expected, rtol=1e-10, atol=1e-12 * np.abs(G).max())


@pytest.mark.parametrize("spec", FINITE)
def test_same_xi_at_two_points_uses_the_same_samples(spec):
    p = built(spec)
    W, V = points(p, 4, 6), points(p, 4, 7)
    xi = p.sample_xi(np.random.default_rng(8), 4, 5)
    gW, gV = p.stochastic_grad(W, xi), p.stochastic_grad(V, xi)
    assert np.array_equal(gW, p.stochastic_grad(W, xi))  # deterministic given xi
    GW, GV = components(p, W), components(p, V)
    diff = np.stack([(GW[r, xi[r]] - GV[r, xi[r]]).mean(axis=0) for r in range(4)])
    np.testing.assert_allclose(gW - gV, diff, rtol=1e-8, atol=1e-10 * np.abs(GW).max())


@pytest.mark.parametrize("spec", FINITE)
def test_sampling_is_unbiased_z_test(spec):
    """Mean of K minibatch gradients at one point vs ∇f, projected on random directions, exact variance."""
    p = built(spec)
    K, b = 4000, 3
    W0 = points(p, 1, 9)
    G = components(p, W0)[0]  # (N, m, n)
    g = p.grad(W0)[0]
    xi = p.sample_xi(np.random.default_rng(10), K, b)
    mean = p.stochastic_grad(np.repeat(W0, K, axis=0), xi).mean(axis=0)
    U = np.concatenate([np.random.default_rng(11).standard_normal((4, *p.shape)), g[None]])
    proj = np.einsum("nij,uij->un", G - g, U)  # (5, N): projected centred components
    sd = np.sqrt(np.mean(proj**2, axis=1) / (K * b))
    z = np.einsum("ij,uij->u", mean - g, U) / sd
    assert np.all(np.abs(z) < Z), z
    # The test has power: an oracle biased by 10% of the gradient would be caught along g.
    assert abs(np.einsum("ij,ij->", mean - 1.1 * g, g)) / sd[-1] > Z


@pytest.mark.parametrize("spec", FINITE)
def test_minibatch_variance_is_one_sample_variance_over_batch(spec):
    p = built(spec)
    K, b = 4000, 4
    W0 = points(p, 1, 12)
    var1 = one_sample_variance(p, W0)[0]
    xi = p.sample_xi(np.random.default_rng(13), K, b)
    dev = sq(p.stochastic_grad(np.repeat(W0, K, axis=0), xi) - p.grad(W0))
    z = (dev.mean() - var1 / b) / (dev.std(ddof=1) / np.sqrt(K))
    assert abs(z) < Z, z


@pytest.mark.parametrize("spec", FINITE)
def test_abc_constants_bound_the_exact_one_sample_variance(spec):
    p = built(spec)
    A, C = p.constants["var_A"].value, p.constants["var_C"].value
    L_max, f_star = p.constants["L_max"].value, p.constants["f_star"].value
    W = points(p, 200, 14, lo=-4, hi=1.5)
    if p.name == "least-squares":
        W[:50] = p.W_hat + np.logspace(-6, 0, 50)[:, None, None] * np.random.default_rng(15).standard_normal(
            (50, *p.shape))
    var, f = one_sample_variance(p, W), p.f(W)
    # The derivation: Var <= (1/N) sum ||grad f_i||^2 <= 2 L_max f(W).
    assert np.all(var <= 2 * L_max * f * (1 + 1e-10))
    # The certified pair, with the certified f_star (exact for least squares, a lower bound otherwise;
    # f - f_star >= f - f* so the inequality with f* is the stronger one, implied by the line above and
    # f* <= f_up, checked below).
    assert np.all(var <= 2 * A * (f - f_star) + C + 1e-10 * f)
    assert A == L_max
    if p.name == "least-squares":
        assert C == pytest.approx(2 * L_max * f_star, rel=1e-14)
        assert all(p.constants[k].kind == "exact" for k in ("L_max", "Lms"))
    else:
        f_up = C / (2 * L_max)
        assert p.f(p.W_up[None])[0] <= f_up and f_up >= f_star
        assert f_up <= p.f(p.W0[None])[0]  # GD from W0 only descends
        assert p.constants["Lms"].kind == "upper"


@pytest.mark.parametrize("spec", FINITE)
def test_l_max_is_the_largest_component_smoothness_and_is_attained(spec):
    p = built(spec)
    L_max = p.constants["L_max"].value
    data = p.X if p.name == "least-squares" else p.A
    norms = np.sum(data**2, axis=1)
    extra = 0.0 if p.name == "least-squares" else 2 * p.lam
    assert L_max == pytest.approx(norms.max() + extra, rel=1e-12)
    i = int(norms.argmax())
    xi = np.full((2, 1), i)
    # Component i's secant ratio, at small steps from 0 along x_i (times a unit vector), is L_i = L_max.
    if p.name == "least-squares":
        D = np.outer(data[i], np.random.default_rng(16).standard_normal(p.shape[1]))
    else:
        D = data[i].reshape(p.shape)
    D = D / np.linalg.norm(D)
    t = np.array([1e-5, 1e-7])[:, None, None]
    ratio = np.linalg.norm(p.stochastic_grad(t * D, xi) - p.stochastic_grad(-t * D, xi), axis=(1, 2)) / (2 * t[:, 0, 0])
    np.testing.assert_allclose(ratio, L_max, rtol=1e-6)
    # And no component's secant exceeds it, anywhere.
    W, V = points(p, 60, 17), points(p, 60, 18)
    xi = np.random.default_rng(19).integers(0, p.N, (60, 1))
    sec = np.linalg.norm(p.stochastic_grad(W, xi) - p.stochastic_grad(V, xi), axis=(1, 2))
    assert np.all(sec <= L_max * np.linalg.norm(W - V, axis=(1, 2)) * (1 + 1e-10))


@pytest.mark.parametrize("spec", FINITE)
def test_mean_squared_smoothness_holds(spec):
    p = built(spec)
    Lms = p.constants["Lms"].value
    W = points(p, 100, 20)
    rng = np.random.default_rng(21)
    V = W + np.logspace(-6, 1, 100)[:, None, None] * rng.standard_normal(W.shape)
    ms = np.mean(sq(components(p, W) - components(p, V)), axis=1)
    assert np.all(ms <= Lms**2 * sq(W - V) * (1 + 1e-9))


def test_least_squares_mean_squared_smoothness_is_attained_on_the_top_eigenvector():
    p = built("least-squares")
    Lms = p.constants["Lms"].value
    sqn = np.sum(p.X**2, axis=1)
    M = (p.X * sqn[:, None]).T @ p.X / p.N
    v = np.linalg.eigh(M)[1][:, -1]
    D = np.outer(v, np.random.default_rng(22).standard_normal(p.shape[1]))[None]
    W = points(p, 1, 23)
    ms = np.mean(sq(components(p, W + D) - components(p, W)), axis=1)[0]
    assert ms == pytest.approx(Lms**2 * sq(D)[0], rel=1e-10)
    # ℒ lies between L (Jensen) and L_max (each component is L_max-smooth), strictly here.
    assert p.constants["L"].value < Lms < p.constants["L_max"].value


def test_nonconvex_mean_squared_smoothness_bound_is_not_vacuous():
    # Near x = 0 along the top eigenvector of (1/N) sum ||a_i||^2 a_i a_i^T the witnessed ℒ is within 20% of
    # the certified upper bound (0.85 of it here).
    p = built("nonconvex-reg")
    Lms = p.constants["Lms"].value
    sqn = np.sum(p.A**2, axis=1)
    M = (p.A * sqn[:, None]).T @ p.A / p.N
    v = np.linalg.eigh(M)[1][:, -1].reshape(1, *p.shape)
    t = 1e-6
    ms = np.mean(sq(components(p, t * v) - components(p, -t * v)), axis=1)[0] / (2 * t) ** 2
    assert 0.8 * Lms < np.sqrt(ms) <= Lms


# ---------------------------------------------------------------- additive noise


@pytest.mark.parametrize("spec", NOISY)
def test_noise_constants_are_the_closed_forms(spec):
    p = built(spec)
    m, n = p.shape
    sigma = p.params["sigma"]
    c = p.constants
    assert c["sigma2"].value == pytest.approx(sigma**2 * m * n, rel=1e-15)
    assert (c["var_A"].value, c["var_C"].value, c["Lms"].value) == (0.0, c["sigma2"].value, c["L"].value)
    assert all(c[k].kind == "exact" for k in ("sigma2", "var_A", "var_C", "Lms"))


@pytest.mark.parametrize("spec", NOISY)
def test_noise_oracle_is_grad_plus_xi_with_the_stated_variance(spec):
    p = built(spec)
    K = 20000
    sigma2 = p.constants["sigma2"].value
    m, n = p.shape
    W = np.repeat(points(p, 1, 24), K, axis=0)
    for b in (1, 5):
        xi = p.sample_xi(np.random.default_rng(25 + b), K, b)
        assert xi.shape == (K, m, n)
        g = p.stochastic_grad(W, xi)
        np.testing.assert_allclose(g - p.grad(W), xi, rtol=0, atol=1e-13 * (1 + np.abs(p.grad(W)).max()))
        # Unbiased: each entry of the mean is N(0, sigma^2/(b K)).
        z_mean = (g - p.grad(W)).mean(axis=0) / np.sqrt(sigma2 / (m * n * b * K))
        assert np.abs(z_mean).max() < Z + 1  # max over m n entries: allow for the multiplicity
        # Variance: ||xi||^2 b / (sigma^2/(mn) ... ) is chi-square with m n degrees of freedom (mean sigma2/b).
        dev = sq(g - p.grad(W))
        z_var = (dev.mean() - sigma2 / b) / (np.sqrt(2 / (m * n)) * (sigma2 / b) / np.sqrt(K))
        assert abs(z_var) < Z, z_var


@pytest.mark.parametrize("spec", NOISY)
def test_noise_cancels_at_two_points_so_lms_is_l(spec):
    p = built(spec)
    W, V = points(p, 50, 28), points(p, 50, 29)
    xi = p.sample_xi(np.random.default_rng(30), 50, 3)
    diff = p.stochastic_grad(W, xi) - p.stochastic_grad(V, xi)
    np.testing.assert_allclose(diff, p.grad(W) - p.grad(V), rtol=1e-9, atol=1e-12 * (1 + np.abs(diff).max()))
    Lms = p.constants["Lms"].value
    assert np.all(sq(diff) <= Lms**2 * sq(W - V) * (1 + 1e-12))
    # Attained: along the top eigenvector of the Hessian (any direction for the isotropic quadratic).
    if p.name == "least-squares":
        top = np.outer(p.eigvecs[:, 0], np.ones(p.shape[1]))[None]
    else:
        top = np.ones((1, *p.shape))
    xi1 = xi[:1]
    ratio = sq(p.stochastic_grad(W[:1] + top, xi1) - p.stochastic_grad(W[:1], xi1)) / sq(top)
    assert ratio[0] == pytest.approx(Lms**2, rel=1e-10)


# ---------------------------------------------------------------- errors and transposition


@pytest.mark.parametrize("spec", [FINITE[0], FINITE[2], NOISY[0]])
def test_bad_randomness_is_refused(spec):
    p = built(spec)
    W = points(p, 2, 31)
    with pytest.raises(UserError, match="batch=0"):
        p.sample_xi(np.random.default_rng(0), 2, 0)
    with pytest.raises(UserError, match="R=-1"):
        p.sample_xi(np.random.default_rng(0), -1, 2)
    # No runs is allowed (e.g. no run took the lazy branch of PAGE): empty in, empty out.
    assert p.stochastic_grad(W[:0], p.sample_xi(np.random.default_rng(0), 0, 3)).shape == (0, *p.shape)
    with pytest.raises(ValueError, match="stochastic_grad"):
        p.stochastic_grad(W, p.sample_xi(np.random.default_rng(0), 3, 1))  # 3 runs of randomness for 2 points
    if hasattr(p, "N"):
        with pytest.raises(ValueError, match=rf"\[0, {p.N}\)"):
            p.stochastic_grad(W, np.array([[0], [p.N]]))
        with pytest.raises(ValueError, match="integer indices"):
            p.stochastic_grad(W, np.zeros((2, 1)))


@pytest.mark.parametrize("spec", FINITE[:2] + NOISY[:1])
def test_transpose_carries_the_stochastic_oracle(spec):
    p = built(spec)
    t = transpose(p)
    assert hasattr(t, "N") == hasattr(p, "N")
    if hasattr(p, "N"):
        assert t.N == p.N
    W = points(p, 4, 32)
    xi = t.sample_xi(np.random.default_rng(33), 4, 3)
    xi_again = p.sample_xi(np.random.default_rng(33), 4, 3)
    assert np.array_equal(xi, xi_again)  # the base's randomness, passed through
    np.testing.assert_allclose(t.stochastic_grad(W.transpose(0, 2, 1), xi),
                               p.stochastic_grad(W, xi).transpose(0, 2, 1), rtol=1e-14, atol=1e-15)
    assert not hasattr(transpose(built("isotropic-quadratic")), "stochastic_grad")
    assert not hasattr(transpose(built("isotropic-quadratic")), "N")
