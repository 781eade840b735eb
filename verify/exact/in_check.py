r"""The exact oracle inside a check: what block 0 computes and what :func:`verify.check.conclude` decides from it.

On a quadratic instance whose method is linear in the state (:mod:`verify.exact.engine`) a check gets three
deterministic answers besides its Monte-Carlo runs:

* the **exact expectation** of the theorem's measure at the checkpoints and plot points.  It gives the
  **exact slack** ``min_k B_k / E[measure_k]`` (no sampling noise; below 1 the theorem is *false* on this
  instance, whatever the runs say) and the **two-sided model check** of the runs' means against it
  (:func:`verify.exact.model_check.two_sided_moments`), which sees an implementation that is too fast as
  well as one too slow;
* the **exact one-step certificate** (:func:`verify.exact.certificate.certify`): the proof's one-step
  inequality for every state of the instance, or a witness state where it fails.

The trajectory costs a few dense products of the joint state's size per step, so a check computes it only
when ``m·n <=`` :data:`MAX_CHECK_MN` (larger instances, non-quadratic problems, nonlinear compressors and
sketches without a closed-form second moment are recorded as skipped, with the reason).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from verify.exact.certificate import certify
from verify.exact.maps import ExactUnsupported
from verify.exact.prepared import exact_measure, trajectory_for

#: Largest ``m·n`` for which a check computes its exact trajectory (a few ms per step at this size).
MAX_CHECK_MN = 40

__all__ = ["MAX_CHECK_MN", "describe_certificate", "exact_record"]


def exact_record(prep: Any, checkpoints: np.ndarray, plot_T: np.ndarray) -> dict[str, Any]:
    """Block 0's exact record: ``{"checkpoints", "plot", "certificate"}`` (the exact ``E[measure]`` at the
    check's checkpoints and plot points; the certificate's outcome, or ``{"skipped": why}``), or
    ``{"skipped": why}`` when the instance has no exact trajectory."""
    m, n = prep.problem.shape
    if m * n > MAX_CHECK_MN:
        return {"skipped": f"m n = {m * n} is above {MAX_CHECK_MN}, the exact oracle's size in a check"}
    if not prep.applicable:
        return {"skipped": "the theorem does not apply (Assumption 1 fails)"}
    try:
        traj = trajectory_for(prep)
        record: dict[str, Any] = {
            "checkpoints": exact_measure(prep, checkpoints, traj).tolist(),
            "plot": exact_measure(prep, plot_T[plot_T >= 1], traj).tolist() if (plot_T >= 1).any() else [],
            "plot_T": plot_T[plot_T >= 1].tolist(),
        }
    except ExactUnsupported as exc:
        return {"skipped": str(exc)}
    try:
        cert = certify(prep)
        witness = None if cert.witness is None else {
            "lhs": cert.witness.lhs, "rhs": cert.witness.rhs, "excess": cert.witness.excess,
            "direction": cert.witness.direction, "W": np.asarray(cert.witness.W).tolist()}
        record["certificate"] = {"holds": cert.holds, "margin": cert.margin, "tightness": cert.tightness,
                                 "lambda_max": cert.lambda_max, "tol": cert.tol, "dim": cert.dim,
                                 "witness": witness}
    except ExactUnsupported as exc:
        record["certificate"] = {"skipped": str(exc)}
    return record


def describe_certificate(cert: dict[str, Any]) -> str:
    """One line for a failed certificate: the worst state's two sides."""
    w = cert.get("witness") or {}
    return (f"one-step inequality fails exactly: at the worst state E_t Phi_(t+1) = {w.get('lhs', float('nan')):.6g} "
            f"> claimed {w.get('rhs', float('nan')):.6g} (lambda_max {cert['lambda_max']:.3g} > tol {cert['tol']:.2g})")
