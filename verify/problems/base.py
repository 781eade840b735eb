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

KINDS = ("exact", "upper", "lower")


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
        lower bound.  The safe directions are ``L`` upper, ``mu`` lower, ``f_star`` lower (then
        ``Delta0 = f(W0) - f_star`` is an upper bound).
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
        Keys among ``"L"`` (smoothness: upper bound on ``sup ‖∇²f‖``), ``"mu"`` (PŁ:
        ``½‖∇f(W)‖² ≥ mu (f(W) − f*)`` for all ``W``), ``"f_star"`` (``inf f`` or a lower bound).
        A problem without a certified PŁ constant has no ``"mu"`` key.
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
