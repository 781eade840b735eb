"""The exact recursion for a prepared check (:func:`verify.check.prepare`): its chain, constants and measure."""

from __future__ import annotations

from typing import Any

import numpy as np

from verify import symbolic
from verify.exact.engine import ExactChain, ExactTrajectory, exact_chain

__all__ = ["chain_for", "exact_measure", "theorem_values", "trajectory_for"]


def theorem_values(prep: Any) -> dict[str, float]:
    """The theorem's constants with ``T`` and ``gamma``, as the check evaluates its bound and one-step inequality.

    (The same numbers as ``verify.check``: the prepared constants, ``T = iters``, ``gamma``; an inapplicable
    check uses ``lambda_min_p := lambda_max_p``.)
    """
    values = {k: v.value for k, v in prep.constants.items()} | {"T": prep.spec.iters}
    if prep.gamma is not None:
        values["gamma"] = prep.gamma
    if not prep.applicable:
        values["lambda_min_p"] = values["lambda_max_p"]
    return values


def chain_for(prep: Any) -> ExactChain:
    """:func:`~verify.exact.engine.exact_chain` of the check's problem, estimator, projector and stepsize."""
    return exact_chain(prep.problem, prep.estimator, prep.projector, prep.stepsize)


def trajectory_for(prep: Any, iters: int | None = None) -> ExactTrajectory:
    """Exact expectations of the check for ``t = 0..iters`` (default ``spec.iters``) from ``problem.W0``."""
    return chain_for(prep).run(prep.problem.W0, prep.spec.iters if iters is None else iters)


def exact_measure(prep: Any, checkpoints: Any, trajectory: ExactTrajectory | None = None) -> np.ndarray:
    """The exact expectation of the theorem's measure at ``checkpoints`` (weights ``a``, Lyapunov ``k`` of its
    one-step record, as :func:`verify.check.run_block` forms the measure)."""
    thm = prep.theorem
    values = theorem_values(prep)
    a = symbolic.value(thm.one_step.a, values, thm)
    k = symbolic.value(thm.one_step.k, values, thm)
    traj = trajectory if trajectory is not None else trajectory_for(prep, int(np.max(checkpoints)))
    return traj.measure(thm.measure, checkpoints, a=a, k=k)
