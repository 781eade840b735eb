"""The report: a self-contained index.html, index.md with every plot, `verify report DIR`, atomic writes."""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from verify import report
from verify.check import CheckSpec
from verify.errors import UserError
from verify.results_io import load_run
from verify.suite import run_checks

SPECS = [
    CheckSpec("gd-pl", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=16, iters=20, lemma_states=2,
              lemma_samples=20),
    CheckSpec("gd-nc", "isotropic-quadratic", "degenerate", p=0.5, r=2, runs=8, iters=20, lemma_states=0),
]
PNG = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Collects imgs, links and the summary table's body rows."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str]] = []
        self.urls: list[str] = []
        self.summary_rows = 0
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.urls += [a[k] for k in ("src", "href") if k in a]
        if tag == "img":
            self.imgs.append(a)
        elif tag == "table":
            self._table = a.get("class")
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table == "summary":
            self.summary_rows += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    results = run_checks(SPECS, alpha=1e-3, seed=3)
    report.write_report(out, results, seed=3, alpha=1e-3)
    return out


def _names(out: Path) -> list[str]:
    return [report.check_name(r) for r in load_run(out)[1]]


def test_html_is_self_contained_with_every_plot(run_dir):
    page = _Page()
    page.feed((run_dir / "index.html").read_text(encoding="utf-8"))
    names = _names(run_dir)
    assert page.summary_rows == len(names) == 2
    by_alt = {img["alt"]: img["src"] for img in page.imgs}
    assert set(names) <= set(by_alt) and "slack across checks" in by_alt
    for src in by_alt.values():
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    assert page.urls and not [u for u in page.urls if re.match(r"(?i)\s*(https?:)?//", u)]
    assert "<script" not in (run_dir / "index.html").read_text(encoding="utf-8")


def test_markdown_lists_every_plot_and_the_files_exist(run_dir):
    md = (run_dir / "index.md").read_text(encoding="utf-8")
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert set(linked) == {f"plots/{n}.png" for n in _names(run_dir)} | {report.SLACK_PLOT}
    for rel in linked:
        assert (run_dir / rel).read_bytes().startswith(PNG)
    assert md.count("\n| `gd-") == 2 + 2 and "$$" in md  # a row per check and a row per theorem


def test_not_applicable_check_has_no_slack_but_a_plot(run_dir):
    meta, results = load_run(run_dir)
    na = [r for r in results if r.verdict == "not_applicable"]
    assert len(na) == 1 and na[0].slack is None and (run_dir / f"plots/{report.check_name(na[0])}.png").exists()


def _report_args(path: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    report.add_report_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", str(path)])


def test_report_command_rerenders_the_same_report(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.json").write_bytes((run_dir / "results.json").read_bytes())
    args = _report_args(copy)
    assert args.func(args) == 0
    drawn = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                   if p.suffix in (".png", ".pdf", ".svg"))
    assert {f"plots/{n}.png" for n in _names(run_dir)} | {f"figures/{n}.pdf" for n in _names(run_dir)} <= set(drawn)
    assert {"figures/all-checks.pdf", "figures/all-checks.png", "figures/slack.pdf"} <= set(drawn)
    for rel in ("index.html", "index.md", *drawn):
        assert (copy / rel).read_bytes() == (run_dir / rel).read_bytes(), rel
    assert "index.html" in capsys.readouterr().out
    args = _report_args(copy / "results.json")  # a results.json names its folder
    assert args.func(args) == 0


@pytest.mark.parametrize("content, key", [("{not json", "not valid JSON"), ('{"meta": {}}', "'checks'"),
                                          ('{"meta": {"seed": 0, "alpha": 0.001}, "checks": [{}]}', "'theorem'")])
def test_report_bad_results_is_one_line_and_leaves_the_report(run_dir, tmp_path, content, key):
    (tmp_path / "index.html").write_text("old")
    (tmp_path / "results.json").write_text(content)
    args = _report_args(tmp_path)
    with pytest.raises(UserError) as err:
        args.func(args)
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "results.json") in msg and key in msg
    assert (tmp_path / "index.html").read_text() == "old"


def test_missing_folder_is_a_user_error(tmp_path):
    args = _report_args(tmp_path / "nowhere")
    with pytest.raises(UserError, match="nowhere"):
        args.func(args)


def test_failure_while_drawing_leaves_the_existing_report_whole(run_dir, tmp_path, monkeypatch):
    meta, results = load_run(run_dir)
    report.render(tmp_path, results, meta)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full while drawing")

    monkeypatch.setattr("verify.render_html.html_report", broken)
    with pytest.raises(RuntimeError):
        report.render(tmp_path, results[::-1], {**meta, "seed": 99})
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_results_json_round_trips(run_dir):
    meta, results = load_run(run_dir)
    data = json.loads((run_dir / "results.json").read_text())
    assert json.loads(report.results_bytes(results, meta)) == data


def test_rerender_reuses_unchanged_figures_and_redraws_changed_ones(run_dir, tmp_path, monkeypatch):
    """A figure whose data are unchanged is read back, not drawn; a changed check is redrawn; figures of checks
    no longer in the report are removed (plots/ holds exactly one PNG per check)."""
    from verify import figures

    meta, results = load_run(run_dir)
    report.render(tmp_path, results, meta)
    drawn: list[str] = []
    real = figures.check_files
    monkeypatch.setattr(figures, "check_files", lambda res: drawn.append(res.theorem) or real(res))
    report.render(tmp_path, results, meta)
    assert drawn == []
    changed = dataclasses.replace(results[0], slack=0.5)
    report.render(tmp_path, [changed], meta)
    assert drawn == [changed.theorem]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [f"{report.check_name(changed)}.png"]
    hashes = json.loads((tmp_path / report.HASHES).read_text())
    assert f"plots/{report.check_name(changed)}.png" in hashes and not any(
        report.check_name(results[1]) in rel for rel in hashes)


def _visible_text(html: str) -> str:
    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self._skip = 0

        def handle_starttag(self, tag, attrs):
            self._skip += tag in ("style", "svg")

        def handle_endtag(self, tag):
            self._skip -= tag in ("style", "svg")

        def handle_data(self, data):
            if not self._skip:
                self.parts.append(data)

    parser = Text()
    parser.feed(html)
    return " ".join(parser.parts)


def test_no_python_leaks_or_latex_source_in_the_text(run_dir):
    """No ``None``/``nan`` or LaTeX source is shown (the not-applicable check has no slack and no slack_T)."""
    html = (run_dir / "index.html").read_text(encoding="utf-8")
    text = _visible_text(html)
    assert not re.search(r"\bNone\b|\bnan\b|\\frac|\\mathbb|\\lambda", text), text
    assert html.count('<div class="formula"><svg') == 2  # gd-pl and gd-nc: each theorem's bound drawn once
    md = (run_dir / "index.md").read_text(encoding="utf-8")
    assert not re.search(r"\bNone\b|\bnan\b", md)
    assert "## Figures for a paper" in md and "figures/all-checks.pdf" in md


def test_tables_tell_checks_apart():
    """Two checks of one theorem on one problem differ in a column of the table (compressor, q, b′, R, T)."""
    from types import SimpleNamespace

    from verify import tables

    base = dict(theorem="qgd-nc", problem="federated-ls", sketch="gaussian", p=0.5, r=2, seeds=64, iters=100)
    a = SimpleNamespace(**base, params={"compressor": "rand-k:k=24"})
    b = SimpleNamespace(**base, params={"compressor": "dither:s=4"})
    c = SimpleNamespace(**{**base, "iters": 200}, params={"compressor": "rand-k:k=24"})
    labels = {tables.check_label(x) for x in (a, b, c)}
    assert len(labels) == 3
    assert tables.parameters_text(SimpleNamespace(params={"q": 0.5, "batch_prime": 4})) == "q=0.5, b′=4"
    assert tables.parameters_text(SimpleNamespace(params={})) == "–"
    names = [c.header for c in tables.COLUMNS]
    assert {"parameters", "runs R", "T", "p", "r"} <= set(names)


def test_cli_summary_names_parameters_and_reasons(run_dir):
    from verify import tables

    _, results = load_run(run_dir)
    text = tables.summary_text(results)
    header, rule, *rows = text.splitlines()
    assert "parameters" in header and "runs R" in header and set(rule) == {"-"}
    assert rows[0].startswith("gd-pl") and "None" not in text and "nan" not in text


@pytest.mark.parametrize("alpha_each, text", [(1e-6, "99.9998 % confidence band"), (0.025, "95.0 % confidence band"),
                                              (1.1574e-6, "99.9998 % confidence band")])
def test_band_label_in_words(alpha_each, text):
    from verify.figures import band_label

    assert band_label(alpha_each) == text


def test_y_limits_clip_an_exploding_bound_and_keep_the_observed_curve():
    import numpy as np

    from verify.figures import HEADROOM_DECADES, y_limits

    observed = np.array([20.0, 18.0, 17.0])
    bottom, top, clip = y_limits([observed], np.array([30.0, 1e5, 1e33]))
    assert clip == top == pytest.approx(20.0 * 10**HEADROOM_DECADES) and bottom < 17
    bottom, top, clip = y_limits([observed], np.array([30.0, 25.0, 21.0]))
    assert clip is None and top > 30


def test_every_theorem_formula_renders_or_reads_as_text():
    """Every theorem's LaTeX is drawn by mathtext; its plain-text form holds no backslash command."""
    pytest.importorskip("matplotlib")
    import theorems
    from verify import mathsvg

    for thm in theorems.registry().values():
        svg = mathsvg.svg(thm.statement)
        assert svg is not None and svg.startswith(b"<svg") and b"<path" in svg, thm.id
        assert b"scale(0.015625)" in svg  # glyphs in 1/64 font units: minifying must not round their scale
        assert "\\" not in mathsvg.plain_text(thm.statement), thm.id
    assert mathsvg.svg(r"\frac{1}{") is None  # unparseable: the report falls back to the text
    assert mathsvg.plain_text(r"\frac1T\sum_{t=0}^{T-1} \le \sqrt{b'}\,\lambda_{\min}^p") == "1/T Σₜ₌₀ᵀ⁻¹ ≤ √b' λₘᵢₙᵖ"


def test_worst_case_tightness_is_the_smallest_finite_ratio(monkeypatch):
    import sys
    import types

    from verify import tables

    rows = [{"theorem": "gd-nc", "p": 0.5, "T": 4, "ratio": 1.3, "initial": "telescoped"},
            {"theorem": "gd-nc", "p": 0.3, "T": 8, "ratio": 1.02, "initial": "telescoped"},
            {"theorem": "gd-nc", "p": 0.3, "T": 2, "ratio": None, "initial": "telescoped"}]
    fake = types.ModuleType("verify.pep")
    fake.cached_tightness = lambda tid: [r for r in rows if r["theorem"] == tid]
    monkeypatch.setitem(sys.modules, "verify.pep", fake)
    assert tables.worst_case_text("gd-nc") == "1.02 (p=0.3, T=8, telescoped)"
    assert tables.worst_case_text("gd-pl") == "–"
    monkeypatch.setitem(sys.modules, "verify.pep", None)  # the module is absent: import fails
    assert tables.worst_case_text("gd-nc") == "–"


def test_formula_rendering_survives_a_working_directory_with_font_named_entries(tmp_path, monkeypatch):
    """matplotlib looks mathtext fonts up by bare names ("bb" for \\mathbb), which resolve against the working
    directory: an entry of that name there must not crash the report (the formula falls back to text)."""
    pytest.importorskip("matplotlib")
    from verify import mathsvg

    for name in ("bb", "cal", "rm", "it", "tt", "sf"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    mathsvg.svg.cache_clear()
    out = mathsvg.svg(r"\mathbb{E}\,\|\nabla f(W^T)\|^2 \le \frac{2\Delta_0}{\gamma T}")
    assert out is None or out.startswith(b"<svg")
    mathsvg.svg.cache_clear()
