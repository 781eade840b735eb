"""Write a run's report: ``results.json``, ``index.md``, a self-contained ``index.html``, plots and paper figures.

``verify run`` (:func:`write_report`) and ``verify report DIR`` (:func:`run_report`, which re-reads
``DIR/results.json``) share one code path, :func:`render`.  It writes

* ``plots/NAME.png``: one screen plot per check (:mod:`verify.figures`), and ``slack.png``;
* ``figures/``: the same for a paper, without titles, as PDF and 300 dpi PNG, a combined multi-panel figure
  ``all-checks``, and each theorem's formula as SVG (:mod:`verify.mathsvg`); ``index.md`` holds the captions;
* ``index.md`` and ``index.html`` (:mod:`verify.render_html`, formulas as SVG, plots embedded).

Drawing is the slow part, so each figure is keyed by a hash of what it shows (the check's record without its
timings, and the source of the drawing code): ``.figure-hashes.json`` maps each file to the hash it was
drawn from, and a file whose hash is unchanged is reused, not redrawn.  Everything is computed in memory,
then each file is written to a temporary name in the same folder and renamed into place, so an interrupted
run never leaves a half-written file; the hash file drops the entries of the files about to change before
they are written, so it never vouches for a file it did not see written.  Plots need matplotlib (the
``report`` extra); without it the report says so and lists the results.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verify.check import CheckResult
from verify.errors import UserError
from verify.jsonio import atomic_write, json_default
from verify.wording import (
    check_name,
    fmt_num,
    gamma_text,
    lemma_sentence,
    verdict_label,
    verdict_text,
)


def ensure_writable(out: Path) -> None:
    """Create ``out`` if needed and make sure files can be written in it (UserError otherwise)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".write-probe-", delete=True)
        probe.close()
    except OSError as exc:
        raise UserError(f"--out {str(out)!r} is not a writable folder ({exc.strerror or exc})") from None


def provenance() -> dict[str, Any]:
    """Versions, platform, commit and date for the results file."""
    import mpmath
    import numpy
    import scipy
    import sympy

    import verify

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": {"verify": verify.__version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
                     "scipy": scipy.__version__, "sympy": sympy.__version__, "mpmath": mpmath.__version__},
        "platform": platform.platform(),
        "commit": commit,
    }


SLACK_PLOT = "slack.png"  # not in plots/, which holds exactly one PNG per check
FIGURES = "figures"
COMBINED = "all-checks"
HASHES = ".figure-hashes.json"


def plot_check(res: CheckResult, path: Path) -> None:
    """Write the screen plot of ``res`` (:func:`verify.figures.check_png`) to ``path`` (atomically)."""
    from verify.figures import check_png

    atomic_write(path, check_png(res))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def figure_caption(res: CheckResult) -> str:
    """What a check's figure shows, with the check's parameters, for a paper's caption."""
    from verify.figures import band_label
    from verify.tables import parameters_text

    params = parameters_text(res)
    exact = " and the exact expectation (dotted)" if (res.exact or {}).get("plot") is not None else ""
    bound = "; the theorem's bound is dashed red" if res.applicable else "; the theorem does not apply"
    return (f"{res.theorem} ({res.paper_ref}) on {res.problem}, {res.sketch} sketch, p = {res.p:g}, r = {res.r}"
            + ("" if params == "–" else f", {params}")
            + f", γ = {gamma_text(res)}: observed mean of R = {res.seeds} runs over T = {res.iters} iterations "
            f"(solid) with its {band_label(res.alpha_each)}, single runs (faint){exact}{bound}. "
            f"Verdict: {verdict_label(res)}; slack {fmt_num(res.slack)}.")


def combined_caption(results: Sequence[CheckResult]) -> str:
    """The caption of the combined figure: what every panel shows, then each panel's check."""
    from verify.figures import combined_checks, panel_letter
    from verify.tables import check_label

    panels = "; ".join(f"({panel_letter(i)}) {check_label(r)}, {verdict_label(r)}"
                       for i, r in enumerate(combined_checks(results)))
    return ("Each theorem's first check: observed mean of R runs (solid blue) with its confidence band, single "
            "runs (faint), the exact expectation where there is one (dotted) and the theorem's bound (dashed red; "
            "a dotted red line along the top edge marks where the bound leaves the plot), against the iterations T. "
            f"{panels}.")


def markdown(results: Sequence[CheckResult], meta: dict[str, Any], plots: dict[str, str],
             slack_plot: str | None = None, figures: dict[str, dict[str, str]] | None = None) -> str:
    """The Markdown report: the per-check table with its legend, the per-theorem table, the slack plot, one
    section per theorem (its bound, then each check: verdict, one-step check, constants, plot and caption),
    and the paper figures with their captions.

    ``plots`` maps :func:`check_name` to a screen PNG's path; ``figures`` maps a figure's name (a check name,
    ``slack`` or ``all-checks``) to its paper files by format."""
    from verify import tables

    figures = figures or {}
    lines = [
        "# Bernoulli-LoRA theorem checks",
        "",
        f"Root seed {meta['seed']}, family-wise α = {meta['alpha']:g} (Bonferroni over checks, checkpoints "
        f"and one-step states), {meta.get('date', 'unknown date')}, commit `{meta.get('commit') or 'unknown'}`.",
        "",
        "## Checks",
        "",
    ]
    lines += [f"- **{name}**: {text}" for name, text in tables.COLUMN_NOTES if name != "worst-case tightness"]
    lines += ["", "| " + " | ".join(c.header for c in tables.COLUMNS) + " |",
              "|" + "---|" * len(tables.COLUMNS)]
    for cells in tables.rows(results):
        cells = [_md_cell(c) for c in cells]
        cells[0] = f"`{cells[0]}`"
        cells[1] = f"`{cells[1]}`"
        cells[9] = f"**{cells[9]}**"
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Theorems", "", f"- **worst-case tightness**: {dict(tables.COLUMN_NOTES)['worst-case tightness']}",
              "", "| theorem | paper | provenance | measure | checks | verdicts | smallest slack | "
              "worst-case tightness |", "|---|---|---|---|---|---|---|---|"]
    for row in tables.by_theorem(results):
        lines.append(f"| `{row.theorem}` | {row.paper_ref} | {row.provenance} | `{row.measure}` | {len(row.checks)} "
                     f"| {row.verdicts} | {fmt_num(row.smallest_slack)} | {tables.worst_case_text(row.theorem)} |")
    if not plots:
        lines += ["", "_Plots were not drawn: matplotlib is not installed (`pip install '.[report]'`)._"]
    if slack_plot is not None:
        lines += ["", "## Slack across checks", "", f"![slack across checks]({slack_plot})", "",
                  "_Left: the slack, the smallest ratio bound / observed mean over the checkpoints, and the exact "
                  "slack where there is one; right: the slack at the last iteration T, on its own axis. Below 1 "
                  "the bound is exceeded._"]
    for row in tables.by_theorem(results):
        lines += ["", f"## {row.theorem}: {row.paper_ref}", "", f"$$ {row.checks[0].bound_latex} $$", "",
                  f"Measure `{row.measure}`, provenance {row.provenance}."]
        for res in row.checks:
            name = check_name(res)
            lines += ["", f"### {tables.check_label(res)}", "",
                      f"Verdict **{verdict_label(res)}**: {verdict_text(res)}", "",
                      f"One-step check: {lemma_sentence(res)}", "",
                      "| constant | value | how |", "|---|---|---|"]
            lines += [f"| {k} | {fmt_num(v['value'], '.6g')} | {_md_cell(v['how'])} |"
                      for k, v in res.constants.items()]
            if name in plots:
                lines += ["", f"![{name}]({plots[name]})", "", f"_{figure_caption(res)}_"]
    if figures:
        lines += ["", "## Figures for a paper", "",
                  "Without titles; the captions below describe them. Each check: PDF (vector) and the PNG shown "
                  "above; all checks and the slack: PDF and PNG at 300 dpi."]
        if COMBINED in figures:
            lines += ["", f"- **All checks** ({_links(figures[COMBINED])}): {combined_caption(results)}"]
        if "slack" in figures:
            lines += [f"- **Slack** ({_links(figures['slack'])}): the slack of every check, as above."]
        for res in results:
            name = check_name(res)
            if name in figures:
                lines.append(f"- **{tables.check_label(res)}** ({_links(figures[name])}): {figure_caption(res)}")
    return "\n".join(lines) + "\n"


def _links(files: dict[str, str]) -> str:
    return ", ".join(f"[{fmt.upper()}]({path})" for fmt, path in files.items())


def have_matplotlib() -> bool:
    """Whether plots can be drawn (the ``report`` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _style_hash() -> str:
    """A hash of the drawing code and matplotlib's version: a change of either redraws every figure."""
    import matplotlib

    from verify import figures, mathsvg, tables

    h = hashlib.sha256(matplotlib.__version__.encode())
    for module in (figures, mathsvg, tables, sys.modules[__name__]):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()


def _key(style: str, kind: str, payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=json_default, allow_nan=True)
    return hashlib.sha256(f"{style}|{kind}|{text}".encode()).hexdigest()[:32]


def _plotted(res: CheckResult) -> dict[str, Any]:
    """What a check's figures are drawn from: its record without the timings."""
    rec = res.to_dict()
    rec.pop("timings")
    return rec


def _read_hashes(out: Path) -> dict[str, str]:
    try:
        data = json.loads((out / HASHES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _draw_all(out: Path, results: Sequence[CheckResult]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every figure file of the report by path relative to ``out``, and the hash each was drawn from.

    A file whose hash equals the one recorded in ``out/.figure-hashes.json`` (and that exists) is read back;
    the others are drawn (:mod:`verify.figures`, :mod:`verify.mathsvg`)."""
    from verify import figures, mathsvg, tables

    style = _style_hash()
    old = _read_hashes(out)
    jobs: list[tuple[str, tuple[str, ...], Any]] = []
    for res in results:
        name, rec = check_name(res), _plotted(res)
        jobs.append((_key(style, "check", rec), (f"plots/{name}.png", f"{FIGURES}/{name}.pdf"),
                     lambda res=res: list(figures.check_files(res).values())))
    every = [_plotted(r) for r in results]
    if any(r.slack is not None or r.slack_final is not None for r in results):
        jobs.append((_key(style, "slack", every), (SLACK_PLOT,), lambda: [figures.slack_png(results)]))
        jobs.append((_key(style, "slack-paper", every), (f"{FIGURES}/slack.pdf", f"{FIGURES}/slack.png"),
                     lambda: list(figures.paper_files(figures.slack_figure(results, paper=True)).values())))
    if results:
        jobs.append((_key(style, "combined", every), (f"{FIGURES}/{COMBINED}.pdf", f"{FIGURES}/{COMBINED}.png"),
                     lambda: list(figures.paper_files(figures.combined_figure(results)).values())))
    for row in tables.by_theorem(results):
        latex = row.checks[0].bound_latex
        jobs.append((_key(style, "formula", latex), (f"{FIGURES}/formula-{row.theorem}.svg",),
                     lambda latex=latex: [mathsvg.svg(latex)]))
    files: dict[str, bytes] = {}
    hashes: dict[str, str] = {}
    for key, rels, draw in jobs:
        if all(old.get(rel) == key and (out / rel).is_file() for rel in rels):
            data = [(out / rel).read_bytes() for rel in rels]
        else:
            data = draw()
        for rel, blob in zip(rels, data, strict=True):
            if blob is not None:
                files[rel], hashes[rel] = blob, key
    return files, hashes


def _stale(out: Path, keep: set[str]) -> list[Path]:
    """Figure files in ``plots/`` and ``figures/`` that this report no longer names."""
    found = [p for folder in ("plots", FIGURES) if (out / folder).is_dir() for p in (out / folder).iterdir()
             if p.suffix in (".png", ".pdf", ".svg")]
    return [p for p in found if p.relative_to(out).as_posix() not in keep]


def render(out: Path, results: Sequence[CheckResult], meta: dict[str, Any], results_json: bytes | None = None) -> None:
    """Write ``index.md``, ``index.html``, the plots and paper figures (and ``results.json`` if given) into ``out``.

    Everything is drawn (or read back from an unchanged earlier drawing) in memory first; only then is each file
    written through :func:`atomic_write`, so an error while drawing leaves an existing report untouched and no
    file is ever half-written.  Figures come first and the index files last, so an index never names a figure
    that is not there; figures of checks no longer in the report are removed.
    """
    from verify.render_html import html_report

    results = list(results)
    files: dict[str, bytes] = {}
    hashes: dict[str, str] = {}
    if have_matplotlib():
        files, hashes = _draw_all(out, results)
    plots = {check_name(r): f"plots/{check_name(r)}.png" for r in results if f"plots/{check_name(r)}.png" in files}
    paper = {}
    for name in [check_name(r) for r in results] + ["slack", COMBINED]:
        found = {fmt: f"{FIGURES}/{name}.{fmt}" for fmt in ("pdf", "png") if f"{FIGURES}/{name}.{fmt}" in files}
        if f"plots/{name}.png" in files:
            found["png"] = f"plots/{name}.png"
        if found:
            paper[name] = found
    formulas = {r.theorem: files.get(f"{FIGURES}/formula-{r.theorem}.svg") for r in results}
    index = {"index.md": markdown(results, meta, plots, SLACK_PLOT if SLACK_PLOT in files else None, paper).encode(),
             "index.html": html_report(results, meta, {n: files[p] for n, p in plots.items()}, files.get(SLACK_PLOT),
                                       formulas).encode()}
    if results_json is not None:
        files["results.json"] = results_json
    old = _read_hashes(out)
    for folder in ("plots", FIGURES):
        if any(rel.startswith(folder + "/") for rel in files):
            (out / folder).mkdir(parents=True, exist_ok=True)
    # The hash file first forgets every file about to be rewritten, so an interruption cannot leave it vouching
    # for a file drawn from other data; the full list is written once every figure is in place.
    unchanged = {rel: h for rel, h in old.items() if hashes.get(rel) == h}
    atomic_write(out / HASHES, json.dumps(unchanged, indent=1, sort_keys=True).encode())
    for rel, data in files.items():
        if not (rel in unchanged and (out / rel).is_file()):
            atomic_write(out / rel, data)
    for path in _stale(out, set(files)):
        path.unlink()
    atomic_write(out / HASHES, json.dumps(hashes, indent=1, sort_keys=True).encode())
    for rel, data in index.items():
        atomic_write(out / rel, data)


def results_bytes(results: Sequence[CheckResult], meta: dict[str, Any]) -> bytes:
    """The ``results.json`` of a run: ``{"meta": meta, "checks": [record, ...]}``."""
    payload = {"meta": meta, "checks": [r.to_dict() for r in results]}
    return json.dumps(payload, indent=1, allow_nan=False, default=json_default).encode()


def write_report(out: Path, results: Sequence[CheckResult], seed: int, alpha: float) -> dict[str, Any]:
    """Write ``results.json``, ``index.md``, ``index.html`` and ``plots/*.png`` into ``out``; returns the metadata."""
    meta = {**provenance(), "seed": seed, "alpha": alpha}
    render(out, results, meta, results_bytes(results, meta))
    return meta


def add_report_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report DIR`` to the ``verify`` sub-commands (``func`` = :func:`run_report`)."""
    p = subparsers.add_parser("report", help="re-render a finished run's report from DIR/results.json",
                              description="Re-render index.md, index.html and plots/*.png from DIR/results.json.")
    p.add_argument("dir", metavar="DIR", help="report folder holding results.json")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Re-render the report in ``args.dir`` from its ``results.json``; 0 (bad input raises UserError)."""
    from verify.results_io import load_run, results_path

    out = results_path(Path(args.dir)).parent
    meta, results = load_run(out)
    ensure_writable(out)
    render(out, results, meta)
    print(f"report: {out / 'index.html'}   {out / 'index.md'}")
    return 0

