"""The PEP cache reader and the finite-outcome sketches: no PEPit needed (nothing here solves an SDP)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import theorems
from verify import symbolic
from verify.errors import UserError
from verify.pep import ROW_KEYS, cached_tightness, write_cache
from verify.pep.sketch import FiniteSketch, grid, parse, two_block
from verify.pep.tightness import COVERED, theorem_values, tightness_ratio, verdict

ROOT = Path(__file__).resolve().parent.parent


def test_reading_the_cache_imports_neither_pepit_nor_cvxpy():
    code = ("import sys, verify.pep as v; rows = v.cached_tightness('gd-nc'); "
            "print(len(rows), 'PEPit' in sys.modules, 'cvxpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    n, pepit, cvxpy = out.stdout.split()
    assert int(n) > 0 and pepit == "False" and cvxpy == "False"


@pytest.mark.parametrize("thm_id", list(COVERED))
def test_every_covered_theorem_has_cached_rows_with_the_promised_keys(thm_id):
    rows = cached_tightness(thm_id)
    assert rows, f"no cached PEP rows for {thm_id}"
    for row in rows:
        assert set(ROW_KEYS) <= set(row)
        assert row["theorem"] == thm_id and row["initial"] in COVERED[thm_id]
        assert row["solver"] in ("CLARABEL", "SCS") and row["status"] in ("optimal", "optimal_inaccurate")
        assert row["seconds"] > 0


def test_unknown_theorem_has_no_rows():
    assert cached_tightness("no-such-theorem") == []


def _sketch_of(row):
    return parse(row["sketch"].split(":")[0] if row["sketch"] == "two-block" else row["sketch"], row["p"])


@pytest.mark.parametrize("thm_id", list(COVERED))
def test_cached_bounds_are_the_theorem_records_bounds_now(thm_id):
    """A theorem record edited after the cache was built makes this fail: rebuild with bench_pep.py."""
    thm = theorems.registry()[thm_id]
    for row in cached_tightness(thm_id):
        values = theorem_values(thm_id, _sketch_of(row), row["p"], row["T"])
        if row["initial"] == "one-step":
            c, d = (symbolic.value(e, values, thm) for e in (thm.one_step.c, thm.one_step.d))
            expected = -c if d == 0 else d
        else:
            expected = float(symbolic.evaluate(thm.bound, values, [row["T"]], thm)[0])
        assert row["bound"] == pytest.approx(expected, rel=1e-12), row


def test_gd_nc_telescoped_rows_are_tight_and_gap_rows_hold():
    rows = [r for r in cached_tightness("gd-nc") if r["sketch"] == "two-block"]
    telescoped = [r for r in rows if r["initial"] == "telescoped"]
    gap = [r for r in rows if r["initial"] == "gap"]
    assert {r["p"] for r in telescoped} == {0.5, 0.7, 0.9, 0.99} and {r["T"] for r in telescoped} == {1, 2, 3, 4}
    assert all(r["verdict"] == "tight" and abs(r["ratio"] - 1) < 1e-4 for r in telescoped)
    assert all(r["verdict"] == "holds" and r["ratio"] > 1.05 for r in gap)
    assert min(r["ratio"] for r in gap if r["p"] == 0.99) > 25  # loose by 25-100x at p = 0.99, T = 1..4


def test_write_cache_round_trip_and_refusals(tmp_path):
    row = {k: 1 for k in ROW_KEYS} | {"theorem": "gd-nc", "initial": "gap", "ratio": None}
    path = write_cache([row], {"generated_by": "test"}, tmp_path / "c.json")
    assert cached_tightness("gd-nc", path) == [row]
    assert json.loads(path.read_text())["generated_by"] == "test"
    with pytest.raises(ValueError, match="miss the keys"):
        write_cache([{"theorem": "gd-nc"}], {}, tmp_path / "d.json")
    assert not (tmp_path / "d.json").exists() and [p.name for p in tmp_path.iterdir()] == ["c.json"]
    (tmp_path / "e.json").write_text(json.dumps({"rows": [{"theorem": "gd-nc"}]}))
    with pytest.raises(ValueError, match="not a PEP cache"):
        cached_tightness("gd-nc", tmp_path / "e.json")


def test_two_block_sketch_constants():
    s = two_block(0.7)
    assert s.weights == (0.7, pytest.approx(0.3))
    assert s.lambda_min_p == pytest.approx(0.3) and s.lambda_max_p == 0.7 and s.branches(3) == 8


def test_grid_sketch_is_isotropic_with_the_bernoulli_lora_weight():
    # 2 x 3 grid, r = 1: left keeps one of 2 block rows, right one of 3 block columns.
    s = grid(0.3, 2, 3, 1)
    assert len(s.outcomes) == 5 and s.blocks == 6
    assert s.weights == pytest.approx([0.3 / 2 + 0.7 / 3] * 6)
    assert sum(q for q, _ in s.outcomes) == pytest.approx(1.0)


@pytest.mark.parametrize("spec, p", [("two-block", 0.0), ("two-block", 1.0), ("grid:mb=2,nb=1,r=2", 0.5),
                                     ("grid:mb=2", 0.5), ("grid:mb=2,nb=1,r=1,k=3", 0.5), ("gaussian", 0.5),
                                     ("grid:mb=9,nb=9,r=1", 0.5)])
def test_bad_sketch_specs_are_user_errors(spec, p):
    with pytest.raises(UserError):
        parse(spec, p)


def test_finite_sketch_rejects_probabilities_not_summing_to_one():
    with pytest.raises(ValueError, match="do not sum to 1"):
        FiniteSketch("bad", 2, ((0.5, (0,)), (0.4, (1,))))


def test_ratio_and_verdicts():
    assert tightness_ratio(2.0, 4.0) == 2.0 and tightness_ratio(-0.5, -0.25) == 2.0
    assert tightness_ratio(1.0, -1.0) is None and math.isclose(tightness_ratio(-0.25, -0.25), 1.0)
    assert verdict(2.0, 1.8, "exact", 1e-8, "optimal") == "violated"
    assert verdict(2.0, 2.0 + 1e-7, "exact", 1e-8, "optimal") == "tight"
    assert verdict(1.5, 2.0, "exact", 1e-8, "optimal") == "holds"
    assert verdict(2.0, 1.8, "upper", 1e-8, "optimal") == "inconclusive"  # a relaxation refutes nothing
    assert verdict(1.0, 1.8, "lower", 1e-8, "optimal") == "not refuted"  # a restriction certifies nothing
    assert verdict(2.0, 1.8, "lower", 1e-8, "optimal") == "violated"
