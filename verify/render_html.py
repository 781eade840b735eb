"""A self-contained HTML report: inline CSS, PNGs as base64 data URIs, LaTeX shown as text.

The page needs no network: nothing is loaded from ``src``/``href`` but ``data:`` URIs and in-page
anchors.  It holds the same summary table as ``index.md`` (one ``<tr>`` per check in the table's
``<tbody>``), the slack plot, and one section per check with its bound, verdict, constants and plot
(``<img alt=NAME>`` where NAME is :func:`verify.report.check_name`).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import Any

from verify.check import CheckResult
from verify.report import check_name, fmt_num, gamma_text, lemma_text, verdict_label, verdict_text

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict-holds { color: #17692a; font-weight: bold; }
.verdict-violated { color: #b00020; font-weight: bold; }
.verdict-inconclusive { color: #8a5a00; font-weight: bold; }
.verdict-not_applicable { color: #555; font-weight: bold; }
pre.latex { background: #f7f7f7; padding: 0.5em; overflow-x: auto; white-space: pre-wrap; }
img { max-width: 100%; height: auto; }
section { border-top: 1px solid #ddd; margin-top: 1.5em; }
"""

SUMMARY_HEADER = ("theorem", "paper", "provenance", "problem", "sketch", "p", "r", "γ", "runs", "T", "verdict",
                  "slack", "slack at T", "one-step", "time (s)")


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(name: str, png: bytes) -> str:
    return f'<img id="plot-{escape(name)}" alt="{escape(name)}" src="{data_uri(png)}">'


def _verdict(res: CheckResult) -> str:
    return f'<span class="verdict-{escape(res.verdict)}">{escape(verdict_label(res))}</span>'


def _summary_row(res: CheckResult) -> str:
    name = check_name(res)
    cells = [
        f'<a href="#{escape(name)}"><code>{escape(res.theorem)}</code></a>', escape(res.paper_ref),
        escape(res.provenance["tag"]), f"<code>{escape(res.problem)}</code>", escape(res.sketch),
        f"{res.p:g}", str(res.r), escape(gamma_text(res)), str(res.seeds), str(res.iters), _verdict(res),
        fmt_num(res.slack), fmt_num(res.slack_final), escape(lemma_text(res)), f"{res.timings['total_s']:.1f}",
    ]
    numeric = {5, 6, 7, 8, 9, 11, 12, 14}
    tds = "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(cells))
    return f'<tr data-check="{escape(name)}">{tds}</tr>'


def summary_table(results: Sequence[CheckResult]) -> str:
    """The summary table: one row per check."""
    head = "".join(f"<th>{escape(h)}</th>" for h in SUMMARY_HEADER)
    rows = "\n".join(_summary_row(r) for r in results)
    return f'<table class="summary">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>'


def _constants(res: CheckResult) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td class=\"num\">{v['value']:.6g}</td><td>{escape(v['how'])}</td></tr>"
                   for k, v in res.constants.items())
    return f'<table class="constants"><thead><tr><th>constant</th><th>value</th><th>how</th></tr></thead>' \
           f"<tbody>{rows}</tbody></table>"


def check_section(res: CheckResult, png: bytes | None) -> str:
    """One check: heading, bound (LaTeX as text), verdict sentence, constants, plot."""
    name = check_name(res)
    title = f"{res.theorem} on {res.problem}, {res.sketch} sketch (p = {res.p:g}, r = {res.r})"
    parts = [f'<section id="{escape(name)}">', f"<h2>{escape(title)}</h2>",
             f"<p>Bound ({escape(res.paper_ref)}, measure <code>{escape(res.measure)}</code>), in LaTeX:</p>",
             f'<pre class="latex"><code>{escape(res.bound_latex)}</code></pre>',
             f"<p>Verdict {_verdict(res)}: {escape(verdict_text(res))}</p>",
             f"<p>One-step check: {escape(lemma_text(res))}.</p>", _constants(res)]
    if png is not None:
        parts.append(f"<p>{_img(name, png)}</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _header(meta: dict[str, Any]) -> str:
    return (f"<p>Root seed {escape(str(meta['seed']))}, family-wise α = {meta['alpha']:g} (Bonferroni over checks, "
            f"checkpoints and one-step states), {escape(str(meta.get('date', 'unknown date')))}, commit "
            f"<code>{escape(str(meta.get('commit') or 'unknown'))}</code>.</p>")


def html_report(results: Sequence[CheckResult], meta: dict[str, Any], pngs: dict[str, bytes],
                slack: bytes | None) -> str:
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
    """
    body = ["<h1>Bernoulli-LoRA theorem checks</h1>", _header(meta), summary_table(results)]
    if not pngs:
        body.append("<p><em>Plots were not drawn: matplotlib is not installed "
                    "(<code>pip install '.[report]'</code>).</em></p>")
    if slack is not None:
        body += ["<h2>Slack across theorems</h2>",
                 f'<p><img id="plot-slack" alt="slack across theorems" src="{data_uri(slack)}"></p>']
    body += [check_section(r, pngs.get(check_name(r))) for r in results]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>Bernoulli-LoRA theorem checks</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
