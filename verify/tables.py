"""The report's tables: one row per check (HTML, Markdown and the table ``verify run`` prints) and one row per theorem.

A row shows the parameters that tell checks apart: problem, sketch, p, r, the estimator's parameters
(compressor, q, b′, b, batch), runs R and iterations T.  Every figure comes with its meaning in
:data:`COLUMN_NOTES`; a missing figure is ``–``, never ``None`` or ``nan``.  The per-theorem row holds the
worst-case tightness from the performance-estimation module (:func:`worst_case`) when that module and its
cached rows exist.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from verify.check import CheckResult
from verify.wording import exact_figures, fmt_num, gamma_text, lemma_status, sensitivity_text, verdict_label

#: How each estimator parameter is shown (paper notation: b′ is PAGE's small batch, b MVR's momentum).
PARAM_NAMES = {"compressor": "", "q": "q", "batch_prime": "b′", "b": "b", "batch": "batch"}


def parameters_text(res: CheckResult) -> str:
    """The estimator's parameters of a check, e.g. ``rand-k:k=12, q=0.5`` (compressor first), ``–`` if none."""
    params = dict(res.params)
    order = [k for k in PARAM_NAMES if k in params] + sorted(k for k in params if k not in PARAM_NAMES)
    parts = []
    for key in order:
        name = PARAM_NAMES.get(key, key)
        value = params[key]
        text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={text}" if name else text)
    return ", ".join(parts) or "–"


def check_label(res: CheckResult) -> str:
    """One line naming a check: ``qgd-nc · federated-ls:M=4 · gaussian p=0.3 r=1 · rand-k:k=12 · R=64 T=10``."""
    params = parameters_text(res)
    return (f"{res.theorem} · {res.problem} · {res.sketch} p={res.p:g} r={res.r}"
            + ("" if params == "–" else f" · {params}") + f" · R={res.seeds} T={res.iters}")


def lemma_cell(res: CheckResult) -> str:
    """The one-step check with its number named: ``holds, slack 1.02``, ``skipped: why``, or ``–``."""
    status, detail = lemma_status(res.lemma)
    if status == "skipped":
        return f"skipped: {detail}" if detail else "skipped"
    if status == "–":
        return "–"
    return f"{status}, slack {detail}" if detail and detail != "–" else status


def rate_slack(res: CheckResult) -> float | None:
    """Rate slack (observed log-decrease / the bound's, second half of the horizon), exact where there is one."""
    return (exact_figures(res).get("sensitivity") or res.sensitivity or {}).get("rate_slack")


@dataclass(frozen=True)
class Column:
    """A column of the per-check table: ``header``, the cell text of a result, and whether it is numeric."""

    header: str
    cell: Any
    numeric: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("theorem", lambda r: r.theorem),
    Column("problem", lambda r: r.problem),
    Column("sketch", lambda r: r.sketch),
    Column("p", lambda r: f"{r.p:g}", True),
    Column("r", lambda r: str(r.r), True),
    Column("parameters", parameters_text),
    Column("runs R", lambda r: str(r.seeds), True),
    Column("T", lambda r: str(r.iters), True),
    Column("γ", gamma_text, True),
    Column("verdict", verdict_label),
    Column("slack", lambda r: fmt_num(r.slack), True),
    Column("slack at T", lambda r: fmt_num(r.slack_final), True),
    Column("exact slack", lambda r: fmt_num(exact_figures(r).get("slack"), ".4g"), True),
    Column("detects const / rate", sensitivity_text),
    Column("rate slack", lambda r: fmt_num(rate_slack(r)), True),
    Column("model check", lambda r: exact_figures(r).get("model", {}).get("verdict", "–")),
    Column("one-step", lemma_cell),
    Column("time (s)", lambda r: f"{r.timings['total_s']:.1f}", True),
)

#: What each figure of the tables means, for the legend under a table.
COLUMN_NOTES: tuple[tuple[str, str], ...] = (
    ("parameters", "the estimator's parameters: compressor, q (probability of a full gradient), b′ (PAGE's "
                   "small batch), b (MVR momentum), batch"),
    ("runs R, T", "independent runs and iterations"),
    ("slack", "bound / observed mean, the smallest over the checkpoints (below 1: the bound is exceeded)"),
    ("slack at T", "bound / observed mean at the last iteration T"),
    ("exact slack", "bound / exact expectation (small quadratic instances, no sampling noise)"),
    ("detects const / rate", "the smallest relative error in the bound's constant / in its rate (T → (1+ε)T) "
                             "that turns the check red"),
    ("rate slack", "observed log-decrease / the bound's on the second half of the horizon (1: the rate is attained)"),
    ("model check", "the runs' means against the exact expectation, two-sided"),
    ("one-step", "the proof's one-step inequality at states of the runs; its slack is claimed / observed "
                 "right-hand side, the smallest over the states"),
    ("worst-case tightness", "bound / worst case over the theorem's function class (performance estimation), "
                             "the smallest over its (p, T) rows; 1 means the bound is tight"),
)


def rows(results: Sequence[CheckResult]) -> list[list[str]]:
    """The cells of the per-check table, one list per result in :data:`COLUMNS` order."""
    return [[col.cell(res) for col in COLUMNS] for res in results]


def worst_case(theorem_id: str) -> dict[str, Any] | None:
    """The row of smallest ratio bound / worst case among the cached performance-estimation rows of a theorem.

    ``verify.pep.cached_tightness(theorem_id)`` returns rows with keys ``p``, ``T``, ``worst_case``, ``bound``,
    ``ratio``, ``initial``, ...; rows without a finite ratio are skipped.  None when the module or its cache
    is absent, or it has no row.
    """
    try:
        from verify.pep import cached_tightness

        cached = cached_tightness(theorem_id)
    except (ImportError, FileNotFoundError):  # no PEP module, or its cache is not built
        return None
    found = [row for row in cached
             if isinstance(row.get("ratio"), (int, float)) and math.isfinite(row["ratio"])]
    return min(found, key=lambda row: row["ratio"]) if found else None


def worst_case_text(theorem_id: str) -> str:
    """``1.02 (p=0.5, T=10)``: the smallest bound / worst case and where, or ``–``."""
    row = worst_case(theorem_id)
    if row is None:
        return "–"
    where = ", ".join([f"{k}={row[k]:g}" if isinstance(row[k], float) else f"{k}={row[k]}"
                       for k in ("p", "T") if row.get(k) is not None]
                      + ([str(row["initial"])] if row.get("initial") else []))
    return f"{row['ratio']:.3g}" + (f" ({where})" if where else "")


@dataclass(frozen=True)
class TheoremRow:
    """One theorem of a report: its checks and what they say together."""

    theorem: str
    paper_ref: str
    provenance: str
    measure: str
    checks: list[CheckResult]

    @property
    def verdicts(self) -> str:
        """``3 holds, 1 not_applicable``: how many checks gave each verdict."""
        counts: dict[str, int] = {}
        for res in self.checks:
            counts[res.verdict] = counts.get(res.verdict, 0) + 1
        return ", ".join(f"{n} {v}" for v, n in counts.items())

    @property
    def smallest_slack(self) -> float | None:
        """The smallest slack over the theorem's checks (None if no check has one)."""
        slacks = [r.slack for r in self.checks if r.slack is not None]
        return min(slacks) if slacks else None


def by_theorem(results: Sequence[CheckResult]) -> list[TheoremRow]:
    """The checks grouped by theorem, in order of first appearance."""
    groups: dict[str, list[CheckResult]] = {}
    for res in results:
        groups.setdefault(res.theorem, []).append(res)
    return [TheoremRow(tid, checks[0].paper_ref, checks[0].provenance["tag"], checks[0].measure, checks)
            for tid, checks in groups.items()]


def summary_text(results: Sequence[CheckResult]) -> str:
    """The table ``verify run`` prints: one row per check (columns sized to their contents), a legend of the
    figures, then one line per skipped one-step check giving its reason (the column says only ``skipped``)."""
    keep = [c for c in COLUMNS if c.header not in ("rate slack", "model check")]
    table = [[c.header for c in keep]]
    skipped = []
    for res in results:
        status, detail = lemma_status(res.lemma)
        cells = [c.cell(res) for c in keep]
        if status == "skipped":
            cells[keep.index(next(c for c in keep if c.header == "one-step"))] = "skipped"
            skipped.append(f"one-step check of {res.theorem} on {res.problem} ({res.sketch} sketch) skipped: "
                           f"{detail or 'no reason given'}")
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(keep))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if col.numeric else c.ljust(w)
                         for c, w, col in zip(cells, widths, keep, strict=True)).rstrip()

    out = [line(table[0]), "-" * len(line(table[0]))] + [line(cells) for cells in table[1:]]
    out.append("slack = bound / observed mean (smallest over the checkpoints); exact slack = bound / exact "
               "expectation; detects = smallest detectable relative error of the constant / rate; one-step = "
               "verdict and slack of the proof's one-step inequality")
    return "\n".join(out + skipped)


def print_summary(results: Sequence[CheckResult], file: TextIO | None = None) -> None:
    """Print :func:`summary_text` (on stdout unless ``file`` is given)."""
    print(summary_text(results), file=file or sys.stdout)
