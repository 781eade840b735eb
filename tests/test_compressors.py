"""Tests of the compressors: the registry, and the class constants (omega, alpha) by exact algebra and by
Monte Carlo with stated false-alarm rates."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as sps

from verify import stats
from verify.compressors import Dither, Identity, RandK, TopK, make_compressor
from verify.errors import UserError

ALPHA = 1e-4  # false-alarm rate of each statistical test below


def z_crit(alpha: float, tests: int = 1) -> float:
    """Two-sided normal critical value at level ``alpha`` with a Bonferroni split over ``tests`` tests."""
    return float(sps.norm.ppf(1 - alpha / (2 * tests)))


def assert_unbiased(samples: np.ndarray, x: np.ndarray, rel_var: Callable[[np.ndarray], np.ndarray],
                    alpha: float = ALPHA) -> None:
    """z-test per entry of ``E Q(x)_j / x_j = 1``, with the exact relative variance ``rel_var(x)_j =
    Var Q(x)_j / x_j²`` of one sample (no squares of tiny ``x_j``, so no underflow).  Entries with ``x_j = 0``
    must be 0, entries with relative variance 0 must be exact up to rounding.

    ``samples``: (K, d), ``x``: (d,).
    """
    K = samples.shape[0]
    zero = x == 0
    np.testing.assert_array_equal(samples[:, zero], 0.0)
    ratio = samples[:, ~zero] / x[~zero]
    rel = rel_var(x)[~zero]
    exact = rel == 0
    np.testing.assert_allclose(ratio[:, exact], 1.0, rtol=1e-12)
    z = np.abs(ratio[:, ~exact].mean(axis=0) - 1) / np.sqrt(rel[~exact] / K)
    assert z.max(initial=0.0) < z_crit(alpha, max(1, int((~exact).sum()))), (ratio.mean(axis=0), x)


def rand_k_rel_var(k: int) -> Callable[[np.ndarray], np.ndarray]:
    """Exact relative variance ``d/k − 1`` of each entry of rand-k."""
    return lambda x: np.full(x.shape, x.size / k - 1)


def dither_levels(x: np.ndarray, s: int) -> np.ndarray:
    """``s|x_j|/‖x‖``, computed on ``x / max|x_j|`` (no underflow)."""
    u = x / np.abs(x).max()
    return s * np.abs(u) / np.linalg.norm(u)


def dither_ratio(x: np.ndarray, s: int) -> float:
    r"""Exact ``E‖Q(x) − x‖² / ‖x‖² = (1/s²) Σ_j ρ_j(1 − ρ_j)`` for random dithering, ``ρ_j`` the fractional
    part of ``s|x_j|/‖x‖``."""
    level = dither_levels(x, s)
    rho = level - np.floor(level)
    return float(np.sum(rho * (1 - rho)) / s**2)


def dither_rel_var(s: int) -> Callable[[np.ndarray], np.ndarray]:
    """Exact relative variance ``(‖x‖/(s x_j))² ρ_j(1 − ρ_j) = ρ_j(1 − ρ_j)/ℓ_j²`` of random dithering."""

    def rel(x: np.ndarray) -> np.ndarray:
        level = dither_levels(x, s)
        rho = level - np.floor(level)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(level > 0, rho * (1 - rho) / level**2, 0.0)

    return rel


# ----------------------------------------------------------------------------------------------------
# Registry and bad input
# ----------------------------------------------------------------------------------------------------


def test_specs_build_the_right_compressors() -> None:
    assert make_compressor("identity") == Identity()
    assert make_compressor("rand-k:k=4") == RandK(4)
    assert make_compressor("top-k: k=2") == TopK(2)
    assert make_compressor("dither:s=3") == Dither(3)


@pytest.mark.parametrize("spec", ["rand-k:k=0", "top-k:k=0", "dither:s=0", "rand-k:k=-1", "rand-k:k=two",
                                  "rand-k:k=1.5", "rand-k", "dither", "rand-k:s=2", "identity:k=1",
                                  "randk:k=2", "top-k:k", "", 4])
def test_bad_specs_are_user_errors(spec: object) -> None:
    with pytest.raises(UserError):
        make_compressor(spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "2"])
def test_bad_constructor_values_are_user_errors(bad: object) -> None:
    for cls in (RandK, TopK, Dither):
        with pytest.raises(UserError):
            cls(bad)


@pytest.mark.parametrize("comp", [RandK(7), TopK(7)])
def test_k_larger_than_d_is_a_user_error_naming_k_and_d(comp: RandK | TopK) -> None:
    with pytest.raises(UserError, match=r"k=7.*d=6"):
        comp.validate(6)
    with pytest.raises(UserError, match=r"k=7.*d=6"):
        comp.compress(np.ones((3, 2, 3)), np.random.default_rng(0))
    comp.validate(7)  # k = d is allowed


def test_constants() -> None:
    assert RandK(3).omega(12) == 3.0
    assert RandK(12).omega(12) == 0.0
    assert Dither(1).omega(100) == 10.0  # min(100, 10)
    assert Dither(20).omega(100) == 0.25  # min(0.25, 0.5)
    assert TopK(3).alpha(12) == 0.25
    assert Identity().omega(5) == 0.0 and Identity().alpha(5) == 1.0
    assert RandK(1).unbiased and Dither(1).unbiased and not TopK(1).unbiased
    assert TopK(1).contractive and not RandK(1).contractive and Identity().contractive


# ----------------------------------------------------------------------------------------------------
# Shapes and independence over leading axes
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("comp", [Identity(), RandK(2), Dither(2), TopK(2)])
def test_any_leading_shape_is_kept(comp: object) -> None:
    X = np.random.default_rng(1).standard_normal((3, 4, 2, 3))
    Y = comp.compress(X, np.random.default_rng(2))  # type: ignore[attr-defined]
    assert Y.shape == X.shape and Y.dtype == np.float64
    flat = comp.compress(X.reshape(12, 2, 3), np.random.default_rng(2))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(Y.reshape(12, 2, 3), flat)  # same rows, same draws


@pytest.mark.parametrize("comp", [RandK(2), Dither(1)])
def test_leading_indices_get_independent_randomness(comp: RandK | Dither) -> None:
    """Two leading indices holding the same matrix: P(entry 0 nonzero in both) = P(nonzero)² if independent
    (a shared draw would give P(nonzero))."""
    rng = np.random.default_rng(3)
    x = np.full((2, 3), 1.0)  # d = 6: rand-k keeps entry 0 w.p. 1/3; dither (s=1) rounds it up w.p. 1/sqrt(6)
    K = 40_000
    Y = comp.compress(np.broadcast_to(x, (K, 2, 2, 3)), rng)
    nz = Y[..., 0, 0] != 0  # (K, 2)
    prob = 2 / 6 if isinstance(comp, RandK) else 1 / math.sqrt(6)
    both = nz.all(axis=1).mean()
    assert abs(both - prob**2) < z_crit(ALPHA) * math.sqrt(prob**2 * (1 - prob**2) / K)


# ----------------------------------------------------------------------------------------------------
# rand-k: unbiased, omega = d/k − 1 exactly
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n", "k"), [(1, 1, 1), (2, 3, 1), (2, 3, 4), (4, 5, 7), (3, 4, 12)])
def test_rand_k_is_unbiased_with_omega_exact(m: int, n: int, k: int) -> None:
    rng = np.random.default_rng(10 * m + n + k)
    d, K = m * n, 20_000
    x = rng.standard_normal((m, n)) * rng.uniform(0.1, 10, (m, n))
    Q = RandK(k).compress(np.broadcast_to(x, (K, m, n)), rng).reshape(K, d)
    xf = x.ravel()
    # structure: exactly k entries kept, each equal to x_j d/k
    kept = Q != 0
    assert (kept.sum(axis=1) == k).all()
    np.testing.assert_allclose(Q[kept], np.broadcast_to(xf * d / k, Q.shape)[kept], rtol=1e-15)
    assert_unbiased(Q, xf, rand_k_rel_var(k))
    ratio = ((Q - xf) ** 2).sum(axis=1) / (xf**2).sum()
    omega = RandK(k).omega(d)
    if omega == 0:
        np.testing.assert_allclose(ratio, 0.0, atol=1e-15)
        return
    b = stats.mean_bounds(ratio[:, None], ALPHA / 2)
    assert b.lower[0] <= omega <= b.upper[0], (b.lower, b.upper, omega)


def test_rand_k_variance_test_detects_a_wrong_scale() -> None:
    """Control: the same CI rejects ``omega`` for a compressor scaled by (d/k)·1.05 (biased, larger variance)."""
    rng = np.random.default_rng(5)
    m, n, k, K = 3, 4, 3, 20_000
    x = rng.standard_normal((m, n))
    Q = 1.05 * RandK(k).compress(np.broadcast_to(x, (K, m, n)), rng).reshape(K, -1)
    ratio = ((Q - x.ravel()) ** 2).sum(axis=1) / (x**2).sum()
    b = stats.mean_bounds(ratio[:, None], ALPHA / 2)
    assert not b.lower[0] <= RandK(k).omega(m * n) <= b.upper[0]


# ----------------------------------------------------------------------------------------------------
# dither: unbiased, E‖Q − x‖² = (‖x‖²/s²) Σ ρ(1−ρ) <= min(d/s², sqrt(d)/s) ‖x‖²
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n", "s"), [(1, 1, 1), (2, 3, 1), (2, 3, 2), (4, 5, 3), (10, 10, 1), (2, 2, 5)])
def test_dither_is_unbiased_with_variance_below_omega(m: int, n: int, s: int) -> None:
    rng = np.random.default_rng(100 * m + 10 * n + s)
    d, K = m * n, 20_000
    if (m, n) == (10, 10):
        # near the worst case of the sqrt(d)/s branch: equal magnitudes, s|x_j|/‖x‖ = 1/sqrt(d) = 0.1,
        # so E‖Q − x‖²/‖x‖² = d·0.1·0.9 = 9 against omega = 10
        x = rng.choice([-2.0, 2.0], (m, n))
    else:
        x = rng.standard_normal((m, n)) * rng.uniform(0.1, 10, (m, n))
    xf = x.ravel()
    Q = Dither(s).compress(np.broadcast_to(x, (K, m, n)), rng).reshape(K, d)
    # structure: each entry is ‖x‖ sign(x_j) l / s with l = floor or ceil of s|x_j|/‖x‖
    level = np.abs(Q) * s / np.linalg.norm(xf)
    lo = np.floor(s * np.abs(xf) / np.linalg.norm(xf))
    assert np.all((np.abs(level - lo) < 1e-9) | (np.abs(level - lo - 1) < 1e-9))
    assert np.all((Q == 0) | (np.sign(Q) == np.sign(xf)))
    assert_unbiased(Q, xf, dither_rel_var(s))
    ratio = ((Q - xf) ** 2).sum(axis=1) / (xf**2).sum()
    exact, omega = dither_ratio(xf, s), Dither(s).omega(d)
    assert exact <= omega
    if exact == 0:
        np.testing.assert_allclose(ratio, 0.0, atol=1e-12)
        return
    two = stats.mean_bounds(ratio[:, None], ALPHA / 2)
    assert two.lower[0] <= exact <= two.upper[0]  # the exact variance formula
    assert stats.mean_bounds(ratio[:, None], ALPHA).lower[0] <= omega  # one-sided: not above omega
    if (m, n) == (10, 10):
        assert exact > 0.89 * omega and two.lower[0] > 0.85 * omega  # the bound is nearly attained


def test_dither_of_zero_is_zero() -> None:
    Q = Dither(2).compress(np.zeros((5, 2, 3)), np.random.default_rng(0))
    np.testing.assert_array_equal(Q, 0.0)


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_dither_is_scale_equivariant_without_underflow_or_overflow(scale: float) -> None:
    """``Q(c x) = c Q(x)`` for the same draws, also where ``x_j²`` under- or overflows."""
    x = np.random.default_rng(7).standard_normal((6, 2, 3))
    Q1 = Dither(3).compress(x, np.random.default_rng(8))
    Qc = Dither(3).compress(scale * x, np.random.default_rng(8))
    np.testing.assert_allclose(Qc, scale * Q1, rtol=1e-12)


# ----------------------------------------------------------------------------------------------------
# top-k: deterministic, ‖C(x) − x‖² <= (1 − k/d)‖x‖² with equality when all |x_j| are equal
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n", "k"), [(1, 1, 1), (2, 3, 1), (2, 3, 5), (4, 4, 16)])
def test_top_k_equality_case(m: int, n: int, k: int) -> None:
    rng = np.random.default_rng(m + n + k)
    x = 3.0 * rng.choice([-1.0, 1.0], (4, m, n))
    C = TopK(k).compress(x, rng)
    assert ((C != 0).reshape(4, -1).sum(axis=1) == k).all()
    np.testing.assert_allclose(((C - x) ** 2).sum(axis=(1, 2)), (1 - TopK(k).alpha(m * n)) * (x**2).sum(axis=(1, 2)),
                               rtol=1e-14)


def test_top_k_keeps_the_largest() -> None:
    x = np.array([[[0.5, -3.0, 1.0], [2.0, -0.1, 0.0]]])
    np.testing.assert_array_equal(TopK(2).compress(x, np.random.default_rng(0)), [[[0, -3.0, 0], [2.0, 0, 0]]])


# ----------------------------------------------------------------------------------------------------
# Property tests over random X from hypothesis
# ----------------------------------------------------------------------------------------------------

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False)


@st.composite
def matrix_and_k(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(arrays(np.float64, (m, n), elements=finite))
    return x, draw(st.integers(1, m * n))


@settings(max_examples=200, deadline=None)
@given(matrix_and_k())
def test_top_k_contracts_and_keeps_the_largest_entries(case: tuple[np.ndarray, int]) -> None:
    x, k = case
    d = x.size
    C = TopK(k).compress(x[None], np.random.default_rng(0))[0]
    kept = np.zeros(d, dtype=bool)
    kept[np.flatnonzero(C.ravel() == x.ravel())] = True
    assert np.all((C.ravel() == 0) | kept) and kept.sum() >= k
    dropped = C.ravel() != x.ravel()
    if dropped.any() and k < d:
        assert np.abs(x.ravel()[dropped]).max() <= np.sort(np.abs(x.ravel()))[::-1][k - 1]
    assert ((C - x) ** 2).sum() <= (1 - k / d) * (x**2).sum() * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(matrix_and_k(), st.integers(1, 6))
def test_dither_variance_formula_is_below_omega(case: tuple[np.ndarray, int], s: int) -> None:
    """Lemma 3.1 of Alistarh et al. (2017), checked on the exact variance at arbitrary x."""
    x, _ = case
    if not np.any(x):
        return
    assert dither_ratio(x.ravel(), s) <= Dither(s).omega(x.size) * (1 + 1e-12)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(matrix_and_k(), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_rand_k_and_dither_are_unbiased_at_random_x(case: tuple[np.ndarray, int], s: int, seed: int) -> None:
    x, k = case
    if not np.any(x):
        return
    rng = np.random.default_rng(seed)
    K, d, xf = 4000, x.size, x.ravel()
    batch = np.broadcast_to(x, (K, *x.shape))
    assert_unbiased(RandK(k).compress(batch, rng).reshape(K, d), xf, rand_k_rel_var(k), alpha=1e-6)
    assert_unbiased(Dither(s).compress(batch, rng).reshape(K, d), xf, dither_rel_var(s), alpha=1e-6)
