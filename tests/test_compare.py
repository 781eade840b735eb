"""`verify compare`: catches an edited bound and a broken algorithm, one-line errors, and the reference report."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pytest

from verify import compare, reference, report
from verify.check import CheckSpec, execute, prepare, with_scale
from verify.cli import _Parser
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


def _edited(base: Path, tmp_path: Path, edit) -> Path:
    data = json.loads(base.read_text())
    edit(data["checks"][0])
    out = tmp_path / "edited.json"
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


def test_disappeared_check_is_caught_and_a_new_one_is_not(base, tmp_path, capsys):
    data = json.loads(base.read_text())
    data["checks"] = data["checks"][:1]
    fewer = tmp_path / "fewer.json"
    fewer.write_text(json.dumps(data))
    code, out, _ = _cmp(capsys, base, fewer)
    assert code == 1 and "gone" in out
    code, out, _ = _cmp(capsys, fewer, base)
    assert code == 0 and "new" in out


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


def _close(x, y, path: str = "") -> None:
    if isinstance(x, dict):
        assert x.keys() == y.keys(), path
        for k in x:
            _close(x[k], y[k], f"{path}.{k}")
    elif isinstance(x, list):
        assert len(x) == len(y), path
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            _close(u, v, f"{path}[{i}]")
    elif isinstance(x, float) and isinstance(y, float):
        assert x == pytest.approx(y, rel=1e-9, abs=1e-300), path
    else:
        assert x == y, path


def test_quick_suite_matches_reference(quick, capsys):
    """CI: the committed reference report and a fresh quick run agree (regenerate: python -m verify.reference)."""
    fresh, _ = quick
    ref = REPO / "reports"
    code, out, _ = _cmp(capsys, ref, fresh)
    assert code == 0, out
    old, new = _strip(json.loads((ref / "results.json").read_text())), _strip(json.loads((fresh / "results.json")
                                                                                        .read_text()))
    for data in (old, new):
        for key in ("versions", "platform"):
            data["meta"].pop(key)
    _close(old, new)
    for rel in ("index.md", "index.html", report.SLACK_PLOT):
        assert (ref / rel).is_file(), rel


def test_quick_specs_do_not_alias_tight():
    from verify.suite import TIGHT

    assert reference.quick_specs()[0] == replace(TIGHT["gd-nc"], runs=reference.RUNS)
