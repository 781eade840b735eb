"""End-to-end checks: tight instances hold, and every way of breaking the bound or the algorithm is caught."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats as sps

from verify import problems, sketch
from verify.check import CheckSpec, execute, prepare
from verify.errors import UserError
from verify.estimators import FullGradient
from verify.projection import BernoulliProjector, estimate_lambda_p
from verify.runner import Algorithm, run
from verify.seeding import task_seed
from verify.stepsizes import ConstantStep
from verify.suite import BUILTIN

ALPHA = 1e-3
TIGHT = {
    "gd-nc": CheckSpec("gd-nc", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=256, iters=20),
    "gd-pl": CheckSpec("gd-pl", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=256, iters=20),
}


def _run(spec, **kw):
    return execute(prepare(spec), 0, ALPHA, **kw)


@pytest.fixture(scope="module")
def tight_results():
    return {k: _run(s) for k, s in TIGHT.items()}


def test_gd_nc_holds_with_small_slack_on_the_isotropic_quadratic(tight_results):
    res = tight_results["gd-nc"]
    assert res.verdict == "holds"
    lam = 0.5 / 12 + 0.5 / 8
    expected = 1 / (1 - (1 - lam) ** 20)  # the bound is attained up to 1 - (1 - lambda)^T
    assert res.slack < 1.2
    assert res.slack == pytest.approx(expected, rel=0.05)


def test_gd_pl_is_attained_on_the_isotropic_quadratic(tight_results):
    """E_t Phi_{t+1} = (1 - lambda) Phi_t exactly, so E[f(W^T) - f*] equals the bound for every T.

    No sound test can call that "holds"; the check reports the bound as attained (slack interval contains 1).
    """
    res = tight_results["gd-pl"]
    assert res.verdict == "inconclusive" and res.attained
    assert 0.9 < res.slack < 1.2
    assert res.slack_interval[0] <= 1 <= res.slack_interval[1]


@pytest.mark.parametrize("thm_id", sorted(TIGHT))
def test_bound_scale_below_slack_turns_violated(thm_id, tight_results):
    res = _run(dataclasses.replace(TIGHT[thm_id], bound_scale=0.8))
    assert res.verdict == "violated"
    scaled = _run(dataclasses.replace(TIGHT[thm_id], bound_scale=0.9 / tight_results[thm_id].slack))
    assert scaled.verdict == "violated"
    assert scaled.observed_mean == tight_results[thm_id].observed_mean  # same random numbers


def test_builtin_suite_entry_with_small_slack_is_caught_when_scaled():
    spec = next(s for s in BUILTIN if s.theorem == "gd-pl" and s.problem == "least-squares" and s.sketch == "gaussian")
    res = _run(spec)
    assert res.verdict == "holds" and res.slack < 1.3
    assert _run(dataclasses.replace(spec, bound_scale=0.9 / res.slack)).verdict == "violated"


class AlwaysLeft(BernoulliProjector):
    """Broken: forgets the Bernoulli draw and always takes the left sketch."""

    def coins(self, rng, R):
        rng.random(R)
        return np.ones(R, dtype=bool)


class SwappedSides(BernoulliProjector):
    """Broken: the coin's meaning is swapped (the left sketch with probability 1 - p)."""

    def coins(self, rng, R):
        return rng.random(R) >= self.p


@pytest.mark.parametrize("thm_id", ["gd-nc", "gd-pl"])
@pytest.mark.parametrize("broken", [AlwaysLeft, SwappedSides])
def test_broken_algorithm_is_caught(thm_id, broken):
    # m = 12 > n = 8, p = 0.2: lambda = 0.117; always-left gives r/m = 0.083, swapped gives 0.092.
    spec = dataclasses.replace(TIGHT[thm_id], p=0.2)
    prep = prepare(spec)
    assert _run(spec).verdict != "violated"
    bad = Algorithm(FullGradient(), broken(p=0.2, r=1, left=prep.projector.left, right=prep.projector.right),
                    ConstantStep(prep.gamma))
    res = execute(prep, 0, ALPHA, algorithm=bad)
    assert res.verdict == "violated", res.reason


def test_lemma_check_catches_a_one_step_coefficient_too_large():
    """A one-step inequality claiming 10 % more decrease than the truth is refuted at sampled states.

    On the isotropic quadratic the one-step inequality is an equality in expectation, so its decrease
    ratio is 1 and the lemma check is as sensitive as it can be.
    """
    prep = prepare(TIGHT["gd-pl"])
    honest = execute(prep, 0, ALPHA).lemma
    assert honest["verdict"] != "violated" and 0.85 < honest["decrease_ratio"] < 1.15
    thm = prep.theorem
    wrong = dataclasses.replace(thm, one_step=dataclasses.replace(thm.one_step, c=thm.one_step.c * 1.1))
    res = execute(dataclasses.replace(prep, theorem=wrong), 0, ALPHA)
    assert res.lemma["verdict"] == "violated"
    assert res.verdict == "violated" and "one-step" in res.reason


def test_degenerate_sketch_is_not_applicable_and_stalls():
    res = _run(CheckSpec("gd-nc", "isotropic-quadratic", "degenerate", p=0.5, r=2, runs=16, iters=200))
    assert res.verdict == "not_applicable" and not res.applicable
    assert "Assumption 1" in res.reason
    assert res.slack is None
    # the average gradient norm stalls at a positive level instead of decaying like 1/T
    mean = np.asarray(res.curve["mean"])
    assert mean[-1] > 0.1 * mean[len(mean) // 2]


def test_estimated_lambda_uses_the_conservative_end():
    prep = prepare(CheckSpec("gd-nc", "least-squares", "scaled-gaussian", p=0.3, r=2))
    assert prep.lambda_estimated
    lam_min, lam_max = prep.constants["lambda_min_p"].value, prep.constants["lambda_max_p"].value
    assert 0 < lam_min < lam_max <= 1
    assert "conservative" in prep.constants["lambda_min_p"].how
    # the value is the interval's conservative end, not its point estimate (same random numbers as prepare)
    spec = prep.spec
    est = estimate_lambda_p(prep.projector.left, prep.projector.right, *prep.problem.shape, spec.r, spec.p,
                            spec.lambda_samples, np.random.default_rng(task_seed(0, spec.key())), 1e-4)
    assert lam_min == est.lambda_min_p.lower < est.lambda_min_p.estimate
    assert lam_max == est.lambda_max_p.upper > est.lambda_max_p.estimate


def test_transpose_and_swap_p_gives_the_same_distribution():
    """Metamorphic: f(W) on m x n with p  ==  f(V^T) on n x m with 1 - p, in distribution.

    Positive control: without swapping p the two differ (the least-squares curvature is one-sided and
    m != n), so the test has power.
    """
    prob = problems.make("least-squares")
    L = prob.constants["L"].value
    gauss = sketch.make("gaussian")

    def finals(pr, p, seed):
        algo = Algorithm(FullGradient(), BernoulliProjector(p=p, r=2, left=gauss, right=gauss), ConstantStep(1 / L))
        return run(pr, algo, 2000, 15, np.random.default_rng(seed)).f[:, [5, 15]]

    a = finals(prob, 0.2, 1)
    b = finals(problems.transpose(prob), 0.8, 2)
    c = finals(problems.transpose(prob), 0.2, 3)
    for k in range(2):
        assert sps.ttest_ind(a[:, k], b[:, k], equal_var=False).pvalue > 1e-3
        assert sps.ks_2samp(a[:, k], b[:, k]).pvalue > 1e-3
    assert sps.ttest_ind(a[:, 1], c[:, 1], equal_var=False).pvalue < 1e-6


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"theorem": "gd-xx"}, "unknown theorem"),
        ({"problem": "no-such-problem"}, "no-such-problem"),
        ({"r": 0}, "r = 0"),
        ({"r": 9}, "r = 9"),
        ({"p": 1.5}, "p = 1.5"),
        ({"gamma_factor": 1.5}, "stepsize condition"),
        ({"runs": 1}, "seeds = 1"),
        ({"theorem": "gd-pl", "problem": "nonconvex-reg"}, "mu"),
    ],
)
def test_bad_input_is_a_user_error(changes, match):
    with pytest.raises(UserError, match=match):
        prepare(dataclasses.replace(TIGHT["gd-nc"], **changes))


def test_outside_conditions_on_request_is_marked():
    prep = prepare(dataclasses.replace(TIGHT["gd-nc"], gamma_factor=1.5, outside_conditions=True))
    assert not prep.conditions_met and prep.gamma == pytest.approx(1.5 * prep.gamma_max)
