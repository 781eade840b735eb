"""Confidence bounds, verdict rules and slack."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from verify import stats
from verify.blocks import Moments


def test_verdict_rules():
    rng = np.random.default_rng(0)
    X = 1.0 + 0.01 * rng.standard_normal((400, 3))
    b = stats.mean_bounds(X, 1e-3)
    assert stats.decide(b, np.full(3, 1.2)).verdict == "holds"
    assert stats.decide(b, np.full(3, 0.9)).verdict == "violated"
    assert stats.decide(b, np.full(3, 1.0)).verdict == "inconclusive"  # attained bound
    v = stats.decide(b, np.array([1.2, 0.9, 1.2]))
    assert v.verdict == "violated" and v.index == 1


def test_deterministic_attained_bound_is_not_flagged():
    X = np.full((10, 2), 0.1 + 0.2)  # rounding: 0.30000000000000004
    assert stats.decide(stats.mean_bounds(X, 1e-3), np.full(2, 0.3)).verdict == "holds"
    assert stats.decide(stats.mean_bounds(X, 1e-3), np.full(2, 0.3 * (1 - 1e-6))).verdict == "violated"


def test_false_violation_rate_is_controlled_for_skewed_data():
    """Data whose mean equals the bound: a violated verdict is a false alarm; its rate must be <= alpha."""
    rng = np.random.default_rng(1)
    alpha, trials = 0.05, 2000
    X = rng.lognormal(0.0, 1.0, size=(trials, 64, 1))
    true_mean = np.exp(0.5)
    false_alarms = sum(stats.decide(stats.mean_bounds(x, alpha), np.array([true_mean])).verdict == "violated"
                       for x in X)
    assert false_alarms / trials <= alpha


def test_slack_and_interval():
    X = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    s = stats.slack(stats.mean_bounds(X, 1e-3), np.array([5.0, 3.0]))
    assert s.value == pytest.approx(1.5) and s.index == 1
    assert s.interval == (pytest.approx(1.5), pytest.approx(1.5))


def test_first_nonfinite_step():
    X = np.ones((3, 5))
    assert stats.first_nonfinite_step(X) is None
    X[1, 3] = np.nan
    X[2, 4] = np.inf
    assert stats.first_nonfinite_step(X) == 3


def test_log_grid():
    g = stats.log_grid(1000, 20)
    assert g[0] == 1 and g[-1] == 1000 and np.all(np.diff(g) > 0)
    assert stats.log_grid(5, 20).tolist() == [1, 2, 3, 4, 5]


def test_mean_bounds_refuses_one_run():
    with pytest.raises(ValueError, match="at least 2"):
        stats.mean_bounds(np.ones((1, 3)), 0.01)


# --- skew-aware bounds (module docstring of verify.stats) ---------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(st.floats(-6, 6), st.floats(-3, 3), st.integers(2, 5000))
def test_hall_inverse_inverts_the_cubic(y, gamma, R):
    a, c = gamma / (3 * np.sqrt(R)), gamma / (6 * np.sqrt(R))
    t = float(stats.hall_inverse(y, np.array([gamma]), R)[0])
    assert t + a * t**2 + a**2 * t**3 / 3 + c == pytest.approx(y, rel=1e-9, abs=1e-9)


def test_symmetric_data_keep_the_student_t_bounds():
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    b = stats.mean_bounds(X, 1e-3)
    half = sps.t.ppf(1 - 1e-3, 4) * X.std(ddof=1) / np.sqrt(5)
    assert b.skewness[0] == 0 and b.lower[0] == pytest.approx(2 - half) and b.upper[0] == pytest.approx(2 + half)


def test_skewness_only_widens_the_bounds():
    """Left skew pushes the lower bound down, right skew the upper bound up; neither side gets narrower."""
    X = 1 - np.random.default_rng(2).beta(0.5, 10, size=(400, 1))
    for data, side in ((X, "lower"), (-X, "upper")):
        b = stats.mean_bounds(data, 1e-4)
        half = sps.t.ppf(1 - 1e-4, 399) * b.std[0] / 20
        plain = {"lower": b.mean[0] - half, "upper": b.mean[0] + half}
        assert abs(getattr(b, side)[0] - b.mean[0]) > 1.1 * half
        other = "upper" if side == "lower" else "lower"
        assert getattr(b, other)[0] == pytest.approx(plain[other], rel=1e-12)


@pytest.mark.parametrize(("R", "alpha"), [(64, 0.01), (400, 1e-3)])
def test_false_violations_of_left_skewed_data_stay_near_alpha(R, alpha):
    """Left-skewed data (one-step draws Φ_t(1 − cos²θ) look like this) whose mean equals the bound: the
    plain t lower bound gives 3.4x alpha (R = 64) and 3.2x (R = 400); the corrected bound stays within
    the Monte-Carlo error of 1.25x alpha and 1.1x alpha."""
    rng = np.random.default_rng(3)
    trials = 40000
    X = 1 - rng.beta(0.5, 10, size=(R, trials))
    b = stats.moment_bounds(Moments.of(X), alpha)
    rate = np.mean(b.lower > 1 - 0.5 / 10.5)
    plain = np.mean(b.mean - sps.t.ppf(1 - alpha, R - 1) * b.std / np.sqrt(R) > 1 - 0.5 / 10.5)
    assert plain > 2.5 * alpha  # the failure this fixes is real at this sample size
    assert rate <= {64: 1.25, 400: 1.1}[R] * alpha + 3 * np.sqrt(alpha / trials)


def test_few_runs_with_left_skew_cannot_say_violated():
    X = np.array([[1.0], [1.0], [1.0], [1.0], [1.0], [1.0], [0.9], [1.0]])  # R = 8, left-skewed
    b = stats.mean_bounds(X, 1e-3)
    v = stats.decide(b, np.array([0.5]))
    assert b.lower[0] > 0.5 and v.verdict == "inconclusive" and "left-skewed" in v.reason
    wide = stats.mean_bounds(np.vstack([X] * 4), 1e-3)  # R = 32: enough runs
    assert stats.decide(wide, np.array([0.5])).verdict == "violated"
    right = stats.mean_bounds(2 - X, 1e-3)  # R = 8, right-skewed: the t bound is conservative there
    assert stats.decide(right, np.array([0.5])).verdict == "violated"
