"""Sensitivity figures (verify/sensitivity.py): what they claim is what the verdict rule does."""

from __future__ import annotations

import numpy as np
import pytest

from verify import stats
from verify.check import CheckSpec, execute, prepare, with_scale
from verify.sensitivity import constant_error, rate_error, rate_slack

T = np.arange(1, 21, dtype=float)


def test_constant_error_is_the_verdict_threshold():
    lower, bound = np.array([0.5, 0.9, 0.2]), np.array([1.0, 1.0, 1.0])
    assert constant_error(lower, bound) == pytest.approx(0.1)
    assert constant_error(np.array([-1.0]), np.array([1.0])) == 1.0
    assert constant_error(np.array([1.0]), np.array([1e-20]), atol=1e-12) is None  # below the floor
    assert constant_error(np.array([2.0]), np.array([1.0])) == 0.0  # already violated


def test_rate_error_of_a_contraction_matches_the_closed_form():
    """B(T) = 0.9^T and lo = 0.95 B: detected iff 0.9^(εT) < 0.95 at T = 20, i.e. ε > ln 0.95 / (20 ln 0.9)."""
    eps = rate_error(0.95 * 0.9**T, T, lambda t: 0.9 ** np.asarray(t, dtype=float))
    assert eps == pytest.approx(np.log(0.95) / (20 * np.log(0.9)), rel=1e-4)
    # lo = 0.1 B needs ε > ln 0.1 / (20 ln 0.9) = 1.09: beyond a factor 2 in the rate
    assert rate_error(0.1 * 0.9**T, T, lambda t: 0.9 ** np.asarray(t, dtype=float)) is None


def test_rate_slack_is_the_ratio_of_log_rates():
    assert rate_slack(0.8**T, 0.9**T, T) == pytest.approx(np.log(0.8) / np.log(0.9))
    assert rate_slack(0.8**T, np.ones_like(T), T) is None  # a bound that does not decrease has no rate


@pytest.fixture(scope="module")
def attained():
    """gd-pl on the isotropic quadratic: E[f(W^T) − f*] = (1 − λ)^T Δ0 exactly, the rate is attained."""
    return prepare(CheckSpec("gd-pl", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=256, iters=20,
                             lemma_states=0))


def test_an_attained_rate_has_rate_slack_one_and_sees_a_rate_error(attained):
    res = execute(attained, 0, 1e-3)
    s = res.sensitivity
    assert s["rate_slack"] == pytest.approx(1.0, abs=0.05)
    assert s["rate"] is not None and s["rate"] < 0.2 and s["constant"] < 0.1


def test_the_constant_figure_is_what_the_check_detects(attained):
    res = execute(attained, 0, 1e-3)
    eps = res.sensitivity["constant"]
    assert execute(prepare(with_scale(attained.spec, (1 - eps) * 0.99)), 0, 1e-3).verdict == "violated"
    assert execute(prepare(with_scale(attained.spec, (1 - eps) * 1.01)), 0, 1e-3).verdict != "violated"
    assert stats.MIN_RUNS_VIOLATED <= attained.spec.runs
