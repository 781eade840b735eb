"""The report's figures: per check (bound against the observed mean), the slack of every check, and a combined
multi-panel figure.  A check's figure is drawn once at a paper's column width, without a title (the caption
in ``index.md`` names it), and saved as PDF and as the screen PNG embedded in ``index.html``; the slack and
combined figures are saved as PDF and 300 dpi PNG.

A check's panel shows a few single runs, the observed mean with its confidence band, the exact expectation
where the check has one, and the theorem's bound.  When the bound climbs far above everything observed (a
bound that grows like a^T), the y-axis stops 1.5 decades above the observations and the part of the bound
above the plot is marked along the top edge with its largest value, so the observed curve stays readable.
Every function returns bytes; nothing here writes files (:mod:`verify.report` does, atomically).  The same
data give the same bytes (no dates or versions in the files).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from verify.check import CheckResult

SCREEN_DPI = 160
PRINT_DPI = 300
#: How far (in decades) the y-axis reaches above the largest observed value before the bound is clipped.
HEADROOM_DECADES = 1.5
#: y-axis labels that fit on one line (the measures of :mod:`verify.measures`).
AXIS_LABELS = {
    "avg_grad_sq": r"$(1/T)\,\Sigma_{t<T}\,\|\nabla f(W^t)\|^2$",
    "weighted_grad_sq": r"$\Sigma_{t<T}\, w_t\|\nabla f(W^t)\|^2\, /\, \Sigma_{t<T}\, w_t$",
    "gap_last": r"$f(W^T)-f^*$",
    "lyapunov": r"$\Phi_T = f(W^T)-f^* + k\,\mathrm{err}_T$",
    "gap_avg_iterate": r"$f(\overline{W}^T)-f^*$",
    "gap_best": r"$\min_{t<T}\, f(W^t)-f^*$",
}
#: Measures drawn against log T (averages and best-so-far decay like 1/T or 1/sqrt(T)).
LOG_T = frozenset({"avg_grad_sq", "weighted_grad_sq", "gap_avg_iterate", "gap_best"})
PAPER_RC = {"font.size": 7, "axes.labelsize": 7, "axes.titlesize": 7, "legend.fontsize": 6, "xtick.labelsize": 6,
            "ytick.labelsize": 6, "lines.linewidth": 1.0, "svg.hashsalt": "verify"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any, dpi: int, colors: int = 64) -> bytes:
    """The figure as a PNG quantised to ``colors`` colours (line plots lose nothing visible, the file shrinks
    about 4x), without version metadata; closes the figure."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=colors,
                                                                            method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def pdf(fig: Any) -> bytes:
    """The figure as PDF without a creation date (the same figure gives the same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf", metadata={"CreationDate": None, "ModDate": None})
    return buf.getvalue()


def band_label(alpha_each: float) -> str:
    """The confidence band in words: each side at level 1 - ``alpha_each`` makes a two-sided band of coverage
    1 - 2 ``alpha_each``, e.g. ``99.9998 % confidence band``."""
    miss = 2 * alpha_each
    if not 0 < miss < 1:
        return "confidence band"
    decimals = max(1, math.ceil(-math.log10(miss)) - 2)
    return f"{100 * (1 - miss):.{decimals}f} % confidence band"


def _arr(values: Any) -> np.ndarray:
    """Floats with missing values (None in a re-read ``results.json``) as NaN."""
    return np.array([np.nan if v is None else v for v in np.ravel(np.asarray(values, dtype=object))], dtype=float) \
        .reshape(np.shape(values))


def _positive(*series: np.ndarray) -> np.ndarray:
    values = np.concatenate([np.ravel(s) for s in series]) if series else np.array([])
    return values[np.isfinite(values) & (values > 0)]


def thin(T: np.ndarray, log_x: bool, points: int) -> np.ndarray:
    """Indices of at most about ``points`` of the plot points, evenly spaced along the drawn x-axis (log T
    or T), always with the first and last: a curve of 2000 points looks the same with a few hundred at the
    size of a figure, and draws several times faster."""
    n = len(T)
    if n <= points:
        return np.arange(n)
    x = np.log(np.maximum(T, 1.0)) if log_x else T.astype(float)
    targets = np.linspace(x[0], x[-1], points)
    idx = np.searchsorted(x, targets).clip(0, n - 1)
    return np.unique(np.concatenate([[0], idx, [n - 1]]))


def y_limits(observed: Sequence[np.ndarray], bound: np.ndarray) -> tuple[float, float, float | None]:
    """``(bottom, top, clip)`` of a log y-axis: from a third of the smallest positive value (observed or bound)
    to a margin above the largest; when the bound exceeds the largest observed value by more than
    :data:`HEADROOM_DECADES` decades, ``top`` is that headroom and ``clip`` = top (else None)."""
    obs = _positive(*observed)
    bnd = _positive(bound)
    every = np.concatenate([obs, bnd])
    if every.size == 0:
        return 1e-3, 1.0, None
    bottom = float(every.min()) / 3
    top_obs = float(obs.max()) if obs.size else float(bnd.min())
    cap = top_obs * 10**HEADROOM_DECADES
    if bnd.size and float(bnd.max()) > cap:
        return bottom, cap, cap
    return bottom, float(every.max()) * 1.6, None


def draw_check(ax: Any, res: CheckResult, paper: bool = False) -> None:
    """Draw one check on ``ax``: single runs, confidence band, observed mean, exact expectation, bound
    (clipped and marked when it leaves the plot), log y; log T for the averaged measures."""
    from matplotlib.transforms import blended_transform_factory

    c = res.curve
    T = _arr(c["T"])
    keep = thin(T, res.measure in LOG_T, 250 if paper else 500)
    T = T[keep]
    mean, lower, upper, bound = (_arr(c[k])[keep] for k in ("mean", "lower", "upper", "bound"))
    runs = [_arr(run)[keep] for run in c["runs"]]
    ex = res.exact or {}
    exact = exact_T = None
    if ex.get("plot") is not None and ex.get("plot_T") is not None:
        exact_T = _arr(ex["plot_T"])
        pick = thin(exact_T, res.measure in LOG_T, 250 if paper else 500)
        exact_T, exact = exact_T[pick], _arr(ex["plot"])[pick]
    bottom, top, clip = y_limits([mean, upper, *runs] + ([exact] if exact is not None else []), bound)
    lw = 0.9 if paper else 1.6
    for i, run in enumerate(runs):
        ax.plot(T, run, color="tab:blue", alpha=0.3, lw=0.6, label=f"{len(runs)} single runs" if i == 0 else None)
    # A lower confidence bound <= 0 cannot be drawn on a log axis: the band then reaches the bottom of the plot.
    ax.fill_between(T, np.where(lower > bottom, lower, bottom), upper, color="tab:blue", alpha=0.25, lw=0,
                    label=band_label(res.alpha_each))
    ax.plot(T, mean, color="tab:blue", lw=lw, label=f"observed mean of {res.seeds} runs")
    if exact is not None:
        ax.plot(exact_T, exact, color="black", ls=":", lw=lw, label="exact expectation")
    if res.applicable and np.isfinite(bound).any():
        scale = "" if res.bound_scale == 1 else f" × {res.bound_scale:g}"
        ax.plot(T, bound, color="tab:red", ls="--", lw=lw, label=f"theorem's bound{scale}")
        if clip is not None:
            above = np.where(bound > clip, 0.97, np.nan)
            edge = blended_transform_factory(ax.transData, ax.transAxes)
            ax.plot(T, above, color="tab:red", lw=2.5 if not paper else 1.6, ls=(0, (1, 1)), transform=edge,
                    label=f"bound above the plot (up to {np.nanmax(bound):.1e})")
    ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    if res.measure in LOG_T:
        ax.set_xscale("log")
    ax.set_xlabel("iterations T")
    ax.set_ylabel(AXIS_LABELS.get(res.measure, res.measure))
    ax.grid(True, which="major", alpha=0.3)


def check_figure(res: CheckResult) -> Any:
    """The figure of one check, sized for a paper's column (3.4 x 2.4 inches, 7 pt text) and without a title
    (the caption and the report's heading name the check)."""
    plt = _pyplot()
    with plt.rc_context(PAPER_RC):
        fig, ax = plt.subplots(figsize=(3.4, 2.4))
        # Fixed margins that fit the labels at this size: tight_layout would draw the figure once more.
        fig.subplots_adjust(left=0.17, right=0.97, bottom=0.15, top=0.97)
        draw_check(ax, res, paper=True)
        ax.legend(loc="best", fontsize=5.5, framealpha=0.85)
    return fig


def check_files(res: CheckResult) -> dict[str, bytes]:
    """``{"png": ..., "pdf": ...}``: one drawing of :func:`check_figure` as the screen PNG (:data:`SCREEN_DPI`,
    about 540 x 380 pixels) and as PDF for a paper."""
    fig = check_figure(res)
    try:
        return {"png": png(fig, SCREEN_DPI, colors=32), "pdf": pdf(fig)}
    finally:
        _pyplot().close(fig)


def check_png(res: CheckResult) -> bytes:
    """The screen PNG of one check."""
    fig = check_figure(res)
    try:
        return png(fig, SCREEN_DPI, colors=32)
    finally:
        _pyplot().close(fig)


def paper_files(fig: Any) -> dict[str, bytes]:
    """``{"pdf": ..., "png": ...}`` of a paper figure (PNG at :data:`PRINT_DPI`, 256 colours); closes it."""
    try:
        return {"pdf": pdf(fig), "png": png(fig, PRINT_DPI, colors=256)}
    finally:
        _pyplot().close(fig)


def slack_figure(results: Sequence[CheckResult], paper: bool = False) -> Any | None:
    """Two panels sharing one row per check: left, the slack (smallest bound / observed mean over the
    checkpoints) and the exact slack, on an axis fitted to them; right, the slack at the last iteration T,
    which can be astronomically large (a bound growing like a^T), on its own log axis.  The line at 1 is
    where the bound equals the mean.  None if no check has a slack."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from verify.tables import check_label
    from verify.wording import exact_figures, verdict_label

    rows = list(results)
    if not any(r.slack is not None or r.slack_final is not None for r in rows):
        return None
    plt = _pyplot()
    with plt.rc_context(PAPER_RC if paper else {"font.size": 8}):
        height = 1.1 + (0.17 if paper else 0.24) * len(rows)
        fig, (left, right) = plt.subplots(1, 2, sharey=True, figsize=(7.0 if paper else 12.0, height),
                                          gridspec_kw={"width_ratios": (3, 2)})
        y = np.arange(len(rows))[::-1]
        slack = np.array([np.nan if r.slack is None else r.slack for r in rows])
        exact = np.array([exact_figures(r).get("slack") or np.nan for r in rows], dtype=float)
        final = np.array([np.nan if r.slack_final is None else r.slack_final for r in rows])
        ms = 4 if paper else 6
        left.plot(slack, y, "o", color="tab:blue", ms=ms, label="slack: smallest bound / mean over the checkpoints")
        left.plot(exact, y, "D", mfc="none", color="black", ms=ms + 2, label="exact slack: bound / exact expectation")
        right.plot(final, y, "s", mfc="none", color="tab:orange", ms=ms, mew=1.2,
                   label="slack at the last iteration T")
        for ax in (left, right):
            ax.axvline(1.0, color="tab:red", ls="--", lw=1, label="bound = mean")
            ax.set_xscale("log")
            ax.grid(True, which="both", axis="x", alpha=0.3)
        shown = np.concatenate([slack, exact, [1.0]])
        shown = shown[np.isfinite(shown) & (shown > 0)]
        left.set_xlim(shown.min() / 1.15, shown.max() * 1.15)
        # A narrow log range has one or two decades: label 1, 1.5, 2, 3, 5, 7 of each so every dot can be read off.
        left.xaxis.set_major_locator(LogLocator(subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
        left.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        left.xaxis.set_minor_formatter(NullFormatter())
        left.set_xlabel("slack (log scale; below 1 the bound is exceeded)")
        right.set_xlabel("slack at T (log scale)")
        labels = [check_label(r) + ("" if paper else f"  [{verdict_label(r)}]") for r in rows]
        left.set_yticks(y, labels, fontsize=6 if paper else 7.5)
        left.set_ylim(-0.7, len(rows) - 0.3)
        handles = dict(zip(*reversed(left.get_legend_handles_labels()), strict=True))
        handles.update(zip(*reversed(right.get_legend_handles_labels()), strict=True))
        fig.legend(list(handles.values()), list(handles), loc="upper center", ncol=4, frameon=False,
                   fontsize=6 if paper else 7.5)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / height))
    return fig


def slack_png(results: Sequence[CheckResult]) -> bytes | None:
    """The screen PNG of :func:`slack_figure`, or None."""
    fig = slack_figure(results)
    if fig is None:
        return None
    try:
        return png(fig, 100)
    finally:
        _pyplot().close(fig)


def panel_letter(i: int) -> str:
    """``a``, ``b``, ..., ``z``, ``aa``, ``ab``, ...: the letter of panel ``i`` of the combined figure."""
    letters = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        letters = chr(97 + rem) + letters
    return letters


def combined_checks(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The checks of the combined figure: each theorem's first check (in the built-in suite, its tight instance)."""
    first: dict[str, CheckResult] = {}
    for res in results:
        first.setdefault(res.theorem, res)
    return list(first.values())


def combined_figure(results: Sequence[CheckResult]) -> Any:
    """:func:`combined_checks` as small panels ``(a)``, ``(b)``, ... in a grid four wide (7 inches, a page's
    width), with one legend for all panels; the caption in ``index.md`` names each panel's check."""
    plt = _pyplot()
    rows = combined_checks(results)
    ncols = min(4, max(1, len(rows)))
    nrows = math.ceil(len(rows) / ncols)
    height = 0.45 + 1.5 * nrows
    with plt.rc_context({**PAPER_RC, "font.size": 6, "axes.labelsize": 6, "xtick.labelsize": 5,
                         "ytick.labelsize": 5}):
        fig, axes = plt.subplots(nrows, ncols, figsize=(7.0, height), squeeze=False)
        # A fixed layout: tight_layout would draw the whole figure once more to measure it.
        fig.subplots_adjust(left=0.06, right=0.99, bottom=0.35 / height, top=1 - 0.4 / height, wspace=0.32,
                            hspace=0.55)
        for i, ax in enumerate(axes.flat):
            if i >= len(rows):
                ax.set_visible(False)
                continue
            draw_check(ax, rows[i], paper=True)
            ax.set_title(f"({panel_letter(i)}) {rows[i].theorem}", fontsize=6, loc="left", pad=4)
            ax.set_ylabel("")
            ax.set_xlabel("T", labelpad=1)
        handles: dict[str, Any] = {}
        for ax in axes.flat[:len(rows)]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                key = ("single runs" if lab.endswith("single runs") else
                       "bound above the plot (dotted, top edge)" if lab.startswith("bound above") else
                       "confidence band of the mean" if lab.endswith("confidence band") else
                       "observed mean" if lab.startswith("observed mean") else lab)
                handles.setdefault(key, h)
        fig.legend(list(handles.values()), list(handles), loc="upper center", ncol=4, fontsize=5.5, frameon=False)
    return fig
