"""Batched oracles of a user object: the same findings as one matrix per call, with far fewer calls."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bench_module import loaded
from verify.assumptions.adapter import OracleError, adapt
from verify.assumptions.findings import Budget
from verify.assumptions.lockstep import lockstep
from verify.assumptions.run import check_assumptions
from verify.errors import UserError

SMALL = Budget(points=2, fd_directions=2, power_iters=12, segments=2, halvings=12, gd_steps=40, solver_starts=3,
               solver_iters=60, stationary_starts=3, stationary_iters=20, bias_samples=64, variance_samples=32,
               mss_samples=16, compressor_samples=200, projection_samples=200)


def test_batched_oracles_give_the_same_findings_with_fewer_calls():
    with loaded("bench_assumptions_batched") as bench:
        one, many = bench.unbatched(), bench.batched()
        a = check_assumptions(one, budget=SMALL)
        b = check_assumptions(many, budget=SMALL)
        statuses, rel = bench.compare(a, b)
    assert statuses == []
    assert rel <= 1e-10
    assert a.applicable == b.applicable
    assert b.origin.startswith("user object (batched")
    assert sum(many.calls.values()) * 5 < sum(one.calls.values())
    assert set(many.calls) == {"f_batch", "grad_batch", "stochastic_grad_batch"}  # the one-matrix oracles unused


class Quadratic:
    shape = (2, 3)

    def f(self, W):
        return 0.5 * float(np.sum(W * W))

    def grad(self, W):
        return W.copy()


def test_a_batched_twin_without_its_oracle_is_refused():
    class Lonely:
        shape = (2, 3)
        f = Quadratic.f
        grad = Quadratic.grad

        def stochastic_grad_batch(self, W, rngs):
            return W

    with pytest.raises(UserError, match="stochastic_grad_batch is given without stochastic_grad"):
        adapt(Lonely())


def test_a_failing_batched_oracle_names_the_failing_point():
    class Fails(Quadratic):
        def f_batch(self, W):
            if np.any(W[:, 0, 0] > 1):
                raise ValueError("too far")
            return 0.5 * np.einsum("kij,kij->k", W, W)

    orc = adapt(Fails())
    W = np.zeros((4, 2, 3))
    W[2, 0, 0] = 5.0
    with pytest.raises(OracleError) as err:
        orc.f(W)
    assert err.value.point[0, 0] == 5.0


def test_lockstep_searches_match_sequential_runs_and_keep_their_errors():
    """Each search sees only its own values: the same results as running them one by one, and an error reaches
    only the search whose point failed."""
    calls = []

    def f(X):
        calls.append(len(X))
        if np.any(X == 13):
            raise OracleError("f", "unlucky", X[0])
        return X.sum(axis=(1, 2))

    def search(start, count):
        def run(ask):
            x, out = float(start), []
            for _ in range(count):
                x = float(ask("f", np.full((1, 1, 1), x))[0]) + 1
                out.append(x)
            return out
        return run

    outcomes = lockstep([search(0, 5), search(10, 5), search(100, 2)], {"f": f})
    assert outcomes[0] == (True, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert outcomes[2] == (True, [101.0, 102.0])
    assert not outcomes[1][0] and isinstance(outcomes[1][1], OracleError)
    assert max(calls) == 3  # the three searches' requests went out together
    asked_wrong = lockstep([lambda ask: ask("g", np.zeros((1, 1, 1)))] * 2, {"f": f})  # no oracle "g"
    assert all(not ok and isinstance(exc, KeyError) for ok, exc in asked_wrong)  # an error, not a hang


def test_vectorised_seed_sequences_equal_numpy():
    """``seeds.generators`` builds the same generators as ``default_rng(seed)``: the state words of the hash,
    the draws, and the children of ``spawn``, at the edges of the 32-bit word split and at random seeds."""
    from verify.assumptions.seeds import generators, seed_states

    edges = np.array([0, 1, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 2, 2**64 - 1], dtype=np.uint64)
    seeds = np.concatenate([edges, np.random.default_rng(3).integers(0, 2**63 - 1, 300).astype(np.uint64)])
    expected = np.array([np.random.SeedSequence(int(s)).generate_state(4, np.uint64) for s in seeds])
    assert np.array_equal(seed_states(seeds), expected)
    for s, g in zip(seeds[:20], generators(seeds[:20]), strict=True):
        ref = np.random.default_rng(int(s))
        assert np.array_equal(g.integers(0, 2**62, 5), ref.integers(0, 2**62, 5))
        assert g.standard_normal() == ref.standard_normal()
    g, ref = generators(seeds[3:4])[0], np.random.default_rng(int(seeds[3]))
    for n in (2, 1):  # spawn is stateful: the second call gives the next children
        assert [c.random() for c in g.spawn(n)] == [c.random() for c in ref.spawn(n)]
    assert g.bit_generator.seed_seq.entropy == int(seeds[3])
    assert generators(np.zeros(0, dtype=np.int64)) == []
