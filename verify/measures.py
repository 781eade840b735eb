"""What a bound is on, computed per run from a :class:`~verify.runner.Trace` at checkpoints T'.

* ``avg_grad_sq``: ``(1/T') Σ_{t<T'} ‖∇f(W^t)‖²`` (the uniform draw W̃ of the non-convex theorems);
* ``weighted_grad_sq``: ``Σ_{t<T'} w_t ‖∇f(W^t)‖² / Σ_{t<T'} w_t`` with ``w_t = a^{-(t+1)}`` (computed
  in log scale so that large ``a^T`` does not overflow);
* ``gap_last``: ``f(W^{T'}) − f*``;  ``lyapunov``: ``f(W^{T'}) − f* + k err_{T'}``;
* ``gap_avg_iterate``: ``f(W̄^{T'}) − f*`` with ``W̄^{T'} = (1/T') Σ_{t<T'} W^t``;
* ``gap_best``: ``min_{t<T'} f(W^t) − f*``.

All but the first two need the exact f* (a lower bound on f* would shift them by a constant that the
bound does not contain).
"""

from __future__ import annotations

import numpy as np

from verify.runner import Trace

#: The smallest T' at which each measure is defined.
FIRST_T = {"avg_grad_sq": 1, "weighted_grad_sq": 1, "gap_last": 0, "lyapunov": 0, "gap_avg_iterate": 1,
           "gap_best": 1}
NEEDS_EXACT_F_STAR = {"gap_last", "lyapunov", "gap_avg_iterate", "gap_best"}
#: Axis labels (matplotlib mathtext) for the plots.
LABELS = {
    "avg_grad_sq": r"$\frac{1}{T}\sum_{t<T}\|\nabla f(W^t)\|^2$",
    "weighted_grad_sq": r"$\sum_{t<T} w_t\|\nabla f(W^t)\|^2 / \sum_{t<T} w_t$",
    "gap_last": r"$f(W^T)-f^*$",
    "lyapunov": r"$\Phi_T = f(W^T)-f^* + k\,\mathrm{err}_T$",
    "gap_avg_iterate": r"$f(\overline{W}^T)-f^*$",
    "gap_best": r"$\min_{t<T} f(W^t)-f^*$",
}


def measure_values(measure: str, trace: Trace, T_points: np.ndarray, f_star: float, a: float = 1.0,
                   k: float = 0.0) -> np.ndarray:
    """Per-run values of ``measure`` at the checkpoints ``T_points``: shape (R, len(T_points))."""
    T_points = np.asarray(T_points, dtype=int)
    if measure == "avg_grad_sq":
        return np.cumsum(trace.grad_sq[:, :-1], axis=1)[:, T_points - 1] / T_points
    if measure == "weighted_grad_sq":
        t = np.arange(trace.iters)
        w = np.exp(-(t + 1) * np.log(a) + np.log(a))  # w_t / w_0, in (0, 1]
        num = np.cumsum(trace.grad_sq[:, :-1] * w, axis=1)[:, T_points - 1]
        return num / np.cumsum(w)[T_points - 1]
    if measure == "gap_last":
        return trace.f[:, T_points] - f_star
    if measure == "lyapunov":
        return trace.f[:, T_points] - f_star + k * trace.err[:, T_points]
    if measure == "gap_avg_iterate":
        return trace.f_avg[:, T_points] - f_star
    if measure == "gap_best":
        return np.minimum.accumulate(trace.f[:, :-1], axis=1)[:, T_points - 1] - f_star
    raise ValueError(f"unknown measure {measure!r}")
