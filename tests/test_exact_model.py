"""Monte Carlo of the real runner against the exact expectations (verify/exact), two-sided.

Agreement: for every linear method and every closed-form sketch (gaussian, haar, coordinates), at p = 0.3 and
m ≠ n, the means of E[f − f*], E‖∇f‖² and E err over ``RUNS`` runs of :func:`verify.runner.run` (the real
estimators and projector) agree with the exact recursion at every step t = 1..T: no flag of the two-sided test
(:func:`verify.exact.model_check.two_sided`, Hall-corrected Student t), family-wise ``ALPHA = 1e-3`` by
Bonferroni over all cases, measures and steps.

Power: the same test rejects implementations that are off by a little: the coin drawn with 1 − p on an m ≠ n
problem, a step 10 % larger, PAGE without its correction, SGD without its noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

from verify import problems, sketch, stats
from verify.blocks import Moments
from verify.check import CheckSpec, prepare, run_block
from verify.estimators import PAGE, make_estimator
from verify.exact.engine import exact_chain
from verify.exact.model_check import ModelCheck, check_prepared, two_sided, two_sided_moments
from verify.measures import FIRST_T
from verify.projection import BernoulliProjector
from verify.runner import Algorithm, run
from verify.stepsizes import ConstantStep

SEED = 20250813
RUNS = 2000
ITERS = 20
P_LEFT = 0.3
RANK = 2
ALPHA = 1e-3

LS = "least-squares:m=4,n=3,N=8,kappa=5,noise=0.5"
LS_NOISY = "least-squares:m=4,n=3,kappa=5,sigma=0.3,noise=0.2"
FED = "federated-ls:m=4,n=3,M=3,N_i=6,kappa=5"

#: (label, problem, estimator name, parameters, gamma·L): stable steps, so that the measures have finite variance.
METHODS = [
    ("gd", LS, "gd", {}, 1.0),
    ("sgd-noise", "isotropic-quadratic:m=4,n=3,sigma=0.5", "sgd", {}, 1.0),
    ("sgd-rows", LS, "sgd", {"batch": 2}, 0.3),
    ("page-rows", LS, "page", {"q": 0.3, "batch_prime": 2}, 0.3),
    ("mvr-noise", LS_NOISY, "mvr", {"b": 0.3, "batch": 2, "batch0": 3}, 0.5),
    ("mvr-rows", LS, "mvr", {"b": 0.3, "batch": 2, "batch0": 3}, 0.3),
    ("qgd-randk", FED, "qgd", {"compressor": "rand-k:k=3"}, 0.5),
    ("marina-randk", FED, "marina", {"q": 0.3, "compressor": "rand-k:k=3"}, 0.5),
    ("ef21-identity", FED, "ef21", {"compressor": "identity"}, 1.0),
]
SKETCHES = ["gaussian", "haar", "coordinates"]
CASES = [(*method, sk) for method in METHODS for sk in SKETCHES]
ALPHA_CASE = ALPHA / (len(CASES) + 1)  # + the prepared-check test


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(SEED, spawn_key=key))


def _projector(name: str, p: float = P_LEFT, r: int = RANK, cls: type = BernoulliProjector) -> BernoulliProjector:
    dist = sketch.make(name)
    return cls(p, r, dist, dist)


def compare(problem: Any, exact_est: Any, projector: Any, gamma: float, seed: int, alpha: float,
            run_est: Any = None, run_projector: Any = None, run_gamma: float | None = None,
            runs: int = RUNS, iters: int = ITERS) -> ModelCheck:
    """Runs of (run_est, run_projector, run_gamma) against the exact chain of (exact_est, projector, gamma):
    the gap, the squared gradient norm and the error term at t = 1..iters, one family."""
    chain = exact_chain(problem, exact_est, projector, ConstantStep(gamma))
    traj = chain.run(problem.W0, iters)
    algo = Algorithm(run_est or exact_est, run_projector or projector, ConstantStep(run_gamma or gamma))
    trace = run(problem, algo, runs, iters, _rng(seed))
    f_star = float(problem.constants["f_star"].value)
    X = np.concatenate([trace.f[:, 1:] - f_star, trace.grad_sq[:, 1:], trace.err[:, 1:]], axis=1)
    exact = np.concatenate([traj.gap[1:], traj.grad_sq[1:], traj.err[1:]])
    # the floor is per quantity (an err that is 0 up to rounding must not borrow the gap's scale)
    floor = stats.FLOOR * max(traj.gap[0], traj.grad_sq[0], 1e-300)
    return two_sided_moments(Moments.of(X), exact, alpha, atol=floor)


@pytest.mark.parametrize(("label", "spec", "name", "params", "gamma_L", "sk"), CASES,
                         ids=[f"{c[0]}-{c[-1]}" for c in CASES])
def test_runner_agrees_with_exact_expectation(label: str, spec: str, name: str, params: dict, gamma_L: float,
                                              sk: str) -> None:
    problem = problems.make(spec)
    gamma = gamma_L / float(problem.constants["L"].value)
    est = make_estimator(name, **params)
    res = compare(problem, est, _projector(sk), gamma, CASES.index((label, spec, name, params, gamma_L, sk)),
                  ALPHA_CASE)
    assert res.verdict == "agrees", res.describe()


def test_prepared_check_agrees_and_reports_the_exact_slack() -> None:
    """The suite's path: prepare, run_block (the check's own runs and seeds), then the two-sided test on the
    theorem's measure; gd-pl on the isotropic quadratic attains its bound at every T (exact slack 1 everywhere:
    E[f(W^T) − f*] = (1 − γμλ_min^p)^T Δ0 exactly, which a Monte-Carlo slack can only bracket)."""
    spec = CheckSpec("gd-pl", "isotropic-quadratic:m=4,n=3", "gaussian", p=P_LEFT, r=1, runs=RUNS, iters=ITERS,
                     lemma_states=0, block_runs=RUNS)
    prep = prepare(spec)
    block = run_block(prep, SEED, 0)
    checkpoints = stats.log_grid(ITERS, start=max(FIRST_T[prep.theorem.measure], 1))
    model, slack = check_prepared(prep, block.checkpoints, checkpoints, ALPHA_CASE)
    assert model.verdict == "agrees", model.describe()
    assert np.allclose(slack.ratio, 1.0, rtol=1e-12, atol=0.0)


# ----------------------------------------------------------------------------------------------------
# Power: small implementation errors are rejected
# ----------------------------------------------------------------------------------------------------

POWER_ALPHA = 1e-3


class FlippedCoin(BernoulliProjector):
    """The coin with probability 1 − p of the left sketch (a swapped convention)."""

    def coins(self, rng: np.random.Generator, R: int) -> np.ndarray:
        return rng.random(R) < 1 - self.p


@dataclass(frozen=True)
class PAGENoCorrection(PAGE):
    """PAGE whose lazy branch keeps G^t without the correction g(W⁺; ξ) − g(W; ξ)."""

    name: ClassVar[str] = "page"

    def update(self, state, problem, W_new, grad_new, W_old, rng):  # noqa: ANN001, ANN201
        G = np.array(grad_new, dtype=np.float64)
        lazy = ~(rng.random(W_new.shape[0]) < self.q)
        if lazy.any():
            problem.sample_xi(rng, int(lazy.sum()), self.batch_prime)
            G[lazy] = state[lazy]
        return G


def test_flipped_coin_is_rejected_on_a_non_square_problem() -> None:
    P = problems.make("least-squares:m=6,n=2,N=10,kappa=5,noise=0.5")
    est = make_estimator("gd")
    res = compare(P, est, _projector("gaussian", p=0.2, r=1), 1.0, 101, POWER_ALPHA,
                  run_projector=_projector("gaussian", p=0.2, r=1, cls=FlippedCoin))
    assert res.verdict == "too_slow", res.describe()  # 1 − p = 0.8 favours the left side, E[H_B] = I/6 < E[H_A] = I/2


def test_flipped_coin_is_invisible_on_a_square_isotropic_problem() -> None:
    """Control: on the isotropic quadratic with m = n, E‖D⁺‖² = (1 − (2γL − γ²L²) λ)‖D‖² for either side, so the
    flip leaves every expectation unchanged and the test must not flag it.  (On least squares with m = n the
    flip IS visible: I_n ⊗ H_B and H_A ⊗ I_m act differently on I_n ⊗ XᵀX/N.)"""
    P = problems.make("isotropic-quadratic:m=3,n=3")
    est = make_estimator("gd")
    res = compare(P, est, _projector("gaussian", p=0.2, r=1), 1.0, 102, POWER_ALPHA,
                  run_projector=_projector("gaussian", p=0.2, r=1, cls=FlippedCoin))
    assert res.verdict == "agrees", res.describe()


@pytest.mark.parametrize(("label", "spec", "name", "params", "gamma_L"),
                         [m for m in METHODS if m[0] in ("gd", "sgd-noise", "page-rows")])
def test_step_ten_percent_larger_is_rejected(label: str, spec: str, name: str, params: dict, gamma_L: float) -> None:
    P = problems.make(spec)
    gamma = gamma_L / float(P.constants["L"].value)
    est = make_estimator(name, **params)
    res = compare(P, est, _projector("gaussian"), gamma, 103, POWER_ALPHA, run_gamma=1.1 * gamma)
    assert res.verdict != "agrees", res.describe()


def test_page_without_correction_is_rejected() -> None:
    P = problems.make(LS)
    est = make_estimator("page", q=0.3, batch_prime=2)
    res = compare(P, est, _projector("gaussian"), 0.3, 104, POWER_ALPHA,
                  run_est=PAGENoCorrection(q=0.3, batch_prime=2))
    assert res.verdict != "agrees", res.describe()


def test_sgd_without_noise_is_rejected() -> None:
    P = problems.make("isotropic-quadratic:m=4,n=3,sigma=0.5")
    res = compare(P, make_estimator("sgd"), _projector("gaussian"), 0.5, 105, POWER_ALPHA,
                  run_est=make_estimator("gd"))
    assert res.verdict == "too_fast", res.describe()


def test_two_sided_flags_both_directions_and_respects_rounding() -> None:
    mean = np.array([1.0, 2.0, 3.0, 0.0])
    std = np.array([0.1, 0.1, 0.1, 0.0])
    res = two_sided(mean, std, 100, np.array([1.0, 2.5, 2.5, 1e-20]), alpha=1e-3)
    assert res.flags == ["", "fast", "slow", ""] and res.verdict == "too_fast_and_slow"
    assert two_sided(mean[:1], std[:1], 100, mean[:1]).verdict == "agrees"
