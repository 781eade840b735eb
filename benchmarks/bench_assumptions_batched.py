r"""``verify assumptions`` on a small frozen two-layer network: one-matrix oracles against batched ones.

The problem: the hidden layer ``W ∈ R^{m×d}`` of a two-layer network with a frozen output layer
``V ∈ R^{C×m}`` and no biases, under the mean softmax cross-entropy on ``N`` labelled points,

.. math:: f(W) = \frac1N \sum_i \Big(\log \sum_k e^{z_{ik}} - z_{i y_i}\Big),\qquad z_i = V \tanh(W x_i),

``∇f(W) = (1/N) Σ_i ((Vᵀ(softmax(z_i) − e_{y_i})) ⊙ (1 − tanh²(W x_i))) x_iᵀ`` (backpropagation), and the
stochastic gradient ``∇f_i(W)`` of one sample ``i`` uniform on ``{0, …, N−1}``, drawn from the ``rng`` the
checker passes.  Three forms of the same problem, each a factory for ``verify assumptions MODULE:FACTORY``:

* ``unbatched``: ``f``, ``grad``, ``stochastic_grad`` on one matrix (numpy);
* ``batched``: the same object with ``f_batch``, ``grad_batch``, ``stochastic_grad_batch`` (numpy over a
  leading axis of points; ``ξ_k`` drawn from ``rngs[k]`` as the one-matrix oracle draws it);
* ``torch_unbatched``, ``torch_batched``: the same network as a ``torch.nn.Sequential`` through
  :func:`verify.pytorch.from_module`, one matrix per call (autograd) or batched (``vmap``).

All four draw the sample of a stochastic gradient as ``rng.integers(N)`` from the generator of its point,
so their findings agree up to floating-point rounding.

Run from the repository root::

    python benchmarks/bench_assumptions_batched.py [--repeats 3] [--threads 1]

It prints the wall and CPU time (``time.process_time``) of :func:`verify.assumptions.run.check_assumptions`
(seed 0, best of the repeats; the speed-ups are wall ratios), the load average before and after, the
user-level oracle calls, and how far the findings of each form are from the unbatched ones.
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from dataclasses import dataclass, field

import numpy as np

N, D, M, C = 64, 8, 16, 4
"""Samples, inputs, hidden units (the rows of ``W``) and classes."""


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs ``X (N, D)``, labels ``y (N,)`` from a random teacher, the frozen ``V (C, M)`` and ``W0 (M, D)``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    teacher = rng.standard_normal((M, D)) / np.sqrt(D)
    V = rng.standard_normal((C, M)) / np.sqrt(M)
    y = np.argmax(np.tanh(X @ teacher.T) @ V.T + 0.3 * rng.standard_normal((N, C)), axis=1)
    return X, y, V, 0.1 * rng.standard_normal((M, D))


def loss_and_grad(W: np.ndarray, X: np.ndarray, y: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy and its gradient for ``K`` weights at once: ``W (K, M, D)``, ``X (K, B, D)`` or
    ``(B, D)``, ``y (K, B)`` or ``(B,)`` → ``(K,)``, ``(K, M, D)``."""
    H = np.tanh(X @ W.transpose(0, 2, 1))
    Z = H @ V.T
    Z = Z - Z.max(axis=-1, keepdims=True)
    P = np.exp(Z)
    S = P.sum(axis=-1, keepdims=True)
    P /= S
    labels = np.broadcast_to(y, H.shape[:2])[..., None]
    loss = np.mean(np.log(S[..., 0]) - np.take_along_axis(Z, labels, axis=-1)[..., 0], axis=-1)
    np.put_along_axis(P, labels, np.take_along_axis(P, labels, axis=-1) - 1.0, axis=-1)
    delta = (P @ V) * (1.0 - H * H) / H.shape[1]
    return loss, delta.transpose(0, 2, 1) @ X


@dataclass(eq=False)
class FrozenTwoLayer:
    """The problem on ONE matrix (see the module docstring); ``calls`` counts the calls of each oracle."""

    X: np.ndarray
    y: np.ndarray
    V: np.ndarray
    W0: np.ndarray
    shape: tuple[int, int] = (M, D)
    calls: collections.Counter = field(default_factory=collections.Counter)

    def f(self, W: np.ndarray) -> float:
        self.calls["f"] += 1
        return float(loss_and_grad(W[None], self.X, self.y, self.V)[0][0])

    def grad(self, W: np.ndarray) -> np.ndarray:
        self.calls["grad"] += 1
        return loss_and_grad(W[None], self.X, self.y, self.V)[1][0]

    def stochastic_grad(self, W: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self.calls["stochastic_grad"] += 1
        i = rng.integers(N)
        return loss_and_grad(W[None], self.X[i:i + 1], self.y[i:i + 1], self.V)[1][0]


@dataclass(eq=False)
class BatchedFrozenTwoLayer(FrozenTwoLayer):
    """The same problem with oracles over a leading axis of ``K`` points."""

    def f_batch(self, W: np.ndarray) -> np.ndarray:
        self.calls["f_batch"] += 1
        return loss_and_grad(W, self.X, self.y, self.V)[0]

    def grad_batch(self, W: np.ndarray) -> np.ndarray:
        self.calls["grad_batch"] += 1
        return loss_and_grad(W, self.X, self.y, self.V)[1]

    def stochastic_grad_batch(self, W: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        self.calls["stochastic_grad_batch"] += 1
        idx = np.array([rng.integers(N) for rng in rngs])
        return loss_and_grad(W, self.X[idx, None], self.y[idx, None], self.V)[1]


def unbatched() -> FrozenTwoLayer:
    """Factory: the one-matrix form."""
    return FrozenTwoLayer(*_data())


def batched() -> BatchedFrozenTwoLayer:
    """Factory: the form with numpy batched oracles."""
    return BatchedFrozenTwoLayer(*_data())


def _torch_network():
    """The same network as a float64 ``torch.nn.Sequential`` through :func:`verify.pytorch.from_module`."""
    import torch

    from verify.pytorch import from_module

    X, y, V, W0 = _data()
    model = torch.nn.Sequential(torch.nn.Linear(D, M, bias=False), torch.nn.Tanh(),
                                torch.nn.Linear(M, C, bias=False)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(W0))
        model[2].weight.copy_(torch.from_numpy(V))
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True)
    return from_module(model, model[0].weight, torch.nn.functional.cross_entropy, loader, name="FrozenTwoLayer-torch")


@dataclass(eq=False)
class TorchOneMatrix:
    """The torch network's oracles called one matrix at a time (autograd without ``vmap``)."""

    net: object
    calls: collections.Counter = field(default_factory=collections.Counter)

    @property
    def shape(self) -> tuple[int, int]:
        return self.net.shape

    @property
    def W0(self) -> np.ndarray:
        return self.net.W0

    def f(self, W: np.ndarray) -> float:
        self.calls["f"] += 1
        return float(self.net.f(W[None])[0])

    def grad(self, W: np.ndarray) -> np.ndarray:
        self.calls["grad"] += 1
        return self.net.grad(W[None])[0]

    def stochastic_grad(self, W: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self.calls["stochastic_grad"] += 1
        return self.net.stochastic_grad(W[None], np.array([[rng.integers(N)]]))[0]


@dataclass(eq=False)
class TorchBatched(TorchOneMatrix):
    """The same with batched twins: ``vmap`` over the points."""

    def f_batch(self, W: np.ndarray) -> np.ndarray:
        self.calls["f_batch"] += 1
        return self.net.f(W)

    def grad_batch(self, W: np.ndarray) -> np.ndarray:
        self.calls["grad_batch"] += 1
        return self.net.grad(W)

    def stochastic_grad_batch(self, W: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        self.calls["stochastic_grad_batch"] += 1
        return self.net.stochastic_grad(W, np.array([[rng.integers(N)] for rng in rngs]))


def torch_unbatched() -> TorchOneMatrix:
    """Factory: the torch form, one matrix per call."""
    return TorchOneMatrix(_torch_network())


def torch_batched() -> TorchBatched:
    """Factory: the torch form with batched oracles."""
    return TorchBatched(_torch_network())


def numbers(report) -> dict[tuple[str, str], float]:
    """Every finite number in the findings' estimates: ``(check, key) → value``."""
    out = {}
    for name, finding in report.findings.items():
        for key, value in (finding.estimate or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
                out[(name, key)] = float(value)
    return out


def compare(reference, other) -> tuple[list[str], float]:
    """Checks whose status differs, and the largest relative difference of a number both reports have."""
    a, b = numbers(reference), numbers(other)
    statuses = [n for n in reference.findings if reference.findings[n].status != other.findings[n].status]
    rel = [abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-300) for k in a.keys() & b.keys() if a[k] != b[k]]
    return statuses, max(rel, default=0.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per form (the best is reported)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (0: the libraries' default)")
    args = parser.parse_args(argv)

    import contextlib

    import threadpoolctl

    from verify.assumptions.run import check_assumptions

    forms = {"numpy, one matrix per call": unbatched, "numpy, batched": batched}
    try:
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
        forms["torch, one matrix per call"] = torch_unbatched
        forms["torch, batched (vmap)"] = torch_batched
    except ImportError:
        print("torch is not installed: the torch row is skipped")
    limit = threadpoolctl.threadpool_limits(args.threads) if args.threads else contextlib.nullcontext()
    rows, reports = [], {}
    load_before = os.getloadavg()[0]
    with limit:
        for label, factory in forms.items():
            best, best_cpu, calls = float("inf"), float("inf"), None
            for _ in range(args.repeats):
                problem = factory()
                start, start_cpu = time.perf_counter(), time.process_time()
                report = check_assumptions(problem, seed=0)
                best = min(best, time.perf_counter() - start)
                best_cpu = min(best_cpu, time.process_time() - start_cpu)
                calls = dict(problem.calls)
            reports[label] = report
            rows.append((label, best, best_cpu, calls))
    base_label = rows[0][0]
    print(f"problem: frozen two-layer network, W {M}x{D}, N = {N}, C = {C}; threads = {args.threads or 'default'}; "
          f"best of {args.repeats}; load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"{'form':28s} {'wall s':>8s} {'cpu s':>8s} {'speed-up':>9s}  user calls")
    for k, (label, best, best_cpu, calls) in enumerate(rows):
        ref = rows[k - 1][1] if k % 2 else best
        print(f"{label:28s} {best:8.2f} {best_cpu:8.2f} {ref / best:8.1f}x  {calls}")
    for label, report in reports.items():
        if label == base_label:
            continue
        statuses, rel = compare(reports[base_label], report)
        print(f"{label}: statuses differing from unbatched: {statuses or 'none'}; "
              f"largest relative difference of a shared number: {rel:.1e}")


if __name__ == "__main__":
    main()
