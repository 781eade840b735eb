"""The exact oracle inside a check (verify/exact/in_check.py): exact slack, the two-sided model check and the
one-step certificate decide alongside the statistics, and each can turn a check red on its own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from verify.check import CheckSpec, execute, prepare, with_scale
from verify.compressors import make_compressor
from verify.exact.in_check import MAX_CHECK_MN
from verify.runner import Algorithm

ALPHA = 1e-3
#: gd-pl on a 6x4 isotropic quadratic with p = 0.3: E[f(W^T) - f*] = (1 - lambda)^T Delta0 exactly.
ATTAINED = CheckSpec("gd-pl", "isotropic-quadratic:m=6,n=4", "gaussian", p=0.3, r=1, runs=128, iters=30,
                     lemma_states=2, lemma_samples=100)
#: gd-nc on a 6x4 least-squares problem (m != n, p != 1/2): a flipped coin changes the expectation.
LSQ = CheckSpec("gd-nc", "least-squares:m=6,n=4,N=24,kappa=4", "gaussian", p=0.2, r=1, runs=256, iters=60,
                lemma_states=2, lemma_samples=100)


@pytest.fixture(scope="module")
def attained():
    return execute(prepare(ATTAINED), 0, ALPHA)


def test_an_attained_bound_has_exact_slack_one_and_agrees(attained):
    ex = attained.exact
    assert ex["slack"] == pytest.approx(1.0, rel=1e-9) and ex["slack_final"] == pytest.approx(1.0, rel=1e-9)
    assert ex["model"]["verdict"] == "agrees" and ex["certificate"]["holds"]
    assert ex["certificate"]["tightness"] == pytest.approx(1.0, rel=1e-6)
    assert ex["sensitivity"]["rate_slack"] == pytest.approx(1.0, rel=1e-6)
    # attained: the statistics alone say inconclusive; the exact expectation says the bound holds
    assert attained.attained and attained.verdict == "holds" and "exact slack" in attained.reason


def test_a_bound_one_percent_too_small_is_violated_without_statistics():
    res = execute(prepare(with_scale(ATTAINED, 0.99)), 0, ALPHA)
    assert res.verdict == "violated" and "exact expectation" in res.reason
    assert res.exact["slack"] == pytest.approx(0.99, rel=1e-9)


def test_a_flipped_coin_is_seen_by_the_model_check_only():
    prep = prepare(LSQ)
    honest = execute(prep, 0, ALPHA)
    assert honest.verdict == "holds" and honest.exact["model"]["verdict"] == "agrees"
    flipped = dataclasses.replace(prep.projector, p=1 - LSQ.p)
    res = execute(prep, 0, ALPHA, algorithm=Algorithm(prep.estimator, flipped, prep.stepsize))
    assert res.verdict == "violated" and res.reason.startswith("model check")
    assert res.exact["model"]["verdict"] != "agrees"


def test_a_faster_implementation_is_seen_too():
    """Sketches of rank r + 1 where the check says r make the runs faster: no one-sided bound can see that."""
    prep = prepare(ATTAINED)
    fast = Algorithm(prep.estimator, dataclasses.replace(prep.projector, r=ATTAINED.r + 1), prep.stepsize)
    res = execute(prep, 0, ALPHA, algorithm=fast)
    assert res.verdict == "violated" and res.exact["model"]["verdict"] == "too_fast"


def test_large_instances_skip_the_exact_oracle_with_a_reason():
    res = execute(prepare(dataclasses.replace(ATTAINED, problem="isotropic-quadratic", runs=16)), 0, ALPHA)
    assert str(MAX_CHECK_MN) in res.exact["skipped"]


def test_sparse_k_is_contractive_with_alpha_k_over_d():
    comp = make_compressor("sparse-k:k=6")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6))
    C = comp.compress(np.broadcast_to(x, (40000, 4, 6)), rng)
    err = ((C - x) ** 2).sum(axis=(1, 2))
    half = 5 * err.std() / np.sqrt(err.size)
    assert abs(err.mean() - (1 - comp.alpha(24)) * (x**2).sum()) < half
    assert np.abs(C.mean(axis=0) - x * 6 / 24).max() < 5 * np.abs(x).max() / np.sqrt(40000)


def test_ef21_with_sparse_k_runs_against_its_exact_expectation():
    spec = CheckSpec("ef21-pl", "federated-ls:m=6,n=4", "gaussian", p=0.3, r=2, runs=64, iters=40,
                     params=(("compressor", "sparse-k:k=6"),), lemma_states=2, lemma_samples=100)
    res = execute(prepare(spec), 0, ALPHA)
    assert res.verdict == "holds" and res.exact["model"]["verdict"] == "agrees" and res.exact["slack"] > 1
