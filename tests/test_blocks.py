"""Blocks of runs: moments merge exactly, block seeds are fixed by the block, a split check equals the
statistics of all its runs, and a bound error or a broken algorithm is still caught when the runs are split."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from interrupt import timeless

from verify import stats
from verify.blocks import BlockResult, Moments, block_ranges, block_streams, from_record, merge
from verify.check import CheckSpec, _grids, conclude, execute, prepare, run_block
from verify.cli import main
from verify.estimators import FullGradient
from verify.measures import measure_values
from verify.runner import Algorithm, run
from verify.seeding import streams, task_seed
from verify.stepsizes import ConstantStep
from verify.suite import TIGHT, run_tasks

ALPHA = 1e-3
#: gd-nc on the 12x8 isotropic quadratic (slack about 1.13) split into blocks of 64, 64, 64, 64 and 44 runs.
SPLIT = CheckSpec("gd-nc", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=300, iters=20, block_runs=64)


@pytest.fixture(scope="module")
def split_result():
    return execute(prepare(SPLIT), 0, ALPHA)


# --- moments -------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 40), st.integers(1, 5)),
              elements=st.floats(-1e6, 1e6, allow_nan=False)),
       st.lists(st.integers(1, 39), max_size=4))
def test_merged_moments_equal_one_pass(X, cuts):
    edges = sorted({c for c in cuts if c < X.shape[0]})
    parts = np.split(X, edges)
    merged = Moments.of(parts[0])
    for part in parts[1:]:
        merged = merged.merge(Moments.of(part))
    scale = 1e-9 * (1 + np.abs(X).max())
    assert merged.count == X.shape[0]
    np.testing.assert_allclose(merged.mean, X.mean(axis=0), rtol=1e-9, atol=scale)
    np.testing.assert_allclose(merged.std(), X.std(axis=0, ddof=1), rtol=1e-7, atol=scale)
    m3 = ((X - X.mean(axis=0)) ** 3).sum(axis=0)
    np.testing.assert_allclose(merged.m3, m3, rtol=1e-6, atol=1e-9 * X.shape[0] * (1 + np.abs(X).max()) ** 3)


def test_one_pass_moments_are_numpy_bit_for_bit():
    X = np.random.default_rng(1).lognormal(size=(257, 9))
    b = stats.mean_bounds(X, 1e-4)
    assert np.array_equal(b.mean, X.mean(axis=0)) and np.array_equal(b.std, X.std(axis=0, ddof=1))


def test_a_nonfinite_run_makes_the_merged_column_nonfinite():
    X = np.ones((6, 3))
    X[4, 1] = np.inf
    m = Moments.of(X[:3]).merge(Moments.of(X[3:]))
    assert np.isfinite(m.mean[[0, 2]]).all() and not np.isfinite(m.mean[1])


def test_merging_moments_of_other_checkpoints_is_an_error():
    with pytest.raises(ValueError, match="cannot merge"):
        Moments.of(np.ones((2, 3))).merge(Moments.of(np.ones((2, 4))))


# --- blocks and their seeds ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("runs", "size", "expected"), [
    (256, 256, [(0, 256)]), (100, 256, [(0, 100)]), (300, 64, [(0, 64), (64, 64), (128, 64), (192, 64), (256, 44)]),
    (5, 1, [(i, 1) for i in range(5)]),
])
def test_block_ranges_cover_the_runs_once(runs, size, expected):
    assert block_ranges(runs, size) == expected


@pytest.mark.parametrize(("runs", "size"), [(0, 4), (4, 0)])
def test_block_ranges_reject_empty_input(runs, size):
    with pytest.raises(ValueError, match="need runs >= 1 and block_runs >= 1"):
        block_ranges(runs, size)


def test_block_zero_draws_the_streams_of_an_unsplit_check_and_other_blocks_their_own_child():
    seed = task_seed(7, "some check")
    whole = streams(seed, ("runs", "lemma"))
    first = block_streams(task_seed(7, "some check"), 0)
    for name in ("runs", "lemma"):
        assert np.array_equal(first[name].random(8), whole[name].random(8))
    children = task_seed(7, "some check").spawn(5)
    for b in (1, 2, 3):
        expected = np.random.default_rng(children[b + 1]).random(8)
        assert np.array_equal(block_streams(seed, b)["runs"].random(8), expected)
    draws = [block_streams(seed, b)["runs"].random(4) for b in range(4)]
    assert len({d.tobytes() for d in draws}) == 4


def test_one_block_gives_the_numbers_of_any_larger_block_size():
    spec = dataclasses.replace(TIGHT["gd-nc"], runs=64, iters=10)
    a, b = timeless([execute(prepare(s), 3, ALPHA) for s in (spec, dataclasses.replace(spec, block_runs=1000))])
    assert a.pop("block_runs") == 256 and b.pop("block_runs") == 1000
    assert a == b


# --- a split check ---------------------------------------------------------------------------------------------

def test_split_check_has_the_statistics_of_all_its_runs(split_result):
    """The merged moments equal a direct pass over the runs of every block, redrawn here from the block seeds."""
    prep = prepare(SPLIT)
    checkpoints, _ = _grids(prep)
    seed = task_seed(0, SPLIT.key())
    algorithm = Algorithm(prep.estimator, prep.projector, prep.stepsize)
    X = np.concatenate([
        measure_values("avg_grad_sq", run(prep.problem, algorithm, count, SPLIT.iters, block_streams(seed, b)["runs"]),
                       checkpoints, 0.0)
        for b, (_, count) in enumerate(block_ranges(SPLIT.runs, SPLIT.block_runs))])
    assert X.shape == (300, len(checkpoints))
    direct = stats.mean_bounds(X, split_result.alpha_each)
    np.testing.assert_allclose(split_result.observed_mean, direct.mean, rtol=1e-12)
    np.testing.assert_allclose(split_result.ci_lower, direct.lower, rtol=1e-12)
    np.testing.assert_allclose(split_result.ci_upper, direct.upper, rtol=1e-12)
    assert split_result.seeds == 300 and split_result.block_runs == 64


def test_split_check_holds_tightly_and_runs_the_one_step_check_once(split_result):
    assert split_result.verdict == "holds"
    lam = 0.5 / 12 + 0.5 / 8
    assert split_result.slack == pytest.approx(1 / (1 - (1 - lam) ** 20), rel=0.06)
    assert split_result.lemma["verdict"] in ("holds", "inconclusive") and split_result.lemma["states"] == 12


def test_split_check_catches_a_bound_made_too_small(split_result):
    shrunk = dataclasses.replace(SPLIT, bound_scale=0.9 / split_result.slack)
    assert execute(prepare(shrunk), 0, ALPHA).verdict == "violated"


def test_split_check_catches_a_broken_algorithm():
    """A stepsize bug (0.3 gamma applied): on f = (L/2)||W - W*||^2 the expected decrease per step drops from
    lambda to 0.51 lambda, and bound/mean from 1.13 to about 0.77."""
    prep = prepare(SPLIT)
    bad = Algorithm(FullGradient(), prep.projector, ConstantStep(0.3 * prep.gamma))
    res = execute(prep, 0, ALPHA, algorithm=bad)
    assert res.verdict == "violated", res.reason


def test_conclude_is_independent_of_block_order_and_needs_every_block(split_result):
    prep = prepare(SPLIT)
    parts = [run_block(prep, 0, b) for b in range(5)]
    forward, backward = timeless(conclude(prep, 0, ALPHA, order) for order in (parts, parts[::-1]))
    assert forward == backward
    with pytest.raises(ValueError, match=r"has 5 blocks, got blocks \[0, 1, 3, 4\]"):
        conclude(prep, 0, ALPHA, parts[:2] + parts[3:])
    with pytest.raises(ValueError, match=r"block 4 of check .* holds runs 256\+64, expected 256\+44"):
        conclude(prep, 0, ALPHA, [*parts[:4], dataclasses.replace(parts[4], runs=64)])


def test_block_records_round_trip_exactly_with_nonfinite_numbers():
    X = np.array([[1.0, np.inf, 3.0], [2.0, 5.0, np.nan]])
    block = BlockResult(index=2, start=128, runs=2, checkpoints=Moments.of(X), plot=Moments.of(X[:, :2]),
                        samples=X, diverged_at=4, lemma=None, exact={"skipped": "test"},
                        timings={"runs_s": 0.1, "total_s": 0.2})
    back = from_record(json.loads(json.dumps(block.to_record(), allow_nan=False)))
    assert back.to_record() == block.to_record()
    assert np.array_equal(back.samples, X, equal_nan=True)
    cp, _, samples, diverged = merge([back])
    assert np.array_equal(cp.mean, block.checkpoints.mean, equal_nan=True) and diverged == 4


@pytest.mark.parametrize(("drop", "message"), [("plot", "lacks key 'plot'"), ("samples", "malformed block record")])
def test_bad_block_records_are_value_errors(drop, message):
    rec = BlockResult(0, 0, 2, Moments.of(np.ones((2, 2))), Moments.of(np.ones((2, 2))), np.ones((2, 2)), None, None,
                      None, {"runs_s": 0.0, "total_s": 0.0}).to_record()
    if drop == "plot":
        del rec["plot"]
    else:
        rec["samples"] = 3
    with pytest.raises(ValueError, match=message):
        from_record(rec)


# --- as tasks ------------------------------------------------------------------------------------------------

def test_blocks_are_tasks_and_two_processes_give_the_serial_numbers():
    specs = [dataclasses.replace(TIGHT[t], runs=40, iters=20, block_runs=16) for t in ("gd-nc", "gd-pl")]
    serial = run_tasks(specs, ALPHA, 11)
    assert serial.tasks == 6 and serial.failures == []
    parallel = run_tasks(specs, ALPHA, 11, jobs=2)
    direct = [execute(prepare(s), 11, ALPHA / 2) for s in specs]
    records = [timeless(rs) for rs in (serial.results, parallel.results, direct)]
    assert records[0] == records[1] == records[2]


def test_cli_block_runs_splits_the_run_and_is_validated(tmp_path, capsys):
    out = tmp_path / "D"
    assert main(["run", "gd-nc", "--seeds", "20", "--iters", "8", "--block-runs", "8", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "[1/18] block 1/3: runs 0-7 done" in err and "block 2/3: runs 8-15 done" in err  # 6 checks x 3 blocks
    assert "3 blocks merged): gd-nc on isotropic-quadratic" in err
    assert len(list((out / "tasks").glob("*.json"))) == 18
    checks = json.loads((out / "results.json").read_text())["checks"]
    assert {(c["seeds"], c["block_runs"]) for c in checks} == {(20, 8)}
    code = main(["run", "gd-nc", "--block-runs", "0", "--out", str(tmp_path / "E")])
    err = capsys.readouterr().err
    assert code == 2 and "block runs = 0: need at least 1 run per block" in err and len(err.strip().splitlines()) == 1
