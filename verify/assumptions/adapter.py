r"""One adapter from whatever the user gave to the batched oracle calls the checks make.

Two kinds of objects are accepted.

**A user object** (the smallest thing a factory may return): any object with

=========================== ====================================================================
attribute                   meaning
=========================== ====================================================================
``shape``                   ``(m, n)``, positive integers (required)
``f(W) -> float``           the objective at ONE ``(m, n)`` matrix (required)
``grad(W) -> (m, n)``       its gradient (required)
``W0``                      ``(m, n)`` initial point (optional; zeros by default)
``f_star``                  ``inf f`` if known (optional; otherwise a solver estimates it)
``stochastic_grad(W, rng)`` one stochastic gradient ``g(W; ξ)``, ``ξ`` drawn from the
                            ``numpy.random.Generator`` passed in, and from nothing else
``n_components``,           ``f = (1/N) Σ_i f_i``: ``N`` and ``∇f_i(W)`` for ``0 <= i < N``
``component_grad(W, i)``
``n_clients``,              ``f = (1/M) Σ_i f_i`` split over ``M`` clients: ``M`` and ``∇f_i(W)``
``client_grad(W, i)``
``subgrad(W) -> (m, n)``    a subgradient (non-smooth ``f``); ``grad`` is used when absent
=========================== ====================================================================

**Batched oracles** (optional, any of them): vectorised twins of the oracles above over a leading axis
of ``K`` points, used instead of ``K`` calls of the one-matrix oracle (its per-call overhead is what a
check of a small network spends most of its time on):

================================== ==============================================================
attribute                          meaning
================================== ==============================================================
``f_batch(W) -> (K,)``             ``f(W[k])`` for each ``k``; ``W`` is ``(K, m, n)``
``grad_batch(W) -> (K, m, n)``     ``∇f(W[k])``
``stochastic_grad_batch(W, rngs)`` ``g(W[k]; ξ_k)`` with ``ξ_k`` drawn from the generator ``rngs[k]``
                                   alone, exactly as ``stochastic_grad(W[k], rngs[k])`` draws it
``component_grad_batch(W, idx)``   ``∇f_{idx[k]}(W[k])``, ``idx`` an integer array ``(K,)``
================================== ==============================================================

A batched oracle must compute the same function as its one-matrix twin, which must be given too (a
twin alone is refused): the findings are then the same, batched or not, up to floating-point rounding.

Every call gets its own copy of ``W``.  ``stochastic_grad`` must take all its randomness from ``rng``:
the checks call it twice with generators built from the same seed to reuse ``ξ`` at two points
(mean-squared smoothness), and the oracle check tests that this gives identical values.  When
``stochastic_grad`` is absent but components are given, the stochastic gradient is ``∇f_i(W)`` with
``i`` uniform on ``{0, …, N−1}``.

**A batched built-in problem**: an object satisfying :class:`verify.problems.Problem` (it has ``name``,
``params``, ``constants``, ``W0``, ``shape``, and ``f``, ``grad`` map ``(R, m, n)`` batches) is used
directly, with its optional oracles ``sample_xi``/``stochastic_grad`` (one sample per draw),
``N`` (finite sums: component ``i`` is ``stochastic_grad(W, [[i]])``) and ``clients``/``client_grads``.
Its ``f_star`` constant is used when it is exact; a certified *lower* bound only bounds the solver's
estimate from below.

Every oracle of :class:`Oracles` is batched, ``(K, m, n) → (K,)`` or ``(K, m, n)``, and raises
:class:`OracleError` naming the oracle and the point when the user's code raises, returns the wrong
shape, or returns NaN/Inf.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from verify.assumptions.seeds import generators
from verify.errors import UserError, require
from verify.problems.base import Problem

__all__ = ["OracleError", "Oracles", "adapt"]

SEED_HIGH = 2**63 - 1
"""Seeds handed to the user's ``stochastic_grad`` (via ``default_rng(seed)``) lie in ``[0, SEED_HIGH)``."""


class OracleError(Exception):
    """The user's oracle failed at a point: it raised, returned the wrong shape, or returned NaN/Inf.

    Parameters
    ----------
    oracle : str
        The oracle's user-facing name, e.g. ``"grad"``.
    message : str
        What went wrong, one line.
    point : (m, n) ndarray or None
        The matrix it was called at.
    """

    def __init__(self, oracle: str, message: str, point: np.ndarray | None) -> None:
        super().__init__(f"{oracle}: {message}")
        self.oracle = oracle
        self.message = message
        self.point = None if point is None else np.array(point, dtype=float)

    def witness(self) -> dict[str, object]:
        """The error as a JSON-ready witness: the oracle, the message and the point."""
        return {"oracle": self.oracle, "error": self.message,
                "point": None if self.point is None else self.point.tolist()}


Batched = Callable[..., np.ndarray]


def _first_nonfinite(out: np.ndarray) -> int | None:
    bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def _locate(oracle: str, fn: Batched, W: np.ndarray, args: tuple[np.ndarray, ...], exc: Exception) -> OracleError:
    """Re-run a failed batched call point by point to name the first point where it fails."""
    for k in range(len(W)):
        try:
            fn(W[k:k + 1], *(a[k:k + 1] for a in args))
        except Exception as inner:  # noqa: BLE001 - the user's code may raise anything
            return OracleError(oracle, f"raised {type(inner).__name__}: {inner}", W[k])
    return OracleError(oracle, f"raised {type(exc).__name__}: {exc} (on a batch of {len(W)} points)", W[0])


def _evaluate(oracle: str, fn: Batched, W: np.ndarray, args: tuple[np.ndarray, ...], tail: tuple[int, ...]
              ) -> np.ndarray:
    """Call a batched oracle on ``W`` ``(K, m, n)`` and check the result has shape ``(K, *tail)`` and is finite."""
    if len(W) == 0:
        return np.zeros((0, *tail))
    try:
        out = np.asarray(fn(W, *args), dtype=np.float64)
    except OracleError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise _locate(oracle, fn, W, args, exc) from exc
    if out.shape != (len(W), *tail):
        raise OracleError(oracle, f"returned shape {out.shape} for a batch of shape {W.shape}, "
                                  f"expected {(len(W), *tail)}", W[0])
    k = _first_nonfinite(out)
    if k is not None:
        raise OracleError(oracle, "returned NaN or Inf", W[k])
    return out


def _per_point(oracle: str, fn: Callable[..., Any], shape: tuple[int, int], scalar: bool) -> Batched:
    """Batch a user's one-matrix oracle by a loop; failures raise :class:`OracleError` at the exact point."""
    tail: tuple[int, ...] = () if scalar else shape

    def batched(W: np.ndarray, *args: np.ndarray) -> np.ndarray:
        out = np.empty((len(W), *tail))
        for k, Wk in enumerate(W):
            try:
                value = np.asarray(fn(Wk.copy(), *(a[k] for a in args)), dtype=np.float64)
            except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
                raise OracleError(oracle, f"raised {type(exc).__name__}: {exc}", Wk) from exc
            if value.shape != tail and not (scalar and value.shape == (1,)):
                want = "a scalar" if scalar else f"shape {shape}"
                raise OracleError(oracle, f"returned shape {value.shape}, expected {want}", Wk)
            if not np.all(np.isfinite(value)):
                raise OracleError(oracle, "returned NaN or Inf", Wk)
            out[k] = value.reshape(tail)
        return out

    return batched


@dataclass(frozen=True, eq=False)
class Oracles:
    """Batched, validated oracles of one problem, whatever its origin.

    Attributes
    ----------
    name : str
        For reports.
    origin : str
        ``"user object (unbatched: called one matrix at a time)"``, ``"user object (batched: f_batch, …)"``
        naming the batched oracles used, or ``"batched Problem"``.
    shape : tuple[int, int]
        ``(m, n)``.
    W0 : (m, n) ndarray
        Initial point.
    f_star : float or None
        ``inf f`` when the problem states it exactly.
    f_star_lower : float or None
        A certified lower bound on ``inf f`` (built-in problems whose ``f_star`` is of kind ``"lower"``).
    stochastic_source : str or None
        Where the stochastic gradient comes from, or None without one.
    stochastic_is_components : bool
        The stochastic gradient is ``∇f_i`` with ``i`` uniform (a finite sum): it is unbiased exactly when the
        components average to ``∇f``, which the oracle check tests without sampling.
    n_components, n_clients : int or None
        ``N`` and ``M`` when the component / client oracles exist.
    """

    name: str
    origin: str
    shape: tuple[int, int]
    W0: np.ndarray
    f_star: float | None
    f_star_lower: float | None
    stochastic_source: str | None
    stochastic_is_components: bool
    n_components: int | None
    n_clients: int | None
    _f: Batched
    _grad: Batched
    _subgrad: Batched | None
    _sample: Callable[[np.random.Generator, int], np.ndarray] | None
    _stochastic: Batched | None
    _component: Batched | None
    _client: Batched | None

    @property
    def d(self) -> int:
        """``m·n``."""
        return self.shape[0] * self.shape[1]

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f`` on a batch: ``(K, m, n) → (K,)``."""
        return _evaluate("f", self._f, np.asarray(W, dtype=float), (), ())

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``∇f`` on a batch: ``(K, m, n) → (K, m, n)``."""
        return _evaluate("grad", self._grad, np.asarray(W, dtype=float), (), self.shape)

    def subgrad(self, W: np.ndarray) -> np.ndarray:
        """A subgradient on a batch (``subgrad`` if given, else ``grad``): ``(K, m, n) → (K, m, n)``."""
        if self._subgrad is None:
            return self.grad(W)
        return _evaluate("subgrad", self._subgrad, np.asarray(W, dtype=float), (), self.shape)

    @property
    def has_stochastic(self) -> bool:
        return self._stochastic is not None

    def sample(self, rng: np.random.Generator, K: int) -> np.ndarray:
        """The randomness ``ξ`` of ``K`` independent one-sample stochastic gradients (leading axis ``K``)."""
        if self._sample is None:
            raise RuntimeError("no stochastic oracle")
        return self._sample(rng, K)

    def stochastic_grad(self, W: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """``g(W_k; ξ_k)`` for each ``k``: ``(K, m, n), ξ → (K, m, n)``; the same ``ξ`` gives the same sample."""
        if self._stochastic is None:
            raise RuntimeError("no stochastic oracle")
        return _evaluate("stochastic_grad", self._stochastic, np.asarray(W, dtype=float), (xi,), self.shape)

    def component_grad(self, W: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``∇f_{i_k}(W_k)``: ``(K, m, n), (K,) → (K, m, n)``."""
        if self._component is None:
            raise RuntimeError("no component oracle")
        return _evaluate("component_grad", self._component, np.asarray(W, dtype=float),
                         (np.asarray(idx, dtype=np.int64),), self.shape)

    def client_grad(self, W: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``∇f_{i_k}(W_k)`` of client ``i_k``: ``(K, m, n), (K,) → (K, m, n)``."""
        if self._client is None:
            raise RuntimeError("no client oracle")
        return _evaluate("client_grad", self._client, np.asarray(W, dtype=float),
                         (np.asarray(idx, dtype=np.int64),), self.shape)


def _shape(obj: object, who: str) -> tuple[int, int]:
    shape = getattr(obj, "shape", None)
    ok = (isinstance(shape, (tuple, list)) and len(shape) == 2
          and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape))
    require(ok, f"{who}: shape={shape!r} is not allowed; the problem needs shape = (m, n) with integers >= 1")
    return int(shape[0]), int(shape[1])


def _W0(obj: object, shape: tuple[int, int], who: str) -> np.ndarray:
    raw = getattr(obj, "W0", None)
    if raw is None:
        return np.zeros(shape)
    try:
        W0 = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{who}: W0 is not a numeric array; give an (m, n) = {shape} array") from None
    require(W0.shape == shape and bool(np.all(np.isfinite(W0))),
            f"{who}: W0 has shape {W0.shape}; it must be a finite array of shape {shape}")
    return W0


def _number(value: object, who: str, key: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    require(ok and math.isfinite(float(value)), f"{who}: {key}={value!r} is not allowed; it must be a finite number")
    return float(value)


def _count(obj: object, key: str, oracle: str, who: str) -> int | None:
    """``n_components`` / ``n_clients``: None when absent; both it and its oracle, or neither."""
    count, fn = getattr(obj, key, None), getattr(obj, oracle, None)
    if count is None and fn is None:
        return None
    if count is None or not callable(fn):
        raise UserError(f"{who}: give both {key} and a callable {oracle}(W, i), or neither (got {key}={count!r}, "
                        f"{oracle}={'callable' if callable(fn) else fn!r})")
    require(isinstance(count, (int, np.integer)) and not isinstance(count, bool) and count >= 1,
            f"{who}: {key}={count!r} is not allowed; it must be an integer >= 1")
    return int(count)


#: The optional batched twin of each one-matrix oracle of a user object.
BATCHED = {"f": "f_batch", "grad": "grad_batch", "stochastic_grad": "stochastic_grad_batch",
           "component_grad": "component_grad_batch"}


def _batched_twin(obj: object, oracle: str, who: str) -> Batched | None:
    """The user's batched twin of ``oracle`` (called on a copy of the batch), or None when it has none."""
    fn = getattr(obj, BATCHED[oracle], None)
    if fn is None:
        return None
    if not callable(fn):  # the message is built only on failure: repr of a bound method repr's its object
        raise UserError(f"{who}: {BATCHED[oracle]}={fn!r} is not callable; give a function of a (K, m, n) batch")

    def batched(W: np.ndarray, *args: np.ndarray) -> np.ndarray:
        return fn(W.copy(), *args)

    return batched


def _oracle(obj: object, oracle: str, fn: Callable[..., Any], shape: tuple[int, int], scalar: bool, who: str
            ) -> Batched:
    """The user's batched twin of ``oracle`` when it has one, else ``fn`` looped over the points."""
    twin = _batched_twin(obj, oracle, who)
    return twin if twin is not None else _per_point(oracle, fn, shape, scalar)


def _user_stochastic(obj: object, shape: tuple[int, int], who: str) -> tuple[Callable | None, Batched | None]:
    """``ξ`` is one seed per draw; point ``k`` gets ``default_rng(seed_k)``, batched or not (batched: built
    by :func:`verify.assumptions.seeds.generators`, the same streams at a fifth of the cost)."""
    fn = getattr(obj, "stochastic_grad", None)
    if fn is None:
        return None, None

    def sample(rng: np.random.Generator, K: int) -> np.ndarray:
        return rng.integers(0, SEED_HIGH, size=K, dtype=np.int64)

    def one(W: np.ndarray, seed: np.int64) -> np.ndarray:
        return fn(W, np.random.default_rng(int(seed)))

    twin = _batched_twin(obj, "stochastic_grad", who)
    if twin is None:
        return sample, _per_point("stochastic_grad", one, shape, scalar=False)

    def batched(W: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        return twin(W, generators(seeds))

    return sample, batched


def _from_components(N: int, component: Batched) -> tuple[Callable, Batched]:
    def sample(rng: np.random.Generator, K: int) -> np.ndarray:
        return rng.integers(0, N, size=K)

    return sample, component


def _adapt_user(obj: object, who: str) -> Oracles:
    for key in ("f", "grad"):
        require(callable(getattr(obj, key, None)),
                f"{who}: the problem has no callable {key}(W); it needs shape, f(W) -> float and grad(W) -> (m, n)")
    shape = _shape(obj, who)
    subgrad = getattr(obj, "subgrad", None)
    if not (subgrad is None or callable(subgrad)):
        raise UserError(f"{who}: subgrad={subgrad!r} is not callable")
    stoch = getattr(obj, "stochastic_grad", None)
    if not (stoch is None or callable(stoch)):
        raise UserError(f"{who}: stochastic_grad={stoch!r} is not callable")
    f_star = getattr(obj, "f_star", None)
    N = _count(obj, "n_components", "component_grad", who)
    M = _count(obj, "n_clients", "client_grad", who)
    component = None if N is None else _oracle(
        obj, "component_grad", lambda W, i: obj.component_grad(W, int(i)), shape, False, who)
    client = None if M is None else _per_point(
        "client_grad", lambda W, i: obj.client_grad(W, int(i)), shape, scalar=False)
    sample, stochastic = _user_stochastic(obj, shape, who)
    source = "stochastic_grad(W, rng)" if stochastic is not None else None
    twins = [twin for base, twin in BATCHED.items() if getattr(obj, twin, None) is not None]
    for base, twin in BATCHED.items():
        require(getattr(obj, twin, None) is None or callable(getattr(obj, base, None)),
                f"{who}: {twin} is given without {base}; give the one-matrix {base} too (it defines the oracle)")
    if stochastic is None and component is not None:
        sample, stochastic = _from_components(N, component)
        source = "component_grad(W, i) with i uniform on {0, ..., n_components - 1}"
    return Oracles(
        name=str(getattr(obj, "name", type(obj).__name__)),
        origin=("user object (batched: " + ", ".join(twins) + ")" if twins
                else "user object (unbatched: called one matrix at a time)"),
        shape=shape, W0=_W0(obj, shape, who),
        f_star=None if f_star is None else _number(f_star, who, "f_star"), f_star_lower=None,
        stochastic_source=source, stochastic_is_components=source is not None and stoch is None and N is not None,
        n_components=N, n_clients=M,
        _f=_oracle(obj, "f", obj.f, shape, True, who), _grad=_oracle(obj, "grad", obj.grad, shape, False, who),
        _subgrad=None if subgrad is None else _per_point("subgrad", subgrad, shape, scalar=False),
        _sample=sample, _stochastic=stochastic, _component=component, _client=client,
    )


def _adapt_problem(p: Problem) -> Oracles:
    shape = (int(p.shape[0]), int(p.shape[1]))
    c = p.constants.get("f_star")
    exact = c is not None and c.kind == "exact"
    sample = stochastic = component = client = None
    source = None
    N = int(p.N) if hasattr(p, "N") else None
    if hasattr(p, "sample_xi") and hasattr(p, "stochastic_grad"):
        def sample(rng: np.random.Generator, K: int) -> np.ndarray:
            return p.sample_xi(rng, K, 1)
        stochastic = p.stochastic_grad
        source = f"{p.name}.stochastic_grad(W, xi) with one sample per draw (sample_xi(rng, K, 1))"
        if N is not None:
            def component(W: np.ndarray, idx: np.ndarray) -> np.ndarray:
                return p.stochastic_grad(W, idx[:, None])
    M = int(p.clients) if hasattr(p, "clients") and hasattr(p, "client_grads") else None
    if M is not None:
        def client(W: np.ndarray, idx: np.ndarray) -> np.ndarray:
            return p.client_grads(W)[np.arange(len(W)), idx]
    return Oracles(
        name=p.name, origin="batched Problem", shape=shape, W0=np.array(p.W0, dtype=float),
        f_star=float(c.value) if exact else None, f_star_lower=float(c.value) if c is not None and not exact else None,
        stochastic_source=source, stochastic_is_components=component is not None,
        n_components=N if component is not None else None, n_clients=M,
        _f=p.f, _grad=p.grad, _subgrad=None, _sample=sample, _stochastic=stochastic, _component=component,
        _client=client,
    )


def adapt(obj: object, who: str = "problem") -> Oracles:
    """Map a user object or a batched :class:`~verify.problems.Problem` to :class:`Oracles`.

    Raises
    ------
    UserError
        If the object lacks ``shape``, ``f`` or ``grad``, or an optional attribute is malformed
        (``W0`` of the wrong shape, ``f_star`` not a finite number, a count without its oracle, …).
    """
    if isinstance(obj, Oracles):
        return obj
    if isinstance(obj, Problem):
        return _adapt_problem(obj)
    return _adapt_user(obj, who)
