"""Tests of the non-smooth convex families: subgradients, L0 (exact), R0 and W_star (closest minimiser)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from verify.problems import Problem, make, transpose

SPECS = [
    "l1-regression",
    "l1-regression:m=3,n=2,N=6,seed=4",
    "l1-regression:m=5,n=4,N=3,seed=5",
    "norm-distance",
    "norm-distance:m=2,n=5,L0=3,seed=1",
]
L1 = [s for s in SPECS if s.startswith("l1")]


@functools.cache
def built(spec: str) -> Problem:
    return make(spec)


def points(p: Problem, R: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return p.W_star + np.logspace(-3, 1.5, R)[:, None, None] * rng.standard_normal((R, *p.shape))


def kinks(p: Problem, R: int, seed: int) -> np.ndarray:
    """Points on the kinks: ``W_star`` itself, and for l1-regression points with some ``r_i = 0``."""
    rng = np.random.default_rng(seed)
    W = points(p, R, seed)
    W[0] = p.W_star
    if p.name == "l1-regression":
        # Remove the components along a random subset of the X_i: those residuals become (nearly) zero.
        Q = p.X.reshape(len(p.X), -1)
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        for r in range(1, R):
            S = Q[rng.random(len(Q)) < 0.5]
            D = (W[r] - p.W_planted).ravel()
            W[r] -= (S.T @ (S @ D)).reshape(p.shape)
    return W


def ip(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.einsum("rij,rij->r", A, B)


@pytest.mark.parametrize("spec", SPECS)
def test_records(spec):
    p = built(spec)
    c = p.constants
    assert set(c) == {"L0", "R0", "f_star"}  # no L: not smooth
    assert all(k.kind == "exact" for k in c.values()) and c["f_star"].value == 0.0
    assert np.all(p.W0 == 0)


@pytest.mark.parametrize("spec", SPECS)
def test_subgradient_inequality_at_random_pairs_and_at_kinks(spec):
    p = built(spec)
    rng = np.random.default_rng(1)
    for W in (points(p, 200, 2), kinks(p, 50, 3)):
        V = W + np.logspace(-4, 1.5, len(W))[:, None, None] * rng.standard_normal(W.shape)
        lhs, rhs = p.f(V), p.f(W) + ip(p.grad(W), V - W)
        assert np.all(lhs >= rhs - 1e-12 * (1 + np.abs(lhs))), (lhs - rhs).min()


@pytest.mark.parametrize("spec", SPECS)
def test_subgradient_is_the_gradient_away_from_kinks(spec):
    p = built(spec)
    W = points(p, 20, 4)[5:]  # far enough from W_star and, a.s., from every kink
    D = np.random.default_rng(5).standard_normal(W.shape)
    D /= np.linalg.norm(D, axis=(1, 2), keepdims=True)
    h = 1e-7
    fd = (p.f(W + h * D) - p.f(W - h * D)) / (2 * h)
    assert np.abs(fd - ip(p.grad(W), D)).max() < 1e-6 * p.constants["L0"].value


@pytest.mark.parametrize("spec", SPECS)
def test_L0_bounds_every_subgradient_and_the_slopes_and_is_attained(spec):
    p = built(spec)
    L0 = p.constants["L0"].value
    W = np.concatenate([points(p, 200, 6), kinks(p, 50, 7)])
    norms = np.linalg.norm(p.grad(W), axis=(1, 2))
    assert np.all(norms <= L0 * (1 + 1e-12))
    V = W + np.random.default_rng(8).standard_normal(W.shape)
    assert np.all(np.abs(p.f(W) - p.f(V)) <= L0 * np.linalg.norm(W - V, axis=(1, 2)) * (1 + 1e-12))
    # Away from the kinks every subgradient has norm exactly L0, and f grows at rate L0 along it.
    far = points(p, 20, 9)[5:]
    g = p.grad(far)
    np.testing.assert_allclose(np.linalg.norm(g, axis=(1, 2)), L0, rtol=1e-12)
    t = 1e-6
    slope = (p.f(far + t * g / L0) - p.f(far)) / t
    np.testing.assert_allclose(slope, L0, rtol=1e-6)


@pytest.mark.parametrize("spec", L1)
def test_l1_data_orthogonal_and_L0_closed_form(spec):
    p = built(spec)
    N = len(p.X)
    Q = p.X.reshape(N, -1)
    gram = Q @ Q.T
    assert np.abs(gram - np.diag(np.diag(gram))).max() < 1e-13 * np.diag(gram).max()
    assert p.constants["L0"].value == pytest.approx(np.sqrt(np.trace(gram)) / N, rel=1e-14)
    # Brute force over sign patterns (small N): max ||sum s_i X_i|| / N over s in {-1, 0, 1}^N.
    if N <= 6:
        grid = np.array(np.meshgrid(*[[-1, 0, 1]] * N)).reshape(N, -1).T
        best = np.linalg.norm(grid @ Q, axis=1).max() / N
        assert p.constants["L0"].value == pytest.approx(best, rel=1e-12)
    W = np.random.default_rng(10).standard_normal((4, *p.shape))
    np.testing.assert_allclose(p.f(W), np.mean(np.abs(np.einsum("kij,rij->rk", p.X, W) - p.y), axis=1),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("spec", L1)
def test_l1_W_star_is_the_closest_minimiser_and_R0_its_distance(spec):
    p = built(spec)
    R0 = p.constants["R0"].value
    assert p.f(p.W_star[None])[0] < 1e-14 and p.f(p.W_planted[None])[0] == 0.0
    # Sign(0) = 0: the subgradient at the planted solution is exactly 0.
    assert np.all(p.grad(p.W_planted[None]) == 0)
    # The minimisers are {W : <X_i, W> = y_i}; lstsq gives the minimum-norm one, the closest to W0 = 0.
    Q = p.X.reshape(len(p.X), -1)
    W_min_norm = np.linalg.lstsq(Q, p.y, rcond=None)[0].reshape(p.shape)
    np.testing.assert_allclose(p.W_star, W_min_norm, rtol=1e-10, atol=1e-12)
    assert R0 == pytest.approx(np.linalg.norm(p.W0 - W_min_norm), rel=1e-10)
    # Other minimisers W_star + P_perp(random) are at least R0 away, and f vanishes on them.
    rng = np.random.default_rng(11)
    E = rng.standard_normal((50, *p.shape))
    E -= np.einsum("ik,rk->ri", Q.T, np.linalg.solve(Q @ Q.T, Q @ E.reshape(50, -1).T).T).reshape(E.shape)
    others = p.W_star + E
    assert np.all(p.f(others) < 1e-12)
    assert np.all(np.linalg.norm(others - p.W0, axis=(1, 2)) >= R0 * (1 - 1e-12))
    if len(p.X) == p.shape[0] * p.shape[1]:
        np.testing.assert_allclose(p.W_star, p.W_planted, atol=1e-12)


def test_l1_with_a_full_basis_has_a_unique_minimiser():
    p = make("l1-regression:m=2,n=3,N=6,seed=7")
    np.testing.assert_allclose(p.W_star, p.W_planted, atol=1e-12)
    assert p.constants["R0"].value == pytest.approx(np.linalg.norm(p.W_planted), rel=1e-12)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.startswith("norm")])
def test_norm_distance_closed_forms(spec):
    p = built(spec)
    L0 = p.constants["L0"].value
    assert L0 == p.params["L0"]
    assert p.constants["R0"].value == pytest.approx(np.linalg.norm(p.W_star), rel=1e-14)
    W = points(p, 10, 12)
    np.testing.assert_allclose(p.f(W), L0 * np.linalg.norm(W - p.W_star, axis=(1, 2)), rtol=1e-14)
    assert p.f(p.W_star[None])[0] == 0.0 and np.all(p.grad(p.W_star[None]) == 0)


@pytest.mark.parametrize("spec", SPECS)
def test_transpose_carries_the_subgradient_and_W_star(spec):
    p = built(spec)
    t = transpose(p)
    np.testing.assert_array_equal(t.W_star, p.W_star.T)
    W = points(p, 5, 13)
    np.testing.assert_allclose(t.grad(W.transpose(0, 2, 1)), p.grad(W).transpose(0, 2, 1), rtol=1e-14)
    assert t.constants["R0"].value == p.constants["R0"].value
