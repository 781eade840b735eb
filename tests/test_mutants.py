"""The mutation catalog of ``benchmarks/mutants.py`` (project issue 12, item 6).

Fast: every mutant still applies to the current sources (its old text occurs exactly once), the ids are
unique, the fields are sensible, and applying a mutant to a copy of the package changes exactly one file.
Slow: the whole catalog against the built-in suite catches at least the fraction recorded in the latest
table of ``benchmarks/README.md`` (a regression guard, not the goal).
"""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest
from bench_module import loaded

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mutants():
    with loaded("mutants") as module:
        yield module


def test_catalog_has_at_least_30_mutants_with_unique_ids(mutants):
    ids = [m.id for m in mutants.CATALOG]
    assert len(ids) >= 30
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)


def test_every_mutant_is_well_formed(mutants):
    for m in mutants.CATALOG:
        assert m.category in mutants.CLASSES, m
        assert m.file.split("/")[0] in mutants.PACKAGE, m
        assert m.old != m.new and m.old, m
        assert m.why.strip(), m
    # every class of the catalog is used
    assert {m.category for m in mutants.CATALOG} == set(mutants.CLASSES)


def test_every_mutant_old_text_occurs_exactly_once_in_the_current_sources(mutants):
    wrong = {m.id: mutants.occurrences(m, ROOT) for m in mutants.CATALOG if mutants.occurrences(m, ROOT) != 1}
    assert not wrong, f"old text not found exactly once (id: count); update the catalog: {wrong}"


def test_every_theorem_family_has_a_rate_and_a_constant_mutant(mutants):
    theorem_files = {m.file for m in mutants.CATALOG if m.category == "theorems"}
    for family in ("gd", "qgd", "mvr", "page", "marina", "ef21", "nonsmooth", "builders"):
        assert f"theorems/{family}.py" in theorem_files, family
    ids = {m.id for m in mutants.CATALOG}
    for fam in ("gd-pl", "sgd-pl", "qgd", "mvr", "page", "marina", "ef21", "ns-const", "ns-polyak"):
        assert any(i.startswith(fam) and "rate" in i for i in ids), fam
    for fam in ("gd-nc", "sgd-nc", "qgd", "mvr", "page", "marina", "ef21", "ns-const", "ns-polyak"):
        assert any(i.startswith(fam) and ("constant" in i or "halved" in i) for i in ids), fam


def _differing_files(a: Path, b: Path) -> list[str]:
    """Relative paths of the files that differ (or exist on one side only) between two trees."""
    out = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        out.extend(prefix + name for name in cmp.diff_files + cmp.left_only + cmp.right_only + cmp.funny_files)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(a, b, ignore=["__pycache__"]), "")
    return sorted(out)


def test_applying_a_mutant_to_a_copy_changes_exactly_one_file(mutants, tmp_path):
    # one snapshot of the checkout, so that concurrent edits of the working tree cannot show up as changes
    clean = mutants.copy_package(tmp_path / "clean")
    for m in mutants.CATALOG:
        pkg = mutants.copy_package(tmp_path / m.id, src=clean)
        before = (pkg / m.file).read_text(encoding="utf-8")
        assert mutants.apply_mutant(m, pkg) == pkg / m.file
        after = (pkg / m.file).read_text(encoding="utf-8")
        assert after != before and after.count(m.new) >= 1, m.id
        filecmp.clear_cache()
        assert _differing_files(clean, pkg) == [m.file], m.id
        assert (clean / m.file).read_text(encoding="utf-8") == before, m.id  # the source copy is untouched


def test_a_mutant_that_no_longer_applies_fails_loudly(mutants, tmp_path):
    pkg = mutants.copy_package(tmp_path / "pkg")
    m = mutants.CATALOG[0]
    mutants.apply_mutant(m, pkg)
    with pytest.raises(mutants.CatalogError, match="occurs 0 times"):
        mutants.apply_mutant(m, pkg)  # already applied: the old text is gone
    twice = mutants.Mutant("twice", m.category, m.file, m.new + m.new, m.old, "test")
    (pkg / m.file).write_text((pkg / m.file).read_text() + m.new + m.new + m.new + m.new)
    with pytest.raises(mutants.CatalogError, match="need exactly 1"):
        mutants.apply_mutant(twice, pkg)
    with pytest.raises(mutants.CatalogError, match="unknown mutant"):
        mutants.by_id(["no-such-mutant"])


def test_detections_name_the_check_and_how(mutants):
    base = {"theorem": "gd-pl", "problem": "least-squares", "sketch": "gaussian", "verdict": "holds", "reason": "",
            "diverged_at": None, "lemma": {"verdict": "holds"}}
    recs = [
        base,
        base | {"verdict": "violated", "reason": "lower confidence bound 2 > bound 1",
                "lemma": {"verdict": "violated"}},
        base | {"theorem": "gd-nc", "sketch": "haar", "verdict": "violated",
                "reason": "one-step inequality violated: ...", "lemma": {"verdict": "violated"}},
        base | {"theorem": "ns-const", "verdict": "violated", "diverged_at": 7, "reason": "divergence: ..."},
        base | {"theorem": "sgd-nc", "verdict": "violated", "reason": "model check: the runs are not the method",
                "exact": {"slack": 1.3, "model": {"verdict": "too_fast"}, "certificate": {"holds": True}}},
        base | {"theorem": "sgd-pl", "exact": {"slack": 1.1, "model": {"verdict": "agrees"}}},
        base | {"theorem": "mvr-pl", "verdict": "violated", "reason": "the exact expectation 2 exceeds the bound 1",
                "exact": {"slack": 0.5, "model": {"verdict": "agrees"}, "certificate": {"holds": False}}},
        base | {"theorem": "page-pl", "model_check": {"verdict": "too_slow"}},
    ]
    assert mutants.detections(recs) == [
        ("gd-pl/least-squares", "bound+one-step"), ("gd-nc/least-squares/haar", "one-step"),
        ("ns-const/least-squares", "divergence"), ("sgd-nc/least-squares", "model"),
        ("mvr-pl/least-squares", "exact-bound+certificate"), ("page-pl/least-squares", "model")]
    assert mutants.model_checked(recs) == 4 and mutants.model_checked(recs[:4]) == 0


SECTION = "## Mutation catalog (issue 12, item 6)"


def _latest_recorded_fraction() -> tuple[int, int]:
    """``(K, N)`` of the last 'caught K of N (P %)' line of the mutation section of benchmarks/README.md."""
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert SECTION in text, f"benchmarks/README.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"caught (\d+) of (\d+) \(", section)
    assert found, "the mutation section of benchmarks/README.md has no 'caught K of N (P %)' line"
    k, n = found[-1]
    return int(k), int(n)


def test_readme_records_a_catalog_run(mutants):
    k, n = _latest_recorded_fraction()
    assert 0 <= k <= n and n >= 30


@pytest.mark.slow
def test_catalog_caught_fraction_does_not_regress(mutants):
    """The whole catalog against the built-in suite (about an hour on 2 loaded cores) catches at least the
    fraction of the latest table in benchmarks/README.md.

    This guards against regressions only.  The issue's target is 90 %; the recorded baseline is lower because
    one-sided verdicts cannot see a method that converges faster than it should, which the exact two-sided
    model checks (verify/exact/) are being added to detect.
    """
    k, n = _latest_recorded_fraction()
    run = mutants.run_catalog(mutants.CATALOG, jobs=2)
    assert run.caught / len(run.results) >= k / n - 1e-12, mutants.markdown(run)
