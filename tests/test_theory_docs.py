"""The theory in the repository (issue 13): ``docs/theory.md``, the symbol meanings and ``verify show``.

* the project is self-contained: no file mentions a document outside the repository;
* every ``docs/theory.md §N`` that code or docs cite is a heading of ``docs/theory.md``;
* every symbol of ``theorems.symbols`` has one meaning, and the document's symbol table lists it;
* ``verify show ID`` defines every symbol it prints, for every registered theorem;
* the displayed statement is derived from the bound: editing the bound edits the statement.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
import sympy as sp

import theorems
from theorems import symbols
from theorems.record import MEASURE_LATEX, STEPSIZE_RULES, Theorem
from theorems.symbols import DESCRIPTIONS, latex
from verify.cli import main

ROOT = Path(__file__).resolve().parent.parent
THEORY = ROOT / "docs" / "theory.md"
#: Names of documents that live outside the repository (spelled in pieces so this file does not match).
OUTSIDE = ("THEOREMS" + ".md", "DESIGN" + ".md", "STYLE" + ".md", "../" + "shared", "/work/" + "shared")
#: Folders of tools and caches, not of the project.
SKIPPED_DIRS = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".mypy_cache"}
#: ``§5.3``, ``§5.8-5.9`` or ``§5.3–5.7`` after ``docs/theory.md``.
CITATION = re.compile(r"docs/theory\.md §(\d+(?:\.\d+)?)(?:\s*[–-]\s*(\d+(?:\.\d+)?))?")
SECTION_REF = re.compile(r"§(\d+(?:\.\d+)?)")
#: sympy's function names in printed expressions (not symbols).
FUNCTIONS = {"sqrt", "Min", "Max", "exp", "log"}


def _project_files() -> list[Path]:
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        out += [Path(folder) / name for name in files]
    return out


def _headings() -> set[str]:
    return set(re.findall(r"^#{1,6} (\d+(?:\.\d+)?) ", THEORY.read_text(encoding="utf-8"), flags=re.MULTILINE))


def test_no_file_mentions_a_document_outside_the_repository():
    files = _project_files()
    assert len(files) > 100  # the walk sees the project
    found = [f"{path.relative_to(ROOT)}: {name}" for path in files for name in OUTSIDE
             if name.encode() in path.read_bytes()]
    assert not found, found


def test_every_cited_section_is_a_heading_of_the_theory_document():
    headings = _headings()
    assert {"1.2", "2.2", "3.4", "5.0", "5.1", "5.9", "6"} <= headings
    cited: dict[str, set[str]] = {}
    for path in _project_files():
        if path.suffix not in (".py", ".md", ".toml"):
            continue
        for match in CITATION.finditer(path.read_text(encoding="utf-8", errors="replace")):
            for number in filter(None, match.groups()):
                cited.setdefault(number, set()).add(str(path.relative_to(ROOT)))
    assert len(cited) >= 12, sorted(cited)  # theorems/ and verify/ cite the document throughout
    missing = {n: sorted(where) for n, where in cited.items() if n not in headings}
    assert not missing, missing
    # the document's own cross-references too
    inner = set(SECTION_REF.findall(THEORY.read_text(encoding="utf-8")))
    assert inner - headings == set()


def test_every_theorem_has_its_section_and_reconstructed_ones_cite_it():
    text = THEORY.read_text(encoding="utf-8")
    section_heads = re.findall(r"^## 5\.\d .*$", text, flags=re.MULTILINE)
    for thm in theorems.registry().values():
        assert any(f"`{thm.id}`" in head for head in section_heads), thm.id
        if thm.provenance.tag == "reconstructed":
            assert CITATION.search(thm.provenance.source), (thm.id, thm.provenance.source)


def test_every_symbol_has_one_meaning_and_a_row_in_the_symbol_table():
    defined = {v.name for v in vars(symbols).values() if isinstance(v, sp.Symbol)}
    assert defined == set(DESCRIPTIONS)
    assert all(meaning.strip() for meaning in DESCRIPTIONS.values())
    table = THEORY.read_text(encoding="utf-8").split("## 1.2 ", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    in_table = {name for row in rows for name in re.findall(r"`([A-Za-z_0-9]+)`", row.split("|")[1])}
    assert set(DESCRIPTIONS) <= in_table, sorted(set(DESCRIPTIONS) - in_table)


def _record_symbols(thm: Theorem) -> set[str]:
    s = thm.one_step
    exprs = [thm.bound, *thm.stepsize_condition, s.phi, s.k, s.a, s.c, s.d, s.Phi0, s.progress, s.next_bound,
             *(e for _, e in thm.definitions), *(e for _, e in s.constraints)]
    if thm.gamma_max is not None:
        exprs.append(thm.gamma_max)
    return {sym.name for e in exprs for sym in sp.sympify(e).free_symbols}


def _identifiers(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text)) - FUNCTIONS


@pytest.mark.parametrize("thm_id", list(theorems.registry()))
def test_verify_show_defines_every_symbol_it_prints(thm_id, capsys):
    assert main(["show", thm_id]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = lines.index("symbols:")
    block = []
    for line in lines[start + 1:]:
        if not line.startswith("  ") or line.startswith("  ["):
            break
        block.append(line.strip())
    shown = dict(entry.split(": ", 1) for entry in block)
    assert all(shown[name] == DESCRIPTIONS[name] for name in shown)
    thm = theorems.registry()[thm_id]
    assert _record_symbols(thm) | {"Phi_t"} <= set(shown)
    # what the bound, condition, one-step and definitions lines print is defined
    printed = set()
    for line in lines[:start]:
        head, _, rest = line.partition(": ")
        if head == "bound":
            printed |= _identifiers(rest)
        elif head == "stepsize condition":
            printed |= _identifiers(rest.split("(gamma_max")[0]) - {"none"}
        elif head == "one step":
            inequality, _, tail = rest.partition("Phi = ")
            printed |= _identifiers(inequality.split("<=")[1])
            if ",  k = " in tail:
                printed |= _identifiers(tail.split(",  k = ")[1].split("  (")[0])
        elif head == "definitions":
            printed |= _identifiers(rest)
    assert printed and printed <= set(shown), sorted(printed - set(shown))


def test_the_statement_is_derived_from_the_bound_and_the_condition():
    assert "statement" not in {f.name for f in dataclasses.fields(Theorem)}  # nothing hand-written to go stale
    for thm in theorems.registry().values():
        statement = thm.statement
        assert statement.startswith(MEASURE_LATEX[thm.measure] + r" \le " + latex(thm.bound) + ",")
        for rel in thm.stepsize_condition:
            assert latex(rel.rhs) in statement, thm.id
        if thm.gamma_max is None:
            assert statement.endswith(STEPSIZE_RULES[thm.stepsize_rule])
        elif not thm.stepsize_condition:
            assert latex(thm.gamma_max) in statement
        # an edited bound shows at once, and the old one is gone
        edited = dataclasses.replace(thm, bound=thm.bound / 3)
        assert edited.statement != statement, thm.id
        assert edited.statement.startswith(MEASURE_LATEX[thm.measure] + r" \le " + latex(thm.bound / 3) + ","), thm.id


def test_a_stepsize_condition_not_of_the_form_gamma_le_g_is_refused():
    thm = theorems.registry()["gd-nc"]
    with pytest.raises(ValueError, match="gamma <= g"):
        dataclasses.replace(thm, stepsize_condition=(sp.Ge(symbols.gamma, 1 / symbols.L),))
    with pytest.raises(ValueError, match="adaptive stepsize rule"):
        dataclasses.replace(thm, gamma_max=None, stepsize_condition=(), stepsize_rule="armijo")
