r"""Fine-tuning methods on the numpy MLP: chained rank-``r`` adapters, single adapters and full fine-tuning.

Every adapted layer ``l`` with weight ``W_l ∈ R^{m×n}`` (``m`` outputs, ``n`` inputs) is trained in factor
form, ``W_l = W_base + B A`` with ``B ∈ R^{m×r}``, ``A ∈ R^{r×n}``; ``G = ∇_W f(W_base + BA)`` is the exact
gradient of the minibatch loss in the effective weight (:func:`verify.networks.mlp.loss_and_grads`).

Sketched-factor methods (the paper's Algorithm 1 in factor form, a round of ``K`` steps):

* the *left sketch*: ``B = B_S`` random and fixed, ``A`` starts at 0 and takes the steps
  ``A ← A − γ (B_Sᵀ B_S)^{-1} B_Sᵀ G``, so that ``W ← W − γ H_B G`` with ``H_B = B_S (B_Sᵀ B_S)^{-1} B_Sᵀ``;
* the *right sketch*: ``A = A_S`` random and fixed, ``B`` starts at 0 and takes ``B ← B − γ G A_Sᵀ (A_S A_Sᵀ)^{-1}``,
  so ``W ← W − γ G H_A``.

``B_S`` and ``A_Sᵀ`` are Gaussian sketches (:class:`verify.sketch.Gaussian`, i.i.d. ``N(0, 1)`` entries; the
``(B_Sᵀ B_S)^{-1}`` factor is the paper's scaling, which makes the step independent of the sketch's norm).
At the end of a round the product is merged, ``W_base ← W_base + BA``, and a new adapter starts: a *chain*.

Methods (``Method.kind``):

``bernoulli``  Bernoulli-LoRA: each round, per run and layer, the left sketch with probability ``p``, else the right.
``rac``        RAC-LoRA: the sides alternate deterministically (left in even rounds, right in odd rounds).
``cola``       COLA (chain of LoRA): both factors trained by plain SGD (``B ← B − γ G Aᵀ``, ``A ← A − γ Bᵀ G``),
               ``B = 0`` and ``A ~ N(0, 1/n)`` at the start of every round, merged at its end.
``asym``       Asymmetric LoRA: one adapter for the whole run, ``A = A_S`` random and frozen, ``B`` trained
               (the right-sketch step above, never merged or re-drawn).
``lora``       Plain LoRA: one adapter for the whole run, both factors trained (COLA with a single round).
``full``       Full fine-tuning: every weight and bias by SGD.

Adapter methods train only the adapted layers' weights; biases and the other layers stay frozen.
Trainable parameters *per step* of one adapted ``m×n`` layer at rank ``r``: ``r n`` after a left sketch (``A``),
``r m`` after a right sketch (``B``), ``r(m + n)`` when both factors train; so Bernoulli-LoRA trains
``r(p n + (1 − p) m)`` in expectation and RAC-LoRA ``r(m + n)/2`` on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verify.errors import require
from verify.networks import mlp
from verify.sketch import Gaussian

__all__ = ["KINDS", "Curves", "Method", "finetune"]

KINDS = ("full", "bernoulli", "rac", "cola", "asym", "lora")
_SKETCH = Gaussian()


@dataclass(frozen=True)
class Method:
    """One fine-tuning method: ``kind`` (one of :data:`KINDS`), stepsize ``gamma`` and, for Bernoulli-LoRA,
    the probability ``p`` of the left sketch."""

    kind: str
    gamma: float
    p: float | None = None

    def __post_init__(self) -> None:
        require(self.kind in KINDS, f"method kind {self.kind!r} is unknown: choose one of {KINDS}")
        require(self.gamma > 0 and np.isfinite(self.gamma), f"gamma={self.gamma!r} must be a positive number")
        if self.kind == "bernoulli":
            require(self.p is not None and 0 <= self.p <= 1, f"p={self.p!r} must satisfy 0 <= p <= 1")
        else:
            require(self.p is None, f"p is only a parameter of bernoulli, not of {self.kind}")

    @property
    def label(self) -> str:
        names = {"full": "Full fine-tuning", "rac": "RAC-LoRA", "cola": "COLA", "asym": "Asymmetric LoRA",
                 "lora": "LoRA"}
        return f"Bernoulli-LoRA (p={self.p:g})" if self.kind == "bernoulli" else names[self.kind]

    @property
    def chained(self) -> bool:
        """Whether the adapter is merged and re-started every round."""
        return self.kind in ("bernoulli", "rac", "cola")

    def trainable(self, params: mlp.Params, layers: tuple[int, ...], r: int) -> float:
        """Expected number of parameters trained at one step (module docstring); all of them for ``full``."""
        if self.kind == "full":
            return float(mlp.n_params(params))
        p_left = {"bernoulli": self.p, "rac": 0.5, "asym": 0.0}.get(self.kind)  # None: both factors train
        total = 0.0
        for li in layers:
            m, n = params[li][0].shape[-2:]
            total += r * (m + n) if p_left is None else r * (p_left * n + (1 - p_left) * m)
        return total


@dataclass(frozen=True, eq=False)
class Curves:
    """What one method did over ``R`` runs.

    ``steps`` ``(E,)``: the step counts at which the runs were evaluated (0 = the pre-trained network);
    ``train_loss`` ``(R, E)``: mean cross-entropy on the whole fine-tuning training set; ``test_acc`` ``(R, E)``:
    accuracy on the test set.  ``test_acc[:, -1]`` is the final accuracy.
    """

    method: Method
    steps: np.ndarray
    train_loss: np.ndarray
    test_acc: np.ndarray


def _left_step(A: np.ndarray, B_S: np.ndarray, G: np.ndarray, gamma: float) -> np.ndarray:
    """``A − γ (B_Sᵀ B_S)^{-1} B_Sᵀ G`` for stacked ``B_S (R, m, r)``, ``A (R, r, n)``, ``G (R, m, n)``."""
    return A - gamma * np.linalg.solve(np.swapaxes(B_S, -1, -2) @ B_S, np.swapaxes(B_S, -1, -2) @ G)


def _right_step(B: np.ndarray, A_S: np.ndarray, G: np.ndarray, gamma: float) -> np.ndarray:
    """``B − γ G A_Sᵀ (A_S A_Sᵀ)^{-1}`` for stacked ``A_S (R, r, n)``, ``B (R, m, r)``, ``G (R, m, n)``."""
    AAt = A_S @ np.swapaxes(A_S, -1, -2)
    return B - gamma * np.swapaxes(np.linalg.solve(AAt, A_S @ np.swapaxes(G, -1, -2)), -1, -2)


class _Adapter:
    """The factors of one adapted layer for ``R`` runs; ``left[i]``: run ``i`` trains ``A`` (``B`` sketched)."""

    def __init__(self, base: np.ndarray, r: int) -> None:
        self.base = base.copy()
        R, m, n = base.shape
        self.r = r
        self.B = np.zeros((R, m, r))
        self.A = np.zeros((R, r, n))
        self.left = np.zeros(R, dtype=bool)

    def weight(self) -> np.ndarray:
        return self.base + self.B @ self.A

    def merge(self) -> None:
        self.base = self.weight()
        self.B[:] = 0.0
        self.A[:] = 0.0

    def start_sketched(self, left: np.ndarray, gens: list[np.random.Generator]) -> None:
        """New adapter: per run, a Gaussian ``B_S`` (left) or ``A_S`` (right) and the other factor zero."""
        R, m, n = self.base.shape
        self.left = np.asarray(left, dtype=bool)
        for i, g in enumerate(gens):
            if self.left[i]:
                self.B[i] = _SKETCH.sample(g, 1, m, self.r)[0]
            else:
                self.A[i] = _SKETCH.sample(g, 1, n, self.r)[0].T

    def start_lora(self, gens: list[np.random.Generator]) -> None:
        """New adapter as LoRA initialises it: ``B = 0``, ``A ~ N(0, 1/n)`` entrywise."""
        n = self.base.shape[2]
        for i, g in enumerate(gens):
            self.A[i] = g.standard_normal((self.r, n)) / np.sqrt(n)

    def sketched_step(self, G: np.ndarray, gamma: float) -> None:
        L, Rt = self.left, ~self.left
        if L.any():
            self.A[L] = _left_step(self.A[L], self.B[L], G[L], gamma)
        if Rt.any():
            self.B[Rt] = _right_step(self.B[Rt], self.A[Rt], G[Rt], gamma)

    def lora_step(self, G: np.ndarray, gamma: float) -> None:
        self.B, self.A = (self.B - gamma * G @ np.swapaxes(self.A, -1, -2),
                          self.A - gamma * np.swapaxes(self.B, -1, -2) @ G)


def finetune(method: Method, params0: mlp.Params, X_train: np.ndarray, y_train: np.ndarray,
             X_test: np.ndarray, y_test: np.ndarray, seeds: list[np.random.SeedSequence], *,
             layers: tuple[int, ...], r: int = 1, steps: int, round_len: int, batch: int,
             eval_every: int, activation: str = "relu") -> Curves:
    """Fine-tune ``len(seeds)`` copies of the network ``params0`` with ``method``, vectorised over the runs.

    Run ``i`` draws everything (minibatches of ``batch`` training examples with replacement, coins,
    sketches, LoRA initialisations) from ``default_rng(seeds[i])`` only.  Chains start a new adapter every
    ``round_len`` steps; ``asym`` and ``lora`` keep one adapter for all ``steps``.  The training loss and the
    test accuracy are recorded every ``eval_every`` steps and at the end.
    """
    R = len(seeds)
    require(R >= 1, "need at least one seed (run)")
    for name, v in (("steps", steps), ("round_len", round_len), ("batch", batch), ("eval_every", eval_every)):
        require(isinstance(v, (int, np.integer)) and v >= 1, f"{name}={v!r} must be a positive integer")
    require(all(isinstance(li, (int, np.integer)) and 0 <= li < len(params0) for li in layers) and layers,
            f"layers={layers!r} must be a non-empty tuple of layer indices in 0..{len(params0) - 1}")
    for li in layers:
        top = min(params0[li][0].shape)
        require(isinstance(r, (int, np.integer)) and 1 <= r <= top,
                f"rank r={r!r} is out of range for layer {li}: need an integer 1 <= r <= {top}")
    gens = [np.random.default_rng(s) for s in seeds]
    params = [(np.repeat(W[None], R, axis=0), np.repeat(b[None], R, axis=0)) for W, b in params0]
    adapters = {li: _Adapter(params[li][0], r) for li in layers} if method.kind != "full" else {}

    def effective() -> mlp.Params:
        return [(adapters[li].weight(), b) if li in adapters else (W, b) for li, (W, b) in enumerate(params)]

    def start_round(k: int) -> None:
        for a in adapters.values():
            a.merge()
            if method.kind == "bernoulli":
                a.start_sketched(np.array([g.random() < method.p for g in gens]), gens)
            elif method.kind == "rac":
                a.start_sketched(np.full(R, k % 2 == 0), gens)
            elif method.kind == "asym":
                a.start_sketched(np.zeros(R, dtype=bool), gens)
            else:
                a.start_lora(gens)

    rec_steps, losses, accs = [], [], []

    def record(t: int) -> None:
        eff = effective()
        rec_steps.append(t)
        losses.append(mlp.loss_and_grads(eff, X_train, y_train, activation)[0])
        accs.append(mlp.accuracy(eff, X_test, y_test, activation))

    record(0)
    length = round_len if method.chained else steps
    for t in range(steps):
        if t % length == 0 and method.kind != "full":
            start_round(t // length)
        idx = np.stack([g.integers(0, len(y_train), batch) for g in gens])
        _, grads = mlp.loss_and_grads(effective(), X_train[idx], y_train[idx], activation)
        if method.kind == "full":
            params = [(W - method.gamma * gW, b - method.gamma * gb) for (W, b), (gW, gb) in zip(params, grads,
                                                                                                 strict=True)]
        elif method.kind in ("cola", "lora"):
            for li, a in adapters.items():
                a.lora_step(grads[li][0], method.gamma)
        else:
            for li, a in adapters.items():
                a.sketched_step(grads[li][0], method.gamma)
        if (t + 1) % eval_every == 0 or t + 1 == steps:
            record(t + 1)
    return Curves(method=method, steps=np.array(rec_steps), train_loss=np.array(losses).T,
                  test_acc=np.array(accs).T)
