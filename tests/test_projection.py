"""Tests of the projections, the Bernoulli step direction and the Monte-Carlo estimates of E[H]."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from verify import sketch
from verify.errors import UserError
from verify.projection import (
    RANK_RTOL,
    BernoulliProjector,
    estimate_expected_projection,
    estimate_lambda_p,
    orthonormal_basis,
    project_left,
    project_right,
)

ALPHA = 1e-4  # significance level of the statistical tests below (false alarm rate per test)
GAUSSIAN = sketch.make("gaussian")
SCALED = sketch.make("scaled-gaussian")


def pinv_projection(S: np.ndarray) -> np.ndarray:
    """The literal formula ``S (SᵀS)^† Sᵀ`` of one ``d×r`` sketch (test reference, not for production)."""
    return S @ np.linalg.pinv(S.T @ S, rtol=1e-11) @ S.T


# ----------------------------------------------------------------------------------------------------
# orthonormal_basis: property tests, including rank-deficient sketches
# ----------------------------------------------------------------------------------------------------


@st.composite
def sketch_batch(draw: st.DrawFn) -> tuple[np.ndarray, list[int]]:
    """A batch ``(R, d, r)`` of sketches of mixed structure, with the rank of each one.

    Kinds: full Gaussian; a product ``C D`` with inner dimension ``k < r``; repeated (rescaled) columns;
    zero columns; the zero matrix.  Each is multiplied by ``10^e``, ``|e| <= 6``.
    """
    d = draw(st.integers(1, 8))
    r = draw(st.integers(1, 7))  # r > d happens too
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mats, ranks = [], []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["full", "product", "repeated", "zero-columns", "zero"]))
        j = draw(st.integers(1, max(1, r - 1)))  # number of independent directions put in (< r if r > 1)
        if kind == "full":
            S, rank = rng.standard_normal((d, r)), min(d, r)
        elif kind == "product":
            S, rank = rng.standard_normal((d, j)) @ rng.standard_normal((j, r)), min(d, j)
        elif kind == "repeated":
            base = rng.standard_normal((d, j))
            extra = base[:, rng.integers(0, j, r - j)] * rng.uniform(-3, 3, r - j)
            S, rank = rng.permutation(np.hstack([base, extra]), axis=1), min(d, j)
        elif kind == "zero-columns":
            S = rng.permutation(np.hstack([rng.standard_normal((d, j)), np.zeros((d, r - j))]), axis=1)
            rank = min(d, j)
        else:
            S, rank = np.zeros((d, r)), 0
        S = S * 10.0 ** draw(st.integers(-6, 6))
        if rank:  # keep the non-zero part well conditioned, so "rank" is unambiguous
            s = np.linalg.svd(S, compute_uv=False)
            assume(s[rank - 1] > 1e-3 * s[0])
        mats.append(S)
        ranks.append(rank)
    return np.stack(mats), ranks


@settings(max_examples=300, deadline=None)
@given(sketch_batch())
def test_orthonormal_basis_gives_the_projection_onto_the_column_space(batch) -> None:
    S, ranks = batch
    Q = orthonormal_basis(S)
    assert Q.shape == S.shape
    for S_i, Q_i, rank in zip(S, Q, ranks, strict=True):
        H = Q_i @ Q_i.T
        assert np.allclose(H, H.T, atol=1e-12)
        assert np.allclose(H @ H, H, atol=1e-10)
        assert np.linalg.matrix_rank(S_i, rtol=1e-8) == rank
        assert abs(np.trace(H) - rank) < 1e-9
        assert np.allclose(H @ S_i, S_i, atol=1e-9 * max(np.abs(S_i).max(), 1e-300))
        assert np.allclose(H, pinv_projection(S_i), atol=1e-8)
        # columns are orthonormal or exactly zero
        gram = Q_i.T @ Q_i
        norms = np.diag(gram)
        assert np.allclose(gram, np.diag(norms), atol=1e-10)
        assert np.all((np.abs(norms - 1) < 1e-10) | (norms == 0)) and int(np.round(norms.sum())) == rank


def test_unpivoted_qr_alone_would_be_wrong_and_the_fallback_fixes_it() -> None:
    x = np.array([[1.0], [2.0], [3.0]])
    S = np.stack([np.hstack([x, 2 * x]), np.eye(3)[:, :2]])  # rank 1 (repeated column), rank 2
    assert np.trace(np.linalg.qr(S[0])[0] @ np.linalg.qr(S[0])[0].T) == pytest.approx(2)  # the bug
    Q = orthonormal_basis(S)
    assert np.allclose(Q[0] @ Q[0].T, x @ x.T / 14)
    assert np.allclose(Q[1] @ Q[1].T, np.diag([1.0, 1.0, 0.0]))


def test_nearly_singular_sketch_whose_r_diagonal_looks_fine_is_caught() -> None:
    """Kahan's matrix: min|R_jj|/max|R_jj| = 0.02, yet σ_min/σ_max = 6e-12 < RANK_RTOL."""
    n, c = 80, 0.3
    K = np.diag(np.sqrt(1 - c * c) ** np.arange(n)) @ (np.eye(n) - c * np.triu(np.ones((n, n)), 1))
    diag = np.abs(np.diag(np.linalg.qr(K)[1]))
    assert diag.min() > 1e-2 * diag.max()
    Q = orthonormal_basis(K[None])[0]
    assert np.trace(Q.T @ Q) == pytest.approx(n - 1)
    assert np.linalg.matrix_rank(K, rtol=RANK_RTOL) == n - 1


def test_project_left_and_right_match_the_pinv_formulas() -> None:
    rng = np.random.default_rng(1)
    m, n, r = 5, 4, 2
    B, A, G = rng.standard_normal((3, m, r)), rng.standard_normal((3, n, r)), rng.standard_normal((3, m, n))
    left = project_left(orthonormal_basis(B), G)
    right = project_right(orthonormal_basis(A), G)
    for i in range(3):
        assert np.allclose(left[i], pinv_projection(B[i]) @ G[i], atol=1e-12)
        assert np.allclose(right[i], G[i] @ pinv_projection(A[i]), atol=1e-12)


# ----------------------------------------------------------------------------------------------------
# BernoulliProjector
# ----------------------------------------------------------------------------------------------------


def test_apply_is_h_b_g_on_left_runs_and_g_h_a_on_right_runs() -> None:
    rng = np.random.default_rng(2)
    R, m, n, r = 300, 6, 4, 3
    proj = BernoulliProjector(0.5, r, sketch.make("coordinates-wr"), GAUSSIAN)  # rank-deficient left
    draw = proj.draw(rng, R, m, n)
    G = rng.standard_normal((R, m, n))
    G_hat = proj.apply(draw, G)
    assert 0 < draw.left.sum() < R
    assert draw.B_S.shape == (draw.left.sum(), m, r) and draw.A_S.shape == (R - draw.left.sum(), r, n)
    assert any(np.linalg.matrix_rank(B) < r for B in draw.B_S)
    i_left = i_right = 0
    for i in range(R):
        if draw.left[i]:
            B_S = draw.B_S[i_left]
            expected = B_S @ np.linalg.pinv(B_S.T @ B_S) @ B_S.T @ G[i]
            i_left += 1
        else:
            A_S = draw.A_S[i_right]
            expected = G[i] @ A_S.T @ np.linalg.pinv(A_S @ A_S.T) @ A_S
            i_right += 1
        assert np.allclose(G_hat[i], expected, atol=1e-12)


def test_draw_order_is_coins_then_left_then_right() -> None:
    R, m, n, r, p = 50, 5, 7, 2, 0.4
    left, right = sketch.make("haar"), sketch.make("rademacher")
    draw = BernoulliProjector(p, r, left, right).draw(np.random.default_rng(3), R, m, n)
    rng = np.random.default_rng(3)
    coins = rng.random(R) < p
    B_S = left.sample(rng, int(coins.sum()), m, r)
    A_S = right.sample(rng, R - int(coins.sum()), n, r)
    assert np.array_equal(draw.left, coins)
    assert np.array_equal(draw.B_S, B_S)
    assert np.array_equal(draw.A_S, A_S.transpose(0, 2, 1))


class AlwaysLeft(BernoulliProjector):
    """A deliberately broken projector that forgets the Bernoulli draw."""

    def coins(self, rng: np.random.Generator, R: int) -> np.ndarray:
        return np.ones(R, dtype=bool)


class SwappedCoin(BernoulliProjector):
    """A deliberately broken projector that uses p as the probability of the RIGHT sketch."""

    def coins(self, rng: np.random.Generator, R: int) -> np.ndarray:
        return rng.random(R) >= self.p


@pytest.mark.parametrize(
    ("cls", "should_pass"), [(BernoulliProjector, True), (AlwaysLeft, False), (SwappedCoin, False)]
)
def test_left_frequency_is_p(cls: type[BernoulliProjector], should_pass: bool) -> None:
    R, p = 20000, 0.3
    draw = cls(p, 1, GAUSSIAN, GAUSSIAN).draw(np.random.default_rng(4), R, 3, 3)
    assert (stats.binomtest(int(draw.left.sum()), R, p).pvalue > ALPHA) == should_pass


@pytest.mark.parametrize(("p", "all_left"), [(1.0, True), (0, False)])
def test_p_one_is_all_left_and_p_zero_all_right(p: float, all_left: bool) -> None:
    rng = np.random.default_rng(5)
    proj = BernoulliProjector(p, 2, GAUSSIAN, GAUSSIAN)
    draw = proj.draw(rng, 500, 4, 3)
    assert np.all(draw.left == all_left)
    assert (len(draw.Q_B), len(draw.Q_A)) == ((500, 0) if all_left else (0, 500))
    G = rng.standard_normal((500, 4, 3))
    G_hat = proj.apply(draw, G)
    # left projections keep the row space of G's columns in R^4; right ones act on rows in R^3
    H = draw.Q_B @ draw.Q_B.transpose(0, 2, 1) if all_left else draw.Q_A @ draw.Q_A.transpose(0, 2, 1)
    assert np.allclose(G_hat, H @ G if all_left else G @ H)


def test_lambda_closed_form() -> None:
    m, n, r, p = 8, 5, 2, 0.3
    assert BernoulliProjector(p, r, GAUSSIAN, GAUSSIAN).lambda_closed_form(m, n) == pytest.approx(
        (p * r / m + (1 - p) * r / n,) * 2
    )
    # m = n: no dependence on p
    assert BernoulliProjector(0.9, 3, GAUSSIAN, GAUSSIAN).lambda_closed_form(6, 6) == pytest.approx(
        (0.5, 0.5)
    )
    assert BernoulliProjector(p, r, GAUSSIAN, SCALED).lambda_closed_form(m, n) is None
    assert BernoulliProjector(1, r, GAUSSIAN, SCALED).lambda_closed_form(m, n) == pytest.approx((r / m,) * 2)
    assert BernoulliProjector(0, r, SCALED, GAUSSIAN).lambda_closed_form(m, n) == pytest.approx((r / n,) * 2)
    degenerate = sketch.make("degenerate")
    assert BernoulliProjector(p, r, degenerate, GAUSSIAN).lambda_closed_form(m, n) == pytest.approx(
        ((1 - p) * r / n, p + (1 - p) * r / n)
    )
    # metamorphic: transpose the problem and swap p <-> 1 - p
    cw = sketch.make("coordinates-wr")
    assert BernoulliProjector(p, r, cw, degenerate).lambda_closed_form(m, n) == pytest.approx(
        BernoulliProjector(1 - p, r, degenerate, cw).lambda_closed_form(n, m)
    )


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5"])
def test_bad_p_is_a_user_error(p: float) -> None:
    with pytest.raises(UserError, match="p=.*0 <= p <= 1"):
        BernoulliProjector(p, 2, GAUSSIAN, GAUSSIAN)
    with pytest.raises(UserError, match="p="):
        estimate_lambda_p(GAUSSIAN, GAUSSIAN, 4, 4, 2, p, 100, np.random.default_rng(0))


@pytest.mark.parametrize(("r", "m", "n"), [(0, 4, 4), (5, 4, 6), (5, 6, 4), (2.5, 4, 4)])
def test_bad_rank_is_a_user_error(r: int, m: int, n: int) -> None:
    with pytest.raises(UserError, match="r="):
        BernoulliProjector(0.5, r, GAUSSIAN, GAUSSIAN).draw(np.random.default_rng(0), 3, m, n)
    with pytest.raises(UserError, match="r="):
        estimate_lambda_p(GAUSSIAN, GAUSSIAN, m, n, r, 0.5, 100, np.random.default_rng(0))


@pytest.mark.parametrize(("samples", "delta"), [(0, 0.1), (10, 0.0), (10, 1.0), (10.5, 0.1)])
def test_bad_monte_carlo_settings_are_user_errors(samples: int, delta: float) -> None:
    with pytest.raises(UserError, match="samples=|delta="):
        estimate_expected_projection(GAUSSIAN, 4, 2, samples, np.random.default_rng(0), delta)


# ----------------------------------------------------------------------------------------------------
# Monte-Carlo estimates of E[H], lambda_min^p and lambda_max^p
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gaussian", "haar", "coordinates", "coordinates-wr"])
@pytest.mark.parametrize(("m", "n", "r", "p"), [(8, 5, 2, 0.3), (6, 9, 3, 0.7)])
def test_lambda_p_intervals_contain_the_closed_form(name: str, m: int, n: int, r: int, p: float) -> None:
    dist = sketch.make(name)
    est = estimate_lambda_p(dist, dist, m, n, r, p, 20000, np.random.default_rng(6), delta=1e-3)
    lam_min, lam_max = est.closed_form
    assert lam_min == lam_max
    if name != "coordinates-wr":
        assert lam_min == pytest.approx(p * r / m + (1 - p) * r / n)
    assert est.lambda_min_p.contains(lam_min) and est.lambda_max_p.contains(lam_max)
    assert est.lambda_min_p.width < 0.1 and est.lambda_max_p.width < 0.1
    assert est.conservative == (est.lambda_min_p.lower, est.lambda_max_p.upper)
    assert est.left is not None and est.right is not None and est.left.delta == est.right.delta == 5e-4


def test_interval_is_narrow_enough_to_tell_a_wrong_closed_form() -> None:
    """Rademacher, d = 3, r = 2: E[H] = (1.75/3) I, not the Gaussian (2/3) I."""
    est = estimate_expected_projection(sketch.make("rademacher"), 3, 2, 20000, np.random.default_rng(7))
    truth = (2 - 2 ** (1 - 3)) / 3
    assert est.closed_form == pytest.approx((truth, truth))
    assert est.lambda_min.contains(truth) and est.lambda_max.contains(truth)
    assert not est.lambda_max.contains(2 / 3)


def test_width_at_d8_r2() -> None:
    est = estimate_expected_projection(GAUSSIAN, 8, 2, 20000, np.random.default_rng(8), delta=1e-3)
    assert est.lambda_min.width < 0.1 and est.lambda_max.width < 0.1
    assert np.allclose(est.mean, est.mean.T)
    assert np.allclose(est.mean, np.eye(8) / 4, atol=est.radius)
    # the self-consistent variance proxy is between the true one, (1/4)(3/4), and the a-priori 1/4
    assert 0.25 * 0.75 <= est.variance_proxy <= 0.25


def test_coverage_of_the_confidence_interval() -> None:
    """Over many small estimates the interval misses the truth at most a delta fraction of the time."""
    rng = np.random.default_rng(9)
    trials, delta, truth = 300, 0.2, 1 / 4
    misses = 0
    for _ in range(trials):
        est = estimate_expected_projection(GAUSSIAN, 4, 1, 100, rng, delta)
        misses += not (est.lambda_min.contains(truth) and est.lambda_max.contains(truth))
    assert stats.binomtest(misses, trials, delta, alternative="greater").pvalue > ALPHA


def test_degenerate_sketch_has_lambda_min_zero() -> None:
    est = estimate_lambda_p(
        sketch.make("degenerate"), sketch.make("degenerate"), 8, 6, 2, 0.5, 5000, np.random.default_rng(10)
    )
    assert est.lambda_min_p.contains(0.0) and est.lambda_min_p.upper < 0.01
    assert est.lambda_max_p.contains(1.0)
    assert est.closed_form == (0.0, 1.0)


def test_scaled_gaussian_is_not_isotropic() -> None:
    est = estimate_lambda_p(SCALED, SCALED, 8, 5, 2, 0.3, 20000, np.random.default_rng(11))
    assert est.closed_form is None
    assert est.lambda_min_p.upper < est.lambda_max_p.lower


def test_one_sided_p_estimates_only_the_used_side() -> None:
    est = estimate_lambda_p(GAUSSIAN, SCALED, 8, 5, 2, 1.0, 5000, np.random.default_rng(12), delta=1e-3)
    assert est.right is None and est.left is not None and est.left.delta == 1e-3
    assert est.closed_form == pytest.approx((0.25, 0.25))
    assert est.lambda_min_p.contains(0.25)


def test_key_lemma_for_a_non_isotropic_sketch() -> None:
    r"""E‖Ĝ‖² = E⟨G, Ĝ⟩ ∈ [λ_min^p, λ_max^p]·‖G‖², with both ends attained (scaled-gaussian sketches).

    ``E[H]`` is diagonal with the weakest direction last, so ``G = e_m e_nᵀ`` attains ``λ_min^p`` and
    ``G = e_1 e_1ᵀ`` attains ``λ_max^p``.
    """
    m, n, r, p, K = 6, 4, 2, 0.4, 20000
    rng = np.random.default_rng(13)
    lam = estimate_lambda_p(SCALED, SCALED, m, n, r, p, K, rng)
    hoeffding = math.sqrt(math.log(2 / ALPHA) / (2 * K))  # ⟨G, Ĝ⟩/‖G‖² ∈ [0, 1]
    proj = BernoulliProjector(p, r, SCALED, SCALED)
    low, high = np.zeros((m, n)), np.zeros((m, n))
    low[-1, -1] = high[0, 0] = 1.0
    for G, target in [(low, lam.lambda_min_p), (high, lam.lambda_max_p), (rng.standard_normal((m, n)), None)]:
        G_hat = proj.apply(proj.draw(rng, K, m, n), np.broadcast_to(G, (K, m, n)))
        sq = np.sum(G_hat**2, axis=(1, 2))
        inner = np.sum(G * G_hat, axis=(1, 2))
        assert np.allclose(sq, inner, atol=1e-12 * np.sum(G**2))  # per draw: Ĥ is an orthogonal projection
        ratio = inner.mean() / np.sum(G**2)
        assert lam.lambda_min_p.lower - hoeffding <= ratio <= lam.lambda_max_p.upper + hoeffding
        if target is not None:
            assert target.lower - hoeffding <= ratio <= target.upper + hoeffding
    assert lam.lambda_min_p.upper + hoeffding < lam.lambda_max_p.lower - hoeffding
