"""Every theorem end to end: its tight instance holds with small slack, and breaking the bound or the
estimator turns the verdict to violated.  Special cases of the algorithm hold in runs too."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from verify import problems
from verify.check import CheckSpec, execute, prepare
from verify.estimators import EF21, PAGE, FullGradient, make_estimator
from verify.runner import Algorithm, run
from verify.suite import TIGHT

ALPHA = 1e-3
#: Slack of each tight instance: the exact slack (bound / exact expectation, deterministic) where the
#: instance has an exact oracle, else the Monte-Carlo slack at root seed 0; a regression here means the
#: bound or the algorithm changed.  The assertion allows 5 % on top (Monte-Carlo movement).
SLACK = {"gd-nc": 1.0, "gd-pl": 1.0, "sgd-nc": 1.01, "sgd-pl": 1.686, "mvr-nc": 1.821, "mvr-pl": 1.581,
         "page-nc": 1.18, "page-pl": 1.042, "qgd-nc": 2.151, "qgd-pl": 1.003, "marina-nc": 1.148,
         "marina-pl": 1.004, "ef21-nc": 1.539, "ef21-pl": 1.184, "ns-const": 1.05, "ns-polyak": 1.52}


def slack_of(res) -> float:
    """The exact slack where the check has one, else its Monte-Carlo slack."""
    return (res.exact or {}).get("slack") or res.slack


@pytest.fixture(scope="module")
def tight():
    return {thm_id: execute(prepare(spec), 0, ALPHA) for thm_id, spec in TIGHT.items()}


@pytest.mark.parametrize("thm_id", sorted(SLACK))
def test_tight_instance_holds_with_small_slack(thm_id, tight):
    res = tight[thm_id]
    assert res.verdict == "holds", res.reason
    assert 1.0 - 1e-9 <= slack_of(res) <= 1.05 * SLACK[thm_id] and slack_of(res) <= 10
    assert res.lemma is not None and "verdict" in res.lemma, res.lemma
    assert res.lemma["verdict"] != "violated"


@pytest.mark.parametrize("thm_id", sorted(SLACK))
def test_bound_scaled_just_below_the_slack_is_violated(thm_id, tight):
    scale = 0.9 / slack_of(tight[thm_id])
    res = execute(prepare(dataclasses.replace(TIGHT[thm_id], bound_scale=scale)), 0, ALPHA)
    assert res.verdict == "violated", res.reason
    assert res.observed_mean == tight[thm_id].observed_mean  # the same random numbers


@dataclasses.dataclass(frozen=True)
class PAGEWithoutCorrection(PAGE):
    """Broken PAGE: on the lazy branch it keeps G^t instead of adding the gradient difference."""

    def update(self, state: Any, problem: Any, W_new, grad_new, W_old, rng):
        G = np.array(grad_new)
        lazy = rng.random(W_new.shape[0]) >= self.q
        G[lazy] = state[lazy]
        return G


@dataclasses.dataclass(frozen=True)
class EF21WithoutFeedback(EF21):
    """Broken EF21: each client sends C(grad f_i) instead of C(grad f_i - g_i) (no error feedback)."""

    def update(self, state: Any, problem: Any, W_new, grad_new, W_old, rng):
        cg_new = problem.client_grads(W_new)
        return self.compressor.compress(cg_new, rng), cg_new


#: PAGE's correction matters where it is accurate: with a large minibatch (b' = 48 = N) the theorem allows
#: gamma near 1/L, and a stale G^t then diverges.  With b' = 4 the correction's own variance term
#: (Lms^2/b') is about as large as the stale error L^2, and the broken method satisfies the bound there.
_PAGE_SHARP = (("q", 0.05), ("batch_prime", 48))


@pytest.mark.parametrize(("thm_id", "params", "broken"), [
    ("page-nc", _PAGE_SHARP, lambda e: PAGEWithoutCorrection(q=e.q, batch_prime=e.batch_prime)),
    ("page-pl", _PAGE_SHARP, lambda e: PAGEWithoutCorrection(q=e.q, batch_prime=e.batch_prime)),
    ("ef21-nc", None, lambda e: EF21WithoutFeedback(compressor=e.compressor)),
    ("ef21-pl", None, lambda e: EF21WithoutFeedback(compressor=e.compressor)),
])
def test_broken_estimator_is_caught(thm_id, params, broken):
    spec = TIGHT[thm_id] if params is None else dataclasses.replace(TIGHT[thm_id], params=params)
    prep = prepare(spec)
    assert execute(prep, 0, ALPHA).verdict == "holds"
    bad = Algorithm(broken(prep.estimator), prep.projector, prep.stepsize)
    res = execute(prep, 0, ALPHA, algorithm=bad)
    assert res.verdict == "violated", res.reason


@pytest.mark.parametrize("thm_id", ["gd-nc", "gd-pl", "page-nc", "marina-pl", "ef21-nc", "ns-const"])
@pytest.mark.parametrize("p", [0.0, 1.0])
def test_one_sided_chains_p_0_and_1_are_rac_lora(thm_id, p):
    """p = 1 (left sketches only) and p = 0 (right only) are RAC-LoRA's chains; the theorems hold there."""
    res = execute(prepare(dataclasses.replace(TIGHT[thm_id], p=p)), 0, ALPHA)
    assert res.verdict in ("holds", "inconclusive") and res.verdict != "violated", res.reason
    m, n = res.shape
    assert res.constants["lambda_min_p"]["value"] == pytest.approx(res.r / (m if p == 1 else n))


@pytest.mark.parametrize(("thm_id", "params"), [
    ("qgd-nc", (("compressor", "identity"),)),
    ("marina-nc", (("q", 0.3), ("compressor", "identity"))),
    ("ef21-nc", (("compressor", "identity"),)),
    ("page-nc", (("q", 1.0), ("batch_prime", 4))),
    ("marina-pl", (("q", 1.0), ("compressor", "rand-k:k=24"))),
])
def test_special_cases_reduce_to_gd(thm_id, params):
    """Identity compressor or q = 1: the stepsize is GD's 1/L (isotropic sketch) and the check holds."""
    prep = prepare(dataclasses.replace(TIGHT[thm_id], params=params))
    assert prep.gamma_max == pytest.approx(1 / prep.constants["L"].value, rel=1e-12)
    assert execute(prep, 0, ALPHA).verdict == "holds"


def test_identity_compressed_qgd_and_ef21_follow_the_gd_trajectory():
    prob = problems.make("federated-ls")
    prep = prepare(dataclasses.replace(TIGHT["qgd-nc"], problem="federated-ls"))
    for est in (make_estimator("qgd", compressor="identity"), make_estimator("ef21", compressor="identity", g0="full")):
        a = run(prob, Algorithm(est, prep.projector, prep.stepsize), 8, 30, np.random.default_rng(3))
        b = run(prob, Algorithm(FullGradient(), prep.projector, prep.stepsize), 8, 30, np.random.default_rng(3))
        np.testing.assert_allclose(a.f, b.f, rtol=1e-9, atol=1e-12)


def test_mvr_with_b_1_and_sgd_give_the_same_run():
    prob = problems.make("isotropic-quadratic:sigma=0.3")
    prep = prepare(TIGHT["sgd-nc"])
    runs = [run(prob, Algorithm(make_estimator(name, **kw), prep.projector, prep.stepsize), 8, 20,
                np.random.default_rng(5)).f for name, kw in (("mvr", {"b": 1.0}), ("sgd", {"batch": 1}))]
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)


def test_theorem_on_a_problem_without_its_oracle_is_a_user_error():
    from verify.errors import UserError

    with pytest.raises(UserError, match="Lms"):
        prepare(CheckSpec("page-nc", "federated-ls", params=(("q", 0.2),)))
    with pytest.raises(UserError, match="needs"):
        prepare(CheckSpec("qgd-nc", "least-squares", params=(("compressor", "rand-k:k=4"),)))
