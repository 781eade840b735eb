"""Stochastic gradient oracles, as mixins for problem dataclasses.

Every stochastic oracle is a pair: ``sample_xi(rng, R, batch)`` draws the randomness ``ξ`` of a minibatch
of ``batch`` samples for each of ``R`` runs, and ``stochastic_grad(W, ξ)`` evaluates the minibatch
average at ``W`` (``(R, m, n)``) with that randomness.  The same ``ξ`` at two points uses the same
samples, as MVR and PAGE need.  Two kinds:

* :class:`FiniteSumOracle`: ``f = (1/N) Σ_i f_i``; ``ξ`` is an integer array ``(R, batch)`` of indices
  drawn uniformly **with** replacement, ``g(W; ξ) = (1/batch) Σ_{i ∈ ξ} ∇f_i(W)``.
* :class:`AdditiveNoiseOracle`: ``g(W; ξ) = ∇f(W) + ξ`` with ``ξ`` an ``(R, m, n)`` array of i.i.d.
  ``N(0, sigma²/batch)`` entries.

Their certified constants are stated for **one** sample (``batch = 1``): ``var_A``, ``var_C`` with
``E‖g(W;ξ) − ∇f(W)‖² ≤ 2 var_A (f(W) − f*) + var_C`` (the ABC condition with ``B = 1``), ``sigma2`` =
``sup_W E‖g(W;ξ) − ∇f(W)‖²`` when finite, and ``Lms`` (mean-squared smoothness ℒ):
``E_ξ‖g(W;ξ) − g(V;ξ)‖² ≤ ℒ²‖W − V‖²``.  With replacement, a minibatch of ``b`` samples has exactly
``1/b`` times the one-sample variance.
"""

from __future__ import annotations

import math

import numpy as np

from verify.errors import require
from verify.problems.base import Constant, as_batch

#: Rows gathered at once by :func:`run_chunks` callers: at most this many ``float64`` (32 MB).
GATHER_BUDGET = 4_000_000


def _check_draw(who: str, R: int, batch: int) -> tuple[int, int]:
    ok = all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= low
             for k, low in ((R, 0), (batch, 1)))
    require(ok, f"{who}.sample_xi: R={R!r}, batch={batch!r} are not allowed; R must be an integer >= 0 and "
                "batch an integer >= 1")
    return int(R), int(batch)


def run_chunks(R: int, per_run: int) -> list[slice]:
    """Slices of ``range(R)`` holding at most ``GATHER_BUDGET`` numbers when each run needs ``per_run``."""
    step = max(1, GATHER_BUDGET // max(1, per_run))
    return [slice(i, min(R, i + step)) for i in range(0, R, step)]


class FiniteSumOracle:
    """Mixin: the minibatch oracle of ``f = (1/N) Σ_i f_i``.

    The class mixing it in provides ``N``, ``shape``, ``name`` and ``mean_component_grad(W, idx)``,
    which returns ``(1/batch) Σ_b ∇f_{idx[r, b]}(W[r])`` as ``(R, m, n)`` for ``idx`` of shape
    ``(R, batch)``.
    """

    def sample_xi(self, rng: np.random.Generator, R: int, batch: int) -> np.ndarray:
        """Indices ``(R, batch)``, uniform on ``{0, …, N−1}`` with replacement."""
        R, batch = _check_draw(self.name, R, batch)
        return rng.integers(0, self.N, size=(R, batch))

    def stochastic_grad(self, W: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """``g(W; ξ) = (1/batch) Σ_{i ∈ ξ_r} ∇f_i(W_r)``: ``(R, m, n), (R, batch) → (R, m, n)``."""
        W = as_batch(W, self.shape, f"{self.name}.stochastic_grad")
        idx = np.asarray(xi)
        if idx.ndim != 2 or idx.shape[0] != len(W) or idx.shape[1] < 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"{self.name}.stochastic_grad: expected integer indices of shape ({len(W)}, batch), "
                             f"got {idx.dtype} {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.N):
            raise ValueError(f"{self.name}.stochastic_grad: indices must lie in [0, {self.N}), got "
                             f"[{idx.min()}, {idx.max()}]")
        return self.mean_component_grad(W, idx)


class AdditiveNoiseOracle:
    """Mixin: ``g(W; ξ) = ∇f(W) + ξ``, ``ξ`` with i.i.d. ``N(0, sigma²/batch)`` entries.

    The class mixing it in provides ``sigma > 0``, ``shape``, ``name`` and ``grad``.  The one-sample
    variance is ``E‖ξ‖² = sigma² m n`` at every ``W``, and ``g(W;ξ) − g(V;ξ) = ∇f(W) − ∇f(V)``: see
    :func:`noise_constants`.
    """

    def sample_xi(self, rng: np.random.Generator, R: int, batch: int) -> np.ndarray:
        """The averaged noise of ``batch`` samples: ``(R, m, n)``, entries ``N(0, sigma²/batch)``."""
        R, batch = _check_draw(self.name, R, batch)
        return rng.normal(0.0, self.sigma / math.sqrt(batch), size=(R, *self.shape))

    def stochastic_grad(self, W: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """``g(W; ξ) = ∇f(W) + ξ``: ``(R, m, n), (R, m, n) → (R, m, n)``."""
        W = as_batch(W, self.shape, f"{self.name}.stochastic_grad")
        xi = np.asarray(xi, dtype=np.float64)
        if xi.shape != W.shape:
            raise ValueError(f"{self.name}.stochastic_grad: expected noise of shape {W.shape}, got {xi.shape}")
        return self.grad(W) + xi


def noise_constants(sigma: float, shape: tuple[int, int], L: Constant) -> dict[str, Constant]:
    """Constants of :class:`AdditiveNoiseOracle` for one sample: all exact.

    ``sigma2 = E‖ξ‖² = sigma² m n`` for every ``W`` (so ``var_A = 0``, ``var_C = sigma2``), and
    ``Lms = L``: the same ``ξ`` cancels in ``g(W;ξ) − g(V;ξ) = ∇f(W) − ∇f(V)``, so ℒ is the smoothness
    constant (exact when ``L`` is).
    """
    m, n = shape
    sigma2 = sigma**2 * m * n
    how = f"closed form: additive N(0, sigma^2) noise on each of the m n = {m * n} entries, E||xi||^2 = sigma^2 m n"
    return {
        "sigma2": Constant(sigma2, how),
        "var_A": Constant(0.0, f"{how}, independent of W"),
        "var_C": Constant(sigma2, f"{how}, independent of W (= sigma2)"),
        "Lms": Constant(L.value, "the same noise cancels in g(W; xi) - g(V; xi) = grad f(W) - grad f(V), so "
                                 f"Lms = L ({L.how})", L.kind),
    }
