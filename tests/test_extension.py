"""The method as the unit of extension (issue 13), checked by doing it: a toy theorem in an existing family
touches 1 file, a toy estimator with its theorem touches 3, and the suite runs them.

The guide is README.md's "Extending the suite".  Each test copies the package to a temporary folder, writes the
addition there, counts the files that differ from the original and runs ``verify run`` on the new theorem.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import theorems
from theorems.record import Case

ROOT = Path(__file__).resolve().parent.parent


def _copy(tmp: Path) -> Path:
    dst = tmp / "pkg"
    for part in ("verify", "theorems"):
        shutil.copytree(ROOT / part, dst / part, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _changed(copy: Path) -> list[str]:
    out = []
    for part in ("verify", "theorems"):
        for path in sorted((copy / part).rglob("*.py")):
            orig = ROOT / path.relative_to(copy)
            if not orig.exists() or not filecmp.cmp(orig, path, shallow=False):
                out.append(str(path.relative_to(copy)))
    return out


def _run(copy: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(copy))
    return subprocess.run([sys.executable, "-m", "verify.cli", *args], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=600)


TOY_THEOREM = '''

# a toy theorem in an existing family: gd-nc's record with the bound claimed 10x smaller, and its instance
import dataclasses as _dc  # noqa: E402

GD_NC_TOY = _dc.replace(GD_NC, id="gd-nc-toy", bound=GD_NC.bound / 10)
THEOREMS = (*THEOREMS, GD_NC_TOY)
CASES["gd-nc-toy"] = (Case("isotropic-quadratic:m=6,n=4", why="the toy: a bound 10x too small must be seen",
                           p=0.3, r=2, iters=40, tight=True),)
'''


def test_a_theorem_in_an_existing_family_is_one_file(tmp_path):
    copy = _copy(tmp_path)
    path = copy / "theorems" / "gd.py"
    path.write_text(path.read_text() + TOY_THEOREM)
    assert _changed(copy) == ["theorems/gd.py"]
    r = _run(copy, "run", "gd-nc-toy", "--seeds", "32", "--out", str(tmp_path / "out"))
    assert r.returncode == 1, r.stderr            # the toy bound is false, and the suite sees it
    assert "gd-nc-toy" in r.stdout and "violated" in r.stdout


TOY_ESTIMATOR = '''

@dataclass(frozen=True)
class TwoSampleSGD(SGD):
    """A toy estimator: SGD whose minibatch is twice ``batch`` (its theory constants follow from SGD's)."""

    name: ClassVar[str] = "sgd2"

    def _sample(self, problem, W, rng):
        return problem.stochastic_grad(W, problem.sample_xi(rng, W.shape[0], 2 * self.batch))

    def theory_constants(self, problem, needed, values, thm_id):
        return SGD(batch=2 * self.batch).theory_constants(problem, needed, values, thm_id)

    def exact_transition(self, quad):
        return SGD(batch=2 * self.batch).exact_transition(quad)


ESTIMATORS["sgd2"] = TwoSampleSGD
'''

TOY_MODULE = '''"""A toy theorem family: SGD with a doubled minibatch, through the shared unbiased builder."""

from theorems.builders import unbiased_pair
from theorems.record import Case, Provenance

SGD2_NC, SGD2_PL = unbiased_pair(
    ids=("sgd2-nc", "sgd2-pl"), refs=("toy", "toy"), title="toy two-sample SGD",
    provenance=Provenance("reconstructed", "a test of the extension guide"),
    assumptions=("smooth", "expected_smoothness"), estimator="sgd2", abc=None, doc=__doc__)
THEOREMS = (SGD2_NC, SGD2_PL)
CASES = {
    "sgd2-nc": (Case("isotropic-quadratic:m=6,n=4,sigma=0.3", why="toy", p=0.3, r=2, iters=40,
                     params=(("batch", 1),), tight=True),),
    "sgd2-pl": (Case("isotropic-quadratic:m=6,n=4,sigma=0.3", why="toy", p=0.3, r=2, iters=40,
                     params=(("batch", 1),), tight=True),),
}
'''


def test_an_estimator_with_its_theorems_is_three_files(tmp_path):
    copy = _copy(tmp_path)
    est = copy / "verify" / "estimators.py"
    text = est.read_text()
    est.write_text(text + TOY_ESTIMATOR)
    (copy / "theorems" / "toy_sgd2.py").write_text(TOY_MODULE)
    init = copy / "theorems" / "__init__.py"
    src = init.read_text()
    src = src.replace("from theorems import ef21, gd, marina, mvr, nonsmooth, page, qgd, sgd",
                      "from theorems import ef21, gd, marina, mvr, nonsmooth, page, qgd, sgd, toy_sgd2")
    src = src.replace("_MODULES = (gd, sgd, mvr, page, qgd, marina, ef21, nonsmooth)",
                      "_MODULES = (gd, sgd, mvr, page, qgd, marina, ef21, nonsmooth, toy_sgd2)")
    init.write_text(src)
    assert sorted(_changed(copy)) == ["theorems/__init__.py", "theorems/toy_sgd2.py", "verify/estimators.py"]
    r = _run(copy, "run", "sgd2-nc", "sgd2-pl", "--seeds", "64", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("holds") >= 2


def test_a_theorem_without_an_instance_is_an_error(monkeypatch):
    gd = theorems.gd
    monkeypatch.setattr(gd, "CASES", {k: v for k, v in gd.CASES.items() if k != "gd-pl"})
    with pytest.raises(ValueError, match="gd-pl"):
        theorems.cases()


def test_two_tight_instances_are_an_error(monkeypatch):
    gd = theorems.gd
    extra = Case("isotropic-quadratic", why="x", tight=True)
    monkeypatch.setattr(gd, "CASES", {**gd.CASES, "gd-pl": (*gd.CASES["gd-pl"], extra)})
    with pytest.raises(ValueError, match="2 of them tight"):
        theorems.cases()
