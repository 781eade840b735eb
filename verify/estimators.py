"""Gradient estimators as small ``init`` / ``direction`` / ``update`` pieces (the optax pattern).

An estimator produces the matrix ``G^t`` that the Bernoulli sketch projects.  Its state is an array (or
a tuple of arrays) whose leading axis runs over the R independent runs, so the runner and the lemma
check can select and replicate runs with :func:`take`.  The runner evaluates the full gradient at every
iterate anyway (the measures need it) and passes it to ``update``; an estimator that needs other
oracles (stochastic, component) calls them itself with the generator it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

State = Any


class Estimator(Protocol):
    """``G^0 = init(...)``-state, ``G^t = direction(state)``, state after the step ``= update(...)``."""

    name: str

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State: ...

    def direction(self, state: State) -> np.ndarray: ...

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State: ...


@dataclass(frozen=True)
class FullGradient:
    """Bernoulli-LoRA-GD: ``G^t = ∇f(W^t)``.  State: the gradient, shape (R, m, n)."""

    name: str = "gd"

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        return grad

    def direction(self, state: State) -> np.ndarray:
        return state

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        return grad_new


ESTIMATORS = {"gd": FullGradient}


def take(state: State, index: np.ndarray) -> State:
    """Select runs ``index`` from a state (an array or a tuple of arrays with runs on axis 0)."""
    if isinstance(state, tuple):
        return tuple(take(s, index) for s in state)
    return state[index]
