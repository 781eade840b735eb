r"""Lemma-level check: the theorem's one-step inequality at states visited by real runs.

For a state ``(W^t, estimator state)`` taken from a run, K fresh sketches (and fresh stochastic samples)
give K independent draws of ``Phi_{t+1}``.  For a memoryless estimator (GD, SGD, QGD) the direction
``G^t`` is itself redrawn at ``W^t`` in each replica, because ``E_t`` averages over it; for one with
memory (PAGE, MVR, MARINA, EF21) ``G^t`` is part of the state and is kept.  The mean of the draws
estimates ``E_t[Phi_{t+1}]``, which is compared with the right-hand side of ``one_step``:

.. math:: \mathbb E_t[\Phi_{t+1}] \le a\,\Phi_t - c\,\|\nabla f(W^t)\|^2 + d,\qquad \Phi_t = f(W^t) - f^*.

Sampling and deciding are apart, as for the runs of a check: :func:`sample_one_step` (in the block that
owns the states) returns an :class:`OneStepSample` holding, per state, Φ_t, the right-hand side and the
mergeable :class:`~verify.blocks.Moments` of the draws of Φ_{t+1}; :func:`decide_one_step` (where the check
is concluded, with its level) compares them with the same skew-aware confidence bounds and verdict rules
as the end-to-end check (:mod:`verify.stats`), one test per state.  Besides the slack (RHS / mean LHS,
which is diluted by ``Phi_t``), the result reports the **decrease ratio**
``min_s (Phi_t − mean Phi_{t+1}) / (Phi_t − RHS_t)``: the observed one-step decrease over the claimed one;
1 means the inequality is tight at some state, and a value below 1 means the claimed decrease is too large
there.  Only states whose claimed decrease exceeds the confidence half-width and the floating-point floor
count (elsewhere the ratio is noise); with none, the ratio is reported as inf.  Because nothing is averaged
over t, this is far more sensitive than the unrolled bound and points at the step of the proof that fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from verify import stats
from verify.blocks import Moments
from verify.estimators import take
from verify.runner import Algorithm, Trace

_MAX_BATCH_ENTRIES = 2**23


@dataclass(frozen=True)
class OneStepSample:
    """The draws of the one-step check: per state its step t, Φ_t, the right-hand side and the moments of
    the ``samples`` draws of Φ_{t+1} (a (samples, states) array summarised column by column)."""

    steps: list[int]
    phi: list[float]
    rhs: list[float]
    draws: Moments

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_record` reads back exactly."""
        return {"steps": list(self.steps), "phi": [float(x) for x in self.phi], "rhs": [float(x) for x in self.rhs],
                "draws": self.draws.to_record()}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> OneStepSample:
        """The sample of a :meth:`to_record` dict."""
        return cls([int(t) for t in rec["steps"]], [float(x) for x in rec["phi"]], [float(x) for x in rec["rhs"]],
                   Moments.from_record(rec["draws"]))


@dataclass(frozen=True)
class LemmaResult:
    """Outcome of the one-step check over ``states`` states with ``samples`` draws each."""

    verdict: str
    reason: str
    states: int
    samples: int
    alpha_each: float
    slack: float
    decrease_ratio: float
    steps: list[int]
    lhs_mean: list[float]
    rhs: list[float]


def select_states(trace: Trace, states: int) -> list[tuple[int, np.ndarray, Any]]:
    """Spread ``states`` states over the trace's snapshots: (t, W (1, m, n), estimator state)."""
    steps = sorted(trace.snapshots)
    per = -(-states // max(len(steps), 1))
    out: list[tuple[int, np.ndarray, Any]] = []
    for t in steps:
        W, state = trace.snapshots[t]
        for i in range(min(per, W.shape[0])):
            if len(out) < states:
                idx = np.array([i])
                out.append((t, W[idx], take(state, idx)))
    return out


def sample_one_step(problem: Any, algorithm: Algorithm, trace: Trace, phi: Callable[..., np.ndarray],
                    rhs: Callable[..., np.ndarray], states: int, samples: int,
                    rng: np.random.Generator) -> OneStepSample:
    """Draw ``samples`` values of Phi_{t+1} at each of ``states`` states sampled from ``trace``.

    ``phi(W, state, grad)`` evaluates the Lyapunov function and ``rhs(W, state, grad)`` the right-hand side
    ``a Phi_t - c progress_t + d`` of the one-step inequality, per run.
    """
    chosen = select_states(trace, states)
    m, n = problem.shape
    lhs = np.empty((samples, len(chosen)))
    rhs_v = np.empty(len(chosen))
    phi_t = np.empty(len(chosen))
    chunk = max(1, _MAX_BATCH_ENTRIES // (m * n))
    for j, (t, W, state) in enumerate(chosen):
        grad = problem.grad(W)
        rhs_v[j] = rhs(W, state, grad)[0]
        phi_t[j] = phi(W, state, grad)[0]
        for start in range(0, samples, chunk):
            k = min(chunk, samples - start)
            rep = np.zeros(k, dtype=int)
            W_rep, state_rep = W[rep], take(state, rep)
            if algorithm.estimator.memoryless:  # E_t averages over the draw of G^t too
                state_rep = algorithm.estimator.init(problem, W_rep, problem.grad(W_rep), rng)
            W_next, grad_next, state_next = algorithm.step(problem, t, W_rep, state_rep, rng)
            lhs[start:start + k, j] = phi(W_next, state_next, grad_next)
    return OneStepSample([t for t, _, _ in chosen], phi_t.tolist(), rhs_v.tolist(), Moments.of(lhs))


def decide_one_step(sample: OneStepSample, alpha_each: float) -> LemmaResult:
    """Test ``E_t Phi_{t+1} <= rhs_t`` at every sampled state at level ``1 - alpha_each`` per state."""
    bounds = stats.moment_bounds(sample.draws, alpha_each)
    phi_t, rhs_v = np.asarray(sample.phi), np.asarray(sample.rhs)
    atol = stats.FLOOR * float(np.max(np.abs(phi_t)))
    v = stats.decide(bounds, rhs_v, atol=atol)
    claimed = phi_t - rhs_v
    # the claimed decrease must exceed both the Monte-Carlo error and the floating-point floor
    resolved = (claimed > bounds.upper - bounds.mean) & (claimed > atol)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(resolved, (phi_t - bounds.mean) / claimed, np.inf)
    where = "" if v.index is None else f" at t = {sample.steps[v.index]}"
    return LemmaResult(
        verdict=v.verdict, reason=v.reason + where, states=len(sample.steps), samples=sample.draws.count,
        alpha_each=alpha_each, slack=stats.slack(bounds, rhs_v, atol).value,
        decrease_ratio=float(np.min(ratio)),
        steps=list(sample.steps), lhs_mean=bounds.mean.tolist(), rhs=rhs_v.tolist(),
    )
