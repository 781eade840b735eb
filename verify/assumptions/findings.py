"""The record of one assumption check and the budget the checks share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from verify.assumptions.adapter import OracleError

__all__ = ["STATUSES", "Budget", "Finding", "from_error", "guarded", "holds", "jsonable", "unverified", "violated"]

STATUSES = ("holds", "violated", "unverified")
"""``holds``: every sampled test passed (evidence, not a proof); ``violated``: a witness breaks the
assumption; ``unverified``: it could not be tested (an oracle is missing, the user's code failed, or
the evidence is inconclusive)."""


@dataclass(frozen=True)
class Budget:
    """Sample sizes of the checks.  The defaults keep a built-in problem under about 10 s.

    Attributes
    ----------
    points : int
        Random points per (centre, scale) of the sampling region (2 centres × 3 scales).
    fd_directions : int
        Random directions per point for the finite-difference test of ``grad``.
    power_iters : int
        Iterations of the finite-difference Hessian power iteration.
    segments : int
        Segments searched for gradient jumps (half through the best point found, half random).
    halvings : int
        Bisection steps per segment of the jump search.
    gd_steps : int
        Gradient-descent steps per PŁ trajectory.
    solver_starts, solver_iters : int
        Starts and iterations of the L-BFGS solver that estimates ``f*``.
    stationary_starts, stationary_iters : int
        Starts and L-BFGS iterations of the search for stationary points (minimising ``½‖∇f‖²``) in the PŁ check.
    bias_samples, variance_samples, mss_samples : int
        Stochastic gradients per point for the unbiasedness test, the variance, and per pair for the
        mean-squared smoothness.
    compressor_samples, projection_samples : int
        Monte-Carlo draws of the compressor (per test matrix) and of the sketch (per side).
    alpha : float
        Family-wise false-alarm level of each statistical test (Bonferroni inside a check).
    """

    points: int = 4
    fd_directions: int = 3
    power_iters: int = 40
    segments: int = 6
    halvings: int = 40
    gd_steps: int = 300
    solver_starts: int = 6
    solver_iters: int = 500
    stationary_starts: int = 8
    stationary_iters: int = 100
    bias_samples: int = 400
    variance_samples: int = 256
    mss_samples: int = 128
    compressor_samples: int = 4000
    projection_samples: int = 4000
    alpha: float = 1e-3


@dataclass(frozen=True)
class Finding:
    """The outcome of one assumption check.

    Attributes
    ----------
    name : str
        The assumption id (a key of the JSON output).
    status : {"holds", "violated", "unverified"}
    estimate : mapping or None
        The estimated constants by name (e.g. ``{"L": 1.0, "kind": "lower bound"}``), JSON-ready.
    method : str
        How it was estimated or tested.
    confidence : str
        What the status and the estimate guarantee, and at which level.
    witness : mapping or None
        For ``violated``: the points and values that break the assumption; for an error in the user's
        code: the oracle, the message and the point.
    summary : str
        One line for the table.
    """

    name: str
    status: str
    estimate: Mapping[str, object] | None
    method: str
    confidence: str
    witness: Mapping[str, object] | None
    summary: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")

    def to_json(self) -> dict[str, object]:
        """``{"status", "estimate", "method", "witness"}``; the confidence statement ends the method text."""
        return {"status": self.status, "estimate": jsonable(self.estimate),
                "method": f"{self.method} Confidence: {self.confidence}", "witness": jsonable(self.witness)}


def jsonable(x: object) -> object:
    """Numpy scalars and arrays to Python numbers and lists, recursively; non-finite floats to strings."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if np.isfinite(x) else str(x)
    return x


def holds(name: str, estimate: Mapping[str, object] | None, method: str, confidence: str, summary: str) -> Finding:
    """A passed check."""
    return Finding(name, "holds", estimate, method, confidence, None, summary)


def violated(name: str, estimate: Mapping[str, object] | None, method: str, confidence: str,
             witness: Mapping[str, object], summary: str) -> Finding:
    """A failed check with its witness."""
    return Finding(name, "violated", estimate, method, confidence, witness, summary)


def unverified(name: str, reason: str, method: str = "", estimate: Mapping[str, object] | None = None,
               witness: Mapping[str, object] | None = None) -> Finding:
    """A check that could not be made; ``reason`` is the summary and the confidence statement."""
    return Finding(name, "unverified", estimate, method or "not run.", reason, witness, reason)


def from_error(name: str, exc: OracleError) -> Finding:
    """The entry of a check stopped by an error in the user's code: unverified, with the point."""
    where = "" if exc.point is None else f" (at the point in the witness, |W| = {np.linalg.norm(exc.point):.4g})"
    return unverified(name, f"error in the problem's code: {exc}{where}", "stopped by an error in the user's oracle.",
                      witness=exc.witness())


def guarded(name: str, check: Callable[[], Finding]) -> Finding:
    """Run ``check``; an :class:`OracleError` becomes an unverified entry instead of stopping the run."""
    try:
        return check()
    except OracleError as exc:
        return from_error(name, exc)
