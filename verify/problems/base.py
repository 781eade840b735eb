"""The problem interface: batched oracles and certified constants.

A problem is a function ``f : R^{m×n} → R`` with its gradient, an initial point ``W0`` and constants
whose provenance is recorded.  All oracles are batched over ``R`` independent runs: ``f`` maps
``(R, m, n) → (R,)`` and ``grad`` maps ``(R, m, n) → (R, m, n)``.  ``‖·‖`` is the Frobenius norm and
``⟨X, Y⟩ = tr(XᵀY)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from verify.errors import require

KINDS = ("exact", "upper", "lower", "estimate")

#: The constant keys a problem may certify, and what each means (``‖·‖`` Frobenius, one sample ``ξ``).
CONSTANT_KEYS: Mapping[str, str] = {
    "L": "smoothness: ||grad f(W) - grad f(V)|| <= L ||W - V|| (safe direction: upper)",
    "mu": "PL: (1/2) ||grad f(W)||^2 >= mu (f(W) - f*) for all W (safe: lower)",
    "f_star": "inf f (safe: lower)",
    "L0": "Lipschitz constant of f = sup of the norm of a subgradient (safe: upper)",
    "R0": "distance from W0 to the set of minimisers (safe: upper)",
    "sigma2": "sup_W E||g(W; xi) - grad f(W)||^2 for one sample (safe: upper)",
    "var_A": "ABC: E||g(W; xi) - grad f(W)||^2 <= 2 var_A (f(W) - f*) + var_C for one sample (safe: upper)",
    "var_C": "ABC: see var_A (safe: upper)",
    "Lms": "mean-squared smoothness: E||g(W; xi) - g(V; xi)||^2 <= Lms^2 ||W - V||^2 (safe: upper)",
    "L_max": "max_i L_i over the components or clients f_i (safe: upper)",
    "L_tilde": "sqrt((1/M) sum_i L_i^2) over the clients (safe: upper)",
    "Delta_inf": "f* - (1/M) sum_i inf f_i >= 0, the clients' heterogeneity (safe: upper)",
}


#: The safe direction of each constant key (the ``safe:`` of :data:`CONSTANT_KEYS`): a bound in that direction
#: keeps a check sound, e.g. a larger ``L`` or a smaller ``mu`` or ``f_star``.
SAFE_DIRECTION: Mapping[str, str] = {
    "L": "upper", "mu": "lower", "f_star": "lower", "L0": "upper", "R0": "upper", "sigma2": "upper",
    "var_A": "upper", "var_C": "upper", "Lms": "upper", "L_max": "upper", "L_tilde": "upper", "Delta_inf": "upper",
}


@dataclass(frozen=True)
class Constant:
    """A problem constant and how it was obtained.

    Parameters
    ----------
    value : float
        The number.
    how : str
        One sentence saying how it was obtained, e.g. ``"closed form: largest eigenvalue of X^T X / N"``.
    kind : {"exact", "upper", "lower"}
        ``"exact"``: the value itself; ``"upper"``: a certified upper bound; ``"lower"``: a certified
        lower bound; ``"estimate"``: a sampled estimate with no guaranteed direction (a check that uses one
        is conditional on it, :mod:`verify.problems.user`).  The safe directions are ``L`` upper, ``mu``
        lower, ``f_star`` lower (then ``Delta0 = f(W0) - f_star`` is an upper bound).
    """

    value: float
    how: str
    kind: str = "exact"

    def __post_init__(self) -> None:
        require(self.kind in KINDS, f"constant kind={self.kind!r} is not allowed; use one of {KINDS}")
        value = self.value
        real = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
        require(real, f"constant value={self.value!r} is not allowed; it must be a real number")
        require(not math.isnan(float(self.value)), "constant value=nan is not allowed; it must be a number")
        object.__setattr__(self, "value", float(self.value))


class ShapeFromW0:
    """Base of the built-in problems: ``shape`` is the shape of ``W0``, ``(m, n)``."""

    W0: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.W0.shape)


@runtime_checkable
class Problem(Protocol):
    """A batched optimisation problem ``min_W f(W)``, ``W ∈ R^{m×n}``.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"least-squares"``.
    params : Mapping[str, object]
        The parameters it was built with (JSON-serialisable), for reports.
    shape : tuple[int, int]
        ``(m, n)``.
    W0 : numpy.ndarray
        ``(m, n)`` initial point, the same for every run (read-only).
    constants : Mapping[str, Constant]
        Keys among :data:`CONSTANT_KEYS`.  Every problem has ``"f_star"``; smooth problems have ``"L"``,
        non-smooth ones ``"L0"`` and ``"R0"`` instead.  A problem without a certified PŁ constant has no
        ``"mu"`` key.

    Notes
    -----
    Optional oracles (a problem has only those that make sense; check with ``hasattr``):

    * stochastic (:class:`Stochastic`): ``sample_xi(rng, R, batch)`` and ``stochastic_grad(W, xi)``, with
      ``"var_A"``, ``"var_C"``, ``"Lms"`` (and ``"sigma2"`` when the variance is bounded); finite sums
      (:class:`FiniteSum`) also have ``N`` and ``"L_max"``.  See :mod:`verify.problems.stochastic`.
    * federated (:class:`Federated`): ``clients`` (``M``) and ``client_grads(W)`` ``(R, m, n) → (R, M, m,
      n)`` with ``f = (1/M) Σ_i f_i``; constants ``"L_max"``, ``"L_tilde"``, ``"Delta_inf"``.
    * ``value_and_grad(W)`` returning ``(f(W), ∇f(W))`` when the two share work; the runner uses it
      through :func:`value_and_grad`.
    * non-smooth convex (recognised by ``"L0"`` in ``constants`` and no ``"L"``): ``grad`` returns a
      subgradient; attribute ``W_star``, the minimiser closest to ``W0``; constants ``"L0"``, ``"R0"``,
      exact ``"f_star"``.
    """

    name: str
    params: Mapping[str, object]
    shape: tuple[int, int]
    W0: np.ndarray
    constants: Mapping[str, Constant]

    def f(self, W: np.ndarray) -> np.ndarray:
        """Objective values: ``(R, m, n) → (R,)``."""
        ...

    def grad(self, W: np.ndarray) -> np.ndarray:
        """Gradients: ``(R, m, n) → (R, m, n)``."""
        ...


@runtime_checkable
class Stochastic(Protocol):
    """A problem with a stochastic gradient oracle (see :mod:`verify.problems.stochastic`)."""

    def sample_xi(self, rng: np.random.Generator, R: int, batch: int) -> np.ndarray:
        """The randomness of a minibatch of ``batch`` samples for each of ``R`` runs."""
        ...

    def stochastic_grad(self, W: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """The minibatch-average stochastic gradient at ``W`` ``(R, m, n)`` with randomness ``xi``."""
        ...


@runtime_checkable
class FiniteSum(Stochastic, Protocol):
    """``f = (1/N) Σ_i f_i``; ``xi`` is an integer array ``(R, batch)`` of indices (with replacement)."""

    N: int


@runtime_checkable
class Federated(Protocol):
    """``f = (1/M) Σ_i f_i`` split over ``M = clients`` clients."""

    clients: int

    def client_grads(self, W: np.ndarray) -> np.ndarray:
        """``∇f_i(W)`` for every client: ``(R, m, n) → (R, M, m, n)``."""
        ...


def value_and_grad(problem: Problem, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(f(W), ∇f(W))`` for a batch ``(R, m, n)``.

    One call to the problem's optional ``value_and_grad`` when it has one (a problem whose value can reuse
    the gradient's work, such as a Gram-form quadratic, see :meth:`NonconvexReg.value_and_grad
    <verify.problems.nonconvex_reg.NonconvexReg.value_and_grad>`), else ``f`` and ``grad``.
    """
    both = getattr(problem, "value_and_grad", None)
    if both is not None:
        return both(W)
    return problem.f(W), problem.grad(W)


def as_batch(W: np.ndarray, shape: tuple[int, int], who: str) -> np.ndarray:
    """Return ``W`` as a float64 array of shape ``(R, m, n)``, or raise ``ValueError``.

    Parameters
    ----------
    W : array_like
        ``(R, m, n)`` batch of points.
    shape : tuple[int, int]
        The expected ``(m, n)``.
    who : str
        The oracle's name, for the error message.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 3 or W.shape[1:] != tuple(shape):
        raise ValueError(f"{who}: expected a batch of shape (R, {shape[0]}, {shape[1]}), got {W.shape}")
    return W


def frozen(a: np.ndarray) -> np.ndarray:
    """Return a read-only float64 copy of ``a`` (problem data must not change after construction)."""
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out
