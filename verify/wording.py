"""How a check result is said: the labels, numbers and sentences that the Markdown and HTML reports, the
CLI table and the figures share (so they never disagree, and none of them imports another)."""

from __future__ import annotations

import re
from typing import Any

from verify.check import CheckResult


def check_name(res: CheckResult) -> str:
    """A file-name-safe name for one check."""
    params = "".join(f"_{k}={v}" for k, v in sorted(res.params.items()))
    raw = f"{res.theorem}__{res.problem}__{res.sketch}__p{res.p}_r{res.r}{params}"
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", raw)


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
    """``x`` formatted with ``spec``, or ``–`` for a missing value (None or NaN)."""
    return "–" if x is None or x != x else format(x, spec)


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


def lemma_sentence(res: CheckResult) -> str:
    """The one-step check as a sentence with its figures named: verdict, slack (claimed / observed right-hand
    side, smallest over the states) and decrease ratio; ``skipped: why`` or ``not run``."""
    status, detail = lemma_status(res.lemma)
    if status == "skipped":
        return f"skipped: {detail}." if detail else "skipped."
    if status == "–":
        return "not run (the theorem does not apply, the runs diverged, or no states were asked for)."
    lemma = res.lemma or {}
    ratio = lemma.get("decrease_ratio")
    parts = [f"one-step slack {detail} (claimed / observed right-hand side, smallest over "
             f"{lemma.get('states', '–')} states)"]
    if ratio is not None:
        parts.append(f"decrease ratio {fmt_num(ratio)} (observed / claimed decrease)")
    return f"{status}; " + ", ".join(parts) + "."


def verdict_text(res: CheckResult) -> str:
    """Why the verdict, the slack with where it is reached and its interval, γ, γ_max and the bound scale."""
    if res.slack is None:
        slack = "No slack (no checkpoint was compared with the bound)."
    else:
        interval = "" if res.slack_interval is None else \
            f", confidence interval {fmt_num(res.slack_interval[0])} to {fmt_num(res.slack_interval[1])}"
        at = "" if res.slack_T is None else f" at T = {res.slack_T}"
        slack = f"Slack (smallest bound / observed mean) {fmt_num(res.slack)}{at}{interval}."
    gamma = "Polyak stepsize" if res.gamma is None else \
        f"γ = {fmt_num(res.gamma, '.6g')} (γ_max = {fmt_num(res.gamma_max, '.6g')})"
    return f"{res.reason}.  {slack}  {gamma}, bound scale {res.bound_scale:g}."
