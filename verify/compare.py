"""``verify compare OLD NEW [--factor F]``: what changed between two runs, check by check.

OLD and NEW are each a ``results.json`` or a report folder holding one.  Checks are matched by theorem,
problem, sketch, p, r and estimator parameters.  For each pair the table shows the verdicts, the slack and
the slack at T (old → new, with the ratio new/old) and the largest fold change of the bound over the
checkpoints both runs share.

A check **regresses** when it turned to violated, when its slack (or slack at T) moved by more than a
factor F in either direction (or stopped being measured), or when it disappeared.  The command exits 1
if any check regresses, 0 otherwise; a missing, unreadable or corrupt file, or a missing key, is a
one-line :class:`~verify.errors.UserError` naming the file and the key (exit 2).

Wiring: ``add_compare_parser(subparsers)`` adds the sub-command and sets ``func=run_compare``;
:func:`main` runs it stand-alone (``python -m verify.compare OLD NEW``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verify.check import CheckResult
from verify.errors import UserError
from verify.report import fmt_num
from verify.results_io import load_run

__all__ = ["Change", "add_compare_parser", "compare_runs", "format_table", "main", "run_compare"]

EXIT_OK, EXIT_CHANGED, EXIT_USAGE = 0, 1, 2
DEFAULT_FACTOR = 1.5
HELP = "compare two runs (results.json or report folders) check by check; exit 1 on a regression"


@dataclass(frozen=True)
class Change:
    """One matched (or unmatched) check: ``old``/``new`` is None when the check is absent from that run.

    ``slack_ratio``, ``final_ratio`` are new/old (None when either is missing); ``bound_fold`` is the
    bound's ratio new/old at the shared checkpoint where it moved most; ``reasons`` says why it regresses.
    """

    label: str
    old: CheckResult | None
    new: CheckResult | None
    slack_ratio: float | None
    final_ratio: float | None
    bound_fold: float | None
    reasons: tuple[str, ...]


def match_key(res: CheckResult) -> tuple:
    """What identifies a check across runs: theorem, problem, sketch, p, r, estimator parameters."""
    return res.theorem, res.problem, res.sketch, float(res.p), int(res.r), json.dumps(res.params, sort_keys=True)


def label(res: CheckResult) -> str:
    """A short human name: ``theorem problem sketch p= r= params``."""
    params = "".join(f" {k}={v}" for k, v in sorted(res.params.items()))
    return f"{res.theorem} {res.problem} {res.sketch} p={res.p:g} r={res.r}{params}"


def _keyed(results: Sequence[CheckResult]) -> dict[tuple, CheckResult]:
    """Results by :func:`match_key`, a repeated key numbered by its occurrence."""
    out: dict[tuple, CheckResult] = {}
    for res in results:
        key = match_key(res)
        n = sum(1 for k in out if k[:-1] == key)
        out[(*key, n)] = res
    return out


def ratio(old: float | None, new: float | None) -> float | None:
    """``new / old``, or None when either is missing or ``old`` is not positive."""
    if old is None or new is None or old <= 0:
        return None
    return new / old


def _moved(r: float | None, factor: float) -> bool:
    return r is not None and (r > factor or r < 1.0 / factor)


def bound_fold(old: CheckResult, new: CheckResult) -> float | None:
    """The bound's ratio new/old at the shared checkpoint where ``|log ratio|`` is largest (None if none)."""
    new_at = dict(zip(new.checkpoints, new.bound, strict=True))
    folds = [ratio(b, new_at[t]) for t, b in zip(old.checkpoints, old.bound, strict=True) if t in new_at]
    folds = [f for f in folds if f is not None and f > 0]
    return max(folds, key=lambda f: abs(math.log(f))) if folds else None


def _reasons(old: CheckResult, new: CheckResult, factor: float, slack_r: float | None,
             final_r: float | None) -> tuple[str, ...]:
    reasons = []
    if new.verdict == "violated" and old.verdict != "violated":
        reasons.append(f"turned violated ({old.verdict} -> violated)")
    for name, a, b, r in (("slack", old.slack, new.slack, slack_r),
                          ("slack at T", old.slack_final, new.slack_final, final_r)):
        if _moved(r, factor):
            reasons.append(f"{name} moved x{r:.3g} (> factor {factor:g})")
        elif (a is None) != (b is None):
            reasons.append(f"{name} {fmt_num(a)} -> {fmt_num(b)}")
    return tuple(reasons)


def compare_runs(old: Sequence[CheckResult], new: Sequence[CheckResult], factor: float = DEFAULT_FACTOR
                 ) -> list[Change]:
    """Match the checks of two runs and say what changed (old order first, then checks only in ``new``)."""
    if not factor >= 1.0:
        raise UserError(f"--factor {factor} must be >= 1")
    old_k, new_k = _keyed(old), _keyed(new)
    changes = []
    for key, o in old_k.items():
        n = new_k.get(key)
        if n is None:
            changes.append(Change(label(o), o, None, None, None, None, ("disappeared",)))
            continue
        sr, fr = ratio(o.slack, n.slack), ratio(o.slack_final, n.slack_final)
        changes.append(Change(label(o), o, n, sr, fr, bound_fold(o, n), _reasons(o, n, factor, sr, fr)))
    changes += [Change(label(n), None, n, None, None, None, ()) for key, n in new_k.items() if key not in old_k]
    return changes


def _pair(a: float | None, b: float | None, r: float | None) -> str:
    return f"{fmt_num(a)} -> {fmt_num(b)}" + ("" if r is None or r == 1.0 else f" (x{r:.3g})")


def _row(c: Change) -> tuple[str, ...]:
    o, n = c.old, c.new
    if n is None:
        return c.label, f"{o.verdict} -> (gone)", fmt_num(o.slack), fmt_num(o.slack_final), "–", "REGRESSION: gone"
    if o is None:
        return c.label, f"(new) -> {n.verdict}", fmt_num(n.slack), fmt_num(n.slack_final), "–", "new"
    verdict = o.verdict if o.verdict == n.verdict else f"{o.verdict} -> {n.verdict}"
    bound = "–" if c.bound_fold is None else ("same" if c.bound_fold == 1.0 else f"x{c.bound_fold:.4g}")
    status = "REGRESSION: " + "; ".join(c.reasons) if c.reasons else "ok"
    slack = _pair(o.slack, n.slack, c.slack_ratio)
    return c.label, verdict, slack, _pair(o.slack_final, n.slack_final, c.final_ratio), bound, status


def format_table(changes: Sequence[Change]) -> str:
    """A plain-text table: check, verdict, slack, slack at T, bound change, status."""
    rows = [("check", "verdict", "slack", "slack at T", "bound", "status"), *(_row(c) for c in changes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    bad = sum(1 for c in changes if c.reasons)
    lines.append(f"{len(changes)} checks, {bad} regression{'s' if bad != 1 else ''}")
    return "\n".join(lines)


def _factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--factor must be a number >= 1, got {text!r}") from None
    if not (math.isfinite(value) and value >= 1.0):
        raise argparse.ArgumentTypeError(f"--factor must be a finite number >= 1, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the command's arguments to ``parser`` and set ``func=run_compare``."""
    parser.add_argument("old", metavar="OLD", help="the reference run: results.json or a report folder")
    parser.add_argument("new", metavar="NEW", help="the run to check: results.json or a report folder")
    parser.add_argument("--factor", type=_factor, default=DEFAULT_FACTOR,
                        help=f"a slack moving by more than this factor either way is a regression "
                             f"(default {DEFAULT_FACTOR})")
    parser.set_defaults(func=run_compare)
    return parser


def add_compare_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compare`` to the ``verify`` sub-commands (``func`` = :func:`run_compare`)."""
    configure(subparsers.add_parser("compare", help=HELP, description=HELP))


def run_compare(args: argparse.Namespace) -> int:
    """Load both runs, print the table; 1 if a check regressed, 0 otherwise (bad input raises UserError)."""
    _, old = load_run(Path(args.old))
    _, new = load_run(Path(args.new))
    changes = compare_runs(old, new, args.factor)
    print(format_table(changes))
    return EXIT_CHANGED if any(c.reasons for c in changes) else EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UserError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m verify.compare OLD NEW [--factor F]``; returns the exit status (2 with one line on bad input)."""
    try:
        args = configure(_Parser(prog="verify compare", description=HELP)).parse_args(argv)
        return args.func(args)
    except UserError as exc:
        print(f"verify compare: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
