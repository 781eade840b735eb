r"""Gradient estimators as small ``init`` / ``direction`` / ``update`` / ``error`` pieces (the optax pattern).

An estimator produces the matrix ``G^t`` that the Bernoulli sketch projects (docs/theory.md §2.2).  Its state
is an array, or a tuple of arrays, whose leading axis runs over the R independent runs, so the runner and
the lemma check can select and replicate runs with :func:`take`.  Every random choice (minibatches, the
PAGE/MARINA coin, compression) is drawn per run from the generator passed in, never from a global RNG.

The runner evaluates the full gradient at every iterate anyway (the measures need it) and passes it in;
other oracles are called by the estimator itself, and :meth:`init` raises
:class:`~verify.errors.UserError` when the problem lacks one:

* ``problem.sample_xi(rng, R, batch)`` and ``problem.stochastic_grad(W, xi)`` (SGD, PAGE, MVR): the
  minibatch average of stochastic gradients; the same ``xi`` at two points uses the same samples;
* ``problem.clients`` (M) and ``problem.client_grads(W)`` of shape (R, M, m, n), with
  ``f = (1/M) Σ_i f_i`` (QGD, MARINA, EF21).

``error(state, problem, W, grad)`` is the estimator-error term of the method's Lyapunov function at the
current state, one value per run, shape (R,):

* gd: ``G^{t+1} = ∇f(W^{t+1})``; error 0.
* sgd: ``G^{t+1} = g(W^{t+1}; ξ)``; error 0.
* page: with probability q ``∇f(W^{t+1})``, else ``G^t + g(W^{t+1}; ξ) − g(W^t; ξ)``; error
  ``‖G^t − ∇f(W^t)‖²``.
* mvr: ``g(W^{t+1}; ξ) + (1−b)(G^t − g(W^t; ξ))``; error ``‖G^t − ∇f(W^t)‖²``.
* qgd: ``(1/M) Σ_i Q_i(∇f_i(W^{t+1}))``; error 0.
* marina: with probability q ``∇f(W^{t+1})``, else ``G^t + (1/M) Σ_i Q_i(∇f_i(W^{t+1}) − ∇f_i(W^t))``; error
  ``‖G^t − ∇f(W^t)‖²``.
* ef21: ``(1/M) Σ_i g_i^{t+1}`` with ``g_i^{t+1} = g_i^t + C_i(∇f_i(W^{t+1}) − g_i^t)``; error
  ``(1/M) Σ_i ‖g_i^t − ∇f_i(W^t)‖²``.

The **subgradient** method of the non-smooth theorems is :class:`FullGradient` on a problem whose ``grad``
returns a subgradient; the registry name ``"subgradient"`` is an alias for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from verify.compressors import Compressor, make_compressor
from verify.constants import ConstantValue, compressor_constants, problem_constant, stochastic_initial_error
from verify.errors import UserError
from verify.problems._validate import choice, integer, real

__all__ = [
    "EF21",
    "ESTIMATORS",
    "MARINA",
    "MVR",
    "PAGE",
    "QGD",
    "SGD",
    "Estimator",
    "FullGradient",
    "State",
    "make_estimator",
    "sq_norm",
    "take",
]

State = Any
"""An ndarray or a tuple of ndarrays, each with the R runs on axis 0."""


class Estimator(Protocol):
    """``state = init(...)``, ``G^t = direction(state)``, ``state = update(...)`` after each step, and
    ``theory_constants(problem, needed, values, thm_id)``: the theorem constants the method itself determines
    (its parameters, its compressor's ``omega``/``alpha_c``, its initial error ``E0``), those among ``needed``,
    as :class:`~verify.constants.ConstantValue` records (``values`` holds the sketch's, ``Delta0`` and the
    problem's, already computed)."""

    name: ClassVar[str]
    #: True when G^t is a fresh draw at W^t alone (GD, SGD, QGD): the state carries no information, and
    #: a one-step test from W^t must redraw it; False when G^t is part of the Markov state.
    memoryless: ClassVar[bool]

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        """State at ``W^0``; ``W`` and ``grad = ∇f(W^0)`` have shape (R, m, n)."""
        ...

    def direction(self, state: State) -> np.ndarray:
        """``G^t``, shape (R, m, n)."""
        ...

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        """State after the step ``W_old = W^t -> W_new = W^{t+1}``; ``grad_new = ∇f(W^{t+1})``."""
        ...

    def error(self, state: State, problem: Any, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The estimator-error term of the Lyapunov function at the current state, shape (R,)."""
        ...


# ----------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------


def take(state: State, index: np.ndarray) -> State:
    """Select runs ``index`` from a state (an array or a tuple of arrays with runs on axis 0)."""
    if isinstance(state, tuple):
        return tuple(take(s, index) for s in state)
    return state[index]


def sq_norm(X: np.ndarray) -> np.ndarray:
    """Squared Frobenius norm over the last two axes: (..., m, n) -> (...)."""
    return np.einsum("...ij,...ij->...", X, X)


def _require_oracles(estimator: str, problem: Any, *oracles: str) -> None:
    for oracle in oracles:
        if not hasattr(problem, oracle):
            who = getattr(problem, "name", type(problem).__name__)
            raise UserError(f"estimator {estimator} needs a problem with {oracle}; problem {who} has none")


def _federated(estimator: str, problem: Any, comp: Compressor, W: np.ndarray) -> None:
    """Check the federated oracles and that ``comp`` fits ``d = m·n``."""
    _require_oracles(estimator, problem, "clients", "client_grads")
    comp.validate(W.shape[-2] * W.shape[-1])


def _coin(rng: np.random.Generator, R: int, q: float) -> np.ndarray:
    """Per-run Bernoulli(q) draws, shape (R,) bool; ``q = 1`` gives all True."""
    return rng.random(R) < q


def _compressor(estimator: str, value: object, unbiased: bool) -> Compressor:
    """``value`` (a compressor or a spec string) if it is of the class the estimator needs."""
    comp = make_compressor(value) if isinstance(value, str) else value
    flag, kind = ("unbiased", "unbiased (rand-k, dither, identity)") if unbiased else \
        ("contractive", "contractive (top-k, identity)")
    if not getattr(comp, flag, False) or not hasattr(comp, "compress"):
        raise UserError(f"{estimator}: compressor={value!r} is not allowed; {estimator} needs an {kind} "
                        "compressor")
    return comp


def _compress_mean(comp: Compressor, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(1/M) Σ_i Q_i(X_i)`` for ``X`` of shape (R, M, m, n), independent ``Q_i`` per run and client."""
    return comp.compress(X, rng).mean(axis=1)


def _linear_moments(estimator: str, comp: Compressor, d: int) -> tuple[float, Any]:
    """``(scale, SecondMoment)`` of a compressor that is linear given its draws, else ExactUnsupported."""
    from verify.exact.maps import ExactUnsupported

    moments = getattr(comp, "linear_moments", lambda d: None)(d)
    if moments is None:
        raise ExactUnsupported(f"{estimator} with compressor {comp.name!r}: the compressor is not linear in its input, "
                               "so the method has no exact second-moment recursion")
    return moments


# ----------------------------------------------------------------------------------------------------
# Single-node estimators
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FullGradient:
    """Bernoulli-LoRA-GD: ``G^t = ∇f(W^t)``; error 0.  State: the gradient, (R, m, n).

    On a non-smooth problem, whose ``grad`` returns a subgradient, this is the subgradient method of the
    convex non-smooth theorems (registry alias ``"subgradient"``).
    """

    name: ClassVar[str] = "gd"
    memoryless: ClassVar[bool] = True

    def theory_constants(self, problem: Any, needed: set[str], values: dict[str, ConstantValue],
                         thm_id: str) -> dict[str, ConstantValue]:
        """None: the method has no parameter of the theory and no initial error."""
        return {}

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        return grad

    def direction(self, state: State) -> np.ndarray:
        return state

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        return grad_new

    def error(self, state: State, problem: Any, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return np.zeros(W.shape[0])

    def exact_transition(self, quad: Any) -> Any:
        """Exact map on a quadratic (:mod:`verify.exact.maps`): state ``s = vec G = A w``, ``s⁺ = A w⁺``."""
        from verify.exact.maps import Fixed, Layout, Transition

        N = quad.N
        lay = Layout(N, N)
        return Transition(lay, np.eye(N), Fixed(lay.on_x(N, w=quad.A)), Fixed(lay.on_y(N, w_new=quad.A)),
                          None, memoryless=True)


@dataclass(frozen=True)
class SGD:
    r"""Bernoulli-LoRA-SGD: ``G^t = g(W^t; ξ^t)``, a fresh minibatch of size ``batch`` at every step.

    :math:`\mathbb E_\xi\, g(W;\xi) = \nabla f(W)`; the variance enters the theorem through the ABC
    constants of the problem, so the Lyapunov error term is 0.  State: ``G^t``, (R, m, n).
    """

    batch: int = 1
    name: ClassVar[str] = "sgd"
    memoryless: ClassVar[bool] = True

    def __post_init__(self) -> None:
        integer(self.name, "batch", self.batch, 1)

    def _sample(self, problem: Any, W: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return problem.stochastic_grad(W, problem.sample_xi(rng, W.shape[0], self.batch))

    def theory_constants(self, problem: Any, needed: set[str], values: dict[str, ConstantValue],
                         thm_id: str) -> dict[str, ConstantValue]:
        """``A = var_A/b``, ``B = 1``, ``C = var_C/b``: a mean of ``b`` i.i.d. one-sample gradients divides the
        certified ``E‖g − ∇f‖² <= 2 var_A (f − f*) + var_C`` by ``b``, and ``E‖g‖² = ‖∇f‖² + Var``."""
        if not {"A", "B", "C"} & needed:
            return {}
        b = self.batch
        return {"A": ConstantValue(problem_constant(problem, "var_A", thm_id).value / b, f"var_A / batch ({b})"),
                "B": ConstantValue(1.0, "E||g||^2 = ||grad f||^2 + Var: B = 1"),
                "C": ConstantValue(problem_constant(problem, "var_C", thm_id).value / b, f"var_C / batch ({b})")}

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        _require_oracles(self.name, problem, "sample_xi", "stochastic_grad")
        return self._sample(problem, W, rng)

    def direction(self, state: State) -> np.ndarray:
        return state

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        return self._sample(problem, W_new, rng)

    def error(self, state: State, problem: Any, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return np.zeros(W.shape[0])

    def exact_transition(self, quad: Any) -> Any:
        r"""Exact map on a quadratic: ``s = vec G``, ``s⁺ = g(w⁺; ξ)``, a fresh minibatch of size ``batch``.

        Additive noise: ``s⁺ = A w⁺ + ξ``, ``Cov ξ = Σ_ξ/batch``; finite sum: the mean of ``batch`` i.i.d.
        uniform components ``A_i w⁺ + β_i`` (:meth:`verify.exact.quadratic.Quadratic.sample_map`).
        """
        from verify.exact.maps import Layout, Transition

        N = quad.N
        lay = Layout(N, N)
        init = quad.sample_map(N + 1, [(slice(0, N), 1.0)], N, self.batch)
        update = quad.sample_map(lay.Dy, [(lay.w_new, 1.0)], lay.one, self.batch)
        return Transition(lay, np.eye(N), init, update, None, memoryless=True)


@dataclass(frozen=True)
class PAGE:
    r"""Bernoulli-LoRA-PAGE (Li, Bao, Zhang, Richtárik 2021) with probability ``q`` and minibatch ``b'``.

    .. math:: G^{t+1} = \begin{cases}\nabla f(W^{t+1}) & \text{prob. } q\\
              G^t + g(W^{t+1};\xi) - g(W^t;\xi) & \text{prob. } 1-q,\ |\xi| = b'\end{cases}

    with the coin drawn per run and the same samples ``ξ`` at both points.  ``G^0 = ∇f(W^0)``, or a
    minibatch of size ``batch0`` if given.  Recursion behind the theorem (ℒ the average smoothness):
    :math:`\mathbb E\|e^{t+1}\|^2 \le (1-q)\|e^t\|^2 + (1-q)\tfrac{\mathcal L^2}{b'}\|W^{t+1}-W^t\|^2`,
    :math:`e^t = G^t - \nabla f(W^t)`.  Error: ``‖e^t‖²``.  State: ``G^t``, (R, m, n).
    """

    q: float
    batch_prime: int = 1
    batch0: int | None = None
    name: ClassVar[str] = "page"
    memoryless: ClassVar[bool] = False

    def __post_init__(self) -> None:
        real(self.name, "q", self.q, 0.0, strict=True, maximum=1.0)
        integer(self.name, "batch_prime", self.batch_prime, 1)
        if self.batch0 is not None:
            integer(self.name, "batch0", self.batch0, 1)

    def theory_constants(self, problem: Any, needed: set[str], values: dict[str, ConstantValue],
                         thm_id: str) -> dict[str, ConstantValue]:
        """The one-sample ``Lms``, ``q``, ``b_prime`` and ``E0`` (0 for ``G^0 = ∇f(W^0)``, else the variance
        bound over ``batch0``)."""
        out = {"Lms": problem_constant(problem, "Lms", thm_id),
               "q": ConstantValue(float(self.q), "PAGE probability of a full gradient"),
               "b_prime": ConstantValue(float(self.batch_prime), "PAGE minibatch size")}
        if "E0" in needed:
            out["E0"] = (ConstantValue(0.0, "G^0 = grad f(W^0): no initial error") if self.batch0 is None
                         else stochastic_initial_error(problem, self.batch0, thm_id, values))
        return out

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        _require_oracles(self.name, problem, "sample_xi", "stochastic_grad")
        if self.batch0 is None:
            return grad
        return problem.stochastic_grad(W, problem.sample_xi(rng, W.shape[0], self.batch0))

    def direction(self, state: State) -> np.ndarray:
        return state

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        G = np.array(grad_new, dtype=np.float64)
        lazy = ~_coin(rng, W_new.shape[0], self.q)
        if lazy.any():
            xi = problem.sample_xi(rng, int(lazy.sum()), self.batch_prime)
            G[lazy] = state[lazy] + problem.stochastic_grad(W_new[lazy], xi) - problem.stochastic_grad(W_old[lazy], xi)
        return G

    def error(self, state: State, problem: Any, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return sq_norm(state - grad)

    def exact_transition(self, quad: Any) -> Any:
        r"""Exact map on a quadratic: ``s = vec G``; with probability ``q`` ``s⁺ = A w⁺``, else
        ``s⁺ = s + (1/b') Σ_{i∈ξ} A_i (w⁺ − w)`` (the same samples at both points; the offsets cancel).

        ``s⁰ = A w⁰``, or a minibatch of size ``batch0``.  Error ``‖s − A w‖²``.
        """
        from verify.exact.maps import Fixed, Layout, Mixture, Sum, Transition, error_form, on_z

        N, A = quad.N, quad.A
        lay = Layout(N, N)
        x_w = slice(0, N)
        init = (Fixed(lay.on_x(N, w=A)) if self.batch0 is None
                else quad.sample_map(N + 1, [(x_w, 1.0)], N, self.batch0))
        lazy = Sum([Fixed(lay.on_y(N, s=np.eye(N))),
                    quad.sample_map(lay.Dy, [(lay.w_new, 1.0), (lay.w, -1.0)], lay.one, self.batch_prime)])
        update = Mixture([self.q, 1.0 - self.q], [Fixed(lay.on_y(N, w_new=A)), lazy])
        err = error_form(lay, [on_z(lay, N, w=-A, s=(0, np.eye(N)))])
        return Transition(lay, np.eye(N), init, update, err, memoryless=False)


@dataclass(frozen=True)
class MVR:
    r"""Bernoulli-LoRA-MVR (momentum variance reduction, STORM) with momentum ``b ∈ (0, 1]``.

    .. math:: G^{t+1} = g(W^{t+1};\xi) + (1-b)\big(G^t - g(W^t;\xi)\big),\qquad |\xi| = \text{batch},

    with the same samples at both points; ``G^0`` is a minibatch of size ``batch0``.  ``b = 1`` is SGD.
    Recursion behind the theorem (σ² the variance, ℒ the mean-squared smoothness, ``batch = 1``):
    :math:`\mathbb E\|e^{t+1}\|^2 \le (1-b)^2\|e^t\|^2 + 2(1-b)^2\mathcal L^2\|W^{t+1}-W^t\|^2 + 2b^2\sigma^2`.
    Error: ``‖G^t − ∇f(W^t)‖²``.  State: ``G^t``, (R, m, n).
    """

    b: float
    batch: int = 1
    batch0: int = 1
    name: ClassVar[str] = "mvr"
    memoryless: ClassVar[bool] = False

    def __post_init__(self) -> None:
        real(self.name, "b", self.b, 0.0, strict=True, maximum=1.0)
        integer(self.name, "batch", self.batch, 1)
        integer(self.name, "batch0", self.batch0, 1)

    def theory_constants(self, problem: Any, needed: set[str], values: dict[str, ConstantValue],
                         thm_id: str) -> dict[str, ConstantValue]:
        """``sigma2 = sigma2_1/b``, ``Lms = Lms_1/sqrt(b)`` for a minibatch of ``batch``, the momentum ``b`` and
        ``E0`` = the variance bound over ``batch0``."""
        b = self.batch
        s2 = problem_constant(problem, "sigma2", thm_id)
        lms = problem_constant(problem, "Lms", thm_id)
        out = {"sigma2": ConstantValue(s2.value / b, f"{s2.how}; divided by the batch {b}"),
               "Lms": ConstantValue(lms.value / np.sqrt(b), f"{lms.how}; divided by sqrt(batch {b})"),
               "b": ConstantValue(float(self.b), "MVR momentum parameter")}
        if "E0" in needed:
            out["E0"] = stochastic_initial_error(problem, self.batch0, thm_id, {**values, **out})
        return out

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        _require_oracles(self.name, problem, "sample_xi", "stochastic_grad")
        return problem.stochastic_grad(W, problem.sample_xi(rng, W.shape[0], self.batch0))

    def direction(self, state: State) -> np.ndarray:
        return state

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        xi = problem.sample_xi(rng, W_new.shape[0], self.batch)
        return problem.stochastic_grad(W_new, xi) + (1.0 - self.b) * (state - problem.stochastic_grad(W_old, xi))

    def error(self, state: State, problem: Any, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return sq_norm(state - grad)

    def exact_transition(self, quad: Any) -> Any:
        r"""Exact map on a quadratic: ``s = vec G``,
        ``s⁺ = (1−b) s + g(w⁺; ξ) − (1−b) g(w; ξ)`` with one minibatch ``ξ`` of size ``batch``;
        ``s⁰ = g(w⁰; ξ⁰)``, ``|ξ⁰| = batch0``.  Error ``‖s − A w‖²``.
        """
        from verify.exact.maps import Fixed, Layout, Sum, Transition, error_form, on_z

        N, A = quad.N, quad.A
        lay = Layout(N, N)
        init = quad.sample_map(N + 1, [(slice(0, N), 1.0)], N, self.batch0)
        update = Sum([Fixed(lay.on_y(N, s=(1.0 - self.b) * np.eye(N))),
                      quad.sample_map(lay.Dy, [(lay.w_new, 1.0), (lay.w, -(1.0 - self.b))], lay.one, self.batch)])
        err = error_form(lay, [on_z(lay, N, w=-A, s=(0, np.eye(N)))])
        return Transition(lay, np.eye(N), init, update, err, memoryless=False)


# ----------------------------------------------------------------------------------------------------
# Federated estimators (M clients, f = (1/M) Σ_i f_i)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QGD:
    r"""Bernoulli-LoRA-QGD: ``G^t = (1/M) Σ_i Q_i(∇f_i(W^t))``, independent unbiased ``Q_i ∈ U(ω)``.

    :math:`\mathbb E\,G^t = \nabla f(W^t)` and
    :math:`\mathbb E\|G^t - \nabla f(W^t)\|^2 \le \tfrac{\omega}{M^2}\sum_i\|\nabla f_i(W^t)\|^2`; the theorem
    handles this through ABC constants, so the Lyapunov error term is 0.  State: ``G^t``, (R, m, n).
    ``compressor`` may be a spec string such as ``"rand-k:k=4"``.
    """

    compressor: Compressor
    name: ClassVar[str] = "qgd"
    memoryless: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "compressor", _compressor(self.name, self.compressor, unbiased=True))

    def theory_constants(self, problem: Any, needed: set[str], values: dict[str, ConstantValue],
                         thm_id: str) -> dict[str, ConstantValue]:
        """The compressor's ``omega`` at ``d = m n`` (A, B, C of QGD are written with it in the theorem)."""
        return compressor_constants(self.compressor, int(np.prod(problem.shape)), needed)

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        _federated(self.name, problem, self.compressor, W)
        return _compress_mean(self.compressor, problem.client_grads(W), rng)

    def direction(self, state: State) -> np.ndarray:
        return state

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        return _compress_mean(self.compressor, problem.client_grads(W_new), rng)

    def error(self, state: State, problem: Any, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return np.zeros(W.shape[0])

    def exact_transition(self, quad: Any) -> Any:
        r"""Exact map on a quadratic with a linear compressor: ``s⁺ = (1/M) Σ_i Q_i(A_i w⁺ + β_i)``, the
        ``Q_i`` independent (the compressor's ``linear_moments``); ``s⁰`` likewise at ``w⁰``."""
        from verify.exact.maps import Compressed, Fixed, Layout, Sum, Transition

        clients = quad.client_family()
        N, M = quad.N, clients.count
        scale, moment = _linear_moments(self.name, self.compressor, N)
        lay = Layout(N, N)
        ops, offs = clients.ops / M, clients.offsets / M
        init = Sum([Compressed(scale, moment, Fixed(lay.on_x(N, w=ops[i], one=offs[i]))) for i in range(M)])
        update = Sum([Compressed(scale, moment, Fixed(lay.on_y(N, w_new=ops[i], one=offs[i]))) for i in range(M)])
        return Transition(lay, np.eye(N), init, update, None, memoryless=True)


@dataclass(frozen=True)
class MARINA:
    r"""Bernoulli-LoRA-MARINA (Gorbunov et al. 2021) with probability ``q`` and unbiased ``Q_i ∈ U(ω)``.

    .. math:: G^{t+1} = \begin{cases}\nabla f(W^{t+1}) & \text{prob. } q\\
              G^t + \frac1M\sum_i Q_i\big(\nabla f_i(W^{t+1}) - \nabla f_i(W^t)\big) & \text{prob. } 1-q\end{cases}

    coin per run, ``G^0 = ∇f(W^0)``.  Recursion behind the theorem (``L̃² = (1/M) Σ L_i²``):
    :math:`\mathbb E\|e^{t+1}\|^2 \le (1-q)\|e^t\|^2 + (1-q)\tfrac{\omega}{M}\tilde L^2\|W^{t+1}-W^t\|^2`.
    Error: ``‖G^t − ∇f(W^t)‖²``.  State: ``(G^t, ∇f_i(W^t))`` of shapes (R, m, n) and (R, M, m, n); the
    cached client gradients make each step cost one ``client_grads`` call.
    """

    q: float
    compressor: Compressor
    name: ClassVar[str] = "marina"
    memoryless: ClassVar[bool] = False

    def __post_init__(self) -> None:
        real(self.name, "q", self.q, 0.0, strict=True, maximum=1.0)
        object.__setattr__(self, "compressor", _compressor(self.name, self.compressor, unbiased=True))

    def theory_constants(self, problem: Any, needed: set[str], values: dict[str, ConstantValue],
                         thm_id: str) -> dict[str, ConstantValue]:
        """``q``, the compressor's ``omega`` and ``E0 = 0`` (``G^0 = ∇f(W^0)``)."""
        out = {"q": ConstantValue(float(self.q), "MARINA probability of a full gradient"),
               **compressor_constants(self.compressor, int(np.prod(problem.shape)), needed)}
        if "E0" in needed:
            out["E0"] = ConstantValue(0.0, "G^0 = grad f(W^0): no initial error")
        return out

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        _federated(self.name, problem, self.compressor, W)
        return grad, problem.client_grads(W)

    def direction(self, state: State) -> np.ndarray:
        return state[0]

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        G_old, cg_old = state
        cg_new = problem.client_grads(W_new)
        G = np.array(grad_new, dtype=np.float64)
        lazy = ~_coin(rng, W_new.shape[0], self.q)
        if lazy.any():
            G[lazy] = G_old[lazy] + _compress_mean(self.compressor, cg_new[lazy] - cg_old[lazy], rng)
        return G, cg_new

    def error(self, state: State, problem: Any, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return sq_norm(state[0] - grad)

    def exact_transition(self, quad: Any) -> Any:
        r"""Exact map on a quadratic with a linear compressor: ``s = vec G`` (the cached client gradients are
        functions of ``w`` and need no state); with probability ``q`` ``s⁺ = A w⁺``, else
        ``s⁺ = s + (1/M) Σ_i Q_i(A_i (w⁺ − w))``.  ``s⁰ = A w⁰``.  Error ``‖s − A w‖²``."""
        from verify.exact.maps import Compressed, Fixed, Layout, Mixture, Sum, Transition, error_form, on_z

        clients = quad.client_family()
        N, M, A = quad.N, clients.count, quad.A
        scale, moment = _linear_moments(self.name, self.compressor, N)
        lay = Layout(N, N)
        ops = clients.ops / M
        lazy = Sum([Fixed(lay.on_y(N, s=np.eye(N)))]
                   + [Compressed(scale, moment, Fixed(lay.on_y(N, w_new=ops[i], w=-ops[i]))) for i in range(M)])
        update = Mixture([self.q, 1.0 - self.q], [Fixed(lay.on_y(N, w_new=A)), lazy])
        err = error_form(lay, [on_z(lay, N, w=-A, s=(0, np.eye(N)))])
        return Transition(lay, np.eye(N), Fixed(lay.on_x(N, w=A)), update, err, memoryless=False)


@dataclass(frozen=True)
class EF21:
    r"""Fed-Bernoulli-LoRA-EF21 (Richtárik, Sokolov, Fatkhullin 2021) with contractive ``C_i ∈ B(α)``.

    .. math:: g_i^{t+1} = g_i^t + C_i\big(\nabla f_i(W^{t+1}) - g_i^t\big),\qquad G^t = \frac1M\sum_i g_i^t,

    ``g_i^0 = C_i(∇f_i(W^0))`` (``g0="compressed"``) or ``∇f_i(W^0)`` (``g0="full"``; the parameter is
    not called ``init`` because that is the method).  Error: the EF21
    quantity :math:`\mathcal G^t = \frac1M\sum_i\|g_i^t - \nabla f_i(W^t)\|^2` (by Jensen
    :math:`\|G^t - \nabla f(W^t)\|^2 \le \mathcal G^t`), which obeys, with
    :math:`\theta = 1-\sqrt{1-\alpha}`, :math:`\beta = (1-\alpha)/(1-\sqrt{1-\alpha})`,
    :math:`\mathbb E\,\mathcal G^{t+1} \le (1-\theta)\mathcal G^t + \beta\tilde L^2\|W^{t+1}-W^t\|^2`.
    State: ``(g_i^t, ∇f_i(W^t))``, both (R, M, m, n); ``error`` uses the cached client gradients.
    """

    compressor: Compressor
    g0: str = "compressed"
    name: ClassVar[str] = "ef21"
    memoryless: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "compressor", _compressor(self.name, self.compressor, unbiased=False))
        choice(self.name, "g0", self.g0, ("compressed", "full"))

    def theory_constants(self, problem: Any, needed: set[str], values: dict[str, ConstantValue],
                         thm_id: str) -> dict[str, ConstantValue]:
        """The compressor's ``alpha_c`` and ``E0 = (1/M) Σ_i E‖g_i^0 − ∇f_i(W^0)‖²``: computed at ``W^0`` for a
        deterministic compressor; for a random one in B(alpha) the class bound ``(1 − alpha)(1/M) Σ_i
        ‖∇f_i(W^0)‖²`` (an equality for sparse-k)."""
        d = int(np.prod(problem.shape))
        out = compressor_constants(self.compressor, d, needed)
        if "E0" not in needed:
            return out
        W0 = np.asarray(problem.W0, dtype=float)[None]
        grad = problem.grad(W0)
        errs = [float(self.error(self.init(problem, W0, grad, np.random.default_rng(s)), problem, W0, grad)[0])
                for s in (1, 2)]
        if errs[0] == errs[1]:
            out["E0"] = ConstantValue(errs[0], "EF21's G^0 = (1/M) sum_i ||g_i^0 - grad f_i(W^0)||^2 computed at W^0")
            return out
        alpha = self.compressor.alpha(d)
        cg = problem.client_grads(W0)[0]
        bound = (1 - alpha) * float(np.mean(np.sum(cg**2, axis=(-2, -1))))
        out["E0"] = ConstantValue(bound, "EF21's E G^0 <= (1 - alpha)(1/M) sum_i ||grad f_i(W^0)||^2 (contractive "
                                         f"class B(alpha), alpha = {alpha:.6g})")
        return out

    def init(self, problem: Any, W: np.ndarray, grad: np.ndarray, rng: np.random.Generator) -> State:
        _federated(self.name, problem, self.compressor, W)
        cg = problem.client_grads(W)
        return (self.compressor.compress(cg, rng) if self.g0 == "compressed" else cg.copy()), cg

    def direction(self, state: State) -> np.ndarray:
        return state[0].mean(axis=1)

    def update(self, state: State, problem: Any, W_new: np.ndarray, grad_new: np.ndarray,
               W_old: np.ndarray, rng: np.random.Generator) -> State:
        g, _ = state
        cg_new = problem.client_grads(W_new)
        return g + self.compressor.compress(cg_new - g, rng), cg_new

    def error(self, state: State, problem: Any, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        g, cg = state
        return sq_norm(g - cg).mean(axis=1)

    def exact_transition(self, quad: Any) -> Any:
        r"""Exact map on a quadratic with a compressor that is linear given its draws (of the built-ins only
        ``identity``; ``top-k`` is not linear and raises :class:`~verify.exact.maps.ExactUnsupported`).

        State ``s = (g_1, …, g_M)``, ``G = (1/M) Σ g_i``;
        ``g_i⁺ = g_i + C_i(A_i w⁺ + β_i − g_i)`` with independent ``C_i``; ``g_i⁰ = C_i(A_i w⁰ + β_i)``
        (``g0="compressed"``) or ``A_i w⁰ + β_i`` (``"full"``).  Error ``(1/M) Σ ‖g_i − A_i w − β_i‖²``.
        """
        from verify.exact.maps import Compressed, Embed, Fixed, Layout, Sum, Transition, error_form, on_z

        clients = quad.client_family()
        N, M = quad.N, clients.count
        ops, offs = clients.ops, clients.offsets
        scale, moment = _linear_moments(self.name, self.compressor, N)
        lay = Layout(N, M * N)
        K = np.tile(np.eye(N), (1, M)) / M
        if self.g0 == "full":
            init: Any = Fixed(np.concatenate([lay.on_x(N, w=ops[i], one=offs[i]) for i in range(M)]))
        else:
            init = Sum([Embed(Compressed(scale, moment, Fixed(lay.on_x(N, w=ops[i], one=offs[i]))), i * N, M * N)
                        for i in range(M)])
        update = Sum([Fixed(lay.on_y(M * N, s=np.eye(M * N)))]
                     + [Embed(Compressed(scale, moment,
                                         Fixed(lay.on_y(N, w_new=ops[i], s=(i * N, -np.eye(N)), one=offs[i]))),
                              i * N, M * N) for i in range(M)])
        err = error_form(lay, [on_z(lay, N, w=-ops[i], s=(i * N, np.eye(N)), one=-offs[i]) for i in range(M)],
                         1.0 / M)
        return Transition(lay, K, init, update, err, memoryless=False)


# ----------------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------------


ESTIMATORS: dict[str, Callable[..., Estimator]] = {
    "gd": FullGradient,
    "subgradient": FullGradient,
    "sgd": SGD,
    "page": PAGE,
    "mvr": MVR,
    "qgd": QGD,
    "marina": MARINA,
    "ef21": EF21,
}
"""Registry: name -> estimator class (its dataclass fields are the allowed parameters)."""


def make_estimator(name: str, **params: Any) -> Estimator:
    """The estimator ``name`` built with ``params``, e.g. ``make_estimator("page", q=0.1, batch_prime=4)``.

    Raises
    ------
    UserError
        Unknown name or parameter, or a parameter value out of range (see each class).
    """
    if name not in ESTIMATORS:
        raise UserError(f"unknown estimator {name!r}: allowed are {', '.join(ESTIMATORS)}")
    cls = ESTIMATORS[name]
    allowed = [f.name for f in dataclasses.fields(cls)]
    for key in params:
        if key not in allowed:
            raise UserError(f"estimator {name!r} has no parameter {key!r}; allowed: {', '.join(allowed) or 'none'}")
    try:
        return cls(**params)
    except TypeError as exc:  # a required parameter is missing
        raise UserError(f"estimator {name!r}: {exc}; parameters: {', '.join(allowed)}") from None
