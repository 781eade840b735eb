"""``verify compare OLD NEW [--factor F] [--equal] [--rtol R] [--require-all]``: what changed between two runs.

OLD and NEW are each a ``results.json`` or a report folder holding one.  Checks are matched by theorem,
problem, sketch, p, r and estimator parameters (:func:`match_key`).  :func:`compare_runs` applies the rule
below; the ``verify compare`` command and the reference test (``tests/test_compare.py``) both call it, so
they cannot disagree.

The rule
--------
**The floor.**  A check's floating-point floor is ``floor = FLOOR × |observed_mean[0]|``
(:data:`verify.stats.FLOOR` = 1e-12 times the measure at the first checkpoint, the check's initial scale; the
larger of the two runs' floors).  Below it float64 does not resolve the measure and :mod:`verify.stats`
tests nothing, so a number there means nothing and is never compared:

* a number in the measure's units (a mean, a distance from the mean to a confidence bound, a bound, a
  single run's value) agrees when ``|new − old| <= rtol × max(|old|, |new|) + floor``: two values at or below
  the floor always agree, a value far above it must agree to ``rtol`` relative;
* a ratio (``slack`` = bound/mean at the slack's checkpoint, ``slack_final`` = bound/mean at the final
  checkpoint, the one-step check's slack) whose numerator or denominator is at or below the floor in either
  run is **at floor, not compared** (ns-polyak's ``slack_final``, with a final mean of 3e-17 × scale, is one).
  Otherwise it carries the rounding tolerance ``τ = 2 rtol + floor/|numerator| + floor/|denominator|``
  (relative; the first-order propagation of the tolerance above).

**Regressions, always.**  A matched check regresses when it

* turned to violated (from any other verdict; this counts even within rounding of a threshold);
* has a compared slack or slack at T that moved by more than ``--factor F`` either way beyond its rounding
  tolerance (new/old outside ``[1/(F(1+τ)), F(1+τ)]``), or that stopped or started being measured.

Other verdict changes (holds, inconclusive, not_applicable) are shown, not counted.  A check present in one
run only is listed on its own line, ``missing in NEW: …`` or ``new in NEW: …``, and does not count unless
``--require-all`` is given, so a subset run compared with a full one passes.

**With --equal** (same seeds and versions, perhaps another machine: the reference test) the runs must also
be equal up to rounding; any of the following differences is a regression:

* the setup, exactly: :data:`EXACT_FIELDS` (seeds, iterations, checkpoints, root seed, spawn key, the
  theorem's text, ...);
* the verdict, ``attained`` and the one-step verdict, exactly.  Exception: when some confidence bound lies
  within rounding of the bound at a tested checkpoint in either run (``|bound − lower|`` or
  ``|bound − upper| <= rtol (|mean| + |distance| + |bound|) + 2 floor``), rounding alone can flip holds,
  inconclusive and ``attained``; such a change is noted, not counted (rare: none in the quick suite).  The
  one-step check's confidence bounds are not recorded, so its verdict has no such exception;
* per checkpoint and per plot point: the mean, ``mean − lower`` and ``upper − mean`` (the confidence bounds
  through their distances from the mean, so a bound near 0 is not judged by a cancelling difference), the
  bound and the single-run curves, with the floor rule above;
* the one-step check's ``lhs_mean`` and ``rhs`` per state, with the floor rule and its own floor
  ``FLOOR × max_s max(|lhs_mean|, |rhs|)`` (a stand-in for the ``FLOOR × max Φ_t`` it uses, which is not
  recorded); its slack as a ratio, rhs/lhs_mean at the state attaining it; its decrease ratio to
  ``2 rtol`` relative (its denominator is by construction above that floor and the Monte-Carlo half-width);
* :data:`NUMERIC_FIELDS` (constants, problem parameters, γ, γ_max, α per test): ``rtol`` relative, no floor
  (closed forms or deterministic estimates, exact up to rounding relative to themselves).

Not compared: the reason texts (they quote compared numbers to 6 digits, whose last digit rounding can
flip), ``slack_T`` and ``slack_interval`` (an argmin, and functions of compared numbers), timings and the
metadata (date, commit, versions, platform).

**The tolerance.**  ``--rtol`` (default :data:`RTOL` = 1e-6) is what "equal" allows.  Results are
deterministic given the seeds up to floating-point rounding: another BLAS kernel, thread count or SIMD loop
changes the order of operations, each rounding by at most ε = 1.1e-16 relative.  Through a contraction (or
the non-expansive steps of the non-smooth methods) a perturbation is carried forward without growing: after
T steps of products with O(n) terms per entry it is about T·n·ε ≈ 200 × 16 × 1.1e-16 ≈ 4e-13
of the iterate's scale, an absolute error that is negligible for a quantity far above the floor and of
order 1 relative at it.  Measured on the quick suite (16 checks, about 30 000 numbers each), against the
default build (OpenBLAS Haswell kernels), with OpenBLAS kernels Sandybridge, Nehalem and Prescott, and
against ``reports/`` made on another machine: above 1e6 × floor the largest relative difference was 4e-11
(a single-run curve of ns-polyak), 1e-13 for means, confidence-bound distances and the one-step numbers
(1e-12 for the decrease ratio), 1.4e-14 for bounds and slacks, 3e-15 for constants and γ; at or near the
floor the largest absolute difference was 9e-17 × scale, 10⁴ below the floor; no verdict changed; the
closest call used 9e-5 of its tolerance.  (1 or 2 BLAS threads, the Zen kernels and numpy's AVX2 loops
turned off, NPY_DISABLE_CPU_FEATURES=X86_V3, gave bit-identical results.)  ``rtol`` = 1e-6 thus leaves a
margin of 10⁴ over rounding, while an edited bound constant or a broken update moves means and bounds by
far more than 1e-6.  Values at the floor differ by much more: ns-polyak's ``slack_final`` (mean 3e-17 ×
scale) moved ×0.92 to ×1.01 between these builds, ×0.239 between two machines in issue 11, which is why
they are not compared.

Exit status: 1 if a check regresses (or, with ``--require-all``, a check is missing or new), 0 otherwise; a
missing, unreadable or corrupt file, a missing key or a bad option is a one-line
:class:`~verify.errors.UserError` (exit 2).

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
from typing import Any

from verify.check import CheckResult
from verify.cli.args import EXIT_OK, EXIT_VIOLATED
from verify.errors import UserError
from verify.results_io import load_run
from verify.stats import FLOOR
from verify.wording import fmt_num

__all__ = ["Change", "Comparison", "Difference", "SlackChange", "add_compare_parser", "check_floor",
           "compare_runs", "format_report", "main", "near_threshold", "run_compare"]

EXIT_CHANGED = EXIT_VIOLATED  # 1: a check regressed, as a violated check is 1 for verify run
DEFAULT_FACTOR = 1.5
#: Relative tolerance for "equal up to rounding" (module docstring: measured rounding is below 4e-11).
RTOL = 1e-6
HELP = "compare two runs (results.json or report folders) check by check; exit 1 on a regression"
#: Compared exactly by --equal: what a check is and how it was run.
EXACT_FIELDS = ("paper_ref", "provenance", "measure", "bound_latex", "shape", "stepsize_rule", "estimator",
                "gamma_factor", "conditions_met", "applicable", "seeds", "block_runs", "iters", "alpha",
                "bound_scale", "root_seed", "spawn_key", "checkpoints", "diverged_at")
#: Compared by --equal to ``rtol`` relative, without a floor (numbers inside, other values exactly).
NUMERIC_FIELDS = ("problem_params", "constants", "gamma", "gamma_max", "alpha_each")
#: Shown in default mode when they differ (a note: runs of another setup may be compared).
_SETUP_NOTE = ("seeds", "block_runs", "iters", "alpha", "root_seed", "bound_scale", "gamma_factor", "checkpoints")
_SHOWN = 3  # differences quoted per check


@dataclass(frozen=True)
class Difference:
    """A compared item that differs beyond its tolerance (or, as :attr:`Comparison.worst`, the closest call).

    ``used`` = |new − old| / allowed difference: above 1 it is a difference, ``inf`` for values that are not
    numbers (or a number against a missing one).
    """

    what: str
    old: Any
    new: Any
    used: float

    def __str__(self) -> str:
        return f"{self.what} {_fmt(self.old)} -> {_fmt(self.new)}"


@dataclass(frozen=True)
class SlackChange:
    """``slack`` or ``slack_final`` of a matched check.

    ``ratio`` is new/old (None when either is missing or old is not positive); ``tolerance`` is the rounding
    tolerance τ of the module docstring, None when the ratio is **at floor, not compared** (``at_floor``).
    """

    name: str
    old: float | None
    new: float | None
    ratio: float | None
    tolerance: float | None
    at_floor: bool


@dataclass(frozen=True)
class Change:
    """A check found in both runs: what changed and whether it regresses.

    ``reasons`` say why it regresses (empty: it does not); ``notes`` are shown but do not count (a ratio at
    the floor, a setup difference without ``--equal``, a verdict change within rounding of its threshold).
    ``differences`` are the numbers beyond rounding under ``--equal``; ``compared`` and ``at_floor`` count
    the numbers it compared and the ones it skipped because both were at the floor.  ``bound_fold`` is the
    bound's ratio new/old at the shared checkpoint where it moved most (shown, never counted).
    """

    label: str
    old: CheckResult
    new: CheckResult
    slack: SlackChange
    slack_final: SlackChange
    bound_fold: float | None
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()
    compared: int = 0
    at_floor: int = 0

    @property
    def slack_ratio(self) -> float | None:
        """``slack`` new/old (None when not measured in one run)."""
        return self.slack.ratio

    @property
    def final_ratio(self) -> float | None:
        """``slack_final`` new/old (None when not measured in one run)."""
        return self.slack_final.ratio


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare_runs`.

    ``changes`` are the checks found in both runs, in OLD's order; ``missing`` the checks of OLD absent from
    NEW and ``added`` those of NEW absent from OLD; ``worst`` (under ``equal``) the compared value that used
    the largest share of its tolerance, None when every compared value is identical.
    """

    changes: list[Change]
    missing: list[CheckResult]
    added: list[CheckResult]
    factor: float
    rtol: float
    equal: bool
    require_all: bool
    worst: Difference | None = None

    @property
    def regressions(self) -> list[Change]:
        """The matched checks that regress."""
        return [c for c in self.changes if c.reasons]

    @property
    def exit_status(self) -> int:
        """1 if a check regresses, or with ``require_all`` if a check is missing or new; else 0."""
        unmatched = self.require_all and bool(self.missing or self.added)
        return EXIT_CHANGED if self.regressions or unmatched else EXIT_OK


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


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _plain(x: Any) -> Any:
    """``x`` with tuples as lists and NaN as None, as it reads back from ``results.json``."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def check_floor(res: CheckResult) -> float:
    """The check's floating-point floor: ``FLOOR × |observed_mean[0]|`` (0 when that mean is missing)."""
    first = res.observed_mean[0] if res.observed_mean else None
    return FLOOR * abs(first) if _number(first) and math.isfinite(first) else 0.0


def _slack_terms(res: CheckResult, name: str) -> tuple[float | None, float | None]:
    """(bound, mean) behind ``slack`` (at ``slack_T``) or ``slack_final`` (at the last checkpoint)."""
    if not res.checkpoints:
        return None, None
    if name == "slack":
        if res.slack_T not in res.checkpoints:
            return None, None
        k = res.checkpoints.index(res.slack_T)
    else:
        k = len(res.checkpoints) - 1
    return res.bound[k], res.observed_mean[k]


def _resolved(t: float | None, floor: float) -> bool:
    return t is not None and math.isfinite(t) and abs(t) > floor


def _ratio_tolerance(terms: Sequence[float | None], floor: float, rtol: float) -> float | None:
    """τ = 2 rtol + Σ floor/|term| over numerator and denominator; None unless every term is above the floor."""
    if not all(_resolved(t, floor) for t in terms):
        return None
    return 2 * rtol + sum(floor / abs(t) for t in terms)


def _slack_change(old: CheckResult, new: CheckResult, name: str, floor: float, rtol: float) -> SlackChange:
    """``name`` (slack or slack_final) of both runs: at floor when a bound or mean behind it is a number at
    or below the floor in either run; otherwise with its rounding tolerance (None if a term is missing)."""
    a, b = getattr(old, name), getattr(new, name)
    terms = (*_slack_terms(old, name), *_slack_terms(new, name))
    at_floor = (a is not None or b is not None) and any(
        _number(t) and not math.isnan(t) and abs(t) <= floor for t in terms)
    tol = None if at_floor else _ratio_tolerance(terms, floor, rtol)
    return SlackChange(name, a, b, ratio(a, b), tol, at_floor)


def _moved(s: SlackChange, factor: float) -> bool:
    if s.ratio is None or s.tolerance is None:
        return False
    band = factor * (1 + s.tolerance)
    return s.ratio > band or s.ratio < 1.0 / band


def bound_fold(old: CheckResult, new: CheckResult) -> float | None:
    """The bound's ratio new/old at the shared checkpoint where ``|log ratio|`` is largest (None if none)."""
    new_at = dict(zip(new.checkpoints, new.bound, strict=False))
    folds = [ratio(b, new_at[t]) for t, b in zip(old.checkpoints, old.bound, strict=False) if t in new_at]
    folds = [f for f in folds if f is not None and f > 0]
    return max(folds, key=lambda f: abs(math.log(f))) if folds else None


def near_threshold(res: CheckResult, rtol: float = RTOL) -> bool:
    """Whether rounding alone could change the check's verdict or ``attained`` flag.

    True when, at some checkpoint whose bound ``b`` is above the floor (the tested ones), a confidence bound
    ``x`` (lower or upper) satisfies ``|x − b| <= rtol (|mean| + |x − mean| + |b|) + 2 floor``: the verdict
    compares these with ``b (1 + 1e-9)`` and ``attained`` with ``b``.

    Parameters
    ----------
    res : CheckResult
        One run's record of the check.
    rtol : float
        The relative rounding tolerance.

    Returns
    -------
    bool
    """
    floor = check_floor(res)
    for m, lo, up, b in zip(res.observed_mean, res.ci_lower, res.ci_upper, res.bound, strict=False):
        if not all(_number(v) and math.isfinite(v) for v in (m, lo, up, b)) or b <= floor:
            continue
        if any(abs(x - b) <= rtol * (abs(m) + abs(x - m) + abs(b)) + 2 * floor for x in (lo, up)):
            return True
    return False


class _Tally:
    """Numbers compared under ``--equal``: counts, differences and the closest call."""

    def __init__(self, rtol: float) -> None:
        self.rtol = rtol
        self.compared = 0
        self.at_floor = 0
        self.differences: list[Difference] = []
        self.worst: Difference | None = None

    def _record(self, what: str, a: Any, b: Any, used: float) -> None:
        self.compared += 1
        d = Difference(what, a, b, used)
        if used > 1.0:
            self.differences.append(d)
        if used > 0 and (self.worst is None or used > self.worst.used):
            self.worst = d

    def exact(self, what: str, a: Any, b: Any) -> None:
        """Values that must be identical (tuples as lists, NaN equal to NaN)."""
        self._record(what, a, b, 0.0 if _plain(a) == _plain(b) else math.inf)

    def number(self, what: str, a: Any, b: Any, floor: float = 0.0, rtol: float | None = None) -> None:
        """``|b − a| <= rtol max(|a|, |b|) + floor``; both at or below ``floor`` (> 0): at floor, skipped."""
        if not (_number(a) and _number(b)):
            self.exact(what, a, b)
            return
        if not (math.isfinite(a) and math.isfinite(b)):
            self.exact(what, a if math.isfinite(a) else str(a), b if math.isfinite(b) else str(b))
            return
        rtol = self.rtol if rtol is None else rtol
        mag = max(abs(a), abs(b))
        if floor > 0 and mag <= floor:
            self.at_floor += 1
            return
        diff, allowed = abs(b - a), rtol * mag + floor
        self._record(what, a, b, 0.0 if diff == 0 else (diff / allowed if allowed > 0 else math.inf))

    def tree(self, what: str, a: Any, b: Any) -> None:
        """Nested dicts and lists: numbers (if one is a float) to ``rtol`` relative, the rest exactly."""
        if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            for k in a:
                self.tree(f"{what}.{k}", a[k], b[k])
        elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
            for i, (u, v) in enumerate(zip(a, b, strict=True)):
                self.tree(f"{what}[{i}]", u, v)
        elif _number(a) and _number(b) and (isinstance(a, float) or isinstance(b, float)):
            self.number(what, float(a), float(b))
        else:
            self.exact(what, a, b)

    def series(self, what: str, T_old: Sequence[int], old: Sequence[Any], T_new: Sequence[int], new: Sequence[Any],
               floor: float) -> None:
        """Per-T values (measure units) at the T both runs share."""
        at = dict(zip(T_new, new, strict=False))
        for t, a in zip(T_old, old, strict=False):
            if t in at:
                self.number(f"{what}[T={t}]", a, at[t], floor)


def _distances(mean: Sequence[Any], bound: Sequence[Any], sign: int) -> list[Any]:
    """``mean − lower`` (sign −1) or ``upper − mean`` (sign +1), None where either is missing."""
    return [sign * (c - m) if _number(m) and _number(c) else None for m, c in zip(mean, bound, strict=False)]


def _equal_check(t: _Tally, o: CheckResult, n: CheckResult, floor: float) -> None:
    """Everything ``--equal`` compares besides verdicts and slacks (module docstring)."""
    for name in EXACT_FIELDS:
        t.exact(name, getattr(o, name), getattr(n, name))
    for name in NUMERIC_FIELDS:
        t.tree(name, getattr(o, name), getattr(n, name))
    for what, a, b in (("mean", o.observed_mean, n.observed_mean), ("bound", o.bound, n.bound),
                       ("mean-lower", _distances(o.observed_mean, o.ci_lower, -1),
                        _distances(n.observed_mean, n.ci_lower, -1)),
                       ("upper-mean", _distances(o.observed_mean, o.ci_upper, 1),
                        _distances(n.observed_mean, n.ci_upper, 1))):
        t.series(what, o.checkpoints, a, n.checkpoints, b, floor)
    oc, nc = o.curve, n.curve
    t.exact("curve.T", oc["T"], nc["T"])
    for what, a, b in (("curve.mean", oc["mean"], nc["mean"]), ("curve.bound", oc["bound"], nc["bound"]),
                       ("curve.mean-lower", _distances(oc["mean"], oc["lower"], -1),
                        _distances(nc["mean"], nc["lower"], -1)),
                       ("curve.upper-mean", _distances(oc["mean"], oc["upper"], 1),
                        _distances(nc["mean"], nc["upper"], 1))):
        t.series(what, oc["T"], a, nc["T"], b, floor)
    t.exact("curve.runs (count)", len(oc["runs"]), len(nc["runs"]))
    for i, (a, b) in enumerate(zip(oc["runs"], nc["runs"], strict=False)):
        t.series(f"curve.runs[{i}]", oc["T"], a, nc["T"], b, floor)
    _equal_lemma(t, o.lemma, n.lemma)


def _equal_lemma(t: _Tally, a: dict[str, Any] | None, b: dict[str, Any] | None) -> None:
    """The one-step check's record: verdict and shape exactly, numbers with its own floor (module docstring)."""
    if not (isinstance(a, dict) and isinstance(b, dict) and "verdict" in a and "verdict" in b):
        t.exact("lemma", a, b)
        return
    for key in ("verdict", "states", "samples", "steps"):
        t.exact(f"lemma.{key}", a.get(key), b.get(key))
    lhs_a, rhs_a = list(a.get("lhs_mean") or []), list(a.get("rhs") or [])
    lhs_b, rhs_b = list(b.get("lhs_mean") or []), list(b.get("rhs") or [])
    values = [abs(v) for v in (*lhs_a, *rhs_a, *lhs_b, *rhs_b) if _number(v) and math.isfinite(v)]
    floor = FLOOR * max(values, default=0.0)
    steps = list(a.get("steps") or range(len(lhs_a)))
    for what, x, y in (("lemma.lhs_mean", lhs_a, lhs_b), ("lemma.rhs", rhs_a, rhs_b)):
        if len(x) != len(y) or len(x) != len(steps):
            t.exact(what, x, y)
            continue
        for s, (u, v) in enumerate(zip(x, y, strict=True)):
            t.number(f"{what}[state {s}, t={steps[s]}]", u, v, floor)
    taus = [_lemma_slack_tolerance(lhs, rhs, floor, t.rtol) for lhs, rhs in ((lhs_a, rhs_a), (lhs_b, rhs_b))]
    if None in taus:
        t.at_floor += 1
    else:
        t.number("lemma.slack", a.get("slack"), b.get("slack"), rtol=max(taus))
    t.number("lemma.decrease_ratio", a.get("decrease_ratio"), b.get("decrease_ratio"), rtol=2 * t.rtol)


def _lemma_slack_tolerance(lhs: Sequence[Any], rhs: Sequence[Any], floor: float, rtol: float) -> float | None:
    """τ of the one-step slack min_s rhs_s/lhs_s (over states with rhs above the floor and lhs > 0) at the
    state that attains it; None when there is none or its lhs is at the floor."""
    ratios = [(r / m, r, m) for m, r in zip(lhs, rhs, strict=False)
              if _number(m) and _number(r) and math.isfinite(m) and math.isfinite(r) and r > floor and m > 0]
    if not ratios:
        return None
    _, r, m = min(ratios)
    return _ratio_tolerance([r, m], floor, rtol)


def _compare_pair(o: CheckResult, n: CheckResult, factor: float, rtol: float, equal: bool) -> tuple[Change, _Tally]:
    floor = max(check_floor(o), check_floor(n))
    slacks = [_slack_change(o, n, name, floor, rtol) for name in ("slack", "slack_final")]
    reasons: list[str] = []
    notes: list[str] = []
    turned = n.verdict == "violated" and o.verdict != "violated"
    if turned:
        reasons.append(f"turned violated ({o.verdict} -> violated)")
    for s in slacks:
        shown = "slack at T" if s.name == "slack_final" else "slack"
        if s.at_floor:
            notes.append(f"{shown}: at floor, not compared")
        elif _moved(s, factor):
            reasons.append(f"{shown} moved x{s.ratio:.3g} (> factor {factor:g})")
        elif (s.old is None) != (s.new is None):
            reasons.append(f"{shown} {fmt_num(s.old)} -> {fmt_num(s.new)}")
    tally = _Tally(rtol)
    if equal:
        _equal_check(tally, o, n, floor)
        for s in slacks:
            if s.at_floor:
                tally.at_floor += 1
            elif s.tolerance is not None:
                tally.number(s.name, s.old, s.new, rtol=s.tolerance)
        verdicts = [("verdict", o.verdict, n.verdict), ("attained", o.attained, n.attained)]
        changed = [f"{k} {a} -> {b}" for k, a, b in verdicts if a != b]
        if changed and (near_threshold(o, rtol) or near_threshold(n, rtol)) and not turned:
            notes.append(f"{', '.join(changed)}: within rounding of its threshold, not compared")
        elif not turned:  # a check turned violated regresses already
            for k, a, b in verdicts:
                tally.exact(k, a, b)
        if tally.differences:
            shown = "; ".join(str(d) for d in tally.differences[:_SHOWN])
            more = len(tally.differences) - _SHOWN
            reasons.append(f"differs beyond rounding: {shown}" + (f" (and {more} more)" if more > 0 else ""))
    else:
        setup = [k for k in _SETUP_NOTE if getattr(o, k) != getattr(n, k)]
        if setup:
            notes.append("setup differs: " + ", ".join(setup))
    change = Change(label(o), o, n, slacks[0], slacks[1], bound_fold(o, n), tuple(reasons), tuple(notes),
                    tuple(tally.differences), tally.compared, tally.at_floor)
    return change, tally


def compare_runs(old: Sequence[CheckResult], new: Sequence[CheckResult], factor: float = DEFAULT_FACTOR,
                 rtol: float = RTOL, equal: bool = False, require_all: bool = False) -> Comparison:
    """Match the checks of two runs and apply the rule of the module docstring.

    Parameters
    ----------
    old, new : sequence of CheckResult
        The reference run and the run to check.
    factor : float
        A compared slack moving by more than this factor either way (beyond rounding) is a regression.
    rtol : float
        The relative rounding tolerance, in (0, 1): what ``equal`` allows, and the τ of the slack band.
    equal : bool
        Also require every compared number to agree up to rounding, and verdicts and setup exactly.
    require_all : bool
        Count a check present in one run only as a failure (:attr:`Comparison.exit_status`).

    Returns
    -------
    Comparison
        The matched checks (OLD's order), the checks missing in NEW and new in NEW, and under ``equal`` the
        compared number that came closest to its tolerance.

    Raises
    ------
    UserError
        ``factor`` below 1, or ``rtol`` outside (0, 1).
    """
    if not (math.isfinite(factor) and factor >= 1.0):
        raise UserError(f"--factor {factor} must be a finite number >= 1")
    if not (math.isfinite(rtol) and 0 < rtol < 1):
        raise UserError(f"--rtol {rtol} must be a number in (0, 1)")
    old_k, new_k = _keyed(old), _keyed(new)
    changes, missing, worst = [], [], None
    for key, o in old_k.items():
        n = new_k.get(key)
        if n is None:
            missing.append(o)
            continue
        change, tally = _compare_pair(o, n, factor, rtol, equal)
        changes.append(change)
        if tally.worst is not None and (worst is None or tally.worst.used > worst.used):
            worst = Difference(f"{change.label}: {tally.worst.what}", tally.worst.old, tally.worst.new,
                               tally.worst.used)
    added = [n for key, n in new_k.items() if key not in old_k]
    return Comparison(changes, missing, added, factor, rtol, equal, require_all, worst)


def _fmt(x: Any) -> str:
    return format(x, ".6g") if _number(x) else str(x)


def _pair(s: SlackChange, rtol: float) -> str:
    text = f"{fmt_num(s.old)} -> {fmt_num(s.new)}"
    if s.at_floor:
        return text + " (at floor)"
    return text + ("" if s.ratio is None or abs(s.ratio - 1.0) <= rtol else f" (x{s.ratio:.3g})")


def _row(c: Change, rtol: float) -> tuple[str, ...]:
    o, n = c.old, c.new
    verdict = o.verdict if o.verdict == n.verdict else f"{o.verdict} -> {n.verdict}"
    if c.bound_fold is None:
        bound = "–"
    else:
        bound = "same" if abs(c.bound_fold - 1.0) <= rtol else f"x{c.bound_fold:.4g}"
    status = "REGRESSION: " + "; ".join(c.reasons) if c.reasons else "ok"
    if c.notes:
        status += " (" + "; ".join(c.notes) + ")"
    return c.label, verdict, _pair(c.slack, rtol), _pair(c.slack_final, rtol), bound, status


def format_report(comparison: Comparison) -> str:
    """The plain-text report: a table (check, verdict, slack, slack at T, bound change, status), one line
    per check missing in NEW or new in NEW, under ``--equal`` the largest difference relative to its
    tolerance, and a summary line."""
    c = comparison
    rows = [("check", "verdict", "slack", "slack at T", "bound", "status"), *(_row(x, c.rtol) for x in c.changes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines += [f"missing in NEW: {label(r)}" for r in c.missing]
    lines += [f"new in NEW: {label(r)}" for r in c.added]
    if c.equal:
        compared = sum(x.compared for x in c.changes)
        at_floor = sum(x.at_floor for x in c.changes)
        if c.worst is None:
            closest = "; every compared value identical"
        elif math.isinf(c.worst.used):
            closest = f"; largest difference: {c.worst} (must be identical)"
        else:
            closest = f"; largest difference: {c.worst} ({c.worst.used:.2g} x its tolerance)"
        lines.append(f"equal up to rounding (rtol {c.rtol:g}, floor = {FLOOR:g} x the check's initial scale): "
                     f"{compared} values compared, {at_floor} at floor not compared{closest}")
    bad = len(c.regressions)
    summary = (f"{len(c.changes)} checks compared, {bad} regression{'s' if bad != 1 else ''}, "
               f"{len(c.missing)} missing in NEW, {len(c.added)} new in NEW")
    if c.require_all and (c.missing or c.added):
        summary += " (--require-all: the runs must hold the same checks)"
    lines.append(summary)
    return "\n".join(lines)


def _factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--factor must be a number >= 1, got {text!r}") from None
    if not (math.isfinite(value) and value >= 1.0):
        raise argparse.ArgumentTypeError(f"--factor must be a finite number >= 1, got {text!r}")
    return value


def _rtol(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rtol must be a number in (0, 1), got {text!r}") from None
    if not (math.isfinite(value) and 0 < value < 1):
        raise argparse.ArgumentTypeError(f"--rtol must be a number in (0, 1), got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the command's arguments to ``parser`` and set ``func=run_compare``."""
    parser.add_argument("old", metavar="OLD", help="the reference run: results.json or a report folder")
    parser.add_argument("new", metavar="NEW", help="the run to check: results.json or a report folder")
    parser.add_argument("--factor", type=_factor, default=DEFAULT_FACTOR,
                        help=f"a slack moving by more than this factor either way is a regression "
                             f"(default {DEFAULT_FACTOR}); slacks at the floating-point floor are not compared")
    parser.add_argument("--equal", action="store_true",
                        help="the runs must be equal up to rounding: setup and verdicts exactly, every number "
                             "above the floating-point floor within --rtol (same seeds, another machine)")
    parser.add_argument("--rtol", type=_rtol, default=RTOL,
                        help=f"relative rounding tolerance for --equal and the slack band (default {RTOL:g})")
    parser.add_argument("--require-all", action="store_true",
                        help="exit 1 when a check is missing in NEW or new in NEW (default: listed only)")
    parser.set_defaults(func=run_compare)
    return parser


def add_compare_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compare`` to the ``verify`` sub-commands (``func`` = :func:`run_compare`)."""
    configure(subparsers.add_parser("compare", help=HELP, description=HELP))


def run_compare(args: argparse.Namespace) -> int:
    """Load both runs, print :func:`format_report` of :func:`compare_runs`; return its exit status (0 or 1;
    bad input raises UserError)."""
    _, old = load_run(Path(args.old))
    _, new = load_run(Path(args.new))
    comparison = compare_runs(old, new, args.factor, rtol=args.rtol, equal=args.equal,
                              require_all=args.require_all)
    print(format_report(comparison))
    return comparison.exit_status


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m verify.compare OLD NEW [options]``; returns the exit status (2 with one line on bad input)."""
    from verify.cli.args import standalone

    return standalone("verify compare", configure, lambda args: args.func(args), argv, HELP)


if __name__ == "__main__":
    sys.exit(main())
