"""Tests of the sketch distributions: shapes, laws, closed forms of E[H], registry and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from verify import sketch
from verify.errors import UserError

ALPHA = 1e-4  # significance level of the statistical tests below (false alarm rate per test)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20250805)


def test_registry_lists_the_built_ins_default_first() -> None:
    assert sketch.names()[0] == sketch.DEFAULT == "gaussian"
    assert set(sketch.names()) == {
        "gaussian",
        "rademacher",
        "haar",
        "coordinates",
        "coordinates-wr",
        "scaled-gaussian",
        "degenerate",
    }
    for name in sketch.names():
        dist = sketch.make(name)
        assert dist.name == name
        assert isinstance(dist, sketch.SketchDistribution)
        line = dist.describe()
        assert line.startswith(name + ":") and "\n" not in line and "E[H]" in line


def test_unknown_name_is_a_user_error_listing_the_names() -> None:
    with pytest.raises(UserError, match="'gauss'.*gaussian, rademacher"):
        sketch.make("gauss")


@pytest.mark.parametrize("name", sketch.names())
@pytest.mark.parametrize(("d", "r"), [(5, 0), (5, 6), (3, -1)])
def test_bad_rank_is_a_user_error(name: str, d: int, r: int) -> None:
    dist = sketch.make(name)
    with pytest.raises(UserError, match=f"r={r}.*d = {d}"):
        dist.sample(np.random.default_rng(0), 4, d, r)
    with pytest.raises(UserError, match=f"r={r}"):
        dist.expected_projection_eigs(d, r)


def test_non_integer_rank_and_negative_count_are_user_errors(rng: np.random.Generator) -> None:
    with pytest.raises(UserError, match="r=2.0"):
        sketch.make("gaussian").sample(rng, 4, 5, 2.0)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="R=-1"):
        sketch.make("gaussian").sample(rng, -1, 5, 2)


@pytest.mark.parametrize("name", sketch.names())
def test_sample_shape_reproducibility_and_no_global_state(name: str) -> None:
    dist = sketch.make(name)
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (checks the legacy global state is untouched)
    a = dist.sample(np.random.default_rng(7), 6, 5, 3)
    b = dist.sample(np.random.default_rng(7), 6, 5, 3)
    c = dist.sample(np.random.default_rng(8), 6, 5, 3)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert a.shape == (6, 5, 3) and a.dtype == np.float64
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)  # every distribution is random (degenerate: its basis Z)
    assert dist.sample(np.random.default_rng(7), 0, 5, 3).shape == (0, 5, 3)


@pytest.mark.parametrize(
    ("name", "d", "r", "expected"),
    [
        ("gaussian", 7, 2, 2 / 7),
        ("haar", 7, 7, 1.0),
        ("coordinates", 6, 4, 4 / 6),
        ("coordinates-wr", 4, 3, 1 - (3 / 4) ** 3),
        ("rademacher", 5, 1, 1 / 5),
        ("rademacher", 3, 2, (2 - 1 / 4) / 3),
    ],
)
def test_isotropic_closed_forms(name: str, d: int, r: int, expected: float) -> None:
    assert sketch.make(name).expected_projection_eigs(d, r) == pytest.approx((expected, expected), abs=1e-15)


def test_closed_forms_that_are_unknown_or_degenerate() -> None:
    assert sketch.make("rademacher").expected_projection_eigs(6, 3) is None
    assert sketch.make("scaled-gaussian").expected_projection_eigs(6, 2) is None
    assert sketch.make("degenerate").expected_projection_eigs(6, 2) == (0.0, 1.0)
    assert sketch.make("degenerate").expected_projection_eigs(3, 3) == (1.0, 1.0)


def test_haar_columns_are_orthonormal_and_sign_symmetric(rng: np.random.Generator) -> None:
    S = sketch.make("haar").sample(rng, 4000, 6, 3)
    assert np.allclose(S.transpose(0, 2, 1) @ S, np.eye(3), atol=1e-12)
    # Haar measure is invariant under S -> -S row-wise; LAPACK's Q without the sign fix has S[0, 0] < 0.
    positives = int((S[:, 0, 0] > 0).sum())
    assert stats.binomtest(positives, 4000, 0.5).pvalue > ALPHA
    # and |S[0, 0]|² ~ Beta(1/2, (d-1)/2) for a uniform unit vector in R^6: mean 1/6
    assert abs(np.mean(S[:, 0, 0] ** 2) - 1 / 6) < 0.02


def test_coordinates_are_distinct_unit_vectors_chosen_uniformly(rng: np.random.Generator) -> None:
    R, d, r = 6000, 5, 2
    S = sketch.make("coordinates").sample(rng, R, d, r)
    assert set(np.unique(S)) == {0.0, 1.0}
    assert np.all(S.sum(axis=1) == 1)  # every column is a coordinate vector
    assert np.all(S.sum(axis=2).max(axis=1) == 1)  # no coordinate twice: rank r
    counts = S.sum(axis=(0, 2))
    assert stats.chisquare(counts).pvalue > ALPHA
    # uniform over the C(5, 2) = 10 unordered pairs
    pair = np.sort(S.argmax(axis=1), axis=1) @ np.array([d, 1])
    assert stats.chisquare(np.unique(pair, return_counts=True)[1]).pvalue > ALPHA
    assert len(np.unique(pair)) == 10


def test_coordinates_with_replacement_repeat_at_the_birthday_rate(rng: np.random.Generator) -> None:
    R, d, r = 6000, 4, 3
    S = sketch.make("coordinates-wr").sample(rng, R, d, r)
    assert np.all(S.sum(axis=1) == 1)
    rank = np.linalg.matrix_rank(S)
    full = int((rank == r).sum())
    p_distinct = (4 * 3 * 2) / 4**3
    assert stats.binomtest(full, R, p_distinct).pvalue > ALPHA
    # the closed form is E rank / d: check the mean rank against it
    assert abs(rank.mean() / d - sketch.make("coordinates-wr").expected_projection_eigs(d, r)[0]) < 0.02


def test_rademacher_is_pm_one_and_rank_deficient_at_rate_two_to_the_one_minus_d(
    rng: np.random.Generator,
) -> None:
    R, d = 8000, 3
    S = sketch.make("rademacher").sample(rng, R, d, 2)
    assert set(np.unique(S)) == {-1.0, 1.0}
    deficient = int((np.linalg.matrix_rank(S) < 2).sum())
    assert stats.binomtest(deficient, R, 2.0 ** (1 - d)).pvalue > ALPHA


def test_scaled_gaussian_row_scales(rng: np.random.Generator) -> None:
    S = sketch.make("scaled-gaussian").sample(rng, 20000, 4, 1)
    std = S[:, :, 0].std(axis=0)
    assert np.allclose(std, [1.0, 0.75, 0.5, 0.25], rtol=0.03)


def test_degenerate_spans_the_first_r_coordinates(rng: np.random.Generator) -> None:
    S = sketch.make("degenerate").sample(rng, 50, 6, 2)
    assert np.all(S[:, 2:, :] == 0)
    assert np.all(np.linalg.matrix_rank(S) == 2)
