r"""What every check shares: the scale of the problem, the sampling region and an estimate of ``f*``.

**Scale.**  ``sigma = max(1, rms(W0), rms(Ŵ − W0))`` is the size of one entry, ``Ŵ`` the best point the
solver found; the sampling region is ``{c + s·sigma·Z}`` for centres ``c ∈ {W0, Ŵ}``, scales
``s ∈ {0.1, 1, 3}`` and ``Z`` with i.i.d. standard normal entries (so ``‖c − point‖ ≈ s·sigma·√(mn)``).

**f\*.**  ``scipy.optimize.minimize`` (L-BFGS-B with the problem's gradient) from ``W0`` and from
random points ``W0 + max(1, rms(W0))·Z``, the runs side by side with their oracle calls batched
(:func:`~verify.assumptions.lockstep.lockstep`; the first run that fails ends the list, as if they ran
in order); the smallest value found, ``f(Ŵ)``, estimates ``inf f`` from
above.  When the problem states ``f_star`` exactly it is used instead (and checked: no evaluated
``f`` may fall below it); a certified lower bound (kind ``"lower"``) only bounds the estimate.
A run that drives ``f`` below ``f(W0) − 10¹⁰ (1 + |f(W0)|)`` is stopped: ``f`` looks unbounded below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.optimize as so

from verify.assumptions.adapter import OracleError, Oracles
from verify.assumptions.findings import Budget
from verify.assumptions.lockstep import Ask, lockstep

__all__ = ["SCALES", "UNBOUNDED_FACTOR", "Landscape", "explore", "norms", "rms"]

SCALES = (0.1, 1.0, 3.0)
"""Scales ``s`` of the sampling region, in units of ``sigma`` per entry."""

UNBOUNDED_FACTOR = 1e10
"""``f < f(W0) − UNBOUNDED_FACTOR (1 + |f(W0)|)`` is taken as evidence that ``f`` is unbounded below."""

GAP_RTOL = 1e-10
"""Gaps ``f − f*`` below ``GAP_RTOL · max(1, |f(W0)|, |f*|)`` are not resolved by float64 evaluations of ``f``."""


def norms(X: np.ndarray) -> np.ndarray:
    """Frobenius norms of a batch: ``(K, m, n) → (K,)``."""
    return np.sqrt(np.einsum("kij,kij->k", X, X))


def rms(X: np.ndarray) -> float:
    """Root mean square of the entries."""
    return float(np.sqrt(np.mean(np.square(X))))


class _Unbounded(Exception):
    def __init__(self, W: np.ndarray, value: float) -> None:
        super().__init__("f decreases without bound")
        self.W, self.value = W, value


@dataclass(frozen=True, eq=False)
class Landscape:
    """The problem's scale, a sample of points, and ``f*``.

    Attributes
    ----------
    W0, g0 : (m, n) ndarray
        Initial point and its gradient; ``f0 = f(W0)``.
    sigma : float
        Entry scale (see the module docstring).
    W_hat : (m, n) ndarray or None
        Best point found by the solver (None if the solver failed).
    f_hat : float or None
        ``f(W_hat)``.
    f_star : float or None
        The value used for ``f*``: the problem's exact ``f_star`` if given, else ``f_hat``.
    f_star_how : str
        Where ``f_star`` comes from.
    endpoints : (S, m, n) ndarray
        Where each solver start stopped; ``endpoint_f`` ``(S,)`` and ``endpoint_grad_norm`` ``(S,)``.
    points : (P, m, n) ndarray
        The sampling region's points, ordered by centre then scale (``P = 2 · 3 · Budget.points``).
    unbounded : dict or None
        Witness that ``f`` decreases without bound, if a solver run found one.
    solver_error : OracleError or None
        An error of the user's code during the solver runs.
    """

    W0: np.ndarray
    f0: float
    g0: np.ndarray
    sigma: float
    W_hat: np.ndarray | None
    f_hat: float | None
    f_star: float | None
    f_star_how: str
    endpoints: np.ndarray
    endpoint_f: np.ndarray
    endpoint_grad_norm: np.ndarray
    points: np.ndarray
    unbounded: dict | None
    solver_error: OracleError | None

    @property
    def radius(self) -> float:
        """``sigma·√(mn)``: the typical distance between sample points."""
        return self.sigma * float(np.sqrt(self.W0.size))

    @property
    def gap_floor(self) -> float:
        """Smallest gap ``f − f*`` that float64 evaluations of ``f`` resolve (see :data:`GAP_RTOL`)."""
        ref = max(1.0, abs(self.f0), abs(self.f_star) if self.f_star is not None else 0.0)
        return GAP_RTOL * ref

    @property
    def no_solution(self) -> str:
        """Why there is no ``Ŵ`` (and no ``f*`` unless given): for the messages of the checks that need them."""
        if self.unbounded is not None:
            return f"f looks unbounded below (a solver run reached f = {self.unbounded['f']:.3g})"
        return f"the solver failed: {self.solver_error}"

    @property
    def centres(self) -> list[np.ndarray]:
        """``[W0, Ŵ]`` (``[W0, W0]`` when the solver found nothing)."""
        return [self.W0, self.W0 if self.W_hat is None else self.W_hat]


def _value_and_grad(orc: Oracles, floor: float) -> Callable[[np.ndarray], np.ndarray]:
    """The batched oracle ``W (K, m, n) → [f(W_k), vec ∇f(W_k)]`` ``(K, 1 + mn)``, so that an L-BFGS-B evaluation
    is one round of :func:`lockstep` instead of two; ``∇f`` only where ``f(W_k) >= floor`` (NaN elsewhere), as
    the search stops there without it."""

    def both(W: np.ndarray) -> np.ndarray:
        value = orc.f(W)
        out = np.full((len(W), 1 + orc.d), np.nan)
        out[:, 0] = value
        keep = value >= floor
        if keep.any():
            out[keep, 1:] = orc.grad(W[keep]).reshape(int(keep.sum()), -1)
        return out

    return both


def _solve(ask: Ask, shape: tuple[int, int], x0: np.ndarray, iters: int, floor: float) -> np.ndarray:
    """L-BFGS-B from ``x0`` with the oracle ``ask("f_grad", W)`` of :func:`_value_and_grad`; raises
    :class:`_Unbounded` when ``f`` drops below ``floor``."""

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        W = x.reshape(1, *shape)
        row = ask("f_grad", W)[0]
        if row[0] < floor:
            raise _Unbounded(W[0], float(row[0]))
        return float(row[0]), row[1:]

    res = so.minimize(fun, x0.ravel(), jac=True, method="L-BFGS-B",
                      options={"maxiter": iters, "gtol": 1e-12, "ftol": 1e-15})
    return res.x.reshape(shape)


def _starts(orc: Oracles, rng: np.random.Generator, count: int) -> np.ndarray:
    scale = max(1.0, rms(orc.W0))
    Z = rng.standard_normal((max(count - 1, 0), *orc.shape))
    return np.concatenate([orc.W0[None], orc.W0 + scale * Z])


def _region(centres: list[np.ndarray], sigma: float, per: int, rng: np.random.Generator) -> np.ndarray:
    shape = centres[0].shape
    pts = [c + s * sigma * rng.standard_normal((per, *shape)) for c in centres for s in SCALES]
    return np.concatenate(pts)


def explore(orc: Oracles, rng: np.random.Generator, budget: Budget) -> Landscape:
    """Evaluate ``f`` and ``∇f`` at ``W0``, run the solver, and draw the sampling region.

    Raises
    ------
    OracleError
        If ``f`` or ``grad`` fails at ``W0`` (nothing can be checked then).  Failures during the solver
        runs are recorded in ``solver_error`` instead.
    """
    W0 = orc.W0
    f0 = float(orc.f(W0[None])[0])
    g0 = orc.grad(W0[None])[0]
    floor = f0 - UNBOUNDED_FACTOR * (1.0 + abs(f0))
    ends, unbounded, error = [], None, None
    searches = [lambda ask, x0=x0: _solve(ask, orc.shape, x0, budget.solver_iters, floor)
                for x0 in _starts(orc, rng, budget.solver_starts)]
    for ok, out in lockstep(searches, {"f_grad": _value_and_grad(orc, floor)}):
        if ok:
            ends.append(out)
        elif isinstance(out, _Unbounded):
            unbounded = {"point": out.W.tolist(), "f": out.value, "f_W0": f0,
                         "threshold": floor, "rule": f"f < f(W0) - {UNBOUNDED_FACTOR:g} (1 + |f(W0)|)"}
            break
        elif isinstance(out, OracleError):
            error = out
            break
        else:
            raise out
    endpoints = np.array(ends) if ends else np.zeros((0, *orc.shape))
    endpoint_f = orc.f(endpoints) if len(ends) else np.zeros(0)
    endpoint_gn = norms(orc.grad(endpoints)) if len(ends) else np.zeros(0)
    W_hat = f_hat = None
    if len(ends) and unbounded is None and error is None:
        k = int(np.argmin(endpoint_f))
        W_hat, f_hat = endpoints[k], float(endpoint_f[k])
        if f0 < f_hat:
            W_hat, f_hat = W0.copy(), f0
    if orc.f_star is not None:
        f_star, how = orc.f_star, "given by the problem (exact)"
    elif f_hat is not None:
        f_star = f_hat
        how = (f"estimated: min of f over {len(ends)} L-BFGS-B runs (scipy.optimize.minimize) from W0 and random "
               "starts; an upper estimate of inf f")
        if orc.f_star_lower is not None:
            how += f" (the problem certifies inf f >= {orc.f_star_lower:.6g})"
    else:
        f_star, how = None, "unknown: no solver run finished"
    sigma = max(1.0, rms(W0), 0.0 if W_hat is None else rms(W_hat - W0))
    centres = [W0, W0 if W_hat is None else W_hat]
    points = _region(centres, sigma, budget.points, rng)
    return Landscape(W0=W0, f0=f0, g0=g0, sigma=sigma, W_hat=W_hat, f_hat=f_hat, f_star=f_star, f_star_how=how,
                     endpoints=endpoints, endpoint_f=endpoint_f, endpoint_grad_norm=endpoint_gn, points=points,
                     unbounded=unbounded, solver_error=error)
