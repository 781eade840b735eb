"""The report: a self-contained index.html, index.md with every plot, `verify report DIR`, atomic writes."""

from __future__ import annotations

import argparse
import base64
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
    assert set(names) <= set(by_alt) and "slack across theorems" in by_alt
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
    assert md.count("\n| `gd-") == 2 and "$$" in md


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
    for rel in ("index.html", "index.md", report.SLACK_PLOT, *(f"plots/{n}.png" for n in _names(run_dir))):
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
