r"""Compression operators for the federated estimators (QGD, MARINA, EF21).

A compressor acts on the last two axes of an array: one ``(m, n)`` matrix with ``d = m·n`` entries,
viewed as a vector ``x ∈ R^d``.  Any leading shape is allowed (e.g. ``(R, M, m, n)`` for R runs and M
clients); each leading index gets its own, independent randomness from the generator passed in.

Two classes (docs/theory.md §4, items 4.8 and 4.9):

* **unbiased**, class :math:`\mathbb U(\omega)`: :math:`\mathbb E\,Q(x) = x` and
  :math:`\mathbb E\|Q(x) - x\|^2 \le \omega\|x\|^2`;
* **contractive**, class :math:`\mathbb B(\alpha)`, :math:`\alpha \in (0, 1]`:
  :math:`\mathbb E\|C(x) - x\|^2 \le (1 - \alpha)\|x\|^2`.

The constants depend on ``d``, which is known only once the problem is, so they are methods:
``omega(d)`` on unbiased compressors, ``alpha(d)`` on contractive ones; ``validate(d)`` raises
:class:`~verify.errors.UserError` when the compressor makes no sense for that ``d`` (e.g. ``k > d``).
The flags ``unbiased`` and ``contractive`` say which of the two methods exist.

Built-ins (:func:`make_compressor` parses specs such as ``"rand-k:k=4"``):

========== ============ ====================================== ===========================
spec       class        operator                               constant
========== ============ ====================================== ===========================
identity   both         ``x``                                  ``omega = 0``, ``alpha = 1``
rand-k     unbiased     ``k`` random entries, times ``d/k``    ``omega = d/k - 1`` (exact)
sparse-k   contractive  ``k`` random entries, unscaled         ``alpha = k/d`` (exact)
dither     unbiased     QSGD random dithering, ``s`` levels    ``omega = min(d/s², √d/s)``
top-k      contractive  the ``k`` largest ``|x_j|``            ``alpha = k/d``
========== ============ ====================================== ===========================
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from verify import moments
from verify.errors import UserError
from verify.moments import SecondMoment
from verify.problems._validate import integer

__all__ = ["COMPRESSORS", "Compressor", "Dither", "Identity", "RandK", "SparseK", "TopK", "make_compressor"]


class Compressor(Protocol):
    """``compress(X, rng)`` on the last two axes of ``X``; ``omega(d)`` if unbiased, ``alpha(d)`` if contractive."""

    name: ClassVar[str]
    unbiased: ClassVar[bool]
    contractive: ClassVar[bool]

    def validate(self, d: int) -> None: ...

    def compress(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


def _rows(X: np.ndarray) -> np.ndarray:
    """``(..., m, n) -> (N, d)``: one row per leading index (a float64 copy or view)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 2:
        raise ValueError(f"a compressor acts on the last two axes (m, n); got an array of shape {X.shape}")
    return X.reshape(-1, X.shape[-2] * X.shape[-1])


def _keep_random(X: np.ndarray, k: int, rng: np.random.Generator, scale: bool) -> np.ndarray:
    """``x ⊙ 1_S`` (times ``d/k`` if ``scale``) with ``S`` a uniform ``k``-subset, independently per leading index."""
    x = _rows(X)
    d = x.shape[1]
    # the k smallest of d i.i.d. uniforms sit at a uniformly random k-subset of positions
    keep = np.argpartition(rng.random(x.shape), k - 1, axis=1)[:, :k]
    out = np.zeros_like(x)
    rows = np.arange(x.shape[0])[:, None]
    out[rows, keep] = x[rows, keep] * (d / k if scale else 1.0)
    return out.reshape(np.shape(X))


def _check_k(name: str, k: int, d: int) -> None:
    if k > d:
        raise UserError(f"{name}: k={k} is not allowed for a {d}-entry matrix; k must be between 1 and d={d}")


@dataclass(frozen=True)
class Identity:
    """``Q(x) = x``: unbiased with ``omega = 0`` and contractive with ``alpha = 1``."""

    name: ClassVar[str] = "identity"
    unbiased: ClassVar[bool] = True
    contractive: ClassVar[bool] = True

    def validate(self, d: int) -> None:
        """Any ``d`` is fine."""

    def omega(self, d: int) -> float:
        """``0``."""
        return 0.0

    def alpha(self, d: int) -> float:
        """``1``."""
        return 1.0

    def compress(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A float64 copy of ``X``."""
        return np.array(X, dtype=np.float64)

    def linear_moments(self, d: int) -> tuple[float, SecondMoment]:
        """``E Q(x) = x`` and ``E[Q Y Qᵀ] = Y``: scale 1 and the identity map on ``d×d`` matrices."""
        return 1.0, SecondMoment(d, 1.0, 0.0)


@dataclass(frozen=True)
class _KEntries:
    """The shared part of the compressors that keep ``k`` of the ``d`` entries: ``k >= 1``, and ``k <= d``."""

    k: int
    name: ClassVar[str]

    def __post_init__(self) -> None:
        integer(self.name, "k", self.k, 1)

    def validate(self, d: int) -> None:
        """Raise :class:`UserError` unless ``k <= d``."""
        _check_k(self.name, self.k, d)


@dataclass(frozen=True)
class RandK(_KEntries):
    r"""Random sparsification: keep ``k`` entries chosen uniformly without replacement, scaled by ``d/k``.

    Notes
    -----
    Each entry is kept with probability ``k/d``, so :math:`\mathbb E\,Q(x) = x` and, for every ``x``,

    .. math:: \mathbb E\|Q(x) - x\|^2 = \sum_j x_j^2\Big[\tfrac kd\big(\tfrac dk - 1\big)^2 + 1 - \tfrac kd\Big]
              = \Big(\frac dk - 1\Big)\|x\|^2,

    i.e. ``omega = d/k - 1`` with equality.
    """

    name: ClassVar[str] = "rand-k"
    unbiased: ClassVar[bool] = True
    contractive: ClassVar[bool] = False

    def omega(self, d: int) -> float:
        """``d/k − 1``."""
        self.validate(d)
        return d / self.k - 1.0

    def compress(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(d/k) x ⊙ 1_S`` with ``S`` a uniform ``k``-subset, independently per leading index."""
        self.validate(np.shape(X)[-2] * np.shape(X)[-1])
        return _keep_random(X, self.k, rng, scale=True)

    def linear_moments(self, d: int) -> tuple[float, SecondMoment]:
        r"""``Q(x) = (d/k) D_S x`` is linear given its draw: ``E Q = I`` and ``E[Q Y Qᵀ]_ab = (d/k)² P(a, b ∈ S) Y_ab``.

        The mask ``D_S = Σ_{j∈S} e_j e_jᵀ`` is the projection of a ``coordinates`` sketch with ``r = k``, so the
        map is :func:`verify.moments.coordinates` scaled by ``(d/k)²``: ``d/k`` on the diagonal and
        ``d(k − 1)/(k(d − 1))`` off it.  The law of ``S`` is invariant under permutations of the ``d``
        entries, so the map is the same whichever way the ``(m, n)`` matrix is flattened.
        """
        self.validate(d)
        base = moments.coordinates(d, self.k, replacement=False)
        s2 = (d / self.k) ** 2
        return 1.0, SecondMoment(d, s2 * base.a, 0.0, s2 * base.c)


@dataclass(frozen=True)
class SparseK(_KEntries):
    r"""Unscaled random sparsification: keep ``k`` entries chosen uniformly without replacement.

    Notes
    -----
    Each entry is kept with probability ``k/d``, so for every ``x``

    .. math:: \mathbb E\|C(x) - x\|^2 = \Big(1 - \frac kd\Big)\|x\|^2,

    i.e. contractive with ``alpha = k/d`` and equality (biased: ``E C(x) = (k/d) x``).  It is ``rand-k``
    without its ``d/k``, the linear contractive compressor on which EF21's exact oracle runs.
    """

    name: ClassVar[str] = "sparse-k"
    unbiased: ClassVar[bool] = False
    contractive: ClassVar[bool] = True

    def alpha(self, d: int) -> float:
        """``k/d``, with equality: ``E||C(x) - x||² = (1 - k/d)||x||²``."""
        self.validate(d)
        return self.k / d

    def compress(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``x ⊙ 1_S`` with ``S`` a uniform ``k``-subset, independently per leading index."""
        self.validate(np.shape(X)[-2] * np.shape(X)[-1])
        return _keep_random(X, self.k, rng, scale=False)

    def linear_moments(self, d: int) -> tuple[float, SecondMoment]:
        r"""``C(x) = D_S x``: ``E C = (k/d) I`` and ``E[C Y Cᵀ]_ab = P(a, b ∈ S) Y_ab``, the ``coordinates``
        sketch's map with ``r = k`` (:func:`verify.moments.coordinates`)."""
        self.validate(d)
        base = moments.coordinates(d, self.k, replacement=False)
        return self.k / d, SecondMoment(d, base.a, 0.0, base.c)


@dataclass(frozen=True)
class Dither:
    r"""Random dithering (QSGD) with ``s`` levels and the ℓ2 norm (Alistarh et al. 2017).

    .. math:: Q(x)_j = \|x\|\,\mathrm{sign}(x_j)\,\xi_j/s,\qquad
              \xi_j = \lfloor \ell_j\rfloor + \mathrm{Bernoulli}(\ell_j - \lfloor \ell_j\rfloor),\quad
              \ell_j = s|x_j|/\|x\| \in [0, s],

    and ``Q(0) = 0``.  Stochastic rounding gives :math:`\mathbb E\xi_j = \ell_j`, hence
    :math:`\mathbb E\,Q(x) = x`, and with :math:`\rho_j = \ell_j - \lfloor\ell_j\rfloor`

    .. math:: \mathbb E\|Q(x) - x\|^2 = \frac{\|x\|^2}{s^2}\sum_j \rho_j(1-\rho_j)
              \le \min\Big(\frac d{s^2}, \frac{\sqrt d}{s}\Big)\|x\|^2 = \omega\|x\|^2 .

    References
    ----------
    D. Alistarh, D. Grubic, J. Li, R. Tomioka, M. Vojnovic, "QSGD: Communication-efficient SGD via
    gradient quantization and encoding", NeurIPS 2017, Lemma 3.1 (ii).
    """

    s: int
    name: ClassVar[str] = "dither"
    unbiased: ClassVar[bool] = True
    contractive: ClassVar[bool] = False

    def __post_init__(self) -> None:
        integer(self.name, "s", self.s, 1)

    def validate(self, d: int) -> None:
        """Any ``d`` is fine."""

    def omega(self, d: int) -> float:
        """``min(d/s², √d/s)`` (Alistarh et al. 2017, Lemma 3.1)."""
        return min(d / self.s**2, math.sqrt(d) / self.s)

    def compress(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Stochastically rounded levels, independently per entry and per leading index."""
        x = _rows(X)
        # ‖x‖ = a ‖x/a‖ with a = max_j |x_j|: no underflow of x_j² for tiny x, no overflow for huge x
        a = np.abs(x).max(axis=1, initial=0.0, keepdims=True)
        u = x / np.where(a > 0, a, 1.0)
        nu = np.sqrt(np.einsum("ij,ij->i", u, u))[:, None]
        level = np.minimum(self.s * np.abs(u) / np.where(nu > 0, nu, 1.0), self.s)
        low = np.floor(level)
        xi = low + (rng.random(x.shape) < level - low)
        return (a * nu * np.sign(x) * xi / self.s).reshape(np.shape(X))

    def linear_moments(self, d: int) -> None:
        """``None``: the levels depend on ``x/‖x‖``, so ``Q`` is not linear in ``x`` given its draws."""
        return None


@dataclass(frozen=True)
class TopK(_KEntries):
    r"""Greedy sparsification: keep the ``k`` entries of largest ``|x_j|`` (ties broken arbitrarily).

    Notes
    -----
    Deterministic.  The ``d − k`` dropped entries are the smallest in magnitude, so their mean square is at
    most the overall one:

    .. math:: \|C(x) - x\|^2 = \sum_{j \notin S} x_j^2 \le \Big(1 - \frac kd\Big)\|x\|^2,

    with equality when all ``|x_j|`` are equal; ``alpha = k/d``.
    """

    name: ClassVar[str] = "top-k"
    unbiased: ClassVar[bool] = False
    contractive: ClassVar[bool] = True

    def alpha(self, d: int) -> float:
        """``k/d``."""
        self.validate(d)
        return self.k / d

    def compress(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``x ⊙ 1_S`` with ``S`` the ``k`` largest magnitudes; ``rng`` is not used."""
        x = _rows(X)
        d = x.shape[1]
        self.validate(d)
        keep = np.argpartition(-np.abs(x), self.k - 1, axis=1)[:, : self.k]
        out = np.zeros_like(x)
        rows = np.arange(x.shape[0])[:, None]
        out[rows, keep] = x[rows, keep]
        return out.reshape(np.shape(X))

    def linear_moments(self, d: int) -> None:
        """``None``: the kept support depends on ``x``, so ``C`` is not linear in ``x``."""
        return None


COMPRESSORS: dict[str, type] = {c.name: c for c in (Identity, RandK, SparseK, Dither, TopK)}
"""Registry: spec name -> compressor class (its dataclass fields are the spec's keys)."""


def _parse_value(name: str, key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"{name}: {key}={text!r} is not allowed; {key} must be an integer") from None


def make_compressor(spec: str) -> Compressor:
    """The compressor described by ``spec``: ``"name"`` or ``"name:key=value,key=value"``.

    Examples: ``"identity"``, ``"rand-k:k=4"``, ``"top-k:k=2"``, ``"dither:s=2"``.

    Raises
    ------
    UserError
        Unknown name or key, a missing or non-integer value, or a value out of range.  ``k <= d`` is checked
        later, by ``validate(d)``, when the problem's ``d = m·n`` is known.
    """
    if not isinstance(spec, str):
        raise UserError(f"compressor spec {spec!r} is not allowed; give a string such as 'rand-k:k=4'")
    name, _, rest = spec.strip().partition(":")
    if name not in COMPRESSORS:
        raise UserError(f"unknown compressor {name!r} in {spec!r}: allowed are {', '.join(COMPRESSORS)}")
    cls = COMPRESSORS[name]
    allowed = [f.name for f in dataclasses.fields(cls)]
    params: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if key not in allowed or not eq:
            raise UserError(f"compressor {name!r} has no parameter {item!r}; allowed: "
                            + (", ".join(f"{a}=<int>" for a in allowed) or "none"))
        params[key] = _parse_value(name, key, value.strip())
    missing = [a for a in allowed if a not in params]
    if missing:
        raise UserError(f"compressor {name!r} needs {', '.join(missing)}: write e.g. '{name}:{missing[0]}=2'")
    return cls(**params)
