"""The pytest entry point for users' own theorems: ``verify.testing`` and the ``verify_check`` fixture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import theorems
from theorems.symbols import L, gamma
from verify.check import CheckSpec, prepare
from verify.errors import UserError
from verify.testing import assert_bound_holds, prepare_theorem

ROOT = Path(__file__).resolve().parents[1]
GD_NC = theorems.registry()["gd-nc"]
SMALL = {"problem": "isotropic-quadratic", "sketch": "gaussian", "p": 0.5, "r": 1, "runs": 64, "iters": 20,
         "lemma_states": 2, "lemma_samples": 50}


#: Runs pytest as if this package were not installed: its distribution is hidden from importlib.metadata,
#: so pytest finds no pytest11 entry point for it (the source tree is still importable from ROOT).
NOT_INSTALLED = """
import importlib.metadata as md, sys
_all = md.distributions
md.distributions = lambda **kw: [d for d in _all(**kw) if d.metadata["Name"] != "bernoulli-lora-verify"]
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def _pytest(tmp_path, *args, installed=True, env=None):
    """``python -m pytest ARGS`` in a subprocess, from ROOT (as the README says), with its own temp folders."""
    base = [sys.executable, "-m", "pytest"] if installed else [sys.executable, "-c", NOT_INSTALLED]
    return subprocess.run([*base, *args, "-p", "no:cacheprovider", "-q", "--basetemp", str(tmp_path / "base")],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


def test_example_user_test_fails_with_the_plot_path(tmp_path):
    """The README's command, ``python -m pytest -p verify.pytest_plugin examples/test_my_theorem.py``, with the
    package installed (its entry point loads the same plugin): 1 failed, 1 passed, exit 1 (not 3)."""
    example = str(ROOT / "examples" / "test_my_theorem.py")
    proc = _pytest(tmp_path, "-p", "verify.pytest_plugin", example)
    out = proc.stdout + proc.stderr
    assert "already registered" not in out
    assert proc.returncode == 1, out
    assert "1 failed, 1 passed" in out
    assert "test_my_wrong_bound_fails" in out and "verdict violated" in out and "slack 0." in out
    plot = re.search(r"plot: (\S+\.png)", out)
    assert plot is not None, out
    path = Path(plot.group(1))
    assert "my-wrong-gd-nc" in path.name
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_copy_of_a_registered_theorem_is_prepared_like_it():
    spec = CheckSpec("gd-nc", **SMALL)
    ref = prepare(spec)
    copy = prepare_theorem(replace(GD_NC, id="copy-gd-nc"), spec)
    assert copy.theorem.id == "copy-gd-nc" and copy.spec.theorem == "copy-gd-nc"
    assert copy.gamma == ref.gamma and copy.conditions_met
    assert {k: v.value for k, v in copy.constants.items()} == {k: v.value for k, v in ref.constants.items()}


def test_the_users_stepsize_condition_is_used_not_the_template():
    half = replace(GD_NC, id="half-step", stepsize_condition=(gamma <= 1 / (2 * L),), gamma_max=1 / (2 * L))
    spec = CheckSpec("ignored", **SMALL)
    prep = prepare_theorem(half, spec)
    assert prep.gamma == pytest.approx(0.5 * prepare(replace(spec, theorem="gd-nc")).gamma)
    assert prep.stepsize.gamma == prep.gamma
    with pytest.raises(UserError, match="violates the stepsize condition of 'half-step'"):
        prepare_theorem(half, replace(spec, gamma_factor=1.5))


def test_registered_id_passes_and_returns_the_result(tmp_path):
    res = assert_bound_holds("gd-nc", out=tmp_path, **SMALL)
    assert res.verdict == "holds" and res.slack > 1
    assert len(list(tmp_path.glob("gd-nc__*.png"))) == 1


def test_wrong_constant_raises_with_verdict_slack_and_plot(tmp_path):
    wrong = replace(GD_NC, id="wrong", bound=GD_NC.bound / 2)
    with pytest.raises(AssertionError) as info:
        assert_bound_holds(wrong, out=tmp_path, **SMALL)
    msg = str(info.value)
    assert "verdict violated" in msg and "slack" in msg
    path = Path(msg.rsplit("plot: ", 1)[1])
    assert path.exists() and path.parent == tmp_path


def test_unknown_estimator_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown estimator 'nope': allowed are gd"):
        assert_bound_holds(replace(GD_NC, id="x", estimator="nope"), out=tmp_path, **SMALL)


def test_installed_entry_point_names_the_plugin():
    eps = [ep for ep in entry_points(group="pytest11") if ep.value == "verify.pytest_plugin"]
    if not eps:
        pytest.skip("the pytest11 entry point is not installed (pyproject: [project.entry-points.pytest11])")
    assert eps[0].load().verify_check is not None
    assert [ep.name for ep in eps] == ["verify.pytest_plugin"]  # so that -p verify.pytest_plugin names it too


def _legacy_entry_point(tmp_path) -> dict[str, str]:
    """A distribution declaring the old entry point ``verify = verify.pytest_plugin`` (a stale install)."""
    info = tmp_path / "legacy" / "verify_legacy-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: verify-legacy\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nverify = verify.pytest_plugin\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(info.parent), os.environ.get("PYTHONPATH")]))}


@pytest.mark.parametrize(("case", "args"), [
    ("installed, no -p", []),
    ("installed, -p", ["-p", "verify.pytest_plugin"]),
    ("not installed, -p", ["-p", "verify.pytest_plugin"]),
    ("stale entry point named verify, -p", ["-p", "verify.pytest_plugin"]),
])
def test_the_plugin_loads_once_with_or_without_the_install(tmp_path, case, args):
    """The fixture is there exactly once whether the plugin comes from the entry point, from -p, or both."""
    env = _legacy_entry_point(tmp_path) if case.startswith("stale") else None
    example = str(ROOT / "examples" / "test_my_theorem.py")
    proc = _pytest(tmp_path, *args, "--fixtures", example, installed=not case.startswith("not"), env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "already registered" not in out, out
    assert len(re.findall(r"^verify_check\b", proc.stdout, flags=re.MULTILINE)) == 1, out
