"""A user's own problem end to end (issue 13): a file outside the package with plain numpy f and grad on one
matrix goes through ``verify assumptions`` and ``verify run --problem FILE:FACTORY``.

``examples/logreg.py`` is multinomial logistic regression with ridge: L, mu and f* declared with how they
were obtained (holds, small slack); undeclared and estimated (marked conditional); L declared 4x too small
(violated: the audit's secant witness contradicts it).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from verify import problems
from verify.check import CheckSpec, execute, prepare
from verify.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
FILE = ROOT / "examples" / "logreg.py"
FAST = ["--seeds", "32", "--iters", "40", "--alpha", "1e-3"]


def _verify(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def _results(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["checks"]


def test_file_factory_is_a_problem_with_declared_constants():
    p = problems.make(f"{FILE}:make_problem")
    assert p.shape == (5, 3)
    assert {"L", "mu", "f_star"} <= set(p.constants)
    assert p.constants["L"].kind == "upper" and p.constants["mu"].kind == "lower"
    assert "declared by the user" in p.constants["L"].how
    W = np.random.default_rng(0).standard_normal((3, 5, 3))
    assert p.f(W).shape == (3,) and p.grad(W).shape == (3, 5, 3)
    again = pickle.loads(pickle.dumps(p))       # worker processes rebuild it from its spec
    assert np.allclose(again.f(W), p.f(W))


@pytest.mark.parametrize("spec,message", [
    ("no/such/file.py:make_problem", "does not exist"),
    (f"{FILE}:no_such_factory", "no attribute"),
    ("no_such_module_xyz:make", "cannot import"),
])
def test_bad_user_spec_is_one_line_error(spec, message):
    with pytest.raises(UserError, match=message):
        problems.make(spec)


def test_declared_constants_hold_and_a_wrong_L_is_violated():
    good = execute(prepare(CheckSpec("gd-pl", f"{FILE}:make_problem", p=0.7, r=1, runs=32, iters=40)), 0, 1e-3)
    assert good.verdict == "holds" and good.slack < 2
    assert not good.conditional
    bad = execute(prepare(CheckSpec("gd-nc", f"{FILE}:make_problem_wrong_L", p=0.7, r=1, runs=32, iters=40)), 0,
                  1e-3)
    assert bad.verdict == "violated"
    assert "certified constant L" in bad.reason


def test_cli_assumptions_then_run_declared_estimated_and_wrong(tmp_path):
    a = _verify("assumptions", f"{FILE}:make_problem", "--json", cwd=tmp_path)
    assert a.returncode == 0, a.stderr
    assert {"gd-nc", "gd-pl"} <= set(json.loads(a.stdout)["applicable_theorems"])

    run = _verify("run", "gd-nc", "gd-pl", "--problem", f"{FILE}:make_problem", "--sketch", "gaussian", "--p", "0.7",
                  "--r", "1", *FAST, "--out", str(tmp_path / "declared"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "applied to its" in run.stderr          # says which suite instances --problem changed
    checks = _results(tmp_path / "declared")
    assert {c["verdict"] for c in checks} <= {"holds", "inconclusive"}
    assert all(not c["conditional"] for c in checks)

    est = _verify("run", "gd-pl", "--problem", f"{FILE}:make_problem_undeclared", "--estimate-constants",
                  "--sketch", "gaussian", "--p", "0.7", "--r", "1", *FAST, "--out", str(tmp_path / "estimated"),
                  cwd=tmp_path)
    assert est.returncode in (0, 1), est.stderr
    checks = _results(tmp_path / "estimated")
    assert all(c["conditional"] for c in checks)
    assert all(c["reason"].startswith("conditional on estimated constants") for c in checks)

    wrong = _verify("run", "gd-nc", "--problem", f"{FILE}:make_problem_wrong_L", "--sketch", "gaussian", "--p", "0.7",
                    "--r", "1", *FAST, "--out", str(tmp_path / "wrong"), cwd=tmp_path)
    assert wrong.returncode == 1
    assert all(c["verdict"] == "violated" for c in _results(tmp_path / "wrong"))


def test_undeclared_constants_without_estimates_are_a_one_line_error(tmp_path):
    r = _verify("run", "gd-nc", "--problem", f"{FILE}:make_problem_undeclared", *FAST, "--out", str(tmp_path / "o"),
                cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "f_star" in r.stderr


def test_estimates_are_refused_for_a_built_in_problem():
    with pytest.raises(UserError, match="certified"):
        prepare(CheckSpec("gd-nc", "isotropic-quadratic", estimate_constants=True))
