"""What a bound is on, computed per run from a :class:`~verify.runner.Trace` at checkpoints T'.

* ``avg_grad_sq``: ``(1/T') Σ_{t<T'} ‖∇f(W^t)‖²`` (the uniform draw W̃ of Theorem 1), needs T' >= 1.
* ``gap_last``: ``f(W^{T'}) − f^*``, needs the exact f^*.
"""

from __future__ import annotations

import numpy as np

from verify.runner import Trace

#: The smallest T' at which each measure is defined.
FIRST_T = {"avg_grad_sq": 1, "gap_last": 0}


def measure_values(measure: str, trace: Trace, T_points: np.ndarray, f_star: float) -> np.ndarray:
    """Per-run values of ``measure`` at the checkpoints ``T_points``: shape (R, len(T_points))."""
    T_points = np.asarray(T_points, dtype=int)
    if measure == "avg_grad_sq":
        csum = np.cumsum(trace.grad_sq[:, :-1], axis=1)
        return csum[:, T_points - 1] / T_points
    if measure == "gap_last":
        return trace.f[:, T_points] - f_star
    raise ValueError(f"unknown measure {measure!r}")
