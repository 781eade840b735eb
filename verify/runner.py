r"""The one generic Bernoulli-LoRA loop, batched over R runs.

Each step (docs/theory.md §2.2):

.. math:: W^{t+1} = W^t - \gamma_t\,\hat G^t,\qquad
          \hat G^t = \begin{cases} H_B^t G^t & c^t = 1\ (\text{prob. } p)\\ G^t H_A^t & c^t = 0\end{cases}

where ``G^t`` comes from an estimator, the projection from a :class:`~verify.projection.BernoulliProjector`
(thin orthonormal bases, ``Q (Qᵀ G)``, never an m×m matrix) and ``gamma_t`` from a stepsize rule.  All R
runs advance together; arrays are (R, m, n).  The trace records ``f(W^t)`` and ``‖∇f(W^t)‖²`` for every
t = 0..T so that every measure can be formed at every T' <= T.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verify.estimators import Estimator, State
from verify.problems.base import value_and_grad


@dataclass(frozen=True)
class Algorithm:
    """A Bernoulli-LoRA method: an estimator, a sketch projector and a stepsize rule."""

    estimator: Estimator
    projector: Any
    stepsize: Any

    def move(self, problem: Any, t: int, W: np.ndarray, state: State, rng: np.random.Generator) -> np.ndarray:
        """``W^{t+1} = W^t − γ_t Ĝ^t`` for all runs (draws the coins and sketches of step t)."""
        R, m, n = W.shape
        G = self.estimator.direction(state)
        G_hat = self.projector.apply(self.projector.draw(rng, R, m, n), G)
        return W - self.stepsize(t, W, G, problem) * G_hat

    def step(self, problem: Any, t: int, W: np.ndarray, state: State,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, State]:
        """One step for all runs: returns ``(W^{t+1}, ∇f(W^{t+1}), estimator state)``."""
        W_new = self.move(problem, t, W, state, rng)
        grad_new = problem.grad(W_new)
        return W_new, grad_new, self.estimator.update(state, problem, W_new, grad_new, W, rng)


@dataclass(frozen=True)
class Trace:
    """Per-run trajectories, shape (R, T+1), and ``snapshots[t] = (W^t, estimator state)``.

    ``f[:, t] = f(W^t)``; ``grad_sq[:, t] = ‖∇f(W^t)‖²``; ``err[:, t]`` = the estimator's error term at t;
    ``f_avg[:, t] = f(W̄^t)`` with ``W̄^t = (1/t) Σ_{s<t} W^s`` (``f_avg[:, 0] = f(W^0)``), recorded
    only when asked for (NaN otherwise).
    """

    f: np.ndarray
    grad_sq: np.ndarray
    err: np.ndarray
    f_avg: np.ndarray
    snapshots: dict[int, tuple[np.ndarray, State]] = field(repr=False)

    @property
    def iters(self) -> int:
        return self.f.shape[1] - 1


def grad_sq_norm(G: np.ndarray) -> np.ndarray:
    """Squared Frobenius norm of each run's matrix: (R, m, n) -> (R,)."""
    return np.einsum("rij,rij->r", G, G)


def run(problem: Any, algorithm: Algorithm, runs: int, iters: int, rng: np.random.Generator,
        snapshot_at: Iterable[int] = (), average_iterate: bool = False) -> Trace:
    """Run ``runs`` independent chains of ``iters`` steps from ``problem.W0``.

    Each step makes one oracle call for ``f(W^{t+1})`` and ``∇f(W^{t+1})`` together
    (:func:`~verify.problems.base.value_and_grad`).  ``f`` at the running-average iterate costs one more
    oracle call per step, so it is recorded only with ``average_iterate`` (``Trace.f_avg`` is NaN
    otherwise).  Runs that diverge keep producing NaN/Inf; the verdict reports the first non-finite step.
    """
    m, n = problem.shape
    W = np.broadcast_to(np.asarray(problem.W0, dtype=float), (runs, m, n)).copy()
    f, grad = value_and_grad(problem, W)
    state = algorithm.estimator.init(problem, W, grad, rng)
    f_tr, g_tr, e_tr = (np.empty((runs, iters + 1)) for _ in range(3))
    fa_tr = np.full((runs, iters + 1), np.nan)
    W_sum = np.zeros_like(W) if average_iterate else None
    wanted = set(snapshot_at)
    snapshots: dict[int, tuple[np.ndarray, State]] = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(iters + 1):
            f_tr[:, t] = f
            g_tr[:, t] = grad_sq_norm(grad)
            e_tr[:, t] = algorithm.estimator.error(state, problem, W, grad)
            if average_iterate:
                fa_tr[:, t] = f_tr[:, 0] if t == 0 else problem.f(W_sum / t)
            if t in wanted:
                snapshots[t] = (W, state)
            if t == iters:
                break
            if W_sum is not None:
                W_sum += W
            W_new = algorithm.move(problem, t, W, state, rng)
            f, grad = value_and_grad(problem, W_new)
            state = algorithm.estimator.update(state, problem, W_new, grad, W, rng)
            W = W_new
    return Trace(f_tr, g_tr, e_tr, fa_tr, snapshots)
