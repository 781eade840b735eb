"""Problems built from other problems or from a user's plain functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from verify.errors import UserError, require
from verify.problems.base import Constant, Problem, as_batch, frozen


@dataclass(frozen=True, eq=False)
class Transposed:
    """``g(V) = f(Vᵀ)`` on ``R^{n×m}``, for a problem ``f`` on ``R^{m×n}``.

    Notes
    -----
    ``∇g(V) = (∇f(Vᵀ))ᵀ``.  Transposition is a linear isometry for the Frobenius norm, so ``g`` has the
    same smoothness and PŁ constants and the same infimum as ``f``.  A left sketch step on ``g``
    (``V ← V − γ H_B ∇g``) is the transpose of a right sketch step on ``f``: transposing the problem and
    swapping ``p ↔ 1 − p`` gives the same distribution of iterates (transposed).

    The optional oracles are carried exactly when the base problem has them (otherwise the attribute
    is absent and ``hasattr`` is False): ``N``, ``sample_xi`` (the base's randomness ``ξ``, passed through
    unchanged: indices, or noise of the base's shape ``(R, m, n)``), ``stochastic_grad(V, ξ) =
    g(Vᵀ; ξ)ᵀ``, ``clients``, ``client_grads(V) = (∇f_i(Vᵀ))ᵀ`` and ``W_star`` (transposed).  All
    constants, stochastic and federated ones included, are invariant under the isometry and are
    inherited.  Data attributes of the base (``X``, ``A``, …) are not carried: use ``base``.
    """

    base: Problem
    name: str = field(init=False)
    params: Mapping[str, object] = field(init=False)
    shape: tuple[int, int] = field(init=False)
    W0: np.ndarray = field(init=False)
    constants: Mapping[str, Constant] = field(init=False)

    def __post_init__(self) -> None:
        m, n = self.base.shape
        set_ = object.__setattr__
        set_(self, "name", f"{self.base.name}^T")
        set_(self, "params", {"transpose_of": self.base.name, **dict(self.base.params)})
        set_(self, "shape", (n, m))
        set_(self, "W0", frozen(np.asarray(self.base.W0).T))
        set_(self, "constants", {
            key: Constant(c.value, f"inherited from {self.base.name} (g(V) = f(V^T) is an isometric "
                                   f"change of variables): {c.how}", c.kind)
            for key, c in self.base.constants.items()
        })

    def f(self, W: np.ndarray) -> np.ndarray:
        """``g(V) = f(Vᵀ)``: ``(R, n, m) → (R,)``."""
        return self.base.f(as_batch(W, self.shape, f"{self.name}.f").transpose(0, 2, 1))

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``∇g(V) = ∇f(Vᵀ)ᵀ``: ``(R, n, m) → (R, n, m)``."""
        V = as_batch(W, self.shape, f"{self.name}.grad")
        return self.base.grad(V.transpose(0, 2, 1)).transpose(0, 2, 1)

    # Optional oracles: each property raises AttributeError (so hasattr is False) if the base lacks it.

    @property
    def N(self) -> int:
        """The base's number of components."""
        return self.base.N

    @property
    def clients(self) -> int:
        """The base's number of clients."""
        return self.base.clients

    @property
    def W_star(self) -> np.ndarray:
        """``(W*)ᵀ`` of the base."""
        return np.asarray(self.base.W_star).T

    @property
    def sample_xi(self) -> Callable[[np.random.Generator, int, int], np.ndarray]:
        """The base's ``sample_xi``: ``ξ`` is in the base's convention."""
        return self.base.sample_xi

    @property
    def stochastic_grad(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """``(V, ξ) ↦ g(Vᵀ; ξ)ᵀ``: ``(R, n, m), ξ → (R, n, m)``."""
        base = self.base.stochastic_grad

        def stochastic_grad(W: np.ndarray, xi: np.ndarray) -> np.ndarray:
            V = as_batch(W, self.shape, f"{self.name}.stochastic_grad")
            return base(V.transpose(0, 2, 1), xi).transpose(0, 2, 1)

        return stochastic_grad

    @property
    def client_grads(self) -> Callable[[np.ndarray], np.ndarray]:
        """``V ↦ (∇f_i(Vᵀ))ᵀ`` for every client: ``(R, n, m) → (R, M, n, m)``."""
        base = self.base.client_grads

        def client_grads(W: np.ndarray) -> np.ndarray:
            V = as_batch(W, self.shape, f"{self.name}.client_grads")
            return base(V.transpose(0, 2, 1)).transpose(0, 1, 3, 2)

        return client_grads


def transpose(problem: Problem) -> Problem:
    """The problem ``g(V) = f(Vᵀ)`` on shape ``(n, m)``: ``W0ᵀ``, the same constants, name ``name^T``."""
    return Transposed(problem)


@dataclass(frozen=True, eq=False)
class FromFunctions:
    """A user's unbatched ``f(W) -> float`` and ``grad(W) -> (m, n)``, batched by a loop over runs."""

    user_f: Callable[[np.ndarray], float] = field(repr=False)
    user_grad: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    shape: tuple[int, int]
    W0: np.ndarray
    constants: Mapping[str, Constant]
    name: str
    params: Mapping[str, object]

    def f(self, W: np.ndarray) -> np.ndarray:
        """``(R, m, n) → (R,)``: ``f`` called once per run."""
        W = as_batch(W, self.shape, f"{self.name}.f")
        out = np.empty(len(W))
        for r, Wr in enumerate(W):
            value = np.asarray(self.user_f(Wr.copy()), dtype=np.float64)
            if value.shape not in ((), (1,)):
                raise ValueError(f"{self.name}: the user's f returned shape {value.shape}, expected a scalar")
            out[r] = value.item()
        return out

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``(R, m, n) → (R, m, n)``: ``grad`` called once per run."""
        W = as_batch(W, self.shape, f"{self.name}.grad")
        out = np.empty_like(W)
        for r, Wr in enumerate(W):
            g = np.asarray(self.user_grad(Wr.copy()), dtype=np.float64)
            if g.shape != self.shape:
                raise ValueError(
                    f"{self.name}: the user's grad returned shape {g.shape}, expected {self.shape}")
            out[r] = g
        return out


def from_functions(
    f: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    shape: tuple[int, int],
    W0: np.ndarray | None = None,
    f_star: float | None = None,
    constants: Mapping[str, Constant | float] | None = None,
    name: str = "user",
) -> Problem:
    """Wrap a plain unbatched ``f(W) -> float`` and ``grad(W) -> (m, n)`` as a batched :class:`Problem`.

    Parameters
    ----------
    f, grad : callable
        The user's objective and gradient on one ``(m, n)`` array (each call gets its own copy).
    shape : tuple[int, int]
        ``(m, n)``, positive integers.
    W0 : (m, n) array_like, optional
        Initial point; zeros by default.
    f_star : float, optional
        ``inf f`` if known; recorded as a constant "given by the user (not verified)".
    constants : mapping, optional
        More constants (``"L"``, ``"mu"``, …): :class:`Constant` records, or plain numbers recorded as
        exact and "given by the user (not verified)".
    name : str
        Name used in reports and error messages.

    Raises
    ------
    UserError
        If ``shape`` or ``W0`` is malformed, or ``f_star`` is given twice.
    ValueError
        At evaluation, if the user's ``f`` does not return a scalar or ``grad`` returns the wrong shape.
    """
    require(callable(f) and callable(grad), f"from_functions: f={f!r} and grad={grad!r} must be callables")
    ok = (isinstance(shape, tuple) and len(shape) == 2
          and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape))
    require(ok, f"from_functions: shape={shape!r} is not allowed; shape must be a tuple (m, n) of ints >= 1")
    shape = (int(shape[0]), int(shape[1]))
    W0 = np.zeros(shape) if W0 is None else np.asarray(W0, dtype=np.float64)
    require(W0.shape == shape, f"from_functions: W0 has shape {W0.shape}, expected {shape}")
    given = "given by the user (not verified)"
    consts: dict[str, Constant] = {
        k: c if isinstance(c, Constant) else Constant(c, given) for k, c in (constants or {}).items()
    }
    if f_star is not None:
        if "f_star" in consts:
            raise UserError("from_functions: f_star is given twice (argument and constants); give it once")
        consts["f_star"] = Constant(f_star, given)
    return FromFunctions(
        user_f=f, user_grad=grad, shape=shape, W0=frozen(W0), constants=consts, name=name,
        params={"shape": list(shape)},
    )
