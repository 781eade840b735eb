r"""One weight matrix of a torch module, a loss and a data loader as a batched finite-sum problem.

For a module ``model``, one of its 2-D parameters ``W ∈ R^{m×n}`` (e.g. an ``nn.Linear``'s ``weight``,
``m`` outputs × ``n`` inputs), a loss ``ℓ`` that averages over a batch and the data set ``{(x_i, y_i)}``
of a loader, the problem is

.. math:: f(W) = \frac1N \sum_{i=1}^N f_i(W),\qquad f_i(W) = ℓ(\mathrm{model}_W(x_i), y_i),

with every other parameter and buffer of ``model`` frozen.  All arithmetic is in float64 on a private
copy of the module (``.double()``, ``.eval()``): the caller's module is never changed.

* ``f`` and ``∇f``: the loss ``vmap``-ed over the leading axis of ``R`` points (one point without
  ``vmap``) on the full data, in chunks (``f = Σ_c (N_c/N) ℓ_c`` because ``ℓ`` is a mean), and one
  backward pass of ``Σ_r f(W_r)``, whose gradient in ``W_r`` is ``∇f(W_r)`` (the points are independent);
* the stochastic gradient of a minibatch ``ξ_r`` (indices with replacement, drawn by
  :meth:`TorchProblem.sample_xi` from a ``numpy.random.Generator``):
  ``g(W_r; ξ_r) = ∇_W ℓ(\mathrm{model}_{W_r}(x_{ξ_r}), y_{ξ_r})``, the minibatch mean;
* Hessian-vector products ``∇²f(W)[V] = ∇_W ⟨∇f(W), V⟩`` by double backward (a second backward pass
  through the graph of the first).

The object satisfies :class:`verify.problems.FiniteSum`: ``verify assumptions`` uses it as a batched
problem, and :func:`verify.runner.run` runs Bernoulli-LoRA chains on it.  The loader's own shuffling is
not used (randomness comes only from ``numpy.random.Generator``, so runs are reproducible); the loader
gives the data set and its batch size, which :func:`from_module` records.

The module must be deterministic in ``eval`` mode (no dropout at evaluation) and ``vmap``-compatible
(no in-place updates of buffers, no data-dependent Python control flow).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import functional_call, vmap

from verify.errors import UserError, require
from verify.problems.base import Constant, as_batch, frozen
from verify.problems.user import SAFE_KIND

__all__ = ["TorchProblem", "from_module"]

CHUNK_ELEMENTS = 2**20
"""Points × samples evaluated in one ``vmap`` call (bounds the memory of the activations)."""

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True, eq=False)
class TorchProblem:
    """``f(W) = (1/N) Σ_i ℓ(model_W(x_i), y_i)`` for one 2-D parameter ``W`` of a torch module (float64).

    Attributes
    ----------
    module : torch.nn.Module
        A float64 copy of the user's module in ``eval`` mode.
    weight : str
        The parameter's name in ``module.named_parameters()`` (e.g. ``"0.weight"``).
    loss : callable
        ``ℓ(outputs, targets) -> scalar tensor``, the mean over the batch.
    inputs, targets : torch.Tensor
        The data set, leading axis ``N`` (floating inputs in float64).
    name, params, shape, W0, constants
        As :class:`verify.problems.Problem`; ``W0`` is the parameter's value in the user's module.
    """

    module: torch.nn.Module = field(repr=False)
    weight: str
    loss: Loss = field(repr=False)
    inputs: torch.Tensor = field(repr=False)
    targets: torch.Tensor = field(repr=False)
    name: str
    params: Mapping[str, object]
    shape: tuple[int, int]
    W0: np.ndarray
    constants: Mapping[str, Constant]

    @property
    def N(self) -> int:
        """The number of samples ``N``."""
        return int(self.inputs.shape[0])

    # -- one point ------------------------------------------------------------------------------

    def _loss_at(self, w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``ℓ(model_w(x), y)`` for one ``(m, n)`` weight ``w`` and one batch ``(x, y)``."""
        return self.loss(functional_call(self.module, {self.weight: w}, (x,)), y)

    # -- batched over points, chunked over the data ------------------------------------------------

    def _tensor(self, W: np.ndarray, who: str) -> torch.Tensor:
        return torch.tensor(as_batch(W, self.shape, f"{self.name}.{who}"))

    def _losses(self, W: torch.Tensor, x: torch.Tensor, y: torch.Tensor, shared: bool) -> torch.Tensor:
        """``ℓ(model_{W_k}(x), y)`` for each point ``k``: ``(K,)``; the data are shared by all points, or per
        point (leading axis ``K``).  One point is evaluated without ``vmap`` (its overhead would dominate)."""
        if len(W) == 1:
            return self._loss_at(W[0], x if shared else x[0], y if shared else y[0])[None]
        return vmap(self._loss_at, in_dims=(0, None, None) if shared else (0, 0, 0))(W, x, y)

    def _chunks(self, K: int) -> list[tuple[float, torch.Tensor, torch.Tensor]]:
        """``(N_c/N, x_c, y_c)`` with ``K·N_c`` near :data:`CHUNK_ELEMENTS`."""
        per = max(1, CHUNK_ELEMENTS // max(1, K))
        return [(len(x) / self.N, x, self.targets[s:s + per])
                for s in range(0, self.N, per) for x in (self.inputs[s:s + per],)]

    def _value_grad(self, W: torch.Tensor, order: int, V: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``f`` at each point, and (``order >= 1``) ``∇f`` by one backward pass of ``Σ_k f(W_k)`` (the points
        are independent, so its gradient in ``W_k`` is ``∇f(W_k)``), or (``order = 2``) ``∇²f(W_k)[V_k]`` by
        a second backward pass through ``Σ_k ⟨∇f(W_k), V_k⟩``."""
        value = torch.zeros(len(W), dtype=torch.float64)
        out = torch.zeros_like(W) if order else None
        for weight, x, y in self._chunks(len(W)):
            if order == 0:
                with torch.no_grad():
                    value += weight * self._losses(W, x, y, shared=True)
                continue
            w = W.detach().requires_grad_(True)
            losses = weight * self._losses(w, x, y, shared=True)
            (g,) = torch.autograd.grad(losses.sum(), w, create_graph=order == 2)
            if order == 2:
                (g,) = torch.autograd.grad((g * V).sum(), w)
            value += losses.detach()
            out += g.detach()
        return value, out

    def _points(self, fn: Callable[..., tuple[torch.Tensor, torch.Tensor | None]], W: torch.Tensor,
                *extra: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """``fn`` on chunks of points, so that points × samples stays near :data:`CHUNK_ELEMENTS`."""
        step = max(1, CHUNK_ELEMENTS // self.N)
        pieces = [fn(W[s:s + step], *(e[s:s + step] for e in extra)) for s in range(0, len(W), step)]
        value = torch.cat([v for v, _ in pieces]).numpy()
        return value, None if pieces[0][1] is None else torch.cat([g for _, g in pieces]).numpy()

    def f(self, W: np.ndarray) -> np.ndarray:
        """``f``: ``(R, m, n) → (R,)``."""
        return self._points(lambda w: self._value_grad(w, 0), self._tensor(W, "f"))[0]

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``∇f`` by autograd: ``(R, m, n) → (R, m, n)``."""
        return self._points(lambda w: self._value_grad(w, 1), self._tensor(W, "grad"))[1]

    def value_and_grad(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(f(W), ∇f(W))`` from one forward and one backward pass per chunk."""
        return self._points(lambda w: self._value_grad(w, 1), self._tensor(W, "value_and_grad"))

    def hvp(self, W: np.ndarray, V: np.ndarray) -> np.ndarray:
        """``∇²f(W_r)[V_r]`` by double backward: ``(R, m, n), (R, m, n) → (R, m, n)``."""
        return self._points(lambda w, v: self._value_grad(w, 2, v), self._tensor(W, "hvp"), self._tensor(V, "hvp"))[1]

    # -- minibatches -----------------------------------------------------------------------------

    def sample_xi(self, rng: np.random.Generator, R: int, batch: int) -> np.ndarray:
        """Indices ``(R, batch)``, uniform on ``{0, …, N−1}`` with replacement."""
        require(isinstance(R, (int, np.integer)) and R >= 0 and isinstance(batch, (int, np.integer)) and batch >= 1,
                f"{self.name}.sample_xi: R={R!r}, batch={batch!r} are not allowed; need integers R >= 0, batch >= 1")
        return rng.integers(0, self.N, size=(R, batch))

    def stochastic_grad(self, W: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """``g(W_r; ξ_r) = ∇_W ℓ(model_{W_r}(x_{ξ_r}), y_{ξ_r})``: ``(R, m, n), (R, batch) → (R, m, n)``."""
        Wt = self._tensor(W, "stochastic_grad")
        idx = np.asarray(xi)
        if idx.ndim != 2 or len(idx) != len(Wt) or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"{self.name}.stochastic_grad: xi must be integer indices (R, batch) with R = {len(Wt)}, "
                             f"got {idx.dtype} {idx.shape}")
        index = torch.from_numpy(idx.astype(np.int64))
        w = Wt.requires_grad_(True)
        losses = self._losses(w, self.inputs[index], self.targets[index], shared=False)
        return torch.autograd.grad(losses.sum(), w)[0].numpy()


def _weight_name(module: torch.nn.Module, weight: str | torch.nn.Parameter) -> str:
    """The name of ``weight`` (a name, or the parameter object itself) among the module's parameters."""
    named = dict(module.named_parameters())
    if isinstance(weight, str):
        require(weight in named, f"weight={weight!r} is not a parameter of the module; its parameters are "
                                 f"{', '.join(named)}")
        return weight
    for key, param in named.items():
        if param is weight:
            return key
    raise UserError("weight is not a parameter of the module; pass one of its parameters or its name "
                    f"({', '.join(named)})")


def _data(loader: object) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Inputs and targets of the loader's whole data set in order (no shuffling), and its batch size."""
    dataset = getattr(loader, "dataset", None)
    require(dataset is not None, f"loader={loader!r} is not allowed; give a torch.utils.data.DataLoader")
    batch = getattr(loader, "batch_size", None) or 1
    ordered = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=False,
                                          collate_fn=getattr(loader, "collate_fn", None))
    xs, ys = [], []
    for item in ordered:
        require(isinstance(item, (tuple, list)) and len(item) == 2,
                "the loader must yield (inputs, targets) pairs; it yielded "
                f"{type(item).__name__} of length {len(item) if isinstance(item, (tuple, list)) else 'n/a'}")
        xs.append(item[0])
        ys.append(item[1])
    require(len(xs) > 0, "the loader's data set is empty; it needs at least one sample")
    inputs, targets = torch.cat(xs), torch.cat(ys)
    if inputs.is_floating_point():
        inputs = inputs.double()
    if targets.is_floating_point():
        targets = targets.double()
    return inputs, targets, int(batch)


def from_module(module: torch.nn.Module, weight: str | torch.nn.Parameter, loss: Loss, loader: object, *,
                f_star: float | None = None, constants: Mapping[str, Constant | float] | None = None,
                name: str = "torch") -> TorchProblem:
    """The problem ``f(W)`` of one weight matrix of ``module`` (see the module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        The model; it is copied (float64, ``eval``), never modified.
    weight : str or torch.nn.Parameter
        A 2-D parameter of ``module`` or its name, e.g. ``model[0].weight`` or ``"0.weight"``.
    loss : callable
        ``loss(outputs, targets)``: a scalar tensor, the MEAN over the batch (e.g.
        ``torch.nn.functional.cross_entropy``); a sum would make ``f`` depend on the chunking.
    loader : torch.utils.data.DataLoader
        Gives the data set (read once, in order) of ``(inputs, targets)`` pairs.
    f_star : float, optional
        ``inf f`` if known, recorded as "given by the user (not verified)".
    constants : mapping, optional
        More constants (``"L"``, ``"mu"``, …): :class:`~verify.problems.Constant` records, or numbers
        recorded as given by the user with the safe kind of their key, as for a user object
        (:data:`verify.problems.user.SAFE_KIND`: ``L`` an upper bound, ``mu`` a lower bound, ``f_star`` exact).
    name : str
        For reports and error messages.

    Raises
    ------
    UserError
        ``weight`` is not a 2-D parameter of ``module``, the loader yields no ``(inputs, targets)`` pairs,
        or ``loss`` does not return a finite scalar at ``W0``.
    """
    require(isinstance(module, torch.nn.Module), f"module={module!r} is not a torch.nn.Module")
    key = _weight_name(module, weight)
    W0 = dict(module.named_parameters())[key].detach().to(torch.float64).cpu().numpy()
    require(W0.ndim == 2, f"weight {key!r} has shape {tuple(W0.shape)}; it must be a matrix (2-D)")
    inputs, targets, batch = _data(loader)
    work = copy.deepcopy(module).double().eval()
    given = "given by the user (not verified)"
    consts = {k: c if isinstance(c, Constant) else Constant(c, given, SAFE_KIND.get(k, "exact"))
              for k, c in (constants or {}).items()}
    if f_star is not None:
        require("f_star" not in consts, "from_module: f_star is given twice (argument and constants); give it once")
        consts["f_star"] = Constant(f_star, given, SAFE_KIND["f_star"])
    problem = TorchProblem(
        module=work, weight=key, loss=loss, inputs=inputs, targets=targets, name=name,
        params={"weight": key, "shape": list(W0.shape), "N": int(len(inputs)), "loader_batch_size": batch,
                "module": type(module).__name__},
        shape=(int(W0.shape[0]), int(W0.shape[1])), W0=frozen(W0), constants=consts)
    try:
        value = problem.f(problem.W0[None])
    except Exception as exc:  # noqa: BLE001 - the user's module and loss may raise anything
        raise UserError(f"from_module: evaluating the loss at W0 raised {type(exc).__name__}: {exc}") from None
    require(value.shape == (1,) and np.isfinite(value[0]),
            f"from_module: the loss at W0 is {value!r}; it must be a finite scalar (the mean over the batch)")
    return problem
