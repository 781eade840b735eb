"""A self-contained HTML report: inline CSS, plots as PNG data URIs, formulas as inline SVG.

The page needs no network and runs no script: nothing is loaded from ``src``/``href`` but ``data:`` URIs and
in-page anchors.  It has a table of contents, the per-check table of ``index.md`` (one ``<tr>`` per check in
the ``<tbody>`` of ``table.summary``) with a legend of its figures, a per-theorem table, the slack plot, then one
section per theorem: its bound drawn as SVG (:mod:`verify.mathsvg`; a formula mathtext cannot draw is shown
as readable plain text, never as LaTeX source) and one card per check with its verdict, one-step check,
constants (folded) and plot (``<img alt=NAME>`` where NAME is :func:`verify.report.check_name`).  The formulas'
glyphs are defined once for the whole page: every SVG that matplotlib writes defines the glyphs it uses under
ids such as ``DejaVuSans-3e`` (font and code point), so a later definition of the same id is dropped.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from verify import tables
from verify.check import CheckResult
from verify.mathsvg import plain_text
from verify.wording import check_name, fmt_num, lemma_sentence, verdict_label, verdict_text

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1360px;
       color: #222; line-height: 1.4; padding: 0 1em 2em; }
h1 { margin-bottom: 0.2em; }
nav.toc { background: #f6f8fa; border: 1px solid #ddd; padding: 0.4em 1em; margin: 1em 0; font-size: 0.9em; }
nav.toc ol { margin: 0.2em 0; padding-left: 1.4em; columns: 3; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.4em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.wide { overflow-x: auto; }
dl.notes { font-size: 0.8em; color: #444; display: grid; grid-template-columns: max-content 1fr; gap: 0 0.8em; }
dl.notes dt { font-weight: bold; } dl.notes dd { margin: 0; }
.verdict-holds { color: #17692a; font-weight: bold; }
.verdict-violated { color: #b00020; font-weight: bold; }
.verdict-inconclusive { color: #8a5a00; font-weight: bold; }
.verdict-not_applicable { color: #555; font-weight: bold; }
.formula { margin: 0.6em 0; overflow-x: auto; }
.formula svg { max-width: 100%; height: auto; }
.formula-text { font-family: "STIX Two Math", "Cambria Math", serif; font-size: 1.05em; }
section.theorem { border-top: 2px solid #ccc; margin-top: 1.6em; }
article.check { border: 1px solid #e2e2e2; border-radius: 4px; padding: 0.5em 0.8em; font-size: 0.9em;
                margin: 0.8em 0; display: grid; grid-template-columns: minmax(280px, 1fr) auto; gap: 0 1.2em; }
article.check h3 { font-size: 1em; margin: 0.2em 0 0.4em; grid-column: 1 / -1; }
article.check p { margin: 0.3em 0; }
article.check img { width: 544px; }
@media (max-width: 900px) { article.check { grid-template-columns: 1fr; } }
img { max-width: 100%; height: auto; }
details summary { cursor: pointer; color: #345; }
"""


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(name: str, png: bytes, title: str) -> str:
    return f'<img id="plot-{escape(name)}" alt="{escape(name)}" title="{escape(title)}" src="{data_uri(png)}">'


def _verdict(res: CheckResult) -> str:
    return f'<span class="verdict-{escape(res.verdict)}">{escape(verdict_label(res))}</span>'


def _anchor(theorem: str) -> str:
    return f"theorem-{theorem}"


def _summary_row(res: CheckResult, cells: list[str]) -> str:
    name = check_name(res)
    html = [escape(c) for c in cells]
    html[0] = f'<a href="#{escape(name)}"><code>{html[0]}</code></a>'
    html[1] = f"<code>{html[1]}</code>"
    html[9] = _verdict(res)
    tds = "".join(f'<td class="num">{c}</td>' if col.numeric else f"<td>{c}</td>"
                  for c, col in zip(html, tables.COLUMNS, strict=True))
    return f'<tr data-check="{escape(name)}">{tds}</tr>'


def _notes(names: Sequence[str]) -> str:
    notes = dict(tables.COLUMN_NOTES)
    return '<dl class="notes">' + "".join(f"<dt>{escape(n)}</dt><dd>{escape(notes[n])}</dd>" for n in names) + "</dl>"


def summary_table(results: Sequence[CheckResult]) -> str:
    """The per-check table: one row per check, with the parameters that tell checks apart."""
    head = "".join(f"<th>{escape(c.header)}</th>" for c in tables.COLUMNS)
    body = "\n".join(_summary_row(r, cells) for r, cells in zip(results, tables.rows(results), strict=True))
    return (f'<div class="wide"><table class="summary">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
            "</tbody>\n</table></div>")


def theorem_table(results: Sequence[CheckResult]) -> str:
    """One row per theorem: paper reference, provenance, measure, verdict counts, smallest slack and the
    worst-case tightness from performance estimation (``–`` where there is none)."""
    head = "".join(f"<th>{h}</th>" for h in ("theorem", "paper", "provenance", "measure", "checks", "verdicts",
                                              "smallest slack", "worst-case tightness"))
    rows = []
    for row in tables.by_theorem(results):
        rows.append(f'<tr><td><a href="#{_anchor(row.theorem)}"><code>{escape(row.theorem)}</code></a></td>'
                    f"<td>{escape(row.paper_ref)}</td><td>{escape(row.provenance)}</td>"
                    f"<td><code>{escape(row.measure)}</code></td><td class=\"num\">{len(row.checks)}</td>"
                    f"<td>{escape(row.verdicts)}</td><td class=\"num\">{fmt_num(row.smallest_slack)}</td>"
                    f"<td class=\"num\">{escape(tables.worst_case_text(row.theorem))}</td></tr>")
    return f'<table class="theorems"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _constants(res: CheckResult) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td class=\"num\">{fmt_num(v['value'], '.6g')}</td>"
                   f"<td>{escape(v['how'])}</td></tr>" for k, v in res.constants.items())
    return (f"<details><summary>constants ({len(res.constants)})</summary>"
            f'<table class="constants"><thead><tr><th>constant</th><th>value</th><th>how</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></details>")


class _Glyphs:
    """Inline SVGs sharing one set of glyph definitions (see the module docstring)."""

    _DEF = re.compile(r'<path id="([^"]+)" d="[^"]*"(?: transform="[^"]*")?\s*/>')

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}  # matplotlib's glyph id -> its short id on this page

    def _short(self, name: str) -> str:
        return self.ids.setdefault(name, f"g{len(self.ids)}")

    def inline(self, svg: bytes) -> str:
        """``svg`` for this page: glyphs defined earlier dropped, glyph ids shortened, glyph positions rounded
        to whole units of the formula's group (1/100 of the font size, 0.16 pt)."""
        text = svg.decode()

        def keep_first(m: re.Match) -> str:
            if m.group(1) in self.ids:
                return ""
            return m.group(0).replace(f'id="{m.group(1)}"', f'id="{self._short(m.group(1))}"', 1)

        text = self._DEF.sub(keep_first, text)
        text = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'href="#{self._short(m.group(1))}"', text)
        text = re.sub(r'(<use href="#\w+" transform=")translate\((-?[\d.]+) (-?[\d.]+)\)',
                      lambda m: f"{m.group(1)}translate({float(m.group(2)):.0f} {float(m.group(3)):.0f})", text)
        text = re.sub(r'<g id="[^"]*">', "<g>", text)
        return re.sub(r"<defs>\s*</defs>", "", text)


def formula(latex: str, svg: bytes | None, glyphs: _Glyphs) -> str:
    """A theorem's bound: the SVG (``role="img"``, its plain-text form as label), or the plain text."""
    text = plain_text(latex)
    if svg is None:
        return f'<p class="formula formula-text">{escape(text)}</p>'
    body = glyphs.inline(svg).replace("<svg ", f'<svg role="img" aria-label="{escape(text)}" ', 1)
    return f'<div class="formula">{body}</div>'


def check_card(res: CheckResult, png: bytes | None) -> str:
    """One check: its parameters as heading, then the verdict sentence, one-step check and constants (folded)
    beside its plot (below it on a narrow screen)."""
    name = check_name(res)
    params = tables.parameters_text(res)
    facts = (f"{res.problem} · {res.sketch} sketch · p = {res.p:g} · r = {res.r}"
             + ("" if params == "–" else f" · {params}") + f" · R = {res.seeds} runs · T = {res.iters}")
    parts = [f'<article class="check" id="{escape(name)}">', f"<h3>{escape(facts)}</h3>", "<div>",
             f"<p>Verdict {_verdict(res)}: {escape(verdict_text(res))}</p>",
             f"<p>One-step check: {escape(lemma_sentence(res))}</p>", _constants(res), "</div>"]
    if png is not None:
        parts.append(f"<div>{_img(name, png, f'plot of {tables.check_label(res)}')}</div>")
    parts.append("</article>")
    return "\n".join(parts)


def _header(meta: dict[str, Any]) -> str:
    return (f"<p>Root seed {escape(str(meta['seed']))}, family-wise α = {meta['alpha']:g} (Bonferroni over checks, "
            f"checkpoints and one-step states), {escape(str(meta.get('date', 'unknown date')))}, commit "
            f"<code>{escape(str(meta.get('commit') or 'unknown'))}</code>.</p>")


def _toc(results: Sequence[CheckResult], slack: bool) -> str:
    items = ['<li><a href="#checks">Checks</a></li>', '<li><a href="#theorems">Theorems</a></li>']
    if slack:
        items.append('<li><a href="#slack">Slack across checks</a></li>')
    for row in tables.by_theorem(results):
        items.append(f'<li><a href="#{_anchor(row.theorem)}">{escape(row.theorem)}</a> '
                     f"({escape(row.paper_ref)}): {escape(row.verdicts)}</li>")
    return f'<nav class="toc"><strong>Contents</strong><ol>{"".join(items)}</ol></nav>'


def html_report(results: Sequence[CheckResult], meta: dict[str, Any], pngs: dict[str, bytes],
                slack: bytes | None, formulas: dict[str, bytes | None] | None = None) -> str:
    """The whole page.

    Parameters
    ----------
    results : sequence of CheckResult
        The checks, in report order.
    meta : dict
        Run metadata (``seed``, ``alpha``, ``date``, ``commit``).
    pngs : dict
        PNG bytes of each check's plot by :func:`~verify.report.check_name`; empty without matplotlib.
    slack : bytes or None
        PNG bytes of the slack plot.
    formulas : dict, optional
        SVG bytes of each theorem's bound by theorem id (None or missing: shown as plain text).
    """
    formulas = formulas or {}
    glyphs = _Glyphs()
    body = ["<h1>Bernoulli-LoRA theorem checks</h1>", _header(meta), _toc(results, slack is not None),
            '<section id="checks"><h2>Checks</h2>', summary_table(results),
            _notes([n for n, _ in tables.COLUMN_NOTES if n != "worst-case tightness"]), "</section>",
            '<section id="theorems"><h2>Theorems</h2>', theorem_table(results), _notes(["worst-case tightness"]),
            "</section>"]
    if not pngs:
        body.append("<p><em>Plots were not drawn: matplotlib is not installed "
                    "(<code>pip install '.[report]'</code>).</em></p>")
    if slack is not None:
        body += ['<section id="slack"><h2>Slack across checks</h2>',
                 f'<p><img id="plot-slack" alt="slack across checks" src="{data_uri(slack)}"></p>',
                 "<p>Left: the slack (smallest bound / observed mean over the checkpoints) and the exact slack; "
                 "right: the slack at the last iteration T, on its own axis. Below 1 the bound is exceeded.</p>",
                 "</section>"]
    for row in tables.by_theorem(results):
        first = row.checks[0]
        body += [f'<section class="theorem" id="{_anchor(row.theorem)}">',
                 f"<h2>{escape(row.theorem)}: {escape(row.paper_ref)}</h2>",
                 formula(first.bound_latex, formulas.get(row.theorem), glyphs),
                 f"<p>Measure <code>{escape(row.measure)}</code>, provenance {escape(row.provenance)}; "
                 f"{escape(row.verdicts)}.</p>"]
        body += [check_card(r, pngs.get(check_name(r))) for r in row.checks]
        body.append("</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>Bernoulli-LoRA theorem checks</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
