r"""Lemma-level check: the theorem's one-step inequality at states visited by real runs.

For a state ``(W^t, estimator state)`` taken from a run, K fresh sketches (and fresh stochastic samples)
give K independent draws of ``Phi_{t+1}``; their mean estimates ``E_t[Phi_{t+1}]``, which is compared
with the right-hand side of ``one_step``:

.. math:: \mathbb E_t[\Phi_{t+1}] \le a\,\Phi_t - c\,\|\nabla f(W^t)\|^2 + d,\qquad \Phi_t = f(W^t) - f^*.

The comparison uses the same confidence bounds and verdict rules as the end-to-end check
(:mod:`verify.stats`), one test per state.  Besides the slack (RHS / mean LHS, which is diluted by
``Phi_t``), the result reports the **decrease ratio** ``min_s (a Phi_t + d − mean Phi_{t+1}) / (c ‖∇f‖²)``:
the observed one-step decrease over the claimed one; 1 means the inequality is tight at some state, and
a value below 1 means the claimed coefficient ``c`` is too large there.  Because nothing is averaged over
t, this is far more sensitive than the unrolled bound and points at the step of the proof that fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from verify import stats
from verify.estimators import take
from verify.runner import Algorithm, Trace, grad_sq_norm

_MAX_BATCH_ENTRIES = 2**23


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


def check_one_step(problem: Any, algorithm: Algorithm, trace: Trace, coefficients: tuple[float, float, float],
                   f_star: float, states: int, samples: int, rng: np.random.Generator,
                   alpha_each: float) -> LemmaResult:
    """Test ``E_t Phi_{t+1} <= a Phi_t - c ||grad||^2 + d`` at states sampled from ``trace``."""
    a, c, d = coefficients
    chosen = select_states(trace, states)
    m, n = problem.shape
    lhs = np.empty((samples, len(chosen)))
    rhs = np.empty(len(chosen))
    claimed = np.empty(len(chosen))
    chunk = max(1, _MAX_BATCH_ENTRIES // (m * n))
    for j, (t, W, state) in enumerate(chosen):
        claimed[j] = c * grad_sq_norm(problem.grad(W))[0]
        rhs[j] = a * (problem.f(W)[0] - f_star) - claimed[j] + d
        for start in range(0, samples, chunk):
            k = min(chunk, samples - start)
            rep = np.zeros(k, dtype=int)
            W_next, _, _ = algorithm.step(problem, t, W[rep], take(state, rep), rng)
            lhs[start:start + k, j] = problem.f(W_next) - f_star
    bounds = stats.mean_bounds(lhs, alpha_each)
    v = stats.decide(bounds, rhs)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(claimed > 0, (rhs + claimed - bounds.mean) / claimed, np.inf)
    where = "" if v.index is None else f" at t = {chosen[v.index][0]}"
    return LemmaResult(
        verdict=v.verdict, reason=v.reason + where, states=len(chosen), samples=samples,
        alpha_each=alpha_each, slack=stats.slack(bounds, rhs).value, decrease_ratio=float(np.min(ratio)),
        steps=[t for t, _, _ in chosen], lhs_mean=bounds.mean.tolist(), rhs=rhs.tolist(),
    )
