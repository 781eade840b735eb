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


def test_example_user_test_fails_with_the_plot_path(tmp_path):
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # load the plugin once, by -p
    example = str(ROOT / "examples" / "test_my_theorem.py")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "verify.pytest_plugin", "-p", "no:cacheprovider", "-q",
         "--basetemp", str(tmp_path / "base"), "--rootdir", str(tmp_path), example],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    out = proc.stdout + proc.stderr
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
