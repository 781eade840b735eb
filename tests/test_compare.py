"""`verify compare`: catches an edited bound and a broken algorithm, one-line errors, and the reference report."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pytest

from verify import compare, reference, report
from verify.check import CheckSpec, execute, prepare, with_scale
from verify.cli.args import Parser as _Parser
from verify.results_io import load_run
from verify.runner import Algorithm
from verify.stepsizes import ConstantStep
from verify.suite import run_checks

REPO = Path(__file__).resolve().parent.parent
TINY = [
    CheckSpec("gd-pl", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=32, iters=20, lemma_states=2,
              lemma_samples=20),
    CheckSpec("gd-nc", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=32, iters=20, lemma_states=2,
              lemma_samples=20),
]
SEED, ALPHA = 5, 1e-3


def _write(path: Path, results) -> Path:
    path.write_bytes(report.results_bytes(results, {"seed": SEED, "alpha": ALPHA, "date": "d", "commit": None}))
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("cmp") / "results.json", run_checks(TINY, alpha=ALPHA, seed=SEED))


def _edited(base: Path, tmp_path: Path, edit, name: str = "edited.json") -> Path:
    """``base`` with its first check (gd-pl) changed by ``edit(record)``, written to ``tmp_path / name``."""
    data = json.loads(base.read_text())
    edit(data["checks"][0])
    out = tmp_path / name
    out.write_text(json.dumps(data))
    return out


def _cmp(capsys, *argv: str) -> tuple[int, str, str]:
    code = compare.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_unchanged_run_exits_0(base, capsys):
    code, out, _ = _cmp(capsys, base, base.parent)
    assert code == 0 and "0 regressions" in out and out.count(" ok") == len(TINY)


def _scale_bound(rec: dict, s: float) -> None:
    """An edited bound constant: every bound value, and hence the slacks, scaled by ``s``."""
    rec["bound"] = [b * s for b in rec["bound"]]
    rec["curve"]["bound"] = [b * s for b in rec["curve"]["bound"]]
    rec["slack"] *= s
    rec["slack_final"] *= s


def test_edited_bound_constant_is_caught(base, tmp_path, capsys):
    edited = _edited(base, tmp_path, lambda rec: _scale_bound(rec, 2.0))
    code, out, _ = _cmp(capsys, base, edited)
    assert code == 1 and "slack moved x2" in out and "x2 " in out  # bound column shows the fold
    assert _cmp(capsys, base, edited, "--factor", "2.5")[0] == 0


def test_small_slack_move_passes_unless_factor_is_strict(base, tmp_path, capsys):
    edited = _edited(base, tmp_path, lambda rec: _scale_bound(rec, 1 / 1.2))
    assert _cmp(capsys, base, edited)[0] == 0
    assert _cmp(capsys, base, edited, "--factor", "1.1")[0] == 1


def test_turned_violated_is_caught(base, tmp_path, capsys):
    edited = _edited(base, tmp_path, lambda rec: rec.update(verdict="violated"))
    code, out, _ = _cmp(capsys, base, edited)
    assert code == 1 and "-> violated)" in out and "turned violated" in out


def _fewer(base: Path, tmp_path: Path) -> Path:
    data = json.loads(base.read_text())
    data["checks"] = data["checks"][:1]
    fewer = tmp_path / "fewer.json"
    fewer.write_text(json.dumps(data))
    return fewer


def test_missing_and_new_checks_are_listed_and_pass(base, tmp_path, capsys):
    fewer = _fewer(base, tmp_path)
    gone = compare.label(run_checks(TINY[1:], alpha=ALPHA, seed=SEED)[0])
    code, out, _ = _cmp(capsys, base, fewer)
    assert code == 0 and f"\nmissing in NEW: {gone}\n" in out and "1 missing in NEW" in out
    assert "0 regressions" in out and "REGRESSION" not in out
    code, out, _ = _cmp(capsys, fewer, base)
    assert code == 0 and f"\nnew in NEW: {gone}\n" in out and "1 new in NEW" in out


def test_require_all_fails_on_missing_and_new_checks(base, tmp_path, capsys):
    fewer = _fewer(base, tmp_path)
    for old, new in ((base, fewer), (fewer, base)):
        code, out, _ = _cmp(capsys, old, new, "--require-all")
        assert code == 1 and "--require-all" in out and "0 regressions" in out
    assert _cmp(capsys, base, base, "--require-all")[0] == 0


def test_bound_scale_run_is_caught(base, tmp_path, capsys):
    scaled = run_checks([with_scale(TINY[0], 0.5), TINY[1]], alpha=ALPHA, seed=SEED)
    code, out, _ = _cmp(capsys, base, _write(tmp_path / "scaled.json", scaled))
    assert code == 1 and "REGRESSION" in out


def test_broken_algorithm_is_caught(base, tmp_path, capsys):
    """A stepsize 5x too small (a broken update) makes gd-pl converge too slowly: violated."""
    preps = [prepare(s) for s in TINY]
    broken = Algorithm(preps[0].estimator, preps[0].projector, ConstantStep(0.2 * preps[0].gamma))
    results = [execute(preps[0], SEED, ALPHA / 2, algorithm=broken), execute(preps[1], SEED, ALPHA / 2)]
    code, out, _ = _cmp(capsys, base, _write(tmp_path / "broken.json", results))
    assert code == 1 and "gd-pl" in out.split("REGRESSION")[0].splitlines()[-1]


@pytest.mark.parametrize("content, key", [
    ("{broken", "not valid JSON"),
    ("[]", "expected a JSON object"),
    ('{"checks": []}', "'meta'"),
    ('{"meta": {"seed": 0, "alpha": 0.001}, "checks": [{"theorem": "gd-pl"}]}', "'paper_ref'"),
])
def test_corrupt_file_exits_2_with_one_line(base, tmp_path, capsys, content, key):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, out, err = _cmp(capsys, base, bad)
    assert code == 2 and out == "" and err.count("\n") == 1 and str(bad) in err and key in err


def test_missing_file_and_bad_factor_exit_2(base, tmp_path, capsys):
    code, _, err = _cmp(capsys, tmp_path / "none.json", base)
    assert code == 2 and "none.json" in err and err.count("\n") == 1
    code, _, err = _cmp(capsys, base, base, "--factor", "0.5")
    assert code == 2 and "--factor" in err and err.count("\n") == 1


def test_add_compare_parser_wires_func(base):
    parser = _Parser(prog="verify")
    compare.add_compare_parser(parser.add_subparsers(dest="command", parser_class=_Parser))
    args = parser.parse_args(["compare", str(base), str(base), "--factor", "2"])
    assert args.func is compare.run_compare and args.factor == 2.0
    assert isinstance(args, argparse.Namespace) and args.func(args) == 0


# --- the floor: numbers at the floating-point floor are not compared -------------------------------------------

def _final_mean(rec: dict, mean_T: float) -> None:
    """The measure's mean at the final checkpoint set to ``mean_T``, and slack_final = bound/mean there."""
    rec["observed_mean"][-1] = mean_T
    rec["slack_final"] = rec["bound"][-1] / mean_T


def _pair_at(base: Path, tmp_path: Path, mean_T: float, move: float) -> tuple[Path, Path]:
    """Two runs whose first check's final mean is ``mean_T`` and ``mean_T / move``: slack_final moves x``move``."""
    tag = f"{mean_T:g}_{move:g}"
    return (_edited(base, tmp_path, lambda rec: _final_mean(rec, mean_T), f"old_{tag}.json"),
            _edited(base, tmp_path, lambda rec: _final_mean(rec, mean_T / move), f"new_{tag}.json"))


def _scale(base: Path) -> float:
    return json.loads(base.read_text())["checks"][0]["observed_mean"][0]


def test_floor_level_slack_final_moving_x024_is_not_a_regression(base, tmp_path, capsys):
    """ns-polyak's case: a final mean of 1e-16 x the initial scale (the floor is 1e-12 x) moves x1/0.239 between
    BLAS builds."""
    old, new = _pair_at(base, tmp_path, 1e-16 * _scale(base), 0.239)
    code, out, _ = _cmp(capsys, old, new)
    row = next(line for line in out.splitlines() if line.startswith("gd-pl"))
    assert code == 0 and "(at floor)" in row and "slack at T: at floor, not compared" in row and "x0.239" not in row
    assert _cmp(capsys, old, new, "--equal")[0] == 0  # the mean behind it is at the floor as well


def test_the_same_move_above_the_floor_is_a_regression(base, tmp_path, capsys):
    old, new = _pair_at(base, tmp_path, 1e-3 * _scale(base), 0.239)
    code, out, _ = _cmp(capsys, old, new)
    assert code == 1 and "slack at T moved x0.239" in out and "at floor" not in out


def test_a_move_just_above_the_floor_is_judged_with_its_rounding_tolerance(base, tmp_path, capsys):
    """At 2 x floor a x1.6 move is within tau = 2 rtol + floor/mean (+ floor/bound) of the x1.5 band; at 1e4 x
    floor it is not."""
    floor = compare.FLOOR * _scale(base)
    assert _cmp(capsys, *_pair_at(base, tmp_path, 2 * floor, 1.6))[0] == 0
    assert _cmp(capsys, *_pair_at(base, tmp_path, 1e4 * floor, 1.6))[0] == 1


def test_turned_violated_counts_even_with_floor_level_slacks(base, tmp_path, capsys):
    old, new = _pair_at(base, tmp_path, 1e-16 * _scale(base), 1.0)
    data = json.loads(new.read_text())
    data["checks"][0]["verdict"] = "violated"
    new.write_text(json.dumps(data))
    code, out, _ = _cmp(capsys, old, new)
    assert code == 1 and "turned violated" in out


# --- --equal: the runs are equal up to rounding ----------------------------------------------------------------

def test_equal_identical_runs(base, capsys):
    code, out, _ = _cmp(capsys, base, base, "--equal", "--require-all")
    assert code == 0 and "every compared value identical" in out and "0 regressions" in out


def _mean_at(k: int, factor: float):
    def edit(rec: dict) -> None:
        rec["observed_mean"][k] *= factor
        rec["ci_lower"][k] *= factor
        rec["ci_upper"][k] *= factor
    return edit


def test_equal_catches_a_small_change_that_the_factor_misses(base, tmp_path, capsys):
    """A mean moved by 1e-4 relative (a subtly changed update) is far beyond rounding (measured <= 4e-11)."""
    edited = _edited(base, tmp_path, _mean_at(3, 1 + 1e-4))
    assert _cmp(capsys, base, edited)[0] == 0
    code, out, _ = _cmp(capsys, base, edited, "--equal")
    assert code == 1 and "differs beyond rounding: mean[T=" in out
    assert _cmp(capsys, base, edited, "--equal", "--rtol", "1e-3")[0] == 0


def test_equal_passes_rounding_level_differences(base, tmp_path, capsys):
    edited = _edited(base, tmp_path, _mean_at(3, 1 + 1e-9))
    code, out, _ = _cmp(capsys, base, edited, "--equal")
    assert code == 0 and "largest difference: gd-pl" in out and "mean" in out.split("largest difference:")[1]


def _run_value(value: float):
    def edit(rec: dict) -> None:
        rec["curve"]["runs"][0][-1] = value
    return edit


def test_equal_does_not_compare_values_at_the_floor(base, tmp_path, capsys):
    """A single run's value at 1e-16 x scale against 4e-16 x (floor 1e-12 x): not compared; at 1e-3 x: compared."""
    scale = _scale(base)
    for value, code in ((1e-16, 0), (1e-3, 1)):
        old = _edited(base, tmp_path, _run_value(value * scale), "old.json")
        new = _edited(base, tmp_path, _run_value(4 * value * scale), "new.json")
        assert _cmp(capsys, old, new, "--equal")[0] == code


def _other_verdict(rec: dict) -> str:
    return "inconclusive" if rec["verdict"] != "inconclusive" else "holds"


def test_equal_compares_verdicts_and_setup_exactly(base, tmp_path, capsys):
    rec = json.loads(base.read_text())["checks"][0]
    assert not compare.near_threshold(load_run(base)[1][0])
    for edit, what in ((lambda r: r.update(verdict=_other_verdict(r)), f"verdict {rec['verdict']} -> "),
                       (lambda r: r.update(seeds=r["seeds"] + 1), f"seeds {rec['seeds']} -> {rec['seeds'] + 1}"),
                       (lambda r: r["constants"]["L"].update(value=r["constants"]["L"]["value"] * 1.001),
                        "constants.L.value")):
        edited = _edited(base, tmp_path, edit)
        assert _cmp(capsys, base, edited)[0] == 0  # not regressions without --equal
        code, out, _ = _cmp(capsys, base, edited, "--equal")
        assert code == 1 and what in out, out


def test_a_verdict_within_rounding_of_its_threshold_is_noted_not_compared(base, tmp_path, capsys):
    """An upper confidence bound equal to the bound up to 1e-12: rounding alone can flip holds/inconclusive."""
    def at_threshold(rec: dict) -> None:
        rec["ci_upper"][2] = rec["bound"][2] * (1 - 1e-12)

    old = _edited(base, tmp_path, at_threshold, "old.json")
    new = _edited(old, tmp_path, lambda rec: rec.update(verdict=_other_verdict(rec)), "new.json")
    assert compare.near_threshold(load_run(old)[1][0])
    code, out, _ = _cmp(capsys, old, new, "--equal")
    assert code == 0 and "within rounding of its threshold, not compared" in out
    assert _cmp(capsys, base, _edited(base, tmp_path, lambda rec: rec.update(verdict=_other_verdict(rec))),
                "--equal")[0] == 1


def test_bad_rtol_exits_2_with_one_line(base, capsys):
    for bad in ("0", "1", "nan", "x"):
        code, out, err = _cmp(capsys, base, base, "--equal", "--rtol", bad)
        assert code == 2 and out == "" and "--rtol" in err and err.count("\n") == 1


def test_subset_run_against_the_full_suite_exits_0(quick, tmp_path, capsys):
    """A run of two of the quick suite's checks, compared with the full quick run: 14 missing, no regression."""
    full, _ = quick
    specs = [s for s in reference.quick_specs() if s.theorem in ("gd-pl", "ns-polyak")]
    subset = run_checks(specs, alpha=reference.ALPHA, seed=reference.SEED)
    path = _write(tmp_path / "subset.json", subset)
    code, out, _ = _cmp(capsys, full, path)
    n_full = len(reference.quick_specs())
    assert code == 0 and out.count("missing in NEW: ") == n_full - 2 and "0 regressions" in out
    assert "at floor, not compared" in next(line for line in out.splitlines() if line.startswith("ns-polyak"))
    assert _cmp(capsys, full, path, "--require-all")[0] == 1


# --- the quick suite and the reference report in reports/ ---------------------------------------------------

def _strip(data: dict) -> dict:
    """``results.json`` without what may change between identical runs: timings, date, commit."""
    data = json.loads(json.dumps(data))
    for key in ("date", "commit"):
        data["meta"].pop(key)
    for rec in data["checks"]:
        rec.pop("timings")
    return data


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("quickA"), tmp_path_factory.mktemp("quickB")
    reference.run_quick(a)
    reference.run_quick(b)
    return a, b


def test_quick_suite_is_every_tight_instance_with_64_runs():
    specs = reference.quick_specs()
    assert len({s.theorem for s in specs}) == len(specs) == 16 and {s.runs for s in specs} == {reference.RUNS}


def test_quick_suite_is_deterministic_except_timings(quick):
    a, b = quick
    assert _strip(json.loads((a / "results.json").read_text())) == _strip(json.loads((b / "results.json").read_text()))
    plots = sorted(p.name for p in (a / "plots").iterdir())
    assert len(plots) == 16
    for rel in (*(f"plots/{name}" for name in plots), report.SLACK_PLOT):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_quick_suite_matches_reference(quick, capsys):
    """CI: the committed reference report and a fresh quick run are equal up to rounding, by the rule of
    ``verify compare --equal --require-all`` (regenerate: python -m verify.reference)."""
    fresh, _ = quick
    ref = REPO / "reports"
    code, out, _ = _cmp(capsys, ref, fresh, "--equal", "--require-all")
    assert code == 0, out
    assert "0 missing in NEW, 0 new in NEW" in out and "values compared" in out
    for rel in ("index.md", "index.html", report.SLACK_PLOT):
        assert (ref / rel).is_file(), rel


def test_reference_rule_is_the_cli_rule(quick):
    """The same function decides for the test and the CLI: a run compared with itself compares every number."""
    fresh, _ = quick
    _, results = load_run(fresh)
    comparison = compare.compare_runs(results, results, equal=True, require_all=True)
    assert comparison.exit_status == 0 and comparison.worst is None
    assert sum(c.compared for c in comparison.changes) > 20000 and sum(c.at_floor for c in comparison.changes) > 0


def test_quick_specs_do_not_alias_tight():
    from verify.suite import TIGHT

    assert reference.quick_specs()[0] == replace(TIGHT["gd-nc"], runs=reference.RUNS)
