r"""One Bernoulli-LoRA round on a peft-style LoRA layer, in factor form.

A LoRA layer computes ``y = W x + s·B A x`` with the frozen base weight ``W ∈ R^{m×n}`` (``m`` outputs,
``n`` inputs, ``nn.Linear`` layout), ``B ∈ R^{m×r}``, ``A ∈ R^{r×n}`` and the scaling ``s = lora_alpha/r``.
One round of the chain (the paper's Algorithm 1 in factor form):

1. draw the coin ``c ~ Bernoulli(p)`` and a sketch from :class:`verify.projection.BernoulliProjector`
   (the same draw, from the same ``numpy.random.Generator``, as a step of :mod:`verify.runner`);
2. ``c = 1`` (left sketch): ``B = B_S`` fixed, ``A = 0`` trained; ``c = 0`` (right sketch): ``A = A_S``
   fixed, ``B = 0`` trained;
3. ``steps`` gradient steps on the trainable factor, scaled by the pseudo-inverse Gram matrix of the fixed
   one (gradients by autograd through the layer):

   .. math:: A \leftarrow A - \frac{\gamma}{s^2} (B_S^\top B_S)^\dagger \nabla_A f, \qquad
             B \leftarrow B - \frac{\gamma}{s^2} \nabla_B f\, (A_S A_S^\top)^\dagger ;

4. merge ``W ← W + s·B A`` and zero the trained factor (the layer's function is unchanged by the merge).

Since ``∇_A f = s B_Sᵀ ∇f(W + sBA)``, one step from ``A = 0`` gives ``s B_S A = −γ H_B ∇f(W)`` with
``H_B = B_S (B_Sᵀ B_S)^† B_Sᵀ``, and symmetrically ``s B A_S = −γ ∇f(W) H_A``: the merged round is the
projected step ``W − γ Ĝ`` of :mod:`verify.projection` with ``Ĝ = H_B ∇f`` or ``∇f H_A``.  Several steps
are projected steps in the same subspace.  ``(·)^†`` uses the rank tolerance of
:data:`verify.projection.RANK_RTOL` on the sketch's singular values.

The layer needs peft's attribute names only: ``base_layer.weight``, ``lora_A[adapter].weight`` ``(r, n)``,
``lora_B[adapter].weight`` ``(m, r)`` and ``scaling[adapter]``; :class:`LoRALinear` is a minimal such
layer, and peft's ``lora.Linear`` works as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from verify import sketch as sketch_mod
from verify.errors import require
from verify.projection import RANK_RTOL, BernoulliProjector

__all__ = ["LoRALinear", "Round", "bernoulli_lora_round"]


class LoRALinear(torch.nn.Module):
    """``y = base_layer(x) + scaling[a] · lora_B[a](lora_A[a](x))``, with peft's attribute names.

    Parameters
    ----------
    base_layer : torch.nn.Linear
        The layer to adapt (``weight`` of shape ``(m, n)``); used as it is, not copied.
    r : int
        The rank, ``1 <= r <= min(m, n)``.
    lora_alpha : float
        ``scaling = lora_alpha / r`` (peft's convention).
    adapter : str
        The adapter's name (peft's default is ``"default"``).

    Notes
    -----
    ``lora_A[a]`` is ``Linear(n, r)`` and ``lora_B[a]`` is ``Linear(r, m)``, both without bias, both zero
    at construction (a round sets them).  The base layer's parameters are frozen.
    """

    def __init__(self, base_layer: torch.nn.Linear, r: int, lora_alpha: float = 1.0, adapter: str = "default"
                 ) -> None:
        super().__init__()
        require(isinstance(base_layer, torch.nn.Linear), f"base_layer={base_layer!r} is not a torch.nn.Linear")
        m, n = base_layer.weight.shape
        require(isinstance(r, int) and 1 <= r <= min(m, n),
                f"rank r={r!r} is out of range for a {m}x{n} layer: need an integer 1 <= r <= {min(m, n)}")
        self.base_layer = base_layer
        for param in base_layer.parameters():
            param.requires_grad_(False)
        kw = {"dtype": base_layer.weight.dtype, "device": base_layer.weight.device}
        self.lora_A = torch.nn.ModuleDict({adapter: torch.nn.Linear(n, r, bias=False, **kw)})
        self.lora_B = torch.nn.ModuleDict({adapter: torch.nn.Linear(r, m, bias=False, **kw)})
        with torch.no_grad():
            self.lora_A[adapter].weight.zero_()
            self.lora_B[adapter].weight.zero_()
        self.scaling = {adapter: float(lora_alpha) / r}
        self.active_adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.active_adapter
        return self.base_layer(x) + self.scaling[a] * self.lora_B[a](self.lora_A[a](x))


@dataclass(frozen=True, eq=False)
class Round:
    """What one round did.

    Attributes
    ----------
    left : bool
        The coin: True for the left sketch (``B = B_S`` fixed, ``A`` trained).
    sketch : (m, r) or (r, n) ndarray
        ``B_S`` (left) or ``A_S`` (right), as drawn.
    delta : (m, n) ndarray
        ``s·B A`` merged into the base weight.
    losses : (steps,) ndarray
        The loss before each step.
    """

    left: bool
    sketch: np.ndarray
    delta: np.ndarray
    losses: np.ndarray


def _pinv_gram(S: torch.Tensor, left: bool) -> torch.Tensor:
    """``(SᵀS)^†`` for ``S = B_S`` ``(m, r)``, ``(S Sᵀ)^†`` for ``S = A_S`` ``(r, n)``: ``(r, r)``, via ``S^†``."""
    P = torch.linalg.pinv(S, rtol=RANK_RTOL)
    return P @ P.T if left else P.T @ P


def bernoulli_lora_round(layer: torch.nn.Module, loss: Callable[[], torch.Tensor], *, p: float, gamma: float,
                         rng: np.random.Generator, sketch: str = sketch_mod.DEFAULT, steps: int = 1,
                         adapter: str = "default") -> Round:
    """One round of the Bernoulli-LoRA chain on ``layer`` (see the module docstring): draw, train, merge.

    Parameters
    ----------
    layer : torch.nn.Module
        A peft-style LoRA layer (``base_layer``, ``lora_A``, ``lora_B``, ``scaling``).
    loss : callable
        ``loss()`` returns the scalar training loss of the model containing ``layer`` (full batch or a
        minibatch of the caller's choice); it is called once per step.
    p : float
        Probability of the left sketch.
    gamma : float
        The stepsize ``γ`` of the projected step ``W − γ Ĝ``, ``γ > 0``.
    rng : numpy.random.Generator
        The coin and the sketch.
    sketch : str
        A sketch distribution of :mod:`verify.sketch` (both sides).
    steps : int
        Gradient steps on the trainable factor before the merge, ``>= 1``.
    adapter : str
        Which adapter of the layer.
    """
    require(isinstance(steps, int) and steps >= 1, f"steps={steps!r} is not allowed; need an integer >= 1")
    require(isinstance(gamma, (int, float)) and gamma > 0, f"gamma={gamma!r} is not allowed; need gamma > 0")
    W = layer.base_layer.weight
    A, B = layer.lora_A[adapter].weight, layer.lora_B[adapter].weight
    s = float(layer.scaling[adapter])
    m, n = W.shape
    dist = sketch_mod.make(sketch)
    draw = BernoulliProjector(p, int(A.shape[0]), dist, dist).draw(rng, 1, m, n)
    left = bool(draw.left[0])
    drawn = draw.B_S[0] if left else draw.A_S[0]
    fixed, train = (B, A) if left else (A, B)
    with torch.no_grad():
        fixed.copy_(torch.from_numpy(drawn))
        train.zero_()
    fixed.requires_grad_(False)
    train.requires_grad_(True)
    P = _pinv_gram(fixed.detach(), left)
    losses = []
    for _ in range(steps):
        value = loss()
        (g,) = torch.autograd.grad(value, train)
        losses.append(float(value.detach()))
        with torch.no_grad():
            train -= (gamma / s**2) * (P @ g if left else g @ P)
    with torch.no_grad():
        delta = s * (B @ A)
        W += delta
        train.zero_()
    return Round(left=left, sketch=np.array(drawn), delta=delta.detach().cpu().numpy(), losses=np.array(losses))
