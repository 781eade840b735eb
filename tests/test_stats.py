"""Confidence bounds, verdict rules and slack."""

from __future__ import annotations

import numpy as np
import pytest

from verify import stats


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
