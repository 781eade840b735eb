"""Write a run's report: ``results.json``, ``index.md``, a self-contained ``index.html`` and ``plots/*.png``.

``verify run`` (:func:`write_report`) and ``verify report DIR`` (:func:`run_report`, which re-reads
``DIR/results.json``) share one code path, :func:`render`.  The plots are one per check (faint single runs,
confidence band, bound) and ``slack.png`` (the slack of every check).  Everything is drawn in memory,
then each file is written to a temporary name in the same folder and renamed into place, so an interrupted
run never leaves a half-written file.  Plots need matplotlib (the ``report`` extra); without it the report
says so and lists the results.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verify.check import CheckResult
from verify.errors import UserError
from verify.measures import LABELS


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a report is meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def check_name(res: CheckResult) -> str:
    """A file-name-safe name for one check."""
    params = "".join(f"_{k}={v}" for k, v in sorted(res.params.items()))
    raw = f"{res.theorem}__{res.problem}__{res.sketch}__p{res.p}_r{res.r}{params}"
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", raw)


DPI = 100
SLACK_PLOT = "slack.png"  # not in plots/, which holds exactly one PNG per check


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any, dpi: int) -> bytes:
    """The figure as a 64-colour PNG (about 4x smaller than RGBA), without version metadata (same data → same bytes).

    Pillow is a dependency of matplotlib.
    """
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    _pyplot().close(fig)
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def _floor(*series: Any) -> float:
    """A log-axis bottom: a third of the smallest positive finite value of ``series`` (1e-300 if none)."""
    import numpy as np

    values = np.concatenate([np.ravel(np.asarray(s, dtype=float)) for s in series])
    positive = values[np.isfinite(values) & (values > 0)]
    return float(positive.min()) / 3 if positive.size else 1e-300


def check_png(res: CheckResult, dpi: int = DPI) -> bytes:
    """Bound vs observed mean with its confidence band and a few faint single runs, log scale, against T.

    Reads only ``res.curve`` (``T``, ``mean``, ``lower``, ``upper``, ``bound``, ``runs`` of shape (≤5, len(T)));
    missing values (None in a re-read ``results.json``) are not drawn.
    """
    import numpy as np

    plt = _pyplot()
    c = res.curve
    T = np.asarray(c["T"], dtype=float)
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    runs = [np.asarray(run, dtype=float) for run in c["runs"]]
    bottom = _floor(c["mean"], c["bound"], *runs)
    for i, run in enumerate(runs):
        ax.plot(T, run, color="tab:blue", alpha=0.3, lw=0.8, label="single runs" if i == 0 else None)
    # A lower confidence bound <= 0 cannot be drawn on a log axis: the band then reaches the bottom of the plot.
    lower = np.maximum(np.asarray(c["lower"], dtype=float), bottom)
    ax.fill_between(T, lower, np.asarray(c["upper"], dtype=float), color="tab:blue", alpha=0.25,
                    label=f"confidence band (each side at level 1 - {res.alpha_each:.1g})")
    ax.plot(T, np.asarray(c["mean"], dtype=float), color="tab:blue", lw=1.8, label=f"observed mean ({res.seeds} runs)")
    if res.applicable:
        scale = "" if res.bound_scale == 1 else f" x {res.bound_scale:g}"
        ax.plot(T, np.asarray(c["bound"], dtype=float), color="tab:red", ls="--", lw=1.8,
                label=f"theorem bound{scale}")
    ax.set_yscale("log")
    ax.set_ylim(bottom=bottom)
    if res.measure in ("avg_grad_sq", "weighted_grad_sq", "gap_avg_iterate", "gap_best"):
        ax.set_xscale("log")
    ax.set_xlabel("iterations T")
    ax.set_ylabel(LABELS[res.measure])
    slack = "" if res.slack is None else f", slack {res.slack:.3g}"
    ax.set_title(f"{res.theorem} on {res.problem}, {res.sketch} sketch (p={res.p}, r={res.r})\n"
                 f"verdict: {verdict_label(res)}{slack}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _png(fig, dpi)


def plot_check(res: CheckResult, path: Path) -> None:
    """Write :func:`check_png` of ``res`` to ``path`` (atomically)."""
    atomic_write(path, check_png(res))


def slack_png(results: Sequence[CheckResult], dpi: int = DPI) -> bytes | None:
    """Slack (min over checkpoints) and slack at T of every check on a log axis; None if no check has one.

    One row per check, labelled ``theorem · problem (sketch) verdict``; the line at 1 is where the
    observed mean equals the bound.  A check without a slack (not applicable) keeps its row, marked n/a.
    """
    plt = _pyplot()
    rows = list(results)
    if not any(r.slack is not None or r.slack_final is not None for r in rows):
        return None
    fig, ax = plt.subplots(figsize=(10.0, 1.4 + 0.32 * len(rows)))
    y = list(range(len(rows)))[::-1]
    for yi, res in zip(y, rows, strict=True):
        if res.slack is not None:
            ax.plot(res.slack, yi, "o", color="tab:blue", ms=6)
        if res.slack_final is not None:
            ax.plot(res.slack_final, yi, "s", mfc="none", color="tab:orange", ms=7, mew=1.5)
    ax.plot([], [], "o", color="tab:blue", label="slack: min over checkpoints of bound / mean")
    ax.plot([], [], "s", mfc="none", color="tab:orange", mew=1.5, label="slack at the last checkpoint T")
    ax.axvline(1.0, color="tab:red", ls="--", lw=1.2, label="bound = observed mean")
    ax.set_yticks(y, [f"{r.theorem} · {r.problem} ({r.sketch})" for r in rows], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(y, [f"{verdict_label(r)}  {fmt_num(r.slack)} / {fmt_num(r.slack_final)}" for r in rows],
                     fontsize=8)
    right.set_ylabel("verdict  slack / slack at T", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("bound / observed mean (log scale; below 1 the bound is exceeded)")
    fig.suptitle("Slack of every check", fontsize=10)
    ax.grid(True, which="major", axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    return _png(fig, dpi)


def verdict_label(res: CheckResult) -> str:
    """The verdict, marked ``(attained)`` when it is ``inconclusive`` because the observed mean is
    indistinguishable from the bound.

    Attainment qualifies only an inconclusive verdict: a check that is violated (e.g. by its one-step
    inequality) or holds is labelled by its verdict alone, whatever its ``attained`` flag says.
    """
    return res.verdict + (" (attained)" if res.attained and res.verdict == "inconclusive" else "")


def exact_figures(res: CheckResult) -> dict[str, Any]:
    """The exact oracle's figures of a check, or ``{}``: ``slack`` (bound / exact expectation), ``model``
    (the two-sided model check's verdict) and ``sensitivity``."""
    ex = getattr(res, "exact", None) or {}
    return {} if "slack" not in ex else ex


def sensitivity_text(res: CheckResult) -> str:
    """Smallest detectable relative error in the bound's constant and rate, e.g. ``1% / 3%``: from the exact
    expectation where the check has one (a deterministic figure), else from its confidence bounds; ``–`` where
    none is detectable up to a factor 2 (rate) or at all (constant)."""
    sens = exact_figures(res).get("sensitivity") or getattr(res, "sensitivity", None) or {}
    if not sens:
        return "–"

    def pct(x: float | None) -> str:
        if x is None:
            return "–"
        return "any" if x == 0 else "<0.1%" if x < 1e-3 else f"{100 * x:.2g}%"
    return f"{pct(sens.get('constant'))} / {pct(sens.get('rate'))}"


def fmt_num(x: float | None, spec: str = ".3g") -> str:
    """``x`` formatted with ``spec``, or ``–`` for a missing value."""
    return "–" if x is None else format(x, spec)


def markdown(results: Sequence[CheckResult], meta: dict[str, Any], plots: dict[str, str],
             slack_plot: str | None = None) -> str:
    """The Markdown report: summary table, the slack plot, then one section per check with its bound and plot."""
    lines = [
        "# Bernoulli-LoRA theorem checks",
        "",
        f"Root seed {meta['seed']}, family-wise α = {meta['alpha']:g} (Bonferroni over checks, checkpoints "
        f"and one-step states), {meta.get('date', 'unknown date')}, commit `{meta.get('commit') or 'unknown'}`.",
        "",
        "Exact slack: bound / exact expectation (quadratic instances, no sampling noise); detects: the smallest "
        "relative error in the bound's constant / rate (T → (1+ε)T) that the check turns red, from the exact "
        "expectation where there is one, else from the confidence bounds; rate slack: the observed curve's "
        "log-decrease over the bound's on the second half of the horizon (1: the rate is attained).",
        "",
        "| theorem | paper | provenance | problem | sketch | p | r | γ | runs | T | verdict | slack | slack at T | "
        "exact slack | detects | rate slack | model | one-step | time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        one_step = lemma_text(res).replace("|", "\\|")
        ex = exact_figures(res)
        rate_slack = (ex.get("sensitivity") or res.sensitivity or {}).get("rate_slack")
        model = ex.get("model", {}).get("verdict", "–")
        lines.append(
            f"| `{res.theorem}` | {res.paper_ref} | {res.provenance['tag']} | `{res.problem}` | {res.sketch} | "
            f"{res.p:g} | {res.r} | {gamma_text(res)} | {res.seeds} | {res.iters} | **{verdict_label(res)}** | "
            f"{fmt_num(res.slack)} | {fmt_num(res.slack_final)} | {fmt_num(ex.get('slack'), '.4g')} | "
            f"{sensitivity_text(res)} | {fmt_num(rate_slack)} | {model} | {one_step} | "
            f"{res.timings['total_s']:.1f} |")
    if not plots:
        lines += ["", "_Plots were not drawn: matplotlib is not installed (`pip install '.[report]'`)._"]
    if slack_plot is not None:
        lines += ["", "## Slack across theorems", "", f"![slack across theorems]({slack_plot})"]
    for res in results:
        name = check_name(res)
        lines += ["", f"## {res.theorem} on `{res.problem}`, {res.sketch} sketch (p = {res.p:g}, r = {res.r})", "",
                  f"$$ {res.bound_latex} $$", "", f"Verdict **{verdict_label(res)}**: {verdict_text(res)}", "",
                  f"One-step check: {lemma_text(res)}.", "",
                  "| constant | value | how |", "|---|---|---|"]
        lines += [f"| {k} | {v['value']:.6g} | {v['how']} |" for k, v in res.constants.items()]
        if name in plots:
            lines += ["", f"![{name}]({plots[name]})"]
    return "\n".join(lines) + "\n"


def gamma_text(res: CheckResult) -> str:
    """γ for the summary table: ``Polyak`` for the adaptive rule."""
    return "Polyak" if res.gamma is None else fmt_num(res.gamma, ".4g")


def lemma_status(lemma: dict[str, Any] | None) -> tuple[str, str]:
    """``(status, detail)`` of a check's one-step (lemma) record, for tables and messages.

    The record is one of: None (not run: the runs diverged, no states were asked for, or the theorem does
    not apply), ``{"skipped": why}`` (the Lyapunov function cannot be evaluated, e.g. the ``H⁻¹`` distance
    under a sketch without a closed-form ``E[H]``), or a decided record with ``verdict`` and ``slack``.

    Returns
    -------
    status : str
        ``"–"`` (not run), ``"skipped"``, or the verdict (``"holds"``, ``"violated"``, ...).
    detail : str
        The reason of a skipped check, the slack of a decided one formatted with :func:`fmt_num`
        (``"–"`` when it is missing), ``""`` when not run.
    """
    if lemma is None:
        return "–", ""
    if "skipped" in lemma:
        return "skipped", str(lemma["skipped"] or "")
    if "verdict" not in lemma:
        return "–", ""
    return str(lemma["verdict"]), fmt_num(lemma.get("slack"))


def lemma_text(res: CheckResult) -> str:
    """The one-step check for the report's tables: ``"holds (1.2)"`` (verdict and slack), ``"skipped: why"``,
    or ``–`` when it was not run."""
    status, detail = lemma_status(res.lemma)
    if status == "skipped":
        return f"skipped: {detail}" if detail else "skipped"
    return f"{status} ({detail})" if detail else status


def verdict_text(res: CheckResult) -> str:
    """Why the verdict, the slack with its interval, γ, γ_max and the bound scale, as one sentence."""
    interval = "" if res.slack_interval is None else \
        f" (confidence interval {fmt_num(res.slack_interval[0])} to {fmt_num(res.slack_interval[1])})"
    return (f"{res.reason}.  Slack {fmt_num(res.slack)} at T = {res.slack_T}{interval}.  "
            f"γ = {fmt_num(res.gamma, '.6g')} (γ_max = {fmt_num(res.gamma_max, '.6g')}), "
            f"bound scale {res.bound_scale:g}.")


def have_matplotlib() -> bool:
    """Whether plots can be drawn (the ``report`` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render(out: Path, results: Sequence[CheckResult], meta: dict[str, Any], results_json: bytes | None = None) -> None:
    """Write ``index.md``, ``index.html``, ``plots/*.png`` (and ``results.json`` if given) into ``out``.

    Everything is drawn in memory first; only then is each file written through :func:`atomic_write`, so an
    error while drawing leaves an existing report untouched and no file is ever half-written.  Plots come
    first and the index files last, so an index never names a plot that is not there.
    """
    from verify.render_html import html_report

    files: dict[str, bytes] = {}
    pngs: dict[str, bytes] = {}
    slack = None
    if have_matplotlib():
        for res in results:
            pngs[check_name(res)] = check_png(res)
        slack = slack_png(results)
    plots = {name: f"plots/{name}.png" for name in pngs}
    files.update({plots[name]: data for name, data in pngs.items()})
    if slack is not None:
        files[SLACK_PLOT] = slack
    if results_json is not None:
        files["results.json"] = results_json
    files["index.md"] = markdown(results, meta, plots, SLACK_PLOT if slack is not None else None).encode()
    files["index.html"] = html_report(results, meta, pngs, slack).encode()
    if pngs:
        (out / "plots").mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        atomic_write(out / rel, data)


def results_bytes(results: Sequence[CheckResult], meta: dict[str, Any]) -> bytes:
    """The ``results.json`` of a run: ``{"meta": meta, "checks": [record, ...]}``."""
    payload = {"meta": meta, "checks": [r.to_dict() for r in results]}
    return json.dumps(payload, indent=1, allow_nan=False, default=_json_default).encode()


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


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
