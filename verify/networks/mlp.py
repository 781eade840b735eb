r"""A multilayer perceptron in numpy: forward pass, exact backpropagation, Hessian-vector products.

Parameters are a list of layers ``[(W_1, b_1), ..., (W_L, b_L)]`` with ``W_l`` of shape ``(n_l, n_{l-1})``
(output × input, the layout of ``torch.nn.Linear.weight``) and ``b_l`` of shape ``(n_l,)``.  The network is

.. math::

    h_0 = x,\qquad z_l = W_l h_{l-1} + b_l,\qquad h_l = \sigma(z_l)\ (l < L),\qquad \text{logits} = z_L,

with ``σ`` = ReLU (``max(z, 0)``, default) or ``tanh``, and the loss is the mean softmax cross-entropy

.. math::

    f(\theta) = \frac1N \sum_{i=1}^N \Big( \log \sum_k e^{z_{L,ik}} - z_{L,i y_i} \Big).

Every function also accepts a *batch of networks*: arrays with leading axes ``(..., n_l, n_{l-1})`` and
``(..., n_l)`` (e.g. ``R`` independent runs), with inputs ``X`` of shape ``(N, n_0)`` shared by all, or
``(..., N, n_0)`` per network, and labels ``(N,)`` or ``(..., N)``; losses then have shape ``(...)``.

Gradients are exact (reverse mode, written out by hand); :func:`layer_objective` turns the loss into
``f(W)``/``grad(W)`` of one layer's weight matrix with every other parameter frozen, the form the rest of
the suite uses (a problem on one matrix ``W ∈ R^{m×n}``), and :func:`hvp` gives Hessian-vector products
of that function by central differences of exact gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from verify.errors import require

__all__ = [
    "ACTIVATIONS",
    "LayerObjective",
    "Params",
    "accuracy",
    "copy_params",
    "forward",
    "hvp",
    "init_params",
    "layer_objective",
    "loss_and_grads",
    "n_params",
]

Params = list[tuple[np.ndarray, np.ndarray]]
"""``[(W_1, b_1), ..., (W_L, b_L)]``, ``W_l`` of shape ``(..., n_l, n_{l-1})``, ``b_l`` of shape ``(..., n_l)``."""

ACTIVATIONS = ("relu", "tanh")


def _check_activation(activation: str) -> None:
    require(activation in ACTIVATIONS, f"activation {activation!r} is unknown: choose one of {ACTIVATIONS}")


def _act(z: np.ndarray, activation: str) -> np.ndarray:
    return np.maximum(z, 0.0) if activation == "relu" else np.tanh(z)


def _act_grad(z: np.ndarray, h: np.ndarray, activation: str) -> np.ndarray:
    """``σ'(z)`` given ``h = σ(z)``: ``1[z > 0]`` for ReLU (0 at the kink), ``1 − h²`` for tanh."""
    return (z > 0).astype(z.dtype) if activation == "relu" else 1.0 - h * h


def init_params(sizes: Sequence[int], rng: np.random.Generator, R: int | None = None) -> Params:
    r"""He-initialised layers ``W_l ~ N(0, 2/n_{l-1})`` entrywise, ``b_l = 0``.

    Parameters
    ----------
    sizes : ``(n_0, n_1, ..., n_L)``, input width first, number of classes last.
    rng : the only source of randomness.
    R : if given, ``R`` independent networks stacked on a leading axis (``W_l`` of shape ``(R, n_l, n_{l-1})``).
    """
    require(len(sizes) >= 2 and all(isinstance(s, (int, np.integer)) and s >= 1 for s in sizes),
            f"sizes {tuple(sizes)!r} are invalid: need at least two positive integers (input, ..., classes)")
    lead = () if R is None else (R,)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        W = rng.standard_normal(lead + (n_out, n_in)) * np.sqrt(2.0 / n_in)
        params.append((W, np.zeros(lead + (n_out,))))
    return params


def copy_params(params: Params) -> Params:
    """A deep copy (new arrays)."""
    return [(W.copy(), b.copy()) for W, b in params]


def n_params(params: Params) -> int:
    """Number of scalar parameters of one network (the leading batch axes are not counted)."""
    return sum(W.shape[-1] * W.shape[-2] + b.shape[-1] for W, b in params)


def _forward_cache(params: Params, X: np.ndarray, activation: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activations ``z_l`` and activations ``h_{l-1}`` (``h_0 = X``) of every layer."""
    _check_activation(activation)
    hs, zs = [X], []
    h = X
    for li, (W, b) in enumerate(params):
        z = h @ np.swapaxes(W, -1, -2) + b[..., None, :]
        zs.append(z)
        if li < len(params) - 1:
            h = _act(z, activation)
            hs.append(h)
    return zs, hs


def forward(params: Params, X: np.ndarray, activation: str = "relu") -> np.ndarray:
    """Logits ``z_L``, shape ``(..., N, n_L)``, of inputs ``X`` of shape ``(N, n_0)`` or ``(..., N, n_0)``."""
    zs, _ = _forward_cache(params, X, activation)
    return zs[-1]


def _softmax_xent(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy over the sample axis, shape ``(...)``, and its gradient in the logits."""
    N = logits.shape[-2]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    logp = shifted - log_z
    y_idx = np.broadcast_to(y, logits.shape[:-1])[..., None]
    loss = -np.take_along_axis(logp, y_idx, axis=-1)[..., 0].mean(axis=-1)
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, y_idx, np.take_along_axis(dlogits, y_idx, axis=-1) - 1.0, axis=-1)
    return loss, dlogits / N


def loss_and_grads(params: Params, X: np.ndarray, y: np.ndarray,
                   activation: str = "relu") -> tuple[np.ndarray, Params]:
    r"""Mean cross-entropy ``f`` on ``(X, y)`` and its exact gradient in every parameter.

    Reverse mode: ``δ_L = (softmax(z_L) − e_y)/N``, ``∇W_l = δ_lᵀ h_{l-1}``, ``∇b_l = Σ_i δ_{l,i}``,
    ``δ_{l-1} = (δ_l W_l) ⊙ σ'(z_{l-1})``.

    Returns
    -------
    loss : float array of shape ``(...)`` (a 0-d array for one network).
    grads : ``[(∇W_1, ∇b_1), ...]`` with the shapes of ``params``.
    """
    zs, hs = _forward_cache(params, X, activation)
    loss, delta = _softmax_xent(zs[-1], np.asarray(y))
    grads: Params = [None] * len(params)  # type: ignore[list-item]
    for li in range(len(params) - 1, -1, -1):
        W = params[li][0]
        grads[li] = (np.swapaxes(delta, -1, -2) @ hs[li], delta.sum(axis=-2))
        if li > 0:
            delta = (delta @ W) * _act_grad(zs[li - 1], hs[li], activation)
    return loss, grads


def accuracy(params: Params, X: np.ndarray, y: np.ndarray, activation: str = "relu") -> np.ndarray:
    """Fraction of ``argmax`` logits equal to ``y``, shape ``(...)``."""
    return (forward(params, X, activation).argmax(axis=-1) == y).mean(axis=-1)


@dataclass(frozen=True)
class LayerObjective:
    """``f(W)`` and ``∇f(W)`` of layer ``layer``'s weight matrix ``W`` (shape ``(n_l, n_{l-1})``), the
    other parameters frozen at ``params``; ``W0`` is that layer's current weight."""

    f: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]
    W0: np.ndarray
    layer: int


def layer_objective(params: Params, layer: int, X: np.ndarray, y: np.ndarray,
                    activation: str = "relu") -> LayerObjective:
    r"""The loss as a function of one layer's weight matrix, every other parameter frozen.

    ``f(W) = loss(params with W_layer := W)`` on ``(X, y)`` and its exact gradient ``∇_W f`` (the
    ``layer``-th block of :func:`loss_and_grads`).  ``params`` must describe one network (no batch axes);
    it is copied, so later changes to it do not affect the returned functions.
    """
    require(isinstance(layer, (int, np.integer)) and 0 <= layer < len(params),
            f"layer={layer!r} is out of range: need an integer 0 <= layer < {len(params)}")
    frozen = copy_params(params)
    shape = frozen[layer][0].shape

    def with_W(W: np.ndarray) -> Params:
        W = np.asarray(W, dtype=float)
        require(W.shape == shape, f"W has shape {W.shape}, layer {layer} needs {shape}")
        out = list(frozen)
        out[layer] = (W, frozen[layer][1])
        return out

    def f(W: np.ndarray) -> float:
        return float(loss_and_grads(with_W(W), X, y, activation)[0])

    def grad(W: np.ndarray) -> np.ndarray:
        return loss_and_grads(with_W(W), X, y, activation)[1][layer][0]

    return LayerObjective(f=f, grad=grad, W0=frozen[layer][0].copy(), layer=layer)


def hvp(grad: Callable[[np.ndarray], np.ndarray], W: np.ndarray, V: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    r"""Hessian-vector product ``∇²f(W)[V]`` by central differences of exact gradients.

    ``(∇f(W + hV) − ∇f(W − hV)) / (2h)`` with ``h = eps / ‖V‖_F`` (so the step in ``W`` has norm ``eps``):
    error ``O(h²)`` where ``f`` is three times differentiable.  With ReLU the loss is piecewise smooth in a
    hidden layer's weights: the difference is the Hessian of the piece around ``W`` unless a pre-activation
    changes sign within ``eps`` of ``W``.
    """
    nrm = float(np.linalg.norm(V))
    require(nrm > 0, "hvp: direction V must be nonzero")
    h = eps / nrm
    return (grad(W + h * V) - grad(W - h * V)) / (2.0 * h)
