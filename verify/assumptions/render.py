"""The human-readable table and the JSON text of an :class:`~verify.assumptions.run.AssumptionReport`."""

from __future__ import annotations

import json
import textwrap

from verify.assumptions.findings import jsonable as _jsonable
from verify.assumptions.run import AssumptionReport

__all__ = ["render_json", "render_table"]

WIDTH = 120


def render_json(report: AssumptionReport) -> str:
    """Exactly ``{"assumptions", "applicable_theorems", "constants"}`` as indented JSON."""
    return json.dumps(_jsonable(report.to_json()), indent=1)


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2))


def _short(value: object) -> str | None:
    """A number, a string or a short flat list as text; None for points and other large values."""
    value = _jsonable(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and value and len(value) <= 8:
        parts = [_short(v) for v in value]
        if all(p is not None for p in parts):
            return "[" + ", ".join(parts) + "]"
    return None


MATRICES = frozenset({"point", "points", "x", "y", "centre", "direction", "direction_of_smallest_curvature", "matrix"})
"""Witness fields holding matrices: shown only in the JSON output."""


def _witness_line(w: dict) -> str:
    """A short description of a witness: its scalar and short fields (points are in the JSON output)."""
    parts = ((k, _short(v)) for k, v in w.items() if k not in MATRICES)
    return ", ".join(f"{k} = {text}" for k, text in parts if text is not None)


def render_table(report: AssumptionReport, verbose: bool = False) -> str:
    """The status table, the witnesses, the applicable theorems and their constants; with ``verbose``, also how
    each assumption was tested and with what confidence (otherwise one line says how to see it)."""
    s = report.settings
    lines = [f"verify assumptions: {report.problem} ({report.shape[0]}x{report.shape[1]}, {report.origin}); "
             f"sketch {s['sketch']}, r = {s['r']}, p = {s['p']:g}, compressor {s['compressor']}, seed {s['seed']}", ""]
    width = max(len(n) for n in report.findings)
    lines.append(f"{'assumption':<{width}}  {'status':<10}  estimate / reason")
    lines.append("-" * min(WIDTH, width + 14 + 60))
    for name, f in report.findings.items():
        lines.append(f"{name:<{width}}  {f.status:<10}  {f.summary}")
    bad = [(n, f) for n, f in report.findings.items() if f.witness is not None]
    if bad:
        lines += ["", "Witnesses (full points in --json):"]
        for name, f in bad:
            lines += _wrap(f"{name}: {_witness_line(dict(f.witness))}", 2)
    lines += ["", "Applicable theorems (every assumption holds): " + (", ".join(report.applicable) or "none")]
    if report.constants:
        lines.append("Constants (from the estimates; a certified value should replace every lower bound L, L0, Lms, "
                     "L_max, L_tilde, sigma2 and the upper estimate mu):")
        flags = report.flags()
        for tid, consts in report.constants.items():
            parts = [f"{k} = {'?' if v is None else f'{v:.6g}'}" for k, v in consts.items()]
            lines += _wrap(f"{tid}: " + ", ".join(parts), 2)
        lines += _wrap("kinds: " + ", ".join(f"{k}: {v}" for k, v in flags.items()), 2)
    if verbose:
        lines += ["", "Methods and confidence:"]
        for name, f in report.findings.items():
            if f.status != "unverified" or f.method != "not run.":
                lines += _wrap(f"{name}: {f.method} Confidence: {f.confidence}", 2)
    else:
        lines += ["", "How each assumption was tested, and with what confidence: --verbose (or --json)."]
    lines += ["", "Statuses: holds = every sampled test passed (evidence, not a proof); violated = the witness breaks "
              "the assumption; unverified = not testable here (missing oracle, error in the problem's code, or "
              "inconclusive)."]
    return "\n".join(lines)
