"""Tests of pl-sine: certified μ_φ, PŁ and smoothness constants, non-convexity, no spurious stationary points."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.optimize

from verify.problems import Problem, make
from verify.problems.pl_sine import MU_PHI_FAR, MU_PHI_NEAR, certified_mu_phi, phi, phi_grad, phi_hess, pl_ratio

SPECS = ["pl-sine", "pl-sine:m=3,n=4,cond=5,seed=2", "pl-sine:m=1,n=3,cond=1,seed=1"]


@functools.cache
def built(spec: str) -> Problem:
    return make(spec)


def points(p: Problem, R: int, seed: int, lo: float = -3.0, hi: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return p.W_star + np.logspace(lo, hi, R)[:, None, None] * rng.standard_normal((R, *p.shape))


def test_phi_derivatives_match_differences_and_curvature_range():
    z = np.linspace(-10, 10, 200_001)
    h = z[1] - z[0]
    np.testing.assert_allclose(phi_grad(z[1:-1]), (phi(z[2:]) - phi(z[:-2])) / (2 * h), atol=1e-7)
    np.testing.assert_allclose(phi_hess(z[1:-1]), (phi_grad(z[2:]) - phi_grad(z[:-2])) / (2 * h), atol=1e-7)
    assert phi_hess(z).max() == pytest.approx(8) and phi_hess(z).min() == pytest.approx(-4)
    assert phi_hess(np.array(0.0)) == 8.0


def test_mu_phi_is_a_certified_lower_bound_nearly_attained():
    cert = certified_mu_phi()
    # A fine grid over (0, 60] never goes below the certified bound ...
    z = np.linspace(1e-4, 60, 3_000_001)
    ratio = pl_ratio(z)
    assert ratio.min() >= cert.lower
    # ... and the infimum (refined by a scalar minimiser) is within 1e-4 of it: the bound is nearly tight.
    z0 = z[ratio.argmin()]
    res = scipy.optimize.minimize_scalar(pl_ratio, bracket=(z0 - 1e-3, z0, z0 + 1e-3), tol=1e-12)
    assert 2.1 < res.x < 2.3 and cert.lower <= res.fun <= cert.lower * (1 + 2e-4)
    assert 0.17 < cert.lower < 0.2 and cert.best_ratio >= res.fun - 1e-15
    # The pieces the proof uses outside the branch and bound hold on a grid.
    near = z[z <= MU_PHI_NEAR]
    assert np.all(ratio[z <= MU_PHI_NEAR] >= 2 * (2 - near**2) ** 2 * (1 - 1e-12))
    far = z[z >= MU_PHI_FAR]
    assert np.all(ratio[z >= MU_PHI_FAR] >= (2 * far - 3) ** 2 / (2 * (far**2 + 3)) * (1 - 1e-12))
    # Even: the ratio at -z equals that at z.
    np.testing.assert_allclose(pl_ratio(-z[::1000]), ratio[::1000], rtol=1e-15)


def test_mu_phi_bound_tightens_with_rtol_and_stays_below_the_infimum():
    loose, tight = certified_mu_phi(1e-2), certified_mu_phi(1e-5)
    inf = pl_ratio(np.linspace(2.19, 2.21, 200_001)).min()
    assert loose.lower <= tight.lower <= inf <= tight.lower * (1 + 1e-5)
    assert loose.intervals < tight.intervals


@pytest.mark.parametrize("spec", SPECS)
def test_oracles_match_the_definition(spec):
    p = built(spec)
    W = points(p, 6, 1)
    Z = p.A @ (W - p.W_star)
    np.testing.assert_allclose(p.f(W), np.sum(Z**2 + 3 * np.sin(Z) ** 2, axis=(1, 2)), rtol=1e-13)
    np.testing.assert_allclose(p.grad(W), p.A.T @ (2 * Z + 3 * np.sin(2 * Z)), rtol=1e-12, atol=1e-13)
    m = p.shape[0]
    cond = p.params["cond"]
    expected = cond ** (-np.arange(m) / (m - 1)) if m > 1 else np.ones(1)
    np.testing.assert_allclose(np.linalg.svd(p.A, compute_uv=False), expected, rtol=1e-12)


@pytest.mark.parametrize("spec", SPECS)
def test_smoothness_holds_and_is_attained_at_the_minimiser(spec):
    p = built(spec)
    L = p.constants["L"].value
    assert L == pytest.approx(8 * np.linalg.svd(p.A, compute_uv=False)[0] ** 2, rel=1e-12)
    assert p.constants["L"].kind == "exact"
    W = points(p, 300, 2)
    V = W + np.logspace(-6, 1, 300)[:, None, None] * np.random.default_rng(3).standard_normal(W.shape)
    sec = np.linalg.norm(p.grad(W) - p.grad(V), axis=(1, 2)) / np.linalg.norm(W - V, axis=(1, 2))
    assert sec.max() <= L * (1 + 1e-10)
    v_top = np.linalg.svd(p.A)[2][0]
    D = np.outer(v_top, np.ones(p.shape[1]))[None] / np.sqrt(p.shape[1])
    t = 1e-6
    ratio = np.linalg.norm(p.grad(p.W_star + t * D) - p.grad(p.W_star - t * D)) / (2 * t)
    assert ratio == pytest.approx(L, rel=1e-9)


@pytest.mark.parametrize("spec", SPECS)
def test_pl_holds_at_random_points(spec):
    p = built(spec)
    mu = p.constants["mu"].value
    assert p.constants["mu"].kind == "lower" and p.constants["f_star"].value == 0.0
    s_min = np.linalg.svd(p.A, compute_uv=False)[-1]
    assert mu == pytest.approx(certified_mu_phi().lower * s_min**2, rel=1e-12)
    assert "interval" in p.constants["mu"].how
    W = np.concatenate([points(p, 2000, 4), points(p, 500, 5, lo=-0.5, hi=0.5)])
    f = p.f(W)
    half_sq = 0.5 * np.sum(p.grad(W) ** 2, axis=(1, 2))
    assert np.all(f > 0) and np.all(half_sq >= mu * f * (1 - 1e-12))


def test_pl_constant_is_attained_for_a_single_entry_through_an_orthogonal_map():
    # With cond = 1, A is orthogonal; a single non-zero entry z of Z at the 1-D minimiser gives exactly mu_phi.
    p = make("pl-sine:m=4,n=3,cond=1,seed=3")
    mu = p.constants["mu"].value
    z_min = scipy.optimize.minimize_scalar(pl_ratio, bracket=(2.1, 2.2, 2.3), tol=1e-12).x
    Z = np.zeros((1, *p.shape))
    Z[0, 1, 2] = z_min
    W = p.W_star + p.A.T @ Z  # A orthogonal: A W − A W* = Z
    ratio = 0.5 * np.sum(p.grad(W) ** 2) / p.f(W)[0]
    assert mu <= ratio <= mu * (1 + 2e-4)


@pytest.mark.parametrize("spec", SPECS[:2])
def test_not_convex_yet_no_stationary_point_but_the_minimiser(spec):
    p = built(spec)
    # Non-convex: along W* + t A^{-1} E_11 the objective is phi(t), concave near pi/2.
    E = np.zeros(p.shape)
    E[0, 0] = 1.0
    D = np.linalg.solve(p.A, E)
    f_line = lambda t: p.f(p.W_star + np.asarray(t, dtype=float)[:, None, None] * D)  # noqa: E731
    a, b = np.pi / 2 - 0.3, np.pi / 2 + 0.3
    assert f_line([(a + b) / 2])[0] > 0.5 * (f_line([a])[0] + f_line([b])[0]) + 0.1
    # On a grid of a 2-D slice through W*, the gradient vanishes only at W*: ‖∇f‖² ≥ 2 mu f > 0 elsewhere.
    rng = np.random.default_rng(6)
    D1, D2 = rng.standard_normal((2, *p.shape))
    s = np.linspace(-10, 10, 81)
    S, T = np.meshgrid(s, s)
    W = p.W_star + S.ravel()[:, None, None] * D1 + T.ravel()[:, None, None] * D2
    gsq = np.sum(p.grad(W) ** 2, axis=(1, 2))
    at_star = (S.ravel() == 0) & (T.ravel() == 0)
    assert gsq[at_star].max() == 0.0 and gsq[~at_star].min() > 0
    # And entrywise: phi' has the sign of z on a fine grid, and |phi'(z)| >= 2|z| - 3 > 0 beyond it.
    z = np.linspace(-20, 20, 400_001)
    assert np.all(np.sign(phi_grad(z)) == np.sign(z))
    assert np.all(np.abs(phi_grad(z[np.abs(z) > 1.5])) >= 2 * np.abs(z[np.abs(z) > 1.5]) - 3)
