"""Run every assumption check on one problem: :func:`check_assumptions`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

import theorems
from verify import sketch as sketch_mod
from verify.assumptions.adapter import OracleError, Oracles, adapt
from verify.assumptions.applicability import FLAGS, applicable, theorem_constants
from verify.assumptions.bounded_below import check_lower_bounded
from verify.assumptions.compressor import check_compressor
from verify.assumptions.convexity import check_convex
from verify.assumptions.federated import check_federated
from verify.assumptions.findings import Budget, Finding, from_error, guarded
from verify.assumptions.landscape import Landscape, explore
from verify.assumptions.lipschitz import check_lipschitz
from verify.assumptions.oracle import check_oracle
from verify.assumptions.pl import check_pl
from verify.assumptions.projection import check_projection
from verify.assumptions.smoothness import check_smooth
from verify.assumptions.stochastic import check_bounded_variance, check_expected_smoothness, check_mean_square_smooth
from verify.compressors import Compressor, make_compressor
from verify.projection import BernoulliProjector

__all__ = ["NAMES", "AssumptionReport", "check_assumptions"]

LandscapeCheck = Callable[[Oracles, Landscape, np.random.Generator, Budget], Finding]

#: Checks that evaluate the problem, in report order.
PROBLEM_CHECKS: Mapping[str, LandscapeCheck] = {
    "oracle": check_oracle,
    "smooth": check_smooth,
    "pl": check_pl,
    "convex": check_convex,
    "lipschitz": check_lipschitz,
    "expected_smoothness": check_expected_smoothness,
    "bounded_variance": check_bounded_variance,
    "mean_square_smooth": check_mean_square_smooth,
}

#: Every key of the report, in order.
NAMES = (*PROBLEM_CHECKS, "compressor", "positive_expected_projection", "lower_bounded", "federated")


@dataclass(frozen=True)
class AssumptionReport:
    """The findings on one problem, the theorems that apply and their constants.

    Attributes
    ----------
    problem, origin : str
        The problem's name and how it was called (user object or batched Problem).
    shape : tuple[int, int]
    findings : mapping
        :data:`NAMES` → :class:`~verify.assumptions.findings.Finding`.
    applicable : tuple of str
        Theorem ids whose assumptions all hold (and the oracle check holds).
    constants : mapping
        Theorem id → ``{symbol: value}`` (see :mod:`verify.assumptions.applicability`).
    settings : mapping
        sketch, r, p, compressor, seed.
    """

    problem: str
    origin: str
    shape: tuple[int, int]
    findings: Mapping[str, Finding]
    applicable: tuple[str, ...]
    constants: Mapping[str, Mapping[str, float | None]]
    settings: Mapping[str, object]

    def to_json(self) -> dict[str, object]:
        """``{"assumptions": {NAME: {...}}, "applicable_theorems": [...], "constants": {id: {symbol: value}}}``."""
        return {"assumptions": {name: f.to_json() for name, f in self.findings.items()},
                "applicable_theorems": list(self.applicable),
                "constants": {tid: dict(c) for tid, c in self.constants.items()}}

    def flags(self) -> dict[str, str]:
        """How each constant that appears relates to the true one (lower bound, upper estimate, …)."""
        used = {s for c in self.constants.values() for s in c}
        return {s: FLAGS[s] for s in sorted(used) if s in FLAGS}


def _settings(orc: Oracles, sketch: str, r: int, p: float, compressor: str | Compressor | None
              ) -> Compressor | None:
    """Validate the sketch, ``r``, ``p`` and the compressor against the problem's shape (UserError if bad)."""
    dist = sketch_mod.make(sketch)
    BernoulliProjector(p, r, dist, dist).validate(*orc.shape)
    comp = make_compressor(compressor) if isinstance(compressor, str) else compressor
    if comp is not None:
        comp.validate(orc.d)
    return comp


def _problem_findings(orc: Oracles, streams: Mapping[str, np.random.Generator], budget: Budget
                      ) -> dict[str, Finding]:
    try:
        land = explore(orc, streams["landscape"], budget)
    except OracleError as exc:
        names = (*PROBLEM_CHECKS, "lower_bounded", "federated")
        return {name: from_error(name, exc) for name in names}
    out = {name: guarded(name, lambda c=check, n=name: c(orc, land, streams[n], budget))
           for name, check in PROBLEM_CHECKS.items()}
    out["lower_bounded"] = guarded("lower_bounded", lambda: check_lower_bounded(orc, land))
    out["federated"] = guarded("federated", lambda: check_federated(orc, land, streams["federated"], budget))
    return out


def check_assumptions(problem: object, *, sketch: str = sketch_mod.DEFAULT, r: int = 1, p: float = 0.5,
                      compressor: str | Compressor | None = None, seed: int = 0,
                      budget: Budget | None = None) -> AssumptionReport:
    """Check the paper's assumptions on ``problem`` and list the theorems that apply.

    Parameters
    ----------
    problem : object
        A user object (``shape``, ``f``, ``grad`` on one matrix, optional oracles) or a batched
        :class:`~verify.problems.Problem`; see :mod:`verify.assumptions.adapter`.
    sketch, r, p : str, int, float
        The sketch distribution (both sides), rank and probability of the left sketch for Assumption 1.
    compressor : str or Compressor, optional
        A spec such as ``"rand-k:k=4"``; without one the ``compressor`` entry is unverified.
    seed : int
        Root of a ``numpy.random.SeedSequence``; each check gets its own child stream.
    budget : Budget, optional
        Sample sizes (defaults: :class:`~verify.assumptions.findings.Budget`).

    Raises
    ------
    UserError
        Malformed problem object, unknown sketch, ``r`` or ``p`` out of range, bad compressor spec.
        Errors raised by the problem's own code are reported in the findings instead.
    """
    budget = budget or Budget()
    orc = adapt(problem)
    comp = _settings(orc, sketch, r, p, compressor)
    keys = ("landscape", *NAMES)
    streams = {k: np.random.default_rng(s) for k, s in zip(keys, np.random.SeedSequence(seed).spawn(len(keys)),
                                                            strict=True)}
    with np.errstate(all="ignore"):
        found = _problem_findings(orc, streams, budget)
        found["compressor"] = check_compressor(comp, orc.shape, streams["compressor"], budget)
        found["positive_expected_projection"] = check_projection(
            sketch, r, p, orc.shape, streams["positive_expected_projection"], budget)
    findings = {name: found[name] for name in NAMES}
    registry = theorems.registry()
    ids = applicable(registry, findings)
    return AssumptionReport(
        problem=orc.name, origin=orc.origin, shape=orc.shape, findings=findings, applicable=tuple(ids),
        constants={tid: theorem_constants(registry[tid], findings) for tid in ids},
        settings={"sketch": sketch, "r": r, "p": p, "compressor": None if comp is None else repr(comp), "seed": seed})
